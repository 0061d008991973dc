// Variables, artifacts and concurrency limits over HTTP against the real server binary.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "client/http_client.h"
#include "server_process.h"

namespace baton {
namespace {
using nlohmann::json;
using testing::Answer;
using testing::ServerProcess;

class Resources : public ::testing::Test {
 protected:
  ServerProcess server_;
  HttpClient http_{server_.url(), ""};

  Answer call(const std::string& method, const std::string& target, const json& body = nullptr) {
    return testing::call(http_, method, target, body);
  }
};

TEST_F(Resources, VariablesCreateReadUpdateDelete) {
  auto made =
      call("POST", "/variables/",
           {{"name", "db_url"}, {"value", {{"host", "h"}, {"port", 5432}}}, {"tags", {"prod"}}});
  ASSERT_EQ(made.status, 201) << made.body.dump();
  EXPECT_EQ(call("POST", "/variables/", {{"name", "db_url"}, {"value", 1}}).status, 409);
  auto read = call("GET", "/variables/name/db_url");
  EXPECT_EQ(read.body["value"]["port"], 5432);
  EXPECT_EQ(call("GET", "/variables/" + made.body["id"].get<std::string>()).body["name"], "db_url");
  EXPECT_EQ(call("PATCH", "/variables/name/db_url", {{"value", "postgres://x"}}).status, 204);
  read = call("GET", "/variables/name/db_url");
  EXPECT_EQ(read.body["value"], "postgres://x");
  EXPECT_EQ(read.body["tags"], json::array({"prod"}));
  call("POST", "/variables/", {{"name", "other"}, {"value", true}});
  auto listed = call("POST", "/variables/filter", {{"variables", {{"name", {{"like_", "db"}}}}}});
  ASSERT_EQ(listed.body.size(), 1u);
  EXPECT_EQ(call("POST", "/variables/filter", json::object()).body.size(), 2u);
  EXPECT_EQ(call("DELETE", "/variables/name/db_url").status, 204);
  EXPECT_EQ(call("GET", "/variables/name/db_url").status, 404);
  EXPECT_EQ(call("DELETE", "/variables/name/db_url").status, 404);
}

TEST_F(Resources, ArtifactsKeepHistoryPerKey) {
  auto v1 = call("POST", "/artifacts/",
                 {{"key", "daily-report"}, {"type", "markdown"}, {"data", "# v1"}});
  ASSERT_EQ(v1.status, 201) << v1.body.dump();
  auto v2 = call("POST", "/artifacts/",
                 {{"key", "daily-report"},
                  {"type", "table"},
                  {"data", {{{"a", 1}, {"b", 2}}, {{"a", 3}, {"b", 4}}}}});
  ASSERT_EQ(v2.status, 201) << v2.body.dump();
  call("POST", "/artifacts/", {{"type", "link"}, {"data", "https://example.org/run"}});
  auto latest = call("GET", "/artifacts/daily-report/latest");
  EXPECT_EQ(latest.body["id"], v2.body["id"]);
  auto history =
      call("POST", "/artifacts/filter",
           {{"artifacts", {{"key", {{"any_", {"daily-report"}}}}}}, {"sort", "CREATED_ASC"}});
  ASSERT_EQ(history.body.size(), 2u);
  EXPECT_EQ(history.body[0]["data"], "# v1");
  EXPECT_EQ(call("POST", "/artifacts/latest/filter", json::object()).body.size(), 1u);
  EXPECT_EQ(call("POST", "/artifacts/filter", json::object()).body.size(), 3u);
  EXPECT_EQ(call("DELETE", "/artifacts/" + v2.body["id"].get<std::string>()).status, 204);
  EXPECT_EQ(call("GET", "/artifacts/daily-report/latest").body["id"], v1.body["id"]);
}

TEST_F(Resources, ProgressArtifactsAdvanceThroughPatch) {
  auto made =
      call("POST", "/artifacts/", {{"key", "load-progress"}, {"type", "progress"}, {"data", 0}});
  ASSERT_EQ(made.status, 201) << made.body.dump();
  const std::string path = "/artifacts/" + made.body["id"].get<std::string>();
  EXPECT_EQ(call("PATCH", path, {{"data", 42.5}}).status, 204);
  auto read = call("GET", path);
  EXPECT_EQ(read.body["data"], 42.5);
  EXPECT_EQ(read.body["description"], nullptr);
  EXPECT_EQ(read.body["type"], "progress");
  EXPECT_GE(read.body["updated"].get<std::string>(), read.body["created"].get<std::string>());
  EXPECT_EQ(call("PATCH", path, {{"data", 100}, {"description", "loaded"}}).status, 204);
  read = call("GET", path);
  EXPECT_EQ(read.body["data"], 100);
  EXPECT_EQ(read.body["description"], "loaded");
  // A rejected change leaves the artifact as it was.
  EXPECT_EQ(call("PATCH", path, {{"data", 101}}).status, 422);
  EXPECT_EQ(call("GET", path).body["data"], 100);
  // The update changes that version in place: still one version under the key.
  EXPECT_EQ(
      call("POST", "/artifacts/filter", {{"artifacts", {{"key", {{"any_", {"load-progress"}}}}}}})
          .body.size(),
      1u);

  auto image =
      call("POST", "/artifacts/", {{"type", "image"}, {"data", "https://example.org/chart.png"}});
  ASSERT_EQ(image.status, 201) << image.body.dump();
  EXPECT_EQ(call("GET", "/artifacts/" + image.body["id"].get<std::string>()).body["data"],
            "https://example.org/chart.png");
  auto by_type =
      call("POST", "/artifacts/filter", {{"artifacts", {{"type", {{"any_", {"image"}}}}}}});
  ASSERT_EQ(by_type.body.size(), 1u);
  EXPECT_EQ(by_type.body[0]["id"], image.body["id"]);

  // The new route and types are in the generated API description.
  auto api = call("GET", "/openapi.json").body;
  EXPECT_TRUE(api["paths"]["/api/artifacts/{id}"].contains("patch")) << api["paths"].dump();
  EXPECT_NE(api.dump().find("progress"), std::string::npos);
}

struct Bad {
  const char* name;
  const char* method;
  const char* target;
  const char* body;
  int status;
  const char* field;
};
const std::string kBigVariable = R"({"name": "big", "value": ")" + std::string(6000, 'x') + "\"}";

class ResourcesBadInput : public Resources, public ::testing::WithParamInterface<Bad> {};

TEST_P(ResourcesBadInput, NamesTheField) {
  const auto& c = GetParam();
  auto r = http_.request(c.method, c.target, c.body);
  json body = json::parse(r.body, nullptr, false);
  EXPECT_EQ(r.status, c.status) << r.body;
  ASSERT_TRUE(body.is_object() && body.contains("error")) << r.body;
  if (c.field) {
    EXPECT_EQ(body["error"]["field"], c.field) << r.body;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ResourcesBadInput,
    ::testing::Values(
        Bad{"variable_bad_name", "POST", "/variables/", R"({"name": "Bad Name", "value": 1})", 422,
            "name"},
        Bad{"variable_no_value", "POST", "/variables/", R"({"name": "x"})", 422, "value"},
        Bad{"variable_too_big", "POST", "/variables/", kBigVariable.c_str(), 422, "value"},
        Bad{"variable_malformed", "POST", "/variables/", "{", 400, nullptr},
        Bad{"artifact_bad_type", "POST", "/artifacts/", R"({"type": "video", "data": "x"})", 422,
            "type"},
        Bad{"artifact_bad_table", "POST", "/artifacts/",
            R"({"type": "table", "data": {"a": [1], "b": [1, 2]}})", 422, "data.b"},
        Bad{"artifact_markdown_not_text", "POST", "/artifacts/",
            R"({"type": "markdown", "data": 5})", 422, "data"},
        Bad{"artifact_bad_key", "POST", "/artifacts/",
            R"({"key": "Has Space", "type": "markdown", "data": "x"})", 422, "key"},
        Bad{"artifact_missing_key", "GET", "/artifacts/nothing-here/latest", "", 404, nullptr},
        Bad{"progress_not_a_number", "POST", "/artifacts/", R"({"type": "progress", "data": "x"})",
            422, "data"},
        Bad{"progress_over_100", "POST", "/artifacts/", R"({"type": "progress", "data": 150})", 422,
            "data"},
        Bad{"image_not_a_url", "POST", "/artifacts/", R"({"type": "image", "data": 3})", 422,
            "data"},
        Bad{"patch_unknown_artifact", "PATCH", "/artifacts/0190a6e2-7c3f-7b41-8d2e-5f3a9c1b2d4e",
            R"({"data": 1})", 404, nullptr},
        Bad{"patch_not_an_id", "PATCH", "/artifacts/not-an-id", R"({"data": 1})", 422, "id"},
        Bad{"patch_unknown_field", "PATCH", "/artifacts/0190a6e2-7c3f-7b41-8d2e-5f3a9c1b2d4e",
            R"({"type": "markdown"})", 422, "type"},
        Bad{"patch_malformed", "PATCH", "/artifacts/0190a6e2-7c3f-7b41-8d2e-5f3a9c1b2d4e", "{", 400,
            nullptr},
        Bad{"limit_negative", "POST", "/v2/concurrency_limits/", R"({"name": "db", "limit": -1})",
            422, "limit"},
        Bad{"limit_missing_name", "POST", "/v2/concurrency_limits/", R"({"limit": 1})", 422,
            "name"},
        Bad{"increment_no_names", "POST", "/v2/concurrency_limits/increment-with-lease",
            R"({"names": [], "slots": 1})", 422, "names"},
        Bad{"increment_bad_mode", "POST", "/v2/concurrency_limits/increment-with-lease",
            R"({"names": ["x"], "slots": 1, "mode": "fast"})", 422, "mode"},
        Bad{"release_unknown", "POST", "/v2/concurrency_limits/decrement-with-lease",
            R"({"lease_id": "0190a6e2-7c3f-7b41-8d2e-5f3a9c1b2d4e"})", 404, nullptr},
        Bad{"tag_limit_missing", "GET", "/concurrency_limits/tag/nope", "", 404, nullptr}),
    [](const auto& info) { return std::string(info.param.name); });

TEST_F(Resources, ConcurrencyLimitLeasesHoldReleaseAndExpire) {
  ASSERT_EQ(call("POST", "/v2/concurrency_limits/", {{"name", "database"}, {"limit", 2}}).status,
            201);
  EXPECT_EQ(call("POST", "/v2/concurrency_limits/", {{"name", "database"}, {"limit", 2}}).status,
            409);
  auto take = [&](int slots, double lease = 300) {
    return call(
        "POST", "/v2/concurrency_limits/increment-with-lease",
        {{"names", {"database", "no-such-limit"}}, {"slots", slots}, {"lease_duration", lease}});
  };
  auto first = take(1);
  ASSERT_EQ(first.status, 200) << first.body.dump();
  std::string lease = first.body["lease_id"];
  auto second = take(1, 1);  // a short lease: expires after a second
  ASSERT_EQ(second.status, 200);
  auto denied = take(1);
  EXPECT_EQ(denied.status, 423);
  EXPECT_EQ(denied.body["error"]["code"], "locked");
  EXPECT_GT(denied.body["retry_after"].get<double>(), 0);
  EXPECT_EQ(call("GET", "/v2/concurrency_limits/database").body["active_slots"], 2);
  EXPECT_EQ(call("GET", "/v2/concurrency_limits/database").body["denied_slots"], 1);
  EXPECT_EQ(take(3).status, 422);  // more than the limit can ever give

  EXPECT_EQ(
      call("POST", "/v2/concurrency_limits/leases/" + lease + "/renew", {{"lease_duration", 60}})
          .status,
      204);
  EXPECT_EQ(
      call("POST", "/v2/concurrency_limits/decrement-with-lease", {{"lease_id", lease}}).status,
      204);
  EXPECT_EQ(
      call("POST", "/v2/concurrency_limits/decrement-with-lease", {{"lease_id", lease}}).status,
      404);
  EXPECT_EQ(take(1).status, 200);  // the released slot

  // The one-second lease frees its slot by expiring (bounded wait, no timing assertion).
  int status = 423;
  for (int i = 0; i < 40 && status == 423; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    status = take(1).status;
  }
  EXPECT_EQ(status, 200);
  EXPECT_EQ(call("DELETE", "/v2/concurrency_limits/database").status, 204);
  EXPECT_EQ(call("GET", "/v2/concurrency_limits/database").status, 404);
}

TEST_F(Resources, RateLimitAdmitsABurstThenDecays) {
  ASSERT_EQ(call("POST", "/v2/concurrency_limits/",
                 {{"name", "api"}, {"limit", 3}, {"slot_decay_per_second", 5}})
                .status,
            201);
  auto take = [&] {
    return call("POST", "/v2/concurrency_limits/increment-with-lease",
                {{"names", {"api"}}, {"slots", 1}, {"mode", "rate"}});
  };
  for (int i = 0; i < 3; ++i) {
    auto a = take();
    EXPECT_EQ(a.status, 200);
    EXPECT_TRUE(a.body["lease_id"].is_null());
  }
  auto denied = take();
  ASSERT_EQ(denied.status, 423);
  double wait = denied.body["retry_after"];
  EXPECT_GT(wait, 0);
  EXPECT_LE(wait, 1.0);
  int status = 423;
  for (int i = 0; i < 40 && status == 423; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    status = take().status;
  }
  EXPECT_EQ(status, 200);
  // A limit without decay cannot be used in rate mode.
  call("POST", "/v2/concurrency_limits/", {{"name", "plain"}, {"limit", 1}});
  auto wrong = call("POST", "/v2/concurrency_limits/increment-with-lease",
                    {{"names", {"plain"}}, {"slots", 1}, {"mode", "rate"}});
  EXPECT_EQ(wrong.status, 422);
  EXPECT_EQ(wrong.body["error"]["field"], "mode");
}

TEST_F(Resources, TagLimitsAreLimitsNamedAfterTheTag) {
  auto made = call("POST", "/concurrency_limits/", {{"tag", "gpu"}, {"concurrency_limit", 1}});
  ASSERT_EQ(made.status, 201) << made.body.dump();
  EXPECT_EQ(made.body["tag"], "gpu");
  EXPECT_EQ(call("POST", "/concurrency_limits/", {{"tag", "gpu"}, {"concurrency_limit", 2}})
                .body["concurrency_limit"],
            2);
  EXPECT_EQ(call("GET", "/concurrency_limits/tag/gpu").body["limit"], 2);
  auto take = [&] {
    return call("POST", "/v2/concurrency_limits/increment-with-lease",
                {{"names", {"tag:gpu", "tag:cpu"}}, {"slots", 1}});
  };
  EXPECT_EQ(take().status, 200);
  EXPECT_EQ(take().status, 200);
  EXPECT_EQ(take().status, 423);
  EXPECT_EQ(call("POST", "/concurrency_limits/filter", json::object()).body.size(), 1u);
  EXPECT_EQ(call("DELETE", "/concurrency_limits/tag/gpu").status, 204);
  EXPECT_EQ(take().status, 200);  // no limit left on the tag
}

TEST_F(Resources, ConcurrentAcquirersNeverOvercommit) {
  call("POST", "/v2/concurrency_limits/", {{"name", "pool"}, {"limit", 3}});
  std::atomic<int> granted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      HttpClient http(server_.url(), "");
      for (int i = 0; i < 5; ++i) {
        auto r = http.request("POST", "/v2/concurrency_limits/increment-with-lease",
                              R"({"names": ["pool"], "slots": 1})");
        if (r.status == 200) granted++;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(granted.load(), 3);
  EXPECT_EQ(call("GET", "/v2/concurrency_limits/pool").body["active_slots"], 3);
}

}  // namespace
}  // namespace baton
