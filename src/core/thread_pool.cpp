#include "core/thread_pool.h"

#include <pthread.h>

namespace baton::core {

ThreadPool::ThreadPool(int threads) {
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  threads_.reserve(static_cast<std::size_t>(threads));
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { work(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  ready_.notify_all();
  for (auto& t : threads_) t.join();
}

void ThreadPool::post(std::shared_ptr<Runnable> job) {
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(std::move(job));
  }
  ready_.notify_one();
}

void ThreadPool::post(std::vector<std::shared_ptr<Runnable>>& jobs) {
  if (jobs.empty()) return;
  const std::size_t count = jobs.size();
  {
    std::lock_guard lock(mutex_);
    for (auto& job : jobs) queue_.push_back(std::move(job));
  }
  jobs.clear();
  if (count >= threads_.size()) {
    ready_.notify_all();
  } else {
    for (std::size_t i = 0; i < count; ++i) ready_.notify_one();
  }
}

bool ThreadPool::wait_while_backlogged(std::size_t high, std::size_t low,
                                       std::chrono::milliseconds max_wait) {
  std::unique_lock lock(mutex_);
  if (queue_.size() <= high) return true;
  ++drain_waiters_;
  drain_mark_ = low;
  bool drained = true;
  while (queue_.size() > low) {
    std::size_t before = queue_.size();
    if (!drained_.wait_for(lock, max_wait, [&] { return queue_.size() <= low; }) &&
        queue_.size() >= before) {
      drained = false;  // nothing was taken for max_wait
      break;
    }
  }
  --drain_waiters_;
  return drained;
}

void ThreadPool::work() {
  pthread_setname_np(pthread_self(), "baton-task");  // shows in top, perf and gdb
  for (;;) {
    std::shared_ptr<Runnable> job;
    {
      std::unique_lock lock(mutex_);
      ready_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and everything queued is done
      job = std::move(queue_.front());
      queue_.pop_front();
      if (drain_waiters_ > 0 && queue_.size() <= drain_mark_) drained_.notify_all();
    }
    job->execute();
  }
}

}  // namespace baton::core
