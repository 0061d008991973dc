// The orchestration rules: the one place that decides what a proposed state transition becomes.
//
// decide() is a pure function of a Transition (the run's current state and counters, the
// proposed state, the run's retry policy, the clock reading, a cached state found for the
// proposed cache key, ...) to a Decision (accept / reject / wait / abort, the state to record,
// the run's counters afterwards, and the name of the rule that decided). It touches no storage,
// so the SDK applies the task policy in-process and the embedded client and the server apply the
// flow policy inside their write transaction, with the same code.
//
// Rules follow Prefect's core policies (src/prefect/server/orchestration/core_policy.py), in
// Prefect's priority order:
//   flow: PreventDuplicateTransitions, HandleFlowTerminalStateTransitions,
//         EnforceCancellingToCancelledTransition, BypassCancellingFlowRunsWithNoInfra,
//         PreventPendingTransitions, EnsureOnlyScheduledFlowsMarkedLate, CopyScheduledTime,
//         WaitForScheduledTime, RetryFailedFlows, RenameReruns
//   task: PreventDuplicateTransitions, CacheRetrieval, HandleTaskTerminalStateTransitions,
//         CopyScheduledTime, WaitForScheduledTime, RetryFailedTasks, RenameReruns, CacheInsertion
//   forced (force=true, tooling): BypassCancellingFlowRunsWithNoInfra only.
// Then the global transforms, on whatever state is recorded: the timestamp (now when unset),
// start_time on the first RUNNING, end_time on a terminal state (cleared when leaving one),
// run_count +1 on entering RUNNING, total_run_time += time spent RUNNING, expected_start_time on
// the first state, next_scheduled_start_time while SCHEDULED.
//
// Example (the SDK, before running a task body):
//   orchestration::Transition t{.kind = RunKind::kTask, .current = run.state,
//                               .proposed = State::running(), .policy = run.empirical_policy,
//                               .run = counters_of(run), .now = baton::now()};
//   auto d = orchestration::decide(t);
//   if (d.write_state) { apply_counters(d.run, run); run.state = d.state;
//   client.record_task_run(run); }
//
// Thread-safety: decide() is reentrant; the default random source is thread-local.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "baton/state.h"
#include "model/records.h"

namespace baton::orchestration {

enum class RunKind { kFlow, kTask };

enum class Outcome {
  kAccept,  // `state` (the proposed one, possibly renamed) becomes current
  kReject,  // not allowed; `state` is the current state, or a substitute that becomes current
  kWait,    // try again after `wait_s` seconds
  kAbort,   // cannot proceed at all; the caller should stop orchestrating this run
};
std::string_view to_string(Outcome outcome) noexcept;

// The run's counters and times that the global transforms maintain.
struct RunCounters {
  int run_count = 0;
  std::optional<TimePoint> start_time;
  std::optional<TimePoint> end_time;
  double total_run_time_s = 0;
  std::optional<TimePoint> expected_start_time;
  std::optional<TimePoint> next_scheduled_start_time;
};

// A run record's counters (FlowRunRecord or TaskRunRecord; a task run has no
// next_scheduled_start_time), and back after a decision.
template <class Run>
RunCounters counters_of(const Run& run) {
  RunCounters c;
  c.run_count = run.run_count;
  c.start_time = run.start_time;
  c.end_time = run.end_time;
  c.total_run_time_s = run.total_run_time_s;
  c.expected_start_time = run.expected_start_time;
  if constexpr (requires { run.next_scheduled_start_time; })
    c.next_scheduled_start_time = run.next_scheduled_start_time;
  return c;
}

template <class Run>
void apply_counters(const RunCounters& c, Run& run) {
  run.run_count = c.run_count;
  run.start_time = c.start_time;
  run.end_time = c.end_time;
  run.total_run_time_s = c.total_run_time_s;
  run.expected_start_time = c.expected_start_time;
  if constexpr (requires { run.next_scheduled_start_time; })
    run.next_scheduled_start_time = c.next_scheduled_start_time;
}

struct Transition {
  RunKind kind = RunKind::kTask;
  // Nullopt for a run being created with its first state.
  std::optional<State> current;
  State proposed;
  RetryPolicy policy;
  RunCounters run;
  TimePoint now{};
  // A state found for proposed.cache_key (CacheRetrieval); the rule itself checks that it is
  // COMPLETED and unexpired at `now`. Leave empty to skip the cache (refresh_cache).
  std::optional<State> cached;
  // Skip the rules (tooling marking runs Crashed); the global transforms still apply.
  bool force = false;
  // Idempotent requests: a transition whose id equals the current state's transition id is a
  // duplicate and changes nothing (PreventDuplicateTransitions). Empty = not given.
  std::string transition_id;
  std::string current_transition_id;
  // BypassCancellingFlowRunsWithNoInfra: whether a process was started for the run.
  bool has_infrastructure = false;
  // Whether the flow run belongs to a deployment (a terminal run may only be re-scheduled then).
  bool has_deployment = false;
  // Uniform random numbers in [0, 1) for retry jitter; empty = a thread-local generator.
  std::function<double()> random;
};

struct Decision {
  Outcome outcome = Outcome::kAccept;
  // ACCEPT: the state to record. REJECT: the substituted state to record (write_state) or the
  // current state (nothing written). WAIT / ABORT: the current state (or the proposed one when
  // there is none), nothing written.
  State state;
  bool write_state = false;
  std::string rule;    // the rule that decided, e.g. "RetryFailedTasks"; empty = plain accept
  std::string reason;  // for people: why it was not a plain accept
  double wait_s = 0;   // for kWait
  RunCounters run;     // the run's counters after the transition
  // CacheInsertion: the recorded state is a COMPLETED state with a cache key; whoever stores it
  // must make it findable by that key.
  bool insert_cache = false;
};

// Applies the flow or task policy (by t.kind) and the global transforms.
Decision decide(const Transition& t);

// The task policy's common case, the plain Pending -> Running -> Completed of a run without a
// cache key, a scheduled time or a rerun: true when no task rule acts on `proposed` from
// `current` (nullptr: the run has no state yet) with the run at `run_count` and no transition id,
// so that decide() would accept it as proposed and change it only by the global transforms. The
// SDK then calls apply_global_transforms() alone (rules_test checks every row both ways).
bool is_plain_task_transition(const State* current, const State& proposed, int run_count) noexcept;

// The global transforms decide() applies to whatever state gets recorded (see above), for a run
// of `kind` whose current state is `current` (nullptr: none), with the clock reading `now`.
void apply_global_transforms(RunKind kind, const State* current, TimePoint now, State& state,
                             RunCounters& run);

// The delay before retry `attempt` (1 = first retry): delays[min(attempt-1, size-1)], 0 when the
// list is empty, scaled by a factor in [1-jitter, 1+jitter] drawn from `random01`.
double retry_delay_s(const RetryPolicy& policy, int attempt, double random01);

// Delays for exponential backoff as a list: factor * 2^k for k = 0..retries-1, e.g.
// exponential_backoff(10, 3) = {10, 20, 40}.
std::vector<double> exponential_backoff(double factor_s, int retries);

}  // namespace baton::orchestration
