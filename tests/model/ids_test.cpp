#include "model/ids.h"

#include <gtest/gtest.h>

#include <chrono>
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

// The millisecond a UUIDv7 carries (its first 12 hex digits).
int64_t millisecond_of(const std::string& id) {
  return std::stoll(id.substr(0, 8) + id.substr(9, 4), nullptr, 16);
}

int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// An id made for a given time (a state's, read from the clock a moment before) carries that
// time's millisecond when it is not ahead of the ids made so far; an earlier time takes the next
// count after the newest id, a time far ahead or before the epoch is not taken: in every case the
// ids keep their creation order.
TEST(Ids, IdsForAGivenTimeCarryItsMillisecondAndKeepCreationOrder) {
  struct Case {
    const char* label;
    int64_t offset_us;  // from the clock read just before the id is made
    bool carries_it;    // the id's millisecond is the given time's (or the newest id's, if later)
  };
  const Case cases[] = {
      {"now", 0, true},
      {"an hour ago: the newest id's time", -3'600'000'000LL, false},
      {"a day ahead: the clock's", 86'400'000'000LL, false},
      {"half a second ahead (later ids carry its time)", 500'000, true},
  };
  std::string previous = new_id();
  for (const auto& c : cases) {
    const int64_t before_ms = now_us() / 1000;
    const int64_t given_us = now_us() + c.offset_us;
    std::string id = new_id(given_us);
    const int64_t after_ms = now_us() / 1000;
    ASSERT_TRUE(is_uuid(id)) << c.label << ": " << id;
    EXPECT_EQ(id[14], '7') << c.label;
    EXPECT_LT(previous, id) << c.label << ": ids must sort in creation order";
    const int64_t ms = millisecond_of(id), newest_ms = millisecond_of(previous);
    if (c.carries_it) {
      EXPECT_EQ(ms, std::max(given_us / 1000, newest_ms)) << c.label;
    } else {
      // Not the given time: the clock's, or the newest id's if that is later.
      EXPECT_GE(ms, std::min(before_ms, newest_ms)) << c.label;
      EXPECT_LE(ms, std::max(after_ms, newest_ms + 1)) << c.label;
    }
    char into[36];
    new_id_into(into, given_us);
    previous = std::string(into, sizeof into);
    EXPECT_LT(id, previous) << c.label;
  }
  // Before the epoch, or no time at all: the clock's (or the newest id's, now half a second on).
  for (int64_t given_us : {int64_t{-5'000'000}, int64_t{0}}) {
    std::string id = new_id(given_us);
    EXPECT_LT(previous, id);
    EXPECT_GE(millisecond_of(id), millisecond_of(previous));
    EXPECT_LE(millisecond_of(id), millisecond_of(previous) + 1);
    previous = id;
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
