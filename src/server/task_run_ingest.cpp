#include "server/task_run_ingest.h"

#include <iterator>
#include <nlohmann/json.hpp>

#include "baton/error.h"
#include "model/ids.h"
#include "model/json_text.h"

namespace baton::server {

namespace {
using nlohmann::json;

constexpr std::string_view kKindPrefix = "baton.task-run.";
constexpr std::string_view kNoRelated = "[]";

}  // namespace

// One caller's batch: its records, the text of its events (one buffer) with each event's pieces
// as offsets into it, and how the commit went.
struct TaskRunIngest::Pending {
  std::vector<TaskRunRecord>* runs = nullptr;
  const std::vector<LogRecord>* logs = nullptr;
  std::vector<std::string> keys;  // the batch's idempotency key, if it has one
  std::string text;
  struct Offsets {
    size_t id, event, resource_id, resource, payload, end;
    TimePoint occurred;
  };
  std::vector<Offsets> offsets;
  std::vector<storage::EventView> events;  // views into `text`, made once it stops growing
  bool done = false;
  std::exception_ptr error;

  // Builds the events of the runs' states: "baton.task-run.<state name>" on resource
  // "baton.task-run.<id>", payload {"validated_state": state}.
  void build_events() {
    offsets.reserve(runs->size());
    text.reserve(runs->size() * 512);
    for (const auto& r : *runs) {
      Offsets o{};
      o.occurred = r.state.timestamp;
      o.id = text.size();
      text += new_id();
      o.event = text.size();
      text += kKindPrefix;
      text += r.state.name;
      o.resource_id = text.size();
      text += kKindPrefix;
      text += r.id;
      o.resource = text.size();
      text += "{\"baton.resource.id\":\"";
      text += kKindPrefix;
      text += r.id;  // a UUID: nothing to escape
      text += "\",\"baton.state-type\":\"";
      text += to_string(r.state.type);
      text += "\",\"baton.state-name\":";
      append_json_string(text, r.state.name);
      if (!r.name.empty()) {
        text += ",\"baton.resource.name\":";
        append_json_string(text, r.name);
      }
      text += '}';
      o.payload = text.size();
      text += "{\"validated_state\":";
      append_json(text, r.state);
      text += '}';
      o.end = text.size();
      offsets.push_back(o);
    }
    events.reserve(offsets.size());
    std::string_view all(text);
    for (const auto& o : offsets) {
      events.push_back({.id = all.substr(o.id, o.event - o.id),
                        .occurred = o.occurred,
                        .event = all.substr(o.event, o.resource_id - o.event),
                        .resource_id = all.substr(o.resource_id, o.resource - o.resource_id),
                        .resource = all.substr(o.resource, o.payload - o.resource),
                        .related = kNoRelated,
                        .payload = all.substr(o.payload, o.end - o.payload)});
    }
  }
};

TaskRunIngest::TaskRunIngest(storage::Storage& storage, EventBus& bus, bool store_events)
    : storage_(storage), bus_(bus), store_events_(store_events) {}

void TaskRunIngest::record(std::vector<TaskRunRecord>& runs, const std::vector<LogRecord>& logs,
                           const std::string& request_key) {
  if (runs.empty() && logs.empty()) return;
  // Claimed before the key is looked up, and released only once the batch is committed or has
  // failed: a second request with the key either finds it stored or records the batch itself.
  claim_key(request_key);
  struct Release {
    TaskRunIngest& self;
    const std::string& key;
    ~Release() { self.release_key(key); }
  } release{*this, request_key};
  if (!request_key.empty() && storage_.has_request_key(request_key)) return;
  TimePoint at = now();
  for (auto& r : runs) {
    if (r.created == TimePoint{}) r.created = at;
    r.updated = at;
  }
  Pending batch;
  batch.runs = &runs;
  batch.logs = &logs;
  if (!request_key.empty()) batch.keys.push_back(request_key);
  batch.build_events();
  commit(batch);
  if (batch.error) std::rethrow_exception(batch.error);
  publish(batch);
}

void TaskRunIngest::claim_key(const std::string& key) {
  if (key.empty()) return;
  std::unique_lock lock(mutex_);
  done_cv_.wait(lock, [&] { return !keys_in_flight_.contains(key); });
  keys_in_flight_.insert(key);
}

void TaskRunIngest::release_key(const std::string& key) {
  if (key.empty()) return;
  {
    std::lock_guard lock(mutex_);
    keys_in_flight_.erase(key);
  }
  done_cv_.notify_all();
}

void TaskRunIngest::commit(Pending& batch) {
  std::unique_lock lock(mutex_);
  queue_.push_back(&batch);
  while (!batch.done) {
    if (committing_) {
      done_cv_.wait(lock);
      continue;
    }
    committing_ = true;
    std::vector<Pending*> batches;
    batches.swap(queue_);
    lock.unlock();
    write(batches);
    lock.lock();
    for (auto* b : batches) b->done = true;
    committing_ = false;
    done_cv_.notify_all();
  }
}

void TaskRunIngest::write(std::vector<Pending*>& batches) {
  static const std::vector<storage::EventView> kNoEvents;
  auto write_one = [&](Pending& b) {
    try {
      storage_.write_batch_with_events(*b.runs, *b.logs, store_events_ ? b.events : kNoEvents,
                                       b.keys);
    } catch (...) {
      b.error = std::current_exception();
    }
  };
  if (batches.size() == 1) {
    write_one(*batches.front());
    return;
  }
  // Several requests in one transaction: their records are moved into one batch and back. The
  // vectors are the leader's, kept across commits so that their memory is not taken anew.
  auto& runs = combined_runs_;
  auto& logs = combined_logs_;
  auto& events = combined_events_;
  auto& keys = combined_keys_;
  for (auto* b : batches) {
    std::move(b->runs->begin(), b->runs->end(), std::back_inserter(runs));
    logs.insert(logs.end(), b->logs->begin(), b->logs->end());
    if (store_events_) events.insert(events.end(), b->events.begin(), b->events.end());
    keys.insert(keys.end(), b->keys.begin(), b->keys.end());
  }
  bool failed = false;
  try {
    storage_.write_batch_with_events(runs, logs, events, keys);
  } catch (...) {
    failed = true;
  }
  // Back to their callers, who may answer with them.
  size_t next = 0;
  for (auto* b : batches)
    for (auto& r : *b->runs) r = std::move(runs[next++]);
  runs.clear();
  logs.clear();
  events.clear();
  keys.clear();
  if (!failed) return;
  // Find the request(s) at fault: each alone is all or nothing.
  for (auto* b : batches) write_one(*b);
}

void TaskRunIngest::publish(const Pending& batch) {
  if (batch.events.empty() || bus_.subscriber_count() == 0) return;
  for (const auto& e : batch.events) {
    bus_.publish(json{{"id", e.id},
                      {"occurred", format_time(e.occurred)},
                      {"event", e.event},
                      {"resource", json::parse(e.resource)},
                      {"related", json::array()},
                      {"payload", json::parse(e.payload)}});
  }
}

}  // namespace baton::server
