// The storage interface: what the orchestration client (and the server) need from a database.
//
// One implementation per database: SqliteStorage (src/storage/sqlite/) now, a PostgreSQL one
// (src/storage/postgres/) later, behind this same interface so callers never change. The SQL is
// portable (ON CONFLICT, RETURNING, BIGINT microsecond times, TEXT JSON, `?` placeholders that a
// PostgreSQL backend rewrites to $n); what differs between dialects (tag containment, JSON
// access, row claims) lives in each backend's dialect file.
//
// Storage records and reads; it decides nothing. Flow-run transitions are read-decide-write in
// one write transaction: update_flow_run() reads the row, calls the caller's `decide` (which
// applies the orchestration rules) and writes what it returns, atomically with respect to every
// other process writing the same database.
//
// Errors: baton::Error. kUnavailable when the database cannot be opened or stays locked past the
// retry budget; kInvalidArgument for a bad filter (e.g. an unknown sort name, naming "sort");
// kConflict for a constraint violation. A failed call writes nothing.
//
// Thread-safety: every method may be called from any thread (implementations serialise on their
// connection). Batched writes go through BatchWriter (batch_writer.h), not through here directly.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "baton/state.h"
#include "model/records.h"
#include "storage/task_run_rows.h"

namespace baton::storage {

// A state as recorded in a run's history, with the storage-level fields the model's State lacks.
struct StateRow {
  std::string id;
  State state;
  std::string transition_id;
};

// A row of the event table (migration 0100) written in the same transaction as the flow-run change
// it records, so the change and its event are durable together or not at all. The JSON members
// (resource, related, payload) are serialised text; resource_id is resource["baton.resource.id"].
struct EventRow {
  std::string id;
  TimePoint occurred;
  std::string event;
  std::string resource_id;
  std::string resource;
  std::string related;
  std::string payload;
};

// What update_flow_run's `decide` returns: the state to append (nullopt = write nothing), the
// transition id to store with it, and the events recording the change (written only with a
// state). `run` is updated in place by `decide`.
struct FlowRunWrite {
  std::optional<State> state;
  std::string transition_id;
  std::vector<EventRow> events;
};

// EventRow's non-owning twin, for write_batch_with_events: the server records an event for every
// task-run state it ingests, and builds a batch's thousands of events in one buffer it owns
// (which must outlive the call) rather than in five strings each.
struct EventView {
  std::string_view id;
  TimePoint occurred{};
  std::string_view event;        // "baton.task-run.Completed"
  std::string_view resource_id;  // "baton.task-run.<id>"
  std::string_view resource;     // JSON object
  std::string_view related;      // JSON array
  std::string_view payload;      // JSON object
};

class Storage {
 public:
  virtual ~Storage() = default;

  // Flows, upserted by name (tags replaced when given non-empty).
  virtual FlowRecord upsert_flow(const std::string& name, const std::vector<std::string>& tags) = 0;
  virtual std::vector<FlowRecord> list_flows(int limit, int offset) = 0;
  virtual std::optional<FlowRecord> read_flow_by_name(const std::string& name) = 0;
  // One indexed lookup by primary key.
  virtual std::optional<FlowRecord> read_flow(const std::string& id) = 0;

  // Inserts `run` (id, flow_id, timestamps filled by the caller) with run.state as its first
  // history entry. When run.idempotency_key is set and the flow already has a run with it,
  // nothing is written and the existing run is returned with `inserted` false.
  struct InsertResult {
    FlowRunRecord run;
    bool inserted = false;
  };
  virtual InsertResult insert_flow_run(const FlowRunRecord& run) = 0;

  // Read-decide-write in one transaction. `decide` receives the run as stored (and the current
  // state's transition id) and returns what to write; it may change the run's fields (counters,
  // times, infrastructure_pid), which are written when a state is. Returns false when there is
  // no such run (decide is not called). `decide` may run more than once when the database was
  // busy, so it must not have side effects beyond its captures.
  using DecideFn =
      std::function<FlowRunWrite(FlowRunRecord& run, const std::string& transition_id)>;
  virtual bool update_flow_run(const std::string& id, const DecideFn& decide) = 0;

  // Group commit of flow-run transitions: several read-decide-writes in ONE transaction, applied
  // in order (a later update of the same run sees the earlier one's write). Returns, per update,
  // what update_flow_run would. All or nothing: when it throws, nothing was written. (It is
  // write_flow_runs with transitions only.)
  struct FlowRunUpdate {
    std::string id;
    const DecideFn* decide = nullptr;
  };
  std::vector<bool> update_flow_runs(const std::vector<FlowRunUpdate>& updates);

  // Group commit of flow-run creations and transitions together (the server's concurrent
  // requests): every op in ONE transaction, in order, all or nothing. An op with `insert` set is
  // insert_flow_run, whose `insert_events` are written only when the run is inserted (not when an
  // idempotency key finds an existing run); otherwise it is update_flow_run(id, *decide), with the
  // events `decide` returns.
  struct FlowRunOp {
    const FlowRunRecord* insert = nullptr;
    std::vector<EventRow> insert_events;
    std::string id;
    const DecideFn* decide = nullptr;
  };
  struct FlowRunOpResult {
    bool found = false;     // an update: the run exists
    InsertResult inserted;  // an insert: the run as stored
  };
  virtual std::vector<FlowRunOpResult> write_flow_runs(const std::vector<FlowRunOp>& ops) = 0;

  virtual std::optional<FlowRunRecord> read_flow_run(const std::string& id) = 0;
  virtual std::vector<FlowRunRecord> filter_flow_runs(const FlowRunFilter& filter) = 0;
  virtual int64_t count_flow_runs(const FlowRunFilter& filter) = 0;
  // Deletes the run, its states, its task runs with their states, its logs. False if absent.
  virtual bool delete_flow_run(const std::string& id) = 0;

  // History of a flow run or task run, oldest first.
  virtual std::vector<StateRow> read_states(const std::string& run_id) = 0;

  // Writes a batch in one transaction: each task run snapshot is upserted and its state appended
  // to its history (in order); logs are inserted. All or nothing. (write_batch_with_events
  // without events.)
  void write_batch(const std::vector<TaskRunRecord>& task_runs, const std::vector<LogRecord>& logs);
  // write_batch, and `events` inserted in the same transaction: the events of the batch's state
  // changes are durable exactly when the states are, and a failure writes neither. Events whose
  // id is already stored are skipped. (Encodes the snapshots as TaskRunRows, then
  // write_task_runs.)
  // `request_keys`: the idempotency keys of the client batches these records came from, stored
  // in the same transaction (see has_request_key).
  void write_batch_with_events(const std::vector<TaskRunRecord>& task_runs,
                               const std::vector<LogRecord>& logs,
                               const std::vector<EventView>& events,
                               const std::vector<std::string>& request_keys = {});
  // The same with the snapshots already encoded (the group-commit writer encodes them as they
  // are queued): each row is upserted, its lines appended to the run's history and its
  // current-state columns written unless the stored state is newer; logs and events inserted;
  // `request_keys` stored (a key stored already is left as it is); one transaction, all or
  // nothing.
  virtual void write_task_runs(const TaskRunRows& task_runs, const std::vector<LogRecord>& logs,
                               const std::vector<EventView>& events,
                               const std::vector<std::string>& request_keys) = 0;
  void write_task_runs(const TaskRunRows& task_runs, const std::vector<LogRecord>& logs,
                       const std::vector<EventView>& events) {
    write_task_runs(task_runs, logs, events, {});
  }
  // True when a batch was written with idempotency key `key` within the last day (older keys
  // do not count and are pruned by later writes): a client's retry of it is then a repeat.
  virtual bool has_request_key(const std::string& key) = 0;

  virtual std::optional<TaskRunRecord> read_task_run(const std::string& id) = 0;
  virtual std::vector<TaskRunRecord> filter_task_runs(const TaskRunFilter& filter) = 0;
  // How many task runs match (limit, offset and sort are ignored).
  virtual int64_t count_task_runs(const TaskRunFilter& filter) = 0;
  // Deletes the task run, its states and its logs. False if absent.
  virtual bool delete_task_run(const std::string& id) = 0;
  virtual std::vector<LogRecord> read_logs(const LogFilter& filter) = 0;

  // The newest COMPLETED task-run state stored under cache_key, unexpired at `now`.
  virtual std::optional<State> find_cached_state(const std::string& cache_key, TimePoint now) = 0;
  // Sets cache_expiration to `at` on the COMPLETED runs `which` selects whose entry is unexpired
  // at `at` (see OrchestrationClient::expire_cache); returns how many distinct keys they held.
  virtual int64_t expire_cache(const CacheSelector& which, TimePoint at) = 0;

  // Appends `state` to every task run of the flow run whose current state type is one of
  // `from` (e.g. PENDING/RUNNING -> Crashed), in one transaction. Returns how many changed.
  virtual int set_task_runs_state(const std::string& flow_run_id,
                                  const std::vector<StateType>& from, const State& state) = 0;

  // Called by BatchWriter when it has written everything queued: a quiet moment for
  // maintenance (SQLite checkpoints its WAL here rather than in the middle of a burst).
  virtual void on_writer_idle() {}

  // --- Retention (src/services/retention_service.h runs these step by step) --------------------
  // Each call is one short write transaction, so that the writers (group commits of flow-run
  // transitions and task-run batches) wait at most one step, and the caller decides how long to
  // let them run before the next.

  // Deletes up to `limit` events that occurred before `cutoff`, oldest first (ix_event_occurred),
  // in one transaction. Returns how many; fewer than `limit` means none older is left.
  virtual int64_t delete_events_before(TimePoint cutoff, int limit) = 0;

  // How far a flow-run retention pass has examined runs, in (expected_start_time, id) order. A
  // pass starts with a default-constructed cursor and hands the same one to every step.
  struct ExpiredRunCursor {
    int64_t expected_start_us = std::numeric_limits<int64_t>::min();  // since the epoch
    std::string id;
  };
  struct ExpiredRunsStep {
    int64_t flow_runs = 0;  // runs deleted, subflow runs included
    int64_t rows = 0;       // rows deleted: runs, their states, task runs, logs and artifacts
    bool more = false;      // there may be more to delete: call again with the same cursor
  };
  // One step of flow-run retention, in one transaction. Examines, after `cursor`, up to
  // `max_runs` runs that were expected to start before `ended_before` (every run that ended
  // before it was, unless it was scheduled ahead and cancelled early: that one is examined once its
  // expected start is that old), in (expected_start_time, id) order, whatever their state: the
  // range needs no index of its own, so ending a run writes no extra index entry. Of those, a run
  // in a final state (is_terminal: Completed, Failed, Cancelled, Crashed) that ended before
  // `ended_before` is expired, and each expired run that is the root of its tree of subflows
  // (it has no parent task run, or that task run no longer exists) is deleted together with its
  // subflow runs at every depth, provided every run of the tree is final; otherwise the whole
  // tree is kept. A subflow run is never deleted on its own, only with its root, so no run is
  // left pointing at a deleted parent. Each run goes with what delete_flow_run removes (its
  // states, its task runs with their states, its logs) and with its artifacts; children before
  // their parent, and a run's own row after everything it owns. Once `row_budget` rows are
  // deleted the step ends: the tree under way is finished by the next step, so a crash or a stop
  // between steps leaves runs that are still whole or partly emptied, never rows without a run.
  virtual ExpiredRunsStep delete_expired_flow_runs(TimePoint ended_before, int max_runs,
                                                   int64_t row_budget,
                                                   ExpiredRunCursor& cursor) = 0;
};

// $BATON_HOME (default ~/.baton), created when missing. Throws unavailable when it cannot be.
std::string baton_home();
// $BATON_HOME/baton.db.
std::string default_database_path();

// Opens (creating and migrating) the SQLite database at `path`. A file it creates gets pages of
// `new_file_page_size` bytes: sqlite::kBulkPageSize (the default) suits a program that records its
// own task runs, sqlite::kTransactionalPageSize the server (see sqlite/connection.h).
std::unique_ptr<Storage> open_sqlite_storage(const std::string& path, int new_file_page_size = 0);

}  // namespace baton::storage
