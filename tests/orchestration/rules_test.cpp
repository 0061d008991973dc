// The orchestration rules as a table: one row per case (run kind, current state, proposed state,
// context) -> (outcome, recorded state's type and name, deciding rule).
#include "orchestration/rules.h"

#include <gtest/gtest.h>

namespace baton::orchestration {
namespace {

using ST = StateType;
using namespace std::chrono_literals;

const TimePoint kNow = parse_time("2024-03-31T08:00:00Z");

State make_state(ST type, std::string name = {}) {
  State s;
  s.type = type;
  s.name = name.empty() ? std::string(default_name(type)) : std::move(name);
  s.timestamp = kNow - 10s;
  return s;
}

// Context tweaks a row can ask for.
struct Ctx {
  int retries = 0;
  int run_count = 0;
  bool retriable = true;
  bool with_result = false;       // current state carries a result
  bool scheduled_future = false;  // current state's scheduled_time is 30 s after now
  bool scheduled_past = false;    // current state's scheduled_time is 30 s before now
  bool cache_key = false;         // proposed state has a cache key
  int cached = 0;                 // 0 none, 1 valid COMPLETED, 2 expired, 3 FAILED, 4 other key
  bool force = false;
  bool duplicate = false;  // same transition id as current
  bool infra = false;
  bool deployment = false;
};

struct Row {
  const char* label;
  RunKind kind;
  std::optional<ST> from;
  const char* from_name;  // "" = default name
  ST to;
  const char* to_name;
  Ctx ctx;
  Outcome outcome;
  ST result_type;
  const char* result_name;
  const char* rule;  // "" = plain accept
};

void PrintTo(const Row& row, std::ostream* os) { *os << row.label; }

constexpr RunKind F = RunKind::kFlow;
constexpr RunKind T = RunKind::kTask;
constexpr Outcome A = Outcome::kAccept;
constexpr Outcome R = Outcome::kReject;
constexpr Outcome W = Outcome::kWait;
constexpr Outcome X = Outcome::kAbort;

// One case per line reads as a table.
// clang-format off
const Row kRows[] = {
    // Plain lifecycle.
    {"new flow run pending", F, std::nullopt, "", ST::kPending, "", {}, A, ST::kPending, "Pending", ""},
    {"new task run pending", T, std::nullopt, "", ST::kPending, "", {}, A, ST::kPending, "Pending", ""},
    {"flow pending to running", F, ST::kPending, "", ST::kRunning, "", {}, A, ST::kRunning, "Running", ""},
    {"task pending to running", T, ST::kPending, "", ST::kRunning, "", {}, A, ST::kRunning, "Running", ""},
    {"flow running to completed", F, ST::kRunning, "", ST::kCompleted, "", {.run_count = 1}, A, ST::kCompleted, "Completed", ""},
    {"task running to completed", T, ST::kRunning, "", ST::kCompleted, "", {.run_count = 1}, A, ST::kCompleted, "Completed", ""},
    {"flow running to cancelling", F, ST::kRunning, "", ST::kCancelling, "", {.infra = true}, A, ST::kCancelling, "Cancelling", ""},
    {"flow running to paused", F, ST::kRunning, "", ST::kPaused, "", {}, A, ST::kPaused, "Paused", ""},
    {"task running to crashed", T, ST::kRunning, "", ST::kCrashed, "", {.run_count = 1}, A, ST::kCrashed, "Crashed", ""},
    {"flow scheduled to pending", F, ST::kScheduled, "", ST::kPending, "", {}, A, ST::kPending, "Pending", ""},

    // PreventDuplicateTransitions.
    {"flow duplicate transition id", F, ST::kRunning, "", ST::kCompleted, "", {.duplicate = true}, R, ST::kRunning, "Running", "PreventDuplicateTransitions"},
    {"task duplicate transition id", T, ST::kPending, "", ST::kRunning, "", {.duplicate = true}, R, ST::kPending, "Pending", "PreventDuplicateTransitions"},

    // Handle{Flow,Task}TerminalStateTransitions.
    {"flow completed with result to running", F, ST::kCompleted, "", ST::kRunning, "", {.run_count = 1, .with_result = true}, R, ST::kCompleted, "Completed", "HandleFlowTerminalStateTransitions"},
    {"task completed with result to running", T, ST::kCompleted, "", ST::kRunning, "", {.run_count = 1, .with_result = true}, R, ST::kCompleted, "Completed", "HandleTaskTerminalStateTransitions"},
    {"task completed with result to failed", T, ST::kCompleted, "", ST::kFailed, "", {.run_count = 1, .with_result = true}, R, ST::kCompleted, "Completed", "HandleTaskTerminalStateTransitions"},
    {"task cached with result to pending", T, ST::kCompleted, "Cached", ST::kPending, "", {.with_result = true}, R, ST::kCompleted, "Cached", "HandleTaskTerminalStateTransitions"},
    {"flow completed without result reruns", F, ST::kCompleted, "", ST::kRunning, "", {.run_count = 1}, A, ST::kRunning, "Running", ""},
    {"flow failed reruns with count reset", F, ST::kFailed, "", ST::kRunning, "", {.run_count = 3}, A, ST::kRunning, "Running", ""},
    {"task failed reruns with count reset", T, ST::kFailed, "", ST::kRunning, "", {.run_count = 2}, A, ST::kRunning, "Running", ""},
    {"flow crashed to pending allowed", F, ST::kCrashed, "", ST::kPending, "", {.run_count = 1}, A, ST::kPending, "Pending", ""},
    {"flow failed to crashed aborts", F, ST::kFailed, "", ST::kCrashed, "", {}, X, ST::kFailed, "Failed", "HandleFlowTerminalStateTransitions"},
    {"flow completed to cancelling aborts", F, ST::kCompleted, "", ST::kCancelling, "", {}, X, ST::kCompleted, "Completed", "HandleFlowTerminalStateTransitions"},
    {"flow cancelled to paused aborts", F, ST::kCancelled, "", ST::kPaused, "", {}, X, ST::kCancelled, "Cancelled", "HandleFlowTerminalStateTransitions"},
    {"task completed to crashed aborts", T, ST::kCompleted, "", ST::kCrashed, "", {}, X, ST::kCompleted, "Completed", "HandleTaskTerminalStateTransitions"},
    {"task failed to paused aborts", T, ST::kFailed, "", ST::kPaused, "", {}, X, ST::kFailed, "Failed", "HandleTaskTerminalStateTransitions"},
    {"flow failed to scheduled without deployment aborts", F, ST::kFailed, "", ST::kScheduled, "", {}, X, ST::kFailed, "Failed", "HandleFlowTerminalStateTransitions"},
    {"flow failed to scheduled with deployment", F, ST::kFailed, "", ST::kScheduled, "", {.deployment = true}, A, ST::kScheduled, "Scheduled", ""},
    {"task failed to scheduled allowed", T, ST::kFailed, "", ST::kScheduled, "", {}, A, ST::kScheduled, "Scheduled", ""},

    // EnforceCancellingToCancelledTransition.
    {"cancelling to running rejected", F, ST::kCancelling, "", ST::kRunning, "", {.infra = true}, R, ST::kCancelling, "Cancelling", "EnforceCancellingToCancelledTransition"},
    {"cancelling to completed rejected", F, ST::kCancelling, "", ST::kCompleted, "", {}, R, ST::kCancelling, "Cancelling", "EnforceCancellingToCancelledTransition"},
    {"cancelling to failed rejected", F, ST::kCancelling, "", ST::kFailed, "", {}, R, ST::kCancelling, "Cancelling", "EnforceCancellingToCancelledTransition"},
    {"cancelling to cancelled accepted", F, ST::kCancelling, "", ST::kCancelled, "", {}, A, ST::kCancelled, "Cancelled", ""},
    {"cancelling to crashed forced", F, ST::kCancelling, "", ST::kCrashed, "", {.force = true}, A, ST::kCrashed, "Crashed", ""},

    // BypassCancellingFlowRunsWithNoInfra.
    {"scheduled without infra cancels at once", F, ST::kScheduled, "", ST::kCancelling, "", {}, R, ST::kCancelled, "Cancelled", "BypassCancellingFlowRunsWithNoInfra"},
    {"scheduled with infra goes cancelling", F, ST::kScheduled, "", ST::kCancelling, "", {.infra = true}, A, ST::kCancelling, "Cancelling", ""},
    {"suspended cancels at once", F, ST::kPaused, "Suspended", ST::kCancelling, "", {.infra = true}, R, ST::kCancelled, "Cancelled", "BypassCancellingFlowRunsWithNoInfra"},
    {"paused with process goes cancelling", F, ST::kPaused, "", ST::kCancelling, "", {.infra = true}, A, ST::kCancelling, "Cancelling", ""},
    {"bypass applies under force", F, ST::kScheduled, "", ST::kCancelling, "", {.force = true}, R, ST::kCancelled, "Cancelled", "BypassCancellingFlowRunsWithNoInfra"},

    // PreventPendingTransitions (flows only).
    {"flow pending to pending aborts", F, ST::kPending, "", ST::kPending, "", {}, X, ST::kPending, "Pending", "PreventPendingTransitions"},
    {"flow running to pending aborts", F, ST::kRunning, "", ST::kPending, "", {}, X, ST::kRunning, "Running", "PreventPendingTransitions"},
    {"flow cancelling to pending aborts", F, ST::kCancelling, "", ST::kPending, "", {}, R, ST::kCancelling, "Cancelling", "EnforceCancellingToCancelledTransition"},
    {"flow cancelled to pending aborts", F, ST::kCancelled, "", ST::kPending, "", {}, X, ST::kCancelled, "Cancelled", "PreventPendingTransitions"},
    {"task pending to pending allowed", T, ST::kPending, "", ST::kPending, "", {}, A, ST::kPending, "Pending", ""},

    // Around the plain task path (is_plain_task_transition): rows on both sides of each condition.
    {"new task run running", T, std::nullopt, "", ST::kRunning, "", {}, A, ST::kRunning, "Running", ""},
    {"new task run completed", T, std::nullopt, "", ST::kCompleted, "", {}, A, ST::kCompleted, "Completed", ""},
    {"task pending to completed", T, ST::kPending, "", ST::kCompleted, "", {}, A, ST::kCompleted, "Completed", ""},
    {"task running to running reruns", T, ST::kRunning, "", ST::kRunning, "", {.run_count = 1}, A, ST::kRunning, "Rerunning", "RenameReruns"},
    {"task running to pending allowed", T, ST::kRunning, "", ST::kPending, "", {.run_count = 1}, A, ST::kPending, "Pending", ""},
    {"task pending with past scheduled time runs", T, ST::kPending, "", ST::kRunning, "", {.scheduled_past = true}, A, ST::kRunning, "Running", ""},
    {"task pending with future scheduled time waits", T, ST::kPending, "", ST::kRunning, "", {.scheduled_future = true}, W, ST::kPending, "Pending", "WaitForScheduledTime"},
    {"task running with scheduled time completes", T, ST::kRunning, "", ST::kCompleted, "", {.run_count = 1, .scheduled_past = true}, A, ST::kCompleted, "Completed", ""},
    {"task scheduled to pending", T, ST::kScheduled, "", ST::kPending, "", {.scheduled_past = true}, A, ST::kPending, "Pending", "CopyScheduledTime"},
    {"task completed without result reruns", T, ST::kCompleted, "", ST::kRunning, "", {.run_count = 1}, A, ST::kRunning, "Running", ""},
    {"task running to failed without retries", T, ST::kRunning, "", ST::kFailed, "", {.run_count = 1}, A, ST::kFailed, "Failed", ""},
    {"task running to cancelled", T, ST::kRunning, "", ST::kCancelled, "", {.run_count = 1}, A, ST::kCancelled, "Cancelled", ""},

    // EnsureOnlyScheduledFlowsMarkedLate.
    {"scheduled marked late", F, ST::kScheduled, "", ST::kScheduled, "Late", {}, A, ST::kScheduled, "Late", ""},
    {"pending cannot be marked late", F, ST::kPending, "", ST::kScheduled, "Late", {}, R, ST::kPending, "Pending", "EnsureOnlyScheduledFlowsMarkedLate"},
    {"running cannot be marked late", F, ST::kRunning, "", ST::kScheduled, "Late", {}, R, ST::kRunning, "Running", "EnsureOnlyScheduledFlowsMarkedLate"},

    // WaitForScheduledTime.
    {"flow scheduled in future waits", F, ST::kScheduled, "", ST::kRunning, "", {.scheduled_future = true}, W, ST::kScheduled, "Scheduled", "WaitForScheduledTime"},
    {"task awaiting retry in future waits", T, ST::kScheduled, "AwaitingRetry", ST::kRunning, "", {.run_count = 1, .scheduled_future = true}, W, ST::kScheduled, "AwaitingRetry", "WaitForScheduledTime"},
    {"flow scheduled in past runs", F, ST::kScheduled, "", ST::kRunning, "", {.scheduled_past = true}, A, ST::kRunning, "Running", ""},
    {"pending with future scheduled time waits", F, ST::kPending, "", ST::kRunning, "", {.scheduled_future = true}, W, ST::kPending, "Pending", "WaitForScheduledTime"},

    // RetryFailed{Flows,Tasks}.
    {"task fails with retries left", T, ST::kRunning, "", ST::kFailed, "", {.retries = 2, .run_count = 1}, R, ST::kScheduled, "AwaitingRetry", "RetryFailedTasks"},
    {"task fails on last retry", T, ST::kRunning, "", ST::kFailed, "", {.retries = 2, .run_count = 2}, R, ST::kScheduled, "AwaitingRetry", "RetryFailedTasks"},
    {"task fails with retries exhausted", T, ST::kRunning, "", ST::kFailed, "", {.retries = 2, .run_count = 3}, A, ST::kFailed, "Failed", ""},
    {"task fails with no retries", T, ST::kRunning, "", ST::kFailed, "", {.run_count = 1}, A, ST::kFailed, "Failed", ""},
    {"task not retriable", T, ST::kRunning, "", ST::kFailed, "", {.retries = 5, .run_count = 1, .retriable = false}, A, ST::kFailed, "Failed", ""},
    {"task timed out retries", T, ST::kRunning, "", ST::kFailed, "TimedOut", {.retries = 1, .run_count = 1}, R, ST::kScheduled, "AwaitingRetry", "RetryFailedTasks"},
    {"flow fails with retries left", F, ST::kRunning, "", ST::kFailed, "", {.retries = 1, .run_count = 1}, R, ST::kScheduled, "AwaitingRetry", "RetryFailedFlows"},
    {"flow fails with retries exhausted", F, ST::kRunning, "", ST::kFailed, "", {.retries = 1, .run_count = 2}, A, ST::kFailed, "Failed", ""},
    {"flow not retriable", F, ST::kRunning, "", ST::kFailed, "", {.retries = 3, .run_count = 1, .retriable = false}, A, ST::kFailed, "Failed", ""},
    {"pending to failed is not retried", T, ST::kPending, "", ST::kFailed, "", {.retries = 3, .run_count = 0}, A, ST::kFailed, "Failed", ""},
    {"forced failure is not retried", F, ST::kRunning, "", ST::kFailed, "", {.retries = 3, .run_count = 1, .force = true}, A, ST::kFailed, "Failed", ""},

    // RenameReruns.
    {"task rerun after awaiting retry", T, ST::kScheduled, "AwaitingRetry", ST::kRunning, "", {.run_count = 1, .scheduled_past = true}, A, ST::kRunning, "Retrying", "RenameReruns"},
    {"flow rerun after awaiting retry", F, ST::kScheduled, "AwaitingRetry", ST::kRunning, "", {.run_count = 1, .scheduled_past = true}, A, ST::kRunning, "Retrying", "RenameReruns"},
    {"task rerun from pending", T, ST::kPending, "", ST::kRunning, "", {.run_count = 1}, A, ST::kRunning, "Rerunning", "RenameReruns"},
    {"task rerun after terminal is a fresh run", T, ST::kFailed, "", ST::kRunning, "", {.run_count = 4}, A, ST::kRunning, "Running", ""},

    // CacheRetrieval / CacheInsertion (tasks).
    {"cache hit turns running into cached", T, ST::kPending, "", ST::kRunning, "", {.cache_key = true, .cached = 1}, R, ST::kCompleted, "Cached", "CacheRetrieval"},
    {"expired cache entry is ignored", T, ST::kPending, "", ST::kRunning, "", {.cache_key = true, .cached = 2}, A, ST::kRunning, "Running", ""},
    {"failed cache entry is ignored", T, ST::kPending, "", ST::kRunning, "", {.cache_key = true, .cached = 3}, A, ST::kRunning, "Running", ""},
    {"cache entry for another key is ignored", T, ST::kPending, "", ST::kRunning, "", {.cache_key = true, .cached = 4}, A, ST::kRunning, "Running", ""},
    {"no cache key no lookup", T, ST::kPending, "", ST::kRunning, "", {.cached = 1}, A, ST::kRunning, "Running", ""},
    {"cache hit on a new run", T, std::nullopt, "", ST::kRunning, "", {.cache_key = true, .cached = 1}, R, ST::kCompleted, "Cached", "CacheRetrieval"},
    {"flows do not use the task cache", F, ST::kPending, "", ST::kRunning, "", {.cache_key = true, .cached = 1}, A, ST::kRunning, "Running", ""},
    {"completed with key is inserted", T, ST::kRunning, "", ST::kCompleted, "", {.run_count = 1, .cache_key = true}, A, ST::kCompleted, "Completed", "CacheInsertion"},

    // Forced transitions skip the rules.
    {"forced crash of completed run", F, ST::kCompleted, "", ST::kCrashed, "", {.with_result = true, .force = true}, A, ST::kCrashed, "Crashed", ""},
    {"forced pending to pending", F, ST::kPending, "", ST::kPending, "", {.force = true}, A, ST::kPending, "Pending", ""},
};
// clang-format on

class RulesTable : public ::testing::TestWithParam<Row> {};

TEST_P(RulesTable, Decides) {
  const Row& row = GetParam();
  Transition t;
  t.kind = row.kind;
  t.now = kNow;
  t.run.run_count = row.ctx.run_count;
  t.policy.retries = row.ctx.retries;
  t.policy.retry_delays_s = {10};
  t.force = row.ctx.force;
  t.has_infrastructure = row.ctx.infra;
  t.has_deployment = row.ctx.deployment;
  t.random = [] { return 0.5; };
  if (row.from) {
    State cur = make_state(*row.from, row.from_name);
    if (row.ctx.with_result) cur.result = nlohmann::json{{"storage_key", "abc"}};
    if (row.ctx.scheduled_future) cur.scheduled_time = kNow + 30s;
    if (row.ctx.scheduled_past) cur.scheduled_time = kNow - 30s;
    t.current = cur;
    if (*row.from == ST::kRunning) t.run.start_time = cur.timestamp;
  }
  t.proposed = make_state(row.to, row.to_name);
  t.proposed.timestamp = kNow;
  t.proposed.retriable = row.ctx.retriable;
  if (row.ctx.cache_key) t.proposed.cache_key = "key-1";
  if (row.ctx.cached) {
    State c = make_state(row.ctx.cached == 3 ? ST::kFailed : ST::kCompleted);
    c.result = 42;
    c.cache_key = row.ctx.cached == 4 ? "key-2" : "key-1";
    c.cache_expiration = row.ctx.cached == 2 ? kNow - 1s : kNow + 1h;
    t.cached = c;
  }
  if (row.ctx.duplicate) {
    t.transition_id = "t-1";
    t.current_transition_id = "t-1";
  }

  Decision d = decide(t);
  EXPECT_EQ(to_string(d.outcome), to_string(row.outcome)) << d.reason;
  EXPECT_EQ(to_string(d.state.type), to_string(row.result_type));
  EXPECT_EQ(d.state.name, row.result_name);
  EXPECT_EQ(d.rule, row.rule) << d.reason;
  // A rejection records a state only when it substitutes one (AwaitingRetry, Cancelled, Cached).
  std::string rule = row.rule;
  bool substitutes = rule == "RetryFailedTasks" || rule == "RetryFailedFlows" ||
                     rule == "CacheRetrieval" || rule == "BypassCancellingFlowRunsWithNoInfra";
  EXPECT_EQ(d.write_state, row.outcome == Outcome::kAccept || substitutes);
  if (row.outcome == Outcome::kWait) {
    EXPECT_NEAR(d.wait_s, 30.0, 1e-6);
  }
  if (std::string(row.result_name) == "AwaitingRetry" && row.outcome == Outcome::kReject) {
    ASSERT_TRUE(d.state.scheduled_time.has_value());
    EXPECT_EQ(*d.state.scheduled_time, kNow + 10s);
  }
  if (rule == "CacheRetrieval") {
    EXPECT_EQ(d.state.result, 42);
  }
  EXPECT_EQ(d.insert_cache, std::string(row.rule) == "CacheInsertion");

  // The plain task path (what the SDK takes for Pending -> Running -> Completed) must decide what
  // the rules decide: when it claims a row, the row is a plain accept and the global transforms
  // alone give the same state and counters.
  if (row.kind == RunKind::kTask && !row.ctx.force && !row.ctx.duplicate &&
      is_plain_task_transition(t.current ? &*t.current : nullptr, t.proposed, t.run.run_count)) {
    EXPECT_EQ(to_string(d.outcome), to_string(Outcome::kAccept));
    EXPECT_EQ(d.rule, "") << "a rule acted on a transition the plain path claims";
    State plain = t.proposed;
    RunCounters run = t.run;
    apply_global_transforms(RunKind::kTask, t.current ? &*t.current : nullptr, t.now, plain, run);
    EXPECT_EQ(plain.type, d.state.type);
    EXPECT_EQ(plain.name, d.state.name);
    EXPECT_EQ(plain.timestamp, d.state.timestamp);
    EXPECT_EQ(plain.scheduled_time, d.state.scheduled_time);
    EXPECT_EQ(run.run_count, d.run.run_count);
    EXPECT_EQ(run.start_time, d.run.start_time);
    EXPECT_EQ(run.end_time, d.run.end_time);
    EXPECT_EQ(run.total_run_time_s, d.run.total_run_time_s);
    EXPECT_EQ(run.expected_start_time, d.run.expected_start_time);
  }
}

// Which task transitions the plain path claims: the SDK's common sequence, and nothing a rule
// could act on.
struct PlainRow {
  const char* label;
  std::optional<ST> from;
  ST to;
  int run_count;
  bool scheduled;  // the current state has a scheduled time
  bool cache_key;  // the proposal has a cache key
  bool plain;
};

// clang-format off
const PlainRow kPlainRows[] = {
    {"new run pending", std::nullopt, ST::kPending, 0, false, false, true},
    {"pending to running", ST::kPending, ST::kRunning, 0, false, false, true},
    {"running to completed", ST::kRunning, ST::kCompleted, 1, false, false, true},
    {"new run running", std::nullopt, ST::kRunning, 0, false, false, true},
    {"rerun is renamed", ST::kPending, ST::kRunning, 1, false, false, false},
    {"running with cache key looks up the cache", ST::kPending, ST::kRunning, 0, false, true, false},
    {"completed with cache key is inserted", ST::kRunning, ST::kCompleted, 1, false, true, false},
    {"scheduled time may make it wait", ST::kPending, ST::kRunning, 0, true, false, false},
    {"from scheduled", ST::kScheduled, ST::kPending, 0, false, false, false},
    {"from terminal", ST::kCompleted, ST::kRunning, 0, false, false, false},
    {"failed may be retried", ST::kRunning, ST::kFailed, 1, false, false, false},
    {"cancelled", ST::kRunning, ST::kCancelled, 1, false, false, false},
};
// clang-format on

void PrintTo(const PlainRow& row, std::ostream* os) { *os << row.label; }

class PlainTaskPath : public ::testing::TestWithParam<PlainRow> {};

TEST_P(PlainTaskPath, ClaimsOnlyTransitionsNoRuleActsOn) {
  const auto& row = GetParam();
  std::optional<State> current;
  if (row.from) {
    current = make_state(*row.from);
    if (row.scheduled) current->scheduled_time = kNow + 30s;
  }
  State proposed = make_state(row.to);
  if (row.cache_key) proposed.cache_key = "key-1";
  EXPECT_EQ(is_plain_task_transition(current ? &*current : nullptr, proposed, row.run_count),
            row.plain);
}

std::string plain_row_name(const ::testing::TestParamInfo<PlainRow>& info) {
  std::string out;
  for (const char* p = info.param.label; *p; ++p)
    out += std::isalnum(static_cast<unsigned char>(*p)) ? *p : '_';
  return out;
}

INSTANTIATE_TEST_SUITE_P(Rows, PlainTaskPath, ::testing::ValuesIn(kPlainRows), plain_row_name);

std::string row_name(const ::testing::TestParamInfo<Row>& info) {
  std::string out;
  for (const char* p = info.param.label; *p; ++p)
    out += std::isalnum(static_cast<unsigned char>(*p)) ? *p : '_';
  return out;
}

INSTANTIATE_TEST_SUITE_P(CorePolicies, RulesTable, ::testing::ValuesIn(kRows), row_name);

// --- global transforms
// ----------------------------------------------------------------------------

struct CounterRow {
  const char* label;
  std::optional<ST> from;
  ST to;
  int run_count_before;
  int run_count_after;
  bool start_set;     // start_time present after
  bool end_set;       // end_time present after
  double run_time_s;  // total_run_time after (from 0, current 10 s old)
};

// clang-format off
const CounterRow kCounterRows[] = {
    {"first running counts and starts", ST::kPending, ST::kRunning, 0, 1, true, false, 0},
    {"running to completed ends and adds time", ST::kRunning, ST::kCompleted, 1, 1, true, true, 10},
    {"running to failed adds time", ST::kRunning, ST::kFailed, 1, 1, true, true, 10},
    {"running to running does not count", ST::kRunning, ST::kRunning, 1, 1, true, false, 10},
    {"pending to completed ends without time", ST::kPending, ST::kCompleted, 0, 0, false, true, 0},
    {"failed to running resets the count", ST::kFailed, ST::kRunning, 3, 1, true, false, 0},
    {"paused to running resumes without counting", ST::kPaused, ST::kRunning, 1, 1, true, false, 0},
    {"new run in running counts", std::nullopt, ST::kRunning, 0, 1, true, false, 0},
};
// clang-format on

void PrintTo(const CounterRow& row, std::ostream* os) { *os << row.label; }

class GlobalTransforms : public ::testing::TestWithParam<CounterRow> {};

TEST_P(GlobalTransforms, MaintainCounters) {
  const auto& row = GetParam();
  Transition t;
  t.kind = RunKind::kFlow;
  t.now = kNow;
  t.run.run_count = row.run_count_before;
  if (row.from) {
    t.current = make_state(*row.from);
    if (*row.from == ST::kRunning || *row.from == ST::kPaused) t.run.start_time = kNow - 10s;
    if (is_terminal(*row.from)) t.run.end_time = kNow - 10s;
  }
  t.proposed = make_state(row.to);
  t.proposed.timestamp = kNow;
  Decision d = decide(t);
  ASSERT_EQ(d.outcome, Outcome::kAccept) << d.reason;
  EXPECT_EQ(d.run.run_count, row.run_count_after);
  EXPECT_EQ(d.run.start_time.has_value(), row.start_set);
  EXPECT_EQ(d.run.end_time.has_value(), row.end_set);
  if (row.end_set) {
    EXPECT_EQ(*d.run.end_time, kNow);
  }
  EXPECT_NEAR(d.run.total_run_time_s, row.run_time_s, 1e-6);
  EXPECT_TRUE(d.run.expected_start_time.has_value());
}

std::string counter_row_name(const ::testing::TestParamInfo<CounterRow>& info) {
  std::string out;
  for (const char* p = info.param.label; *p; ++p)
    out += std::isalnum(static_cast<unsigned char>(*p)) ? *p : '_';
  return out;
}

INSTANTIATE_TEST_SUITE_P(Counters, GlobalTransforms, ::testing::ValuesIn(kCounterRows),
                         counter_row_name);

TEST(GlobalTransforms, UnsetTimestampBecomesNowAndScheduledSetsNextStart) {
  Transition t;
  t.kind = RunKind::kFlow;
  t.now = kNow;
  t.proposed.type = ST::kScheduled;
  t.proposed.scheduled_time = kNow + 1h;
  Decision d = decide(t);
  EXPECT_EQ(d.state.timestamp, kNow);
  EXPECT_EQ(d.state.name, "Scheduled");
  EXPECT_EQ(d.run.next_scheduled_start_time, kNow + 1h);
  EXPECT_EQ(d.run.expected_start_time, kNow + 1h);
}

// --- retry delays -------------------------------------------------------------------------------

struct DelayRow {
  std::vector<double> delays;
  double jitter;
  int attempt;
  double random01;
  double expected;
};

class RetryDelays : public ::testing::TestWithParam<DelayRow> {};

TEST_P(RetryDelays, IndexByAttemptLastRepeatsJitterScales) {
  const auto& row = GetParam();
  RetryPolicy p;
  p.retry_delays_s = row.delays;
  p.retry_jitter_factor = row.jitter;
  EXPECT_NEAR(retry_delay_s(p, row.attempt, row.random01), row.expected, 1e-9);
}

INSTANTIATE_TEST_SUITE_P(
    Table, RetryDelays,
    ::testing::Values(DelayRow{{}, 0, 1, 0.5, 0}, DelayRow{{5}, 0, 1, 0.5, 5},
                      DelayRow{{5}, 0, 7, 0.5, 5}, DelayRow{{1, 2, 4}, 0, 1, 0.5, 1},
                      DelayRow{{1, 2, 4}, 0, 2, 0.5, 2}, DelayRow{{1, 2, 4}, 0, 3, 0.5, 4},
                      DelayRow{{1, 2, 4}, 0, 9, 0.5, 4}, DelayRow{{10}, 0.2, 1, 0.0, 8},
                      DelayRow{{10}, 0.2, 1, 1.0, 12}, DelayRow{{10}, 0.2, 1, 0.5, 10},
                      DelayRow{{10}, 2.0, 1, 0.0, 0}));

TEST(RetryDelays, ExponentialBackoffIsAList) {
  EXPECT_EQ(exponential_backoff(10, 3), (std::vector<double>{10, 20, 40}));
  EXPECT_TRUE(exponential_backoff(1, 0).empty());
}

TEST(RetryFailedTasks, JitterComesFromTheInjectedRandomSource) {
  Transition t;
  t.kind = RunKind::kTask;
  t.now = kNow;
  t.current = make_state(ST::kRunning);
  t.proposed = make_state(ST::kFailed);
  t.run.run_count = 2;
  t.policy.retries = 3;
  t.policy.retry_delays_s = exponential_backoff(10, 3);
  t.policy.retry_jitter_factor = 0.5;
  t.random = [] { return 1.0; };  // the top of the jitter range: 20 s * 1.5
  Decision d = decide(t);
  ASSERT_EQ(d.state.name, "AwaitingRetry");
  EXPECT_EQ(*d.state.scheduled_time, kNow + 30s);
  EXPECT_NE(d.reason.find("attempt 2 of 4"), std::string::npos) << d.reason;
}

TEST(RetryFailedTasks, AwaitingRetryKeepsTheFailureMessage) {
  Transition t;
  t.kind = RunKind::kTask;
  t.now = kNow;
  t.current = make_state(ST::kRunning);
  t.proposed = State::failed("boom");
  t.run.run_count = 1;
  t.policy.retries = 1;
  Decision d = decide(t);
  EXPECT_EQ(d.state.message, "boom");
  EXPECT_EQ(d.state.scheduled_time, kNow);  // no delays configured: retry at once
  EXPECT_EQ(d.run.run_count, 1);
}

}  // namespace
}  // namespace baton::orchestration
