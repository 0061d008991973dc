// The embedded transport: the orchestration client running rules and storage in this process,
// over the SQLite file under BATON_HOME. What make_client() returns when BATON_API_URL is unset.
//
//   auto client = baton::EmbeddedClient::open();          // $BATON_HOME/baton.db
//   auto flow = client->ensure_flow("etl", {});
//   FlowRunRecord run;  run.flow_name = "etl";
//   run = client->create_flow_run(run);                    // Pending
//   client->set_flow_run_state(run.id, State::running());  // decided by the flow policy
//
// Flow-run transitions run the flow policy (orchestration/rules.h) inside a write transaction
// of the database: read the current state, decide, write. Transitions proposed by concurrent
// threads share one transaction (group commit); each call returns once its own is durable. Several
// processes may share the file. Task-run snapshots and logs go through a BatchWriter (group
// commit); reads of task runs, logs and cached states flush it first, so this process always reads
// its own writes.
//
// Thread-safety: every method may be called from any thread. Errors: see OrchestrationClient.
#pragma once

#include <condition_variable>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "client/orchestration_client.h"
#include "storage/artifact_store.h"
#include "storage/batch_writer.h"
#include "storage/concurrency_limits.h"
#include "storage/storage.h"
#include "storage/variable_store.h"

namespace baton {

class EmbeddedClient final : public OrchestrationClient {
 public:
  explicit EmbeddedClient(std::unique_ptr<storage::Storage> storage);
  ~EmbeddedClient() override;

  // Opens (creating and migrating) the SQLite database at `path`; empty = $BATON_HOME/baton.db.
  // A file it creates gets pages of `new_file_page_size` bytes; 0 = what suits a program
  // recording its own runs (storage::open_sqlite_storage says more).
  static std::unique_ptr<EmbeddedClient> open(const std::string& path = {},
                                              int new_file_page_size = 0);

  FlowRecord ensure_flow(const std::string& name, const std::vector<std::string>& tags) override;
  std::vector<FlowRecord> list_flows(int limit = 200, int offset = 0) override;
  FlowRunRecord create_flow_run(FlowRunRecord run) override;
  SetStateResult set_flow_run_state(const std::string& flow_run_id, const State& proposed,
                                    bool force = false) override;
  // As set_flow_run_state, but records `process_identity` rather than this process's identity as
  // the run's infrastructure_pid when it enters RUNNING: the server records the identity of the
  // remote process that runs the flow, so mark_crashed_runs() can tell when that one dies.
  SetStateResult set_flow_run_state_for(const std::string& flow_run_id, const State& proposed,
                                        bool force, const std::string& process_identity);
  std::optional<FlowRunRecord> read_flow_run(const std::string& id) override;
  std::vector<FlowRunRecord> filter_flow_runs(const FlowRunFilter& filter) override;
  bool delete_flow_run(const std::string& id) override;
  std::vector<State> read_states(const std::string& run_id) override;
  void record_task_run(const TaskRunRecord& run) override;
  std::optional<TaskRunRecord> read_task_run(const std::string& id) override;
  std::vector<TaskRunRecord> filter_task_runs(const TaskRunFilter& filter) override;
  void write_logs(std::vector<LogRecord> logs) override;
  std::vector<LogRecord> read_logs(const LogFilter& filter) override;
  void flush() override;
  std::optional<State> find_cached_state(const std::string& cache_key, TimePoint now) override;
  int64_t expire_cache(const CacheSelector& which, TimePoint at) override;
  std::vector<std::string> mark_crashed_runs() override;
  ConcurrencySlots acquire_concurrency_slots(const std::vector<std::string>& names, int slots,
                                             double lease_seconds,
                                             const std::string& holder) override;
  bool renew_concurrency_lease(const std::string& lease_id, double lease_seconds) override;
  bool release_concurrency_slots(const std::string& lease_id) override;
  nlohmann::json create_concurrency_limit(const std::string& name, int limit, bool active,
                                          double slot_decay_per_second) override;
  nlohmann::json set_concurrency_limit(const std::string& name, int limit) override;
  nlohmann::json update_concurrency_limit(const std::string& id_or_name,
                                          const nlohmann::json& changes) override;
  std::optional<nlohmann::json> read_concurrency_limit(const std::string& id_or_name) override;
  std::vector<nlohmann::json> list_concurrency_limits(const std::string& name_prefix) override;
  bool delete_concurrency_limit(const std::string& id_or_name) override;
  nlohmann::json reset_concurrency_limit(const std::string& id_or_name) override;
  nlohmann::json create_artifact(const nlohmann::json& artifact) override;
  std::optional<nlohmann::json> read_artifact(const std::string& id) override;
  std::optional<nlohmann::json> read_latest_artifact(const std::string& key) override;
  std::vector<nlohmann::json> filter_artifacts(const ArtifactFilter& filter) override;
  nlohmann::json update_artifact(const std::string& id, const nlohmann::json& changes) override;
  bool delete_artifact(const std::string& id) override;
  std::optional<nlohmann::json> read_variable(const std::string& name) override;
  nlohmann::json set_variable(const std::string& name, const nlohmann::json& value,
                              const std::optional<std::vector<std::string>>& tags,
                              bool overwrite) override;
  bool delete_variable(const std::string& name) override;
  std::vector<nlohmann::json> list_variables() override;

  // What the server needs beyond the interface (Prefect's routes for them):
  std::optional<FlowRecord> read_flow(const std::string& id);
  int64_t count_flow_runs(const FlowRunFilter& filter);
  int64_t count_task_runs(const TaskRunFilter& filter);
  // Deletes the task run with its states and logs. False when there was no such run.
  bool delete_task_run(const std::string& id);
  // Proposes a task-run transition decided by the task policy (CacheRetrieval looks up
  // proposed.cache_key), as the SDK does in-process; the recorded state is durable on return.
  // Transitions of task runs through this call are serialised in this process (read-decide-
  // write under one mutex); the SDK's own batched records are not. Throws not_found.
  SetStateResult set_task_run_state(const std::string& task_run_id, const State& proposed,
                                    bool force = false);

  // Asynchronous flow-run writes, for the server's network threads, which must not wait. The
  // write joins the group commit: when no commit is in progress the calling thread commits
  // everything queued so far (its own write included) before returning; otherwise it only queues
  // and the committing thread takes it into its next transaction. `done` runs once the write is
  // durable (or failed), on whichever thread committed it, and must not block. `events`, when
  // set, returns the events recording the change; they are written in the same transaction
  // (nothing for a rejected transition or an idempotent create that found an existing run).
  // Arguments are checked before anything is queued: bad ones throw here and `done` never runs.
  using EventsFn =
      std::function<std::vector<storage::EventRow>(const FlowRunRecord& run, const State& state)>;
  using CreateDone = std::function<void(std::exception_ptr error, storage::Storage::InsertResult)>;
  using SetStateDone = std::function<void(std::exception_ptr error, SetStateResult)>;
  void create_flow_run_async(FlowRunRecord run, EventsFn events, CreateDone done);
  // `process_identity` empty: this process's identity (see set_flow_run_state_for).
  void set_flow_run_state_async(std::string flow_run_id, State proposed, bool force,
                                std::string process_identity, EventsFn events, SetStateDone done);

  // Where flow-run group commits run. Unset (the default), the caller that finds no commit in
  // progress commits at once, on its own thread, and keeps committing until the queue is empty.
  // A server sets `schedule`, which runs a task later on a thread of its choosing (its network
  // threads, after the requests they have already read): requests read in the same turn then
  // join one transaction instead of the first of them committing alone, and between two
  // transactions that thread serves what became ready. `schedule` returns false when it can no
  // longer run anything (the server is stopping); the commit then runs on the caller's thread.
  // Set it before concurrent use, clear it only once `schedule` refuses work.
  using CommitScheduler = std::function<bool(std::function<void()> task)>;
  void set_commit_scheduler(CommitScheduler schedule);

  storage::Storage& storage() noexcept { return *storage_; }
  storage::BatchWriter::Stats writer_stats() { return writer_->stats(); }

 private:
  // Flushes when the writer has anything pending: read-your-writes for this process.
  void sync_reads();

  // Group commit of flow-run creations and transitions across threads (the server's concurrent
  // requests): a caller queues its insert or read-decide-write; whoever finds no commit in
  // progress becomes the leader and commits everything queued so far in one transaction
  // (Storage::write_flow_runs), again and again until the queue is empty, completing each job
  // once its transaction is durable. Synchronous callers wait for their job's completion.
  struct FlowRunJob;
  void submit(std::unique_ptr<FlowRunJob> job);
  // Commits and completes everything queued; `lock` (on jobs_mutex_) is released meanwhile.
  void commit_queued(std::unique_lock<std::mutex>& lock);
  // One scheduled transaction, after `more_turns` more passes through the scheduler; schedules
  // the next when more writes queued meanwhile.
  void run_scheduled_commit(int more_turns);
  // Hands run_scheduled_commit(more_turns) to the commit scheduler, `lock` (on jobs_mutex_)
  // released; false, with `lock` held again, when there is none or it refuses the task.
  bool schedule_commit(std::unique_lock<std::mutex>& lock, int more_turns);
  void commit_batch(std::vector<std::unique_ptr<FlowRunJob>>& batch);
  // Validates and decides a new run's first state (the caller's thread).
  FlowRunRecord prepare_flow_run(FlowRunRecord run);

  std::unique_ptr<storage::Storage> storage_;
  std::unique_ptr<storage::BatchWriter> writer_;
  std::mutex jobs_mutex_;
  std::vector<std::unique_ptr<FlowRunJob>> queued_jobs_;
  bool committing_ = false;  // a commit is running or scheduled; under jobs_mutex_
  CommitScheduler commit_scheduler_;
  // COMPLETED states with a cache key recorded by this process and perhaps not committed yet,
  // with their writer sequence numbers: find_cached_state answers from here instead of
  // flushing. Entries leave once committed (then storage has them).
  std::mutex cache_mutex_;
  std::unordered_map<std::string, std::pair<State, uint64_t>> uncommitted_cache_;
  std::mutex task_transitions_mutex_;
  // Opened on first use (open_on_first_use, under stores_mutex_): most programs never touch a
  // limit, an artifact or a variable.
  template <class Store>
  Store& open_on_first_use(std::unique_ptr<Store>& store, const char* what);
  storage::ConcurrencyLimits& limits();
  storage::ArtifactStore& artifacts();
  storage::VariableStore& variables();
  std::mutex stores_mutex_;
  std::unique_ptr<storage::ConcurrencyLimits> limits_;
  std::unique_ptr<storage::ArtifactStore> artifacts_;
  std::unique_ptr<storage::VariableStore> variables_;
};

// A flow-run name in Prefect's style, e.g. "brave-otter".
std::string generate_run_name();

}  // namespace baton
