// Behaviour of the OrchestrationClient interface, run against every transport (see transport.h).
#include "client_suite.h"

#include <set>
#include <thread>

#include "../storage/log_filter_cases.h"
#include "baton/error.h"
#include "model/ids.h"

namespace baton::testing {
namespace {

using namespace std::chrono_literals;

TaskRunRecord task_snapshot(const std::string& flow_run_id, const std::string& id, State state,
                            int run_count = 0) {
  TaskRunRecord t;
  t.id = id;
  t.flow_run_id = flow_run_id;
  t.task_key = "extract-abc123";
  t.name = "extract-0";
  t.state = std::move(state);
  t.run_count = run_count;
  return t;
}

template <typename F>
ErrorKind error_kind_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.kind();
  }
  ADD_FAILURE() << "expected a baton::Error";
  return ErrorKind::kInternal;
}

// --- flows
// ----------------------------------------------------------------------------------------

TEST_P(ClientSuite, EnsureFlowUpsertsByName) {
  auto a = client().ensure_flow("etl", {"nightly"});
  auto b = client().ensure_flow("etl", {});
  auto c = client().ensure_flow("report", {});
  EXPECT_EQ(a.id, b.id);
  EXPECT_NE(a.id, c.id);
  EXPECT_EQ(b.tags, std::vector<std::string>{"nightly"});  // empty tags keep the old ones
  auto flows = client().list_flows();
  ASSERT_EQ(flows.size(), 2u);
  EXPECT_EQ(flows[0].name, "etl");
  EXPECT_EQ(flows[1].name, "report");
  EXPECT_EQ(client().list_flows(1, 1).at(0).name, "report");
}

// --- flow runs
// ------------------------------------------------------------------------------------

TEST_P(ClientSuite, CreateFlowRunFillsDefaults) {
  FlowRunRecord run;
  run.flow_name = "etl";
  run.parameters = {{"source", "s3://bucket"}};
  run.tags = {"a", "b"};
  auto created = client().create_flow_run(run);
  EXPECT_TRUE(is_uuid(created.id));
  EXPECT_FALSE(created.flow_id.empty());
  EXPECT_FALSE(created.name.empty());
  EXPECT_EQ(created.state.type, StateType::kPending);
  EXPECT_EQ(created.state.name, "Pending");
  EXPECT_EQ(created.run_count, 0);
  EXPECT_TRUE(created.expected_start_time.has_value());

  auto read = client().read_flow_run(created.id);
  ASSERT_TRUE(read.has_value());
  EXPECT_EQ(read->flow_name, "etl");
  EXPECT_EQ(read->name, created.name);
  EXPECT_EQ(read->parameters, run.parameters);
  EXPECT_EQ(read->tags, run.tags);
  EXPECT_EQ(read->state.type, StateType::kPending);
  EXPECT_EQ(read->state.timestamp, created.state.timestamp);
  EXPECT_EQ(client().read_states(created.id).size(), 1u);
  EXPECT_FALSE(client().read_flow_run(new_id()).has_value());
}

TEST_P(ClientSuite, CreateFlowRunRejectsBadInput) {
  FlowRunRecord no_flow;
  EXPECT_EQ(error_kind_of([&] { client().create_flow_run(no_flow); }), ErrorKind::kInvalidArgument);
  FlowRunRecord bad_id;
  bad_id.flow_name = "etl";
  bad_id.id = "not-a-uuid";
  EXPECT_EQ(error_kind_of([&] { client().create_flow_run(bad_id); }), ErrorKind::kInvalidArgument);
  FlowRunRecord bad_params;
  bad_params.flow_name = "etl";
  bad_params.parameters = nlohmann::json::array({1, 2});
  EXPECT_EQ(error_kind_of([&] { client().create_flow_run(bad_params); }),
            ErrorKind::kInvalidArgument);
  EXPECT_TRUE(client().filter_flow_runs({}).empty());  // nothing half-written
}

TEST_P(ClientSuite, IdempotencyKeyReturnsTheFirstRunPerFlow) {
  FlowRunRecord run;
  run.flow_name = "etl";
  run.idempotency_key = "2024-03-31";
  auto first = client().create_flow_run(run);
  auto second = client().create_flow_run(run);
  EXPECT_EQ(first.id, second.id);
  run.flow_name = "report";
  auto other_flow = client().create_flow_run(run);
  EXPECT_NE(other_flow.id, first.id);
  FlowRunRecord no_key;
  no_key.flow_name = "etl";
  EXPECT_NE(client().create_flow_run(no_key).id, client().create_flow_run(no_key).id);
  FlowRunFilter f;
  f.flow_names = {"etl"};
  EXPECT_EQ(client().filter_flow_runs(f).size(), 3u);
}

TEST_P(ClientSuite, RacingCreatorsWithOneIdempotencyKeyGetOneRun) {
  constexpr int kCreators = 4;
  std::vector<std::string> ids(kCreators);
  std::vector<std::thread> threads;
  for (int i = 0; i < kCreators; ++i) {
    threads.emplace_back([&, i] {
      auto own = transport_->connect(home_);  // separate connections, as separate schedulers
      FlowRunRecord run;
      run.flow_name = "nightly";
      run.idempotency_key = "scheduled-2024-03-31T08:00";
      ids[i] = own->create_flow_run(run).id;
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& id : ids) EXPECT_EQ(id, ids[0]);
  FlowRunFilter f;
  f.flow_names = {"nightly"};
  EXPECT_EQ(client().filter_flow_runs(f).size(), 1u);
}

TEST_P(ClientSuite, LifecycleRecordsCountersAndHistory) {
  auto run = new_run();
  auto r1 = client().set_flow_run_state(run.id, State::running());
  EXPECT_EQ(r1.status, SetStateStatus::kAccept);
  EXPECT_EQ(r1.state.name, "Running");
  auto r2 = client().set_flow_run_state(run.id, State::completed(nlohmann::json{{"rows", 3}}));
  EXPECT_EQ(r2.status, SetStateStatus::kAccept);

  auto read = client().read_flow_run(run.id);
  ASSERT_TRUE(read);
  EXPECT_EQ(read->state.type, StateType::kCompleted);
  EXPECT_EQ(read->state.result, (nlohmann::json{{"rows", 3}}));
  EXPECT_EQ(read->run_count, 1);
  ASSERT_TRUE(read->start_time && read->end_time);
  EXPECT_LE(*read->start_time, *read->end_time);
  EXPECT_GE(read->total_run_time_s, 0.0);
  auto states = client().read_states(run.id);
  ASSERT_EQ(states.size(), 3u);
  EXPECT_EQ(states[0].name, "Pending");
  EXPECT_EQ(states[1].name, "Running");
  EXPECT_EQ(states[2].name, "Completed");
}

TEST_P(ClientSuite, FlowRetriesGoThroughAwaitingRetryThenFail) {
  RetryPolicy policy;
  policy.retries = 2;
  auto run = new_run("etl", policy);
  std::vector<std::string> names;
  for (int attempt = 1; attempt <= 3; ++attempt) {
    auto running = client().set_flow_run_state(run.id, State::running());
    ASSERT_EQ(running.status, SetStateStatus::kAccept) << running.reason;
    names.push_back(running.state.name);
    auto failed = client().set_flow_run_state(run.id, State::failed("boom"));
    names.push_back(failed.state.name);
    if (attempt < 3) {
      EXPECT_EQ(failed.status, SetStateStatus::kReject);
      EXPECT_NE(failed.reason.find("RetryFailedFlows"), std::string::npos) << failed.reason;
      EXPECT_TRUE(failed.state.scheduled_time.has_value());
      EXPECT_EQ(failed.state.message, "boom");
    } else {
      EXPECT_EQ(failed.status, SetStateStatus::kAccept);
    }
  }
  EXPECT_EQ(names, (std::vector<std::string>{"Running", "AwaitingRetry", "Retrying",
                                             "AwaitingRetry", "Retrying", "Failed"}));
  auto read = client().read_flow_run(run.id);
  EXPECT_EQ(read->run_count, 3);
  EXPECT_EQ(read->state.type, StateType::kFailed);
  EXPECT_EQ(client().read_states(run.id).size(), 7u);
}

TEST_P(ClientSuite, RetryDelayMakesTheNextRunWait) {
  RetryPolicy policy;
  policy.retries = 1;
  policy.retry_delays_s = {3600};
  auto run = new_run("etl", policy);
  client().set_flow_run_state(run.id, State::running());
  auto failed = client().set_flow_run_state(run.id, State::failed("boom"));
  ASSERT_EQ(failed.state.name, "AwaitingRetry");
  auto early = client().set_flow_run_state(run.id, State::running());
  EXPECT_EQ(early.status, SetStateStatus::kWait);
  EXPECT_GT(early.wait_s, 3500);
  EXPECT_EQ(client().read_flow_run(run.id)->state.name, "AwaitingRetry");
}

TEST_P(ClientSuite, CompletedRunCannotBeLeft) {
  auto run = new_run();
  client().set_flow_run_state(run.id, State::running());
  client().set_flow_run_state(run.id, State::completed(42));
  auto again = client().set_flow_run_state(run.id, State::running());
  EXPECT_EQ(again.status, SetStateStatus::kReject);
  EXPECT_EQ(again.state.type, StateType::kCompleted);
  auto crash = client().set_flow_run_state(run.id, State::crashed("late news"));
  EXPECT_EQ(crash.status, SetStateStatus::kAbort);
  EXPECT_EQ(client().read_flow_run(run.id)->state.type, StateType::kCompleted);
  // Forced transitions skip the rules (tooling).
  auto forced = client().set_flow_run_state(run.id, State::crashed("operator"), true);
  EXPECT_EQ(forced.status, SetStateStatus::kAccept);
  EXPECT_EQ(client().read_flow_run(run.id)->state.type, StateType::kCrashed);
}

TEST_P(ClientSuite, PendingTwiceAbortsTheSecondSubmitter) {
  FlowRunRecord run;
  run.flow_name = "etl";
  run.state = State::scheduled(now() - 1s);
  auto created = client().create_flow_run(run);
  EXPECT_EQ(client().set_flow_run_state(created.id, State::pending()).status,
            SetStateStatus::kAccept);
  auto second = client().set_flow_run_state(created.id, State::pending());
  EXPECT_EQ(second.status, SetStateStatus::kAbort);
  EXPECT_NE(second.reason.find("PreventPendingTransitions"), std::string::npos);
}

TEST_P(ClientSuite, ScheduledRunsAreFoundByWhenTheyAreDue) {
  auto at = now();
  std::vector<std::string> ids;
  for (int minutes : {-30, -5, 60}) {
    FlowRunRecord run;
    run.flow_name = "nightly";
    run.state = State::scheduled(at + std::chrono::minutes(minutes));
    ids.push_back(client().create_flow_run(run).id);
  }
  auto first = client().read_flow_run(ids[0]);
  EXPECT_EQ(first->next_scheduled_start_time, at - 30min);
  EXPECT_EQ(first->expected_start_time, at - 30min);
  FlowRunFilter due;
  due.state_types = {StateType::kScheduled};
  due.next_scheduled_start_time_before = at - 1min;  // what a late-runs service asks
  due.sort = "EXPECTED_START_TIME_ASC";
  auto late = client().filter_flow_runs(due);
  ASSERT_EQ(late.size(), 2u);
  EXPECT_EQ(late[0].id, ids[0]);
  EXPECT_EQ(late[1].id, ids[1]);
  EXPECT_EQ(client().set_flow_run_state(ids[0], State::late(at - 30min)).state.name, "Late");
  EXPECT_EQ(client().set_flow_run_state(ids[0], State::pending()).status, SetStateStatus::kAccept);
  auto pending = client().read_flow_run(ids[0]);
  EXPECT_FALSE(pending->next_scheduled_start_time.has_value());
  EXPECT_EQ(pending->state.scheduled_time, at - 30min);  // CopyScheduledTime
  EXPECT_EQ(client().filter_flow_runs(due).size(), 1u);
  FlowRunFilter window;
  window.expected_start_time_after = at;
  window.expected_start_time_before = at + 2h;
  auto upcoming = client().filter_flow_runs(window);
  ASSERT_EQ(upcoming.size(), 1u);
  EXPECT_EQ(upcoming[0].id, ids[2]);
}

TEST_P(ClientSuite, CancellingScheduledRunWithoutProcessCancelsAtOnce) {
  FlowRunRecord run;
  run.flow_name = "etl";
  run.state = State::scheduled(now() + 1h);
  auto created = client().create_flow_run(run);
  auto r = client().set_flow_run_state(created.id, State::cancelling());
  EXPECT_EQ(r.status, SetStateStatus::kReject);
  EXPECT_EQ(r.state.type, StateType::kCancelled);
  EXPECT_EQ(client().read_flow_run(created.id)->state.type, StateType::kCancelled);
}

TEST_P(ClientSuite, CancellingRunOnlyBecomesCancelled) {
  auto run = new_run();
  client().set_flow_run_state(run.id, State::running());
  EXPECT_EQ(client().set_flow_run_state(run.id, State::cancelling()).status,
            SetStateStatus::kAccept);
  EXPECT_EQ(client().set_flow_run_state(run.id, State::completed()).status,
            SetStateStatus::kReject);
  EXPECT_EQ(client().set_flow_run_state(run.id, State::cancelled()).status,
            SetStateStatus::kAccept);
  EXPECT_EQ(client().read_flow_run(run.id)->state.type, StateType::kCancelled);
}

TEST_P(ClientSuite, UnknownRunIsNotFound) {
  EXPECT_EQ(error_kind_of([&] { client().set_flow_run_state(new_id(), State::running()); }),
            ErrorKind::kNotFound);
  EXPECT_FALSE(client().delete_flow_run(new_id()));
  EXPECT_TRUE(client().read_states(new_id()).empty());
}

// --- filters
// ----------------------------------------------------------------------------------------

TEST_P(ClientSuite, FilterFlowRunsByNameStateTagsWithPagingAndSorting) {
  std::vector<std::string> ids;
  for (int i = 0; i < 7; ++i) {
    FlowRunRecord run;
    run.flow_name = i % 2 ? "odd" : "even";
    run.name = "run-" + std::to_string(i);
    run.tags = i % 3 == 0 ? std::vector<std::string>{"x", "y"} : std::vector<std::string>{"y"};
    ids.push_back(client().create_flow_run(run).id);
  }
  client().set_flow_run_state(ids[0], State::running());
  client().set_flow_run_state(ids[1], State::running());
  client().set_flow_run_state(ids[1], State::failed("no"));

  FlowRunFilter f;
  f.flow_names = {"odd"};
  EXPECT_EQ(client().filter_flow_runs(f).size(), 3u);
  f = {};
  f.state_types = {StateType::kRunning, StateType::kFailed};
  EXPECT_EQ(client().filter_flow_runs(f).size(), 2u);
  f = {};
  f.state_names = {"Pending"};
  EXPECT_EQ(client().filter_flow_runs(f).size(), 5u);
  f = {};
  f.tags = {"x", "y"};
  auto tagged = client().filter_flow_runs(f);
  ASSERT_EQ(tagged.size(), 3u);  // runs 0, 3, 6
  f = {};
  f.ids = {ids[2], ids[4]};
  EXPECT_EQ(client().filter_flow_runs(f).size(), 2u);

  f = {};
  f.sort = "NAME_ASC";
  f.limit = 3;
  std::vector<std::string> names;
  for (f.offset = 0; f.offset < 9; f.offset += 3)
    for (const auto& r : client().filter_flow_runs(f)) names.push_back(r.name);
  EXPECT_EQ(names, (std::vector<std::string>{"run-0", "run-1", "run-2", "run-3", "run-4", "run-5",
                                             "run-6"}));
  f = {};
  f.sort = "ID_DESC";
  auto newest_first = client().filter_flow_runs(f);
  ASSERT_EQ(newest_first.size(), 7u);
  EXPECT_EQ(newest_first.front().id, ids.back());
  f = {};
  f.start_time_after = now() - 1h;
  EXPECT_EQ(client().filter_flow_runs(f).size(), 2u);  // only runs that started

  f = {};
  f.sort = "SIDEWAYS";
  try {
    client().filter_flow_runs(f);
    FAIL() << "expected invalid_argument";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    EXPECT_EQ(e.field(), "sort");
  }
  f = {};
  f.limit = -1;
  EXPECT_EQ(error_kind_of([&] { client().filter_flow_runs(f); }), ErrorKind::kInvalidArgument);
}

// --- task runs, logs, group commit
// ------------------------------------------------------------------

TEST_P(ClientSuite, TaskRunSnapshotsKeepTheLastStateAndEveryHistoryEntry) {
  auto run = new_run();
  std::string id = new_id();
  auto pending = task_snapshot(run.id, id, State::pending());
  auto running = task_snapshot(run.id, id, State::running(), 1);
  running.start_time = running.state.timestamp;
  auto done = task_snapshot(run.id, id, State::completed(7), 1);
  done.start_time = running.start_time;
  done.end_time = done.state.timestamp;
  client().record_task_run(pending);
  client().record_task_run(running);
  client().record_task_run(done);
  client().flush();
  auto read = client().read_task_run(id);
  ASSERT_TRUE(read);
  EXPECT_EQ(read->state.type, StateType::kCompleted);
  EXPECT_EQ(read->state.result, 7);
  EXPECT_EQ(read->run_count, 1);
  EXPECT_EQ(read->flow_run_id, run.id);
  EXPECT_EQ(read->task_key, "extract-abc123");
  EXPECT_TRUE(read->end_time.has_value());
  auto states = client().read_states(id);
  ASSERT_EQ(states.size(), 3u);
  EXPECT_EQ(states[0].type, StateType::kPending);
  EXPECT_EQ(states[1].type, StateType::kRunning);
  EXPECT_EQ(states[2].type, StateType::kCompleted);
}

TEST_P(ClientSuite, FilterTaskRunsByFlowRunAndState) {
  auto a = new_run();
  auto b = new_run();
  for (int i = 0; i < 5; ++i) {
    auto t = task_snapshot(i < 3 ? a.id : b.id, new_id(),
                           i % 2 ? State::failed("x") : State::completed());
    t.name = "task-" + std::to_string(i);
    client().record_task_run(t);
  }
  client().flush();
  TaskRunFilter f;
  f.flow_run_id = a.id;
  EXPECT_EQ(client().filter_task_runs(f).size(), 3u);
  f.state_types = {StateType::kFailed};
  EXPECT_EQ(client().filter_task_runs(f).size(), 1u);
  f = {};
  f.sort = "NAME_ASC";
  f.limit = 2;
  f.offset = 2;
  auto page = client().filter_task_runs(f);
  ASSERT_EQ(page.size(), 2u);
  EXPECT_EQ(page[0].name, "task-2");
  EXPECT_EQ(page[1].name, "task-3");
}

TEST_P(ClientSuite, ClosingTheClientFlushesEverythingRecorded) {
  auto run = new_run();
  std::vector<std::string> ids;
  for (int i = 0; i < 500; ++i) {
    ids.push_back(new_id());
    client().record_task_run(task_snapshot(run.id, ids.back(), State::pending()));
    client().record_task_run(task_snapshot(run.id, ids.back(), State::running(), 1));
    client().record_task_run(task_snapshot(run.id, ids.back(), State::completed(i), 1));
  }
  client().write_logs({LogRecord{{}, run.id, {}, "baton.flow_runs", 20, "done", now()}});
  reopen();  // no flush(): the destructor must make it durable
  TaskRunFilter f;
  f.flow_run_id = run.id;
  f.limit = 1000;
  auto task_runs = client().filter_task_runs(f);
  ASSERT_EQ(task_runs.size(), 500u);
  for (const auto& t : task_runs) EXPECT_EQ(t.state.type, StateType::kCompleted);
  EXPECT_EQ(client().read_states(ids[123]).size(), 3u);
  LogFilter lf;
  lf.flow_run_ids = {run.id};
  EXPECT_EQ(client().read_logs(lf).size(), 1u);
}

TEST_P(ClientSuite, LogsFilterByRunLevelAndPage) {
  auto run = new_run();
  std::string task = new_id();
  std::vector<LogRecord> logs;
  auto t0 = now();
  for (int i = 0; i < 10; ++i) {
    LogRecord l;
    l.flow_run_id = run.id;
    l.task_run_id = i < 4 ? task : "";
    l.name = "baton.task_runs";
    l.level = i % 2 ? 40 : 20;
    l.message = "line " + std::to_string(i);
    l.timestamp = t0 + std::chrono::microseconds(i);
    logs.push_back(l);
  }
  client().write_logs(logs);
  LogFilter f;
  f.flow_run_ids = {run.id};
  auto all = client().read_logs(f);
  ASSERT_EQ(all.size(), 10u);
  EXPECT_EQ(all.front().message, "line 0");
  EXPECT_FALSE(all.front().id.empty());
  f.min_level = 40;
  EXPECT_EQ(client().read_logs(f).size(), 5u);
  f = {};
  f.task_run_ids = {task};
  EXPECT_EQ(client().read_logs(f).size(), 4u);
  f = {};
  f.flow_run_ids = {run.id};
  f.sort = "TIMESTAMP_DESC";
  f.limit = 3;
  f.offset = 1;
  auto page = client().read_logs(f);
  ASSERT_EQ(page.size(), 3u);
  EXPECT_EQ(page[0].message, "line 8");
}

// Prefect's whole log filter gives the same lines in the same order through every transport (the
// remote one maps it to POST /api/logs/filter and back).
TEST_P(ClientSuite, LogFilterCasesSelectTheSameLinesThroughEveryTransport) {
  LogFilterData data;
  client().write_logs(data.lines());
  for (const auto& c : data.cases())
    EXPECT_EQ(line_numbers(client().read_logs(c.filter)), c.expected) << c.name;
}

TEST_P(ClientSuite, LogFilterIdListsBeyondTheCapOrNotOfUuidsAreBadInputNamingTheList) {
  std::vector<std::string> ids(kMaxLogFilterIds + 1);
  for (auto& id : ids) id = new_id();
  for (auto [list, name] : {std::pair{&LogFilter::flow_run_ids, "flow_run"},
                            std::pair{&LogFilter::task_run_ids, "task_run"}}) {
    LogFilter f;
    f.*list = ids;
    try {
      client().read_logs(f);
      ADD_FAILURE() << name << ": no error";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument) << e.what();
      EXPECT_NE(e.field().find(name), std::string::npos) << e.field();
    }
    ids.pop_back();
    f.*list = ids;
    EXPECT_TRUE(client().read_logs(f).empty()) << name;
    ids.push_back(new_id());
    f.*list = {new_id(), "nope"};
    try {
      client().read_logs(f);
      ADD_FAILURE() << name << ": no error for a malformed id";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument) << e.what();
      EXPECT_NE(e.field().find(name), std::string::npos) << e.field();
      EXPECT_EQ(e.field().back(), '1') << e.field();
    }
  }
}

// A subflow run of a deleted run stays, unlinked: its parent task run is gone with the parent.
TEST_P(ClientSuite, DeleteFlowRunKeepsItsSubflowRunsAsTopLevelRuns) {
  auto parent = new_run();
  std::string parent_task = new_id();
  client().record_task_run(task_snapshot(parent.id, parent_task, State::running()));
  FlowRunRecord child;
  child.flow_name = "child";
  child.parent_task_run_id = parent_task;
  child = client().create_flow_run(child);
  FlowRunRecord other;  // a subflow of another run: untouched
  other.flow_name = "child";
  other.parent_task_run_id = new_id();
  other = client().create_flow_run(other);
  client().flush();

  EXPECT_TRUE(client().delete_flow_run(parent.id));
  auto read = client().read_flow_run(child.id);
  ASSERT_TRUE(read);
  EXPECT_EQ(read->parent_task_run_id, "");
  EXPECT_EQ(client().read_flow_run(other.id)->parent_task_run_id, other.parent_task_run_id);
  FlowRunFilter f;
  f.parent_task_run_id = parent_task;
  EXPECT_TRUE(client().filter_flow_runs(f).empty());
}

TEST_P(ClientSuite, DeleteFlowRunCascadesToTaskRunsStatesAndLogs) {
  auto run = new_run();
  auto keep = new_run();
  std::string task = new_id();
  client().record_task_run(task_snapshot(run.id, task, State::completed()));
  client().record_task_run(task_snapshot(keep.id, new_id(), State::completed()));
  client().write_logs({LogRecord{{}, run.id, task, "x", 20, "gone soon", now()},
                       LogRecord{{}, keep.id, {}, "x", 20, "stays", now()}});
  client().set_flow_run_state(run.id, State::running());
  EXPECT_TRUE(client().delete_flow_run(run.id));
  EXPECT_FALSE(client().read_flow_run(run.id));
  EXPECT_FALSE(client().read_task_run(task));
  EXPECT_TRUE(client().read_states(run.id).empty());
  EXPECT_TRUE(client().read_states(task).empty());
  LogFilter f;
  f.flow_run_ids = {run.id};
  EXPECT_TRUE(client().read_logs(f).empty());
  EXPECT_FALSE(client().delete_flow_run(run.id));
  EXPECT_TRUE(client().read_flow_run(keep.id));
  f.flow_run_ids = {keep.id};
  EXPECT_EQ(client().read_logs(f).size(), 1u);
}

TEST_P(ClientSuite, CachedStateIsFoundByKeyUntilItExpires) {
  auto run = new_run();
  auto hit = State::completed(nlohmann::json{{"model", "v1"}});
  hit.cache_key = "load-data-1";
  hit.cache_expiration = now() + 1h;
  client().record_task_run(task_snapshot(run.id, new_id(), hit, 1));
  auto failed = State::failed("x");
  failed.cache_key = "load-data-2";
  client().record_task_run(task_snapshot(run.id, new_id(), failed, 1));
  auto expired = State::completed(1);
  expired.cache_key = "load-data-3";
  expired.cache_expiration = now() - 1s;
  client().record_task_run(task_snapshot(run.id, new_id(), expired, 1));

  auto found = client().find_cached_state("load-data-1", now());  // no flush needed first
  ASSERT_TRUE(found);
  EXPECT_EQ(found->result, (nlohmann::json{{"model", "v1"}}));
  EXPECT_EQ(found->cache_key, "load-data-1");
  EXPECT_FALSE(client().find_cached_state("load-data-1", now() + 2h));
  EXPECT_FALSE(client().find_cached_state("load-data-2", now()));
  EXPECT_FALSE(client().find_cached_state("load-data-3", now()));
  EXPECT_FALSE(client().find_cached_state("never-stored", now()));
  client().flush();  // now from the database rather than from what is still queued
  auto stored = client().find_cached_state("load-data-1", now());
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->result, (nlohmann::json{{"model", "v1"}}));
  EXPECT_FALSE(client().find_cached_state("load-data-3", now()));
  reopen();  // and from another client (a later program run)
  EXPECT_TRUE(client().find_cached_state("load-data-1", now()));
}

TEST_P(ClientSuite, ClearingTheCacheEndsTheSelectedEntriesOnly) {
  auto run = new_run();
  const std::string salt = new_id();  // keys of this test alone
  const std::string a = "a-" + salt, b = "b-" + salt, c = "c-" + salt;
  const std::string load = "load-" + salt, other = "other-" + salt;
  auto cache = [&](const std::string& key, const std::string& task_key, int result) {
    auto s = State::completed(result);
    s.cache_key = key;
    auto t = task_snapshot(run.id, new_id(), s, 1);
    t.task_key = task_key;
    client().record_task_run(t);
    return t.id;
  };
  cache(a, load, 1);
  const std::string newest_a = cache(a, load, 2);  // one key held by two runs: both end
  cache(b, load, 3);
  cache(c, other, 4);

  // By key, without a flush first: the entries may still be queued.
  const TimePoint cleared_at = now();
  EXPECT_EQ(client().expire_cache({.cache_key = a, .task_key = {}}, cleared_at), 1);
  EXPECT_FALSE(client().find_cached_state(a, now()));
  EXPECT_TRUE(client().find_cached_state(b, now()));
  EXPECT_EQ(client().expire_cache({.cache_key = a, .task_key = {}}, now()), 0);  // already ended
  auto run_a = client().read_task_run(newest_a);  // the run stays, its entry ended
  ASSERT_TRUE(run_a);
  EXPECT_EQ(run_a->state.type, StateType::kCompleted);
  ASSERT_TRUE(run_a->cache_expiration);
  EXPECT_EQ(std::chrono::floor<std::chrono::milliseconds>(*run_a->cache_expiration),
            std::chrono::floor<std::chrono::milliseconds>(cleared_at));

  // By task: every key of that task, no other task's.
  cache(b + "-2", load, 6);
  EXPECT_EQ(client().expire_cache({.cache_key = {}, .task_key = load}, now()), 2);
  EXPECT_FALSE(client().find_cached_state(b + "-2", now()));
  EXPECT_FALSE(client().find_cached_state(b, now()));
  auto kept = client().find_cached_state(c, now());
  ASSERT_TRUE(kept);
  EXPECT_EQ(kept->result, 4);

  // An entry stored afterwards is found again.
  cache(a, load, 5);
  auto fresh = client().find_cached_state(a, now());
  ASSERT_TRUE(fresh);
  EXPECT_EQ(fresh->result, 5);

  for (const CacheSelector& bad : {CacheSelector{}, CacheSelector{a, load}})
    EXPECT_EQ(error_kind_of([&] { client().expire_cache(bad, now()); }),
              ErrorKind::kInvalidArgument);
}

TEST_P(ClientSuite, NewestCacheEntryWinsAndLookupsNeverWaitForTheWriter) {
  auto run = new_run();
  for (int i = 0; i < 200; ++i) {
    auto s = State::completed(i);
    s.cache_key = "key-" + std::to_string(i % 10);
    client().record_task_run(task_snapshot(run.id, new_id(), s, 1));
    auto found = client().find_cached_state(s.cache_key, now());
    ASSERT_TRUE(found) << i;
    EXPECT_EQ(found->result, i);  // the entry just recorded, queued or committed
  }
}

TEST_P(ClientSuite, RunsOfALiveProcessAreNotMarkedCrashed) {
  auto run = new_run();
  client().set_flow_run_state(run.id, State::running());
  auto read = client().read_flow_run(run.id);
  EXPECT_FALSE(read->infrastructure_pid.empty());
  EXPECT_TRUE(client().mark_crashed_runs().empty());
  EXPECT_EQ(client().read_flow_run(run.id)->state.type, StateType::kRunning);
}

TEST_P(ClientSuite, ConcurrentThreadsShareOneClient) {
  auto run = new_run();
  constexpr int kThreads = 4, kPerThread = 250;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) {
        std::string id = new_id();
        client().record_task_run(task_snapshot(run.id, id, State::running(), 1));
        client().record_task_run(task_snapshot(run.id, id, State::completed(), 1));
        if (i % 50 == 0) client().set_flow_run_state(run.id, State::running());
      }
    });
  }
  for (auto& t : threads) t.join();
  client().flush();
  TaskRunFilter f;
  f.flow_run_id = run.id;
  f.limit = kThreads * kPerThread + 10;
  auto all = client().filter_task_runs(f);
  EXPECT_EQ(all.size(), static_cast<size_t>(kThreads * kPerThread));
  std::set<std::string> distinct;
  for (const auto& t : all) {
    distinct.insert(t.id);
    EXPECT_EQ(t.state.type, StateType::kCompleted);
  }
  EXPECT_EQ(distinct.size(), all.size());
}

}  // namespace
}  // namespace baton::testing
