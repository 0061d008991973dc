#include "storage_test_util.h"

#include <gtest/gtest.h>

#include "model/ids.h"
#include "storage/storage.h"

namespace baton::testing {

std::filesystem::path fresh_folder() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = info ? std::string(info->test_suite_name()) + "." + info->name() : "test";
  for (auto& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.') c = '_';
  auto dir = std::filesystem::path(storage::baton_home()) / (name + "-" + new_id());
  std::filesystem::create_directories(dir);
  return dir;
}

std::string fresh_db() { return (fresh_folder() / "baton.db").string(); }

}  // namespace baton::testing
