#include <gtest/gtest.h>

#include <cstdlib>

#include "model/ids.h"
#include "transport.h"

namespace baton::testing {

std::filesystem::path fresh_home() {
  const char* base = std::getenv("BATON_HOME");
  std::filesystem::path root =
      base && *base ? base : std::filesystem::temp_directory_path() / "baton-tests";
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = info ? std::string(info->test_suite_name()) + "." + info->name() : "test";
  for (auto& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-') c = '_';
  auto home = root / (name + "-" + new_id());
  std::filesystem::remove_all(home);
  std::filesystem::create_directories(home);
  return home;
}

}  // namespace baton::testing
