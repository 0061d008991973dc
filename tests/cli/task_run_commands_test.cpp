// `baton task-run inspect`, `baton task-run logs` and `baton flow-run logs` (--level, --reverse),
// run as the real executable against the embedded database and against the real server
// (BATON_API_URL): the same commands must give the same results through both transports.
#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "cli/cli_transport_test.h"
#include "client/orchestration_client.h"
#include "model/ids.h"

namespace baton {
namespace {

using nlohmann::json;

class TaskRunCommands : public testing::CliTransportTest {
 protected:
  void SetUp() override {
    CliTransportTest::SetUp();
    auto flow = client_->ensure_flow("etl", {});
    FlowRunRecord run;
    run.flow_id = flow.id;
    run.flow_name = flow.name;
    run.name = "etl-run";
    flow_run_ = client_->create_flow_run(run).id;
  }

  // A task run recorded as the SDK records one: a snapshot per transition, so its history holds
  // every state in `states`, oldest first.
  TaskRunRecord record(const std::string& name, const std::vector<State>& states,
                       const std::string& cache_key = {}) {
    TaskRunRecord task;
    task.id = new_id();
    task.flow_run_id = flow_run_;
    task.task_key = name + "-3f2a";
    task.name = name + "-0";
    task.tags = {"db", "nightly"};
    task.created = now();
    task.cache_key = cache_key;
    for (const auto& s : states) {
      task.state = s;
      task.state.cache_key = s.type == StateType::kCompleted ? cache_key : "";
      if (s.type == StateType::kRunning) {
        ++task.run_count;
        task.start_time = s.timestamp;
      }
      if (s.is_terminal()) task.end_time = s.timestamp;
      client_->record_task_run(task);
    }
    client_->flush();
    return task;
  }

  // One line per message, `level` each, 1 µs apart from `t0` so their order is known.
  void log(const std::string& task_run_id, const std::vector<std::pair<int, std::string>>& lines,
           TimePoint t0) {
    std::vector<LogRecord> logs;
    for (size_t i = 0; i < lines.size(); ++i)
      logs.push_back(LogRecord{{},
                               flow_run_,
                               task_run_id,
                               task_run_id.empty() ? "baton.flow_runs" : "baton.task_runs",
                               lines[i].first,
                               lines[i].second,
                               t0 + std::chrono::microseconds(i)});
    client_->write_logs(logs);
    client_->flush();
  }

  std::string flow_run_;
};

TEST_P(TaskRunCommands, InspectShowsTheFieldsAndTheStateHistory) {
  auto task = record("load", {State::pending(), State::running(), State::completed(42)}, "k-load");
  auto failed = record("save", {State::pending(), State::running(), State::failed("disk full")});

  std::string text = ok("task-run inspect " + task.id);
  for (const std::string& expected : std::vector<std::string>{
           "name:             load-0", "task key:         load-3f2a",
           "flow run:         " + flow_run_, "state:            Completed", "run count:        1",
           "cache key:        k-load", "tags:             db nightly", "state history:"})
    EXPECT_NE(text.find(expected), std::string::npos) << expected << "\n" << text;
  // The history table: Pending, Running, Completed, in that order.
  auto pending = text.find("PENDING"), running = text.find("RUNNING"),
       completed = text.find("COMPLETED");
  ASSERT_NE(pending, std::string::npos) << text;
  EXPECT_LT(pending, running) << text;
  EXPECT_LT(running, completed) << text;

  std::string failed_text = ok("task-run inspect " + failed.id);
  EXPECT_NE(failed_text.find("state:            Failed: disk full"), std::string::npos)
      << failed_text;
  EXPECT_EQ(failed_text.find("cache key:"), std::string::npos) << failed_text;

  json j = ok_json("task-run inspect --json " + task.id);
  EXPECT_EQ(j["id"], task.id);
  EXPECT_EQ(j["name"], "load-0");
  EXPECT_EQ(j["task_key"], "load-3f2a");
  EXPECT_EQ(j["flow_run_id"], flow_run_);
  EXPECT_EQ(j["state"]["type"], "COMPLETED");
  EXPECT_EQ(j["run_count"], 1);
  EXPECT_EQ(j["cache_key"], "k-load");
  EXPECT_EQ(j["tags"], json({"db", "nightly"}));
  ASSERT_EQ(j["state_history"].size(), 3u) << j.dump();
  EXPECT_EQ(j["state_history"][0]["type"], "PENDING");
  EXPECT_EQ(j["state_history"][1]["type"], "RUNNING");
  EXPECT_EQ(j["state_history"][2]["name"], "Completed");
  EXPECT_EQ(ok_json("task-run inspect --json " + failed.id)["state_history"][2]["message"],
            "disk full");
}

TEST_P(TaskRunCommands, LogsPrintOnlyThatTaskRunsLinesOldestFirst) {
  auto load = record("load", {State::completed()});
  auto save = record("save", {State::completed()});
  auto t0 = now();
  // Interleaved in time with the other task run's and the flow's own lines.
  log(save.id, {{20, "save starts"}}, t0);
  log(load.id, {{20, "load starts"}, {40, "load retried"}, {20, "load done"}},
      t0 + std::chrono::microseconds(10));
  log("", {{20, "flow line"}}, t0 + std::chrono::microseconds(11));
  log(save.id, {{20, "save done"}}, t0 + std::chrono::microseconds(20));

  std::string text = ok("task-run logs " + load.id);
  EXPECT_NE(text.find("INFO | baton.task_runs - load starts"), std::string::npos) << text;
  EXPECT_NE(text.find("ERROR | baton.task_runs - load retried"), std::string::npos) << text;
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 3) << text;
  EXPECT_EQ(text.find("save"), std::string::npos) << text;
  EXPECT_EQ(text.find("flow line"), std::string::npos) << text;

  json lines = ok_json("task-run logs --json " + load.id);
  ASSERT_EQ(lines.size(), 3u) << lines.dump();
  EXPECT_EQ(lines[0]["message"], "load starts");
  EXPECT_EQ(lines[1]["message"], "load retried");
  EXPECT_EQ(lines[1]["level"], 40);
  EXPECT_EQ(lines[2]["message"], "load done");
  for (const auto& l : lines) EXPECT_EQ(l["task_run_id"], load.id);

  json first = ok_json("task-run logs --limit 1 --json " + load.id);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0]["message"], "load starts");
  // A task run without lines prints nothing and succeeds.
  EXPECT_EQ(ok("task-run logs " + record("idle", {State::completed()}).id), "");
  // The flow run's logs still hold everything.
  EXPECT_EQ(ok_json("flow-run logs --json " + flow_run_).size(), 6u);
}

// Every message of a --json answer, in order.
std::vector<std::string> messages(const json& lines) {
  std::vector<std::string> out;
  for (const auto& l : lines) out.push_back(l["message"]);
  return out;
}

TEST_P(TaskRunCommands, LogsLevelAndReverseSelectAndOrderTheLines) {
  auto load = record("load", {State::completed()});
  auto t0 = now();
  log(load.id,
      {{10, "load debug"},
       {20, "load info"},
       {30, "load warning"},
       {40, "load error"},
       {50, "load critical"}},
      t0);
  log("", {{20, "flow info"}, {45, "flow error"}}, t0 + std::chrono::microseconds(10));
  using V = std::vector<std::string>;
  struct Row {
    std::string args;
    V expected;
  };
  const Row rows[] = {
      {"task-run logs --json " + load.id,
       {"load debug", "load info", "load warning", "load error", "load critical"}},
      {"task-run logs --level WARNING --json " + load.id,
       {"load warning", "load error", "load critical"}},
      {"task-run logs --level error --json " + load.id, {"load error", "load critical"}},
      {"task-run logs --level 35 --json " + load.id, {"load error", "load critical"}},
      {"task-run logs --level 0 --json " + load.id,
       {"load debug", "load info", "load warning", "load error", "load critical"}},
      {"task-run logs --reverse --json " + load.id,
       {"load critical", "load error", "load warning", "load info", "load debug"}},
      // The newest lines, not the oldest, when --limit cuts.
      {"task-run logs --reverse --limit 2 --json " + load.id, {"load critical", "load error"}},
      {"task-run logs --level INFO --reverse --limit 3 --json " + load.id,
       {"load critical", "load error", "load warning"}},
      {"flow-run logs --level ERROR --json " + flow_run_,
       {"load error", "load critical", "flow error"}},
      {"flow-run logs --level critical --reverse --json " + flow_run_, {"load critical"}},
      {"flow-run logs --reverse --limit 3 --json " + flow_run_,
       {"flow error", "flow info", "load critical"}},
  };
  for (const auto& row : rows) EXPECT_EQ(messages(ok_json(row.args)), row.expected) << row.args;

  // The human form: one line per log line, newest first with --reverse.
  std::string text = ok("flow-run logs --level WARNING --reverse " + flow_run_);
  auto flow_error = text.find("ERROR | baton.flow_runs - flow error");
  auto critical = text.find("CRITICAL | baton.task_runs - load critical");
  auto warning = text.find("WARNING | baton.task_runs - load warning");
  ASSERT_NE(flow_error, std::string::npos) << text;
  EXPECT_LT(flow_error, critical) << text;
  EXPECT_LT(critical, warning) << text;
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 4) << text;
}

TEST_P(TaskRunCommands, UnknownOrMalformedIdsAndBadOptionsExitWithCodeTwo) {
  const std::string unknown = new_id();
  expect_bad_input({
      {"task-run inspect " + unknown, "no task run with id " + unknown},
      {"task-run inspect not-a-uuid", "'not-a-uuid' is not a task run id"},
      {"task-run inspect --json " + unknown, "no task run with id"},
      {"task-run logs " + unknown, "no task run with id " + unknown},
      {"task-run logs 1234", "'1234' is not a task run id"},
      {"task-run logs " + unknown + " --limit 0", "--limit"},
      {"task-run logs " + unknown + " --limit many", "--limit"},
      {"task-run inspect", "id"},
      {"task-run logs", "id"},
      // A flow run's id is not a task run's.
      {"task-run inspect " + flow_run_, "no task run with id " + flow_run_},
      // --level: a level name or a number of 0 or more.
      {"task-run logs " + unknown + " --level loud", "'loud' is not a log level"},
      {"task-run logs " + unknown + " --level -5", "[--level]"},
      {"task-run logs " + unknown + " --level 2.5", "[--level]"},
      {"task-run logs " + unknown + " --level ''", "[--level]"},
      {"flow-run logs " + flow_run_ + " --level WARN1NG", "[--level]"},
      {"flow-run logs " + flow_run_ + " --level", "--level"},
  });
}

INSTANTIATE_TEST_SUITE_P(Transports, TaskRunCommands, testing::kCliTransports,
                         testing::cli_transport_name);

}  // namespace
}  // namespace baton
