// Retries, timeouts, caching and result persistence.
#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>

#include "model/ids.h"
#include "sdk_fixture.h"

namespace baton::testing {
namespace {

using namespace std::chrono_literals;

class SdkResilience : public SdkTest {};

struct Transient : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct Permanent : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A task whose first `failures` calls throw.
struct Flaky {
  std::atomic<int> calls{0};
  int failures;
  std::string operator()(const std::string& src) {
    if (calls++ < failures) throw Transient("timeout talking to " + src);
    return "data from " + src;
  }
};

TEST_P(SdkResilience, RetriesUntilSuccessRecordingAwaitingRetryAndRetrying) {
  auto flaky = std::make_shared<Flaky>();
  flaky->failures = 2;
  auto extract = baton::task("extract_retry", [flaky](const std::string& s) { return (*flaky)(s); })
                     .retries(3)
                     .retry_delay(10ms);
  std::string flow_run_id;
  auto f = baton::flow("retry_flow", [&] {
    flow_run_id = engine::current_flow_run_id();
    return extract("db");
  });
  EXPECT_EQ(f(), "data from db");
  EXPECT_EQ(flaky->calls.load(), 3);
  auto runs = task_runs(flow_run_id);
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].run_count, 3);
  EXPECT_EQ(state_names(runs[0].id),
            (std::vector<std::string>{"Pending", "Running", "AwaitingRetry", "Retrying",
                                      "AwaitingRetry", "Retrying", "Completed"}));
}

TEST_P(SdkResilience, ExhaustedRetriesEndFailedAndRethrow) {
  auto flaky = std::make_shared<Flaky>();
  flaky->failures = 100;
  auto extract = baton::task("extract_exhausted", [flaky](const std::string& s) {
                   return (*flaky)(s);
                 }).retries(2);
  auto f = baton::flow("exhausted_flow", [&] {
    auto fut = extract.submit(std::string("api"));
    EXPECT_THROW(fut.result(), Transient);
    EXPECT_EQ(fut.state().type, StateType::kFailed);
    EXPECT_EQ(fut.state().name, "Failed");
    return 0;
  });
  f();
  EXPECT_EQ(flaky->calls.load(), 3);
}

TEST_P(SdkResilience, RetryConditionDecidesWhichFailuresRetry) {
  std::atomic<int> calls{0};
  auto t = baton::task("conditional",
                       [&]() -> int {
                         ++calls;
                         throw Permanent("bad credentials");
                       })
               .retries(5)
               .retry_condition([](const std::exception& e) {
                 return dynamic_cast<const Permanent*>(&e) == nullptr;
               });
  auto f = baton::flow("retry_condition_flow", [&] {
    EXPECT_THROW(t(), Permanent);
    return 0;
  });
  f();
  EXPECT_EQ(calls.load(), 1);
}

TEST_P(SdkResilience, RetryDelaysScheduleTheRetryAfterTheFailure) {
  auto flaky = std::make_shared<Flaky>();
  flaky->failures = 2;
  auto t = baton::task("delayed_retry", [flaky](const std::string& s) { return (*flaky)(s); })
               .retries(2)
               .retry_delay(std::vector<std::chrono::milliseconds>{30ms, 60ms});
  std::string run_id;
  auto f = baton::flow("retry_delay_flow", [&] {
    auto fut = t.submit(std::string("x"));
    run_id = fut.task_run_id();
    return fut.result();
  });
  f();
  std::vector<double> delays;
  for (const auto& s : client().read_states(run_id))
    if (s.name == "AwaitingRetry" && s.scheduled_time)
      delays.push_back(std::chrono::duration<double>(*s.scheduled_time - s.timestamp).count());
  ASSERT_EQ(delays.size(), 2u);
  EXPECT_NEAR(delays[0], 0.030, 0.002);
  EXPECT_NEAR(delays[1], 0.060, 0.002);
}

TEST_P(SdkResilience, ExponentialBackoffDoublesAndJitterIsRecordedInThePolicy) {
  auto d = baton::exponential_backoff(2s);
  EXPECT_EQ(d.delays_s(3), (std::vector<double>{2, 4, 8}));
  auto t = baton::task("backoff", [] { return 1; })
               .retries(3)
               .retry_delay(baton::exponential_backoff(2s))
               .retry_jitter(0.2);
  std::string run_id;
  auto f = baton::flow("backoff_flow", [&] {
    auto fut = t.submit();
    run_id = fut.task_run_id();
    return fut.result();
  });
  f();
  auto run = task_run(run_id);
  EXPECT_EQ(run.empirical_policy.retries, 3);
  EXPECT_EQ(run.empirical_policy.retry_delays_s, (std::vector<double>{2, 4, 8}));
  EXPECT_DOUBLE_EQ(run.empirical_policy.retry_jitter_factor, 0.2);
}

TEST_P(SdkResilience, TaskTimeoutEndsTimedOutAndTheBodySeesTheToken) {
  std::atomic<bool> saw_cancel{false};
  auto slow = baton::task("slow_task", [&] {
                for (int i = 0; i < 500; ++i) {  // at most 5 s
                  if (baton::cancellation_token().cancelled()) {
                    saw_cancel = true;
                    baton::check_cancelled();
                  }
                  std::this_thread::sleep_for(10ms);
                }
                return 1;
              }).timeout(50ms);
  auto f = baton::flow("task_timeout_flow", [&] {
    auto fut = slow.submit();
    EXPECT_THROW(fut.result(), TimeoutError);
    EXPECT_EQ(fut.state().name, "TimedOut");
    EXPECT_EQ(fut.state().type, StateType::kFailed);
    return 0;
  });
  f();
  EXPECT_TRUE(saw_cancel.load());
}

TEST_P(SdkResilience, FlowTimeoutEndsTimedOut) {
  std::string flow_run_id;
  auto f = baton::flow("flow_timeout_flow", [&] {
             flow_run_id = engine::current_flow_run_id();
             for (int i = 0; i < 500; ++i) {
               baton::check_cancelled();
               std::this_thread::sleep_for(10ms);
             }
           }).timeout(50ms);
  EXPECT_THROW(f(), TimeoutError);
  auto run = flow_run(flow_run_id);
  EXPECT_EQ(run.state.name, "TimedOut");
  EXPECT_EQ(run.state.type, StateType::kFailed);
}

TEST_P(SdkResilience, CacheHitSkipsTheBodyAndEndsCached) {
  std::atomic<int> calls{0};
  const std::string salt = new_id();  // a key no earlier test run produced
  auto load = baton::task("load_cached", [&](const std::string& s) {
                ++calls;
                return "loaded " + s;
              }).cache();
  auto f = baton::flow("cache_flow", [&] {
    auto a = load.submit(salt);
    a.wait();
    auto b = load.submit(salt);
    b.wait();
    EXPECT_EQ(b.state().type, StateType::kCompleted);
    EXPECT_EQ(b.result(), "loaded " + salt);
    return a.state().name + "," + b.state().name;
  });
  EXPECT_EQ(f(), "Completed,Cached");
  EXPECT_EQ(calls.load(), 1);
  // A later flow run with a new client (as after a restart) hits the cache from the start.
  core::Runtime::get().set_client_factory(GetParam().make);
  EXPECT_EQ(f(), "Cached,Cached");
  EXPECT_EQ(calls.load(), 1);
}

TEST_P(SdkResilience, DifferentInputsMissTheCache) {
  std::atomic<int> calls{0};
  const std::string salt = new_id();
  auto load = baton::task("load_inputs", [&](const std::string& s, int n) {
                ++calls;
                return s + std::to_string(n);
              }).cache();
  auto f = baton::flow("cache_inputs_flow", [&] {
    load(salt, 1);
    load(salt, 2);
    load(salt, 1);
  });
  f();
  EXPECT_EQ(calls.load(), 2);
}

TEST_P(SdkResilience, CustomCacheKeyFunctionAndRefresh) {
  std::atomic<int> calls{0};
  const std::string salt = new_id();
  auto body = [&](const std::string& s, int) {
    ++calls;
    return s;
  };
  // The key ignores the second argument.
  auto load = baton::task("load_key_fn", body).cache_key_fn([salt](const nlohmann::json& inputs) {
    return "k-" + salt + "-" + inputs["0"].get<std::string>();
  });
  auto refreshing = load.refresh_cache();
  auto f = baton::flow("cache_key_fn_flow", [&] {
    load(std::string("a"), 1);
    load(std::string("a"), 2);        // same key: cached
    refreshing(std::string("a"), 3);  // runs anyway
    load(std::string("a"), 4);        // cached again
  });
  f();
  EXPECT_EQ(calls.load(), 2);
}

TEST_P(SdkResilience, ClearedCacheEntriesMiss) {
  std::atomic<int> calls{0};
  const std::string salt = new_id();
  auto body = [&](const std::string& s) {
    ++calls;
    return s;
  };
  auto load = baton::task("load_cleared_" + salt, body).cache();
  auto keyed = baton::task("load_keyed_" + salt, body).cache_key_fn(
      [salt](const nlohmann::json& inputs) { return "k-" + salt + inputs["0"].get<std::string>(); });
  auto f = baton::flow("cache_clear_flow", [&] {
    load(std::string("x"));
    load(std::string("y"));
    load(std::string("x"));                   // cached
    EXPECT_EQ(load.clear_cache(), 2);         // both inputs' keys (x's held by two runs)
    load(std::string("x"));                   // runs again
    load(std::string("x"));                   // and is cached again
    keyed(std::string("z"));
    EXPECT_EQ(baton::clear_cache("k-" + salt + "z"), 1);
    keyed(std::string("z"));                  // runs again
    EXPECT_EQ(baton::clear_cache("k-" + salt + "never-stored"), 0);
  });
  f();
  EXPECT_EQ(calls.load(), 5);
}

TEST_P(SdkResilience, ExpiredCacheEntriesMiss) {
  std::atomic<int> calls{0};
  const std::string salt = new_id();
  auto load = baton::task("load_expiring", [&](const std::string& s) {
                ++calls;
                return s;
              }).cache_expiration(300ms);  // wide enough for the remote transport's round trips
  auto f = baton::flow("cache_expiration_flow", [&] {
    load(salt);
    load(salt);
    std::this_thread::sleep_for(600ms);
    load(salt);
  });
  f();
  EXPECT_EQ(calls.load(), 2);
}

TEST_P(SdkResilience, PersistedResultsAreWrittenToTheResultStore) {
  auto t = baton::task("persisted", [](int x) {
             return std::vector<int>{x, x + 1};
           }).persist_result();
  std::string run_id;
  auto f = baton::flow("persist_flow", [&] {
    auto fut = t.submit(3);
    run_id = fut.task_run_id();
    return fut.result();
  });
  f();
  auto run = task_run(run_id);
  ASSERT_TRUE(run.state.result.contains("storage_key")) << run.state.result.dump();
  auto stored = core::Runtime::get().results().read(
      run.state.result["storage_key"].get<std::string>(), now());
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->value, nlohmann::json({3, 4}));
  EXPECT_TRUE(std::filesystem::exists(core::baton_home() / "storage"));
}

// Caching needs serialisable inputs and results: the options do not compile otherwise.
struct NotJson {
  int x = 0;
};
template <class T>
concept CanCache = requires(const T& t) {
  t.cache();
};
TEST(SdkCompileTime, CachingRequiresSerialisableTypes) {
  auto ok = baton::task("ok", [](int x) { return x; });
  auto bad_result = baton::task("bad_result", [](int x) { return NotJson{x}; });
  auto bad_arg = baton::task("bad_arg", [](NotJson n) { return n.x; });
  auto generic = baton::task("generic", [](auto x) { return x; });
  static_assert(CanCache<decltype(ok)>);
  static_assert(!CanCache<decltype(bad_result)>);
  static_assert(!CanCache<decltype(bad_arg)>);
  static_assert(!CanCache<decltype(generic)>);
  SUCCEED();
}

INSTANTIATE_TEST_SUITE_P(Transports, SdkResilience, ::testing::ValuesIn(sdk_transports()),
                         transport_name);

}  // namespace
}  // namespace baton::testing
