// PeriodicService: the loop every server service runs on. Waits are bounded (kBound) and await
// conditions; none sleeps to synchronise.
#include "services/periodic_service.h"

#include <gtest/gtest.h>

#include <future>
#include <stdexcept>

#include "baton/error.h"
#include "eventually.h"

namespace baton::services {
namespace {
using namespace std::chrono_literals;

constexpr auto kBound = 30s;

using baton::testing::eventually;

// stop() must come back within kBound; a stop that waited for the interval (an hour in these
// tests) would not. Not a speed measurement: the bound is 100 times what a stop takes.
void expect_prompt_stop(PeriodicService& service) {
  auto stopped = std::async(std::launch::async, [&] { service.stop(); });
  ASSERT_EQ(stopped.wait_for(kBound), std::future_status::ready)
      << "stop() waited for the interval";
}

TEST(PeriodicService, RunsSoonAfterStartThenEveryInterval) {
  std::atomic<int> steps{0};
  PeriodicService service({.name = "t", .interval = 20ms, .first_delay = 0ms},
                          [&](std::stop_token) { ++steps; });
  EXPECT_EQ(steps.load(), 0) << "nothing runs before start()";
  service.start();
  ASSERT_TRUE(eventually([&] { return steps.load() >= 3; })) << steps.load();
  service.stop();
  EXPECT_EQ(service.passes(), static_cast<uint64_t>(steps.load()));
}

TEST(PeriodicService, StopEndsTheWaitForTheFirstOrNextStepAtOnce) {
  std::atomic<int> steps{0};
  PeriodicService waiting_first({.name = "t", .interval = 1h, .first_delay = 1h},
                                [&](std::stop_token) { ++steps; });
  waiting_first.start();
  expect_prompt_stop(waiting_first);
  EXPECT_EQ(steps.load(), 0);

  PeriodicService waiting_next({.name = "t", .interval = 1h, .first_delay = 0ms},
                               [&](std::stop_token) { ++steps; });
  waiting_next.start();
  ASSERT_TRUE(eventually([&] { return waiting_next.passes() == 1; }));
  expect_prompt_stop(waiting_next);
  EXPECT_EQ(steps.load(), 1);
}

TEST(PeriodicService, AStepInProgressSeesTheStopOnItsToken) {
  std::atomic<bool> in_step{false}, saw_stop{false};
  PeriodicService service({.name = "t", .interval = 1h}, [&](std::stop_token stop) {
    in_step = true;
    // A long step that looks at its token between units of work (bounded if it never comes).
    auto deadline = std::chrono::steady_clock::now() + kBound;
    while (!stop.stop_requested() && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(1ms);
    saw_stop = stop.stop_requested();
  });
  service.start();
  ASSERT_TRUE(eventually([&] { return in_step.load(); }));
  expect_prompt_stop(service);
  EXPECT_TRUE(saw_stop.load());
}

TEST(PeriodicService, AFailingStepIsLoggedAndTheLoopGoesOn) {
  std::atomic<int> calls{0};
  PeriodicService service({.name = "t", .interval = 5ms}, [&](std::stop_token) {
    if (++calls == 1) throw unavailable("database is locked");
    if (calls == 2) throw 42;  // not even an exception type
  });
  service.start();
  ASSERT_TRUE(eventually([&] { return calls.load() >= 3; })) << calls.load();
  service.stop();
  EXPECT_GE(service.passes(), 3u);
}

TEST(PeriodicService, RunOnceRunsOneStepOnTheCallersThreadWithoutThrowing) {
  std::thread::id ran_on;
  int calls = 0;
  PeriodicService service({.name = "t", .interval = 1h}, [&](std::stop_token stop) {
    ran_on = std::this_thread::get_id();
    EXPECT_FALSE(stop.stop_possible());
    if (++calls == 2) throw std::runtime_error("boom");
  });
  service.run_once();
  EXPECT_NO_THROW(service.run_once());
  EXPECT_EQ(ran_on, std::this_thread::get_id());
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(service.passes(), 2u);
}

TEST(PeriodicService, RefusesANonPositiveIntervalOrANegativeDelay) {
  auto step = [](std::stop_token) {};
  EXPECT_THROW(PeriodicService({.name = "t", .interval = 0ms}, step), Error);
  EXPECT_THROW(PeriodicService({.name = "t", .interval = -1ms}, step), Error);
  EXPECT_THROW(PeriodicService({.name = "t", .interval = 1s, .first_delay = -1ms}, step), Error);
}

}  // namespace
}  // namespace baton::services
