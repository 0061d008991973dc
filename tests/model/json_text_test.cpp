// The text writers must produce exactly the JSON values of the to_json functions they stand in
// for: one row per record shape that exercises a different branch.
#include "model/json_text.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace baton {
namespace {
using nlohmann::json;

TaskRunRecord bare() {
  TaskRunRecord r;
  r.id = "0190a6e2-7c3f-7b41-8d2e-000000000001";
  r.task_key = "t";
  r.state = State::pending();
  return r;
}

TaskRunRecord full() {
  TaskRunRecord r = bare();
  r.flow_run_id = "0190a6e2-7c3f-7b41-8d2e-5f3a9c1b2d4e";
  r.name = "name with \"quotes\", \\ and \x01 control\n\ttabs";
  r.dynamic_key = "7";
  r.cache_key = "ck";
  r.cache_expiration = parse_time("2024-04-01T00:00:00Z");
  r.task_inputs = {{"x", {{{"input_type", "task_run"}, {"id", r.id}}}}};
  r.tags = {"a", "b\"c", "ünïcode"};
  r.empirical_policy = {3, {0.5, 2, 1e-7}, 0.25};
  r.state = State::failed("boom\nline 2");
  r.state.scheduled_time = parse_time("2024-03-31T08:05:00.000001Z");
  r.state.cache_key = "ck";
  r.state.cache_expiration = parse_time("2024-04-01T00:00:00Z");
  r.state.retriable = false;
  r.state.result = {{"rows", {1, 2.5, "three", nullptr}}};
  r.run_count = 2;
  r.created = parse_time("2024-03-31T08:00:00Z");
  r.updated = parse_time("2024-03-31T08:00:01.5Z");
  r.expected_start_time = parse_time("2024-03-31T08:00:00Z");
  r.start_time = parse_time("2024-03-31T08:00:00.25Z");
  r.end_time = parse_time("2024-03-31T08:00:02Z");
  r.total_run_time_s = 1.75;
  return r;
}

TEST(JsonText, TaskRunsEqualToJson) {
  TaskRunRecord with_cached = bare();
  with_cached.state = State::cached(json("inline result"));
  with_cached.state.timestamp = parse_time("1969-07-20T20:17:40Z");  // before the epoch
  for (const auto& r : {bare(), full(), with_cached}) {
    std::string text;
    append_json(text, r);
    json parsed = json::parse(text);
    EXPECT_EQ(parsed, json(r)) << text;
    EXPECT_EQ(json(parsed.get<TaskRunRecord>()), json(r));
  }
}

FlowRunRecord bare_flow_run() {
  FlowRunRecord r;
  r.id = "0190a6e2-7c3f-7b41-8d2e-000000000002";
  r.flow_id = "0190a6e2-7c3f-7b41-8d2e-000000000003";
  r.flow_name = "etl";
  r.name = "brave-otter";
  r.state = State::pending();
  return r;
}

FlowRunRecord full_flow_run() {
  FlowRunRecord r = bare_flow_run();
  r.name = "name with \"quotes\", \\ and \x01 control\n";
  r.deployment_id = "0190a6e2-7c3f-7b41-8d2e-000000000004";
  r.parent_task_run_id = "0190a6e2-7c3f-7b41-8d2e-000000000005";
  r.idempotency_key = "key \"k\"";
  r.parameters = {{"n", 3}, {"nested", {{"list", {1, 2.5, "ünï", nullptr}}}}};
  r.tags = {"a", "b\"c"};
  r.empirical_policy = {2, {1.5}, 0.1};
  r.state = State::scheduled(parse_time("2024-03-31T09:00:00Z"));
  r.state.message = "later";
  r.run_count = 1;
  r.created = parse_time("2024-03-31T08:00:00Z");
  r.updated = parse_time("2024-03-31T08:00:01.5Z");
  r.expected_start_time = parse_time("2024-03-31T09:00:00Z");
  r.next_scheduled_start_time = parse_time("2024-03-31T09:00:00Z");
  r.start_time = parse_time("2024-03-31T08:00:00.25Z");
  r.end_time = parse_time("2024-03-31T08:00:02Z");
  r.total_run_time_s = 1.75;
  r.infrastructure_pid = "host:42:1234";
  return r;
}

TEST(JsonText, FlowRunsEqualToJson) {
  FlowRunRecord completed = bare_flow_run();
  completed.state = State::completed(json({{"rows", 3}}));
  for (const auto& r : {bare_flow_run(), full_flow_run(), completed}) {
    std::string text;
    append_json(text, r);
    json parsed = json::parse(text);
    EXPECT_EQ(parsed, json(r)) << text;
    EXPECT_EQ(json(parsed.get<FlowRunRecord>()), json(r));
  }
}

TEST(JsonText, StringsRoundTrip) {
  for (std::string s : {std::string(), std::string("plain"), std::string("\"\\/\b\f\n\r\t"),
                        std::string("\x1f\x7f ünï €"), std::string(1, '\0')}) {
    std::string text;
    append_json_string(text, s);
    EXPECT_EQ(json::parse(text).get<std::string>(), s) << text;
  }
}

// Bytes that are not UTF-8 (a stray byte in an exception message) are replaced by U+FFFD, so the
// text written is always JSON that parses.
TEST(JsonText, InvalidUtf8IsReplaced) {
  std::string text;
  append_json_string(text, std::string("bytes \xff\xfe \"end\""));
  EXPECT_EQ(json::parse(text).get<std::string>(), "bytes \xef\xbf\xbd\xef\xbf\xbd \"end\"") << text;
}

}  // namespace
}  // namespace baton
