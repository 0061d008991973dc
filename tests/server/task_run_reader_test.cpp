// The lean reader of task-run batches: what it accepts must equal what the generic path
// (nlohmann tree + from_json) makes of the same text, and every bad input must be refused with
// the right kind and the dotted path of the first offending member.
#include "server/task_run_reader.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "baton/error.h"

namespace baton::server {
namespace {
using nlohmann::json;

constexpr const char* kRun = "0190a6e2-7c3f-7b41-8d2e-000000000001";
constexpr const char* kFlowRun = "0190a6e2-7c3f-7b41-8d2e-5f3a9c1b2d4e";

json full_run() {
  return {
      {"id", kRun},
      {"flow_run_id", kFlowRun},
      {"task_key", "extract-abc123"},
      {"name", "extract-0"},
      {"dynamic_key", "0"},
      {"cache_key", "k1"},
      {"cache_expiration", "2024-04-01T00:00:00Z"},
      {"task_inputs", {{"x", {{{"input_type", "task_run"}, {"id", kRun}}}}}},
      {"tags", {"a", "b \"quoted\""}},
      {"empirical_policy", {{"retries", 2}, {"retry_delay", {1.5, 3}}}},
      {"run_count", 3},
      {"created", "2024-03-31T08:00:00Z"},
      {"expected_start_time", "2024-03-31T08:00:01Z"},
      {"start_time", "2024-03-31T08:00:02.5Z"},
      {"end_time", nullptr},
      {"total_run_time", 1.25},
      {"parameters", {{"ignored", true}}},
      {"state_type", "FAILED"},  // what to_json adds; undeclared members are ignored
      {"state",
       {{"type", "FAILED"},
        {"name", "Failed"},
        {"message", "boom\nline two"},
        {"timestamp", "2024-03-31T08:00:03Z"},
        {"state_details",
         {{"cache_key", "k1"}, {"scheduled_time", "2024-03-31T08:05:00Z"}, {"retriable", false}}},
        {"data", {{"rows", {1, 2, 3}}, {"nested", {{"deep", nullptr}}}}}}}};
}

TEST(TaskRunReader, ReadsWhatTheGenericPathReads) {
  json one = full_run();
  json bare{{"id", "0190a6e2-7c3f-7b41-8d2e-000000000002"},
            {"flow_run_id", ""},
            {"task_key", "t"},
            {"state", {{"type", "COMPLETED"}, {"data", 42}}}};
  json body{{"task_runs", {one, bare}}};
  auto runs = read_task_run_batch(body.dump(), 10);
  ASSERT_EQ(runs.size(), 2u);
  for (size_t i = 0; i < runs.size(); ++i) {
    TaskRunRecord expected = body["task_runs"][i].get<TaskRunRecord>();
    const TaskRunRecord& got = runs[i];
    // The generic path stamps now() on a missing state time; compare the rest of the state.
    if (!body["task_runs"][i]["state"].contains("timestamp"))
      expected.state.timestamp = got.state.timestamp;
    EXPECT_EQ(json(got), json(expected)) << i;
    EXPECT_EQ(got.tags, expected.tags);
    EXPECT_EQ(got.state.cache_key, expected.state.cache_key);
    EXPECT_EQ(got.state.retriable, expected.state.retriable);
  }
  EXPECT_EQ(runs[0].state.result["rows"][2], 3);
  EXPECT_EQ(runs[0].empirical_policy.retry_delays_s, (std::vector<double>{1.5, 3}));
  EXPECT_EQ(runs[1].state.name, "Completed");  // defaults from the type
  EXPECT_NE(runs[1].state.timestamp, TimePoint{});

  TaskRunRecord single = read_task_run(one.dump());
  EXPECT_EQ(json(single), json(one.get<TaskRunRecord>()));
}

struct BadBody {
  const char* name;
  std::string body;
  ErrorKind kind;
  const char* field;
};

class TaskRunReaderRefuses : public ::testing::TestWithParam<BadBody> {};

TEST_P(TaskRunReaderRefuses, NamingTheMember) {
  const auto& c = GetParam();
  try {
    read_task_run_batch(c.body, 3);
    FAIL() << "accepted " << c.body;
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), c.kind) << e.what();
    EXPECT_EQ(e.field(), c.field) << e.what();
    EXPECT_NE(std::string(e.what()), "");
  }
}

std::string batch_with(const std::string& key, const json& value, int index = 1) {
  json runs = json::array();
  for (int i = 0; i <= index; ++i) runs.push_back(full_run());
  if (key.rfind("state.", 0) == 0)
    runs[index]["state"][key.substr(6)] = value;
  else
    runs[index][key] = value;
  return json{{"task_runs", runs}}.dump();
}

std::string batch_without(const std::string& key) {
  json run = full_run();
  if (key.rfind("state.", 0) == 0)
    run["state"].erase(key.substr(6));
  else
    run.erase(key);
  return json{{"task_runs", {full_run(), run}}}.dump();
}

INSTANTIATE_TEST_SUITE_P(
    Cases, TaskRunReaderRefuses,
    ::testing::Values(
        BadBody{"empty", "", ErrorKind::kInvalidArgument, "task_runs"},
        BadBody{"not_json", "{\"task_runs\": [", ErrorKind::kMalformed, ""},
        BadBody{"truncated_item", batch_with("name", "x").substr(0, 200), ErrorKind::kMalformed,
                ""},
        BadBody{"trailing_garbage", "{\"task_runs\": []} x", ErrorKind::kMalformed, ""},
        // Text that is not JSON is malformed even when a member before the damage is wrong.
        BadBody{"bad_member_then_truncated", batch_with("cache_key", 5, 0).substr(0, 300),
                ErrorKind::kMalformed, ""},
        BadBody{"bad_utf8", "{\"task_runs\": [{\"name\": \"\xff\xfe\"}]}", ErrorKind::kMalformed,
                ""},
        BadBody{"deep_unclosed", std::string(100'000, '['), ErrorKind::kMalformed, ""},
        BadBody{"deep_closed", std::string(100'000, '[') + std::string(100'000, ']'),
                ErrorKind::kInvalidArgument, ""},
        BadBody{"body_not_object", "[1, 2]", ErrorKind::kInvalidArgument, ""},
        BadBody{"missing_list", "{}", ErrorKind::kInvalidArgument, "task_runs"},
        BadBody{"list_not_array", "{\"task_runs\": 3}", ErrorKind::kInvalidArgument, "task_runs"},
        BadBody{"list_is_object", "{\"task_runs\": {}}", ErrorKind::kInvalidArgument, "task_runs"},
        BadBody{"unknown_top_member", "{\"task_runs\": [], \"extra\": 1}",
                ErrorKind::kInvalidArgument, "extra"},
        BadBody{"too_many_items",
                json{{"task_runs", {full_run(), full_run(), full_run(), full_run()}}}.dump(),
                ErrorKind::kInvalidArgument, "task_runs"},
        BadBody{"item_not_object", "{\"task_runs\": [7]}", ErrorKind::kInvalidArgument,
                "task_runs.0"},
        BadBody{"bad_id", batch_with("id", "x"), ErrorKind::kInvalidArgument, "task_runs.1.id"},
        BadBody{"id_number", batch_with("id", 5), ErrorKind::kInvalidArgument, "task_runs.1.id"},
        BadBody{"missing_id", batch_without("id"), ErrorKind::kInvalidArgument, "task_runs.1.id"},
        BadBody{"missing_task_key", batch_without("task_key"), ErrorKind::kInvalidArgument,
                "task_runs.1.task_key"},
        BadBody{"missing_state", batch_without("state"), ErrorKind::kInvalidArgument,
                "task_runs.1.state"},
        BadBody{"null_state", batch_with("state", nullptr), ErrorKind::kInvalidArgument,
                "task_runs.1.state"},
        BadBody{"bad_flow_run_id", batch_with("flow_run_id", "y"), ErrorKind::kInvalidArgument,
                "task_runs.1.flow_run_id"},
        BadBody{"name_number", batch_with("name", 1), ErrorKind::kInvalidArgument,
                "task_runs.1.name"},
        BadBody{"bad_time", batch_with("start_time", "soon"), ErrorKind::kInvalidArgument,
                "task_runs.1.start_time"},
        BadBody{"negative_run_count", batch_with("run_count", -1), ErrorKind::kInvalidArgument,
                "task_runs.1.run_count"},
        BadBody{"fractional_run_count", batch_with("run_count", 1.5), ErrorKind::kInvalidArgument,
                "task_runs.1.run_count"},
        BadBody{"run_time_text", batch_with("total_run_time", "1s"), ErrorKind::kInvalidArgument,
                "task_runs.1.total_run_time"},
        BadBody{"tags_not_list", batch_with("tags", "a"), ErrorKind::kInvalidArgument,
                "task_runs.1.tags"},
        BadBody{"tag_not_string", batch_with("tags", json::array({"a", 2})),
                ErrorKind::kInvalidArgument, "task_runs.1.tags.1"},
        BadBody{"inputs_not_object", batch_with("task_inputs", json::array()),
                ErrorKind::kInvalidArgument, "task_runs.1.task_inputs"},
        BadBody{"bad_policy", batch_with("empirical_policy", {{"retries", "two"}}),
                ErrorKind::kInvalidArgument, "task_runs.1.empirical_policy"},
        BadBody{"state_not_object", batch_with("state", "RUNNING"), ErrorKind::kInvalidArgument,
                "task_runs.1.state"},
        BadBody{"state_missing_type", batch_without("state.type"), ErrorKind::kInvalidArgument,
                "task_runs.1.state.type"},
        BadBody{"state_unknown_type", batch_with("state.type", "DONE"), ErrorKind::kInvalidArgument,
                "task_runs.1.state.type"},
        BadBody{"state_type_number", batch_with("state.type", 3), ErrorKind::kInvalidArgument,
                "task_runs.1.state.type"},
        BadBody{"state_bad_timestamp", batch_with("state.timestamp", "later"),
                ErrorKind::kInvalidArgument, "task_runs.1.state.timestamp"},
        BadBody{"state_message_object", batch_with("state.message", json::object()),
                ErrorKind::kInvalidArgument, "task_runs.1.state.message"},
        BadBody{"state_details_list", batch_with("state.state_details", json::array()),
                ErrorKind::kInvalidArgument, "task_runs.1.state.state_details"},
        BadBody{"state_details_bad_time",
                batch_with("state.state_details", {{"scheduled_time", "tomorrow"}}),
                ErrorKind::kInvalidArgument, "task_runs.1.state.state_details.scheduled_time"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(TaskRunReader, SingleRunNamesMembersWithoutAPrefix) {
  json run = full_run();
  run["state"]["type"] = "LATE";
  try {
    read_task_run(run.dump());
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.field(), "state.type");
  }
  EXPECT_THROW(read_task_run("[]"), Error);
  EXPECT_THROW(read_task_run(""), Error);
}

}  // namespace
}  // namespace baton::server
