#include "model/records.h"

#include "baton/error.h"

namespace baton {

namespace {
using nlohmann::json;

json opt_time(const std::optional<TimePoint>& t) {
  return t ? json(format_time(*t)) : json(nullptr);
}

std::optional<TimePoint> read_opt_time(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::nullopt;
  return parse_time(it->get<std::string>(), key);
}
TimePoint read_time(const json& j, const char* key) {
  auto t = read_opt_time(j, key);
  return t ? *t : TimePoint{};
}
template <typename T>
void read(const json& j, const char* key, T& out) {
  auto it = j.find(key);
  if (it != j.end() && !it->is_null()) out = it->get<T>();
}
}  // namespace

void to_json(json& j, const RetryPolicy& p) {
  j = json{{"retries", p.retries},
           {"retry_delay", p.retry_delays_s},
           {"retry_jitter_factor", p.retry_jitter_factor}};
}
void from_json(const json& j, RetryPolicy& p) {
  read(j, "retries", p.retries);
  if (auto it = j.find("retry_delay"); it != j.end() && !it->is_null()) {
    if (it->is_number())
      p.retry_delays_s = {it->get<double>()};
    else
      p.retry_delays_s = it->get<std::vector<double>>();
  }
  read(j, "retry_jitter_factor", p.retry_jitter_factor);
}

void to_json(json& j, const FlowRecord& r) {
  j = json{{"id", r.id}, {"name", r.name}, {"tags", r.tags}, {"created", format_time(r.created)}};
}
void from_json(const json& j, FlowRecord& r) {
  read(j, "id", r.id);
  read(j, "name", r.name);
  read(j, "tags", r.tags);
  r.created = read_time(j, "created");
}

void to_json(json& j, const FlowRunRecord& r) {
  j = json{{"id", r.id},
           {"flow_id", r.flow_id},
           {"flow_name", r.flow_name},
           {"name", r.name},
           {"deployment_id", r.deployment_id.empty() ? json(nullptr) : json(r.deployment_id)},
           {"parent_task_run_id",
            r.parent_task_run_id.empty() ? json(nullptr) : json(r.parent_task_run_id)},
           {"idempotency_key", r.idempotency_key.empty() ? json(nullptr) : json(r.idempotency_key)},
           {"parameters", r.parameters},
           {"tags", r.tags},
           {"empirical_policy", r.empirical_policy},
           {"state", r.state},
           {"state_type", to_string(r.state.type)},
           {"state_name", r.state.name},
           {"run_count", r.run_count},
           {"created", format_time(r.created)},
           {"updated", format_time(r.updated)},
           {"expected_start_time", opt_time(r.expected_start_time)},
           {"next_scheduled_start_time", opt_time(r.next_scheduled_start_time)},
           {"start_time", opt_time(r.start_time)},
           {"end_time", opt_time(r.end_time)},
           {"total_run_time", r.total_run_time_s},
           {"infrastructure_pid",
            r.infrastructure_pid.empty() ? json(nullptr) : json(r.infrastructure_pid)}};
}
void from_json(const json& j, FlowRunRecord& r) {
  read(j, "id", r.id);
  read(j, "flow_id", r.flow_id);
  read(j, "flow_name", r.flow_name);
  read(j, "name", r.name);
  read(j, "deployment_id", r.deployment_id);
  read(j, "parent_task_run_id", r.parent_task_run_id);
  read(j, "idempotency_key", r.idempotency_key);
  read(j, "parameters", r.parameters);
  read(j, "tags", r.tags);
  read(j, "empirical_policy", r.empirical_policy);
  read(j, "state", r.state);
  read(j, "run_count", r.run_count);
  r.created = read_time(j, "created");
  r.updated = read_time(j, "updated");
  r.expected_start_time = read_opt_time(j, "expected_start_time");
  r.start_time = read_opt_time(j, "start_time");
  r.end_time = read_opt_time(j, "end_time");
  read(j, "total_run_time", r.total_run_time_s);
  read(j, "infrastructure_pid", r.infrastructure_pid);
  r.next_scheduled_start_time = read_opt_time(j, "next_scheduled_start_time");
}

void to_json(json& j, const TaskRunRecord& r) {
  j = json{{"id", r.id},
           {"flow_run_id", r.flow_run_id},
           {"task_key", r.task_key},
           {"name", r.name},
           {"dynamic_key", r.dynamic_key},
           {"cache_key", r.cache_key.empty() ? json(nullptr) : json(r.cache_key)},
           {"cache_expiration", opt_time(r.cache_expiration)},
           {"task_inputs", r.task_inputs},
           {"tags", r.tags},
           {"empirical_policy", r.empirical_policy},
           {"state", r.state},
           {"state_type", to_string(r.state.type)},
           {"state_name", r.state.name},
           {"run_count", r.run_count},
           {"created", format_time(r.created)},
           {"updated", format_time(r.updated)},
           {"expected_start_time", opt_time(r.expected_start_time)},
           {"start_time", opt_time(r.start_time)},
           {"end_time", opt_time(r.end_time)},
           {"total_run_time", r.total_run_time_s}};
}
void from_json(const json& j, TaskRunRecord& r) {
  read(j, "id", r.id);
  read(j, "flow_run_id", r.flow_run_id);
  read(j, "task_key", r.task_key);
  read(j, "name", r.name);
  read(j, "dynamic_key", r.dynamic_key);
  read(j, "cache_key", r.cache_key);
  r.cache_expiration = read_opt_time(j, "cache_expiration");
  read(j, "task_inputs", r.task_inputs);
  read(j, "tags", r.tags);
  read(j, "empirical_policy", r.empirical_policy);
  read(j, "state", r.state);
  read(j, "run_count", r.run_count);
  r.created = read_time(j, "created");
  r.updated = read_time(j, "updated");
  r.expected_start_time = read_opt_time(j, "expected_start_time");
  r.start_time = read_opt_time(j, "start_time");
  r.end_time = read_opt_time(j, "end_time");
  read(j, "total_run_time", r.total_run_time_s);
}

void check_cache_selector(const CacheSelector& which) {
  if (which.cache_key.empty() == which.task_key.empty())
    throw invalid_argument(
        "give either a cache key or a task key (every cache entry of that task), not " +
            std::string(which.cache_key.empty() ? "neither" : "both"),
        "cache_key");
}

void to_json(json& j, const LogRecord& r) {
  j = json{{"id", r.id.empty() ? json(nullptr) : json(r.id)},
           {"flow_run_id", r.flow_run_id},
           {"task_run_id", r.task_run_id.empty() ? json(nullptr) : json(r.task_run_id)},
           {"name", r.name},
           {"level", r.level},
           {"message", r.message},
           {"timestamp", format_time(r.timestamp)}};
}
void from_json(const json& j, LogRecord& r) {
  read(j, "id", r.id);
  read(j, "flow_run_id", r.flow_run_id);
  read(j, "task_run_id", r.task_run_id);
  read(j, "name", r.name);
  read(j, "level", r.level);
  read(j, "message", r.message);
  r.timestamp = read_time(j, "timestamp");
}

}  // namespace baton
