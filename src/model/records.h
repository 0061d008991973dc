// The records Baton stores and serves: flows, flow runs, task runs, logs.
//
// These are the shared vocabulary of the storage, orchestration, client and server layers. Their
// JSON form (to_json / from_json) follows Prefect's REST shapes field for field where one exists,
// so the server returns them as they are and the remote client reads them back.
//
// Thread-safety: plain values.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "baton/state.h"

namespace baton {

// How a run is retried: kept on the run so that whoever applies the orchestration rules (the SDK
// in-process, or the server) decides the same way.
struct RetryPolicy {
  int retries = 0;                     // attempts after the first
  std::vector<double> retry_delays_s;  // delay before retry k is delays[min(k, size-1)]; empty = 0
  double retry_jitter_factor = 0;      // each delay is scaled by a random factor in [1-j, 1+j]
};

struct FlowRecord {
  std::string id;
  std::string name;
  std::vector<std::string> tags;
  TimePoint created{};
};

struct FlowRunRecord {
  std::string id;
  std::string flow_id;
  std::string flow_name;  // denormalised for listing without a join
  std::string name;       // e.g. "etl_pipeline-2024-03-31" or a generated "brave-otter"
  std::string deployment_id;
  std::string parent_task_run_id;  // set when this run is a subflow of another flow run
  std::string idempotency_key;     // unique per flow when set: creating twice returns the first
  nlohmann::json parameters = nlohmann::json::object();
  std::vector<std::string> tags;
  RetryPolicy empirical_policy;
  State state;  // current state
  int run_count = 0;
  TimePoint created{};
  TimePoint updated{};
  std::optional<TimePoint> expected_start_time;
  // While SCHEDULED: when it is due (the scheduler's and the late-runs service's index).
  std::optional<TimePoint> next_scheduled_start_time;
  std::optional<TimePoint> start_time;
  std::optional<TimePoint> end_time;
  double total_run_time_s = 0;
  // Which process runs it: "hostname:pid:start-ticks", recorded when the run enters RUNNING.
  // Lets tooling tell a run whose process died from one still running (see mark_crashed).
  std::string infrastructure_pid;
};

struct TaskRunRecord {
  std::string id;
  std::string flow_run_id;
  std::string task_key;     // identity of the task definition (its name plus a source hash)
  std::string name;         // e.g. "extract_data-3"
  std::string dynamic_key;  // distinguishes calls of the same task within one flow run
  std::string cache_key;
  std::optional<TimePoint> cache_expiration;
  // Upstream dependencies: {"arg": [{"input_type": "task_run", "id": "..."}], ...}
  nlohmann::json task_inputs = nlohmann::json::object();
  std::vector<std::string> tags;
  RetryPolicy empirical_policy;
  State state;
  int run_count = 0;
  TimePoint created{};
  TimePoint updated{};
  std::optional<TimePoint> expected_start_time;
  std::optional<TimePoint> start_time;
  std::optional<TimePoint> end_time;
  double total_run_time_s = 0;
};

// A state as stored in a run's history.
struct StateRecord {
  std::string id;
  std::string run_id;  // flow run or task run
  State state;
};

enum class LogLevel { kDebug = 10, kInfo = 20, kWarning = 30, kError = 40, kCritical = 50 };

struct LogRecord {
  std::string id;  // filled in when stored (UUIDv7)
  std::string flow_run_id;
  std::string task_run_id;  // empty for flow-level lines
  std::string name;         // logger name, e.g. "baton.flow_runs" or "baton.task_runs"
  int level = static_cast<int>(LogLevel::kInfo);
  std::string message;
  TimePoint timestamp{};
};

// Queries over runs and logs: every field left empty matches everything; set fields combine with
// AND. Unknown sort names are rejected with invalid_argument naming "sort".
struct FlowRunFilter {
  std::vector<std::string> ids;
  std::vector<std::string> flow_names;
  std::vector<StateType> state_types;
  std::vector<std::string> state_names;
  std::vector<std::string> tags;  // all must be present
  std::string parent_task_run_id;
  std::string deployment_id;
  std::optional<TimePoint> start_time_after, start_time_before;
  std::optional<TimePoint> expected_start_time_after, expected_start_time_before;
  // SCHEDULED runs due by then (e.g. the late-runs service: due before now - 15 s).
  std::optional<TimePoint> next_scheduled_start_time_before;
  // Sorting: "EXPECTED_START_TIME_DESC" (default), "START_TIME_DESC", "END_TIME_DESC",
  // "CREATED_DESC", "NAME_ASC", "ID_DESC" (Prefect's sort names).
  std::string sort = "EXPECTED_START_TIME_DESC";
  int limit = 200;
  int offset = 0;
};

struct TaskRunFilter {
  std::vector<std::string> ids;
  std::string flow_run_id;
  std::vector<StateType> state_types;
  std::vector<std::string> state_names;
  std::vector<std::string> tags;
  // "EXPECTED_START_TIME_DESC" (default), "EXPECTED_START_TIME_ASC", "START_TIME_DESC",
  // "END_TIME_DESC", "CREATED_DESC", "CREATED_ASC", "NAME_ASC", "ID_DESC", "ID_ASC".
  std::string sort = "EXPECTED_START_TIME_DESC";
  int limit = 200;
  int offset = 0;
};

// Which cache entries to end (OrchestrationClient::expire_cache): those stored under one cache
// key, or under every key of one task (its task_key, as `baton task-run inspect` shows it).
// Exactly one of the two is set.
struct CacheSelector {
  std::string cache_key;
  std::string task_key;
};
// Throws invalid_argument (field "cache_key") unless exactly one of the two is set.
void check_cache_selector(const CacheSelector& which);

// Log lines to read, Prefect's LogFilter: a line matches when it is of one of `flow_run_ids` (if
// any), of one of `task_run_ids` (if any), has a task run or not as `task_run_is_null` says (true:
// the flow run's own lines, outside any task), and its level and timestamp lie within the bounds
// set (each bound inclusive, as Prefect's ge_/le_ and after_/before_). Each id list holds at most
// kMaxLogFilterIds UUIDs; read_logs refuses more, or an id that is not a UUID, with
// invalid_argument naming the list (or the id's place in it).
struct LogFilter {
  std::vector<std::string> flow_run_ids;
  std::vector<std::string> task_run_ids;
  std::optional<bool> task_run_is_null;
  std::optional<int> min_level, max_level;
  std::optional<TimePoint> timestamp_after, timestamp_before;
  std::string sort = "TIMESTAMP_ASC";  // or "TIMESTAMP_DESC"
  int limit = 200;
  int offset = 0;
};
inline constexpr size_t kMaxLogFilterIds = 200;

// Artifacts to list (storage::ArtifactStore::filter, OrchestrationClient::filter_artifacts). Empty
// lists do not constrain.
struct ArtifactFilter {
  std::vector<std::string> keys, types, flow_run_ids, task_run_ids;
  bool latest_only = false;           // keyed artifacts only, one row per key: its newest version
  std::string sort = "CREATED_DESC";  // or "CREATED_ASC", "KEY_ASC"
  int limit = 200;
  int offset = 0;
};

void to_json(nlohmann::json& j, const RetryPolicy& p);
void from_json(const nlohmann::json& j, RetryPolicy& p);
void to_json(nlohmann::json& j, const FlowRecord& r);
void from_json(const nlohmann::json& j, FlowRecord& r);
void to_json(nlohmann::json& j, const FlowRunRecord& r);
void from_json(const nlohmann::json& j, FlowRunRecord& r);
void to_json(nlohmann::json& j, const TaskRunRecord& r);
void from_json(const nlohmann::json& j, TaskRunRecord& r);
void to_json(nlohmann::json& j, const LogRecord& r);
void from_json(const nlohmann::json& j, LogRecord& r);

}  // namespace baton
