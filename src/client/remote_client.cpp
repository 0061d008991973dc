#include "client/remote_client.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <utility>

#include "baton/error.h"
#include "client/process_identity.h"
#include "client/retry_backoff.h"
#include "model/ids.h"
#include "model/json_text.h"
#include "storage/artifact_store.h"
#include "storage/variable_store.h"

namespace baton {

namespace {
using nlohmann::json;

ErrorKind kind_from_status(int status) {
  switch (status) {
    case 400:
      return ErrorKind::kMalformed;
    case 401:
      return ErrorKind::kUnauthorized;
    case 404:
      return ErrorKind::kNotFound;
    case 409:
      return ErrorKind::kConflict;
    case 413:
      return ErrorKind::kTooLarge;
    case 422:
      return ErrorKind::kInvalidArgument;
    case 429:
    case 503:
      return ErrorKind::kUnavailable;
    default:
      return ErrorKind::kInternal;
  }
}

ErrorKind kind_from_code(const std::string& code, int status) {
  for (auto kind : {ErrorKind::kInvalidArgument, ErrorKind::kMalformed, ErrorKind::kNotFound,
                    ErrorKind::kConflict, ErrorKind::kUnauthorized, ErrorKind::kTooLarge,
                    ErrorKind::kUnavailable, ErrorKind::kInternal})
    if (to_string(kind) == code) return kind;
  return kind_from_status(status);
}

json any_of(const std::vector<std::string>& values) { return json{{"any_", values}}; }

json state_types(const std::vector<StateType>& types) {
  json out = json::array();
  for (auto t : types) out.push_back(to_string(t));
  return out;
}

// Prefect's state filter: {"type": {"any_": [...]}, "name": {"any_": [...]}}, each part optional.
json state_filter(const std::vector<StateType>& types, const std::vector<std::string>& names) {
  json state = json::object();
  if (!types.empty()) state["type"] = {{"any_", state_types(types)}};
  if (!names.empty()) state["name"] = any_of(names);
  return state;
}

// The route of one global limit; the name is percent-encoded as one path segment.
std::string limit_path(const std::string& id_or_name) {
  return "/v2/concurrency_limits/" + boost::urls::encode(id_or_name, boost::urls::unreserved_chars);
}

// One path segment, percent-encoded (names and keys may hold characters a path cannot).
std::string segment(const std::string& text) {
  return boost::urls::encode(text, boost::urls::unreserved_chars);
}

std::string artifact_path(const std::string& id) {
  storage::ArtifactStore::check_id(id);
  return "/artifacts/" + segment(id);
}

std::string variable_path(const std::string& name) {
  storage::VariableStore::check_name(name);
  return "/variables/name/" + segment(name);
}

// An answer that says the request was not applied and may be repeated later: 429, and 503 with
// Retry-After. Baton answers 503 without it for conditions that waiting does not change ("this
// server does not store events").
bool try_later(const HttpResult& r) {
  return r.status == 429 || (r.status == 503 && !r.retry_after.empty());
}
}  // namespace

Error error_from_response(int status, const std::string& body) {
  json j = json::parse(body, nullptr, false);
  if (j.is_object() && j.contains("error") && j["error"].is_object()) {
    const json& e = j["error"];
    // Any member of another type than expected reads as absent: a foreign body never throws here.
    auto text = [&e](const char* key, std::string otherwise) {
      return e.contains(key) && e[key].is_string() ? e[key].get<std::string>() : otherwise;
    };
    return Error(kind_from_code(text("code", ""), status),
                 text("message", "error " + std::to_string(status)), text("field", ""));
  }
  return Error(kind_from_status(status),
               "the server answered HTTP " + std::to_string(status) +
                   (body.empty() ? std::string() : ": " + body.substr(0, 200)));
}

RemoteClient::RemoteClient(const std::string& api_url, const std::string& api_key, Options options)
    : options_(options), http_(api_url, api_key, options.request_timeout) {
  sender_ = std::thread([this] { run_sender(); });
}

RemoteClient::~RemoteClient() {
  try {
    flush();
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
  }
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  work_cv_.notify_all();
  sender_.join();
}

HttpResult RemoteClient::request(const std::string& method, const std::string& target,
                                 const std::string& body) {
  std::optional<RetryBackoff> backoff;  // started by the first failure
  for (;;) {
    std::string failure;
    std::optional<std::chrono::milliseconds> asked;
    try {
      HttpResult r = http_.request(method, target, body);
      if (!try_later(r) || options_.retry_for <= std::chrono::milliseconds::zero()) return r;
      failure = error_from_response(r.status, r.body).what() +
                (" (HTTP " + std::to_string(r.status) + ")");
      asked = retry_after_delay(r.retry_after);
    } catch (const ConnectionError& e) {
      // A GET changes nothing, so it may be repeated whatever became of the first one.
      if (e.sent() && method != "GET")
        throw ConnectionError(std::string(e.what()) +
                                  "; the request may or may not have been applied, so it was "
                                  "not repeated",
                              true);
      if (options_.retry_for <= std::chrono::milliseconds::zero()) throw;
      failure = e.what();
    }
    if (!backoff) {
      backoff.emplace(options_.retry_for);
      spdlog::warn("{} {} failed: {}; retrying for up to {} (BATON_CLIENT_RETRY_SECONDS)", method,
                   http_.url().to_string() + target, failure, seconds_text(options_.retry_for));
    }
    if (!backoff->wait(asked))
      throw unavailable("gave up on " + method + " " + http_.url().to_string() + target +
                        " after retrying for " + seconds_text(backoff->elapsed()) +
                        " (BATON_CLIENT_RETRY_SECONDS); last error: " + failure);
  }
}

json RemoteClient::call(const std::string& method, const std::string& target, const json& body) {
  auto result = request(method, target, body.is_null() ? std::string() : body.dump());
  if (result.status >= 200 && result.status < 300) {
    if (result.body.empty()) return nullptr;
    json j = json::parse(result.body, nullptr, false);
    if (j.is_discarded())
      throw Error(ErrorKind::kInternal, "the server answered with invalid JSON for " + target);
    return j;
  }
  throw error_from_response(result.status, result.body);
}

std::optional<json> RemoteClient::call_or_missing(const std::string& method,
                                                  const std::string& target, const json& body) {
  try {
    return call(method, target, body);
  } catch (const Error& e) {
    if (e.kind() == ErrorKind::kNotFound) return std::nullopt;
    throw;
  }
}

FlowRecord RemoteClient::ensure_flow(const std::string& name,
                                     const std::vector<std::string>& tags) {
  return call("POST", "/flows/", {{"name", name}, {"tags", tags}}).get<FlowRecord>();
}

std::vector<FlowRecord> RemoteClient::list_flows(int limit, int offset) {
  return call("POST", "/flows/filter", {{"limit", limit}, {"offset", offset}})
      .get<std::vector<FlowRecord>>();
}

FlowRunRecord RemoteClient::create_flow_run(FlowRunRecord run) {
  json body = run;
  // Server-maintained fields are not the client's to send.
  for (const char* k : {"state_type", "state_name", "created", "updated", "run_count", "start_time",
                        "end_time", "total_run_time"})
    body.erase(k);
  if (run.id.empty()) body.erase("id");
  if (run.flow_id.empty()) body.erase("flow_id");
  if (run.name.empty()) body.erase("name");
  if (!run.expected_start_time) body.erase("expected_start_time");
  // The server records which process runs the flow: this one (see mark_crashed_runs).
  if (run.state.type == StateType::kRunning && run.infrastructure_pid.empty())
    body["infrastructure_pid"] = current_process_identity();
  return call("POST", "/flow_runs/", body).get<FlowRunRecord>();
}

SetStateResult RemoteClient::set_flow_run_state(const std::string& flow_run_id,
                                                const State& proposed, bool force) {
  json body{{"state", proposed}, {"force", force}};
  if (proposed.type == StateType::kRunning) body["infrastructure_pid"] = current_process_identity();
  json r = call("POST", "/flow_runs/" + flow_run_id + "/set_state", body);
  SetStateResult out;
  std::string status = r.value("status", "ABORT");
  out.status = status == "ACCEPT"   ? SetStateStatus::kAccept
               : status == "REJECT" ? SetStateStatus::kReject
               : status == "WAIT"   ? SetStateStatus::kWait
                                    : SetStateStatus::kAbort;
  out.state = r.at("state").get<State>();
  out.recorded = out.status == SetStateStatus::kAccept;
  if (auto d = r.find("details"); d != r.end() && d->is_object()) {
    if (auto reason = d->find("reason"); reason != d->end() && reason->is_string())
      out.reason = reason->get<std::string>();
    if (auto wait = d->find("delay_seconds"); wait != d->end() && wait->is_number())
      out.wait_s = wait->get<double>();
  }
  return out;
}

std::optional<FlowRunRecord> RemoteClient::read_flow_run(const std::string& id) {
  auto r = call_or_missing("GET", "/flow_runs/" + id);
  if (!r) return std::nullopt;
  return r->get<FlowRunRecord>();
}

std::vector<FlowRunRecord> RemoteClient::filter_flow_runs(const FlowRunFilter& f) {
  json runs = json::object();
  if (!f.ids.empty()) runs["id"] = any_of(f.ids);
  if (!f.state_types.empty() || !f.state_names.empty())
    runs["state"] = state_filter(f.state_types, f.state_names);
  if (!f.tags.empty()) runs["tags"] = {{"all_", f.tags}};
  if (!f.parent_task_run_id.empty()) runs["parent_task_run_id"] = any_of({f.parent_task_run_id});
  if (!f.deployment_id.empty()) runs["deployment_id"] = any_of({f.deployment_id});
  if (f.start_time_after || f.start_time_before) {
    json t = json::object();
    if (f.start_time_after) t["after_"] = format_time(*f.start_time_after);
    if (f.start_time_before) t["before_"] = format_time(*f.start_time_before);
    runs["start_time"] = t;
  }
  if (f.expected_start_time_after || f.expected_start_time_before) {
    json t = json::object();
    if (f.expected_start_time_after) t["after_"] = format_time(*f.expected_start_time_after);
    if (f.expected_start_time_before) t["before_"] = format_time(*f.expected_start_time_before);
    runs["expected_start_time"] = t;
  }
  if (f.next_scheduled_start_time_before)
    runs["next_scheduled_start_time"] = {
        {"before_", format_time(*f.next_scheduled_start_time_before)}};
  json body{{"flow_runs", runs}, {"sort", f.sort}, {"limit", f.limit}, {"offset", f.offset}};
  if (!f.flow_names.empty()) body["flows"] = {{"name", any_of(f.flow_names)}};
  return call("POST", "/flow_runs/filter", body).get<std::vector<FlowRunRecord>>();
}

bool RemoteClient::delete_flow_run(const std::string& id) {
  flush();  // queued task runs and logs of this run must not arrive after it is gone
  return call_or_missing("DELETE", "/flow_runs/" + id).has_value();
}

std::vector<State> RemoteClient::read_states(const std::string& run_id) {
  if (auto r = call_or_missing("GET", "/flow_run_states/?flow_run_id=" + run_id))
    return r->get<std::vector<State>>();
  flush();
  if (auto r = call_or_missing("GET", "/task_run_states/?task_run_id=" + run_id))
    return r->get<std::vector<State>>();
  return {};
}

void RemoteClient::record_task_run(const TaskRunRecord& run) {
  {
    std::lock_guard lock(mutex_);
    pending_.task_runs.push_back(run);
    ++enqueued_;
  }
  work_cv_.notify_one();
}

std::optional<TaskRunRecord> RemoteClient::read_task_run(const std::string& id) {
  flush();
  auto r = call_or_missing("GET", "/task_runs/" + id);
  if (!r) return std::nullopt;
  return r->get<TaskRunRecord>();
}

std::vector<TaskRunRecord> RemoteClient::filter_task_runs(const TaskRunFilter& f) {
  flush();
  json runs = json::object();
  if (!f.ids.empty()) runs["id"] = any_of(f.ids);
  if (!f.state_types.empty() || !f.state_names.empty())
    runs["state"] = state_filter(f.state_types, f.state_names);
  if (!f.tags.empty()) runs["tags"] = {{"all_", f.tags}};
  json body{{"task_runs", runs}, {"sort", f.sort}, {"limit", f.limit}, {"offset", f.offset}};
  if (!f.flow_run_id.empty()) body["flow_runs"] = {{"id", any_of({f.flow_run_id})}};
  return call("POST", "/task_runs/filter", body).get<std::vector<TaskRunRecord>>();
}

void RemoteClient::write_logs(std::vector<LogRecord> logs) {
  if (logs.empty()) return;
  {
    std::lock_guard lock(mutex_);
    enqueued_ += logs.size();
    for (auto& l : logs) pending_.logs.push_back(std::move(l));
  }
  work_cv_.notify_one();
}

std::vector<LogRecord> RemoteClient::read_logs(const LogFilter& f) {
  flush();
  json logs = json::object();
  if (!f.flow_run_ids.empty()) logs["flow_run_id"] = any_of(f.flow_run_ids);
  json task_runs = json::object();
  if (!f.task_run_ids.empty()) task_runs = any_of(f.task_run_ids);
  if (f.task_run_is_null) task_runs["is_null_"] = *f.task_run_is_null;
  if (!task_runs.empty()) logs["task_run_id"] = std::move(task_runs);
  json level = json::object();
  if (f.min_level) level["ge_"] = *f.min_level;
  if (f.max_level) level["le_"] = *f.max_level;
  if (!level.empty()) logs["level"] = std::move(level);
  json timestamp = json::object();
  if (f.timestamp_after) timestamp["after_"] = format_time(*f.timestamp_after);
  if (f.timestamp_before) timestamp["before_"] = format_time(*f.timestamp_before);
  if (!timestamp.empty()) logs["timestamp"] = std::move(timestamp);
  return call("POST", "/logs/filter",
              {{"logs", logs}, {"sort", f.sort}, {"limit", f.limit}, {"offset", f.offset}})
      .get<std::vector<LogRecord>>();
}

void RemoteClient::flush() {
  std::unique_lock lock(mutex_);
  uint64_t target = enqueued_;
  work_cv_.notify_one();
  done_cv_.wait(lock, [&] { return sent_ >= target; });
  if (!error_) return;
  auto first = std::exchange(error_, nullptr);
  const uint64_t lost = std::exchange(lost_records_, 0);
  const uint64_t first_lost = std::exchange(first_error_records_, 0);
  lock.unlock();
  if (lost > first_lost) {
    // Several batches were dropped since the last flush: the first one's error, with the total.
    try {
      std::rethrow_exception(first);
    } catch (const Error& e) {
      throw Error(e.kind(),
                  std::string(e.what()) + " In all " + std::to_string(lost) +
                      " record(s) were lost since the last flush (each batch is logged).",
                  e.field());
    }
  }
  std::rethrow_exception(first);
}

std::optional<State> RemoteClient::find_cached_state(const std::string& cache_key, TimePoint at) {
  flush();
  json r =
      call("POST", "/task_runs/cached_state", {{"cache_key", cache_key}, {"now", format_time(at)}});
  if (r.is_null()) return std::nullopt;
  return r.get<State>();
}

int64_t RemoteClient::expire_cache(const CacheSelector& which, TimePoint at) {
  check_cache_selector(which);
  flush();
  json body = {{"now", format_time(at)}};
  if (which.cache_key.empty())
    body["task_key"] = which.task_key;
  else
    body["cache_key"] = which.cache_key;
  return call("POST", "/task_runs/cache/clear", body).at("cleared").get<int64_t>();
}

std::vector<std::string> RemoteClient::mark_crashed_runs() {
  return call("POST", "/flow_runs/mark_crashed", json::object())
      .at("flow_run_ids")
      .get<std::vector<std::string>>();
}

ConcurrencySlots RemoteClient::acquire_concurrency_slots(const std::vector<std::string>& names,
                                                         int slots, double lease_seconds,
                                                         const std::string& holder) {
  json body{{"names", names},
            {"slots", slots},
            {"mode", "concurrency"},
            {"lease_duration", std::clamp(lease_seconds, 1.0, 86400.0)}};
  if (!holder.empty()) body["holder"] = holder;
  auto r = request("POST", "/v2/concurrency_limits/increment-with-lease", body.dump());
  ConcurrencySlots out;
  json answer = json::parse(r.body, nullptr, false);
  if (r.status == 423) {  // a limit is full: nothing was taken
    out.status = ConcurrencySlots::Status::kWait;
    out.retry_after_s =
        answer.is_object() && answer.contains("retry_after") && answer["retry_after"].is_number()
            ? answer["retry_after"].get<double>()
            : 1.0;
    out.reason = error_from_response(r.status, r.body).what();
    return out;
  }
  if (r.status == 422) {  // a limit has fewer slots than asked for: it can never admit this
    Error e = error_from_response(r.status, r.body);
    if (e.field() == "slots") {
      out.status = ConcurrencySlots::Status::kAbort;
      out.reason = e.what();
      return out;
    }
    throw e;
  }
  if (r.status < 200 || r.status >= 300) throw error_from_response(r.status, r.body);
  if (answer.is_object() && answer.contains("lease_id") && answer["lease_id"].is_string())
    out.lease_id = answer["lease_id"].get<std::string>();
  return out;
}

bool RemoteClient::renew_concurrency_lease(const std::string& lease_id, double lease_seconds) {
  return call_or_missing("POST", "/v2/concurrency_limits/leases/" + lease_id + "/renew",
                         {{"lease_duration", std::clamp(lease_seconds, 1.0, 86400.0)}})
      .has_value();
}

bool RemoteClient::release_concurrency_slots(const std::string& lease_id) {
  return call_or_missing("POST", "/v2/concurrency_limits/decrement-with-lease",
                         {{"lease_id", lease_id}})
      .has_value();
}

void RemoteClient::run_sender() {
  std::unique_lock lock(mutex_);
  for (;;) {
    work_cv_.wait(lock,
                  [&] { return stop_ || !pending_.task_runs.empty() || !pending_.logs.empty(); });
    if (pending_.task_runs.empty() && pending_.logs.empty()) return;  // stopping, nothing left
    Outbox batch = std::move(pending_);
    pending_ = {};
    lock.unlock();
    size_t records = batch.task_runs.size() + batch.logs.size();
    std::exception_ptr failure;
    size_t failure_records = 0, lost = 0;
    auto record_failure = [&](size_t count) {
      if (!failure) {
        failure = std::current_exception();
        failure_records = count;
      }
      lost += count;
    };
    for (size_t i = 0; i < batch.task_runs.size(); i += options_.max_batch) {
      size_t end = std::min(batch.task_runs.size(), i + options_.max_batch);
      // Written as text directly: a tree per snapshot cost more than the request itself.
      std::string body = "{\"task_runs\":[";
      body.reserve((end - i) * 512);
      for (size_t k = i; k < end; ++k) {
        if (k != i) body += ',';
        append_json(body, batch.task_runs[k]);
      }
      body += "]}";
      try {
        send_with_retry("/task_runs/batch", body, end - i);
      } catch (...) {
        record_failure(end - i);
      }
    }
    for (size_t i = 0; i < batch.logs.size(); i += options_.max_batch) {
      size_t end = std::min(batch.logs.size(), i + options_.max_batch);
      json logs = json::array();
      for (size_t k = i; k < end; ++k) logs.push_back(batch.logs[k]);
      try {
        send_with_retry("/logs/", logs.dump(), end - i);
      } catch (...) {
        record_failure(end - i);
      }
    }
    lock.lock();
    sent_ += records;
    if (failure && !error_) {
      error_ = failure;
      first_error_records_ = failure_records;
    }
    lost_records_ += lost;
    done_cv_.notify_all();
  }
}

void RemoteClient::send_with_retry(const std::string& target, const std::string& text,
                                   size_t records) {
  const auto started = RetryBackoff::Clock::now();
  std::optional<RetryBackoff> backoff;  // made by the first failure: nothing to pay when none
  std::string last_error;
  // One key for every attempt of this batch: an attempt the server committed but could not
  // answer makes the next attempt a repeat the server recognises, not a second copy.
  const HttpClient::Headers headers{{"Idempotency-Key", new_id()}};
  for (;;) {
    try {
      auto r = http_.request("POST", target, text, headers);
      if (r.status >= 200 && r.status < 300) return;
      Error e = error_from_response(r.status, r.body);
      if (e.kind() != ErrorKind::kUnavailable && r.status < 500) {
        std::string what = "the server rejected " + std::to_string(records) +
                           " record(s) sent to " + target + ": " + e.what();
        spdlog::error("{}", what);
        throw Error(e.kind(), what, e.field());
      }
      last_error = e.what();
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::kUnavailable) throw;
      last_error = e.what();
    }
    if (!backoff) backoff.emplace(options_.give_up_after, started);
    if (!backoff->wait()) {
      std::string what = "gave up sending " + std::to_string(records) + " record(s) to " +
                         http_.url().to_string() + target + " after " +
                         seconds_text(backoff->elapsed()) +
                         " of retries; they are lost. Last error: " + last_error;
      spdlog::error("{}", what);
      throw unavailable(what);
    }
  }
}

json RemoteClient::create_concurrency_limit(const std::string& name, int limit, bool active,
                                            double slot_decay_per_second) {
  return call("POST", "/v2/concurrency_limits/",
              {{"name", name},
               {"limit", limit},
               {"active", active},
               {"slot_decay_per_second", slot_decay_per_second}});
}

json RemoteClient::set_concurrency_limit(const std::string& name, int limit) {
  // Change it if it exists, else create it; a create that loses a race to another client's
  // create changes the limit that client made.
  if (auto changed = call_or_missing("PATCH", limit_path(name), {{"limit", limit}}))
    return *changed;
  try {
    return create_concurrency_limit(name, limit, true, 0);
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::kConflict) throw;
    return call("PATCH", limit_path(name), {{"limit", limit}});
  }
}

json RemoteClient::update_concurrency_limit(const std::string& id_or_name, const json& changes) {
  return call("PATCH", limit_path(id_or_name), changes);
}

std::optional<json> RemoteClient::read_concurrency_limit(const std::string& id_or_name) {
  return call_or_missing("GET", limit_path(id_or_name));
}

std::vector<json> RemoteClient::list_concurrency_limits(const std::string& name_prefix) {
  std::vector<json> out;
  constexpr int kPage = 1000;
  for (int offset = 0;; offset += kPage) {
    json page =
        call("POST", "/v2/concurrency_limits/filter", {{"limit", kPage}, {"offset", offset}});
    for (auto& limit : page)
      if (limit.value("name", "").starts_with(name_prefix)) out.push_back(std::move(limit));
    if (page.size() < static_cast<size_t>(kPage)) return out;
  }
}

bool RemoteClient::delete_concurrency_limit(const std::string& id_or_name) {
  return call_or_missing("DELETE", limit_path(id_or_name)).has_value();
}

json RemoteClient::reset_concurrency_limit(const std::string& id_or_name) {
  return call("POST", limit_path(id_or_name) + "/reset", json::object());
}

json RemoteClient::create_artifact(const json& artifact) {
  return call("POST", "/artifacts/", artifact);
}

std::optional<json> RemoteClient::read_artifact(const std::string& id) {
  return call_or_missing("GET", artifact_path(id));
}

std::optional<json> RemoteClient::read_latest_artifact(const std::string& key) {
  storage::ArtifactStore::check_key(key);
  return call_or_missing("GET", "/artifacts/" + segment(key) + "/latest");
}

std::vector<json> RemoteClient::filter_artifacts(const ArtifactFilter& f) {
  json artifacts = json::object();
  if (!f.keys.empty()) artifacts["key"] = any_of(f.keys);
  if (!f.types.empty()) artifacts["type"] = any_of(f.types);
  if (!f.flow_run_ids.empty()) artifacts["flow_run_id"] = any_of(f.flow_run_ids);
  if (!f.task_run_ids.empty()) artifacts["task_run_id"] = any_of(f.task_run_ids);
  // The route caps a page; a larger limit is read page by page.
  constexpr int kPage = 1000;
  std::vector<json> out;
  for (int offset = f.offset;; offset += kPage) {
    int want = std::min(kPage, f.limit - static_cast<int>(out.size()));
    if (want <= 0) return out;
    json page =
        call("POST", f.latest_only ? "/artifacts/latest/filter" : "/artifacts/filter",
             {{"artifacts", artifacts}, {"sort", f.sort}, {"limit", want}, {"offset", offset}});
    for (auto& a : page) out.push_back(std::move(a));
    if (page.size() < static_cast<size_t>(want)) return out;
  }
}

json RemoteClient::update_artifact(const std::string& id, const json& changes) {
  call("PATCH", artifact_path(id), changes);
  return call("GET", artifact_path(id));
}

bool RemoteClient::delete_artifact(const std::string& id) {
  return call_or_missing("DELETE", artifact_path(id)).has_value();
}

std::optional<json> RemoteClient::read_variable(const std::string& name) {
  return call_or_missing("GET", variable_path(name));
}

json RemoteClient::set_variable(const std::string& name, const json& value,
                                const std::optional<std::vector<std::string>>& tags,
                                bool overwrite) {
  const std::string path = variable_path(name);
  try {
    return call(
        "POST", "/variables/",
        {{"name", name}, {"value", value}, {"tags", tags.value_or(std::vector<std::string>{})}});
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::kConflict) throw;
    if (!overwrite)
      throw conflict("a variable named '" + name +
                     "' already exists; set it with overwrite to replace its value");
  }
  json changes{{"value", value}};
  if (tags) changes["tags"] = *tags;
  call("PATCH", path, changes);
  return call("GET", path);
}

bool RemoteClient::delete_variable(const std::string& name) {
  return call_or_missing("DELETE", variable_path(name)).has_value();
}

std::vector<json> RemoteClient::list_variables() {
  std::vector<json> out;
  constexpr int kPage = 1000;
  for (int offset = 0;; offset += kPage) {
    json page = call("POST", "/variables/filter", {{"limit", kPage}, {"offset", offset}});
    for (auto& v : page) out.push_back(std::move(v));
    if (page.size() < static_cast<size_t>(kPage)) return out;
  }
}

}  // namespace baton
