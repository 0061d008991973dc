// Storage over one SQLite file (WAL): the embedded database under $BATON_HOME.
//
// Holds two connections: one for synchronous calls (flow runs, reads) and one for write_batch,
// so the group-commit writer never waits behind a reader in this process; across processes
// SQLite's locks (BEGIN IMMEDIATE + busy timeout + bounded retry) serialise writers.
//
// Thread-safety: all methods are safe from any thread; each connection is guarded by its mutex.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "storage/sqlite/connection.h"
#include "storage/storage.h"

namespace baton::storage {

// A flow run as a read of its rows returns it, with its current state's transition id and its
// rowid (see SqliteStorage's run cache).
struct StoredFlowRun {
  FlowRunRecord run;
  std::string transition_id;
  int64_t rowid = 0;
};

class SqliteStorage final : public Storage {
 public:
  // Opens `path` (creating it), applies pending migrations. Throws unavailable on failure.
  explicit SqliteStorage(const std::string& path, sqlite::ConnectionOptions options = {});
  ~SqliteStorage() override;

  FlowRecord upsert_flow(const std::string& name, const std::vector<std::string>& tags) override;
  std::vector<FlowRecord> list_flows(int limit, int offset) override;
  std::optional<FlowRecord> read_flow_by_name(const std::string& name) override;
  std::optional<FlowRecord> read_flow(const std::string& id) override;
  InsertResult insert_flow_run(const FlowRunRecord& run) override;
  bool update_flow_run(const std::string& id, const DecideFn& decide) override;
  std::vector<FlowRunOpResult> write_flow_runs(const std::vector<FlowRunOp>& ops) override;
  std::optional<FlowRunRecord> read_flow_run(const std::string& id) override;
  std::vector<FlowRunRecord> filter_flow_runs(const FlowRunFilter& filter) override;
  int64_t count_flow_runs(const FlowRunFilter& filter) override;
  bool delete_flow_run(const std::string& id) override;
  std::vector<StateRow> read_states(const std::string& run_id) override;
  using Storage::write_task_runs;
  void write_task_runs(const TaskRunRows& task_runs, const std::vector<LogRecord>& logs,
                       const std::vector<EventView>& events,
                       const std::vector<std::string>& request_keys) override;
  bool has_request_key(const std::string& key) override;
  std::optional<TaskRunRecord> read_task_run(const std::string& id) override;
  std::vector<TaskRunRecord> filter_task_runs(const TaskRunFilter& filter) override;
  int64_t count_task_runs(const TaskRunFilter& filter) override;
  bool delete_task_run(const std::string& id) override;
  std::vector<LogRecord> read_logs(const LogFilter& filter) override;
  std::optional<State> find_cached_state(const std::string& cache_key, TimePoint now) override;
  int64_t expire_cache(const CacheSelector& which, TimePoint at) override;
  int set_task_runs_state(const std::string& flow_run_id, const std::vector<StateType>& from,
                          const State& state) override;
  void on_writer_idle() override;
  int64_t delete_events_before(TimePoint cutoff, int limit) override;
  ExpiredRunsStep delete_expired_flow_runs(TimePoint ended_before, int max_runs, int64_t row_budget,
                                           ExpiredRunCursor& cursor) override;

  const std::string& path() const noexcept { return path_; }

  // Past this WAL size the checkpointer makes SQLite start the WAL over from its beginning
  // (restart_wal). SQLite does that by itself only when a write begins with every page of the
  // WAL copied back, and under a steady stream of commits that moment never comes: a server
  // under load grew its WAL to 1 GB in 20,000 commits and on without end. Starting over also
  // makes commits cheaper: they write into file pages the kernel already holds instead of
  // growing the file (at one client a W3 request spent a third of the server's CPU there, most
  // of it allocating new pages and blocks). The file keeps this size at most (SQLite's
  // journal_size_limit). Each start-over holds the writers back for a moment (restart_wal), so it
  // should come rarely: 128 MiB is about one second of one-client W3 commits. Tests lower it.
  static constexpr int64_t kWalRestartBytes = int64_t{128} << 20;
  void set_wal_restart_bytes(int64_t bytes);

 private:
  // Wakes the checkpointer (started on first use); called with main_mutex_ or batch_mutex_ held.
  void request_checkpoint();
  // After a commit on main_ (flow runs, the server's requests): a WAL past kCheckpointIdleBytes is
  // handed to the checkpointer, so the committing request never waits for a checkpoint.
  void after_main_commit();
  void run_checkpointer();
  // Copies the whole WAL back so that the next write starts it over: PASSIVE checkpoints beside
  // the writers while each leaves less behind, then one with this process's writers held back
  // for the last pages (see the .cpp for what that costs them).
  void restart_wal();
  // The retention connection, opened on first use; call with maintenance_mutex_ held.
  sqlite::Connection& maintenance();
  // After a commit on the retention connection: a WAL grown past kCheckpointIdleBytes is handed
  // to the checkpointer (deletes write pages too).
  void after_maintenance_commit();

  std::string path_;
  sqlite::ConnectionOptions options_;
  // Held by write transactions on either connection (Connection::share_write_lock): flow-run
  // transitions wait for a group commit in progress instead of sleeping in the busy handler.
  // Declared before the connections, which point at it.
  std::mutex write_mutex_;
  std::mutex main_mutex_;
  sqlite::Connection main_;
  // The flow runs write_flow_runs last created or changed, as their rows now read, so that a
  // transition does not read its run back (a quarter of its statement work). Trusted only while
  // main_'s data version is the one recorded after the cache's last commit: any other commit (on
  // main_ by another method, on batch_, by another process) moves it and the cache is dropped; so
  // is a transaction that did not commit (run_cache_open_). Guarded by main_mutex_.
  std::unordered_map<std::string, StoredFlowRun> run_cache_;
  uint32_t run_cache_version_ = 0;
  bool run_cache_open_ = false;
  std::mutex batch_mutex_;
  sqlite::Connection batch_;
  // Retention's deletes (delete_events_before, delete_expired_flow_runs) run on a connection of
  // their own: between two of their transactions the writers take turns on write_mutex_ as usual,
  // and reads on main_ never wait behind a delete. A commit here moves main_'s data version, so
  // the run cache cannot keep a deleted run. Guarded by maintenance_mutex_.
  std::mutex maintenance_mutex_;
  std::unique_ptr<sqlite::Connection> maintenance_;
  // Idempotency keys stored since old ones were last pruned (see write_task_runs). Guarded by
  // batch_mutex_.
  int64_t request_keys_since_prune_ = 0;
  // Flow-run commits (the server's requests) hand WAL checkpoints to a thread with a connection
  // of its own: a PASSIVE checkpoint runs beside writers, so no commit waits for one.
  std::mutex checkpoint_mutex_;
  std::condition_variable checkpoint_cv_;
  bool checkpoint_wanted_ = false, checkpointer_stop_ = false;
  std::unique_ptr<sqlite::Connection> checkpointer_db_;
  std::atomic<int64_t> wal_restart_bytes_{kWalRestartBytes};
  std::thread checkpointer_;
};

}  // namespace baton::storage
