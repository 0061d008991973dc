// The real server binary on a loopback port, driven over HTTP and websocket: every route group's
// happy path and bad input, authentication, the event stream, and a clean shutdown that keeps
// what was accepted.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "baton/error.h"
#include "client/http_client.h"
#include "client/orchestration_client.h"
#include "model/ids.h"
#include "server_process.h"

namespace baton {
namespace {
using nlohmann::json;
using testing::Answer;
using testing::call;
using testing::ServerProcess;

Answer call_raw(HttpClient& http, const std::string& method, const std::string& target,
                const std::string& body) {
  auto r = http.request(method, target, body);
  return {r.status, json::parse(r.body, nullptr, false)};
}

class ServerHttp : public ::testing::Test {
 protected:
  ServerProcess server_;
  HttpClient http_{server_.url(), ""};

  json create_flow_run(const std::string& flow = "etl", json extra = json::object()) {
    extra["flow_name"] = flow;
    auto a = call(http_, "POST", "/flow_runs/", extra);
    EXPECT_EQ(a.status, 201) << a.body.dump();
    return a.body;
  }
  Answer set_state(const std::string& id, const std::string& type, json extra = json::object()) {
    json state{{"type", type}};
    state.update(extra);
    return call(http_, "POST", "/flow_runs/" + id + "/set_state", {{"state", state}});
  }
};

TEST_F(ServerHttp, HealthVersionAndOpenApi) {
  auto health = call(http_, "GET", "/health");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.body, true);
  auto version = call(http_, "GET", "/version");
  EXPECT_EQ(version.status, 200);
  EXPECT_EQ(version.body["version"], "0.1.0");
  auto doc = call(http_, "GET", "/openapi.json");
  ASSERT_EQ(doc.status, 200);
  for (const char* path :
       {"/api/flow_runs/", "/api/flow_runs/{id}", "/api/flow_runs/filter",
        "/api/flow_runs/{id}/set_state", "/api/flow_run_states/", "/api/task_runs/batch",
        "/api/logs/", "/api/logs/filter", "/api/events", "/api/events/filter", "/api/health"})
    EXPECT_TRUE(doc.body["paths"].contains(path)) << path;
  EXPECT_TRUE(doc.body["components"]["schemas"].contains("FlowRun"));
}

// The page size is in the file header: two big-endian bytes at offset 16 (1 means 65536).
int page_size_of(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  unsigned char header[18] = {};
  in.read(reinterpret_cast<char*>(header), sizeof header);
  int size = header[16] << 8 | header[17];
  return size == 1 ? 65536 : size;
}

TEST_F(ServerHttp, ADatabaseTheServerCreatesHasSmallPagesAndAnOlderOneKeepsItsOwn) {
  create_flow_run();
  EXPECT_EQ(page_size_of(server_.home() + "/baton.db"), 4096);
  // A home whose file a local program created first (big pages) keeps them under the server.
  testing::FreshDir home("pages");
  ASSERT_EQ(testing::run_baton({"flow-run", "ls"}, {{"BATON_HOME", home.path()}}).exit_code, 0);
  ASSERT_EQ(page_size_of(home.path() + "/baton.db"), 16384);
  ServerProcess server({.home = home.path()});
  HttpClient http(server.url(), "");
  EXPECT_EQ(call(http, "POST", "/flow_runs/", {{"flow_name", "etl"}}).status, 201);
  EXPECT_EQ(page_size_of(home.path() + "/baton.db"), 16384);
}

TEST_F(ServerHttp, FlowRunLifecycleThroughTheRules) {
  json run = create_flow_run("etl", {{"parameters", {{"n", 3}}}, {"tags", {"nightly"}}});
  std::string id = run["id"];
  EXPECT_EQ(run["state_type"], "PENDING");
  EXPECT_EQ(run["flow_name"], "etl");
  EXPECT_EQ(run["parameters"]["n"], 3);

  auto running = set_state(id, "RUNNING");
  EXPECT_EQ(running.status, 201);
  EXPECT_EQ(running.body["status"], "ACCEPT");
  EXPECT_EQ(running.body["state"]["type"], "RUNNING");
  EXPECT_EQ(running.body["details"]["type"], "accept_details");

  auto done = set_state(id, "COMPLETED", {{"data", 42}});
  EXPECT_EQ(done.body["status"], "ACCEPT");

  // A finished run cannot start again: the rules refuse, and the answer says so.
  auto again = set_state(id, "RUNNING");
  EXPECT_EQ(again.status, 200);
  EXPECT_NE(again.body["status"], "ACCEPT");
  EXPECT_EQ(again.body["state"]["type"], "COMPLETED");
  EXPECT_TRUE(again.body["details"]["reason"].is_string());

  auto read = call(http_, "GET", "/flow_runs/" + id);
  EXPECT_EQ(read.status, 200);
  EXPECT_EQ(read.body["state_type"], "COMPLETED");
  EXPECT_EQ(read.body["run_count"], 1);

  auto history = call(http_, "GET", "/flow_run_states/?flow_run_id=" + id);
  ASSERT_EQ(history.status, 200);
  std::vector<std::string> types;
  for (const auto& s : history.body) types.push_back(s["type"]);
  EXPECT_EQ(types, (std::vector<std::string>{"PENDING", "RUNNING", "COMPLETED"}));

  EXPECT_EQ(call(http_, "DELETE", "/flow_runs/" + id).status, 204);
  EXPECT_EQ(call(http_, "GET", "/flow_runs/" + id).status, 404);
  EXPECT_EQ(call(http_, "DELETE", "/flow_runs/" + id).status, 404);
}

TEST_F(ServerHttp, IdempotencyKeyReturnsTheFirstRun) {
  json first = create_flow_run("etl", {{"idempotency_key", "2024-03-31"}});
  json second = create_flow_run("etl", {{"idempotency_key", "2024-03-31"}});
  EXPECT_EQ(first["id"], second["id"]);
}

// Every member a create body may carry without the schema walk, and a null for each: the run
// answered and read back holds them.
TEST_F(ServerHttp, ACreateWithEveryPlainMemberKeepsThemAll) {
  const std::string id = "0190a6e2-7c3f-7b41-8d2e-00000000c0de";
  json body{{"id", id},
            {"flow_name", "plain"},
            {"name", "by-hand"},
            {"idempotency_key", "k-1"},
            {"infrastructure_pid", "host:1:2"},
            {"parameters", {{"n", 3}, {"nested", {{"x", "y"}}}}},
            {"tags", {"a", "b"}},
            {"deployment_id", nullptr},
            {"parent_task_run_id", nullptr},
            {"state",
             {{"type", "PENDING"},
              {"name", "Queued"},
              {"message", "waiting"},
              {"state_details", json::object()},
              {"data", nullptr}}}};
  auto created = call(http_, "POST", "/flow_runs/", body);
  ASSERT_EQ(created.status, 201) << created.body.dump();
  auto read = call(http_, "GET", "/flow_runs/" + id);
  ASSERT_EQ(read.status, 200);
  for (const auto& answer : {created.body, read.body}) {
    EXPECT_EQ(answer["id"], id);
    EXPECT_EQ(answer["name"], "by-hand");
    EXPECT_EQ(answer["flow_name"], "plain");
    EXPECT_EQ(answer["idempotency_key"], "k-1");
    EXPECT_EQ(answer["infrastructure_pid"], "host:1:2");
    EXPECT_EQ(answer["parameters"], body["parameters"]);
    EXPECT_EQ(answer["tags"], body["tags"]);
    EXPECT_EQ(answer["state"]["type"], "PENDING");
    EXPECT_EQ(answer["state"]["name"], "Queued");
    EXPECT_EQ(answer["state"]["message"], "waiting");
  }
}

TEST_F(ServerHttp, FilterPaginatesAndSorts) {
  for (const char* name : {"delta", "alpha", "echo", "charlie", "bravo"})
    create_flow_run("etl", {{"name", name}});
  create_flow_run("other", {{"name", "zulu"}});
  std::vector<std::string> names;
  for (int offset = 0; offset < 6; offset += 2) {
    auto page = call(http_, "POST", "/flow_runs/filter",
                     {{"flows", {{"name", {{"any_", {"etl"}}}}}},
                      {"sort", "NAME_ASC"},
                      {"limit", 2},
                      {"offset", offset}});
    ASSERT_EQ(page.status, 200) << page.body.dump();
    EXPECT_LE(page.body.size(), 2u);
    for (const auto& r : page.body) names.push_back(r["name"]);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"alpha", "bravo", "charlie", "delta", "echo"}));

  json run = create_flow_run("etl");
  set_state(run["id"], "RUNNING");
  auto running = call(http_, "POST", "/flow_runs/filter",
                      {{"flow_runs", {{"state", {{"type", {{"any_", {"RUNNING"}}}}}}}}});
  ASSERT_EQ(running.body.size(), 1u);
  EXPECT_EQ(running.body[0]["id"], run["id"]);
}

TEST_F(ServerHttp, TaskRunsAreRecordedInBatchesWithHistory) {
  json run = create_flow_run();
  std::string flow_run_id = run["id"];
  std::string task_id = "0190a6e2-7c3f-7b41-8d2e-000000000001";
  json pending{{"id", task_id},
               {"flow_run_id", flow_run_id},
               {"task_key", "extract"},
               {"name", "extract-0"},
               {"state", {{"type", "PENDING"}}}};
  json running = pending;
  running["state"] = {{"type", "RUNNING"}};
  json other = pending;
  other["id"] = "0190a6e2-7c3f-7b41-8d2e-000000000002";
  other["name"] = "extract-1";
  auto batch = call(http_, "POST", "/task_runs/batch", {{"task_runs", {pending, running, other}}});
  ASSERT_EQ(batch.status, 201) << batch.body.dump();
  EXPECT_EQ(batch.body["recorded"], 3);

  auto read = call(http_, "GET", "/task_runs/" + task_id);
  ASSERT_EQ(read.status, 200);
  EXPECT_EQ(read.body["state_type"], "RUNNING");
  auto history = call(http_, "GET", "/task_run_states/?task_run_id=" + task_id);
  ASSERT_EQ(history.body.size(), 2u);
  EXPECT_EQ(history.body[0]["type"], "PENDING");

  auto listed = call(http_, "POST", "/task_runs/filter",
                     {{"flow_runs", {{"id", {{"any_", {flow_run_id}}}}}}});
  EXPECT_EQ(listed.body.size(), 2u);
  auto by_state = call(http_, "POST", "/task_runs/filter",
                       {{"task_runs", {{"state", {{"type", {{"any_", {"PENDING"}}}}}}}}});
  ASSERT_EQ(by_state.body.size(), 1u);
  EXPECT_EQ(by_state.body[0]["name"], "extract-1");
  EXPECT_EQ(call(http_, "GET", "/task_runs/0190a6e2-7c3f-7b41-8d2e-0000000000ff").status, 404);
}

// The batch routes' Idempotency-Key: a repeat of a batch the server stored (a client's retry of
// a batch committed but not answered) is answered the same and written nowhere a second time,
// not in the history, the events or the logs; another key is another batch.
TEST_F(ServerHttp, ABatchRepeatedWithItsIdempotencyKeyIsRecordedOnce) {
  std::string flow_run_id = create_flow_run()["id"];
  std::string task_id = "0190a6e2-7c3f-7b41-8d2e-0000000000a1";
  json pending{{"id", task_id},
               {"flow_run_id", flow_run_id},
               {"task_key", "extract"},
               {"name", "extract-0"},
               {"state", {{"type", "PENDING"}}}};
  json completed = pending;
  completed["state"] = {{"type", "COMPLETED"}};
  const std::string runs = json{{"task_runs", {pending, completed}}}.dump();
  const std::string logs =
      json::array({{{"flow_run_id", flow_run_id}, {"name", "t"}, {"level", 20}, {"message", "m"}}})
          .dump();
  auto post = [&](const std::string& target, const std::string& body, const std::string& key) {
    return http_.request("POST", target, body, {{"Idempotency-Key", key}});
  };
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto r = post("/task_runs/batch", runs, "batch-key-1");
    ASSERT_EQ(r.status, 201) << r.body;
    EXPECT_EQ(json::parse(r.body)["recorded"], 2);
    ASSERT_EQ(post("/logs/", logs, "log-key-1").status, 201);
  }
  auto history = [&] {
    return call(http_, "GET", "/task_run_states/?task_run_id=" + task_id).body;
  };
  auto events = [&] {
    return call(http_, "POST", "/events/filter",
                {{"filter", {{"resource", {{"id", {"baton.task-run." + task_id}}}}}}})
        .body["events"];
  };
  auto log_lines = [&] {
    return call(http_, "POST", "/logs/filter",
                {{"logs", {{"flow_run_id", {{"any_", {flow_run_id}}}}}}})
        .body;
  };
  EXPECT_EQ(history().size(), 2u);
  EXPECT_EQ(events().size(), 2u);
  EXPECT_EQ(log_lines().size(), 1u);

  // The same records under other keys are other batches.
  ASSERT_EQ(post("/task_runs/batch", runs, "batch-key-2").status, 201);
  ASSERT_EQ(post("/logs/", logs, "log-key-2").status, 201);
  EXPECT_EQ(history().size(), 4u);
  EXPECT_EQ(events().size(), 4u);
  EXPECT_EQ(log_lines().size(), 2u);

  // A key must be 1-255 characters: refused naming the header, nothing written.
  auto too_long = post("/task_runs/batch", runs, std::string(256, 'k'));
  EXPECT_EQ(too_long.status, 422) << too_long.body;
  EXPECT_EQ(json::parse(too_long.body)["error"]["field"], "Idempotency-Key");
  EXPECT_EQ(history().size(), 4u);
}

// Requests carrying one Idempotency-Key at the same moment (a proxy or a client retrying while
// the first attempt is still being committed) record the batch once: the others wait for the
// first's outcome and are answered as repeats.
TEST_F(ServerHttp, ConcurrentRequestsWithOneIdempotencyKeyAreRecordedOnce) {
  std::string flow_run_id = create_flow_run()["id"];
  constexpr int kRounds = 5, kSenders = 8;
  for (int round = 0; round < kRounds; ++round) {
    std::string task_id = "0190a6e2-7c3f-7b41-8d2e-0000000001a" + std::to_string(round);
    json pending{{"id", task_id},
                 {"flow_run_id", flow_run_id},
                 {"task_key", "extract"},
                 {"name", "extract-" + std::to_string(round)},
                 {"state", {{"type", "PENDING"}}}};
    json completed = pending;
    completed["state"] = {{"type", "COMPLETED"}};
    const std::string runs = json{{"task_runs", {pending, completed}}}.dump();
    const std::string log = json::array({{{"flow_run_id", flow_run_id},
                                          {"name", "t"},
                                          {"level", 20},
                                          {"message", "round " + std::to_string(round)}}})
                                .dump();
    const std::string key = "concurrent-" + std::to_string(round);
    std::atomic<bool> go{false};
    std::atomic<int> created{0};
    std::vector<std::thread> senders;
    for (int i = 0; i < kSenders; ++i)
      senders.emplace_back([&, i] {
        while (!go.load()) std::this_thread::yield();
        bool logs = i % 2 == 1;
        auto r = http_.request("POST", logs ? "/logs/" : "/task_runs/batch", logs ? log : runs,
                               {{"Idempotency-Key", logs ? key + "-logs" : key}});
        if (r.status == 201) ++created;
      });
    go = true;
    for (auto& t : senders) t.join();
    EXPECT_EQ(created.load(), kSenders);
    auto history = call(http_, "GET", "/task_run_states/?task_run_id=" + task_id).body;
    EXPECT_EQ(history.size(), 2u) << "round " << round;
    auto events = call(http_, "POST", "/events/filter",
                       {{"filter", {{"resource", {{"id", {"baton.task-run." + task_id}}}}}}})
                      .body["events"];
    EXPECT_EQ(events.size(), 2u) << "round " << round;
  }
  auto logs =
      call(http_, "POST", "/logs/filter", {{"logs", {{"flow_run_id", {{"any_", {flow_run_id}}}}}}})
          .body;
  EXPECT_EQ(logs.size(), static_cast<size_t>(kRounds));
}

TEST_F(ServerHttp, LogsAreWrittenAndFiltered) {
  json run = create_flow_run();
  std::string id = run["id"];
  json logs = json::array();
  for (int i = 0; i < 5; ++i)
    logs.push_back({{"flow_run_id", id},
                    {"name", "baton.flow_runs"},
                    {"level", i % 2 ? 40 : 20},
                    {"message", "line " + std::to_string(i)},
                    {"timestamp", "2024-03-31T08:00:0" + std::to_string(i) + "Z"}});
  ASSERT_EQ(call(http_, "POST", "/logs/", logs).status, 201);
  auto all = call(http_, "POST", "/logs/filter", {{"logs", {{"flow_run_id", {{"any_", {id}}}}}}});
  ASSERT_EQ(all.body.size(), 5u);
  EXPECT_EQ(all.body[0]["message"], "line 0");
  auto errors = call(http_, "POST", "/logs/filter",
                     {{"logs", {{"flow_run_id", {{"any_", {id}}}}, {"level", {{"ge_", 40}}}}},
                      {"sort", "TIMESTAMP_DESC"}});
  ASSERT_EQ(errors.body.size(), 2u);
  EXPECT_EQ(errors.body[0]["message"], "line 3");
}

TEST_F(ServerHttp, LogsAreFilteredByTaskRunInPrefectsShape) {
  std::string id = create_flow_run()["id"];
  std::string load = new_id(), save = new_id();
  json logs = json::array();
  // Interleaved: save, load, flow, load (the last at ERROR).
  const std::pair<std::string, int> lines[] = {{save, 20}, {load, 20}, {"", 20}, {load, 40}};
  for (int i = 0; i < 4; ++i) {
    json line{{"flow_run_id", id},
              {"name", "baton.task_runs"},
              {"level", lines[i].second},
              {"message", "line " + std::to_string(i)},
              {"timestamp", "2024-03-31T08:00:0" + std::to_string(i) + "Z"}};
    if (!lines[i].first.empty()) line["task_run_id"] = lines[i].first;
    logs.push_back(line);
  }
  ASSERT_EQ(call(http_, "POST", "/logs/", logs).status, 201);
  auto of_load =
      call(http_, "POST", "/logs/filter", {{"logs", {{"task_run_id", {{"any_", {load}}}}}}});
  ASSERT_EQ(of_load.status, 200) << of_load.body;
  ASSERT_EQ(of_load.body.size(), 2u) << of_load.body;
  EXPECT_EQ(of_load.body[0]["message"], "line 1");
  EXPECT_EQ(of_load.body[1]["message"], "line 3");
  for (const auto& l : of_load.body) EXPECT_EQ(l["task_run_id"], load);
  auto errors = call(http_, "POST", "/logs/filter",
                     {{"logs",
                       {{"flow_run_id", {{"any_", {id}}}},
                        {"task_run_id", {{"any_", {load}}}},
                        {"level", {{"ge_", 40}}}}}});
  ASSERT_EQ(errors.body.size(), 1u) << errors.body;
  EXPECT_EQ(errors.body[0]["message"], "line 3");
  auto none =
      call(http_, "POST", "/logs/filter", {{"logs", {{"task_run_id", {{"any_", {new_id()}}}}}}});
  EXPECT_EQ(none.status, 200);
  EXPECT_TRUE(none.body.empty()) << none.body;
}

// Prefect's LogFilter body as a Prefect client sends it: several flow and task runs,
// task_run_id.is_null_, level ge_/le_ and timestamp after_/before_ (inclusive), both sorts, pages.
TEST_F(ServerHttp, LogsFilterTakesPrefectsWholeFilter) {
  std::string a = create_flow_run()["id"], b = create_flow_run()["id"];
  std::string a1 = new_id(), a2 = new_id(), b1 = new_id();
  // Line i at 08:00:0i: (flow run, task run, level).
  struct Line {
    std::string flow_run, task_run;
    int level;
  };
  const Line rows[] = {{a, "", 10}, {a, a1, 20}, {a, a2, 30}, {b, "", 40},
                       {b, b1, 50}, {a, a1, 40}, {b, b1, 10}};
  json logs = json::array();
  for (int i = 0; i < 7; ++i) {
    json line{{"flow_run_id", rows[i].flow_run},
              {"name", "baton.task_runs"},
              {"level", rows[i].level},
              {"message", "line " + std::to_string(i)},
              {"timestamp", "2024-03-31T08:00:0" + std::to_string(i) + "Z"}};
    line["task_run_id"] = rows[i].task_run.empty() ? json(nullptr) : json(rows[i].task_run);
    logs.push_back(line);
  }
  ASSERT_EQ(call(http_, "POST", "/logs/", logs).status, 201);
  // Bodies as a Prefect client writes them; $a, $b, $a1, $a2, $b1 stand for the runs' ids.
  struct Row {
    const char* name;
    std::string body;
    std::vector<int> expected;
  };
  const Row cases[] = {
      {"two_flow_runs",
       R"({"logs": {"flow_run_id": {"any_": ["$a", "$b"]}}})",
       {0, 1, 2, 3, 4, 5, 6}},
      {"three_task_runs",
       R"({"logs": {"task_run_id": {"any_": ["$a1", "$a2", "$b1"]}}})",
       {1, 2, 4, 5, 6}},
      {"is_null_true", R"({"logs": {"task_run_id": {"is_null_": true}}})", {0, 3}},
      {"is_null_false_of_one_flow_run",
       R"({"logs": {"flow_run_id": {"any_": ["$b"]}, "task_run_id": {"is_null_": false}}})",
       {4, 6}},
      {"level_ge_le", R"({"logs": {"level": {"ge_": 20, "le_": 40}}})", {1, 2, 3, 5}},
      {"timestamp_after_before_inclusive",
       R"({"logs": {"timestamp": {"after_": "2024-03-31T08:00:02Z",
                                  "before_": "2024-03-31T08:00:04Z"}}})",
       {2, 3, 4}},
      {"timestamp_in_another_zone",
       R"({"logs": {"timestamp": {"after_": "2024-03-31T10:00:05+02:00"}}})",
       {5, 6}},
      {"timestamp_microseconds",
       R"({"logs": {"timestamp": {"after_": "2024-03-31T08:00:04.000001Z"}}})",
       {5, 6}},
      {"combined_newest_first",
       R"({"logs": {"flow_run_id": {"any_": ["$a", "$b"]}, "task_run_id": {"is_null_": false},
                    "level": {"ge_": 20}, "timestamp": {"before_": "2024-03-31T08:00:05Z"}},
           "sort": "TIMESTAMP_DESC"})",
       {5, 4, 2, 1}},
      {"page_oldest_first",
       R"({"logs": {"flow_run_id": {"any_": ["$a", "$b"]}}, "limit": 2, "offset": 3})",
       {3, 4}},
      {"page_newest_first", R"({"sort": "TIMESTAMP_DESC", "limit": 3, "offset": 1})", {5, 4, 3}},
      {"nulls_mean_no_filter",
       R"({"logs": {"flow_run_id": null, "task_run_id": {"any_": null, "is_null_": null},
                    "level": {"ge_": null, "le_": null}, "timestamp": null}})",
       {0, 1, 2, 3, 4, 5, 6}},
  };
  auto with_ids = [&](std::string body) {
    // Longest names first, so "$a1" is not read as "$a" followed by "1".
    for (const auto& [name, id] : {std::pair{"$a1", a1}, std::pair{"$a2", a2}, std::pair{"$b1", b1},
                                   std::pair{"$a", a}, std::pair{"$b", b}})
      for (auto at = body.find(name); at != std::string::npos; at = body.find(name))
        body.replace(at, std::string(name).size(), id);
    return body;
  };
  for (const auto& c : cases) {
    auto r = call_raw(http_, "POST", "/logs/filter", with_ids(c.body));
    ASSERT_EQ(r.status, 200) << c.name << " " << r.body;
    std::vector<int> got;
    for (const auto& l : r.body)
      got.push_back(std::stoi(l["message"].get<std::string>().substr(5)));
    EXPECT_EQ(got, c.expected) << c.name;
  }
  // The OpenAPI document describes the same filter (it is generated from the route's schema).
  auto doc = call(http_, "GET", "/openapi.json").body;
  const json& filter = doc["paths"]["/api/logs/filter"]["post"]["requestBody"]["content"]
                          ["application/json"]["schema"]["properties"]["logs"]["properties"];
  EXPECT_EQ(filter["task_run_id"]["properties"]["any_"]["maxItems"], 200) << filter;
  EXPECT_TRUE(filter["task_run_id"]["properties"].contains("is_null_")) << filter;
  EXPECT_TRUE(filter["level"]["properties"].contains("le_")) << filter;
  EXPECT_EQ(filter["timestamp"]["properties"]["after_"]["format"], "date-time") << filter;
  // At the cap the list is accepted.
  json many = json::array({a});
  while (many.size() < 200) many.push_back(new_id());
  auto capped =
      call(http_, "POST", "/logs/filter", {{"logs", {{"flow_run_id", {{"any_", many}}}}}});
  ASSERT_EQ(capped.status, 200) << capped.body;
  EXPECT_EQ(capped.body.size(), 4u);
}

struct BadInput {
  const char* name;
  const char* method;
  const char* target;
  const char* body;
  int status;
  const char* field;  // nullptr: no field expected
};

class ServerBadInput : public ServerHttp, public ::testing::WithParamInterface<BadInput> {};

TEST_P(ServerBadInput, AnswersWithTheErrorShapeNamingTheField) {
  const auto& c = GetParam();
  std::string target = c.target;
  auto at = target.find("{run}");
  if (at != std::string::npos) target.replace(at, 5, create_flow_run()["id"].get<std::string>());
  auto a = call_raw(http_, c.method, target, c.body);
  EXPECT_EQ(a.status, c.status) << a.body.dump();
  ASSERT_TRUE(a.body.is_object() && a.body.contains("error")) << a.body.dump();
  EXPECT_TRUE(a.body["error"]["code"].is_string());
  EXPECT_FALSE(a.body["error"]["message"].get<std::string>().empty());
  if (c.field) {
    EXPECT_EQ(a.body["error"]["field"], c.field) << a.body.dump();
  }
  // The server is still well after every bad request.
  EXPECT_EQ(call(http_, "GET", "/health").status, 200);
}

constexpr const char* kMissingRun = "0190a6e2-7c3f-7b41-8d2e-5f3a9c1b2d4e";

// A /logs/filter body whose `list` filter holds one id more than the 200 accepted.
std::string too_many_ids(const char* list) {
  json ids = json::array();
  for (int i = 0; i <= 200; ++i) ids.push_back(new_id());
  return json{{"logs", {{list, {{"any_", ids}}}}}}.dump();
}
const std::string kTooManyFlowRuns = too_many_ids("flow_run_id");
const std::string kTooManyTaskRuns = too_many_ids("task_run_id");

INSTANTIATE_TEST_SUITE_P(
    EveryRouteGroup, ServerBadInput,
    ::testing::Values(
        BadInput{"unknown_route", "GET", "/nothing/here", "", 404, nullptr},
        BadInput{"wrong_method", "PUT", "/flow_runs/filter", "{}", 405, nullptr},
        BadInput{"flows_malformed", "POST", "/flows/", "{\"name\": ", 400, nullptr},
        BadInput{"flows_missing_name", "POST", "/flows/", "{}", 422, "name"},
        BadInput{"flows_filter_unknown_member", "POST", "/flows/filter", "{\"limt\": 3}", 422,
                 "limt"},
        BadInput{"flow_run_malformed", "POST", "/flow_runs/", "not json", 400, nullptr},
        BadInput{"flow_run_wrong_type", "POST", "/flow_runs/", "{\"flow_name\": 5}", 422,
                 "flow_name"},
        BadInput{"flow_run_no_flow", "POST", "/flow_runs/", "{}", 422, "flow_id"},
        BadInput{"flow_run_bad_state", "POST", "/flow_runs/",
                 "{\"flow_name\": \"etl\", \"state\": {\"type\": \"DONE\"}}", 422, "state.type"},
        // A create body that plainly fits is read without the schema walk too; these take it.
        BadInput{"flow_run_array", "POST", "/flow_runs/", "[]", 422, nullptr},
        BadInput{"flow_run_bad_flow_id", "POST", "/flow_runs/", "{\"flow_id\": \"etl\"}", 422,
                 "flow_id"},
        BadInput{"flow_run_bad_tags", "POST", "/flow_runs/",
                 "{\"flow_name\": \"etl\", \"tags\": [\"a\", 1]}", 422, "tags.1"},
        BadInput{"flow_run_parameters_not_object", "POST", "/flow_runs/",
                 "{\"flow_name\": \"etl\", \"parameters\": [1]}", 422, "parameters"},
        BadInput{"flow_run_bad_state_name", "POST", "/flow_runs/",
                 "{\"flow_name\": \"etl\", \"state\": {\"type\": \"PENDING\", \"name\": 1}}", 422,
                 "state.name"},
        BadInput{"flow_run_bad_state_time", "POST", "/flow_runs/",
                 "{\"flow_name\": \"etl\", \"state\": {\"type\": \"PENDING\", "
                 "\"timestamp\": \"soon\"}}",
                 422, "state.timestamp"},
        BadInput{"flow_run_bad_expected_start", "POST", "/flow_runs/",
                 "{\"flow_name\": \"etl\", \"expected_start_time\": \"soon\"}", 422,
                 "expected_start_time"},
        BadInput{"flow_run_bad_retries", "POST", "/flow_runs/",
                 "{\"flow_name\": \"etl\", \"empirical_policy\": {\"retries\": -1}}", 422,
                 "empirical_policy.retries"},
        BadInput{"flow_run_bad_id", "GET", "/flow_runs/42", "", 422, "id"},
        BadInput{"flow_run_missing", "GET", "/flow_runs/0190a6e2-7c3f-7b41-8d2e-5f3a9c1b2d4e", "",
                 404, nullptr},
        BadInput{"set_state_missing_state", "POST", "/flow_runs/{run}/set_state", "{}", 422,
                 "state"},
        BadInput{"set_state_bad_type", "POST", "/flow_runs/{run}/set_state",
                 "{\"state\": {\"type\": \"NOPE\"}}", 422, "state.type"},
        BadInput{"set_state_bad_time", "POST", "/flow_runs/{run}/set_state",
                 "{\"state\": {\"type\": \"RUNNING\", \"timestamp\": \"soon\"}}", 422,
                 "state.timestamp"},
        // set_state reads its body without the schema walk when it plainly fits; anything else
        // must still be refused naming the field.
        BadInput{"set_state_array", "POST", "/flow_runs/{run}/set_state", "[]", 422, nullptr},
        BadInput{"set_state_malformed", "POST", "/flow_runs/{run}/set_state", "{\"state\": ", 400,
                 nullptr},
        BadInput{"set_state_bad_force", "POST", "/flow_runs/{run}/set_state",
                 "{\"state\": {\"type\": \"RUNNING\"}, \"force\": \"yes\"}", 422, "force"},
        BadInput{"set_state_unknown_member", "POST", "/flow_runs/{run}/set_state",
                 "{\"state\": {\"type\": \"RUNNING\"}, \"forse\": true}", 422, "forse"},
        BadInput{"set_state_bad_pid", "POST", "/flow_runs/{run}/set_state",
                 "{\"state\": {\"type\": \"RUNNING\"}, \"infrastructure_pid\": 7}", 422,
                 "infrastructure_pid"},
        BadInput{"set_state_state_not_object", "POST", "/flow_runs/{run}/set_state",
                 "{\"state\": \"RUNNING\"}", 422, "state"},
        BadInput{"set_state_bad_name", "POST", "/flow_runs/{run}/set_state",
                 "{\"state\": {\"type\": \"RUNNING\", \"name\": 3}}", 422, "state.name"},
        BadInput{"set_state_bad_details", "POST", "/flow_runs/{run}/set_state",
                 "{\"state\": {\"type\": \"RUNNING\", \"state_details\": []}}", 422,
                 "state.state_details"},
        BadInput{"set_state_unknown_run", "POST",
                 "/flow_runs/0190a6e2-7c3f-7b41-8d2e-5f3a9c1b2d4e/set_state",
                 "{\"state\": {\"type\": \"RUNNING\"}}", 404, nullptr},
        BadInput{"filter_negative_limit", "POST", "/flow_runs/filter", "{\"limit\": -1}", 422,
                 "limit"},
        BadInput{"filter_bad_sort", "POST", "/flow_runs/filter", "{\"sort\": \"SIDEWAYS\"}", 422,
                 "sort"},
        BadInput{"filter_bad_state", "POST", "/flow_runs/filter",
                 "{\"flow_runs\": {\"state\": {\"type\": {\"any_\": [\"LATE\"]}}}}", 422,
                 "flow_runs.state.type.any_.0"},
        BadInput{"states_missing_param", "GET", "/flow_run_states/", "", 422, "flow_run_id"},
        BadInput{"task_run_missing_fields", "POST", "/task_runs/",
                 "{\"id\": \"0190a6e2-7c3f-7b41-8d2e-5f3a9c1b2d4e\"}", 422, "task_key"},
        BadInput{"task_batch_not_list", "POST", "/task_runs/batch", "{\"task_runs\": 3}", 422,
                 "task_runs"},
        BadInput{"task_batch_bad_item", "POST", "/task_runs/batch",
                 "{\"task_runs\": [{\"id\": \"0190a6e2-7c3f-7b41-8d2e-5f3a9c1b2d4e\", "
                 "\"flow_run_id\": \"y\", \"task_key\": \"k\", \"state\": {\"type\": "
                 "\"RUNNING\"}}]}",
                 422, "task_runs.0.flow_run_id"},
        BadInput{"task_batch_bad_id", "POST", "/task_runs/batch",
                 "{\"task_runs\": [{\"id\": \"x\", \"flow_run_id\": \"y\", \"task_key\": \"k\", "
                 "\"state\": {\"type\": \"RUNNING\"}}]}",
                 422, "task_runs.0.id"},
        BadInput{"task_batch_deep_wrong_type", "POST", "/task_runs/batch",
                 "{\"task_runs\": [{\"id\": \"0190a6e2-7c3f-7b41-8d2e-5f3a9c1b2d4e\", "
                 "\"task_key\": \"k\", \"state\": {\"type\": \"RUNNING\", "
                 "\"state_details\": {\"scheduled_time\": \"soon\"}}}]}",
                 422, "task_runs.0.state.state_details.scheduled_time"},
        BadInput{"task_batch_malformed_item", "POST", "/task_runs/batch",
                 "{\"task_runs\": [{\"id\": \"0190a6e2-7c3f-7b41-8d2e-5f3a9c1b2d4e\", "
                 "\"task_key\": }]}",
                 400, nullptr},
        BadInput{"task_batch_unknown_member", "POST", "/task_runs/batch",
                 "{\"task_runs\": [], \"runs\": []}", 422, "runs"},
        BadInput{"task_run_single_bad_state", "POST", "/task_runs/",
                 "{\"id\": \"0190a6e2-7c3f-7b41-8d2e-5f3a9c1b2d4e\", \"task_key\": \"k\", "
                 "\"state\": {\"type\": 7}}",
                 422, "state.type"},
        BadInput{"cache_clear_neither", "POST", "/task_runs/cache/clear", "{}", 422, "cache_key"},
        BadInput{"cache_clear_both", "POST", "/task_runs/cache/clear",
                 "{\"cache_key\": \"k\", \"task_key\": \"t\"}", 422, "cache_key"},
        BadInput{"cache_clear_empty_key", "POST", "/task_runs/cache/clear", "{\"cache_key\": \"\"}",
                 422, "cache_key"},
        BadInput{"cache_clear_bad_task_key", "POST", "/task_runs/cache/clear",
                 "{\"task_key\": 3}", 422, "task_key"},
        BadInput{"cache_clear_bad_now", "POST", "/task_runs/cache/clear",
                 "{\"cache_key\": \"k\", \"now\": \"soon\"}", 422, "now"},
        BadInput{"cache_clear_unknown_member", "POST", "/task_runs/cache/clear",
                 "{\"cache_kee\": \"k\"}", 422, "cache_kee"},
        BadInput{"cache_clear_malformed", "POST", "/task_runs/cache/clear", "{\"cache_key\"", 400,
                 nullptr},
        BadInput{"task_filter_bad", "POST", "/task_runs/filter", "{\"offset\": \"zero\"}", 422,
                 "offset"},
        BadInput{"logs_not_list", "POST", "/logs/", "{\"message\": \"hi\"}", 422, nullptr},
        BadInput{"logs_bad_item", "POST", "/logs/",
                 "[{\"flow_run_id\": \"x\", \"level\": 20, \"message\": \"m\"}]", 422,
                 "0.flow_run_id"},
        BadInput{"logs_filter_bad_level", "POST", "/logs/filter",
                 "{\"logs\": {\"level\": {\"ge_\": \"high\"}}}", 422, "logs.level.ge_"},
        BadInput{"logs_filter_too_many_flow_runs", "POST", "/logs/filter", kTooManyFlowRuns.c_str(),
                 422, "logs.flow_run_id.any_"},
        BadInput{"logs_filter_too_many_task_runs", "POST", "/logs/filter", kTooManyTaskRuns.c_str(),
                 422, "logs.task_run_id.any_"},
        BadInput{"logs_filter_flow_run_not_uuid", "POST", "/logs/filter",
                 "{\"logs\": {\"flow_run_id\": {\"any_\": "
                 "[\"0190a6e2-7c3f-7b41-8d2e-5f3a9c1b2d4e\", \"nope\"]}}}",
                 422, "logs.flow_run_id.any_.1"},
        BadInput{"logs_filter_ids_not_a_list", "POST", "/logs/filter",
                 "{\"logs\": {\"flow_run_id\": {\"any_\": "
                 "\"0190a6e2-7c3f-7b41-8d2e-5f3a9c1b2d4e\"}}}",
                 422, "logs.flow_run_id.any_"},
        BadInput{"logs_filter_is_null_not_bool", "POST", "/logs/filter",
                 "{\"logs\": {\"task_run_id\": {\"is_null_\": \"yes\"}}}", 422,
                 "logs.task_run_id.is_null_"},
        BadInput{"logs_filter_level_le_not_integer", "POST", "/logs/filter",
                 "{\"logs\": {\"level\": {\"le_\": 1.5}}}", 422, "logs.level.le_"},
        BadInput{"logs_filter_after_not_a_time", "POST", "/logs/filter",
                 "{\"logs\": {\"timestamp\": {\"after_\": \"yesterday\"}}}", 422,
                 "logs.timestamp.after_"},
        BadInput{"logs_filter_before_wrong_type", "POST", "/logs/filter",
                 "{\"logs\": {\"timestamp\": {\"before_\": 5}}}", 422, "logs.timestamp.before_"},
        BadInput{"logs_filter_unknown_bound", "POST", "/logs/filter",
                 "{\"logs\": {\"timestamp\": {\"since_\": \"2024-03-31T08:00:00Z\"}}}", 422,
                 "logs.timestamp.since_"},
        BadInput{"logs_filter_bad_sort", "POST", "/logs/filter", "{\"sort\": \"LEVEL_DESC\"}", 422,
                 "sort"},
        BadInput{"logs_filter_task_run_not_uuid", "POST", "/logs/filter",
                 "{\"logs\": {\"task_run_id\": {\"any_\": [\"nope\"]}}}", 422,
                 "logs.task_run_id.any_.0"},
        BadInput{"events_missing_resource", "POST", "/events", "{\"event\": \"my.event\"}", 422,
                 nullptr},
        BadInput{"events_filter_unknown", "POST", "/events/filter", "{\"filter\": {\"colour\": 1}}",
                 422, "filter.colour"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST_F(ServerHttp, OversizedBodyIsRefusedWith413) {
  ServerProcess small({.args = {"--max-body-bytes", "2048"}});
  HttpClient http(small.url(), "");
  std::string big = "[" + std::string(4000, ' ') + "]";
  auto a = call_raw(http, "POST", "/logs/", big);
  EXPECT_EQ(a.status, 413);
  EXPECT_EQ(a.body["error"]["code"], "too_large");
  auto b = call_raw(http, "POST", "/task_runs/batch",
                    "{\"task_runs\": [" + std::string(4000, ' ') + "]}");
  EXPECT_EQ(b.status, 413);
  EXPECT_EQ(b.body["error"]["code"], "too_large");
  EXPECT_EQ(call(http, "GET", "/health").status, 200);
}

json next_message(WebSocketClient& ws, const std::string& type);

// A task-run snapshot; `second` orders states in time when several are recorded at once.
json task_run(const std::string& flow_run_id, int i, const std::string& type = "COMPLETED",
              int second = 0) {
  char id[40];
  std::snprintf(id, sizeof id, "0190a6e2-7c3f-7b41-8d2e-%012d", i);
  return {{"id", id},
          {"flow_run_id", flow_run_id},
          {"task_key", "k"},
          {"name", "k-" + std::to_string(i)},
          {"state",
           {{"type", type}, {"timestamp", "2024-03-31T08:00:0" + std::to_string(second) + "Z"}}}};
}

TEST_F(ServerHttp, ATaskRunBatchIsAllOrNothing) {
  std::string flow_run_id = create_flow_run()["id"];
  json runs = json::array();
  for (int i = 0; i < 1000; ++i) runs.push_back(task_run(flow_run_id, i));
  runs[999]["state"]["type"] = "FINISHED";  // the last item is bad
  auto a = call(http_, "POST", "/task_runs/batch", {{"task_runs", runs}});
  EXPECT_EQ(a.status, 422) << a.body.dump();
  EXPECT_EQ(a.body["error"]["field"], "task_runs.999.state.type");
  auto listed = call(http_, "POST", "/task_runs/filter",
                     {{"flow_runs", {{"id", {{"any_", {flow_run_id}}}}}}});
  EXPECT_EQ(listed.body.size(), 0u) << "part of a refused batch was recorded";
  auto events = call(http_, "POST", "/events/filter",
                     {{"filter", {{"event", {{"prefix", {"baton.task-run."}}}}}}});
  EXPECT_EQ(events.body["events"].size(), 0u);

  // More items than a batch may hold: refused whole, naming the list.
  json many = json::array();
  for (int i = 0; i < 10001; ++i) many.push_back(task_run(flow_run_id, i));
  auto b = call(http_, "POST", "/task_runs/batch", {{"task_runs", many}});
  EXPECT_EQ(b.status, 422) << b.body.dump();
  EXPECT_EQ(b.body["error"]["field"], "task_runs");
  EXPECT_EQ(call(http_, "GET", "/task_runs/" + many[0]["id"].get<std::string>()).status, 404);

  runs[999]["state"]["type"] = "COMPLETED";
  auto c = call(http_, "POST", "/task_runs/batch", {{"task_runs", runs}});
  EXPECT_EQ(c.status, 201) << c.body.dump();
  EXPECT_EQ(c.body["recorded"], 1000);
}

TEST_F(ServerHttp, IngestedTaskRunStatesAreStoredAndStreamedAsEvents) {
  WebSocketClient ws(server_.url(), "/events/out", "");
  ws.send(R"({"type": "filter", "filter": {"event": {"prefix": ["baton.task-run."]}}})");
  ASSERT_FALSE(next_message(ws, "subscribed").is_null());
  std::string flow_run_id = create_flow_run()["id"];
  json runs =
      json::array({task_run(flow_run_id, 1, "PENDING", 1), task_run(flow_run_id, 1, "RUNNING", 2),
                   task_run(flow_run_id, 2, "FAILED", 3)});
  ASSERT_EQ(call(http_, "POST", "/task_runs/batch", {{"task_runs", runs}}).status, 201);
  ASSERT_EQ(call(http_, "POST", "/task_runs/", task_run(flow_run_id, 1, "COMPLETED", 4)).status,
            201);

  std::vector<std::string> streamed;
  for (int i = 0; i < 4; ++i) {
    json m = next_message(ws, "event");
    ASSERT_FALSE(m.is_null());
    streamed.push_back(m["event"]["event"].get<std::string>() + " " +
                       m["event"]["resource"]["baton.resource.id"].get<std::string>());
  }
  std::string one = "baton.task-run." + runs[0]["id"].get<std::string>();
  std::string two = "baton.task-run." + runs[2]["id"].get<std::string>();
  EXPECT_EQ(streamed, (std::vector<std::string>{
                          "baton.task-run.Pending " + one, "baton.task-run.Running " + one,
                          "baton.task-run.Failed " + two, "baton.task-run.Completed " + one}));

  auto stored =
      call(http_, "POST", "/events/filter", {{"filter", {{"resource", {{"id", {one}}}}}}});
  ASSERT_EQ(stored.status, 200) << stored.body.dump();
  ASSERT_EQ(stored.body["events"].size(), 3u);
  std::vector<std::string> names;
  for (const auto& e : stored.body["events"]) names.push_back(e["event"]);
  EXPECT_EQ(names, (std::vector<std::string>{"baton.task-run.Pending", "baton.task-run.Running",
                                             "baton.task-run.Completed"}));
  const json& last = stored.body["events"][2];
  EXPECT_EQ(last["payload"]["validated_state"]["type"], "COMPLETED");
  EXPECT_EQ(last["resource"]["baton.resource.name"], "k-1");
  EXPECT_EQ(last["resource"]["baton.state-type"], "COMPLETED");
}

class ServerAuth : public ::testing::Test {
 protected:
  ServerProcess server_{{.env = {{"BATON_SERVER_API_KEY", "s3cret-key"}}}};
};

struct AuthCase {
  const char* name;
  const char* key;
  const char* method;
  const char* target;
  int status;
};

class ServerAuthCases : public ServerAuth, public ::testing::WithParamInterface<AuthCase> {};

TEST_P(ServerAuthCases, OnlyHealthIsOpen) {
  const auto& c = GetParam();
  HttpClient http(server_.url(), c.key);
  auto a = call(http, c.method, c.target,
                std::string(c.method) == "POST" ? json::object() : json(nullptr));
  EXPECT_EQ(a.status, c.status) << a.body.dump();
  if (c.status == 401) {
    EXPECT_EQ(a.body["error"]["code"], "unauthorized");
    // Nothing about the route or the key leaks into the answer.
    EXPECT_EQ(a.body["error"]["message"], "missing or invalid API key");
  }
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ServerAuthCases,
    ::testing::Values(AuthCase{"health_without_key", "", "GET", "/health", 200},
                      AuthCase{"version_without_key", "", "GET", "/version", 401},
                      AuthCase{"filter_without_key", "", "POST", "/flow_runs/filter", 401},
                      AuthCase{"unknown_route_without_key", "", "GET", "/secret/admin", 401},
                      AuthCase{"wrong_key", "wrong", "GET", "/version", 401},
                      AuthCase{"key_prefix", "s3cret", "GET", "/version", 401},
                      AuthCase{"key_longer", "s3cret-key2", "GET", "/version", 401},
                      AuthCase{"right_key", "s3cret-key", "GET", "/version", 200},
                      AuthCase{"right_key_filter", "s3cret-key", "POST", "/flow_runs/filter", 200},
                      AuthCase{"right_key_unknown_route", "s3cret-key", "GET", "/secret/admin",
                               404}),
    [](const auto& info) { return std::string(info.param.name); });

TEST_F(ServerAuth, WebSocketNeedsTheKeyToo) {
  EXPECT_THROW(
      {
        try {
          WebSocketClient ws(server_.url(), "/events/out", "wrong");
        } catch (const Error& e) {
          EXPECT_EQ(e.kind(), ErrorKind::kUnauthorized);
          throw;
        }
      },
      Error);
  WebSocketClient ok(server_.url(), "/events/out", "s3cret-key");
  EXPECT_TRUE(ok.is_open());
}

// What a key-protected server asks of its clients: the CLI and the SDK's client (make_client())
// send BATON_API_KEY; without it, or with a wrong one, they fail with a one-line error that
// reveals nothing (CLI exit code 1, baton::Error kUnauthorized).
TEST_F(ServerAuth, TheCliAndTheSdkClientSendBatonApiKey) {
  HttpClient admin(server_.url(), "s3cret-key");
  std::string id = call(admin, "POST", "/flow_runs/", {{"flow_name", "guarded"}}).body["id"];

  auto with_key =
      testing::run_baton({"flow-run", "inspect", id, "--json"},
                         {{"BATON_API_URL", server_.url()}, {"BATON_API_KEY", "s3cret-key"}});
  EXPECT_EQ(with_key.exit_code, 0) << with_key.err;
  EXPECT_NE(with_key.out.find(id), std::string::npos) << with_key.out;
  for (const char* key : {"", "wrong-key"}) {
    auto refused = testing::run_baton({"flow-run", "inspect", id},
                                      {{"BATON_API_URL", server_.url()}, {"BATON_API_KEY", key}});
    EXPECT_EQ(refused.exit_code, 1) << "key '" << key << "': " << refused.err;
    EXPECT_NE(refused.err.find("missing or invalid API key"), std::string::npos) << refused.err;
    EXPECT_EQ(refused.out.find(id), std::string::npos) << refused.out;
  }

  // make_client() reads the same two variables (restored afterwards: other tests of this process
  // must not see them).
  struct Environment {
    Environment(const std::string& url, const char* key) {
      setenv("BATON_API_URL", url.c_str(), 1);
      setenv("BATON_API_KEY", key, 1);
    }
    ~Environment() {
      unsetenv("BATON_API_URL");
      unsetenv("BATON_API_KEY");
    }
  };
  {
    Environment env(server_.url(), "s3cret-key");
    auto client = make_client();
    auto run = client->read_flow_run(id);
    ASSERT_TRUE(run);
    EXPECT_EQ(run->flow_name, "guarded");
  }
  {
    Environment env(server_.url(), "wrong-key");
    auto client = make_client();
    try {
      client->read_flow_run(id);
      ADD_FAILURE() << "a wrong key read a flow run";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kUnauthorized) << e.what();
    }
  }
}

TEST(ServerAuthFile, KeyFromAFile) {
  testing::FreshDir keyfile("keyfile");
  const std::string& dir = keyfile.path();
  {
    std::FILE* f = std::fopen((dir + "/key").c_str(), "w");
    std::fputs("  from-file\n", f);
    std::fclose(f);
  }
  ServerProcess server(
      {.env = {{"BATON_SERVER_API_KEY_FILE", dir + "/key"}, {"BATON_SERVER_API_KEY", ""}}});
  HttpClient without(server.url(), ""), with(server.url(), "from-file");
  EXPECT_EQ(call(without, "GET", "/version").status, 401);
  EXPECT_EQ(call(with, "GET", "/version").status, 200);
}

// Reads messages until one of `type` arrives (bounded).
json next_message(WebSocketClient& ws, const std::string& type) {
  for (int i = 0; i < 50; ++i) {
    auto text = ws.receive(std::chrono::seconds(10));
    if (!text) break;
    json m = json::parse(*text);
    if (m["type"] == type) return m;
  }
  return nullptr;
}

TEST_F(ServerHttp, EventStreamDeliversStateChangesLive) {
  WebSocketClient ws(server_.url(), "/events/out", "");
  ws.send(R"({"type": "filter", "filter": {"event": {"prefix": ["baton.flow-run."]}}})");
  ASSERT_FALSE(next_message(ws, "subscribed").is_null());
  json run = create_flow_run();
  std::string id = run["id"];
  set_state(id, "RUNNING");
  // Task-run events do not match the filter and are not delivered.
  call(http_, "POST", "/task_runs/batch",
       {{"task_runs",
         {{{"id", "0190a6e2-7c3f-7b41-8d2e-000000000009"},
           {"flow_run_id", id},
           {"task_key", "t"},
           {"state", {{"type", "RUNNING"}}}}}}});
  set_state(id, "COMPLETED");
  std::vector<std::string> names;
  for (int i = 0; i < 3; ++i) {
    json m = next_message(ws, "event");
    ASSERT_FALSE(m.is_null());
    EXPECT_EQ(m["event"]["resource"]["baton.resource.id"], "baton.flow-run." + id);
    names.push_back(m["event"]["event"]);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"baton.flow-run.Pending", "baton.flow-run.Running",
                                             "baton.flow-run.Completed"}));
}

TEST_F(ServerHttp, EventStreamRejectsABadFilterAndStaysOpen) {
  WebSocketClient ws(server_.url(), "/events/out", "");
  ws.send("not json");
  EXPECT_EQ(next_message(ws, "error")["error"]["code"], "malformed");
  ws.send(R"({"type": "filter", "filter": {"event": {"prefix": "baton."}}})");
  EXPECT_EQ(next_message(ws, "error")["error"]["field"], "filter.event.prefix");
  ws.send(R"({"type": "filter", "filter": {}})");
  EXPECT_FALSE(next_message(ws, "subscribed").is_null());
}

TEST_F(ServerHttp, EventsArePostedStoredAndFiltered) {
  json mine{{"event", "shop.order.placed"},
            {"resource", {{"baton.resource.id", "shop.order.17"}}},
            {"payload", {{"total", 12.5}}}};
  ASSERT_EQ(call(http_, "POST", "/events", mine).status, 204);
  json two = json::array({mine, mine});
  two[1]["resource"]["baton.resource.id"] = "shop.order.18";
  ASSERT_EQ(call(http_, "POST", "/events", two).status, 204);
  create_flow_run();
  auto found =
      call(http_, "POST", "/events/filter", {{"filter", {{"event", {{"prefix", {"shop."}}}}}}});
  ASSERT_EQ(found.status, 200) << found.body.dump();
  ASSERT_EQ(found.body["events"].size(), 3u);
  EXPECT_EQ(found.body["events"][0]["payload"]["total"], 12.5);
  auto one = call(http_, "POST", "/events/filter",
                  {{"filter", {{"resource", {{"id", {"shop.order.18"}}}}}}});
  EXPECT_EQ(one.body["events"].size(), 1u);
  auto runs = call(http_, "POST", "/events/filter",
                   {{"filter", {{"event", {{"name", {"baton.flow-run.Pending"}}}}}}});
  EXPECT_EQ(runs.body["events"].size(), 1u);
}

// A flow run's creation and each accepted transition are stored with their event before the
// answer: the events are there, in order, as soon as the requests return; a refusal adds none.
TEST_F(ServerHttp, TransitionEventsAreStoredWhenTheTransitionIsAnswered) {
  json run = create_flow_run("evented", {{"state", {{"type", "SCHEDULED"}}}});
  std::string id = run["id"];
  for (const char* type : {"PENDING", "RUNNING"}) ASSERT_EQ(set_state(id, type).status, 201);
  ASSERT_EQ(set_state(id, "COMPLETED", {{"data", 7}}).status, 201);
  auto refused = set_state(id, "RUNNING");
  ASSERT_EQ(refused.status, 200);
  EXPECT_EQ(refused.body["status"], "REJECT");
  auto found = call(http_, "POST", "/events/filter",
                    {{"filter", {{"resource", {{"id", {"baton.flow-run." + id}}}}}}});
  ASSERT_EQ(found.status, 200) << found.body.dump();
  std::vector<std::string> names;
  for (const auto& e : found.body["events"]) names.push_back(e["event"]);
  EXPECT_EQ(names,
            (std::vector<std::string>{"baton.flow-run.Scheduled", "baton.flow-run.Pending",
                                      "baton.flow-run.Running", "baton.flow-run.Completed"}));
  const json& last = found.body["events"].back();
  EXPECT_EQ(last["resource"]["baton.state-type"], "COMPLETED");
  EXPECT_EQ(last["payload"]["validated_state"]["type"], "COMPLETED");
  EXPECT_EQ(found.body["events"].front()["resource"]["baton.resource.name"], run["name"]);
}

// Concurrent clients through the group commit: every creation and transition is answered with
// its own outcome, each run ends Completed with its whole history and its four events, and the
// server is still up afterwards. Bounded: 8 clients x 10 runs x 4 requests. With several network
// threads the clients' connections are spread over them, and one group commit answers requests
// read by different threads.
void expect_concurrent_runs_decided_stored_and_evented(const ServerProcess& server) {
  constexpr int kClients = 8, kRunsEach = 10;
  std::vector<std::vector<std::string>> ids(kClients);
  std::vector<int> failures(kClients, 0);
  std::vector<std::thread> threads;
  for (int c = 0; c < kClients; ++c) {
    threads.emplace_back([&, c] {
      HttpClient http(server.url(), "");
      for (int i = 0; i < kRunsEach; ++i) {
        auto created = call(http, "POST", "/flow_runs/",
                            {{"flow_name", "crowd"}, {"state", {{"type", "SCHEDULED"}}}});
        if (created.status != 201) {
          ++failures[c];
          continue;
        }
        std::string id = created.body["id"];
        ids[c].push_back(id);
        for (const char* type : {"PENDING", "RUNNING", "COMPLETED"}) {
          auto r =
              call(http, "POST", "/flow_runs/" + id + "/set_state", {{"state", {{"type", type}}}});
          if (r.status != 201 || r.body["status"] != "ACCEPT") ++failures[c];
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int c = 0; c < kClients; ++c) EXPECT_EQ(failures[c], 0) << "client " << c;
  HttpClient http(server.url(), "");
  for (const auto& mine : ids) {
    ASSERT_EQ(mine.size(), static_cast<size_t>(kRunsEach));
    for (const auto& id : mine) {
      auto run = call(http, "GET", "/flow_runs/" + id);
      ASSERT_EQ(run.status, 200);
      EXPECT_EQ(run.body["state_type"], "COMPLETED");
      auto history = call(http, "GET", "/flow_run_states/?flow_run_id=" + id);
      EXPECT_EQ(history.body.size(), 4u);
      auto events = call(http, "POST", "/events/filter",
                         {{"filter", {{"resource", {{"id", {"baton.flow-run." + id}}}}}}});
      EXPECT_EQ(events.body["events"].size(), 4u);
    }
  }
  EXPECT_EQ(call(http, "GET", "/health").status, 200);
}

TEST_F(ServerHttp, ConcurrentRunsAreEachDecidedStoredAndEvented) {
  expect_concurrent_runs_decided_stored_and_evented(server_);
}

TEST(ServerNetworkThreads, ConcurrentRunsAreEachDecidedStoredAndEventedOverThreeThreads) {
  ServerProcess server({.args = {"--network-threads", "3"}});
  expect_concurrent_runs_decided_stored_and_evented(server);
  EXPECT_EQ(server.stop(), 0);
}

TEST(ServerNetworkThreads, AnOutOfRangeCountIsRefusedWithExitCode2) {
  for (const char* bad : {"0", "-1", "100000", "many"}) {
    auto r = testing::run_baton({"server", "start", "--port", "0", "--network-threads", bad});
    EXPECT_EQ(r.exit_code, 2) << bad << ": " << r.err;
    EXPECT_NE(r.err.find("--network-threads"), std::string::npos) << r.err;
  }
}

TEST(ServerLifecycle, StopsCleanlyOnSigtermAndKeepsAcceptedStates) {
  testing::FreshDir lifecycle("lifecycle");
  const std::string& home = lifecycle.path();
  std::string id;
  {
    ServerProcess server({.home = home});
    HttpClient http(server.url(), "");
    auto run = call(http, "POST", "/flow_runs/", {{"flow_name", "etl"}});
    id = run.body["id"];
    EXPECT_EQ(
        call(http, "POST", "/flow_runs/" + id + "/set_state", {{"state", {{"type", "RUNNING"}}}})
            .body["status"],
        "ACCEPT");
    // A request in flight while the stop signal arrives is still answered.
    std::thread stopper([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      EXPECT_EQ(server.stop(), 0);
    });
    json logs = json::array();
    for (int i = 0; i < 2000; ++i)
      logs.push_back({{"flow_run_id", id}, {"level", 20}, {"message", "x"}});
    Answer a{0, nullptr};
    try {
      a = call(http, "POST", "/logs/", logs);
    } catch (const Error&) {
      // The request may have arrived after the listener closed: then it was never accepted.
    }
    stopper.join();
    if (a.status != 0) {
      EXPECT_EQ(a.status, 201);
    }
    EXPECT_NE(server.output().find("Baton server stopped"), std::string::npos) << server.output();
  }
  ServerProcess again({.home = home});
  HttpClient http(again.url(), "");
  auto read = call(http, "GET", "/flow_runs/" + id);
  ASSERT_EQ(read.status, 200);
  EXPECT_EQ(read.body["state_type"], "RUNNING");
}

// Ctrl-C in a terminal is SIGINT: the same clean stop as SIGTERM, what was accepted kept.
TEST(ServerLifecycle, StopsCleanlyOnSigintToo) {
  testing::FreshDir lifecycle("lifecycle-sigint");
  std::string id;
  {
    ServerProcess server({.home = lifecycle.path()});
    HttpClient http(server.url(), "");
    id = call(http, "POST", "/flow_runs/", {{"flow_name", "etl"}}).body["id"];
    ASSERT_EQ(
        call(http, "POST", "/flow_runs/" + id + "/set_state", {{"state", {{"type", "RUNNING"}}}})
            .body["status"],
        "ACCEPT");
    EXPECT_EQ(server.stop(SIGINT), 0);
    EXPECT_NE(server.output().find("Baton server stopped"), std::string::npos) << server.output();
  }
  ServerProcess again({.home = lifecycle.path()});
  HttpClient http(again.url(), "");
  EXPECT_EQ(call(http, "GET", "/flow_runs/" + id).body["state_type"], "RUNNING");
}

// Writes in flight when the stop signal arrives (the group commit runs on the network threads,
// and stop() lets the commits it accepted finish): every transition answered ACCEPT is in the
// database after a restart, and the server exits cleanly. Bounded: 8 clients, at most 200 runs
// each, the stop after 100 ms.
TEST(ServerLifecycle, TransitionsAnsweredDuringAStopAreDurable) {
  static const std::vector<std::string> kSequence = {"SCHEDULED", "PENDING", "RUNNING",
                                                     "COMPLETED"};
  constexpr int kClients = 8, kMaxRuns = 200;
  testing::FreshDir stop_under_load("stop-under-load");
  const std::string& home = stop_under_load.path();
  // Per client: each run's id and the index in kSequence of its last accepted state.
  std::vector<std::vector<std::pair<std::string, size_t>>> accepted(kClients);
  std::atomic<int> answered{0};
  {
    ServerProcess server({.home = home});
    std::vector<std::thread> threads;
    for (int c = 0; c < kClients; ++c) {
      threads.emplace_back([&, c] {
        HttpClient http(server.url(), "", std::chrono::seconds(10));
        try {
          for (int i = 0; i < kMaxRuns; ++i) {
            auto created = call(http, "POST", "/flow_runs/",
                                {{"flow_name", "stopping"}, {"state", {{"type", "SCHEDULED"}}}});
            if (created.status != 201) return;
            accepted[c].emplace_back(created.body["id"], 0);
            ++answered;
            for (size_t k = 1; k < kSequence.size(); ++k) {
              auto r = call(http, "POST",
                            "/flow_runs/" + accepted[c].back().first + "/set_state",
                            {{"state", {{"type", kSequence[k]}}}});
              if (r.status != 201) return;
              accepted[c].back().second = k;
              ++answered;
            }
          }
        } catch (const Error&) {
          // The server stopped listening: requests from here on were never accepted.
        }
      });
    }
    while (answered < 40) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    EXPECT_EQ(server.stop(), 0) << server.output();
    for (auto& t : threads) t.join();
  }
  ServerProcess again({.home = home});
  HttpClient http(again.url(), "");
  size_t runs = 0;
  for (const auto& mine : accepted) {
    for (const auto& [id, last] : mine) {
      ++runs;
      auto read = call(http, "GET", "/flow_runs/" + id);
      ASSERT_EQ(read.status, 200) << id;
      // At least the last answered state; a later one when its answer was cut off by the stop.
      auto at = std::find(kSequence.begin(), kSequence.end(), read.body["state_type"]);
      ASSERT_NE(at, kSequence.end()) << read.body.dump();
      EXPECT_GE(static_cast<size_t>(at - kSequence.begin()), last) << id;
    }
  }
  EXPECT_GT(runs, 0u);
}

namespace {
// One raw HTTP exchange over a plain socket: the bytes the server answers, up to `until` (the
// end of one answer) or until it closes the connection.
class RawConnection {
 public:
  explicit RawConnection(const std::string& url) {
    auto port = std::stoi(url.substr(url.rfind(':') + 1));
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval timeout{5, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  }
  ~RawConnection() { ::close(fd_); }
  bool connected() const { return connected_; }
  // Sends `request` and reads one whole answer (headers and Content-Length bytes of body).
  std::string exchange(const std::string& request) {
    EXPECT_EQ(::send(fd_, request.data(), request.size(), 0),
              static_cast<ssize_t>(request.size()));
    std::string in;
    char buf[4096];
    for (;;) {
      auto end = in.find("\r\n\r\n");
      if (end != std::string::npos) {
        size_t length = 0;
        if (auto at = in.find("Content-Length: "); at != std::string::npos && at < end)
          length = std::stoul(in.substr(at + 16));
        if (in.size() >= end + 4 + length) return in;
      }
      auto n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return in;
      in.append(buf, static_cast<size_t>(n));
    }
  }
  // True when the server closes the connection (nothing more to read).
  bool closed_by_server() {
    char c;
    return ::recv(fd_, &c, 1, 0) == 0;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

struct WireCase {
  std::string name;
  std::string request;  // "{run}": a flow run's id; "{length}": the body's length
  std::string status_line;              // the answer's first line
  std::vector<std::string> present;     // header lines the answer has
  std::vector<std::string> absent;      // header names it must not have
  std::string body;                     // how the body starts; empty: there is none
  bool closes = false;                  // the server closes the connection after answering
};

class ServerWire : public ::testing::TestWithParam<WireCase> {};
}  // namespace

// The answer's bytes as HTTP/1.x clients read them: status line, Content-Length matching the
// body, Connection headers by version and keep-alive, no body or length on 204, and a kept-alive
// connection answers a second request.
TEST_P(ServerWire, AnswersAreWellFormedHttp) {
  const WireCase& c = GetParam();
  ServerProcess server;
  HttpClient http(server.url(), "");
  auto run = call(http, "POST", "/flow_runs/", {{"flow_name", "wire"}});
  std::string request = c.request;
  if (auto at = request.find("{run}"); at != std::string::npos)
    request.replace(at, 5, run.body["id"].get<std::string>());
  if (auto at = request.find("{length}"); at != std::string::npos)
    request.replace(at, 8, std::to_string(request.substr(request.find("\r\n\r\n") + 4).size()));
  RawConnection conn(server.url());
  ASSERT_TRUE(conn.connected());
  std::string answer = conn.exchange(request);
  auto head_end = answer.find("\r\n\r\n");
  ASSERT_NE(head_end, std::string::npos) << answer;
  std::string head = answer.substr(0, head_end + 2);
  EXPECT_EQ(head.substr(0, head.find("\r\n")), c.status_line) << head;
  for (const auto& line : c.present)
    EXPECT_NE(head.find("\r\n" + line + "\r\n"), std::string::npos) << line << " in\n" << head;
  for (const auto& name : c.absent)
    EXPECT_EQ(head.find("\r\n" + name + ":"), std::string::npos) << name << " in\n" << head;
  std::string body = answer.substr(head_end + 4);
  if (c.body.empty()) {
    EXPECT_TRUE(body.empty()) << body;
  } else {
    EXPECT_EQ(body.substr(0, c.body.size()), c.body);
  }
  if (auto at = head.find("Content-Length: "); at != std::string::npos) {
    EXPECT_EQ(std::stoul(head.substr(at + 16)), body.size()) << head;
  }
  if (c.closes) {
    EXPECT_TRUE(conn.closed_by_server());
  } else {
    std::string again = conn.exchange("GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(again.substr(0, again.find("\r\n")), "HTTP/1.1 200 OK") << again;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ServerWire,
    ::testing::Values(
        WireCase{"health_1_1",
                 "GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n",
                 "HTTP/1.1 200 OK",
                 {"Content-Length: 4", "Content-Type: application/json", "Server: baton"},
                 {"Connection"},
                 "true"},
        WireCase{"close_1_1",
                 "GET /api/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                 "HTTP/1.1 200 OK",
                 {"Content-Length: 4", "Connection: close"},
                 {},
                 "true",
                 true},
        WireCase{"keep_alive_1_0",
                 "GET /api/health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
                 "HTTP/1.0 200 OK",
                 {"Content-Length: 4", "Connection: keep-alive"},
                 {},
                 "true"},
        WireCase{"close_1_0", "GET /api/health HTTP/1.0\r\n\r\n", "HTTP/1.0 200 OK",
                 {"Content-Length: 4"}, {"Connection"}, "true", true},
        WireCase{"no_content",
                 "DELETE /api/flow_runs/{run} HTTP/1.1\r\nHost: x\r\n\r\n",
                 "HTTP/1.1 204 No Content",
                 {"Server: baton"},
                 {"Content-Length", "Content-Type"},
                 ""},
        WireCase{"transition",
                 "POST /api/flow_runs/{run}/set_state HTTP/1.1\r\nHost: x\r\n"
                 "Content-Length: {length}\r\n\r\n{\"state\":{\"type\":\"RUNNING\"}}",
                 "HTTP/1.1 201 Created",
                 {"Content-Type: application/json"},
                 {"Connection"},
                 R"({"status":"ACCEPT","state":{"type":"RUNNING",)"},
        WireCase{"not_found",
                 "GET /api/nowhere HTTP/1.1\r\nHost: x\r\n\r\n",
                 "HTTP/1.1 404 Not Found",
                 {"Content-Type: application/json"},
                 {},
                 R"({"error":{"code":"not_found","field":null,"message":"no route GET /api/nowhere"}})"}),
    [](const auto& info) { return info.param.name; });

TEST(ServerCli, StatusCancelAndEventStream) {
  ServerProcess server;
  std::map<std::string, std::string> env{{"BATON_API_URL", server.url()}};
  auto status = testing::run_baton({"server", "status"}, env);
  EXPECT_EQ(status.exit_code, 0) << status.err;
  EXPECT_NE(status.out.find("running at " + server.url()), std::string::npos) << status.out;

  HttpClient http(server.url(), "");
  std::string id = call(http, "POST", "/flow_runs/", {{"flow_name", "etl"}}).body["id"];
  call(http, "POST", "/flow_runs/" + id + "/set_state", {{"state", {{"type", "RUNNING"}}}});
  auto cancel = testing::run_baton({"flow-run", "cancel", id}, env);
  EXPECT_EQ(cancel.exit_code, 0) << cancel.err;
  auto read = call(http, "GET", "/flow_runs/" + id);
  EXPECT_TRUE(read.body["state_type"] == "CANCELLING" || read.body["state_type"] == "CANCELLED")
      << read.body.dump();
  auto unknown = testing::run_baton({"flow-run", "cancel", kMissingRun}, env);
  EXPECT_EQ(unknown.exit_code, 2);

  auto nowhere =
      testing::run_baton({"server", "status"}, {{"BATON_API_URL", "http://127.0.0.1:9/api"}});
  EXPECT_EQ(nowhere.exit_code, 1);
  EXPECT_NE(nowhere.err.find("cannot reach"), std::string::npos) << nowhere.err;
}

}  // namespace
}  // namespace baton
