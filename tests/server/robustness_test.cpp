// No request can crash the server: every route of the route table (read from /api/openapi.json,
// which the server generates from that table) gets malformed, random, truncated, wrongly shaped,
// deeply nested and oversized bodies and bad path values. Each answer must be a 4xx in the one
// JSON error shape, and afterwards the server still answers /api/health, has written nothing, and
// stops cleanly.
// Bounded: a fixed seed and a fixed number of requests per route.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>

#include "baton/error.h"
#include "client/http_client.h"
#include "server_process.h"

namespace baton {
namespace {
using nlohmann::json;
using testing::ServerProcess;

struct Target {
  std::string method, path;  // path with its parameters filled in
  json operation;            // the OpenAPI operation object
};

// A well-formed value for a path parameter: an unknown UUID for UUID parameters, a name else.
std::string good_value(const json& operation, const std::string& name) {
  if (operation.contains("parameters"))
    for (const auto& p : operation["parameters"])
      if (p["name"] == name && p["schema"].value("format", "") == "uuid")
        return "0190a6e2-7c3f-7b41-8d2e-5f3a9c1b2d4e";
  return "no-such-thing";
}

std::string fill(std::string path, const std::function<std::string(const std::string&)>& value) {
  for (size_t open; (open = path.find('{')) != std::string::npos;) {
    size_t close = path.find('}', open);
    std::string name = path.substr(open + 1, close - open - 1);
    path.replace(open, close - open + 1, value(name));
  }
  return path;
}

// The routes, relative to the API URL ("/flow_runs/{id}" -> "/flow_runs/0190...").
std::vector<Target> targets(const json& doc) {
  std::vector<Target> out;
  for (const auto& [path, operations] : doc["paths"].items())
    for (const auto& [method, op] : operations.items()) {
      std::string upper = method;
      for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      std::string filled =
          fill(path, [&](const std::string& name) { return good_value(op, name); });
      out.push_back({upper, filled.substr(4), op});  // drop the "/api" the client adds
    }
  return out;
}

class ServerRobustness : public ::testing::Test {
 protected:
  ServerProcess server_;
  HttpClient http_{server_.url(), ""};
  int checked_ = 0;

  // Sends one request and checks the answer is a 4xx in the one error shape.
  void expect_error(const std::string& method, const std::string& target, const std::string& body,
                    const std::string& what, int exact_status = 0) {
    HttpResult r;
    try {
      r = http_.request(method, target, body);
    } catch (const Error& e) {
      ADD_FAILURE() << method << " " << target << " (" << what << "): no answer: " << e.what();
      return;
    }
    ++checked_;
    if (exact_status) {
      EXPECT_EQ(r.status, exact_status) << method << " " << target << " (" << what << ")";
    }
    EXPECT_GE(r.status, 400) << method << " " << target << " (" << what << "): " << r.body;
    EXPECT_LT(r.status, 500) << method << " " << target << " (" << what << "): " << r.body;
    json parsed = json::parse(r.body, nullptr, false);
    ASSERT_TRUE(parsed.is_object() && parsed.contains("error") && parsed["error"].is_object())
        << method << " " << target << " (" << what << "): " << r.body.substr(0, 300);
    const json& e = parsed["error"];
    EXPECT_TRUE(e.contains("code") && e["code"].is_string()) << r.body;
    EXPECT_TRUE(e.contains("message") && e["message"].is_string()) << r.body;
    EXPECT_TRUE(!e.contains("field") || e["field"].is_string() || e["field"].is_null()) << r.body;
  }

  // After every barrage: the server still answers, wrote no record, and stops cleanly (a crash
  // would show as a signal in the exit status).
  void TearDown() override {
    EXPECT_EQ(http_.request("GET", "/health", "").status, 200);
    EXPECT_EQ(http_.request("POST", "/flow_runs/count", "{}").body, "0");
    EXPECT_EQ(http_.request("POST", "/task_runs/count", "{}").body, "0");
    EXPECT_EQ(server_.stop(), 0);
  }

  std::vector<Target> routes() {
    auto r = http_.request("GET", "/openapi.json", "");
    EXPECT_EQ(r.status, 200);
    auto all = targets(json::parse(r.body));
    EXPECT_GT(all.size(), 40u);  // the whole table, not a stub
    return all;
  }
};

// Nesting depth of the deep bodies sent to every route: far beyond what a recursive parser or
// validator survives on a worker thread's stack. kDeepest goes to a few routes only (it costs
// time to parse, not to refuse).
constexpr int kDepth = 20'000;
constexpr int kDeepest = 200'000;

// Bodies that are not JSON at all, whatever the route expects.
std::vector<std::pair<std::string, std::string>> malformed_bodies(std::mt19937& rng) {
  std::vector<std::pair<std::string, std::string>> out{
      {"truncated_object", R"({"name": "etl", "state": {"type": "RUNNING"}, "tags": ["a")"},
      {"truncated_string", R"({"name": "et)"},
      {"trailing_garbage", R"({"name": "etl"} x)"},
      {"single_quotes", "{'name': 'etl'}"},
      {"bare_word", "undefined"},
      {"lone_brace", "{"},
      {"nul_bytes", std::string("{\"a\":\0\0}", 8)},
      {"bad_utf8", "{\"name\": \"\xff\xfe\"}"},
      {"unclosed_deep_nesting", std::string(kDepth, '[')},
  };
  std::uniform_int_distribution<int> len(1, 300), byte(0, 255);
  for (int i = 0; i < 4; ++i) {
    std::string s;
    int n = len(rng);
    for (int k = 0; k < n; ++k) s.push_back(static_cast<char>(byte(rng)));
    if (json::accept(s)) continue;  // a random valid JSON text is not malformed
    out.push_back({"random_bytes_" + std::to_string(i), s});
  }
  return out;
}

TEST_F(ServerRobustness, MalformedBodiesAreRefusedWith400OnEveryRoute) {
  std::mt19937 rng(20240331);
  auto all = routes();
  for (const auto& t : all) {
    if (!t.operation.contains("requestBody")) continue;
    for (const auto& [what, body] : malformed_bodies(rng))
      expect_error(t.method, t.path, body, what, 400);
  }
  EXPECT_GT(checked_, 200);
}

TEST_F(ServerRobustness, WronglyShapedBodiesAreRefusedWith4xxOnEveryRoute) {
  // Valid JSON of the wrong shape for every route: nothing is an array of numbers, a nested
  // mess, or a scalar. Deep nesting that is valid JSON must not exhaust the server's stack.
  std::string deep_array = std::string(kDepth, '[') + std::string(kDepth, ']');
  std::string deep_object;
  for (int i = 0; i < kDepth; ++i) deep_object += "{\"a\":";
  deep_object += "1" + std::string(kDepth, '}');
  const std::vector<std::pair<std::string, std::string>> bodies{
      {"number", "42"},
      {"string", "\"flow_runs\""},
      {"null", "null"},
      {"array_of_numbers", "[1, 2, 3]"},
      {"deep_array", deep_array},
      {"deep_object", deep_object},
      {"deep_in_known_field", R"({"name": )" + deep_array + R"(, "tags": )" + deep_array + "}"},
  };
  for (const auto& t : routes()) {
    if (!t.operation.contains("requestBody")) continue;
    for (const auto& [what, body] : bodies) expect_error(t.method, t.path, body, what);
  }
  EXPECT_GT(checked_, 150);
}

TEST_F(ServerRobustness, BadPathValuesAndMethodsAreRefusedOnEveryRoute) {
  const std::vector<std::pair<std::string, std::string>> values{
      {"not_a_uuid", "42"},
      {"percent_nul", "%00"},
      {"bad_percent", "%ZZ"},
      {"dot_dot", ".."},
      {"encoded_slash", "a%2Fb"},
      {"unicode", "%C3%A9t%C3%A9"},
      {"long", std::string(3000, 'x')},
  };
  for (const auto& t : routes()) {
    // Routes without parameters answer their content; only their methods can be wrong.
    std::string raw_path = t.operation.value("operationId", "");
    raw_path = raw_path.substr(raw_path.find(' ') + 1).substr(4);
    if (raw_path.find('{') == std::string::npos) {
      expect_error("PUT", t.path + "/nested/extra", "", "unknown_subpath");
      continue;
    }
    for (const auto& [what, value] : values) {
      std::string path = fill(raw_path, [&](const std::string&) { return value; });
      std::string body = t.operation.contains("requestBody") ? "{}" : "";
      expect_error(t.method, path, body, what);
    }
  }
  expect_error("GET", "/no/such/route", "", "unknown_route", 404);
  expect_error("PATCH", "/health", "", "wrong_method", 405);
  EXPECT_GT(checked_, 100);
}

TEST_F(ServerRobustness, OversizedBodyIsRefusedAndTheServerStaysUp) {
  ServerProcess small({.args = {"--max-body-bytes", "65536"}});
  HttpClient http(small.url(), "");
  std::string big = "[" + std::string(100'000, ' ') + "]";
  // Repeated: the server answers as soon as it has read the headers and closes while the client
  // may still be sending the body; the client must still read the 413 every time.
  for (int round = 0; round < 5; ++round) {
    for (const char* target : {"/logs/", "/flow_runs/", "/task_runs/batch", "/events"}) {
      auto r = http.request("POST", target, big);
      EXPECT_EQ(r.status, 413) << target;
      EXPECT_EQ(json::parse(r.body, nullptr, false)["error"]["code"], "too_large") << r.body;
    }
  }
  EXPECT_EQ(http.request("GET", "/health", "").status, 200);
  EXPECT_EQ(small.stop(), 0);
}

TEST_F(ServerRobustness, VeryDeepNestingIsRefusedOnTheBusiestRoutes) {
  std::string unclosed(kDeepest, '[');
  std::string closed = unclosed + std::string(kDeepest, ']');
  for (const char* target :
       {"/flow_runs/", "/task_runs/batch", "/logs/", "/events", "/flow_runs/filter"}) {
    expect_error("POST", target, unclosed, "unclosed_200k_deep", 400);
    expect_error("POST", target, closed, "200k_deep");
  }
}

}  // namespace
}  // namespace baton
