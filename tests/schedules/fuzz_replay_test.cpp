// Every committed fuzz input, seeds and kept crashes alike, replayed under GoogleTest with g++:
// each file is a row. A crash the fuzzer finds is fixed and its input committed to
// fuzz_corpus/regressions/ under a name that says what broke.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "fuzz_harness.h"

namespace {

std::vector<std::string> corpus_files() {
  std::vector<std::string> out;
  for (const char* dir : {"seeds", "regressions"}) {
    const auto path = std::filesystem::path(BATON_SOURCE_DIR) / "tests/schedules/fuzz_corpus" / dir;
    for (const auto& entry : std::filesystem::directory_iterator(path)) {
      if (entry.is_regular_file() && entry.path().filename() != ".keep")
        out.push_back(entry.path().string());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

class FuzzCorpus : public ::testing::TestWithParam<std::string> {};

TEST_P(FuzzCorpus, ParsesOrRejectsWithoutCrashing) {
  std::ifstream in(GetParam(), std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_FALSE(bytes.empty()) << GetParam();
  baton::testing::run_schedule_fuzz_input(reinterpret_cast<const std::uint8_t*>(bytes.data()),
                                          bytes.size());
}

INSTANTIATE_TEST_SUITE_P(Files, FuzzCorpus, ::testing::ValuesIn(corpus_files()),
                         [](const auto& info) {
                           std::string name =
                               std::filesystem::path(info.param).parent_path().filename().string() +
                               "_" + std::filesystem::path(info.param).filename().string();
                           for (auto& c : name)
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           return name;
                         });

TEST(FuzzCorpus, HasSeedsForEveryEntryPoint) { EXPECT_GE(corpus_files().size(), 20u); }

}  // namespace
