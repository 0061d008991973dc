// BATON_PARAMS: JSON conversion, validation messages naming the field, JSON Schema.
#include "baton/params.h"

#include <gtest/gtest.h>

#include <optional>

namespace demo {
struct Window {
  int days = 7;
  bool inclusive = true;
};
BATON_PARAMS(Window, days, inclusive)

struct EtlParams {
  std::string source = "s3://bucket/raw";
  std::vector<std::string> customer_ids;
  int batch_size = 100;
  double ratio = 0.5;
  std::optional<std::string> note;
  Window window;
};
BATON_PARAMS(EtlParams, source, customer_ids, batch_size, ratio, note, window)
}  // namespace demo

namespace baton {
namespace {

TEST(Params, RoundTripsThroughJson) {
  demo::EtlParams p;
  p.customer_ids = {"c1", "c2"};
  p.note = "hi";
  p.window.days = 3;
  nlohmann::json j = p;
  EXPECT_EQ(j["source"], "s3://bucket/raw");
  EXPECT_EQ(j["window"]["days"], 3);
  auto back = j.get<demo::EtlParams>();
  EXPECT_EQ(back.customer_ids, p.customer_ids);
  EXPECT_EQ(back.note, p.note);
  EXPECT_EQ(back.window.days, 3);
}

TEST(Params, MissingFieldsKeepTheirDefaults) {
  auto p = nlohmann::json{{"batch_size", 5}}.get<demo::EtlParams>();
  EXPECT_EQ(p.batch_size, 5);
  EXPECT_EQ(p.source, "s3://bucket/raw");
  EXPECT_EQ(p.window.days, 7);
}

struct BadCase {
  const char* json;
  const char* field;
  const char* message;
};

class ParamsValidation : public ::testing::TestWithParam<BadCase> {};

TEST_P(ParamsValidation, NamesTheFieldAndTheExpectedType) {
  const auto& c = GetParam();
  try {
    from_json_checked<demo::EtlParams>(nlohmann::json::parse(c.json), "parameters");
    FAIL() << "accepted " << c.json;
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    EXPECT_EQ(e.field(), c.field);
    EXPECT_EQ(std::string(e.what()), c.message);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ParamsValidation,
    ::testing::Values(
        BadCase{R"({"batch_size": "abc"})", "parameters.batch_size",
                R"(parameters.batch_size: expected an integer, got a string ("abc"))"},
        BadCase{R"({"batch_size": 2.5})", "parameters.batch_size",
                "parameters.batch_size: expected an integer, got a number (2.5)"},
        BadCase{R"({"source": 5})", "parameters.source",
                "parameters.source: expected a string, got an integer (5)"},
        BadCase{R"({"customer_ids": "c1"})", "parameters.customer_ids",
                R"(parameters.customer_ids: expected an array of strings, got a string ("c1"))"},
        BadCase{R"({"customer_ids": ["c1", 2]})", "parameters.customer_ids[1]",
                "parameters.customer_ids[1]: expected a string, got an integer (2)"},
        BadCase{R"({"ratio": "high"})", "parameters.ratio",
                R"(parameters.ratio: expected a number, got a string ("high"))"},
        BadCase{R"({"note": 3})", "parameters.note",
                "parameters.note: expected a string or null, got an integer (3)"},
        BadCase{R"({"window": {"days": true}})", "parameters.window.days",
                "parameters.window.days: expected an integer, got a boolean (true)"},
        BadCase{R"({"window": []})", "parameters.window",
                "parameters.window: expected an object, got an array"},
        BadCase{R"({"batchsize": 3})", "parameters.batchsize",
                "parameters.batchsize: unknown parameter of EtlParams; expected one of: source, "
                "customer_ids, "
                "batch_size, ratio, note, window"},
        BadCase{R"([1, 2])", "parameters", "parameters: expected an object, got an array"}));

TEST(Params, SchemaDescribesEveryFieldWithTypeAndDefault) {
  auto s = params_schema<demo::EtlParams>();
  EXPECT_EQ(s["title"], "EtlParams");
  EXPECT_EQ(s["type"], "object");
  const auto& props = s["properties"];
  EXPECT_EQ(props["source"]["type"], "string");
  EXPECT_EQ(props["source"]["default"], "s3://bucket/raw");
  EXPECT_EQ(props["customer_ids"]["type"], "array");
  EXPECT_EQ(props["customer_ids"]["items"]["type"], "string");
  EXPECT_EQ(props["batch_size"]["type"], "integer");
  EXPECT_EQ(props["batch_size"]["default"], 100);
  EXPECT_EQ(props["ratio"]["type"], "number");
  EXPECT_EQ(props["note"]["anyOf"][1]["type"], "null");
  EXPECT_EQ(props["window"]["type"], "object");
  EXPECT_EQ(props["window"]["properties"]["days"]["default"], 7);
  EXPECT_EQ(s["additionalProperties"], false);
}

}  // namespace
}  // namespace baton
