// Flows: parameters, subflows, run names, logging, hooks, flow retries, the baton::main entrypoint.
#include <atomic>
#include <chrono>
#include <iostream>
#include <stdexcept>
#include <thread>

#include "sdk_fixture.h"

namespace flows_test {
struct ReportParams {
  std::string region = "eu";
  int days = 7;
};
BATON_PARAMS(ReportParams, region, days)
}  // namespace flows_test

namespace baton::testing {
namespace {

using namespace std::chrono_literals;
using flows_test::ReportParams;

class SdkFlows : public SdkTest {};

TEST_P(SdkFlows, ParametersAreRecordedAndRunNameUsesThem) {
  std::string flow_run_id;
  auto report = baton::flow("report", [&](const ReportParams& p) {
                  flow_run_id = engine::current_flow_run_id();
                  return p.region + ":" + std::to_string(p.days);
                }).flow_run_name("report-{region}-{days}d");
  EXPECT_EQ(report(ReportParams{"us", 3}), "us:3");
  auto run = flow_run(flow_run_id);
  EXPECT_EQ(run.parameters, (nlohmann::json{{"region", "us"}, {"days", 3}}));
  EXPECT_EQ(run.name, "report-us-3d");
  EXPECT_EQ(report.parameter_schema()["properties"]["days"]["type"], "integer");
}

TEST_P(SdkFlows, GeneratedRunNamesLookLikeAdjectiveAnimal) {
  std::string flow_run_id;
  auto f = baton::flow("named_default", [&] { flow_run_id = engine::current_flow_run_id(); });
  f();
  auto name = flow_run(flow_run_id).name;
  EXPECT_NE(name.find('-'), std::string::npos) << name;
}

TEST_P(SdkFlows, InvalidParametersOfAStoredRunFailItNamingTheField) {
  bool ran = false;
  auto report = baton::flow("report_invalid", [&](const ReportParams&) { ran = true; });
  FlowRecord fr = client().ensure_flow("report_invalid", {});
  FlowRunRecord run;
  run.flow_id = fr.id;
  run.flow_name = "report_invalid";
  run.name = "bad-params";
  run.parameters = {{"region", "eu"}, {"days", "seven"}};
  run = client().create_flow_run(run);

  auto registered = engine::find_flow("report_invalid");
  ASSERT_TRUE(registered);
  auto call = registered->factory();
  try {
    engine::run_flow(registered->definition, *call, run.id);
    FAIL() << "ran with invalid parameters";
  } catch (const Error& e) {
    EXPECT_EQ(e.field(), "parameters.days");
  }
  EXPECT_FALSE(ran);
  auto after = flow_run(run.id);
  EXPECT_EQ(after.state.type, StateType::kFailed);
  EXPECT_NE(after.state.message.find("parameters.days: expected an integer, got a string"),
            std::string::npos)
      << after.state.message;
}

TEST_P(SdkFlows, SubflowIsAChildRunLinkedToATaskRunOfTheParent) {
  std::string parent_id, child_id;
  auto child = baton::flow("child_flow", [&](const ReportParams& p) {
    child_id = engine::current_flow_run_id();
    return p.days * 2;
  });
  auto parent = baton::flow("parent_flow", [&] {
    parent_id = engine::current_flow_run_id();
    return child(ReportParams{"eu", 21});
  });
  EXPECT_EQ(parent(), 42);
  ASSERT_NE(parent_id, child_id);
  auto c = flow_run(child_id);
  ASSERT_FALSE(c.parent_task_run_id.empty());
  auto link = task_run(c.parent_task_run_id);
  EXPECT_EQ(link.flow_run_id, parent_id);
  EXPECT_EQ(link.state.type, StateType::kCompleted);
  EXPECT_EQ(state_names(link.id), (std::vector<std::string>{"Pending", "Running", "Completed"}));
}

TEST_P(SdkFlows, RunLoggerLinesAreStoredWithTheirRuns) {
  std::string flow_run_id, task_run_id;
  auto t = baton::task("logging_task", [&] {
    task_run_id = engine::current_task_run_id();
    baton::get_run_logger().warning("processing {} rows", 12);
  });
  auto f = baton::flow("logging_flow", [&] {
    flow_run_id = engine::current_flow_run_id();
    baton::get_run_logger().info("hello from the flow");
    t();
  });
  f();
  client().flush();
  LogFilter lf;
  lf.flow_run_ids = {flow_run_id};
  auto logs = client().read_logs(lf);
  bool flow_line = false, task_line = false;
  for (const auto& l : logs) {
    if (l.message == "hello from the flow" && l.task_run_id.empty() && l.level == 20)
      flow_line = true;
    if (l.message == "processing 12 rows" && l.task_run_id == task_run_id && l.level == 30)
      task_line = true;
  }
  EXPECT_TRUE(flow_line);
  EXPECT_TRUE(task_line);
}

// What the run logger stored, read back through Prefect's whole log filter: several task runs at
// once, the flow run's own lines (no task run), level bounds, newest first.
TEST_P(SdkFlows, RunLogsAreReadBackByTaskRunsLevelAndOrder) {
  std::string flow_run_id;
  std::vector<std::string> task_run_ids;  // the tasks run one after another
  auto noisy = baton::task("noisy", [&](int i) {
    task_run_ids.push_back(engine::current_task_run_id());
    auto log = baton::get_run_logger();
    log.info("task {} info", i);
    log.warning("task {} warning", i);
    log.error("task {} error", i);
  });
  auto f = baton::flow("noisy_flow", [&] {
    flow_run_id = engine::current_flow_run_id();
    baton::get_run_logger().warning("flow warning");
    for (int i = 0; i < 3; ++i) noisy(i);
    baton::get_run_logger().error("flow error");
  });
  f();
  client().flush();
  ASSERT_EQ(task_run_ids.size(), 3u);
  using V = std::vector<std::string>;
  auto read = [&](const LogFilter& lf) {
    V out;
    for (const auto& l : client().read_logs(lf)) out.push_back(l.message);
    return out;
  };
  LogFilter two_tasks;
  two_tasks.task_run_ids = {task_run_ids[2], task_run_ids[0]};
  two_tasks.min_level = RunLogger::kWarning;
  EXPECT_EQ(read(two_tasks),
            (V{"task 0 warning", "task 0 error", "task 2 warning", "task 2 error"}));
  LogFilter own;
  own.flow_run_ids = {flow_run_id};
  own.task_run_is_null = true;
  own.min_level = RunLogger::kWarning;
  EXPECT_EQ(read(own), (V{"flow warning", "flow error"}));
  LogFilter infos;
  infos.flow_run_ids = {flow_run_id};
  infos.task_run_is_null = false;
  infos.min_level = infos.max_level = RunLogger::kInfo;
  EXPECT_EQ(read(infos), (V{"task 0 info", "task 1 info", "task 2 info"}));
  LogFilter errors_newest_first;
  errors_newest_first.flow_run_ids = {flow_run_id};
  errors_newest_first.min_level = RunLogger::kError;
  errors_newest_first.sort = "TIMESTAMP_DESC";
  errors_newest_first.limit = 3;
  EXPECT_EQ(read(errors_newest_first), (V{"flow error", "task 2 error", "task 1 error"}));
}

TEST_P(SdkFlows, LogPrintsCapturesStdoutOnlyWhenEnabled) {
  std::string quiet_id, loud_id;
  auto quiet = baton::task("quiet_print", [&] {
    quiet_id = engine::current_task_run_id();
    std::cout << "not captured line" << std::endl;
  });
  auto loud = baton::task("loud_print", [&] {
                loud_id = engine::current_task_run_id();
                std::cout << "captured " << 42 << "\n";
                std::cerr << "an error line\n";
              }).log_prints();
  auto f = baton::flow("log_prints_flow", [&] {
    quiet();
    loud();
  });
  f();
  client().flush();
  LogFilter lf;
  lf.task_run_ids = {loud_id};
  auto logs = client().read_logs(lf);
  std::vector<std::pair<int, std::string>> lines;
  for (const auto& l : logs) lines.emplace_back(l.level, l.message);
  EXPECT_NE(std::find(lines.begin(), lines.end(), std::make_pair(20, std::string("captured 42"))),
            lines.end());
  EXPECT_NE(std::find(lines.begin(), lines.end(), std::make_pair(40, std::string("an error line"))),
            lines.end());
  lf.task_run_ids = {quiet_id};
  EXPECT_TRUE(client().read_logs(lf).empty());
}

TEST_P(SdkFlows, HooksRunForTheFinalState) {
  std::vector<std::string> calls;
  std::mutex m;
  auto note = [&](std::string what) {
    return [&, what](const RunInfo& info, const State& s) {
      std::lock_guard lock(m);
      calls.push_back(what + ":" + info.definition + ":" + s.name);
    };
  };
  auto ok = baton::task("hook_ok", [] { return 1; })
                .on_completion(note("task_done"))
                .on_failure(note("task_failed"));
  auto bad = baton::task("hook_bad", []() -> int {
               throw std::runtime_error("x");
             }).on_failure(note("task_failed"));
  auto good_flow = baton::flow("hook_good_flow",
                               [&] {
                                 ok();
                                 try {
                                   bad();
                                 } catch (...) {
                                 }
                               })
                       .on_completion(note("flow_done"))
                       .on_failure(note("flow_failed"));
  good_flow();
  auto failing = baton::flow("hook_failing_flow", [] { throw std::runtime_error("flow broke"); })
                     .on_failure(note("flow_failed"))
                     .on_completion(note("flow_done"));
  EXPECT_THROW(failing(), std::runtime_error);
  auto crashing =
      baton::flow("hook_crashing_flow", [] { throw 42; }).on_crashed(note("flow_crashed"));
  EXPECT_EQ(crashing.run_state().type, StateType::kCrashed);
  auto cancelling = baton::flow("hook_cancel_flow", [] {
                      throw CancelledError("stop requested");
                    }).on_cancellation(note("flow_cancelled"));
  EXPECT_EQ(cancelling.run_state().type, StateType::kCancelled);
  EXPECT_EQ(calls, (std::vector<std::string>{
                       "task_done:hook_ok:Completed", "task_failed:hook_bad:Failed",
                       "flow_done:hook_good_flow:Completed", "flow_failed:hook_failing_flow:Failed",
                       "flow_crashed:hook_crashing_flow:Crashed",
                       "flow_cancelled:hook_cancel_flow:Cancelled"}));
}

TEST_P(SdkFlows, FlowRetriesRunTheBodyAgainAsRetrying) {
  std::atomic<int> attempts{0};
  std::string flow_run_id;
  auto f = baton::flow("flow_retry",
                       [&] {
                         flow_run_id = engine::current_flow_run_id();
                         if (attempts++ == 0) throw std::runtime_error("first attempt fails");
                         return attempts.load();
                       })
               .retries(1)
               .retry_delay(10ms);
  EXPECT_EQ(f(), 2);
  auto run = flow_run(flow_run_id);
  EXPECT_EQ(run.run_count, 2);
  EXPECT_EQ(
      state_names(flow_run_id),
      (std::vector<std::string>{"Pending", "Running", "AwaitingRetry", "Retrying", "Completed"}));
}

TEST_P(SdkFlows, MainRunsAnExistingFlowRunFromFlagOrEnvironment) {
  std::atomic<int> days_seen{0};
  auto report = baton::flow("report_main", [&](const ReportParams& p) {
    days_seen = p.days;
    return p.days;
  });
  FlowRecord fr = client().ensure_flow("report_main", {});
  auto make_run = [&](nlohmann::json params) {
    FlowRunRecord run;
    run.flow_id = fr.id;
    run.flow_name = "report_main";
    run.name = "from-elsewhere";
    run.parameters = std::move(params);
    return client().create_flow_run(run).id;
  };

  std::string id = make_run({{"days", 5}});
  std::string flag = "--flow-run-id=" + id;
  char prog[] = "prog";
  char* argv1[] = {prog, flag.data()};
  EXPECT_EQ(baton::main(2, argv1), 0);
  EXPECT_EQ(days_seen.load(), 5);
  auto run = flow_run(id);
  EXPECT_EQ(run.state.type, StateType::kCompleted);
  EXPECT_EQ(run.state.result, 5);

  std::string id2 = make_run({{"days", 9}});
  setenv("BATON_FLOW_RUN_ID", id2.c_str(), 1);
  char* argv2[] = {prog};
  int rc = baton::main(1, argv2, [] { return 77; });
  unsetenv("BATON_FLOW_RUN_ID");
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(days_seen.load(), 9);

  std::string bad = make_run({{"days", "nine"}});
  std::string bad_flag = "--flow-run-id=" + bad;
  char* argv3[] = {prog, bad_flag.data()};
  EXPECT_EQ(baton::main(2, argv3), 2);
  EXPECT_EQ(flow_run(bad).state.type, StateType::kFailed);

  std::string unknown = "--flow-run-id=" + std::string("0190a6e2-7c3f-7b41-8d2e-5f3a9c1b2d4e");
  char* argv4[] = {prog, unknown.data()};
  EXPECT_EQ(baton::main(2, argv4), 2);

  char* argv5[] = {prog};
  EXPECT_EQ(baton::main(1, argv5, [] { return 77; }), 77);
}

TEST_P(SdkFlows, MainRunsANamedFlowWithJsonParameters) {
  std::atomic<int> days_seen{0};
  auto report = baton::flow("report_by_name", [&](const ReportParams& p) { days_seen = p.days; });
  char prog[] = "prog";
  char flow_flag[] = "--flow=report_by_name";
  char params[] = "--params={\"days\": 11}";
  char* argv[] = {prog, flow_flag, params};
  EXPECT_EQ(baton::main(3, argv), 0);
  EXPECT_EQ(days_seen.load(), 11);

  char unknown_flow[] = "--flow=no_such_flow";
  char* argv2[] = {prog, unknown_flow};
  EXPECT_EQ(baton::main(2, argv2), 2);
  char broken[] = "--params={not json";
  char* argv3[] = {prog, flow_flag, broken};
  EXPECT_EQ(baton::main(3, argv3), 2);
}

TEST_P(SdkFlows, CancellingARunningFlowFromOutsideEndsItCancelled) {
  setenv("BATON_CANCELLATION_POLL_S", "0.05", 1);
  std::atomic<bool> started{false}, hook_ran{false};
  std::string flow_run_id;
  auto f = baton::flow("cancel_me", [&] {
             flow_run_id = engine::current_flow_run_id();
             started = true;
             for (int i = 0; i < 1000; ++i) {  // at most 10 s
               baton::check_cancelled();
               std::this_thread::sleep_for(10ms);
             }
           }).on_cancellation([&](const RunInfo&, const State&) { hook_ran = true; });
  State final_state;
  std::thread runner([&] { final_state = f.run_state(); });
  for (int i = 0; i < 1000 && !started; ++i) std::this_thread::sleep_for(5ms);
  ASSERT_TRUE(started.load());
  auto r = client().set_flow_run_state(flow_run_id, State::cancelling("stop requested"));
  EXPECT_EQ(r.status, SetStateStatus::kAccept);
  runner.join();
  EXPECT_EQ(final_state.type, StateType::kCancelled);
  EXPECT_TRUE(hook_ran.load());
  EXPECT_EQ(flow_run(flow_run_id).state.type, StateType::kCancelled);
}

INSTANTIATE_TEST_SUITE_P(Transports, SdkFlows, ::testing::ValuesIn(sdk_transports()),
                         transport_name);

}  // namespace
}  // namespace baton::testing
