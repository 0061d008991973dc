#include "model/ids.h"

#include <gtest/gtest.h>

#include <set>
#include <thread>
#include <vector>

namespace baton {
namespace {

TEST(Ids, AreVersion7UuidsInCreationOrder) {
  std::string previous;
  std::set<std::string> seen;
  for (int i = 0; i < 10000; ++i) {
    std::string id = new_id();
    ASSERT_TRUE(is_uuid(id)) << id;
    ASSERT_EQ(id[14], '7') << id;                                    // version
    ASSERT_NE(std::string("89ab").find(id[19]), std::string::npos);  // variant
    ASSERT_LT(previous, id) << "ids must sort in creation order";
    ASSERT_TRUE(seen.insert(id).second);
    previous = id;
  }
}

// Task states take ids on several threads at once: every id stays unique, and each thread's ids
// still sort in the order it made them (tens of thousands per millisecond overflow the count
// into the next millisecond, which must keep the order too).
TEST(Ids, IdsMadeOnManyThreadsAtOnceAreUniqueAndOrderedPerThread) {
  constexpr int kThreads = 4, kPerThread = 50000;
  std::vector<std::vector<std::string>> made(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&made, t] {
      auto& mine = made[static_cast<size_t>(t)];
      mine.reserve(kPerThread);
      for (int i = 0; i < kPerThread; ++i) mine.push_back(new_id());
    });
  }
  for (auto& thread : threads) thread.join();
  std::set<std::string> seen;
  for (const auto& mine : made) {
    for (size_t i = 0; i < mine.size(); ++i) {
      ASSERT_TRUE(is_uuid(mine[i])) << mine[i];
      ASSERT_EQ(mine[i][14], '7') << mine[i];
      if (i > 0) {
        ASSERT_LT(mine[i - 1], mine[i]) << "a thread's ids must sort in its order";
      }
      ASSERT_TRUE(seen.insert(mine[i]).second) << "repeated id " << mine[i];
    }
  }
}

TEST(Ids, IsUuidRejectsMalformedText) {
  EXPECT_FALSE(is_uuid(""));
  EXPECT_FALSE(is_uuid("not-a-uuid"));
  EXPECT_FALSE(is_uuid("0190a6e2-7c3f-7b41-8d2e-5f3a9c1b2d4g"));
  EXPECT_TRUE(is_uuid("0190a6e2-7c3f-7b41-8d2e-5f3a9c1b2d4e"));
}

}  // namespace
}  // namespace baton
