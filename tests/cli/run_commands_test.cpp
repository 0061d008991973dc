// The run commands against the real embedded database: runs are recorded through the
// orchestration client, then read back by the real `baton` executable.
#include <gtest/gtest.h>

#include <filesystem>

#include "cli/cli_runner.h"
#include "client/orchestration_client.h"
#include "model/ids.h"

namespace baton {
namespace {

using testing::run_baton;

int count_lines(const std::string& s) {
  return static_cast<int>(std::count(s.begin(), s.end(), '\n'));
}

class RunCommands : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    home_ = std::filesystem::path(std::getenv("BATON_HOME")) / info->name();
    std::filesystem::remove_all(home_);
    std::filesystem::create_directories(home_);
    setenv("BATON_HOME", home_.c_str(), 1);
    unsetenv("BATON_API_URL");
    client_ = make_client();
  }
  void TearDown() override {
    client_.reset();
    setenv("BATON_HOME", home_.parent_path().c_str(), 1);
  }

  // A run of `flow` driven Pending -> Running -> `final_state`, with one task run and one log.
  FlowRunRecord make_run(const std::string& flow, const State& final_state) {
    auto f = client_->ensure_flow(flow, {"nightly"});
    FlowRunRecord run;
    run.flow_id = f.id;
    run.flow_name = f.name;
    run.name = flow + "-run";
    run.parameters = {{"source", "s3://bucket"}};
    run = client_->create_flow_run(run);
    EXPECT_EQ(client_->set_flow_run_state(run.id, State::running()).status,
              SetStateStatus::kAccept);
    EXPECT_EQ(client_->set_flow_run_state(run.id, final_state).status, SetStateStatus::kAccept);

    TaskRunRecord task;
    task.id = new_id();
    task.flow_run_id = run.id;
    task.task_key = "extract";
    task.name = "extract-0";
    task.created = now();
    task.state = State::completed(42);
    task.run_count = 1;
    task.start_time = task.created;
    task.end_time = now();
    client_->record_task_run(task);

    LogRecord line;
    line.flow_run_id = run.id;
    line.name = "baton.flow_runs";
    line.message = "hello from " + flow;
    line.timestamp = now();
    client_->write_logs({line});
    client_->flush();
    return *client_->read_flow_run(run.id);
  }

  std::filesystem::path home_;
  std::unique_ptr<OrchestrationClient> client_;
};

TEST_F(RunCommands, FlowLsListsRecordedFlows) {
  make_run("etl_pipeline", State::completed());
  auto r = run_baton("flow ls");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("etl_pipeline"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("nightly"), std::string::npos) << r.out;
}

TEST_F(RunCommands, FlowRunLsFiltersByFlowNameStateAndLimit) {
  auto ok = make_run("etl_pipeline", State::completed());
  auto bad = make_run("ml_pipeline", State::failed("boom"));

  auto all = run_baton("flow-run ls");
  ASSERT_EQ(all.exit_code, 0) << all.err;
  EXPECT_NE(all.out.find(ok.id), std::string::npos);
  EXPECT_NE(all.out.find(bad.id), std::string::npos);
  EXPECT_EQ(count_lines(all.out), 3);  // header + two runs

  auto by_flow = run_baton("flow-run ls --flow-name ml_pipeline");
  EXPECT_EQ(by_flow.out.find(ok.id), std::string::npos);
  EXPECT_NE(by_flow.out.find(bad.id), std::string::npos);

  auto by_state = run_baton("flow-run ls --state completed");
  EXPECT_NE(by_state.out.find(ok.id), std::string::npos);
  EXPECT_EQ(by_state.out.find(bad.id), std::string::npos);

  auto by_name = run_baton("flow-run ls --state Failed");
  EXPECT_EQ(by_name.out.find(ok.id), std::string::npos);
  EXPECT_NE(by_name.out.find(bad.id), std::string::npos);

  auto limited = run_baton("flow-run ls --limit 1 --json");
  ASSERT_EQ(limited.exit_code, 0) << limited.err;
  auto j = nlohmann::json::parse(limited.out);
  ASSERT_EQ(j.size(), 1u);
  EXPECT_EQ(j[0]["id"], bad.id);  // newest first
}

TEST_F(RunCommands, FlowRunInspectShowsStateHistory) {
  auto run = make_run("etl_pipeline", State::failed("disk full"));
  auto r = run_baton("flow-run inspect " + run.id);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Failed: disk full"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("s3://bucket"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Running"), std::string::npos) << r.out;

  auto j = nlohmann::json::parse(run_baton("flow-run inspect --json " + run.id).out);
  EXPECT_EQ(j["id"], run.id);
  ASSERT_EQ(j["state_history"].size(), 3u);  // Pending, Running, Failed
  EXPECT_EQ(j["state_history"][0]["type"], "PENDING");
  EXPECT_EQ(j["state_history"][2]["name"], "Failed");
}

TEST_F(RunCommands, FlowRunLogsPrintsStoredLines) {
  auto run = make_run("etl_pipeline", State::completed());
  auto r = run_baton("flow-run logs " + run.id);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("INFO | baton.flow_runs - hello from etl_pipeline"), std::string::npos)
      << r.out;
}

TEST_F(RunCommands, TaskRunLsListsTheFlowRunsTasks) {
  auto run = make_run("etl_pipeline", State::completed());
  make_run("other", State::completed());
  auto r = run_baton("task-run ls --flow-run " + run.id + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j.size(), 1u);
  EXPECT_EQ(j[0]["name"], "extract-0");
  EXPECT_EQ(j[0]["flow_run_id"], run.id);
}

TEST_F(RunCommands, FlowRunDeleteRemovesTheRun) {
  auto run = make_run("etl_pipeline", State::completed());
  auto r = run_baton("flow-run delete " + run.id);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto again = run_baton("flow-run inspect " + run.id);
  EXPECT_EQ(again.exit_code, 2);
  EXPECT_FALSE(client_->read_flow_run(run.id).has_value());
}

TEST_F(RunCommands, CacheInspectAndClear) {
  auto run = make_run("etl_pipeline", State::completed());
  auto entry = [&](const std::string& key, const std::string& task_key) {
    TaskRunRecord task;
    task.id = new_id();
    task.flow_run_id = run.id;
    task.task_key = task_key;
    task.name = task_key + "-0";
    task.created = now();
    task.state = State::completed(nlohmann::json{{"rows", 7}});
    task.state.cache_key = key;
    client_->record_task_run(task);
  };
  entry("load-k1", "load");
  entry("load-k2", "load");
  entry("other-k", "other");
  client_->flush();

  auto inspect = run_baton("cache inspect load-k1");
  ASSERT_EQ(inspect.exit_code, 0) << inspect.err;
  EXPECT_NE(inspect.out.find("load-k1"), std::string::npos) << inspect.out;
  EXPECT_NE(inspect.out.find("never"), std::string::npos) << inspect.out;  // no expiration
  auto as_json = run_baton("cache inspect load-k1 --json");
  ASSERT_EQ(as_json.exit_code, 0) << as_json.err;
  EXPECT_EQ(nlohmann::json::parse(as_json.out)["type"], "COMPLETED") << as_json.out;

  auto clear = run_baton("cache clear load-k1");
  ASSERT_EQ(clear.exit_code, 0) << clear.err;
  EXPECT_EQ(clear.out, "cleared 1 cache key under key 'load-k1'\n");
  auto gone = run_baton("cache inspect load-k1");
  EXPECT_EQ(gone.exit_code, 2);
  EXPECT_NE(gone.err.find("no unexpired cache entry under key 'load-k1'"), std::string::npos)
      << gone.err;

  auto by_task = run_baton("cache clear --task load --json");
  ASSERT_EQ(by_task.exit_code, 0) << by_task.err;
  EXPECT_EQ(nlohmann::json::parse(by_task.out)["cleared"], 1);  // load-k2; load-k1 had ended
  EXPECT_FALSE(client_->find_cached_state("load-k2", now()));
  EXPECT_TRUE(client_->find_cached_state("other-k", now()));  // another task's
}

struct BadInputRow {
  std::string args;
  std::string expected_in_error;
};

TEST_F(RunCommands, BadInputIsAOneLineErrorWithExitCode2) {
  const std::string unknown = new_id();
  const BadInputRow rows[] = {
      {"flow-run inspect not-a-uuid", "is not a flow run id"},
      {"flow-run inspect " + unknown, "no flow run with id " + unknown},
      {"flow-run logs " + unknown, "no flow run with id"},
      {"flow-run delete " + unknown, "no flow run with id"},
      {"task-run ls --flow-run nope", "is not a flow run id"},
      {"flow-run ls --state SOMETIMES", "unknown state 'SOMETIMES'"},
      {"flow-run ls --limit 0", "--limit"},
      {"flow-run ls --bogus", "--bogus"},
      {"flow-run", "subcommand"},
      {"cache clear", "give either a cache key or a task key"},
      {"cache clear k --task t", "not both"},
      {"cache inspect", "key is required"},
      {"no-such-command", "no-such-command"},
  };
  for (const auto& row : rows) {
    auto r = run_baton(row.args);
    EXPECT_EQ(r.exit_code, 2) << row.args << "\n" << r.err;
    EXPECT_NE(r.err.find(row.expected_in_error), std::string::npos) << row.args << "\n" << r.err;
    EXPECT_EQ(count_lines(r.err), 1) << row.args << "\n" << r.err;
    EXPECT_TRUE(r.out.empty()) << row.args << "\n" << r.out;
  }
}

TEST(Version, PrintsTheVersion) {
  auto r = run_baton("version");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "baton 0.1.0\n");
}

}  // namespace
}  // namespace baton
