// What the current thread is running: the flow run (and task run) that tasks submitted, loggers
// and cancellation checks on this thread belong to.
//
// A FlowRunContext lives for the whole flow run on the stack of the thread running the flow; task
// runs submitted from it hold a raw pointer, which is safe because the flow run drains its
// outstanding task runs before the context goes away. A RunContext is set per thread with
// ScopedContext, restored on scope exit (nesting: a subflow, a task called from a task).
//
// Thread-safety: FlowRunContext's methods are safe from any thread; RunContext is thread-local.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "core/cancellation.h"
#include "core/thread_pool.h"

namespace baton::core {

class FlowRunContext {
 public:
  FlowRunContext(std::string id, std::string name, std::string flow_name, int pool_threads,
                 bool log_prints, std::shared_ptr<detail::CancelState> cancel)
      : id_(std::move(id)),
        name_(std::move(name)),
        flow_name_(std::move(flow_name)),
        pool_threads_(pool_threads),
        log_prints_(log_prints),
        cancel_(std::move(cancel)) {}
  ~FlowRunContext() { drain(); }

  const std::string& id() const { return id_; }
  const std::string& name() const { return name_; }
  const std::string& flow_name() const { return flow_name_; }
  bool log_prints() const { return log_prints_; }
  const std::shared_ptr<detail::CancelState>& cancel() const { return cancel_; }

  // The flow run's thread pool, started on first use.
  ThreadPool& runner() {
    std::call_once(pool_once_, [this] { pool_ = std::make_unique<ThreadPool>(pool_threads_); });
    return *pool_;
  }
  // 0, 1, 2, ... per task name: the run's dynamic key and default name suffix.
  int next_task_index(const std::string& task_name) {
    std::lock_guard lock(counts_mutex_);
    return counts_[task_name]++;
  }
  void add_outstanding() { outstanding_.fetch_add(1, std::memory_order_relaxed); }
  void remove_outstanding() {
    // Above one, a lock-free decrement; the last one is taken under the mutex, so that drain()
    // (which checks under it) cannot return, and the context go away, before this call is done.
    int n = outstanding_.load(std::memory_order_relaxed);
    while (n > 1)
      if (outstanding_.compare_exchange_weak(n, n - 1, std::memory_order_acq_rel)) return;
    std::lock_guard lock(outstanding_mutex_);
    if (outstanding_.fetch_sub(1, std::memory_order_acq_rel) == 1) idle_.notify_all();
  }
  // Blocks until every task run submitted in this flow run is final.
  void drain() {
    std::unique_lock lock(outstanding_mutex_);
    idle_.wait(lock, [this] { return outstanding_.load(std::memory_order_acquire) == 0; });
  }

 private:
  std::string id_, name_, flow_name_;
  int pool_threads_;
  bool log_prints_;
  std::shared_ptr<detail::CancelState> cancel_;
  std::once_flag pool_once_;
  std::unique_ptr<ThreadPool> pool_;
  std::mutex counts_mutex_;
  std::unordered_map<std::string, int> counts_;
  std::mutex outstanding_mutex_;
  std::condition_variable idle_;
  std::atomic<int> outstanding_{0};  // submitted task runs not final yet
};

struct RunContext {
  FlowRunContext* flow = nullptr;            // null for tasks called outside flows
  const std::string* task_run_id = nullptr;  // set while a task body runs
  const std::string* task_run_name = nullptr;
  // The cancellation state of what runs: the flow run's, or a task attempt's with a timeout. A
  // pointer to the owner's shared_ptr, which outlives the context, so that setting up a context
  // per task run touches no reference count the pool's threads share.
  const std::shared_ptr<detail::CancelState>* cancel = nullptr;
  bool log_prints = false;
};

RunContext* current_context();

class ScopedContext {
 public:
  explicit ScopedContext(RunContext* ctx);
  ~ScopedContext();
  ScopedContext(const ScopedContext&) = delete;
  ScopedContext& operator=(const ScopedContext&) = delete;

 private:
  RunContext* previous_;
};

}  // namespace baton::core
