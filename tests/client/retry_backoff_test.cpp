// RetryBackoff, the pauses between attempts of RemoteClient's retried requests, driven with given
// time points (nothing sleeps): doubling from 100 ms to 5 s with ±20% jitter, cut to what is left
// of the budget, a server's Retry-After in place of the backoff's pause.
#include "client/retry_backoff.h"

#include <gtest/gtest.h>

#include <set>
#include <vector>

namespace baton {
namespace {

using namespace std::chrono_literals;
using Ms = std::chrono::milliseconds;

const RetryBackoff::Clock::time_point kStart{};

TEST(RetryBackoff, PausesDoubleFrom100MsTo5SWithinTwentyPercent) {
  RetryBackoff backoff(1h, kStart);
  for (int nominal : {100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000}) {
    auto pause = backoff.next_delay(kStart);
    ASSERT_TRUE(pause) << nominal;
    EXPECT_GE(pause->count(), nominal * 8 / 10 - 1) << nominal;
    EXPECT_LE(pause->count(), nominal * 12 / 10) << nominal;
  }
}

TEST(RetryBackoff, ClientsStartedTogetherDrawDifferentPauses) {
  std::set<Ms::rep> firsts;
  for (int i = 0; i < 20; ++i) firsts.insert(RetryBackoff(1s, kStart).next_delay(kStart)->count());
  EXPECT_GT(firsts.size(), 1u);  // 20 equal draws of 80-120 ms would be a lockstep
}

TEST(RetryBackoff, TheLastPauseEndsWithTheBudgetAndNoneFollows) {
  RetryBackoff backoff(300ms, kStart);
  EXPECT_EQ(backoff.next_delay(kStart + 250ms), Ms(50));  // 80-120 ms cut to what is left
  EXPECT_EQ(backoff.next_delay(kStart + 300ms), std::nullopt);
  EXPECT_EQ(backoff.next_delay(kStart + 1s), std::nullopt);
  EXPECT_EQ(backoff.elapsed(kStart + 1s), 1s);
}

TEST(RetryBackoff, AZeroBudgetAllowsNoRetry) {
  RetryBackoff backoff(0ms, kStart);
  EXPECT_EQ(backoff.next_delay(kStart), std::nullopt);
  EXPECT_FALSE(backoff.wait());
}

TEST(RetryBackoff, TheServersRetryAfterReplacesThePauseWithinTheBudget) {
  RetryBackoff backoff(10s, kStart);
  EXPECT_EQ(backoff.next_delay(kStart, 2s), Ms(2000));
  EXPECT_EQ(backoff.next_delay(kStart + 9s, 2s), Ms(1000));  // capped by what is left
  // The server's pauses did not advance the backoff: its first pause is still 80-120 ms.
  auto pause = backoff.next_delay(kStart + 9s);
  ASSERT_TRUE(pause);
  EXPECT_LE(*pause, 120ms);
}

struct RetryAfterCase {
  std::string header;
  std::optional<Ms> delay;
};

TEST(RetryBackoff, RetryAfterHeaderValues) {
  const std::vector<RetryAfterCase> cases{
      {"2", Ms(2000)},
      {"0", Ms(0)},
      {"0.25", Ms(250)},
      {"999999", Ms(86'400'000)},  // a day at most
      {"", std::nullopt},
      {"-1", std::nullopt},
      {"2 ", std::nullopt},
      {"nan", std::nullopt},
      {"Wed, 21 Oct 2026 07:28:00 GMT", std::nullopt},  // an HTTP date: the backoff's pause
  };
  for (const auto& c : cases) EXPECT_EQ(retry_after_delay(c.header), c.delay) << c.header;
}

}  // namespace
}  // namespace baton
