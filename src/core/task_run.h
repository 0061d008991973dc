// The engine's side of one task run: its record, its transitions under the task policy, and the
// shared state a Future waits on.
//
// Transitions are decided in-process by the orchestration rules (orchestration::decide with the
// task policy: CacheRetrieval, terminal-state handling, WaitForScheduledTime, RetryFailedTasks,
// RenameReruns, CacheInsertion, and the global transforms for run counts and times) and each
// accepted state is recorded through OrchestrationClient::record_task_run, which batches.
//
// Thread-safety: the handle methods (wait, state, ...) are safe from any thread; the run itself
// is driven by one thread at a time (the caller's for a direct call, a pool thread otherwise).
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "baton/engine.h"
#include "core/run_context.h"
#include "core/thread_pool.h"
#include "model/records.h"
#include "orchestration/rules.h"

namespace baton::core {

// What propose_task_state decided. The state current afterwards is record.state: the recorded
// one, a substitute (AwaitingRetry, Cached), or the unchanged current state.
struct Proposal {
  orchestration::Outcome outcome = orchestration::Outcome::kAccept;
  double wait_s = 0;   // kWait: try again after this many seconds
  std::string reason;  // why it was not a plain accept; empty for one
};

// Proposes `proposed` for the task run `record` (whose current state is record.state when
// `has_state`), records the decided state and updates the run's counters. `state_mutex`, when
// given, guards the write of record.state against concurrent readers. The plain Pending ->
// Running -> Completed sequence takes orchestration::is_plain_task_transition's short way, which
// decides what the full task policy decides.
Proposal propose_task_state(TaskRunRecord& record, bool& has_state, State&& proposed,
                            std::optional<State> cached = std::nullopt,
                            std::mutex* state_mutex = nullptr);

// What a run needs only until it is final: its record (every state is recorded from it), and its
// tag-slot lease. Taken from a recycling pool when the run is prepared and given back when it is
// final, so that the record's strings keep their capacity from run to run and a handle that
// outlives its run (a map's futures) holds only what its Future asks for.
struct LiveTaskRun {
  TaskRunRecord record;
  bool has_state = false;
  std::string tag_lease;  // the lease on this run's tag limits while an attempt runs
};

class TaskRunImpl final : public engine::TaskRunHandle,
                          public Runnable,
                          public std::enable_shared_from_this<TaskRunImpl> {
 public:
  TaskRunImpl(std::shared_ptr<const engine::TaskDefinition> def, engine::TaskCall* call,
              std::unique_ptr<engine::TaskCall> owned_call, FlowRunContext* flow,
              std::vector<engine::Dependency> deps);
  ~TaskRunImpl() override;

  const std::string& id() const override { return id_; }
  const std::string& name() const override { return name_; }
  bool done() const override;
  void wait() const override;
  bool wait_for(Seconds timeout) const override;
  State state() const override;
  std::exception_ptr error() const override;
  engine::TaskCall& call() override { return *call_; }

  // Fills in the record and records it Pending.
  void prepare();
  // Waits for the dependencies (direct calls), then runs to a final state on this thread.
  void run_here();
  // Queues the run on `runner` once every dependency is final.
  void schedule(ThreadPool& runner);
  void execute() override;

 private:
  void run_to_completion();
  bool add_dependent(const std::shared_ptr<TaskRunImpl>& dependent);
  void dependency_done();
  void finish(std::exception_ptr error);
  bool sleep_until(TimePoint at);
  // propose_task_state for this run's record, under its lock.
  Proposal propose(State&& state, std::optional<State> cached = std::nullopt);
  // Gives back the tag concurrency slots this run holds, if any (see core/tag_slots.h).
  void release_tag_slots();
  // The lock and condition variable of this run: one of a fixed set shared by all runs (a run
  // waits rarely and briefly), which keeps them out of every handle.
  std::mutex& mutex() const;
  std::condition_variable& done_cv() const;

  std::shared_ptr<const engine::TaskDefinition> def_;
  engine::TaskCall* call_;
  std::unique_ptr<engine::TaskCall> owned_call_;
  FlowRunContext* flow_;
  std::vector<engine::Dependency> deps_;
  std::string id_;
  std::string name_;
  std::unique_ptr<LiveTaskRun> live_;  // from prepare() until the run is final
  ThreadPool* runner_ = nullptr;
  std::atomic<int> waiting_for_{0};
  std::atomic<bool> done_{false};
  // The final state, once done_. A plain one (its type's default name and its time, nothing else:
  // nearly every Completed run's) is kept as its type and time, any other whole on the heap: a
  // map keeps every handle until its futures go, and a handle 150 bytes smaller is memory the
  // kernel need not fault in (docs/sdk.md).
  StateType final_type_ = StateType::kPending;
  TimePoint final_time_{};
  std::unique_ptr<State> final_full_;
  State final_state() const;
  std::exception_ptr error_;
  std::vector<std::shared_ptr<TaskRunImpl>> dependents_;
};

}  // namespace baton::core
