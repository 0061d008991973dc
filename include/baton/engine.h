// The type-erased run engine under baton::task and baton::flow.
//
// Everything that makes a call a tracked run lives here once: states and their history, retries,
// timeouts, caching, result persistence, logging, hooks, the task runner. The engine never sees a
// C++ signature: it runs a TaskCall or a FlowCall, an object that can invoke the body and, only
// when the engine asks (caching, persistence, parameters), show its inputs and result as JSON.
// baton::task / baton::flow / Future<T> (task.h, flow.h, future.h) are thin typed layers on top;
// other front ends (a Python binding, plain commands) implement TaskCall / FlowCall themselves and
// share this engine unchanged.
//
// Thread-safety: run_task, submit_task and run_flow may be called from any thread. A
// TaskRunHandle may be waited on from any thread. Definitions are immutable once shared.
#pragma once

#include <chrono>
#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "baton/state.h"

namespace baton {

using Seconds = std::chrono::duration<double>;

// Thrown into a body by CancellationToken::throw_if_cancelled() once its run has timed out, and
// by a direct call / Future::result() of a task that ended TimedOut.
class TimeoutError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Thrown by throw_if_cancelled() once the run was cancelled. A flow whose body lets it escape ends
// Cancelled (and runs its on_cancellation hooks).
class CancelledError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Thrown by a direct call / Future::result() of a task that did not run because an upstream task
// it depends on (an argument future or a wait_for) did not complete.
class UpstreamFailedError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace detail {
struct CancelState;
}

// A cooperative cancellation token. Baton cannot stop C++ code safely from outside, so a run that
// times out (or is cancelled) only learns it by asking: long bodies should call
// baton::check_cancelled() (or token.throw_if_cancelled()) between steps. A task's token is also
// cancelled when its flow run's token is.
//
// Thread-safety: all methods are safe from any thread; copies share one state.
class CancellationToken {
 public:
  CancellationToken();  // a token that is never cancelled
  explicit CancellationToken(std::shared_ptr<detail::CancelState> state)
      : state_(std::move(state)) {}

  bool cancelled() const noexcept;
  // Throws TimeoutError (the run exceeded its timeout) or CancelledError once cancelled.
  void throw_if_cancelled() const;
  // Why it was cancelled, e.g. "task run 'fetch-0' exceeded its timeout of 2s"; empty if not.
  std::string reason() const;

  const std::shared_ptr<detail::CancelState>& state() const { return state_; }

 private:
  std::shared_ptr<detail::CancelState> state_;
};

// The token of the run executing on this thread (task first, then flow); a never-cancelled token
// when no run is.
CancellationToken cancellation_token();
// cancellation_token().throw_if_cancelled().
void check_cancelled();

// What a hook learns about the run it is called for.
struct RunInfo {
  std::string id;           // the task run or flow run id
  std::string name;         // the run's name, e.g. "extract_data-0" or "brave-otter"
  std::string definition;   // the task's or flow's name
  std::string flow_run_id;  // for a task run: its flow run (empty outside flows); for a flow run:
                            // its own id
  int run_count = 0;
  nlohmann::json parameters;  // flow runs: the parameters; task runs: null
};

// Called once a run reaches a final state; exceptions they throw are logged and ignored.
using StateHook = std::function<void(const RunInfo& run, const State& state)>;

// How long to wait before each retry. Converts from one duration (the same delay every time), a
// list (retry k waits delays[min(k, size-1)]), or a function of the number of retries returning
// the list (what exponential_backoff builds).
class RetryDelay {
 public:
  RetryDelay() = default;
  template <class Rep, class Period>
  RetryDelay(std::chrono::duration<Rep, Period> d)  // NOLINT: implicit by design
      : fixed_{std::chrono::duration_cast<Seconds>(d).count()} {}
  template <class Rep, class Period>
  RetryDelay(std::vector<std::chrono::duration<Rep, Period>> ds) {  // NOLINT
    for (auto d : ds) fixed_.push_back(std::chrono::duration_cast<Seconds>(d).count());
  }
  RetryDelay(std::function<std::vector<double>(int retries)> fn) : fn_(std::move(fn)) {}  // NOLINT

  // The delays, in seconds, for a task with `retries` retries.
  std::vector<double> delays_s(int retries) const { return fn_ ? fn_(retries) : fixed_; }

 private:
  std::vector<double> fixed_;
  std::function<std::vector<double>(int)> fn_;
};

// Prefect's exponential_backoff: retry k waits factor * 2^k (k = 0, 1, ...). Combine with
// retry_jitter to spread retries of many runs.
RetryDelay exponential_backoff(Seconds backoff_factor);

namespace engine {

// A task as the engine sees it: name and options, no C++ types. Build with baton::task().
struct TaskDefinition {
  std::string name;
  std::string version;  // part of the task's identity (task_key): change it to invalidate caches
  std::string description;
  std::vector<std::string> tags;
  std::vector<std::string>
      arg_names;  // names of the arguments in inputs and name templates ("0", "1", ... when empty)
  std::string task_run_name;  // template, e.g. "fetch-{url}"; default "<name>-<n>"
  int retries = 0;
  RetryDelay retry_delay;
  double retry_jitter_factor = 0;
  // Decides whether a failure may be retried; retries everything when empty.
  std::function<bool(std::exception_ptr)> retry_condition;
  std::optional<Seconds> timeout;
  bool cache = false;  // look up / store results by cache key
  // The cache key from the inputs (a JSON object by argument name); default: a hash of the task's
  // identity and its inputs.
  std::function<std::string(const nlohmann::json& inputs)> cache_key_fn;
  std::optional<Seconds> cache_expiration;
  bool refresh_cache = false;   // compute again and overwrite the cached value
  bool persist_result = false;  // write the result to the result store (implied by cache)
  bool log_prints = false;
  std::vector<StateHook> on_completion, on_failure;

  // name, or "name@version".
  std::string task_key() const { return version.empty() ? name : name + "@" + version; }
};

// One invocation of a task's body, with its arguments, type-erased.
class TaskCall {
 public:
  virtual ~TaskCall() = default;
  // Runs the body with the arguments and keeps the result. Throws what the body throws.
  virtual void run() = 0;
  // The arguments as a JSON object keyed by argument name (futures resolved). Only asked for when
  // caching or rendering a name template. Throws baton::Error(kInvalidArgument) when an argument
  // cannot be serialised.
  virtual nlohmann::json inputs() const = 0;
  // The result as JSON, for persistence; null for void. Throws baton::Error when not serialisable.
  virtual nlohmann::json result_json() const = 0;
  // Takes a cached result instead of running. Throws baton::Error when it does not convert.
  virtual void load_result(const nlohmann::json& value) = 0;
};

// Memory for the TaskCall of a submitted run, carved beside the runs' handles instead of taken
// from malloc (a map keeps all of them until its futures go); baton::task's calls use it through
// their operator new / delete. free_call_memory must get the size allocate_call_memory got.
void* allocate_call_memory(std::size_t size);
void free_call_memory(void* block, std::size_t size) noexcept;

// The shared state of one task run: what a Future holds.
class TaskRunHandle {
 public:
  virtual ~TaskRunHandle() = default;
  virtual const std::string& id() const = 0;
  virtual const std::string& name() const = 0;
  virtual bool done() const = 0;
  virtual void wait() const = 0;
  // False when `timeout` passed first.
  virtual bool wait_for(Seconds timeout) const = 0;
  // The current state (the final one once done()).
  virtual State state() const = 0;
  // The exception that ended the run (the body's, a TimeoutError, an UpstreamFailedError), or
  // null when it completed.
  virtual std::exception_ptr error() const = 0;
  // The call, which holds the result once done() and completed.
  virtual TaskCall& call() = 0;
};
using TaskRunPtr = std::shared_ptr<TaskRunHandle>;

// An upstream run this call depends on: `input` is the argument name, or "wait_for".
struct Dependency {
  std::string input;
  TaskRunPtr run;
};

// Runs the task now on this thread and returns when it is final. On failure, rethrows the final
// exception (after retries). The result stays in `call`.
void run_task(const std::shared_ptr<const TaskDefinition>& task, TaskCall& call,
              std::vector<Dependency> deps);
// Records the run Pending and queues it on the current flow run's task runner (a process-wide
// thread pool outside flows); it starts once every dependency is final. Never throws for failures
// of the run itself: they are in the handle.
TaskRunPtr submit_task(std::shared_ptr<const TaskDefinition> task, std::unique_ptr<TaskCall> call,
                       std::vector<Dependency> deps);

struct SubmitBatchState;

// Within its scope, the runs that submit_task on this thread could start at once are handed to
// the task runner in groups (of 1, 2, 4, ... up to 64 runs, and what is left when the scope ends)
// instead of one by one: a map() of many runs then wakes the runner's threads once per group
// rather than once per run, which costs a system call each. A run waits at most for the group it
// is in to fill, or until this thread waits on a future (which hands over everything collected
// first, so that waiting inside the scope cannot wait forever). Task::map opens one. Scopes nest
// (the innermost collects). Must be destroyed on the thread that created it.
class SubmitBatch {
 public:
  SubmitBatch();
  ~SubmitBatch();
  SubmitBatch(const SubmitBatch&) = delete;
  SubmitBatch& operator=(const SubmitBatch&) = delete;

 private:
  std::unique_ptr<SubmitBatchState> state_;
};

// A flow as the engine sees it. Build with baton::flow().
struct FlowDefinition {
  std::string name;
  std::string version;
  std::string description;
  std::vector<std::string> tags;
  std::string flow_run_name;  // template over the parameters, e.g. "etl-{source}"; default
                              // "adjective-animal"
  int retries = 0;
  Seconds retry_delay{0};
  std::optional<Seconds> timeout;
  int task_runner_threads = 0;  // 0: std::thread::hardware_concurrency()
  bool log_prints = false;
  bool persist_result = false;
  nlohmann::json parameter_schema = nlohmann::json::object();
  std::vector<StateHook> on_completion, on_failure, on_crashed, on_cancellation, on_running;
};

// One invocation of a flow's body with its parameters, type-erased.
class FlowCall {
 public:
  virtual ~FlowCall() = default;
  // The parameters as a JSON object (recorded with the run).
  virtual nlohmann::json parameters() const = 0;
  // Replaces the parameters with `params` (a run created elsewhere). Throws baton::Error
  // (kInvalidArgument) naming the field ("parameters.batch_size") and the expected type.
  virtual void set_parameters(const nlohmann::json& params) = 0;
  virtual void run() = 0;
  // The result as JSON; throws baton::Error when it cannot be serialised.
  virtual nlohmann::json result_json() const = 0;
};

// Runs a flow on this thread: a new run, or the existing run `flow_run_id` (whose stored
// parameters replace the call's). Inside another flow run it becomes a subflow, linked to a task
// run of the parent. Returns the final state; when `rethrow`, a failed run rethrows its exception
// instead.
State run_flow(const std::shared_ptr<const FlowDefinition>& flow, FlowCall& call,
               const std::string& flow_run_id = {}, bool rethrow = true);

// Flows register by name so that a program can be asked to run one (baton::main).
using FlowFactory = std::function<std::unique_ptr<FlowCall>()>;
void register_flow(std::shared_ptr<const FlowDefinition> flow, FlowFactory factory);
struct RegisteredFlow {
  std::shared_ptr<const FlowDefinition> definition;
  FlowFactory factory;
};
std::optional<RegisteredFlow> find_flow(const std::string& name);
std::vector<RegisteredFlow> registered_flows();

// Ends cache entries in the database runs are recorded to (embedded or BATON_API_URL's server):
// every entry of the task with `task_key` (TaskDefinition::task_key()), or the entry under one
// cache key. Calls from then on run their bodies and cache anew; runs and results stay. Returns
// how many cache keys ended.
int64_t clear_task_cache(const std::string& task_key);
int64_t clear_cache_key(const std::string& cache_key);

// The id of the flow run / task run executing on this thread; empty when none.
std::string current_flow_run_id();
std::string current_task_run_id();

}  // namespace engine
}  // namespace baton
