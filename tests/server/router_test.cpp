// The route table and schema validation, without a network: matching, parameter extraction,
// error shapes, and the OpenAPI document generated from the same table.
#include "server/router.h"

#include <gtest/gtest.h>

#include "baton/error.h"

namespace baton::server {
namespace {
using nlohmann::json;
namespace s = schema;

struct ValidationCase {
  const char* name;
  json schema;
  json value;
  const char* field;  // nullptr: valid
};

class SchemaValidation : public ::testing::TestWithParam<ValidationCase> {};

TEST_P(SchemaValidation, NamesTheOffendingField) {
  SchemaRegistry reg;
  reg.add("State", s::object({{"type", s::enumeration({"RUNNING", "COMPLETED"})}}, {"type"}));
  const auto& c = GetParam();
  if (!c.field) {
    EXPECT_NO_THROW(reg.validate(c.value, c.schema));
    return;
  }
  try {
    reg.validate(c.value, c.schema);
    FAIL() << "expected a validation error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    EXPECT_EQ(e.field(), c.field) << e.what();
  }
}

const json kRun = s::object({{"name", s::string()},
                             {"tags", s::array(s::string())},
                             {"limit", s::integer(0, 100)},
                             {"id", s::nullable(s::uuid())},
                             {"when", s::date_time()},
                             {"state", {{"$ref", "#/components/schemas/State"}}}},
                            {"name"}, true);

INSTANTIATE_TEST_SUITE_P(
    Cases, SchemaValidation,
    ::testing::Values(
        ValidationCase{"valid", kRun, {{"name", "a"}, {"tags", {"x"}}, {"limit", 5}}, nullptr},
        ValidationCase{"null_allowed", kRun, {{"name", "a"}, {"id", nullptr}}, nullptr},
        ValidationCase{"missing_required", kRun, json::object(), "name"},
        ValidationCase{"wrong_type", kRun, {{"name", 3}}, "name"},
        ValidationCase{"array_item", kRun, {{"name", "a"}, {"tags", {"x", 2}}}, "tags.1"},
        ValidationCase{"below_minimum", kRun, {{"name", "a"}, {"limit", -1}}, "limit"},
        ValidationCase{"above_maximum", kRun, {{"name", "a"}, {"limit", 101}}, "limit"},
        ValidationCase{"not_uuid", kRun, {{"name", "a"}, {"id", "nope"}}, "id"},
        ValidationCase{"bad_time", kRun, {{"name", "a"}, {"when", "yesterday"}}, "when"},
        ValidationCase{"unknown_member", kRun, {{"name", "a"}, {"nmae", 1}}, "nmae"},
        ValidationCase{
            "ref_enum", kRun, {{"name", "a"}, {"state", {{"type", "BOGUS"}}}}, "state.type"},
        ValidationCase{
            "ref_required", kRun, {{"name", "a"}, {"state", json::object()}}, "state.type"},
        ValidationCase{"body_not_object", kRun, json::array(), ""}),
    [](const auto& info) { return std::string(info.param.name); });

Router sample_router() {
  Router router;
  router.add({.method = "GET",
              .path = "/api/things/{id}",
              .tag = "Things",
              .summary = "Read",
              .parameters = {{"id", "path", s::uuid(), true, ""}},
              .handler = [](Request& r) {
                return Response::json({{"id", r.path_params.at("id")}});
              }});
  router.add({.method = "POST",
              .path = "/api/things/",
              .tag = "Things",
              .summary = "Create",
              .request_schema = s::object({{"name", s::string()}}, {"name"}),
              .success_status = 201,
              .handler = [](Request& r) { return Response::json(r.json); }});
  router.add({.method = "GET",
              .path = "/api/boom",
              .tag = "Things",
              .summary = "Fails",
              .handler = [](Request&) -> Response { throw std::runtime_error("secret detail"); }});
  return router;
}

Response run(const Router& router, std::string method, std::string path, std::string body = {}) {
  Request r;
  r.method = std::move(method);
  r.path = std::move(path);
  r.body = std::move(body);
  auto m = router.match(r);
  if (!m.route) return *m.error;
  return router.execute(*m.route, r);
}

TEST(Router, MatchesPathParametersAndTrailingSlashes) {
  auto router = sample_router();
  auto r = run(router, "GET", "/api/things/0190a6e2-7c3f-7b41-8d2e-5f3a9c1b2d4e");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body["id"], "0190a6e2-7c3f-7b41-8d2e-5f3a9c1b2d4e");
  EXPECT_EQ(run(router, "POST", "/api/things", R"({"name":"x"})").status, 201);
  EXPECT_EQ(run(router, "POST", "/api/things/", R"({"name":"x"})").status, 201);
}

struct ErrorCase {
  const char* name;
  const char* method;
  const char* path;
  const char* body;
  int status;
  const char* code;
  const char* field;
};

class RouterErrors : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(RouterErrors, AnswerInTheOneErrorShape) {
  auto router = sample_router();
  const auto& c = GetParam();
  auto r = run(router, c.method, c.path, c.body);
  EXPECT_EQ(r.status, c.status);
  ASSERT_TRUE(r.body.contains("error")) << r.body.dump();
  EXPECT_EQ(r.body["error"]["code"], c.code);
  EXPECT_TRUE(r.body["error"]["message"].is_string());
  if (c.field) {
    EXPECT_EQ(r.body["error"]["field"], c.field);
  } else {
    EXPECT_TRUE(r.body["error"]["field"].is_null());
  }
}

INSTANTIATE_TEST_SUITE_P(
    Cases, RouterErrors,
    ::testing::Values(
        ErrorCase{"unknown_path", "GET", "/api/nothing", "", 404, "not_found", nullptr},
        ErrorCase{"wrong_method", "DELETE", "/api/things/", "", 405, "method_not_allowed", nullptr},
        ErrorCase{"bad_path_param", "GET", "/api/things/42", "", 422, "invalid_argument", "id"},
        ErrorCase{"malformed_json", "POST", "/api/things/", "{\"name\":", 400, "malformed",
                  nullptr},
        ErrorCase{"wrong_shape", "POST", "/api/things/", "{\"name\":1}", 422, "invalid_argument",
                  "name"},
        ErrorCase{"handler_crash", "GET", "/api/boom", "", 500, "internal", nullptr}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(Router, InternalErrorsDoNotLeakDetails) {
  auto router = sample_router();
  auto r = run(router, "GET", "/api/boom");
  EXPECT_EQ(r.body["error"]["message"].get<std::string>().find("secret"), std::string::npos);
}

TEST(Router, OpenApiDescribesEveryRouteFromTheSameTable) {
  auto router = sample_router();
  json doc = router.openapi("Test", "1.0");
  EXPECT_EQ(doc["openapi"], "3.1.0");
  for (const auto& route : router.routes()) {
    std::string method = route.method;
    for (auto& ch : method) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    ASSERT_TRUE(doc["paths"].contains(route.path)) << route.path;
    EXPECT_TRUE(doc["paths"][route.path].contains(method)) << route.method << " " << route.path;
  }
  EXPECT_EQ(doc["paths"]["/api/things/"]["post"]["requestBody"]["content"]["application/json"]
               ["schema"]["required"],
            json::array({"name"}));
  EXPECT_TRUE(doc["components"]["schemas"].contains("Error"));
}

}  // namespace
}  // namespace baton::server
