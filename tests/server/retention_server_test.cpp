// Retention in the real server binary (`baton server start` with its retention service) and in
// `baton server vacuum`, over the real SQLite file: old events and, when asked, old final flow
// runs are deleted with everything they own; recent and unfinished ones stay; bad settings exit
// 2 naming the option or variable. Rows are counted in the file itself. Every wait is bounded and
// awaits a condition (a pass is seen by what it deleted).
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <nlohmann/json.hpp>
#include <thread>

#include "baton/state.h"
#include "client/http_client.h"
#include "eventually.h"
#include "model/ids.h"
#include "server_process.h"
#include "storage/sqlite/connection.h"

namespace baton {
namespace {
using nlohmann::json;
using namespace std::chrono_literals;
using testing::Answer;
using testing::ServerProcess;

constexpr auto kBound = 60s;

template <class F>
bool eventually(F done) {
  return baton::testing::eventually(done, kBound, 20ms);
}

int64_t count(const std::string& home, const std::string& sql) {
  sqlite::Connection db(home + "/baton.db");
  auto q = db.prepare(sql);
  EXPECT_TRUE(q->step()) << sql;
  return q->int64(0);
}

// Rows that refer to a flow run that does not exist, and subflow runs whose parent task run is
// gone.
int64_t orphans(const std::string& home) {
  int64_t n = 0;
  for (const char* table : {"flow_run_state", "task_run", "log", "artifact"})
    n += count(home, std::string("SELECT count(*) FROM ") + table +
                         " x WHERE x.flow_run_id IS NOT NULL AND NOT EXISTS "
                         "(SELECT 1 FROM flow_run f WHERE f.id = x.flow_run_id)");
  return n + count(home,
                   "SELECT count(*) FROM flow_run f WHERE f.parent_task_run_id IS NOT NULL AND "
                   "NOT EXISTS (SELECT 1 FROM task_run t WHERE t.id = f.parent_task_run_id)");
}

std::string ago(std::chrono::seconds d) { return format_time(now() - d); }
constexpr std::chrono::seconds kDay{86400};

class ServerRetention : public ::testing::Test {
 protected:
  Answer call(HttpClient& http, const std::string& method, const std::string& target,
              const json& body = nullptr) {
    return testing::call(http, method, target, body);
  }

  // `n` events named `name` that occurred at `occurred`.
  void post_events(HttpClient& http, int n, const std::string& name, const std::string& occurred) {
    json events = json::array();
    for (int i = 0; i < n; ++i)
      events.push_back({{"id", new_id()},
                        {"event", name},
                        {"occurred", occurred},
                        {"resource", {{"baton.resource.id", "test." + std::to_string(i)}}}});
    ASSERT_EQ(call(http, "POST", "/events", events).status, 204);
  }

  // A flow run whose states happened `age` ago (its first at that time, each later one a second
  // after), ending in `final_type` (RUNNING: not final); with two task runs (each with a log
  // line), a log line of its own and an artifact. `parent_task` makes it a subflow. Returns its
  // id and its task runs' ids.
  struct Run {
    std::string id;
    std::vector<std::string> tasks;
  };
  Run add_run(HttpClient& http, std::chrono::seconds age, const std::string& final_type,
              const std::string& parent_task = "") {
    auto at = [&](int s) { return format_time(now() - age + std::chrono::seconds(s)); };
    json body{{"flow_name", "etl"}, {"state", {{"type", "PENDING"}, {"timestamp", at(0)}}}};
    if (!parent_task.empty()) body["parent_task_run_id"] = parent_task;
    auto created = call(http, "POST", "/flow_runs/", body);
    EXPECT_EQ(created.status, 201) << created.body.dump();
    Run run{created.body.value("id", ""), {}};
    auto set = [&](const std::string& type, int s) {
      auto r = call(http, "POST", "/flow_runs/" + run.id + "/set_state",
                    {{"state", {{"type", type}, {"timestamp", at(s)}}}});
      EXPECT_EQ(r.body["status"], "ACCEPT") << r.body.dump();
    };
    set("RUNNING", 1);
    json tasks = json::array(), logs = json::array();
    for (int i = 0; i < 2; ++i) {
      run.tasks.push_back(new_id());
      tasks.push_back({{"id", run.tasks.back()},
                       {"flow_run_id", run.id},
                       {"task_key", "extract"},
                       {"name", "extract-" + std::to_string(i)},
                       {"state", {{"type", "COMPLETED"}, {"timestamp", at(2)}}}});
      logs.push_back({{"flow_run_id", run.id},
                      {"task_run_id", run.tasks.back()},
                      {"level", 20},
                      {"message", "task line"},
                      {"timestamp", at(2)}});
    }
    logs.push_back(
        {{"flow_run_id", run.id}, {"level", 20}, {"message", "x"}, {"timestamp", at(2)}});
    EXPECT_EQ(call(http, "POST", "/task_runs/batch", {{"task_runs", tasks}}).status, 201);
    EXPECT_EQ(call(http, "POST", "/logs/", logs).status, 201);
    EXPECT_EQ(call(http, "POST", "/artifacts/",
                   {{"type", "markdown"}, {"data", "# report"}, {"flow_run_id", run.id}})
                  .status,
              201);
    if (final_type != "RUNNING") set(final_type, 3);
    return run;
  }
  // A run whose subflow ran under its first task run, both ending `final_type` `age` ago (the
  // child a little before its parent).
  std::pair<Run, Run> add_parent_and_child(HttpClient& http, std::chrono::seconds age) {
    // The parent is created running, the child under its task run, then both complete.
    auto parent = add_run(http, age, "RUNNING");
    auto child = add_run(http, age - 10s, "COMPLETED", parent.tasks.front());
    auto r =
        call(http, "POST", "/flow_runs/" + parent.id + "/set_state",
             {{"state", {{"type", "COMPLETED"}, {"timestamp", format_time(now() - age + 30s)}}}});
    EXPECT_EQ(r.body["status"], "ACCEPT") << r.body.dump();
    return {parent, child};
  }

  // Rows of run `id` in every table that holds rows of runs.
  int64_t owned(const std::string& home, const std::string& id) {
    int64_t n = 0;
    for (const char* table : {"flow_run_state", "task_run", "log", "artifact"})
      n += count(
          home, std::string("SELECT count(*) FROM ") + table + " WHERE flow_run_id = '" + id + "'");
    return n;
  }
};

TEST_F(ServerRetention, TheServiceDeletesEventsOlderThanTheRetentionAndKeepsRecentOnes) {
  ServerProcess server({.args = {"--retention-interval", "1s"}});  // events: the default, 7d
  HttpClient http(server.url(), "");
  post_events(http, 300, "test.old", ago(30 * kDay));
  post_events(http, 10, "test.recent", ago(1h));
  post_events(http, 10, "test.inside", ago(6 * kDay));
  auto run = call(http, "POST", "/flow_runs/", {{"flow_name", "etl"}});
  ASSERT_EQ(run.status, 201);
  ASSERT_TRUE(eventually([&] {
    return count(server.home(), "SELECT count(*) FROM event WHERE event = 'test.old'") == 0;
  }));
  EXPECT_EQ(count(server.home(), "SELECT count(*) FROM event WHERE event = 'test.recent'"), 10);
  EXPECT_EQ(count(server.home(), "SELECT count(*) FROM event WHERE event = 'test.inside'"), 10);
  // The event filter API serves what is left: nothing older than the retention.
  auto found = call(http, "POST", "/events/filter",
                    {{"filter", {{"event", {{"prefix", {"test."}}}}}}, {"limit", 1000}});
  ASSERT_EQ(found.status, 200);
  EXPECT_EQ(found.body["events"].size(), 20u);
  auto states =
      call(http, "POST", "/events/filter",
           {{"filter",
             {{"resource", {{"id", {"baton.flow-run." + run.body["id"].get<std::string>()}}}}}}});
  EXPECT_EQ(states.body["events"].size(), 1u) << "the run's own (recent) event stays";
  EXPECT_EQ(server.stop(), 0);
}

// Retention set through the environment: events kept forever ("0"), runs 30 days. The old run
// going shows that a pass ran; the old events are all still there after it.
TEST_F(ServerRetention, WithEventRetentionOffAPassKeepsEveryEvent) {
  ServerProcess server({.env = {{"BATON_SERVER_EVENTS_RETENTION", "0"},
                                {"BATON_SERVER_RUNS_RETENTION", "30d"},
                                {"BATON_SERVER_RETENTION_INTERVAL", "1s"}}});
  HttpClient http(server.url(), "");
  post_events(http, 300, "test.old", ago(365 * kDay));
  auto old = add_run(http, 100 * kDay, "COMPLETED");
  ASSERT_TRUE(eventually([&] { return call(http, "GET", "/flow_runs/" + old.id).status == 404; }));
  EXPECT_EQ(count(server.home(), "SELECT count(*) FROM event WHERE event = 'test.old'"), 300);
  EXPECT_EQ(server.stop(), 0);
}

TEST_F(ServerRetention, OldFinalRunsGoWithEverythingTheyOwnAndTheRestStays) {
  ServerProcess server({.args = {"--runs-retention", "30d", "--events-retention", "off",
                                 "--retention-interval", "1s"}});
  HttpClient http(server.url(), "");
  const std::string& home = server.home();
  // Kept: an old run still running, a recent completed one, an old failed subflow of a recent
  // parent (a subflow goes only with its parent).
  auto running = add_run(http, 100 * kDay, "RUNNING");
  auto recent = add_run(http, 1 * kDay, "COMPLETED");
  auto recent_parent = add_run(http, 1 * kDay, "RUNNING");
  auto old_child_of_recent = add_run(http, 100 * kDay, "FAILED", recent_parent.tasks.front());
  ASSERT_EQ(call(http, "POST", "/flow_runs/" + recent_parent.id + "/set_state",
                 {{"state", {{"type", "COMPLETED"}}}})
                .body["status"],
            "ACCEPT");
  std::map<std::string, int64_t> kept;
  for (const auto* run : {&running, &recent, &recent_parent, &old_child_of_recent})
    kept[run->id] = owned(home, run->id);
  // Deleted: old completed, failed, cancelled and crashed runs, and an old parent with its child.
  std::vector<std::string> gone;
  for (const char* type : {"COMPLETED", "FAILED", "CANCELLED", "CRASHED"})
    gone.push_back(add_run(http, 100 * kDay, type).id);
  auto [parent, child] = add_parent_and_child(http, 60 * kDay);
  gone.push_back(parent.id);
  gone.push_back(child.id);

  ASSERT_TRUE(eventually([&] {
    for (const auto& id : gone)
      if (call(http, "GET", "/flow_runs/" + id).status != 404) return false;
    return true;
  }));
  for (const auto& [id, rows] : kept) {
    EXPECT_EQ(call(http, "GET", "/flow_runs/" + id).status, 200) << id;
    EXPECT_EQ(owned(home, id), rows) << id;
  }
  for (const auto& id : gone) {
    EXPECT_EQ(owned(home, id), 0) << id;
    EXPECT_EQ(call(http, "POST", "/task_runs/filter", {{"flow_runs", {{"id", {{"any_", {id}}}}}}})
                  .body.size(),
              0u);
  }
  EXPECT_EQ(count(home, "SELECT count(*) FROM flow_run"), 4);
  EXPECT_EQ(count(home, "SELECT count(*) FROM task_run"), 8);
  EXPECT_EQ(count(home, "SELECT count(*) FROM log"), 12);
  EXPECT_EQ(count(home, "SELECT count(*) FROM artifact"), 4);
  EXPECT_EQ(orphans(home), 0);
  EXPECT_EQ(server.stop(), 0);
}

TEST_F(ServerRetention, BadSettingsExit2NamingTheOptionOrVariable) {
  struct Row {
    std::vector<std::string> args;
    std::map<std::string, std::string> env;
    std::string named;
  };
  const std::vector<Row> rows = {
      {{"--events-retention", "7x"}, {}, "--events-retention"},
      {{"--events-retention", "-1d"}, {}, "--events-retention"},
      {{"--runs-retention", "1.5d"}, {}, "--runs-retention"},
      {{"--runs-retention", "forever"}, {}, "--runs-retention"},
      {{"--retention-interval", "0"}, {}, "--retention-interval"},
      {{"--retention-interval", "off"}, {}, "--retention-interval"},
      {{}, {{"BATON_SERVER_EVENTS_RETENTION", "a week"}}, "BATON_SERVER_EVENTS_RETENTION"},
      {{}, {{"BATON_SERVER_RUNS_RETENTION", "90days"}}, "BATON_SERVER_RUNS_RETENTION"},
      {{}, {{"BATON_SERVER_RETENTION_INTERVAL", "0s"}}, "BATON_SERVER_RETENTION_INTERVAL"},
      {{"vacuum", "--events-older-than", "old"}, {}, "--events-older-than"},
      {{"vacuum", "--runs-older-than", "12y"}, {}, "--runs-older-than"},
  };
  testing::FreshDir home("bad-retention");
  for (const auto& row : rows) {
    std::vector<std::string> args{"server"};
    bool vacuum = !row.args.empty() && row.args.front() == "vacuum";
    if (!vacuum) args.insert(args.end(), {"start", "--host", "127.0.0.1", "--port", "0"});
    args.insert(args.end(), row.args.begin(), row.args.end());
    auto env = row.env;
    env["BATON_HOME"] = home.path();
    // A server that started despite the setting would run until stopped: bounded here.
    testing::BatonChild child(args, env);
    int status = child.wait_exit(20000);
    EXPECT_EQ(status, 2) << row.named << ": " << child.out() << child.err();
    EXPECT_NE(child.err().find(row.named), std::string::npos) << child.err();
    EXPECT_EQ(child.out().find("listening"), std::string::npos) << child.out();
  }
}

TEST_F(ServerRetention, StopsCleanlyAndPromptlyOnSigtermWithTheServiceRunning) {
  ServerProcess server({.args = {"--retention-interval", "1s"}});
  HttpClient http(server.url(), "");
  for (int i = 0; i < 4; ++i) post_events(http, 5000, "test.old", ago(30 * kDay));
  ASSERT_TRUE(eventually([&] {
    return count(server.home(), "SELECT count(*) FROM event WHERE event = 'test.old'") < 20000;
  }));
  // Bounded: a stop that waited for the next interval, or for the pass to delete everything at
  // its own pace, still ends well within it; a stop that hung does not.
  auto stopped = std::async(std::launch::async, [&] { return server.stop(); });
  ASSERT_EQ(stopped.wait_for(30s), std::future_status::ready) << "the server did not stop";
  EXPECT_EQ(stopped.get(), 0);
  EXPECT_NE(server.output().find("Baton server stopped"), std::string::npos) << server.output();
}

TEST_F(ServerRetention, VacuumDeletesOnDemandAndSaysWhat) {
  testing::FreshDir dir("vacuum");
  const std::string home = dir.path();
  std::string old_id, recent_id;
  {
    ServerProcess server({.args = {"--events-retention", "off"}, .home = home});
    HttpClient http(server.url(), "");
    post_events(http, 100, "test.old", ago(30 * kDay));
    post_events(http, 5, "test.recent", ago(1h));
    old_id = add_run(http, 100 * kDay, "COMPLETED").id;
    recent_id = add_run(http, 1 * kDay, "COMPLETED").id;
    ASSERT_EQ(server.stop(), 0);
  }
  const int64_t old_events =
      count(home, "SELECT count(*) FROM event WHERE occurred < " +
                      std::to_string((now() - 7 * kDay).time_since_epoch().count()));
  ASSERT_GT(old_events, 100);  // the posted ones and the old run's state events
  const int64_t old_run_rows = owned(home, old_id) + 1;
  std::map<std::string, std::string> env{{"BATON_HOME", home}};

  auto first = testing::run_baton({"server", "vacuum", "--runs-older-than", "30d", "--json"}, env);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  json report = json::parse(first.out);
  EXPECT_EQ(report["events"], old_events);
  EXPECT_EQ(report["flow_runs"], 1);
  EXPECT_EQ(report["run_rows"], old_run_rows);
  EXPECT_EQ(report["events_retention"], "7d");
  EXPECT_EQ(report["runs_retention"], "30d");
  EXPECT_EQ(count(home, "SELECT count(*) FROM flow_run WHERE id = '" + old_id + "'"), 0);
  EXPECT_EQ(count(home, "SELECT count(*) FROM flow_run WHERE id = '" + recent_id + "'"), 1);
  EXPECT_EQ(count(home, "SELECT count(*) FROM event WHERE event = 'test.recent'"), 5);
  EXPECT_EQ(orphans(home), 0);

  auto again = testing::run_baton({"server", "vacuum", "--runs-older-than", "30d"}, env);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(again.out.rfind("Deleted 0 events older than 7d and 0 flow runs (0 rows) that ended "
                            "more than 30d ago in ",
                            0),
            0u)
      << again.out;
  // Both off: nothing goes.
  auto off = testing::run_baton(
      {"server", "vacuum", "--events-older-than", "off", "--runs-older-than", "0", "--json"}, env);
  ASSERT_EQ(off.exit_code, 0) << off.err;
  EXPECT_EQ(json::parse(off.out)["events"], 0);
  EXPECT_TRUE(json::parse(off.out)["events_retention"].is_null());
  EXPECT_EQ(count(home, "SELECT count(*) FROM event WHERE event = 'test.recent'"), 5);
}

}  // namespace
}  // namespace baton
