// Task-run tag concurrency limits, enforced by the SDK against both transports: a task run with
// tags takes one slot of every "tag:<tag>" limit before it runs, waits (AwaitingConcurrencySlot)
// while one is full, and gives the slots back however it ends.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "core/cancellation.h"
#include "core/tag_slots.h"
#include "eventually.h"
#include "model/ids.h"
#include "sdk_fixture.h"
#include "storage/concurrency_limits.h"

namespace baton::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

// A bound for waits that should end at once; reaching it fails the test rather than hanging it.
constexpr auto kBound = 20s;

class SdkTagLimits : public SdkTest {
 protected:
  // Tags unique to the test: the database (and the remote server) outlive a single test.
  std::string tag(const std::string& base) { return base + "-" + new_id().substr(24); }

  // Sets the tag limit the way a user does (`baton concurrency-limit create`), through the
  // transport under test.
  void set_tag_limit(const std::string& tag, int limit) {
    client().set_concurrency_limit(std::string(storage::kTagLimitPrefix) + tag, limit);
  }
  int active_slots(const std::string& tag) {
    auto limit = client().read_concurrency_limit(std::string(storage::kTagLimitPrefix) + tag);
    return limit ? limit->at("active_slots").get<int>() : -1;
  }
};

// A gate a task body waits at until the test opens it (bounded).
class Gate {
 public:
  void open() {
    {
      std::lock_guard lock(mutex_);
      open_ = true;
    }
    cv_.notify_all();
  }
  bool wait() {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, kBound, [this] { return open_; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool open_ = false;
};

template <class Pred>
bool eventually(Pred pred) {
  return baton::testing::eventually(pred, kBound, 5ms);
}

TEST_P(SdkTagLimits, ALimitOfOneNeverLetsTaggedRunsOverlap) {
  std::string db = tag("db");
  set_tag_limit(db, 1);
  std::atomic<int> running{0}, most{0}, ran{0};
  auto work = baton::task("db_work", [&](int i) {
                int now = ++running;
                int seen = most.load();
                while (now > seen && !most.compare_exchange_weak(seen, now)) {
                }
                // Give an overlapping run the chance to show itself; not an assertion on time.
                std::this_thread::sleep_for(5ms);
                ++ran;
                --running;
                return i;
              }).tags({db, "other"});
  std::string flow_run_id;
  auto f = baton::flow("tag_limit_flow", [&] {
    flow_run_id = engine::current_flow_run_id();
    std::vector<int> inputs{0, 1, 2, 3, 4, 5, 6, 7};
    return work.map(inputs).results();
  });
  EXPECT_EQ(f(), (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7}));
  EXPECT_EQ(ran.load(), 8);
  EXPECT_EQ(most.load(), 1);
  EXPECT_EQ(active_slots(db), 0);
  // The recorded Running intervals do not overlap either.
  auto runs = task_runs(flow_run_id);
  ASSERT_EQ(runs.size(), 8u);
  std::sort(runs.begin(), runs.end(),
            [](const auto& a, const auto& b) { return *a.start_time < *b.start_time; });
  for (size_t i = 1; i < runs.size(); ++i) {
    ASSERT_TRUE(runs[i - 1].end_time && runs[i].start_time);
    EXPECT_LE(*runs[i - 1].end_time, *runs[i].start_time) << runs[i].name;
  }
}

TEST_P(SdkTagLimits, AFullLimitMakesTheNextRunWaitWhileOthersRun) {
  std::string db = tag("db"), free_tag = tag("nolimit");
  set_tag_limit(db, 1);
  Gate gate;
  std::atomic<bool> first_started{false}, second_started{false};
  auto first = baton::task("holds_the_slot", [&] {
                 first_started = true;
                 return gate.wait();
               }).tags({db});
  auto second = baton::task("waits_for_the_slot", [&] {
                  second_started = true;
                  return 2;
                }).tags({db});
  auto untagged = baton::task("untagged", [] { return 3; });
  auto unlimited = baton::task("tag_without_limit", [] { return 4; }).tags({free_tag});
  auto f = baton::flow("tag_wait_flow", [&] {
             auto a = first.submit();
             EXPECT_TRUE(eventually([&] { return first_started.load(); }));
             auto b = second.submit();
             EXPECT_TRUE(eventually([&] { return b.state().name == "AwaitingConcurrencySlot"; }))
                 << b.state().name;
             // While the slot is held, runs without that tag are not held back.
             EXPECT_EQ(untagged(), 3);
             EXPECT_EQ(unlimited(), 4);
             EXPECT_FALSE(second_started.load());
             EXPECT_EQ(b.state().type, StateType::kPending);
             gate.open();
             EXPECT_TRUE(a.result());
             EXPECT_EQ(b.result(), 2);
             return b.task_run_id();
           }).task_runner({.max_workers = 4});  // room for the holder and the waiter on any machine
  std::string waited = f();
  auto history = state_names(waited);
  EXPECT_EQ(history, (std::vector<std::string>{"Pending", "AwaitingConcurrencySlot", "Running",
                                               "Completed"}));
  EXPECT_EQ(active_slots(db), 0);
}

TEST_P(SdkTagLimits, SlotsAreGivenBackHoweverTheRunEnds) {
  std::string db = tag("db");
  set_tag_limit(db, 1);
  auto fails = baton::task("fails", []() -> int { throw std::runtime_error("no"); }).tags({db});
  auto times_out = baton::task("times_out",
                               [] {
                                 auto token = baton::cancellation_token();
                                 for (int i = 0; i < 2000 && !token.cancelled(); ++i)
                                   std::this_thread::sleep_for(5ms);
                                 token.throw_if_cancelled();
                                 return 0;
                               })
                       .tags({db})
                       .timeout(50ms);
  auto retries = baton::task("fails_then_succeeds",
                             [n = std::make_shared<int>(0)] {
                               if ((*n)++ == 0) throw std::runtime_error("first try fails");
                               return 1;
                             })
                     .tags({db})
                     .retries(1);
  auto ok = baton::task("after", [] { return 5; }).tags({db});
  auto f = baton::flow("tag_release_flow", [&] {
    EXPECT_THROW(fails(), std::runtime_error);
    EXPECT_EQ(active_slots(db), 0);
    EXPECT_THROW(times_out(), TimeoutError);
    EXPECT_EQ(active_slots(db), 0);
    EXPECT_EQ(retries(), 1);
    EXPECT_EQ(active_slots(db), 0);
    return ok();
  });
  EXPECT_EQ(f(), 5);
  EXPECT_EQ(active_slots(db), 0);
}

TEST_P(SdkTagLimits, ALimitOfZeroFailsTheRunWithoutRunningIt) {
  std::string never = tag("never");
  set_tag_limit(never, 0);
  std::atomic<bool> ran{false};
  auto t = baton::task("blocked", [&] {
             ran = true;
             return 1;
           }).tags({never});
  std::string task_run_id;
  auto f = baton::flow("tag_zero_flow", [&] {
    auto fut = t.submit();
    fut.wait();
    task_run_id = fut.task_run_id();
    try {
      fut.result();
      ADD_FAILURE() << "expected the run to fail";
    } catch (const std::exception& e) {
      EXPECT_NE(std::string(e.what()).find("tag:" + never), std::string::npos) << e.what();
    }
    return 0;
  });
  f();
  EXPECT_FALSE(ran.load());
  EXPECT_EQ(task_run(task_run_id).state.type, StateType::kFailed);
}

TEST_P(SdkTagLimits, ASlotHeldElsewhereHoldsTheRunUntilItsFlowIsCancelled) {
  std::string db = tag("db");
  set_tag_limit(db, 1);
  // Another program holds the only slot (and keeps it: its lease outlives the test).
  auto elsewhere = client().acquire_concurrency_slots({"tag:" + db}, 1, 600, "another-program");
  ASSERT_EQ(elsewhere.status, ConcurrencySlots::Status::kGranted);
  ASSERT_FALSE(elsewhere.lease_id.empty());
  std::atomic<bool> ran{false};
  auto t = baton::task("starved", [&] {
             ran = true;
             return 1;
           }).tags({db});
  std::string task_run_id;
  auto f = baton::flow("tag_cancel_flow", [&] {
             auto fut = t.submit();
             task_run_id = fut.task_run_id();
             fut.wait();  // ends when the flow's timeout cancels the wait
             return fut.state().name;
           }).timeout(300ms);
  EXPECT_THROW(f(), TimeoutError);
  EXPECT_FALSE(ran.load());
  auto run = task_run(task_run_id);
  EXPECT_EQ(run.state.type, StateType::kCancelled);
  EXPECT_EQ(state_names(task_run_id),
            (std::vector<std::string>{"Pending", "AwaitingConcurrencySlot", "Cancelled"}));
  // The run took nothing: only the other program's slot is held until it gives it back.
  EXPECT_EQ(active_slots(db), 1);
  EXPECT_TRUE(client().release_concurrency_slots(elsewhere.lease_id));
  EXPECT_EQ(active_slots(db), 0);
}

// Waiters that only poll leave a freed slot idle until their next poll (Prefect's #23183: tasks
// ran seconds apart under a limit). A release in this process wakes the waiters: with a backoff
// of an hour, the waiting run can get the slot no other way.
TEST_P(SdkTagLimits, AReleaseInThisProcessWakesTheWaitingRunAtOnce) {
  std::string db = tag("db");
  set_tag_limit(db, 1);
  core::LeaseKeeper keeper([this]() -> OrchestrationClient& { return client(); });
  auto first = core::acquire_tag_slots(client(), {db}, "first", nullptr, nullptr);
  ASSERT_EQ(first.status, core::TagSlots::Status::kHeld);
  keeper.hold(first.lease_id);

  auto cancel = std::make_shared<detail::CancelState>();
  std::promise<void> waiting;
  auto second = std::async(std::launch::async, [&] {
    return core::acquire_tag_slots(
        client(), {db}, "second", cancel.get(), [&](const std::string&) { waiting.set_value(); },
        core::TagSlotBackoff{std::chrono::hours(1), std::chrono::hours(1)});
  });
  bool was_waiting = waiting.get_future().wait_for(kBound) == std::future_status::ready;
  keeper.release(first.lease_id);
  // Bounded: without a wake-up the waiter is cancelled after kBound, failing the test.
  if (second.wait_for(kBound) != std::future_status::ready)
    cancel->cancel("no wake-up within the test's bound", false);
  auto got = second.get();
  EXPECT_TRUE(was_waiting);
  ASSERT_EQ(got.status, core::TagSlots::Status::kHeld) << got.reason;
  EXPECT_EQ(active_slots(db), 1);
  keeper.release(got.lease_id);
  EXPECT_EQ(active_slots(db), 0);
}

INSTANTIATE_TEST_SUITE_P(Transports, SdkTagLimits, ::testing::ValuesIn(sdk_transports()),
                         transport_name);

}  // namespace
}  // namespace baton::testing
