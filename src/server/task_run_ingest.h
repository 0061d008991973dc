// Durable ingestion of the task-run snapshots and log lines that clients post in batches
// (POST /api/task_runs/batch, /api/task_runs/, /api/logs/), with the event of every state.
//
//   TaskRunIngest ingest(storage, bus, /*store_events=*/true);
//   ingest.record(runs, {});   // returns once the runs and their events are committed
//
// Group commit across concurrent requests: a caller queues its batch; whoever finds no commit in
// progress becomes the leader and writes everything queued so far in ONE transaction
// (Storage::write_batch_with_events) while the next requests queue behind it, so the number of
// commits follows the load, not the number of requests. Each caller returns once its own batch
// is durable.
//
// Every task-run state becomes an event "baton.task-run.<state name>" in Prefect's shape (the
// same as emit_state_event's), built as text without a JSON tree and written in the same
// transaction as the state, so a stored state always has its stored event. Websocket
// subscribers (EventBus) receive them after the commit; with no subscriber no event JSON is built.
//
// Errors: all or nothing per call. When a shared transaction fails, each batch in it is retried
// alone, so one bad request cannot fail its neighbours; the failing caller gets the storage's
// baton::Error (kConflict, kUnavailable, ...) and nothing of its batch is written.
//
// Thread-safety: record() may be called from any thread; callers block until committed.
#pragma once

#include <condition_variable>
#include <exception>
#include <mutex>
#include <string>
#include <unordered_set>
#include <vector>

#include "model/records.h"
#include "server/event_bus.h"
#include "storage/storage.h"

namespace baton::server {

class TaskRunIngest {
 public:
  // `storage` and `bus` must outlive this object. Without `store_events` (a server that keeps no
  // events) the events are only published.
  TaskRunIngest(storage::Storage& storage, EventBus& bus, bool store_events);

  // Records the snapshots (each appends its state to its run's history) and the log lines.
  // Runs with no `created` time get now(); `updated` is set to now().
  // `request_key` (optional): the client's idempotency key for this batch, stored with it in the
  // same transaction. A batch whose key is stored already (a client's retry of a batch that was
  // committed but not answered) is not written again, nor are its events published. A request
  // whose key another request is recording at that moment waits for that one's outcome: once it
  // is committed, the waiting one is answered as a repeat; if it failed, the waiting one is
  // recorded as usual.
  void record(std::vector<TaskRunRecord>& runs, const std::vector<LogRecord>& logs,
              const std::string& request_key = {});

 private:
  struct Pending;
  void commit(Pending& batch);
  void write(std::vector<Pending*>& batches);
  void publish(const Pending& batch);
  // Waits until no other request is recording `key`, then marks it as being recorded (until
  // release_key). An empty key claims nothing.
  void claim_key(const std::string& key);
  void release_key(const std::string& key);

  storage::Storage& storage_;
  EventBus& bus_;
  const bool store_events_;
  std::mutex mutex_;
  std::condition_variable done_cv_;
  std::vector<Pending*> queue_;
  bool committing_ = false;
  // The leader's working vectors for a commit of several batches (see write()).
  std::vector<TaskRunRecord> combined_runs_;
  std::vector<LogRecord> combined_logs_;
  std::vector<storage::EventView> combined_events_;
  std::vector<std::string> combined_keys_;
  // The idempotency keys of the requests being recorded now (under mutex_).
  std::unordered_set<std::string> keys_in_flight_;
};

}  // namespace baton::server
