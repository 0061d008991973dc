#include "client/embedded_client.h"

#include <array>
#include <limits>
#include <random>

#include "baton/error.h"
#include "client/process_identity.h"
#include "model/ids.h"
#include "orchestration/rules.h"
#include "storage/sqlite/sqlite_storage.h"

namespace baton {

namespace {
using orchestration::apply_counters;
using orchestration::counters_of;

SetStateStatus status_of(orchestration::Outcome outcome) {
  switch (outcome) {
    case orchestration::Outcome::kAccept:
      return SetStateStatus::kAccept;
    case orchestration::Outcome::kReject:
      return SetStateStatus::kReject;
    case orchestration::Outcome::kWait:
      return SetStateStatus::kWait;
    case orchestration::Outcome::kAbort:
      return SetStateStatus::kAbort;
  }
  return SetStateStatus::kAbort;
}

std::string reason_of(const orchestration::Decision& d) {
  if (d.reason.empty()) return d.rule;
  if (d.rule.empty()) return d.reason;
  return d.rule + ": " + d.reason;
}

void check_id(const std::string& id, const char* field) {
  if (!is_uuid(id))
    throw invalid_argument("'" + id +
                               "' is not a run id; expected a UUID such as "
                               "0190a6e2-7c3f-7b41-8d2e-5f3a9c1b2d4e",
                           field);
}
}  // namespace

std::string generate_run_name() {
  static constexpr std::array<std::string_view, 24> kAdjectives{
      "amber",  "bold",  "brave",  "bright", "calm",   "clever", "cosmic", "crimson",
      "daring", "eager", "fancy",  "gentle", "golden", "happy",  "jolly",  "keen",
      "lively", "lucky", "mellow", "nimble", "proud",  "quiet",  "swift",  "witty"};
  static constexpr std::array<std::string_view, 24> kAnimals{
      "badger",  "beaver", "bison", "cheetah", "crane", "dolphin", "falcon", "ferret",
      "gecko",   "heron",  "ibis",  "jackal",  "koala", "lemur",   "lynx",   "marten",
      "narwhal", "otter",  "panda", "puffin",  "quail", "raven",   "tapir",  "walrus"};
  thread_local std::mt19937 rng{std::random_device{}()};
  return std::string(kAdjectives[rng() % kAdjectives.size()]) + "-" +
         std::string(kAnimals[rng() % kAnimals.size()]);
}

EmbeddedClient::EmbeddedClient(std::unique_ptr<storage::Storage> storage)
    : storage_(std::move(storage)), writer_(std::make_unique<storage::BatchWriter>(*storage_)) {}

EmbeddedClient::~EmbeddedClient() {
  writer_.reset();  // drains and joins before the storage closes
}

std::unique_ptr<EmbeddedClient> EmbeddedClient::open(const std::string& path,
                                                     int new_file_page_size) {
  return std::make_unique<EmbeddedClient>(storage::open_sqlite_storage(
      path.empty() ? storage::default_database_path() : path, new_file_page_size));
}

FlowRecord EmbeddedClient::ensure_flow(const std::string& name,
                                       const std::vector<std::string>& tags) {
  return storage_->upsert_flow(name, tags);
}

std::vector<FlowRecord> EmbeddedClient::list_flows(int limit, int offset) {
  return storage_->list_flows(limit, offset);
}

FlowRunRecord EmbeddedClient::prepare_flow_run(FlowRunRecord run) {
  if (run.flow_name.empty())
    throw invalid_argument("a flow run needs its flow's name", "flow_name");
  if (run.id.empty())
    run.id = new_id();
  else
    check_id(run.id, "id");
  if (run.flow_id.empty()) run.flow_id = ensure_flow(run.flow_name, {}).id;
  if (run.name.empty()) run.name = generate_run_name();
  if (!run.parameters.is_object())
    throw invalid_argument("parameters must be a JSON object", "parameters");
  auto at = now();
  run.created = at;
  run.updated = at;

  orchestration::Transition t;
  t.kind = orchestration::RunKind::kFlow;
  t.proposed = run.state;
  t.policy = run.empirical_policy;
  t.run = counters_of(run);
  t.now = at;
  t.has_deployment = !run.deployment_id.empty();
  auto decision = orchestration::decide(t);
  if (!decision.write_state)
    throw invalid_argument(
        "a flow run cannot start in state " + decision.state.name + ": " + reason_of(decision),
        "state");
  run.state = decision.state;
  apply_counters(decision.run, run);
  // A run created RUNNING is run by its creator: this process, or the remote one that said so.
  if (run.state.type == StateType::kRunning && run.infrastructure_pid.empty())
    run.infrastructure_pid = current_process_identity();
  return run;
}

// One queued flow-run write: an insert (`run` is the new run) or a read-decide-write of `id`.
struct EmbeddedClient::FlowRunJob {
  storage::Storage::FlowRunOp op;
  FlowRunRecord run;
  storage::Storage::DecideFn decide;
  orchestration::Decision decision;  // filled by `decide`
  storage::Storage::FlowRunOpResult result;
  // Moved, not copied, into the caller's `done`: the caller's thread then owns the exception
  // alone. (A copy left here was freed by the committing thread after the caller had read it;
  // TSan, which cannot see libstdc++'s reference count, reported that as a race.)
  std::exception_ptr error;
  std::function<void(FlowRunJob&)> complete;
};

namespace {
// Waits for a job submitted by a synchronous call; `done` runs on the committing thread.
template <typename Result>
class Completion {
 public:
  void set(std::exception_ptr error, Result result) {
    std::lock_guard lock(mutex_);
    error_ = std::move(error);
    result_ = std::move(result);
    done_ = true;
    cv_.notify_all();
  }
  Result wait() {
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [&] { return done_; });
    if (error_) std::rethrow_exception(error_);
    return std::move(result_);
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;
  std::exception_ptr error_;
  Result result_;
};
}  // namespace

void EmbeddedClient::create_flow_run_async(FlowRunRecord run, EventsFn events, CreateDone done) {
  auto job = std::make_unique<FlowRunJob>();
  job->run = prepare_flow_run(std::move(run));
  if (events) job->op.insert_events = events(job->run, job->run.state);
  job->op.insert = &job->run;
  job->complete = [done = std::move(done)](FlowRunJob& j) {
    done(std::move(j.error), std::move(j.result.inserted));
  };
  submit(std::move(job));
}

FlowRunRecord EmbeddedClient::create_flow_run(FlowRunRecord run) {
  Completion<storage::Storage::InsertResult> completion;
  create_flow_run_async(std::move(run), nullptr,
                        [&](std::exception_ptr e, storage::Storage::InsertResult r) {
                          completion.set(std::move(e), std::move(r));
                        });
  return completion.wait().run;
}

SetStateResult EmbeddedClient::set_flow_run_state(const std::string& flow_run_id,
                                                  const State& proposed, bool force) {
  return set_flow_run_state_for(flow_run_id, proposed, force, current_process_identity());
}

SetStateResult EmbeddedClient::set_flow_run_state_for(const std::string& flow_run_id,
                                                      const State& proposed, bool force,
                                                      const std::string& process_identity) {
  Completion<SetStateResult> completion;
  set_flow_run_state_async(
      flow_run_id, proposed, force, process_identity, nullptr,
      [&](std::exception_ptr e, SetStateResult r) { completion.set(std::move(e), std::move(r)); });
  return completion.wait();
}

void EmbeddedClient::set_flow_run_state_async(std::string flow_run_id, State proposed, bool force,
                                              std::string process_identity, EventsFn events,
                                              SetStateDone done) {
  if (process_identity.empty()) process_identity = current_process_identity();
  auto job = std::make_unique<FlowRunJob>();
  FlowRunJob* self = job.get();
  job->decide = [self, proposed = std::move(proposed), force,
                 identity = std::move(process_identity), events = std::move(events)](
                    FlowRunRecord& run, const std::string& current_transition_id) {
    orchestration::Transition t;
    t.kind = orchestration::RunKind::kFlow;
    t.current = run.state;
    t.proposed = proposed;
    t.policy = run.empirical_policy;
    t.run = counters_of(run);
    t.now = now();
    t.force = force;
    t.current_transition_id = current_transition_id;
    t.has_infrastructure = !run.infrastructure_pid.empty();
    t.has_deployment = !run.deployment_id.empty();
    self->decision = orchestration::decide(t);
    const auto& decision = self->decision;
    storage::FlowRunWrite write;
    if (decision.write_state) {
      apply_counters(decision.run, run);
      if (decision.state.type == StateType::kRunning) run.infrastructure_pid = identity;
      write.state = decision.state;
      if (events) write.events = events(run, decision.state);
    }
    return write;
  };
  job->op.id = std::move(flow_run_id);
  job->op.decide = &job->decide;
  job->complete = [done = std::move(done)](FlowRunJob& j) {
    if (!j.error && !j.result.found) {
      try {
        throw not_found("flow run '" + j.op.id + "' not found");
      } catch (...) {
        j.error = std::current_exception();
      }
    }
    SetStateResult result;
    if (!j.error) {
      result.status = status_of(j.decision.outcome);
      result.state = j.decision.state;
      result.reason = reason_of(j.decision);
      result.wait_s = j.decision.wait_s;
      result.recorded = j.decision.write_state;
    }
    done(std::move(j.error), std::move(result));
  };
  submit(std::move(job));
}

void EmbeddedClient::set_commit_scheduler(CommitScheduler schedule) {
  std::lock_guard lock(jobs_mutex_);
  commit_scheduler_ = std::move(schedule);
}

void EmbeddedClient::submit(std::unique_ptr<FlowRunJob> job) {
  std::unique_lock lock(jobs_mutex_);
  queued_jobs_.push_back(std::move(job));
  if (committing_) return;  // the committing thread takes it into its next transaction
  committing_ = true;
  if (schedule_commit(lock, 2)) return;
  while (!queued_jobs_.empty()) commit_queued(lock);
  committing_ = false;
}

bool EmbeddedClient::schedule_commit(std::unique_lock<std::mutex>& lock, int more_turns) {
  CommitScheduler schedule = commit_scheduler_;
  if (!schedule) return false;
  lock.unlock();
  if (schedule([this, more_turns] { run_scheduled_commit(more_turns); })) return true;
  lock.lock();
  return false;
}

void EmbeddedClient::run_scheduled_commit(int more_turns) {
  std::unique_lock lock(jobs_mutex_);
  // More turns before the first transaction of a burst: the first ran after what this thread had
  // already queued; the next ones also let what the network threads read meanwhile join.
  // Measured with 8 and 64 concurrent clients, writes per transaction: one turn 2.6 and 22, two
  // 4.2-4.4 and 35, three 4.8-5.7 and 41-45, four no more; a turn costs one pass through the
  // scheduler (no visible latency at one client).
  if (more_turns > 0 && schedule_commit(lock, more_turns - 1)) return;
  commit_queued(lock);
  if (queued_jobs_.empty()) {
    committing_ = false;
    return;
  }
  // Writes queued during this transaction: the next one is scheduled too, so that this thread
  // first serves what became ready meanwhile (more requests join that transaction).
  if (schedule_commit(lock, 0)) return;
  while (!queued_jobs_.empty()) commit_queued(lock);
  committing_ = false;
}

void EmbeddedClient::commit_queued(std::unique_lock<std::mutex>& lock) {
  std::vector<std::unique_ptr<FlowRunJob>> batch = std::move(queued_jobs_);
  queued_jobs_.clear();
  lock.unlock();
  commit_batch(batch);
  for (auto& j : batch) {
    try {
      j->complete(*j);
    } catch (...) {
      // A completion must not throw; one that does must not strand the rest of the batch.
    }
  }
  batch.clear();
  lock.lock();
}

void EmbeddedClient::commit_batch(std::vector<std::unique_ptr<FlowRunJob>>& batch) {
  // A create's events move into the ops (they are not needed afterwards); the id stays with the
  // job for its error message.
  std::vector<storage::Storage::FlowRunOp> ops;
  ops.reserve(batch.size());
  for (auto& j : batch)
    ops.push_back({j->op.insert, std::move(j->op.insert_events), j->op.id, j->op.decide});
  try {
    auto results = storage_->write_flow_runs(ops);
    for (size_t i = 0; i < batch.size(); ++i) batch[i]->result = std::move(results[i]);
    return;
  } catch (...) {
    if (batch.size() == 1) {
      batch.front()->error = std::current_exception();
      return;
    }
    // Nothing was written; one failing write must not fail its neighbours, so each is
    // retried alone below and only the failing one reports its error.
  }
  for (size_t i = 0; i < batch.size(); ++i) {
    try {
      std::vector<storage::Storage::FlowRunOp> one{ops[i]};
      auto results = storage_->write_flow_runs(one);
      batch[i]->result = std::move(results.front());
    } catch (...) {
      batch[i]->error = std::current_exception();
    }
  }
}

std::optional<FlowRunRecord> EmbeddedClient::read_flow_run(const std::string& id) {
  return storage_->read_flow_run(id);
}

std::vector<FlowRunRecord> EmbeddedClient::filter_flow_runs(const FlowRunFilter& filter) {
  return storage_->filter_flow_runs(filter);
}

bool EmbeddedClient::delete_flow_run(const std::string& id) {
  sync_reads();  // queued task runs of this flow run must not land after it is gone
  return storage_->delete_flow_run(id);
}

std::vector<State> EmbeddedClient::read_states(const std::string& run_id) {
  sync_reads();
  std::vector<State> out;
  for (auto& row : storage_->read_states(run_id)) out.push_back(std::move(row.state));
  return out;
}

void EmbeddedClient::record_task_run(const TaskRunRecord& run) {
  if (run.id.empty()) throw invalid_argument("a task run needs an id", "task_run.id");
  if (run.state.type != StateType::kCompleted || run.state.cache_key.empty()) {
    writer_->enqueue(run);
    return;
  }
  // Registered under the lock, and before the writer can commit it, so a lookup never misses
  // it between the queue and the database.
  std::lock_guard lock(cache_mutex_);
  uint64_t sequence = writer_->enqueue(run);
  uncommitted_cache_[run.state.cache_key] = {run.state, sequence};
}

std::optional<TaskRunRecord> EmbeddedClient::read_task_run(const std::string& id) {
  sync_reads();
  return storage_->read_task_run(id);
}

std::vector<TaskRunRecord> EmbeddedClient::filter_task_runs(const TaskRunFilter& filter) {
  sync_reads();
  return storage_->filter_task_runs(filter);
}

void EmbeddedClient::write_logs(std::vector<LogRecord> logs) { writer_->enqueue(std::move(logs)); }

std::vector<LogRecord> EmbeddedClient::read_logs(const LogFilter& filter) {
  sync_reads();
  return storage_->read_logs(filter);
}

void EmbeddedClient::flush() { writer_->flush(); }

void EmbeddedClient::sync_reads() {
  if (!writer_->idle()) writer_->flush();
}

std::optional<State> EmbeddedClient::find_cached_state(const std::string& cache_key, TimePoint at) {
  {
    std::lock_guard lock(cache_mutex_);
    if (!uncommitted_cache_.empty()) {
      uint64_t committed = writer_->committed_sequence();
      std::erase_if(uncommitted_cache_,
                    [&](const auto& entry) { return entry.second.second <= committed; });
    }
    if (auto it = uncommitted_cache_.find(cache_key); it != uncommitted_cache_.end()) {
      const State& state = it->second.first;
      if (!state.cache_expiration || *state.cache_expiration > at) return state;
    }
  }
  // Everything else this process recorded under the key is committed: no flush needed.
  return storage_->find_cached_state(cache_key, at);
}

int64_t EmbeddedClient::expire_cache(const CacheSelector& which, TimePoint at) {
  check_cache_selector(which);
  // Everything recorded so far is committed after the flush, so the uncommitted entries may go
  // (lookups then read storage, which ends them below).
  writer_->flush();
  {
    std::lock_guard lock(cache_mutex_);
    uncommitted_cache_.clear();
  }
  return storage_->expire_cache(which, at);
}

std::vector<std::string> EmbeddedClient::mark_crashed_runs() {
  sync_reads();
  std::vector<std::string> marked;
  FlowRunFilter filter;
  filter.state_types = {StateType::kRunning, StateType::kCancelling};
  filter.sort = "ID_ASC";
  filter.limit = 500;
  for (;;) {
    auto page = storage_->filter_flow_runs(filter);
    for (const auto& run : page) {
      if (run.infrastructure_pid.empty() || !process_is_gone(run.infrastructure_pid)) continue;
      State crashed = State::crashed("the process running this flow run (" +
                                     run.infrastructure_pid + ") is gone");
      auto result = set_flow_run_state(run.id, crashed, /*force=*/true);
      if (result.status != SetStateStatus::kAccept) continue;
      // Task runs still waiting (AwaitingRetry) or running died with the process too.
      storage_->set_task_runs_state(
          run.id, {StateType::kScheduled, StateType::kPending, StateType::kRunning},
          State::crashed("its flow run crashed"));
      marked.push_back(run.id);
    }
    if (static_cast<int>(page.size()) < filter.limit) break;
    filter.offset += filter.limit;
  }
  return marked;
}

std::optional<FlowRecord> EmbeddedClient::read_flow(const std::string& id) {
  return storage_->read_flow(id);
}

int64_t EmbeddedClient::count_flow_runs(const FlowRunFilter& filter) {
  return storage_->count_flow_runs(filter);
}

int64_t EmbeddedClient::count_task_runs(const TaskRunFilter& filter) {
  sync_reads();
  return storage_->count_task_runs(filter);
}

bool EmbeddedClient::delete_task_run(const std::string& id) {
  sync_reads();  // a queued snapshot of this run must not land after it is gone
  return storage_->delete_task_run(id);
}

SetStateResult EmbeddedClient::set_task_run_state(const std::string& task_run_id,
                                                  const State& proposed, bool force) {
  std::lock_guard lock(task_transitions_mutex_);
  sync_reads();
  auto run = storage_->read_task_run(task_run_id);
  if (!run) throw not_found("task run '" + task_run_id + "' not found");
  orchestration::Transition t;
  t.kind = orchestration::RunKind::kTask;
  t.current = run->state;
  t.proposed = proposed;
  t.policy = run->empirical_policy;
  t.run.run_count = run->run_count;
  t.run.start_time = run->start_time;
  t.run.end_time = run->end_time;
  t.run.total_run_time_s = run->total_run_time_s;
  t.run.expected_start_time = run->expected_start_time;
  t.now = now();
  t.force = force;
  if (!force && proposed.type == StateType::kRunning && !proposed.cache_key.empty())
    t.cached = find_cached_state(proposed.cache_key, t.now);
  auto decision = orchestration::decide(t);
  if (decision.write_state) {
    run->run_count = decision.run.run_count;
    run->start_time = decision.run.start_time;
    run->end_time = decision.run.end_time;
    run->total_run_time_s = decision.run.total_run_time_s;
    run->expected_start_time = decision.run.expected_start_time;
    run->state = decision.state;
    run->updated = decision.state.timestamp;
    record_task_run(*run);
    flush();
  }
  SetStateResult result;
  result.status = status_of(decision.outcome);
  result.state = decision.state;
  result.reason = reason_of(decision);
  result.wait_s = decision.wait_s;
  result.recorded = decision.write_state;
  return result;
}

// The stores beside the run storage (limits, artifacts, variables) each keep a connection of their
// own to the same SQLite file, opened on first use under one mutex (opening is rare and cheap).
template <class Store>
Store& EmbeddedClient::open_on_first_use(std::unique_ptr<Store>& store, const char* what) {
  std::lock_guard lock(stores_mutex_);
  if (!store) {
    auto* sqlite = dynamic_cast<storage::SqliteStorage*>(storage_.get());
    if (!sqlite)
      throw unavailable(std::string(what) + " need the SQLite storage; this database has none");
    store = std::make_unique<Store>(sqlite->path());
  }
  return *store;
}

storage::ConcurrencyLimits& EmbeddedClient::limits() {
  return open_on_first_use(limits_, "concurrency limits");
}

ConcurrencySlots EmbeddedClient::acquire_concurrency_slots(const std::vector<std::string>& names,
                                                           int slots, double lease_seconds,
                                                           const std::string& holder) {
  ConcurrencySlots out;
  storage::ConcurrencyLimits::Acquired got;
  try {
    got = limits().acquire(names, slots, "concurrency", lease_seconds, holder);
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::kInvalidArgument) throw;
    out.status = ConcurrencySlots::Status::kAbort;
    out.reason = e.what();
    return out;
  }
  if (!got.granted) {
    out.status = ConcurrencySlots::Status::kWait;
    out.retry_after_s = got.retry_after_s;
    out.reason = "no free slot in limit '" + got.blocking_limit + "'";
    return out;
  }
  out.lease_id = got.lease_id;
  return out;
}

bool EmbeddedClient::renew_concurrency_lease(const std::string& lease_id, double lease_seconds) {
  return limits().renew(lease_id, lease_seconds);
}

bool EmbeddedClient::release_concurrency_slots(const std::string& lease_id) {
  return limits().release(lease_id);
}

using nlohmann::json;

json EmbeddedClient::create_concurrency_limit(const std::string& name, int limit, bool active,
                                              double slot_decay_per_second) {
  return limits().create(name, limit, active, slot_decay_per_second);
}

json EmbeddedClient::set_concurrency_limit(const std::string& name, int limit) {
  return limits().upsert(name, limit);
}

json EmbeddedClient::update_concurrency_limit(const std::string& id_or_name, const json& changes) {
  return limits().update(id_or_name, changes);
}

std::optional<json> EmbeddedClient::read_concurrency_limit(const std::string& id_or_name) {
  try {
    return limits().read(id_or_name);
  } catch (const Error& e) {
    if (e.kind() == ErrorKind::kNotFound) return std::nullopt;
    throw;
  }
}

std::vector<json> EmbeddedClient::list_concurrency_limits(const std::string& name_prefix) {
  return limits().list(name_prefix, std::numeric_limits<int>::max(), 0);
}

bool EmbeddedClient::delete_concurrency_limit(const std::string& id_or_name) {
  try {
    limits().remove(id_or_name);  // one transaction: it throws not_found for an unknown limit
    return true;
  } catch (const Error& e) {
    if (e.kind() == ErrorKind::kNotFound) return false;
    throw;
  }
}

json EmbeddedClient::reset_concurrency_limit(const std::string& id_or_name) {
  return limits().reset(id_or_name);
}

storage::ArtifactStore& EmbeddedClient::artifacts() {
  return open_on_first_use(artifacts_, "artifacts");
}

storage::VariableStore& EmbeddedClient::variables() {
  return open_on_first_use(variables_, "variables");
}

namespace {
// A store's read whose not_found becomes "no result".
template <class F>
std::optional<json> or_missing(F&& read) {
  try {
    return read();
  } catch (const Error& e) {
    if (e.kind() == ErrorKind::kNotFound) return std::nullopt;
    throw;
  }
}
}  // namespace

json EmbeddedClient::create_artifact(const json& artifact) { return artifacts().create(artifact); }

std::optional<json> EmbeddedClient::read_artifact(const std::string& id) {
  return or_missing([&] { return artifacts().read(id); });
}

std::optional<json> EmbeddedClient::read_latest_artifact(const std::string& key) {
  return or_missing([&] { return artifacts().latest(key); });
}

std::vector<json> EmbeddedClient::filter_artifacts(const ArtifactFilter& filter) {
  return artifacts().filter(filter);
}

json EmbeddedClient::update_artifact(const std::string& id, const json& changes) {
  return artifacts().update(id, changes);
}

bool EmbeddedClient::delete_artifact(const std::string& id) {
  try {
    artifacts().remove(id);
    return true;
  } catch (const Error& e) {
    if (e.kind() == ErrorKind::kNotFound) return false;
    throw;
  }
}

std::optional<json> EmbeddedClient::read_variable(const std::string& name) {
  storage::VariableStore::check_name(name);
  return or_missing([&] { return variables().read_by_name(name); });
}

json EmbeddedClient::set_variable(const std::string& name, const json& value,
                                  const std::optional<std::vector<std::string>>& tags,
                                  bool overwrite) {
  return variables().set(name, value, tags ? &*tags : nullptr, overwrite);
}

bool EmbeddedClient::delete_variable(const std::string& name) {
  storage::VariableStore::check_name(name);
  try {
    variables().remove(name);
    return true;
  } catch (const Error& e) {
    if (e.kind() == ErrorKind::kNotFound) return false;
    throw;
  }
}

std::vector<json> EmbeddedClient::list_variables() {
  return variables().list({}, "", std::numeric_limits<int>::max(), 0);
}

}  // namespace baton
