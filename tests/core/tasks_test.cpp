// Tasks and futures: direct calls, submit, map, dependencies, the task runner, state history.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <latch>
#include <mutex>
#include <ranges>
#include <set>
#include <stdexcept>
#include <thread>

#include "model/ids.h"
#include "sdk_fixture.h"

namespace baton::testing {
namespace {

using namespace std::chrono_literals;

class SdkTasks : public SdkTest {};

struct Oops : std::runtime_error {
  using std::runtime_error::runtime_error;
};

TEST_P(SdkTasks, DirectCallReturnsValueAndRecordsFullHistory) {
  auto add = baton::task("add", [](int a, int b) { return a + b; });
  std::string flow_run_id;
  auto f = baton::flow("direct_call_flow", [&] {
    flow_run_id = engine::current_flow_run_id();
    return add(2, 3) * 10;
  });
  EXPECT_EQ(f(), 50);

  auto fr = flow_run(flow_run_id);
  EXPECT_EQ(fr.flow_name, "direct_call_flow");
  EXPECT_EQ(fr.state.type, StateType::kCompleted);
  EXPECT_EQ(fr.state.result, 50);
  EXPECT_EQ(fr.run_count, 1);
  ASSERT_TRUE(fr.start_time && fr.end_time);
  EXPECT_LE(*fr.start_time, *fr.end_time);
  EXPECT_EQ(state_names(flow_run_id),
            (std::vector<std::string>{"Pending", "Running", "Completed"}));

  auto runs = task_runs(flow_run_id);
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].name, "add-0");
  EXPECT_EQ(runs[0].task_key, "add");
  EXPECT_EQ(runs[0].run_count, 1);
  EXPECT_EQ(runs[0].state.type, StateType::kCompleted);
  ASSERT_TRUE(runs[0].start_time && runs[0].end_time);
  EXPECT_LE(*runs[0].start_time, *runs[0].end_time);
  EXPECT_EQ(state_names(runs[0].id), (std::vector<std::string>{"Pending", "Running", "Completed"}));
}

TEST_P(SdkTasks, DirectCallRethrowsTheBodysExceptionAndRecordsFailed) {
  auto boom = baton::task("boom", []() -> int { throw Oops("disk on fire"); });
  std::string flow_run_id;
  auto f = baton::flow("direct_failure_flow", [&] {
    flow_run_id = engine::current_flow_run_id();
    try {
      boom();
    } catch (const Oops& e) {
      return std::string("caught: ") + e.what();
    }
    return std::string("not thrown");
  });
  EXPECT_EQ(f(), "caught: disk on fire");
  auto runs = task_runs(flow_run_id);
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].state.type, StateType::kFailed);
  EXPECT_EQ(runs[0].state.message, "disk on fire");
}

TEST_P(SdkTasks, SubmitReturnsFutureWithResultAndState) {
  auto square = baton::task("square", [](int x) { return x * x; });
  auto f = baton::flow("submit_flow", [&] {
    auto fut = square.submit(7);
    fut.wait();
    EXPECT_TRUE(fut.done());
    EXPECT_EQ(fut.state().type, StateType::kCompleted);
    EXPECT_EQ(fut.task_run_name(), "square-0");
    return fut.result();
  });
  EXPECT_EQ(f(), 49);
}

TEST_P(SdkTasks, FutureResultRethrowsTheTasksExceptionType) {
  auto boom = baton::task("boom_submit", [](int) -> int { throw Oops("bad input"); });
  auto f = baton::flow("future_failure_flow", [&] {
    auto fut = boom.submit(1);
    EXPECT_THROW(fut.result(), Oops);
    EXPECT_EQ(fut.state().type, StateType::kFailed);
    EXPECT_EQ(fut.state().message, "bad input");
    return 0;
  });
  f();
}

// A finished future answers with the very state its run recorded last, whether the handle keeps
// it compactly (a plain Completed) or whole (Failed with its message, Cached with its result).
TEST_P(SdkTasks, FinishedFutureStateIsTheRecordedFinalState) {
  const std::string salt = new_id();
  auto plain = baton::task("final_plain", [](int x) { return x; });
  auto boom = baton::task("final_boom", [](int) -> int { throw Oops("bad input"); });
  auto cached = baton::task("final_cached_" + salt, [](int x) { return x; }).cache();
  std::vector<std::pair<std::string, State>> finals;  // task run id, the future's state
  auto f = baton::flow("final_state_flow", [&] {
    std::vector<Future<int>> futures;
    futures.push_back(plain.submit(1));
    futures.push_back(boom.submit(2));
    cached(3);
    futures.push_back(cached.submit(3));  // a hit: Cached
    for (auto& fut : futures) {
      fut.wait();
      finals.emplace_back(fut.task_run_id(), fut.state());
    }
    return 0;
  });
  f();
  client().flush();
  ASSERT_EQ(finals.size(), 3u);
  std::vector<std::string> names;
  for (const auto& [id, state] : finals) {
    auto recorded = task_run(id).state;
    names.push_back(state.name);
    EXPECT_EQ(state.type, recorded.type) << state.name;
    EXPECT_EQ(state.name, recorded.name);
    EXPECT_EQ(state.message, recorded.message) << state.name;
    EXPECT_EQ(std::chrono::floor<std::chrono::microseconds>(state.timestamp),
              std::chrono::floor<std::chrono::microseconds>(recorded.timestamp))
        << state.name;
    EXPECT_EQ(state.result, recorded.result) << state.name;
    EXPECT_EQ(state.cache_key, recorded.cache_key) << state.name;
  }
  EXPECT_EQ(names, (std::vector<std::string>{"Completed", "Failed", "Cached"}));
  EXPECT_EQ(finals[1].second.message, "bad input");
  EXPECT_FALSE(finals[2].second.cache_key.empty());
  EXPECT_TRUE(finals[2].second.result.contains("storage_key")) << finals[2].second.result;
}

TEST_P(SdkTasks, MapRunsOncePerElementInOrderWithUnmappedConstant) {
  auto label = baton::task(
      "label", [](const std::string& id, const std::string& prefix) { return prefix + id; });
  std::string flow_run_id;
  auto f = baton::flow("map_flow", [&] {
    flow_run_id = engine::current_flow_run_id();
    std::vector<std::string> ids{"a", "b", "c", "d"};
    return label.map(ids, baton::unmapped(std::string("id-"))).results();
  });
  EXPECT_EQ(f(), (std::vector<std::string>{"id-a", "id-b", "id-c", "id-d"}));
  EXPECT_EQ(task_runs(flow_run_id).size(), 4u);
}

// A map hands its runs to the task runner in groups (engine::SubmitBatch): 1, 2, 4, ... up to
// 64, then the rest when map() returns. 300 runs cross every group size and leave a partial one.
TEST_P(SdkTasks, LargeMapRunsAndRecordsEveryElement) {
  auto twice = baton::task("twice", [](int x) { return 2 * x; });
  std::string flow_run_id;
  auto f = baton::flow("large_map_flow", [&] {
    flow_run_id = engine::current_flow_run_id();
    return twice.map(std::views::iota(0, 300)).results();
  });
  auto results = f();
  ASSERT_EQ(results.size(), 300u);
  for (int i = 0; i < 300; ++i) EXPECT_EQ(results[static_cast<std::size_t>(i)], 2 * i);
  auto runs = task_runs(flow_run_id);
  ASSERT_EQ(runs.size(), 300u);
  std::set<std::string> keys;
  for (const auto& run : runs) {
    EXPECT_EQ(run.state.type, StateType::kCompleted) << run.name;
    keys.insert(run.dynamic_key);
  }
  EXPECT_EQ(keys.size(), 300u);
  EXPECT_EQ(state_names(runs.back().id),
            (std::vector<std::string>{"Pending", "Running", "Completed"}));
}

// A map that outruns the task runner waits for it (at most 512 runs queued), but not for runs
// that themselves wait for the flow's thread: it stops waiting once the runner takes no run.
TEST_P(SdkTasks, AMapOfRunsWaitingForTheFlowDoesNotWaitForThem) {
  std::atomic<bool> go{false};
  auto held = baton::task("held", [&](int x) {
    while (!go.load()) std::this_thread::sleep_for(1ms);
    return x;
  });
  auto f = baton::flow("held_map_flow", [&] {
             auto futures =
                 held.map(std::views::iota(0, 2000));  // returns with every run still waiting
             go.store(true);
             long long sum = 0;
             for (int v : futures.results()) sum += v;
             return sum;
           }).task_runner(baton::ThreadPoolTaskRunner{2});
  EXPECT_EQ(f(), 1999LL * 2000 / 2);
}

// Submitted calls are allocated beside the runs' handles (engine::allocate_call_memory); a call
// whose arguments are over-aligned takes the ordinary aligned allocation instead.
struct alignas(64) WideArgument {
  double values[8] = {};
};

TEST_P(SdkTasks, SubmittedCallsKeepTheirArgumentsWhateverTheirAlignment) {
  auto sum = baton::task("wide_sum", [](WideArgument w) {
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(&w) % alignof(WideArgument), 0u);
    double total = 0;
    for (double v : w.values) total += v;
    return total;
  });
  auto twice = baton::task("narrow_twice", [](std::string s) { return s + s; });
  auto f = baton::flow("call_memory_flow", [&] {
    WideArgument w;
    for (int i = 0; i < 8; ++i) w.values[i] = i;
    auto wide = sum.submit(w);
    auto narrow = twice.map(std::vector<std::string>(100, std::string(40, 'x')));
    double total = wide.result();
    for (const auto& s : narrow.results()) total += static_cast<double>(s.size());
    return total;
  });
  EXPECT_EQ(f(), 28.0 + 100 * 80);
}

// Runs collected by a SubmitBatch that has not handed them over yet are handed over before this
// thread blocks on a future, so waiting inside the scope cannot wait forever.
TEST_P(SdkTasks, WaitingInsideASubmitBatchHandsOverItsRuns) {
  auto inc = baton::task("inc", [](int x) { return x + 1; });
  auto f = baton::flow("submit_batch_wait_flow", [&] {
    engine::SubmitBatch batch;
    auto first = inc.submit(1);   // a group of one: handed over at once
    auto second = inc.submit(2);  // the next group holds two: this one waits for a companion
    if (!second.wait_for(10s)) {
      ADD_FAILURE() << "the run waited for stayed in the batch";
      return 0;  // the batch hands it over as it goes out of scope
    }
    auto third = inc.submit(3);
    return first.result() + second.result() + third.result();
  });
  EXPECT_EQ(f(), 2 + 3 + 4);
}

// A run's record is recycled for later runs once it is final (LiveTaskRun in core/task_run.h):
// nothing of an earlier run on the same thread may show in a later one's record.
TEST_P(SdkTasks, ARunRecordsNothingOfAnEarlierRunsRecord) {
  int attempts = 0;
  auto flaky = baton::task("recycled_flaky",
                           [&](int x) {
                             if (++attempts == 1) throw Oops("first attempt");
                             return x;
                           })
                   .tags({"recycle-tag"})
                   .retries(1)
                   .retry_delay(10ms)
                   .cache()
                   .refresh_cache();  // runs even when an earlier test run cached it
  auto plain = baton::task("recycled_plain", [](int x) { return x; });
  auto consumer = baton::task("recycled_consumer", [](int x) { return x; });
  std::string flow_run_id;
  auto f = baton::flow("recycled_record_flow", [&] {
    flow_run_id = engine::current_flow_run_id();
    int sum = flaky(1);  // tags, a retry policy, a cache key, AwaitingRetry: then recycled
    auto upstream = plain.submit(2);
    sum += consumer(upstream);  // task_inputs
    sum += plain(3);
    return sum;
  });
  EXPECT_EQ(f(), 6);
  auto runs = task_runs(flow_run_id);
  ASSERT_EQ(runs.size(), 4u);
  for (const auto& run : runs) {
    if (run.task_key == "recycled_flaky") {
      EXPECT_EQ(run.run_count, 2);
      continue;
    }
    SCOPED_TRACE(run.name);
    EXPECT_TRUE(run.tags.empty());
    EXPECT_EQ(run.empirical_policy.retries, 0);
    EXPECT_TRUE(run.empirical_policy.retry_delays_s.empty());
    if (run.task_key != "recycled_consumer") {
      EXPECT_TRUE(run.task_inputs.empty()) << run.task_inputs.dump();
    }
    EXPECT_TRUE(run.cache_key.empty());
    EXPECT_TRUE(run.state.cache_key.empty());
    EXPECT_TRUE(run.state.result.is_null()) << run.state.result.dump();
    EXPECT_EQ(run.run_count, 1);
    EXPECT_EQ(state_names(run.id), (std::vector<std::string>{"Pending", "Running", "Completed"}));
  }
}

TEST_P(SdkTasks, MapAcceptsAnySizedRangeIncludingViews) {
  auto twice = baton::task("twice", [](int x) { return 2 * x; });
  auto f =
      baton::flow("map_range_flow", [&] { return twice.map(std::views::iota(0, 5)).results(); });
  EXPECT_EQ(f(), (std::vector<int>{0, 2, 4, 6, 8}));
}

TEST_P(SdkTasks, MapRejectsRangesOfDifferentLengths) {
  auto add = baton::task("add_map", [](int a, int b) { return a + b; });
  auto f = baton::flow("map_mismatch_flow", [&] {
    std::vector<int> a{1, 2, 3}, b{1, 2};
    try {
      add.map(a, b);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  });
  EXPECT_EQ(f(), "map(): every iterated argument must have the same length");
}

TEST_P(SdkTasks, FuturesAsArgumentsAreResolvedAndRecordedAsDependencies) {
  auto fetch =
      baton::task("fetch", [](int n) { return std::vector<int>(static_cast<std::size_t>(n), 1); });
  auto total = baton::task("total", [](const std::vector<int>& xs, int bonus) {
    int s = bonus;
    for (int x : xs) s += x;
    return s;
  });
  std::string up_id, down_id;
  auto f = baton::flow("dependency_flow", [&] {
    auto a = fetch.submit(4);
    auto b = total.submit(a, 10);
    up_id = a.task_run_id();
    down_id = b.task_run_id();
    return b.result();
  });
  EXPECT_EQ(f(), 14);
  auto down = task_run(down_id);
  ASSERT_TRUE(down.task_inputs.contains("0")) << down.task_inputs.dump();
  EXPECT_EQ(down.task_inputs["0"][0]["id"], up_id);
  EXPECT_EQ(down.task_inputs["0"][0]["input_type"], "task_run");
}

TEST_P(SdkTasks, DirectCallWithAFutureArgumentWaitsForIt) {
  auto slow = baton::task("slow_value", [] {
    std::this_thread::sleep_for(20ms);
    return 5;
  });
  auto inc = baton::task("inc", [](int x) { return x + 1; });
  auto f = baton::flow("direct_future_flow", [&] { return inc(slow.submit()); });
  EXPECT_EQ(f(), 6);
}

TEST_P(SdkTasks, WaitForStartsOnlyAfterUpstreamIsFinal) {
  std::atomic<bool> upstream_finished{false};
  auto first = baton::task("first", [&] {
    std::this_thread::sleep_for(30ms);
    upstream_finished = true;
  });
  auto second = baton::task("second", [&] { return upstream_finished.load(); });
  std::string second_id, first_id;
  auto f = baton::flow("wait_for_flow", [&] {
    auto a = first.submit();
    auto b = second.submit(baton::wait_for(a));
    first_id = a.task_run_id();
    second_id = b.task_run_id();
    return b.result();
  });
  EXPECT_TRUE(f());
  auto down = task_run(second_id);
  ASSERT_TRUE(down.task_inputs.contains("wait_for"));
  EXPECT_EQ(down.task_inputs["wait_for"][0]["id"], first_id);
}

TEST_P(SdkTasks, DownstreamOfAFailedTaskDoesNotRun) {
  std::atomic<int> ran{0};
  auto bad = baton::task("bad_upstream", []() -> int { throw Oops("nope"); });
  auto use = baton::task("use_upstream", [&](int x) {
    ++ran;
    return x;
  });
  auto f = baton::flow("upstream_failed_flow", [&] {
    auto b = use.submit(bad.submit());
    EXPECT_THROW(b.result(), UpstreamFailedError);
    EXPECT_EQ(b.state().name, "NotReady");
    EXPECT_EQ(b.state().type, StateType::kFailed);
    return 0;
  });
  f();
  EXPECT_EQ(ran.load(), 0);
}

TEST_P(SdkTasks, ThreadPoolSizeIsConfigurable) {
  std::mutex m;
  std::set<std::thread::id> threads;
  std::latch all_three(3);
  auto work = baton::task("pooled", [&](int i) {
    {
      std::lock_guard lock(m);
      threads.insert(std::this_thread::get_id());
    }
    if (i < 3) {
      all_three.count_down();
      all_three.wait();  // only returns if three runs are in flight at once
    }
    return i;
  });
  auto f = baton::flow("pool_flow", [&] {
             return work.map(std::views::iota(0, 30)).results().size();
           }).task_runner(baton::ThreadPoolTaskRunner{3});
  EXPECT_EQ(f(), 30u);
  EXPECT_EQ(threads.size(), 3u);
}

TEST_P(SdkTasks, FlowWaitsForSubmittedTasksItDidNotAwait) {
  std::atomic<int> done{0};
  auto later = baton::task("later", [&] {
    std::this_thread::sleep_for(20ms);
    ++done;
  });
  auto f = baton::flow("unawaited_flow", [&] {
    for (int i = 0; i < 4; ++i) later.submit();
  });
  f();
  EXPECT_EQ(done.load(), 4);
}

TEST_P(SdkTasks, TasksCalledOutsideFlowsAreTrackedToo) {
  auto lone = baton::task("lone", [](int x) { return x + 1; });
  EXPECT_EQ(lone(1), 2);
  auto fut = lone.submit(41);
  EXPECT_EQ(fut.result(), 42);
  auto run = task_run(fut.task_run_id());
  EXPECT_EQ(run.flow_run_id, "");
  EXPECT_EQ(run.state.type, StateType::kCompleted);
}

TEST_P(SdkTasks, TagsAreRecordedOnTasksAndFlows) {
  auto tagged = baton::task("tagged", [] { return 1; }).tags({"etl", "critical"});
  std::string flow_run_id;
  auto f = baton::flow("tagged_flow", [&] {
             flow_run_id = engine::current_flow_run_id();
             return tagged();
           }).tags({"nightly"});
  f();
  EXPECT_EQ(flow_run(flow_run_id).tags, (std::vector<std::string>{"nightly"}));
  auto runs = task_runs(flow_run_id);
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].tags, (std::vector<std::string>{"etl", "critical"}));
}

TEST_P(SdkTasks, TaskRunNamesFromTemplates) {
  auto fetch = baton::task("fetch_named", [](const std::string& url,
                                             int page) { return url + std::to_string(page); })
                   .arg_names({"url", "page"})
                   .task_run_name("fetch-{url}-p{page}");
  auto by_index = baton::task("by_index", [](int x) { return x; }).task_run_name("item-{0}");
  auto f = baton::flow("named_tasks_flow", [&] {
    auto a = fetch.submit(std::string("example"), 2);
    auto b = by_index.submit(9);
    return a.task_run_name() + "," + b.task_run_name();
  });
  EXPECT_EQ(f(), "fetch-example-p2,item-9");
}

TEST_P(SdkTasks, OptionsReturnANewTaskAndLeaveTheOriginal) {
  auto base = baton::task("opts", [] { return 1; });
  auto more = base.retries(3).tags({"x"});
  EXPECT_EQ(base.definition().retries, 0);
  EXPECT_EQ(more.definition().retries, 3);
  EXPECT_TRUE(base.definition().tags.empty());
}

INSTANTIATE_TEST_SUITE_P(Transports, SdkTasks, ::testing::ValuesIn(sdk_transports()),
                         transport_name);

}  // namespace
}  // namespace baton::testing
