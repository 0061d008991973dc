// The real server binary: task runs orchestrated like flow runs (set_state through the task
// policy, delete), counts and pagination of runs, and a flow read by id. Happy paths and the bad
// input of each route (404, 422 naming the field, the orchestration outcome).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "client/http_client.h"
#include "server_process.h"

namespace baton {
namespace {
using nlohmann::json;
using testing::Answer;
using testing::call;
using testing::ServerProcess;

class ServerRunsApi : public ::testing::Test {
 protected:
  ServerProcess server_;
  HttpClient http_{server_.url(), ""};

  std::string flow_run(const std::string& flow = "etl", json extra = json::object()) {
    extra["flow_name"] = flow;
    auto a = call(http_, "POST", "/flow_runs/", extra);
    EXPECT_EQ(a.status, 201) << a.body.dump();
    return a.body["id"];
  }
  // A Pending task run recorded the way the SDK's sender records one.
  std::string task_run(const std::string& flow_run_id, const std::string& id,
                       json extra = json::object()) {
    json run{{"id", id},
             {"flow_run_id", flow_run_id},
             {"task_key", "extract"},
             {"name", "extract-" + id.substr(id.size() - 2)},
             {"state", {{"type", "PENDING"}}}};
    run.update(extra);
    auto a = call(http_, "POST", "/task_runs/", run);
    EXPECT_EQ(a.status, 201) << a.body.dump();
    return id;
  }
  Answer set_task_state(const std::string& id, json state, bool force = false) {
    return call(http_, "POST", "/task_runs/" + id + "/set_state",
                {{"state", std::move(state)}, {"force", force}});
  }
  std::vector<std::string> history(const std::string& task_run_id) {
    std::vector<std::string> names;
    for (const auto& s : call(http_, "GET", "/task_run_states/?task_run_id=" + task_run_id).body)
      names.push_back(s["name"]);
    return names;
  }
  std::vector<std::string> task_events(const std::string& task_run_id) {
    auto found = call(http_, "POST", "/events/filter",
                      {{"filter", {{"resource", {{"id", {"baton.task-run." + task_run_id}}}}}}});
    std::vector<std::string> names;
    for (const auto& e : found.body["events"]) names.push_back(e["event"]);
    return names;
  }
};

TEST_F(ServerRunsApi, TaskRunSetStateGoesThroughTheTaskPolicy) {
  std::string id = task_run(flow_run(), "0190a6e2-7c3f-7b41-8d2e-000000000001");

  auto running = set_task_state(id, {{"type", "RUNNING"}});
  EXPECT_EQ(running.status, 201) << running.body.dump();
  EXPECT_EQ(running.body["status"], "ACCEPT");
  EXPECT_EQ(running.body["state"]["type"], "RUNNING");
  EXPECT_EQ(running.body["details"]["type"], "accept_details");

  auto done = set_task_state(id, {{"type", "COMPLETED"}, {"data", 7}});
  EXPECT_EQ(done.status, 201);
  EXPECT_EQ(done.body["status"], "ACCEPT");

  // HandleTaskTerminalStateTransitions: a completed task run does not run again.
  auto again = set_task_state(id, {{"type", "RUNNING"}});
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(again.body["status"], "REJECT");
  EXPECT_EQ(again.body["state"]["type"], "COMPLETED");
  EXPECT_EQ(again.body["details"]["type"], "reject_details");
  EXPECT_TRUE(again.body["details"]["reason"].is_string());

  auto read = call(http_, "GET", "/task_runs/" + id);
  EXPECT_EQ(read.body["state_type"], "COMPLETED");
  EXPECT_EQ(read.body["run_count"], 1);
  EXPECT_FALSE(read.body["start_time"].is_null());
  EXPECT_FALSE(read.body["end_time"].is_null());
  EXPECT_EQ(history(id), (std::vector<std::string>{"Pending", "Running", "Completed"}));
  // Each recorded transition is an event; the refused one is not.
  EXPECT_EQ(task_events(id),
            (std::vector<std::string>{"baton.task-run.Pending", "baton.task-run.Running",
                                      "baton.task-run.Completed"}));

  // force skips the rules (tooling).
  auto forced = set_task_state(id, {{"type", "CRASHED"}}, true);
  EXPECT_EQ(forced.body["status"], "ACCEPT");
  EXPECT_EQ(call(http_, "GET", "/task_runs/" + id).body["state_type"], "CRASHED");
}

TEST_F(ServerRunsApi, TaskRunFailureWithRetriesLeftBecomesAwaitingRetry) {
  std::string id = task_run(flow_run(), "0190a6e2-7c3f-7b41-8d2e-000000000002",
                            {{"empirical_policy", {{"retries", 1}, {"retry_delay", 0}}}});
  ASSERT_EQ(set_task_state(id, {{"type", "RUNNING"}}).body["status"], "ACCEPT");
  auto failed = set_task_state(id, {{"type", "FAILED"}, {"message", "boom"}});
  EXPECT_EQ(failed.status, 200);
  EXPECT_EQ(failed.body["status"], "REJECT");
  EXPECT_EQ(failed.body["state"]["name"], "AwaitingRetry");
  // The rule's substitute is recorded, and is an event like any recorded state.
  auto rerun = set_task_state(id, {{"type", "RUNNING"}});
  EXPECT_EQ(rerun.body["status"], "ACCEPT");
  EXPECT_EQ(rerun.body["state"]["name"], "Retrying");
  EXPECT_EQ(history(id),
            (std::vector<std::string>{"Pending", "Running", "AwaitingRetry", "Retrying"}));
  auto events = task_events(id);
  EXPECT_NE(std::find(events.begin(), events.end(), "baton.task-run.AwaitingRetry"), events.end());
  EXPECT_EQ(call(http_, "GET", "/task_runs/" + id).body["run_count"], 2);
}

TEST_F(ServerRunsApi, AFlowRunsRetrySubstituteIsAnEventToo) {
  std::string id = flow_run("etl", {{"empirical_policy", {{"retries", 1}, {"retry_delay", 0}}}});
  auto set = [&](const char* type) {
    return call(http_, "POST", "/flow_runs/" + id + "/set_state",
                {{"state", {{"type", type}, {"message", "boom"}}}});
  };
  ASSERT_EQ(set("RUNNING").body["status"], "ACCEPT");
  auto failed = set("FAILED");
  EXPECT_EQ(failed.body["status"], "REJECT");
  EXPECT_EQ(failed.body["state"]["name"], "AwaitingRetry");
  auto found = call(http_, "POST", "/events/filter",
                    {{"filter", {{"resource", {{"id", {"baton.flow-run." + id}}}}}}});
  std::vector<std::string> names;
  for (const auto& e : found.body["events"]) names.push_back(e["event"]);
  EXPECT_EQ(names, (std::vector<std::string>{"baton.flow-run.Pending", "baton.flow-run.Running",
                                             "baton.flow-run.AwaitingRetry"}));
}

TEST_F(ServerRunsApi, TaskRunDeleteTakesItsHistoryAndLogs) {
  std::string fr = flow_run();
  std::string id = task_run(fr, "0190a6e2-7c3f-7b41-8d2e-000000000003");
  std::string kept = task_run(fr, "0190a6e2-7c3f-7b41-8d2e-000000000004");
  ASSERT_EQ(
      call(http_, "POST", "/logs/",
           json::array(
               {{{"flow_run_id", fr}, {"task_run_id", id}, {"level", 20}, {"message", "gone"}},
                {{"flow_run_id", fr}, {"task_run_id", kept}, {"level", 20}, {"message", "kept"}}}))
          .status,
      201);
  EXPECT_EQ(call(http_, "DELETE", "/task_runs/" + id).status, 204);
  EXPECT_EQ(call(http_, "GET", "/task_runs/" + id).status, 404);
  EXPECT_EQ(call(http_, "GET", "/task_run_states/?task_run_id=" + id).status, 404);
  EXPECT_EQ(call(http_, "DELETE", "/task_runs/" + id).status, 404);
  auto logs = call(http_, "POST", "/logs/filter", {{"logs", {{"flow_run_id", {{"any_", {fr}}}}}}});
  ASSERT_EQ(logs.body.size(), 1u);
  EXPECT_EQ(logs.body[0]["message"], "kept");
  EXPECT_EQ(call(http_, "GET", "/task_runs/" + kept).status, 200);
}

TEST_F(ServerRunsApi, CountsTakeTheFilterBodies) {
  std::string a = flow_run("etl", {{"tags", {"nightly"}}});
  flow_run("etl");
  flow_run("other");
  call(http_, "POST", "/flow_runs/" + a + "/set_state", {{"state", {{"type", "RUNNING"}}}});
  struct Case {
    json filter;
    int expected;
  };
  for (const auto& c : std::vector<Case>{
           {json::object(), 3},
           {{{"flows", {{"name", {{"any_", {"etl"}}}}}}}, 2},
           {{{"flow_runs", {{"state", {{"type", {{"any_", {"RUNNING"}}}}}}}}}, 1},
           {{{"flow_runs", {{"tags", {{"all_", {"nightly"}}}}}}}, 1},
           {{{"flows", {{"name", {{"any_", {"none"}}}}}}}, 0},
           {{{"limit", 1}, {"offset", 2}}, 3},  // paging does not change a count
       }) {
    auto n = call(http_, "POST", "/flow_runs/count", c.filter);
    EXPECT_EQ(n.status, 200) << c.filter.dump();
    EXPECT_EQ(n.body, c.expected) << c.filter.dump();
  }

  task_run(a, "0190a6e2-7c3f-7b41-8d2e-000000000011", {{"tags", {"db"}}});
  task_run(a, "0190a6e2-7c3f-7b41-8d2e-000000000012");
  std::string other = flow_run("etl");
  task_run(other, "0190a6e2-7c3f-7b41-8d2e-000000000013");
  set_task_state("0190a6e2-7c3f-7b41-8d2e-000000000012", {{"type", "RUNNING"}});
  for (const auto& c : std::vector<Case>{
           {json::object(), 3},
           {{{"flow_runs", {{"id", {{"any_", {a}}}}}}}, 2},
           {{{"task_runs", {{"state", {{"type", {{"any_", {"RUNNING"}}}}}}}}}, 1},
           {{{"task_runs", {{"tags", {{"all_", {"db"}}}}}}}, 1},
       }) {
    auto n = call(http_, "POST", "/task_runs/count", c.filter);
    EXPECT_EQ(n.status, 200) << c.filter.dump();
    EXPECT_EQ(n.body, c.expected) << c.filter.dump();
  }
}

TEST_F(ServerRunsApi, PaginateAnswersOnePageWithTheTotal) {
  for (int i = 0; i < 5; ++i) flow_run("etl", {{"name", "run-" + std::to_string(i)}});
  flow_run("other");
  json filter{{"flows", {{"name", {{"any_", {"etl"}}}}}}, {"limit", 2}, {"sort", "NAME_ASC"}};
  filter["page"] = 3;
  auto last = call(http_, "POST", "/flow_runs/paginate", filter);
  ASSERT_EQ(last.status, 200) << last.body.dump();
  EXPECT_EQ(last.body["count"], 5);
  EXPECT_EQ(last.body["pages"], 3);
  EXPECT_EQ(last.body["page"], 3);
  EXPECT_EQ(last.body["limit"], 2);
  ASSERT_EQ(last.body["results"].size(), 1u);
  EXPECT_EQ(last.body["results"][0]["name"], "run-4");
  filter["page"] = 1;
  auto first = call(http_, "POST", "/flow_runs/paginate", filter);
  ASSERT_EQ(first.body["results"].size(), 2u);
  EXPECT_EQ(first.body["results"][0]["name"], "run-0");
}

TEST_F(ServerRunsApi, FlowIsReadById) {
  auto created = call(http_, "POST", "/flows/", {{"name", "etl"}, {"tags", {"a"}}});
  ASSERT_EQ(created.status, 201);
  call(http_, "POST", "/flows/", {{"name", "other"}});
  auto read = call(http_, "GET", "/flows/" + created.body["id"].get<std::string>());
  ASSERT_EQ(read.status, 200);
  EXPECT_EQ(read.body["name"], "etl");
  EXPECT_EQ(read.body["tags"], json({"a"}));
  for (const auto& [filter, expected] : std::vector<std::pair<json, int>>{
           {json::object(), 2},
           {{{"flows", {{"name", {{"any_", {"etl", "etl", "nope"}}}}}}}, 1},
           {{{"flows", {{"name", {{"any_", {"etl", "other"}}}}}}}, 2}}) {
    auto n = call(http_, "POST", "/flows/count", filter);
    EXPECT_EQ(n.status, 200);
    EXPECT_EQ(n.body, expected) << filter.dump();
  }
  // A flow run created with flow_id alone takes the flow's name from the same lookup.
  auto run = call(http_, "POST", "/flow_runs/", {{"flow_id", created.body["id"]}});
  EXPECT_EQ(run.body["flow_name"], "etl");
}

TEST_F(ServerRunsApi, FlowRunLogsDownloadAsCsv) {
  std::string fr = flow_run();
  std::string other = flow_run();
  json lines = json::array({{{"flow_run_id", fr},
                             {"level", 20},
                             {"message", "plain"},
                             {"timestamp", "2024-03-31T08:00:00Z"}},
                            {{"flow_run_id", fr},
                             {"task_run_id", "0190a6e2-7c3f-7b41-8d2e-000000000031"},
                             {"level", 40},
                             {"name", "task"},
                             {"message", "a \"quoted\", comma\nand a new line"},
                             {"timestamp", "2024-03-31T08:00:01Z"}},
                            {{"flow_run_id", other}, {"level", 20}, {"message", "not mine"}}});
  ASSERT_EQ(call(http_, "POST", "/logs/", lines).status, 201);
  auto r = http_.request("GET", "/flow_runs/" + fr + "/logs/download", "");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body,
            "timestamp,level,flow_run_id,task_run_id,name,message\r\n"
            "2024-03-31T08:00:00Z,20," +
                fr +
                ",,,plain\r\n"
                "2024-03-31T08:00:01Z,40," +
                fr +
                ",0190a6e2-7c3f-7b41-8d2e-000000000031,task,"
                "\"a \"\"quoted\"\", comma\nand a new line\"\r\n");
  auto missing =
      call(http_, "GET", "/flow_runs/0190a6e2-7c3f-7b41-8d2e-5f3a9c1b2d4e/logs/download");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.body["error"]["code"], "not_found");
}

TEST_F(ServerRunsApi, OpenApiDescribesTheNewRoutes) {
  auto doc = call(http_, "GET", "/openapi.json");
  ASSERT_EQ(doc.status, 200);
  for (const auto& [path, method] : std::vector<std::pair<std::string, std::string>>{
           {"/api/task_runs/{id}/set_state", "post"},
           {"/api/task_runs/{id}", "delete"},
           {"/api/task_runs/count", "post"},
           {"/api/flow_runs/count", "post"},
           {"/api/flow_runs/paginate", "post"},
           {"/api/flows/{id}", "get"},
           {"/api/flows/count", "post"},
           {"/api/flow_runs/{id}/logs/download", "get"}})
    EXPECT_TRUE(doc.body["paths"].contains(path) && doc.body["paths"][path].contains(method))
        << method << " " << path;
}

struct BadInput {
  const char* name;
  const char* method;
  const char* target;  // "{task}" is replaced by an existing task run's id
  const char* body;
  int status;
  json field;  // the field the error names; null = none expected
};

// gtest names a case by its name instead of printing its bytes.
void PrintTo(const BadInput& c, std::ostream* os) { *os << c.name; }

class ServerRunsApiBadInput : public ServerRunsApi,
                              public ::testing::WithParamInterface<BadInput> {};

TEST_P(ServerRunsApiBadInput, AnswersWithTheOneErrorShape) {
  const auto& c = GetParam();
  std::string task = task_run(flow_run(), "0190a6e2-7c3f-7b41-8d2e-000000000021");
  std::string target = c.target;
  if (auto at = target.find("{task}"); at != std::string::npos) target.replace(at, 6, task);
  auto r = http_.request(c.method, target, c.body);
  json body = json::parse(r.body, nullptr, false);
  EXPECT_EQ(r.status, c.status) << r.body;
  ASSERT_TRUE(body.is_object() && body.contains("error")) << r.body;
  EXPECT_TRUE(body["error"]["message"].is_string());
  if (!c.field.is_null()) {
    EXPECT_EQ(body["error"]["field"], c.field) << r.body;
  }
  // Nothing half-written: the existing task run is untouched.
  EXPECT_EQ(history(task), (std::vector<std::string>{"Pending"}));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ServerRunsApiBadInput,
    ::testing::Values(
        BadInput{"set_state_unknown_run", "POST",
                 "/task_runs/0190a6e2-7c3f-7b41-8d2e-5f3a9c1b2d4e/set_state",
                 R"({"state": {"type": "RUNNING"}})", 404, nullptr},
        BadInput{"set_state_bad_id", "POST", "/task_runs/42/set_state",
                 R"({"state": {"type": "RUNNING"}})", 422, "id"},
        BadInput{"set_state_missing_state", "POST", "/task_runs/{task}/set_state", "{}", 422,
                 "state"},
        BadInput{"set_state_bad_type", "POST", "/task_runs/{task}/set_state",
                 R"({"state": {"type": "NOPE"}})", 422, "state.type"},
        BadInput{"set_state_bad_force", "POST", "/task_runs/{task}/set_state",
                 R"({"state": {"type": "RUNNING"}, "force": "yes"})", 422, "force"},
        BadInput{"set_state_malformed", "POST", "/task_runs/{task}/set_state", "{\"state\": ", 400,
                 nullptr},
        BadInput{"delete_unknown", "DELETE", "/task_runs/0190a6e2-7c3f-7b41-8d2e-5f3a9c1b2d4e", "",
                 404, nullptr},
        BadInput{"delete_bad_id", "DELETE", "/task_runs/not-an-id", "", 422, "id"},
        BadInput{"flow_count_bad_state", "POST", "/flow_runs/count",
                 R"({"flow_runs": {"state": {"type": {"any_": ["LATE"]}}}})", 422,
                 "flow_runs.state.type.any_.0"},
        BadInput{"flow_count_bad_time", "POST", "/flow_runs/count",
                 R"({"flow_runs": {"start_time": {"after_": "yesterday"}}})", 422,
                 "flow_runs.start_time.after_"},
        BadInput{"task_count_two_flow_runs", "POST", "/task_runs/count",
                 R"({"flow_runs": {"id": {"any_": ["0190a6e2-7c3f-7b41-8d2e-5f3a9c1b2d4e",
                                                   "0190a6e2-7c3f-7b41-8d2e-5f3a9c1b2d4f"]}}})",
                 422, "flow_runs.id.any_"},
        BadInput{"task_count_not_object", "POST", "/task_runs/count", "[1]", 422, nullptr},
        BadInput{"paginate_page_zero", "POST", "/flow_runs/paginate", R"({"page": 0})", 422,
                 "page"},
        BadInput{"flow_unknown", "GET", "/flows/0190a6e2-7c3f-7b41-8d2e-5f3a9c1b2d4e", "", 404,
                 nullptr},
        BadInput{"flow_bad_id", "GET", "/flows/etl", "", 422, "id"},
        BadInput{"flow_count_bad_names", "POST", "/flows/count",
                 R"({"flows": {"name": {"any_": "etl"}}})", 422, "flows.name.any_"}),
    [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace baton
