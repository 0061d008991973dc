// A fixed-size thread pool: the default task runner of a flow run.
//
// Jobs are Runnable objects held by shared_ptr (a task run is one, so posting allocates nothing
// more). The pool starts its threads in the constructor and, in the destructor, finishes the jobs
// already queued and joins them.
//
// Thread-safety: post() may be called from any thread, including from a job.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace baton::core {

class Runnable {
 public:
  virtual ~Runnable() = default;
  virtual void execute() = 0;
};

class ThreadPool {
 public:
  // threads <= 0: one per hardware thread.
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  void post(std::shared_ptr<Runnable> job);
  // Queues every job of `jobs` under one lock (leaving it empty) and wakes as many threads as
  // there are jobs: a map hands over its runs in groups this way, so that the threads are woken
  // once per group rather than once per run.
  void post(std::vector<std::shared_ptr<Runnable>>& jobs);
  // While more than `high` jobs are queued, blocks until at most `low` are or `max_wait` passed
  // with none taken; false then (the threads are stuck, e.g. every job waits for this caller).
  // A submitter that outruns the threads waits here instead of piling up runs, each of which holds
  // memory until it runs.
  bool wait_while_backlogged(std::size_t high, std::size_t low, std::chrono::milliseconds max_wait);
  int size() const { return static_cast<int>(threads_.size()); }

 private:
  void work();

  std::mutex mutex_;
  std::condition_variable ready_;
  std::condition_variable drained_;  // a backlogged submitter waits for the queue to shrink
  std::size_t drain_mark_ = 0;
  int drain_waiters_ = 0;
  std::deque<std::shared_ptr<Runnable>> queue_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace baton::core
