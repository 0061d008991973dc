// The one interface through which the SDK and the CLI talk to the orchestrator.
//
// Two transports implement it: embedded (rules + storage in this process, the SQLite file under
// BATON_HOME) and remote (HTTP to a Baton server at BATON_API_URL). Every SDK behaviour test runs
// against both. make_client() picks one from the environment.
//
// Flow-run transitions are synchronous: the orchestration rules decide them (retries, terminal
// states, duplicates, concurrency) and the answer says what was accepted. Task-run transitions are
// decided in-process by the same rules (as Prefect 3 does client-side) and recorded in batches:
// record_task_run() returns at once and a background writer group-commits; flush() makes
// everything recorded so far durable. Nothing accepted is lost on a normal exit (the destructor
// flushes).
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "baton/state.h"
#include "model/records.h"

namespace baton {

// The orchestration rules' answer to a proposed transition.
enum class SetStateStatus {
  kAccept,  // the proposed state (possibly renamed, e.g. Running -> Retrying) is now current
  kReject,  // not allowed; `state` is the run's current or substituted state (e.g. AwaitingRetry)
  kWait,    // try again after `wait_s` seconds (e.g. no concurrency slot free)
  kAbort,   // cannot proceed at all; the caller should stop
};
std::string_view to_string(SetStateStatus s) noexcept;

struct SetStateResult {
  SetStateStatus status = SetStateStatus::kAccept;
  State state;         // the state the run is in after the call
  std::string reason;  // why, when not accepted (names the rule)
  double wait_s = 0;   // for kWait
  // The call wrote a state: the accepted one, or a substitute (AwaitingRetry, Cached). Exact in
  // the embedded client; the remote client knows it only for accepted states.
  bool recorded = false;
};

// The answer to acquire_concurrency_slots().
struct ConcurrencySlots {
  enum class Status {
    kGranted,  // the slots are held (by `lease_id`, or by nothing when no named limit exists)
    kWait,     // a limit is full: nothing was taken; try again after retry_after_s
    kAbort,    // a limit can never admit this (fewer slots than asked, e.g. a tag limit of 0)
  };
  Status status = Status::kGranted;
  std::string lease_id;      // kGranted: empty when none of the names has an active limit
  double retry_after_s = 0;  // kWait: when a slot may be free (a lease expiry, a decay)
  std::string reason;        // kWait, kAbort: names the limit
};

// FlowRunFilter, TaskRunFilter and LogFilter live in model/records.h (the storage layer uses them).

class OrchestrationClient {
 public:
  virtual ~OrchestrationClient() = default;

  // Flows are upserted by name.
  virtual FlowRecord ensure_flow(const std::string& name, const std::vector<std::string>& tags) = 0;
  virtual std::vector<FlowRecord> list_flows(int limit = 200, int offset = 0) = 0;

  // Creates a flow run. Empty id/created are filled in; run.state is its initial state (Pending
  // when left default). With an idempotency_key already used for the same flow, returns the
  // existing run instead of creating a second one.
  virtual FlowRunRecord create_flow_run(FlowRunRecord run) = 0;
  // Proposes a transition; the orchestration rules decide. `force` skips the rules (used by
  // tooling that marks runs Crashed). Throws not_found for an unknown run.
  virtual SetStateResult set_flow_run_state(const std::string& flow_run_id, const State& proposed,
                                            bool force = false) = 0;
  virtual std::optional<FlowRunRecord> read_flow_run(const std::string& id) = 0;
  virtual std::vector<FlowRunRecord> filter_flow_runs(const FlowRunFilter& filter) = 0;
  // Deletes the run with its states, task runs and logs. False when there was no such run.
  virtual bool delete_flow_run(const std::string& id) = 0;
  // The run's state history, oldest first (flow run or task run id).
  virtual std::vector<State> read_states(const std::string& run_id) = 0;

  // Records a task run snapshot after a transition the SDK has already decided: upserts the row
  // with `run` and appends run.state to its history. Batched; returns at once.
  virtual void record_task_run(const TaskRunRecord& run) = 0;
  virtual std::optional<TaskRunRecord> read_task_run(const std::string& id) = 0;
  virtual std::vector<TaskRunRecord> filter_task_runs(const TaskRunFilter& filter) = 0;

  // Batched, like record_task_run.
  virtual void write_logs(std::vector<LogRecord> logs) = 0;
  virtual std::vector<LogRecord> read_logs(const LogFilter& filter) = 0;

  // Blocks until everything recorded so far is durable (or throws unavailable after giving up).
  virtual void flush() = 0;

  // CacheRetrieval's lookup: the newest COMPLETED task-run state stored under `cache_key` whose
  // cache_expiration is unset or later than `now`; nullopt when there is none. Sees everything
  // recorded before the call (including records not yet flushed).
  virtual std::optional<State> find_cached_state(const std::string& cache_key, TimePoint now) = 0;
  // Clears the cache entries `which` selects: their runs' cache_expiration becomes `at`, so no
  // lookup at or after `at` finds them (the next call runs its body and caches its result
  // anew). Runs, states and stored results stay. Includes entries recorded before the call and
  // not yet flushed. Returns how many cache keys it ended (a key is held by the run that stored
  // it and by every Cached run since; all of them end); throws invalid_argument unless exactly
  // one of which.cache_key and which.task_key is set.
  virtual int64_t expire_cache(const CacheSelector& which, TimePoint at) = 0;

  // Marks Crashed every flow run left RUNNING (or CANCELLING) by a process that no longer
  // exists, and the SCHEDULED/PENDING/RUNNING task runs inside it. A run's process is known from
  // its infrastructure_pid ("hostname:pid:start-ticks", recorded when it entered RUNNING); runs
  // from other hosts, or with no recorded process, are left alone. Returns the ids of the flow
  // runs it marked. Safe to run at any time, from any process (the CLI and server call it).
  virtual std::vector<std::string> mark_crashed_runs() = 0;

  // Global concurrency limits, which also serve as task-run tag limits (named "tag:<tag>"):
  // takes `slots` of every named limit at once, or none, held by a lease that expires after
  // `lease_seconds` unless renewed, so a killed holder cannot keep them. Names without an active
  // limit do not constrain. `holder` says who holds the lease (a task run id), for people.
  // Embedded: the limits in the same SQLite file; remote: POST
  // /v2/concurrency_limits/increment-with-lease. Throws unavailable when the limits cannot be
  // reached (embedded over a non-SQLite storage, or a server without them).
  virtual ConcurrencySlots acquire_concurrency_slots(const std::vector<std::string>& names,
                                                     int slots, double lease_seconds,
                                                     const std::string& holder) = 0;
  // Extends a held lease; false when it is unknown or already expired.
  virtual bool renew_concurrency_lease(const std::string& lease_id, double lease_seconds) = 0;
  // Gives back a lease's slots; false when it was unknown or already expired.
  virtual bool release_concurrency_slots(const std::string& lease_id) = 0;

  // Administration of those limits (the CLI's `baton concurrency-limit` for tag limits and
  // `baton global-concurrency-limit`). A limit is the API's ConcurrencyLimit object: id, name,
  // limit, active, active_slots, denied_slots, slot_decay_per_second, created, updated.
  // create: conflict when the name is taken. set: creates the limit or changes its size (how tag
  // limits are set). update: `changes` holds any of name, limit, active, slot_decay_per_second.
  // reset: frees every slot (drops its leases, clears a rate limit's decayed slots). update and
  // reset throw not_found for an unknown limit; read and remove say so by their result.
  virtual nlohmann::json create_concurrency_limit(const std::string& name, int limit, bool active,
                                                  double slot_decay_per_second) = 0;
  virtual nlohmann::json set_concurrency_limit(const std::string& name, int limit) = 0;
  virtual nlohmann::json update_concurrency_limit(const std::string& id_or_name,
                                                  const nlohmann::json& changes) = 0;
  virtual std::optional<nlohmann::json> read_concurrency_limit(const std::string& id_or_name) = 0;
  // The limits whose names start with `name_prefix` ("" for all), by name.
  virtual std::vector<nlohmann::json> list_concurrency_limits(const std::string& name_prefix) = 0;
  virtual bool delete_concurrency_limit(const std::string& id_or_name) = 0;
  virtual nlohmann::json reset_concurrency_limit(const std::string& id_or_name) = 0;

  // Artifacts (Prefect's artifacts; the SDK's create_*_artifact calls and `baton artifact`). An
  // artifact is the API's Artifact object: id, key, type, description, data, flow_run_id,
  // task_run_id, created, updated. create: `artifact` holds type and data (checked against the
  // type: markdown, link, image → a string; progress → a number 0-100; table → rows or columns)
  // and optionally key, description, flow_run_id, task_run_id; a key in use adds a new version.
  // update: `changes` holds data and/or description (a progress artifact advancing); throws
  // not_found for an unknown id. read and delete say "not found" by their result. Embedded: the
  // artifact table in the same SQLite file; remote: /api/artifacts.
  virtual nlohmann::json create_artifact(const nlohmann::json& artifact) = 0;
  virtual std::optional<nlohmann::json> read_artifact(const std::string& id) = 0;
  // The newest version of a keyed artifact.
  virtual std::optional<nlohmann::json> read_latest_artifact(const std::string& key) = 0;
  virtual std::vector<nlohmann::json> filter_artifacts(const ArtifactFilter& filter) = 0;
  virtual nlohmann::json update_artifact(const std::string& id, const nlohmann::json& changes) = 0;
  virtual bool delete_artifact(const std::string& id) = 0;

  // Variables (Prefect's variables; baton::variables and `baton variable`): the API's Variable
  // object: id, name, value (any JSON, at most 5,000 characters as text), tags, created, updated.
  // Names are lowercase letters, digits, '_' and '-' (invalid_argument naming "name").
  // set: creates the variable; a name in use is a conflict unless `overwrite`, which replaces its
  // value (and its tags when `tags` is given). read and delete say "not found" by their result.
  virtual std::optional<nlohmann::json> read_variable(const std::string& name) = 0;
  virtual nlohmann::json set_variable(const std::string& name, const nlohmann::json& value,
                                      const std::optional<std::vector<std::string>>& tags,
                                      bool overwrite) = 0;
  virtual bool delete_variable(const std::string& name) = 0;
  // Every variable, by name.
  virtual std::vector<nlohmann::json> list_variables() = 0;
};

// BATON_API_URL set: a remote client for that server (sending BATON_API_KEY when set, retrying
// calls for BATON_CLIENT_RETRY_SECONDS, default 30, while the server is away; see
// remote_client.h). Otherwise the embedded client over $BATON_HOME/baton.db (BATON_HOME defaults
// to ~/.baton). Throws invalid_argument naming the variable when one holds an invalid value.
std::unique_ptr<OrchestrationClient> make_client();

}  // namespace baton
