#include "orchestration/rules.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <random>

namespace baton::orchestration {

std::string_view to_string(Outcome outcome) noexcept {
  switch (outcome) {
    case Outcome::kAccept:
      return "ACCEPT";
    case Outcome::kReject:
      return "REJECT";
    case Outcome::kWait:
      return "WAIT";
    case Outcome::kAbort:
      return "ABORT";
  }
  return "UNKNOWN";
}

double retry_delay_s(const RetryPolicy& policy, int attempt, double random01) {
  const auto& delays = policy.retry_delays_s;
  double base = 0;
  if (!delays.empty()) {
    size_t index = static_cast<size_t>(std::max(attempt - 1, 0));
    base = delays[std::min(index, delays.size() - 1)];
  }
  double jitter = std::clamp(policy.retry_jitter_factor, 0.0, 1.0);
  double delay = base * (1.0 - jitter + 2.0 * jitter * random01);
  return std::max(delay, 0.0);
}

std::vector<double> exponential_backoff(double factor_s, int retries) {
  std::vector<double> out;
  for (int k = 0; k < retries; ++k) out.push_back(factor_s * std::pow(2.0, k));
  return out;
}

namespace {

// A set of "from" or "to" states: one bit per StateType, plus one for "no state yet".
using Mask = unsigned;
constexpr Mask bit(StateType t) { return 1u << static_cast<unsigned>(t); }
constexpr Mask kNone = 1u << 9;
constexpr Mask kAllTypes = (1u << 9) - 1;
constexpr Mask kAll = kAllTypes | kNone;
constexpr Mask kTerminal = bit(StateType::kCompleted) | bit(StateType::kFailed) |
                           bit(StateType::kCancelled) | bit(StateType::kCrashed);

// The evaluation of one transition: rules read the input and may change the proposed state and
// the counters, or end the evaluation with a verdict.
struct Context {
  const Transition& in;
  State proposed;
  RunCounters run;
  std::optional<Decision> verdict;  // set by a rule that rejects, delays or aborts
  std::string modified_by;          // last rule that changed the proposed state
  bool insert_cache = false;

  const State& current() const { return *in.current; }
  State current_or_proposed() const { return in.current ? *in.current : in.proposed; }

  void reject(std::string_view rule, std::string reason) {
    Decision d;
    d.outcome = Outcome::kReject;
    d.state = current_or_proposed();
    d.rule = rule;
    d.reason = std::move(reason);
    d.run = in.run;
    verdict = std::move(d);
  }
  // Rejects the proposal and records `substitute` instead (e.g. AwaitingRetry for Failed).
  void substitute(std::string_view rule, State substitute, std::string reason) {
    Decision d;
    d.outcome = Outcome::kReject;
    d.state = std::move(substitute);
    d.write_state = true;
    d.rule = rule;
    d.reason = std::move(reason);
    verdict = std::move(d);
  }
  void wait(std::string_view rule, double seconds, std::string reason) {
    Decision d;
    d.outcome = Outcome::kWait;
    d.state = current_or_proposed();
    d.rule = rule;
    d.reason = std::move(reason);
    d.wait_s = seconds;
    d.run = in.run;
    verdict = std::move(d);
  }
  void abort(std::string_view rule, std::string reason) {
    Decision d;
    d.outcome = Outcome::kAbort;
    d.state = current_or_proposed();
    d.rule = rule;
    d.reason = std::move(reason);
    d.run = in.run;
    verdict = std::move(d);
  }
  double random01() const {
    if (in.random) return in.random();
    thread_local std::mt19937_64 rng{std::random_device{}()};
    return std::uniform_real_distribution<double>(0.0, 1.0)(rng);
  }
};

struct Rule {
  std::string_view name;
  Mask from;
  Mask to;
  void (*apply)(Context&);
};

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// --- the rules
// ------------------------------------------------------------------------------------

void prevent_duplicate_transitions(Context& c) {
  if (!c.in.transition_id.empty() && c.in.transition_id == c.in.current_transition_id)
    c.reject("PreventDuplicateTransitions", "This run has already made this state transition.");
}

void cache_retrieval(Context& c) {
  const auto& cached = c.in.cached;
  if (c.proposed.cache_key.empty() || !cached) return;
  if (cached->type != StateType::kCompleted) return;
  if (!cached->cache_key.empty() && cached->cache_key != c.proposed.cache_key) return;
  if (cached->cache_expiration && *cached->cache_expiration <= c.in.now) return;
  State hit = *cached;
  hit.name = "Cached";
  hit.message = {};
  hit.timestamp = c.in.now;
  hit.scheduled_time.reset();
  hit.cache_key = c.proposed.cache_key;
  c.substitute("CacheRetrieval", std::move(hit), "Retrieved state from cache");
}

void handle_terminal_state_transitions(Context& c, std::string_view rule) {
  const State& cur = c.current();
  auto to = c.proposed.type;
  if (to == StateType::kPaused || to == StateType::kCancelling || to == StateType::kCrashed) {
    c.abort(rule, "Run is already " + lower(to_string(cur.type)) + ".");
    return;
  }
  // A completed run keeps its result: leaving it would lose the result it already produced.
  if (cur.type == StateType::kCompleted && !cur.result.is_null()) {
    c.reject(rule, "This run has already completed.");
    return;
  }
  if (c.in.kind == RunKind::kFlow && to == StateType::kScheduled && !c.in.has_deployment) {
    c.abort(rule, "Cannot reschedule a run without an associated deployment.");
    return;
  }
  c.run.run_count = 0;  // a re-run starts its retries afresh
}
void handle_flow_terminal(Context& c) {
  handle_terminal_state_transitions(c, "HandleFlowTerminalStateTransitions");
}
void handle_task_terminal(Context& c) {
  handle_terminal_state_transitions(c, "HandleTaskTerminalStateTransitions");
}

void enforce_cancelling_to_cancelled(Context& c) {
  c.reject("EnforceCancellingToCancelledTransition",
           "Cannot transition flows that are cancelling to a state other than Cancelled.");
}

void bypass_cancelling_with_no_infra(Context& c) {
  const State& cur = c.current();
  bool no_infra = (cur.type == StateType::kScheduled && !c.in.has_infrastructure) ||
                  (cur.type == StateType::kPaused && cur.name == "Suspended");
  if (!no_infra) return;
  State cancelled = State::cancelled(c.proposed.message);
  cancelled.timestamp = c.proposed.timestamp;
  c.substitute("BypassCancellingFlowRunsWithNoInfra", std::move(cancelled),
               cur.type == StateType::kScheduled
                   ? "Scheduled flow run has no infrastructure to terminate."
                   : "Suspended flow run has no infrastructure to terminate.");
}

void prevent_pending_transitions(Context& c) {
  c.abort("PreventPendingTransitions", "This run is in a " +
                                           std::string(to_string(c.current().type)) +
                                           " state and cannot transition to a PENDING state.");
}

void ensure_only_scheduled_flows_marked_late(Context& c) {
  if (c.proposed.name == "Late" && c.current().type != StateType::kScheduled)
    c.reject("EnsureOnlyScheduledFlowsMarkedLate", "Only scheduled flows can be marked late.");
}

void copy_scheduled_time(Context& c) {
  if (!c.proposed.scheduled_time && c.current().scheduled_time) {
    c.proposed.scheduled_time = c.current().scheduled_time;
    c.modified_by = "CopyScheduledTime";
  }
}

void wait_for_scheduled_time(Context& c) {
  const auto& at = c.current().scheduled_time;
  if (!at) return;
  auto delay = std::chrono::duration<double>(*at - c.in.now).count();
  if (delay > 0) c.wait("WaitForScheduledTime", delay, "Scheduled time is in the future.");
}

void retry_failed(Context& c, std::string_view rule) {
  if (!c.proposed.retriable) return;  // the client's retry condition said no
  int run_count = c.run.run_count;
  if (run_count > c.in.policy.retries) return;  // retries exhausted: the failure stands
  double delay = retry_delay_s(c.in.policy, run_count, c.random01());
  auto at = c.in.now + std::chrono::duration_cast<std::chrono::microseconds>(
                           std::chrono::duration<double>(delay));
  State retry = State::awaiting_retry(at);
  retry.timestamp = c.in.now;
  retry.message = c.proposed.message;
  retry.result = c.proposed.result;
  char delay_text[32];
  std::snprintf(delay_text, sizeof delay_text, "%.3g", delay);
  c.substitute(rule, std::move(retry),
               "Retrying: attempt " + std::to_string(run_count) + " of " +
                   std::to_string(c.in.policy.retries + 1) + " failed; next in " + delay_text +
                   " s");
}
void retry_failed_flows(Context& c) { retry_failed(c, "RetryFailedFlows"); }
void retry_failed_tasks(Context& c) { retry_failed(c, "RetryFailedTasks"); }

void rename_reruns(Context& c) {
  if (c.run.run_count <= 0) return;
  c.proposed.name = c.current().name == "AwaitingRetry" ? "Retrying" : "Rerunning";
  c.modified_by = "RenameReruns";
}

void cache_insertion(Context& c) {
  if (!c.proposed.cache_key.empty()) {
    c.insert_cache = true;
    c.modified_by = "CacheInsertion";
  }
}

constexpr Mask kRunning = bit(StateType::kRunning);
constexpr Mask kPending = bit(StateType::kPending);
constexpr Mask kScheduled = bit(StateType::kScheduled);

const Rule kPreventDuplicate{"PreventDuplicateTransitions", kAllTypes, kAll,
                             prevent_duplicate_transitions};
const Rule kCacheRetrieval{"CacheRetrieval", kAll, kRunning, cache_retrieval};
const Rule kFlowTerminal{"HandleFlowTerminalStateTransitions", kTerminal, kAllTypes,
                         handle_flow_terminal};
const Rule kTaskTerminal{"HandleTaskTerminalStateTransitions", kTerminal, kAllTypes,
                         handle_task_terminal};
const Rule kCancellingToCancelled{
    "EnforceCancellingToCancelledTransition", bit(StateType::kCancelling),
    kAllTypes & ~bit(StateType::kCancelled), enforce_cancelling_to_cancelled};
const Rule kBypassCancelling{"BypassCancellingFlowRunsWithNoInfra",
                             kScheduled | bit(StateType::kPaused), bit(StateType::kCancelling),
                             bypass_cancelling_with_no_infra};
const Rule kPreventPending{
    "PreventPendingTransitions",
    kPending | bit(StateType::kCancelling) | kRunning | bit(StateType::kCancelled), kPending,
    prevent_pending_transitions};
const Rule kOnlyScheduledLate{"EnsureOnlyScheduledFlowsMarkedLate", kAllTypes, kScheduled,
                              ensure_only_scheduled_flows_marked_late};
const Rule kCopyScheduledTime{"CopyScheduledTime", kScheduled, kPending, copy_scheduled_time};
const Rule kWaitForScheduledTime{"WaitForScheduledTime", kScheduled | kPending, kRunning,
                                 wait_for_scheduled_time};
const Rule kRetryFailedFlows{"RetryFailedFlows", kRunning, bit(StateType::kFailed),
                             retry_failed_flows};
const Rule kRetryFailedTasks{"RetryFailedTasks", kRunning, bit(StateType::kFailed),
                             retry_failed_tasks};
const Rule kRenameReruns{"RenameReruns", kAllTypes, kRunning, rename_reruns};
const Rule kCacheInsertion{"CacheInsertion", kAll, bit(StateType::kCompleted), cache_insertion};

const std::array<const Rule*, 10> kFlowPolicy{
    &kPreventDuplicate, &kFlowTerminal,      &kCancellingToCancelled, &kBypassCancelling,
    &kPreventPending,   &kOnlyScheduledLate, &kCopyScheduledTime,     &kWaitForScheduledTime,
    &kRetryFailedFlows, &kRenameReruns};
const std::array<const Rule*, 8> kTaskPolicy{
    &kPreventDuplicate,     &kCacheRetrieval,   &kTaskTerminal, &kCopyScheduledTime,
    &kWaitForScheduledTime, &kRetryFailedTasks, &kRenameReruns, &kCacheInsertion};
const std::array<const Rule*, 1> kForcedPolicy{&kBypassCancelling};

template <size_t N>
void run_policy(const std::array<const Rule*, N>& policy, Context& c) {
  Mask from = c.in.current ? bit(c.in.current->type) : kNone;
  Mask to = bit(c.proposed.type);
  for (const Rule* rule : policy) {
    if (!(rule->from & from) || !(rule->to & to)) continue;
    rule->apply(c);
    if (c.verdict) return;
  }
}

}  // namespace

// Prefect's global transforms, applied to whatever state gets recorded.
void apply_global_transforms(RunKind kind, const State* cur, TimePoint now, State& state,
                             RunCounters& run) {
  if (state.timestamp == TimePoint{}) state.timestamp = now;
  if (state.name.empty()) state.name = std::string(default_name(state.type));
  // A run's history is ordered by time: a state proposed with a clock earlier than the current
  // state's (another machine, or a state object built before the previous transition) is
  // recorded just after it (Prefect's EnsureFlowRunStateTimestampIsUnique).
  if (cur && state.timestamp <= cur->timestamp)
    state.timestamp = cur->timestamp + std::chrono::microseconds(1);
  bool was_running = cur && cur->type == StateType::kRunning;
  if (state.type == StateType::kRunning && !was_running) {
    bool resuming = kind == RunKind::kFlow && cur && cur->type == StateType::kPaused;
    if (!resuming) run.run_count += 1;
    if (!run.start_time) run.start_time = state.timestamp;
  }
  if (was_running) {
    auto spent = std::chrono::duration<double>(state.timestamp - cur->timestamp).count();
    if (spent > 0) run.total_run_time_s += spent;
  }
  if (state.is_terminal())
    run.end_time = state.timestamp;
  else if (cur && cur->is_terminal())
    run.end_time.reset();
  if (!run.expected_start_time) {
    run.expected_start_time = state.type == StateType::kScheduled && state.scheduled_time
                                  ? *state.scheduled_time
                                  : state.timestamp;
  }
  if (state.type == StateType::kScheduled)
    run.next_scheduled_start_time = state.scheduled_time;
  else
    run.next_scheduled_start_time.reset();
}

namespace {
void apply_transforms(const Transition& t, State& state, RunCounters& run) {
  apply_global_transforms(t.kind, t.current ? &*t.current : nullptr, t.now, state, run);
}
}  // namespace

// Mirrors the task policy rule by rule: each condition below is what keeps one rule from acting.
// PreventDuplicateTransitions needs a transition id, which the caller does not give.
bool is_plain_task_transition(const State* current, const State& proposed, int run_count) noexcept {
  Mask to = bit(proposed.type);
  // RetryFailedTasks acts on FAILED only; other targets (Scheduled, Cancelled, ...) stay with the
  // full rules.
  if (!(to & (kPending | kRunning | bit(StateType::kCompleted)))) return false;
  // CacheRetrieval and CacheInsertion act only on a proposal with a cache key.
  if (!proposed.cache_key.empty()) return false;
  // RenameReruns renames a RUNNING proposal once the run has run.
  if (proposed.type == StateType::kRunning && run_count > 0) return false;
  if (!current) return true;  // the other rules need a current state
  // HandleTaskTerminalStateTransitions acts from a terminal state, CopyScheduledTime from
  // SCHEDULED; WaitForScheduledTime needs a scheduled time on the current state.
  if (!(bit(current->type) & (kPending | kRunning))) return false;
  return !current->scheduled_time.has_value();
}

Decision decide(const Transition& t) {
  Context c{t, t.proposed, t.run, std::nullopt, {}, false};
  if (t.force)
    run_policy(kForcedPolicy, c);
  else if (t.kind == RunKind::kFlow)
    run_policy(kFlowPolicy, c);
  else
    run_policy(kTaskPolicy, c);

  if (c.verdict) {
    Decision d = std::move(*c.verdict);
    if (d.write_state) {
      d.run = c.run;
      apply_transforms(t, d.state, d.run);
    }
    return d;
  }
  Decision d;
  d.outcome = Outcome::kAccept;
  d.state = std::move(c.proposed);
  d.write_state = true;
  d.rule = std::move(c.modified_by);
  d.run = c.run;
  d.insert_cache = c.insert_cache;
  apply_transforms(t, d.state, d.run);
  return d;
}

}  // namespace baton::orchestration
