// RemoteClient's background sender against a server that goes away and comes back: the real
// `baton server start` binary, stopped with SIGTERM and started again on the same port over the
// same database. What src/client/remote_client.h promises:
// - task-run states and log lines recorded while the server is unreachable are retried with
//   backoff and arrive once it is back, nothing lost (and, since no attempt reached the server,
//   nothing twice: a batch committed but not answered would be recorded twice, docs/server.md);
// - a batch still unsent after `give_up_after` is dropped, and the next flush() throws
//   kUnavailable saying how many records were lost in all and where they were going; only once;
// - flow-run calls, which are synchronous, are retried instead (remote_retry_test.cpp), or with
//   retries turned off fail at once with kUnavailable naming the URL;
// - every batch carries an idempotency key, which the server stores with it.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "baton/error.h"
#include "client/remote_client.h"
#include "model/ids.h"
#include "server_process.h"
#include "storage/sqlite/connection.h"

namespace baton::testing {
namespace {

using namespace std::chrono_literals;

// One task run's Pending, Running and Completed snapshots, as the SDK records them.
std::vector<TaskRunRecord> task_run_lifecycle(const std::string& flow_run_id, int index) {
  TaskRunRecord t;
  t.id = new_id();
  t.flow_run_id = flow_run_id;
  t.task_key = "load-abc123";
  t.name = "load-" + std::to_string(index);
  t.dynamic_key = std::to_string(index);
  std::vector<TaskRunRecord> out;
  t.state = State::pending();
  out.push_back(t);
  t.state = State::running();
  t.run_count = 1;
  t.start_time = t.state.timestamp;
  out.push_back(t);
  t.state = State::completed(index);
  t.end_time = t.state.timestamp;
  out.push_back(t);
  return out;
}

void record_task_runs(RemoteClient& client, const std::string& flow_run_id, int first, int count) {
  for (int i = first; i < first + count; ++i) {
    for (const auto& snapshot : task_run_lifecycle(flow_run_id, i))
      client.record_task_run(snapshot);
    client.write_logs({LogRecord{
        {}, flow_run_id, {}, "baton.flow_runs", 20, "task " + std::to_string(i) + " done", now()}});
  }
}

std::vector<TaskRunRecord> task_runs_of(OrchestrationClient& client,
                                        const std::string& flow_run_id) {
  TaskRunFilter filter;
  filter.flow_run_id = flow_run_id;
  filter.sort = "NAME_ASC";
  filter.limit = 1000;
  return client.filter_task_runs(filter);
}

size_t logs_of(OrchestrationClient& client, const std::string& flow_run_id) {
  LogFilter filter;
  filter.flow_run_ids = {flow_run_id};
  filter.limit = 1000;
  return client.read_logs(filter).size();
}

FlowRunRecord new_flow_run(RemoteClient& client) {
  FlowRunRecord run;
  run.flow_name = "outage";
  return client.create_flow_run(run);
}

TEST(RemoteSender, StatesRecordedWhileTheServerIsDownArriveOnceItIsBack) {
  FreshDir home("remote-outage");
  auto server = start_below_ephemeral_ports({.home = home.path()});
  const std::string url = server->url();
  RemoteClient client(url, "", {.give_up_after = 60s});
  FlowRunRecord run = new_flow_run(client);
  record_task_runs(client, run.id, 0, 2);
  client.flush();

  ASSERT_EQ(server->stop(), 0);
  record_task_runs(client, run.id, 2, 40);
  // Long enough for the sender to have found the server gone and backed off more than once.
  std::this_thread::sleep_for(500ms);
  RemoteClient no_retries(url, "", {.retry_for = 0ms});
  try {
    new_flow_run(no_retries);
    ADD_FAILURE() << "a flow run was created with the server down";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUnavailable);
    EXPECT_NE(std::string(e.what()).find(url), std::string::npos) << e.what();
  }

  server = std::make_unique<ServerProcess>(
      ServerProcess::Options{.home = home.path(), .port = port_of(url)});
  ASSERT_EQ(server->url(), url);
  client.flush();  // throws if anything was given up

  // Read back through a client of its own, so nothing can come from the first one's queue.
  RemoteClient reader(url, "");
  auto task_runs = task_runs_of(reader, run.id);
  ASSERT_EQ(task_runs.size(), 42u);
  for (const auto& t : task_runs) {
    EXPECT_EQ(t.state.type, StateType::kCompleted) << t.name;
    EXPECT_EQ(reader.read_states(t.id).size(), 3u) << t.name;
  }
  EXPECT_EQ(logs_of(reader, run.id), 42u);

  // Each batch went with an idempotency key, which the server stored with it: what makes the
  // retry of a batch committed but not answered a repeat rather than a copy (the server's side is
  // ServerHttp.ABatchRepeatedWithItsIdempotencyKeyIsRecordedOnce). At least the two batches
  // before the outage and one of task runs and one of logs after it.
  sqlite::Connection db(home.path() + "/baton.db");
  auto keys = db.prepare("SELECT count(*) FROM request_key");
  ASSERT_TRUE(keys->step());
  EXPECT_GE(keys->int64(0), 4);
}

TEST(RemoteSender, GivingUpReportsTheLostRecordsOnceAndLosesNothingElse) {
  FreshDir home("remote-give-up");
  auto server = start_below_ephemeral_ports({.home = home.path()});
  const std::string url = server->url();
  RemoteClient client(url, "", {.give_up_after = 400ms});
  FlowRunRecord run = new_flow_run(client);
  ASSERT_EQ(server->stop(), 0);

  record_task_runs(client, run.id, 0, 3);
  try {
    client.flush();
    ADD_FAILURE() << "flush() returned although the server was down";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUnavailable);
    const std::string what = e.what();
    EXPECT_NE(what.find("gave up sending"), std::string::npos) << what;
    EXPECT_NE(what.find("they are lost"), std::string::npos) << what;
    EXPECT_NE(what.find(url), std::string::npos) << what;
    // Task runs and log lines go in separate requests, so at least two batches were dropped:
    // the message is the first one's, with the total (9 snapshots and 3 log lines).
    EXPECT_NE(what.find("In all 12 record(s) were lost"), std::string::npos) << what;
  }
  EXPECT_NO_THROW(client.flush());  // reported once

  server = std::make_unique<ServerProcess>(
      ServerProcess::Options{.home = home.path(), .port = port_of(url)});
  record_task_runs(client, run.id, 3, 1);
  client.flush();
  auto task_runs = task_runs_of(client, run.id);
  ASSERT_EQ(task_runs.size(), 1u);  // what was given up stays lost; what came after arrives
  EXPECT_EQ(task_runs[0].name, "load-3");
  EXPECT_EQ(task_runs[0].state.type, StateType::kCompleted);
  EXPECT_EQ(logs_of(client, run.id), 1u);
}

}  // namespace
}  // namespace baton::testing
