#include "core/task_run.h"

#include <cstdint>
#include <thread>

#include "baton/error.h"
#include "core/exceptions.h"
#include "core/logging.h"
#include "core/names.h"
#include "core/result_store.h"
#include "core/run_memory.h"
#include "core/runtime.h"
#include "core/tag_slots.h"
#include "model/ids.h"

namespace baton::core {

namespace {
thread_local RunContext* tl_current = nullptr;

std::string format_seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", s);
  return std::string(buf) + "s";
}

std::atomic<int> g_unparented_index{0};
}  // namespace
}  // namespace baton::core

namespace baton::engine {
struct SubmitBatchState {
  SubmitBatchState* previous = nullptr;
  core::ThreadPool* runner = nullptr;
  std::vector<std::shared_ptr<core::Runnable>> jobs;
  std::size_t group = 1;  // hand over once this many runs are collected
  bool throttle = true;   // wait while the runner is backlogged (until it once stops taking runs)
};
}  // namespace baton::engine

namespace baton::core {
namespace {
// Groups grow 1, 2, 4, ...: a small map's first runs start at once, a large one's wait for at
// most this many submissions.
constexpr std::size_t kMaxSubmitGroup = 64;
constexpr std::size_t kBacklogHigh = 512;
constexpr std::size_t kBacklogLow = 256;
constexpr std::chrono::milliseconds kBacklogPatience{20};

thread_local engine::SubmitBatchState* tl_batch = nullptr;

void hand_over(engine::SubmitBatchState& batch) {
  if (!batch.jobs.empty()) batch.runner->post(batch.jobs);
}

// Before this thread blocks: hands over every run its SubmitBatch scopes hold, which may be the
// very run it is about to wait for.
void hand_over_before_waiting() {
  for (auto* batch = tl_batch; batch; batch = batch->previous) hand_over(*batch);
}

// Queues `job` on `runner`, through the innermost SubmitBatch of this thread if there is one.
void post_run(ThreadPool& runner, std::shared_ptr<Runnable> job) {
  auto* batch = tl_batch;
  if (!batch) {
    runner.post(std::move(job));
    return;
  }
  if (batch->runner != &runner) {
    hand_over(*batch);
    batch->runner = &runner;
  }
  batch->jobs.push_back(std::move(job));
  if (batch->jobs.size() >= batch->group) {
    hand_over(*batch);
    batch->group = std::min(batch->group * 2, kMaxSubmitGroup);
    // A map that outruns the runner's threads waits for them rather than pile up prepared runs
    // (each holds its record, fresh memory, until it runs); if they stop taking runs (every one
    // waits for something this thread would do next), it stops waiting for good.
    if (batch->throttle &&
        !runner.wait_while_backlogged(kBacklogHigh, kBacklogLow, kBacklogPatience))
      batch->throttle = false;
  }
}
}  // namespace

RunContext* current_context() { return tl_current; }
ScopedContext::ScopedContext(RunContext* ctx) : previous_(tl_current) { tl_current = ctx; }
ScopedContext::~ScopedContext() { tl_current = previous_; }

namespace {
// Makes `state` (decided with `run` as the counters afterwards) the run's current state and
// hands the run's snapshot to the client, which batches it.
void record_state(TaskRunRecord& record, bool& has_state, State&& state,
                  const orchestration::RunCounters& run, std::mutex* state_mutex) {
  orchestration::apply_counters(run, record);
  record.updated = state.timestamp;
  if (state_mutex) {
    std::lock_guard lock(*state_mutex);
    record.state = std::move(state);
  } else {
    record.state = std::move(state);
  }
  has_state = true;
  Runtime::get().client().record_task_run(record);
}

}  // namespace

Proposal propose_task_state(TaskRunRecord& record, bool& has_state, State&& proposed,
                            std::optional<State> cached, std::mutex* state_mutex) {
  const State* current = has_state ? &record.state : nullptr;
  if (orchestration::is_plain_task_transition(current, proposed, record.run_count)) {
    // No rule acts: only the global transforms, on the proposal as it is. Its factory already
    // read the clock, so the clock is read here only for a state without a timestamp.
    orchestration::RunCounters run = orchestration::counters_of(record);
    TimePoint at = proposed.timestamp == TimePoint{} ? now() : proposed.timestamp;
    orchestration::apply_global_transforms(orchestration::RunKind::kTask, current, at, proposed,
                                           run);
    record_state(record, has_state, std::move(proposed), run, state_mutex);
    return {};
  }
  orchestration::Transition t;
  t.kind = orchestration::RunKind::kTask;
  if (current) t.current = *current;
  t.proposed = std::move(proposed);
  t.policy = record.empirical_policy;
  t.run = orchestration::counters_of(record);
  t.now = now();
  t.cached = std::move(cached);
  orchestration::Decision d = orchestration::decide(t);
  Proposal out{d.outcome, d.wait_s, std::move(d.reason)};
  if (d.write_state) record_state(record, has_state, std::move(d.state), d.run, state_mutex);
  return out;
}

namespace {

// The locks and condition variables runs share (TaskRunImpl::mutex()); never destroyed, as runs
// may still finish while the process exits.
struct alignas(64) WaitStripe {
  std::mutex mutex;
  std::condition_variable done;
};
constexpr std::size_t kWaitStripes = 64;

WaitStripe& stripe_of(const void* run) {
  static auto* stripes = new WaitStripe[kWaitStripes];
  // Handles are a few hundred bytes apart: drop the bits that do not tell them apart.
  return stripes[(reinterpret_cast<std::uintptr_t>(run) >> 6) % kWaitStripes];
}

// Makes a recycled LiveTaskRun as good as new, keeping the capacity of its strings.
void reset(LiveTaskRun& live) {
#if defined(__x86_64__) && defined(__GLIBCXX__)
  static_assert(sizeof(TaskRunRecord) == 536 && sizeof(State) == 168,
                "TaskRunRecord or State changed: make reset() reset the new members");
#endif
  auto& r = live.record;
  r.id.clear();
  r.flow_run_id.clear();
  r.task_key.clear();
  r.name.clear();
  r.dynamic_key.clear();
  r.cache_key.clear();
  r.cache_expiration.reset();
  r.task_inputs = nullptr;  // "no inputs" (stored as {}): an empty JSON object would allocate
  r.tags.clear();
  r.empirical_policy.retries = 0;
  r.empirical_policy.retry_delays_s.clear();
  r.empirical_policy.retry_jitter_factor = 0;
  State& s = r.state;
  s.type = StateType::kPending;
  s.name.clear();
  s.message.clear();
  s.timestamp = {};
  s.scheduled_time.reset();
  s.result = nullptr;
  s.cache_key.clear();
  s.cache_expiration.reset();
  s.retriable = true;
  r.run_count = 0;
  r.created = {};
  r.updated = {};
  r.expected_start_time.reset();
  r.start_time.reset();
  r.end_time.reset();
  r.total_run_time_s = 0;
  live.has_state = false;
  live.tag_lease.clear();
}

// The recycling pool of LiveTaskRun: a small cache per thread, spilling to and refilled from a
// shared one kLiveTransfer at a time, so that a run taken on the submitting thread and given back
// on a pool thread costs no lock most of the time.
constexpr std::size_t kLiveTransfer = 32;
constexpr std::size_t kLiveLocalMax = 2 * kLiveTransfer;
constexpr std::size_t kLiveSharedMax = 1024;

struct SharedLivePool {
  std::mutex mutex;
  std::vector<LiveTaskRun*> items;
};
SharedLivePool& shared_live_pool() {
  static auto* pool = new SharedLivePool;  // never destroyed: threads give back while exiting
  return *pool;
}

thread_local bool tl_live_cache_gone = false;
struct LocalLiveCache {
  std::vector<LiveTaskRun*> items;
  ~LocalLiveCache() {
    tl_live_cache_gone = true;
    for (auto* live : items) delete live;
  }
};
thread_local LocalLiveCache tl_live_cache;

std::unique_ptr<LiveTaskRun> fresh_live() {
  auto live = std::make_unique<LiveTaskRun>();
  live->record.task_inputs = nullptr;
  return live;
}

std::unique_ptr<LiveTaskRun> take_live() {
  if (tl_live_cache_gone) return fresh_live();
  auto& local = tl_live_cache.items;
  if (local.empty()) {
    auto& shared = shared_live_pool();
    std::lock_guard lock(shared.mutex);
    std::size_t n = std::min(kLiveTransfer, shared.items.size());
    local.insert(local.end(), shared.items.end() - static_cast<std::ptrdiff_t>(n),
                 shared.items.end());
    shared.items.resize(shared.items.size() - n);
  }
  if (local.empty()) return fresh_live();
  std::unique_ptr<LiveTaskRun> live(local.back());
  local.pop_back();
  return live;
}

void give_live(std::unique_ptr<LiveTaskRun> live) {
  reset(*live);
  if (tl_live_cache_gone) return;  // deleted
  auto& local = tl_live_cache.items;
  local.push_back(live.release());
  if (local.size() < kLiveLocalMax) return;
  auto& shared = shared_live_pool();
  std::size_t keep = local.size() - kLiveTransfer;
  {
    std::lock_guard lock(shared.mutex);
    for (std::size_t i = keep; i < local.size() && shared.items.size() < kLiveSharedMax; ++i) {
      shared.items.push_back(local[i]);
      local[i] = nullptr;
    }
  }
  for (std::size_t i = keep; i < local.size(); ++i) delete local[i];  // the shared pool was full
  local.resize(keep);
}

}  // namespace

TaskRunImpl::TaskRunImpl(std::shared_ptr<const engine::TaskDefinition> def, engine::TaskCall* call,
                         std::unique_ptr<engine::TaskCall> owned_call, FlowRunContext* flow,
                         std::vector<engine::Dependency> deps)
    : def_(std::move(def)),
      call_(call),
      owned_call_(std::move(owned_call)),
      flow_(flow),
      deps_(std::move(deps)),
      live_(take_live()) {}

TaskRunImpl::~TaskRunImpl() {
  if (live_) give_live(std::move(live_));  // a run that never became final
}

std::mutex& TaskRunImpl::mutex() const { return stripe_of(this).mutex; }
std::condition_variable& TaskRunImpl::done_cv() const { return stripe_of(this).done; }

// done_ is set under mutex() (for the waiters on done_cv()) and read without it: once it is true,
// error_ and the final state no longer change, so a finished run answers without the lock. live_ is
// given back only after done_ is set, so a reader that holds the lock and sees done_ false may
// still read it.
bool TaskRunImpl::done() const { return done_.load(std::memory_order_acquire); }

void TaskRunImpl::wait() const {
  if (done()) return;
  hand_over_before_waiting();
  std::unique_lock lock(mutex());
  done_cv().wait(lock, [this] { return done_.load(std::memory_order_relaxed); });
}

bool TaskRunImpl::wait_for(Seconds timeout) const {
  if (done()) return true;
  hand_over_before_waiting();
  std::unique_lock lock(mutex());
  return done_cv().wait_for(lock, timeout,
                            [this] { return done_.load(std::memory_order_relaxed); });
}

State TaskRunImpl::state() const {
  if (done()) return final_state();
  std::lock_guard lock(mutex());
  return done_.load(std::memory_order_relaxed) ? final_state() : live_->record.state;
}

namespace {
// A final state that final_state() rebuilds from its type and time alone: every other member of
// State at its default (the type's default name, no message, result, cache key, ...).
bool is_plain_final(const State& s) {
  static_assert(sizeof(State) == 168, "a new member of State must be checked here");
  return s.name == default_name(s.type) && s.message.empty() && !s.scheduled_time &&
         s.result.is_null() && s.cache_key.empty() && !s.cache_expiration && s.retriable;
}
}  // namespace

State TaskRunImpl::final_state() const {
  if (final_full_) return *final_full_;
  State s;
  s.type = final_type_;
  s.name = default_name(final_type_);
  s.timestamp = final_time_;
  return s;
}

std::exception_ptr TaskRunImpl::error() const {
  if (done()) return error_;
  std::lock_guard lock(mutex());
  return error_;
}

void TaskRunImpl::prepare() {
  const auto& def = *def_;
  auto& record = live_->record;
  State pending = State::pending();
  id_ = new_id(pending.timestamp.time_since_epoch().count());  // one clock reading for both
  record.id = id_;
  int index = flow_ ? flow_->next_task_index(def.name) : g_unparented_index++;
  record.dynamic_key = std::to_string(index);
  if (flow_) record.flow_run_id = flow_->id();
  if (def.version.empty())
    record.task_key = def.name;
  else
    record.task_key = def.task_key();
  if (def.task_run_name.empty()) {
    name_.reserve(def.name.size() + 1 + record.dynamic_key.size());
    name_ = def.name;
    name_ += '-';
    name_ += record.dynamic_key;
  } else if (def.task_run_name.find('{') == std::string::npos) {
    name_ = def.task_run_name;  // no placeholders: the inputs are not needed
  } else if (deps_.empty()) {
    name_ = render_name(def.task_run_name, call_->inputs(), "task_run_name");
  } else {
    // A template needs the argument values; with futures among them they are not known yet, so
    // such runs keep the default name.
    name_ = def.name + "-" + record.dynamic_key;
  }
  record.name = name_;
  record.tags = def.tags;
  if (def.retries > 0) {
    record.empirical_policy.retries = def.retries;
    record.empirical_policy.retry_delays_s = def.retry_delay.delays_s(def.retries);
    record.empirical_policy.retry_jitter_factor = def.retry_jitter_factor;
  }
  if (!deps_.empty()) {
    record.task_inputs = nlohmann::json::object();
    for (const auto& dep : deps_)
      record.task_inputs[dep.input].push_back({{"input_type", "task_run"}, {"id", dep.run->id()}});
  }
  record.created = pending.timestamp;
  propose(std::move(pending));
}

Proposal TaskRunImpl::propose(State&& state, std::optional<State> cached) {
  return propose_task_state(live_->record, live_->has_state, std::move(state), std::move(cached),
                            &mutex());
}

void TaskRunImpl::run_here() {
  for (const auto& dep : deps_) dep.run->wait();
  run_to_completion();
}

void TaskRunImpl::schedule(ThreadPool& runner) {
  runner_ = &runner;
  if (flow_) flow_->add_outstanding();
  waiting_for_.store(static_cast<int>(deps_.size()) + 1);
  if (!deps_.empty()) {
    auto self = shared_from_this();
    for (const auto& dep : deps_) {
      auto* upstream = static_cast<TaskRunImpl*>(dep.run.get());
      if (!upstream->add_dependent(self)) dependency_done();
    }
  }
  dependency_done();
}

bool TaskRunImpl::add_dependent(const std::shared_ptr<TaskRunImpl>& dependent) {
  std::lock_guard lock(mutex());
  if (done_.load(std::memory_order_relaxed)) return false;
  dependents_.push_back(dependent);
  return true;
}

void TaskRunImpl::dependency_done() {
  if (waiting_for_.fetch_sub(1) == 1) post_run(*runner_, shared_from_this());
}

void TaskRunImpl::execute() {
  // The pool thread works for the flow run that submitted this task.
  RunContext ctx;
  ctx.flow = flow_;
  ctx.cancel = flow_ ? &flow_->cancel() : nullptr;
  ScopedContext scope(&ctx);
  run_to_completion();
}

bool TaskRunImpl::sleep_until(TimePoint at) {
  const auto* flow_cancel = flow_ ? flow_->cancel().get() : nullptr;
  while (now() < at) {
    if (flow_cancel && flow_cancel->is_cancelled()) return false;
    auto left = at - now();
    std::this_thread::sleep_for(
        std::min<std::chrono::microseconds>(left, std::chrono::milliseconds(50)));
  }
  return true;
}

void TaskRunImpl::run_to_completion() {
  const auto& def = *def_;
  auto label = [this] { return "Task run '" + name_ + "'"; };
  auto& client = Runtime::get().client();

  // Upstream runs that did not complete: this run cannot have its inputs.
  for (const auto& dep : deps_) {
    State s = dep.run->state();
    if (s.type == StateType::kCompleted) continue;
    std::string msg =
        "Upstream task run '" + dep.run->name() + "' did not complete (" + s.name + ")";
    State failed = State::failed(msg, "NotReady");
    failed.retriable = false;
    propose(std::move(failed));
    emit_log(40, live_->record.flow_run_id, id_, label(), "Finished in state NotReady: " + msg);
    finish(std::make_exception_ptr(UpstreamFailedError(msg)));
    return;
  }

  std::string cache_key;
  std::optional<State> cached;
  if (def.cache) {
    try {
      nlohmann::json inputs = call_->inputs();
      cache_key = def.cache_key_fn
                      ? def.cache_key_fn(inputs)
                      : def.task_key() + "-" + digest(def.task_key() + "\n" + inputs.dump());
    } catch (...) {
      auto e = std::current_exception();
      State failed = State::failed("Cannot compute the cache key: " + exception_message(e));
      failed.retriable = false;
      propose(std::move(failed));
      finish(e);
      return;
    }
    if (!def.refresh_cache) {
      if (auto hit = client.find_cached_state(cache_key, now())) {
        // A hit is usable only if its result can still be read back.
        const auto& ref = hit->result;
        if (ref.is_object() && ref.contains("storage_key")) {
          if (Runtime::get().results().read(ref["storage_key"].get<std::string>(), now()))
            cached = std::move(hit);
        } else {
          cached = std::move(hit);
        }
      }
    }
  }

  std::exception_ptr error;
  for (;;) {
    // Tag concurrency limits: one slot of every "tag:<tag>" limit before entering Running.
    if (!live_->record.tags.empty()) {
      TagSlots slots;
      try {
        slots = acquire_tag_slots(client, live_->record.tags, id_,
                                  flow_ ? flow_->cancel().get() : nullptr,
                                  [this](const std::string& why) {
                                    State waiting = State::pending("AwaitingConcurrencySlot");
                                    waiting.message = why;
                                    propose(std::move(waiting));
                                  });
      } catch (...) {
        slots.status = TagSlots::Status::kAborted;
        slots.reason =
            "Could not take a tag concurrency slot: " + exception_message(std::current_exception());
      }
      if (slots.status == TagSlots::Status::kCancelled) {
        propose(State::cancelled(slots.reason));
        finish(std::make_exception_ptr(CancelledError(label() + " was " + slots.reason)));
        return;
      }
      if (slots.status == TagSlots::Status::kAborted) {
        State failed = State::failed(slots.reason);
        failed.retriable = false;
        propose(std::move(failed));
        emit_log(40, live_->record.flow_run_id, id_, label(),
                 "Finished in state Failed: " + slots.reason);
        finish(std::make_exception_ptr(std::runtime_error(slots.reason)));
        return;
      }
      live_->tag_lease = std::move(slots.lease_id);
      if (!live_->tag_lease.empty()) Runtime::get().lease_keeper().hold(live_->tag_lease);
    }
    State running = State::running();
    running.cache_key = cache_key;
    auto d = propose(std::move(running), std::move(cached));
    cached.reset();
    if (d.outcome == orchestration::Outcome::kWait) {
      std::this_thread::sleep_for(Seconds(std::min(d.wait_s, 1.0)));
      continue;
    }
    if (d.outcome == orchestration::Outcome::kReject &&
        live_->record.state.type == StateType::kCompleted) {
      // CacheRetrieval: the body does not run.
      try {
        const auto& ref = live_->record.state.result;
        if (ref.is_object() && ref.contains("storage_key")) {
          auto stored = Runtime::get().results().read(ref["storage_key"].get<std::string>(), now());
          if (!stored) throw unavailable("the cached result was removed from the result store");
          call_->load_result(stored->value);
        } else {
          call_->load_result(ref);
        }
        if (Runtime::get().log_level() <= 10)
          emit_log(10, live_->record.flow_run_id, id_, label(), "Finished in state Cached");
        finish(nullptr);
      } catch (...) {
        finish(std::current_exception());
      }
      return;
    }
    if (d.outcome != orchestration::Outcome::kAccept) {
      std::string msg = "Task run could not start: " +
                        (d.reason.empty() ? std::string(to_string(d.outcome)) : d.reason);
      finish(std::make_exception_ptr(std::runtime_error(msg)));
      return;
    }

    // Running (or Retrying): run the body with this run as the thread's context.
    // The flow run's cancellation state, or with a timeout one of this attempt's own.
    const std::shared_ptr<detail::CancelState>* cancel = flow_ ? &flow_->cancel() : nullptr;
    std::shared_ptr<detail::CancelState> attempt_cancel;
    std::uint64_t alarm = 0;
    std::string timeout_reason;
    if (def.timeout) {
      attempt_cancel = std::make_shared<detail::CancelState>(cancel ? *cancel : nullptr);
      cancel = &attempt_cancel;
      timeout_reason = label() + " exceeded its timeout of " + format_seconds(def.timeout->count());
      alarm = Runtime::get().watchdog().arm(
          std::chrono::steady_clock::now() +
              std::chrono::duration_cast<std::chrono::steady_clock::duration>(*def.timeout),
          attempt_cancel, timeout_reason);
    }
    error = nullptr;
    {
      RunContext ctx;
      ctx.flow = flow_;
      ctx.task_run_id = &id_;
      ctx.task_run_name = &name_;
      ctx.cancel = cancel;
      ctx.log_prints = def.log_prints || (flow_ && flow_->log_prints());
      if (ctx.log_prints) install_print_capture();
      ScopedContext scope(&ctx);
      try {
        call_->run();
      } catch (...) {
        error = std::current_exception();
      }
      if (ctx.log_prints) flush_captured_prints();
    }
    if (alarm) Runtime::get().watchdog().disarm(alarm);
    bool timed_out = cancel && *cancel && (*cancel)->is_timed_out();
    if (timed_out && (!error || holds<TimeoutError>(error) || holds<CancelledError>(error)))
      error = std::make_exception_ptr(TimeoutError((*cancel)->why()));

    if (!error) {
      State completed = State::completed();
      try {
        if (def.cache || def.persist_result) {
          std::optional<TimePoint> expiration;
          if (def.cache_expiration)
            expiration = now() + std::chrono::duration_cast<std::chrono::microseconds>(
                                     *def.cache_expiration);
          std::string storage_key = cache_key.empty() ? id_ : cache_key;
          Runtime::get().results().write(storage_key, call_->result_json(), expiration);
          completed.result = {{"storage_key", storage_key}};
          completed.cache_key = cache_key;
          completed.cache_expiration = expiration;
        }
      } catch (...) {
        error = std::current_exception();
      }
      if (!error) {
        propose(std::move(completed));
        if (Runtime::get().log_level() <= 10)
          emit_log(10, live_->record.flow_run_id, id_, label(), "Finished in state Completed");
        finish(nullptr);
        return;
      }
    }

    std::string msg = exception_message(error);
    State failed = timed_out ? State::timed_out(msg) : State::failed(msg);
    if (def.retry_condition) {
      try {
        failed.retriable = def.retry_condition(error);
      } catch (...) {
        failed.retriable = false;
      }
    }
    auto fd = propose(std::move(failed));
    if (live_->record.state.type == StateType::kScheduled && live_->record.state.scheduled_time) {
      release_tag_slots();  // a run waiting to retry is not running
      emit_log(30, live_->record.flow_run_id, id_, label(),
               "Task run failed with exception: " + msg + " - " + fd.reason);
      if (sleep_until(*live_->record.state.scheduled_time)) continue;
      State cancelled =
          State::cancelled("The flow run was cancelled while the task waited to retry");
      propose(std::move(cancelled));
      finish(error);
      return;
    }
    emit_log(40, live_->record.flow_run_id, id_, label(),
             "Finished in state " + live_->record.state.name + ": " + msg);
    finish(error);
    return;
  }
}

void TaskRunImpl::release_tag_slots() {
  if (live_->tag_lease.empty()) return;
  Runtime::get().lease_keeper().release(live_->tag_lease);
  live_->tag_lease.clear();
}

void TaskRunImpl::finish(std::exception_ptr error) {
  if (!live_) return;  // already final
  // First: whatever happens next (hooks, the flow ending), the slots are free.
  release_tag_slots();
  const auto& def = *def_;
  // Only this thread writes live_->record.state, so it reads it without the lock.
  const State& final_state = live_->record.state;
  const auto& hooks =
      final_state.type == StateType::kCompleted ? def.on_completion : def.on_failure;
  if (!hooks.empty() &&
      (final_state.type == StateType::kCompleted || final_state.is_final_failure())) {
    RunInfo info{id_, name_, def.name, live_->record.flow_run_id, live_->record.run_count, nullptr};
    for (const auto& hook : hooks) {
      try {
        hook(info, final_state);
      } catch (const std::exception& e) {
        emit_log(40, live_->record.flow_run_id, id_, "Task run '" + name_ + "'",
                 std::string("A state hook failed: ") + e.what());
      } catch (...) {
        emit_log(40, live_->record.flow_run_id, id_, "Task run '" + name_ + "'",
                 "A state hook failed");
      }
    }
  }
  std::vector<std::shared_ptr<TaskRunImpl>> dependents;
  {
    std::lock_guard lock(mutex());
    State& last = live_->record.state;
    if (is_plain_final(last)) {
      final_type_ = last.type;
      final_time_ = last.timestamp;
    } else {
      final_full_ = std::make_unique<State>(std::move(last));
    }
    error_ = std::move(error);
    done_.store(true, std::memory_order_release);
    dependents.swap(dependents_);
  }
  done_cv().notify_all();
  give_live(std::move(live_));
  for (auto& d : dependents) d->dependency_done();
  // Last: once outstanding drops to zero the flow run may end and its context go away.
  if (runner_ && flow_) flow_->remove_outstanding();
}

}  // namespace baton::core

namespace baton::engine {

void* allocate_call_memory(std::size_t size) { return core::run_memory::allocate_sized(size); }

void free_call_memory(void* block, std::size_t size) noexcept {
  core::run_memory::deallocate_sized(block, size);
}

SubmitBatch::SubmitBatch() : state_(std::make_unique<SubmitBatchState>()) {
  state_->previous = core::tl_batch;
  core::tl_batch = state_.get();
}

SubmitBatch::~SubmitBatch() {
  core::tl_batch = state_->previous;
  core::hand_over(*state_);
}

void run_task(const std::shared_ptr<const TaskDefinition>& task, TaskCall& call,
              std::vector<Dependency> deps) {
  auto* ctx = core::current_context();
  core::TaskRunImpl run(task, &call, nullptr, ctx ? ctx->flow : nullptr, std::move(deps));
  run.prepare();
  run.run_here();
  if (auto e = run.error()) std::rethrow_exception(e);
}

TaskRunPtr submit_task(std::shared_ptr<const TaskDefinition> task, std::unique_ptr<TaskCall> call,
                       std::vector<Dependency> deps) {
  auto* ctx = core::current_context();
  auto* flow = ctx ? ctx->flow : nullptr;
  auto* raw = call.get();
  // Carved rather than malloc'd: see core/run_memory.h.
  auto run = std::allocate_shared<core::TaskRunImpl>(
      core::run_memory::RunAllocator<core::TaskRunImpl>{}, std::move(task), raw, std::move(call),
      flow, std::move(deps));
  run->prepare();
  run->schedule(flow ? flow->runner() : core::Runtime::get().default_runner());
  return run;
}

int64_t clear_task_cache(const std::string& task_key) {
  return core::Runtime::get().client().expire_cache({.cache_key = {}, .task_key = task_key}, now());
}

int64_t clear_cache_key(const std::string& cache_key) {
  return core::Runtime::get().client().expire_cache({.cache_key = cache_key, .task_key = {}},
                                                    now());
}

std::string current_flow_run_id() {
  auto* ctx = core::current_context();
  return ctx && ctx->flow ? ctx->flow->id() : std::string();
}

std::string current_task_run_id() {
  auto* ctx = core::current_context();
  return ctx && ctx->task_run_id ? *ctx->task_run_id : std::string();
}

}  // namespace baton::engine
