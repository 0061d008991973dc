#include "storage/batch_writer.h"

#include <pthread.h>
#include <sys/resource.h>

#include <algorithm>

namespace baton::storage {

BatchWriter::BatchWriter(Storage& storage, Options options)
    : storage_(storage), options_(options), thread_([this] { run(); }) {}

BatchWriter::~BatchWriter() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  work_cv_.notify_one();
  thread_.join();  // the writer drains the queue before it stops
}

void BatchWriter::wait_for_space(std::unique_lock<std::mutex>& lock) {
  if (runs_.size() + logs_.size() < options_.max_pending) return;
  space_cv_.wait(lock, [&] { return runs_.size() + logs_.size() < options_.max_pending; });
}

uint64_t BatchWriter::enqueue(const TaskRunRecord& run) {
  // The text work (state id, history line, JSON columns) is done before taking the lock the
  // writer and the other producers need, into this thread's buffer.
  thread_local TaskRunRows::Snapshot snapshot;
  try {
    TaskRunRows::encode(run, snapshot);
  } catch (...) {
    std::lock_guard lock(mutex_);
    ++stats_.dropped;
    if (!error_) error_ = std::current_exception();
    return enqueued_;
  }
  std::unique_lock lock(mutex_);
  // A snapshot that joins its run's queued row takes no room (looked up only when full).
  if (runs_.size() + logs_.size() >= options_.max_pending && !runs_.contains(snapshot))
    wait_for_space(lock);
  bool was_empty = runs_.empty() && logs_.empty();
  runs_.add(snapshot);
  uint64_t sequence = ++enqueued_;
  lock.unlock();
  if (was_empty) work_cv_.notify_one();
  return sequence;
}

uint64_t BatchWriter::enqueue(std::vector<LogRecord> logs) {
  std::unique_lock lock(mutex_);
  if (logs.empty()) return enqueued_;
  wait_for_space(lock);
  bool was_empty = runs_.empty() && logs_.empty();
  enqueued_ += logs.size();
  uint64_t sequence = enqueued_;
  if (logs_.empty())
    logs_ = std::move(logs);
  else
    std::move(logs.begin(), logs.end(), std::back_inserter(logs_));
  lock.unlock();
  if (was_empty) work_cv_.notify_one();
  return sequence;
}

uint64_t BatchWriter::committed_sequence() {
  std::lock_guard lock(mutex_);
  return committed_;
}

void BatchWriter::flush() {
  std::unique_lock lock(mutex_);
  uint64_t target = enqueued_;
  ++flushers_;            // the writer holds nothing back while someone waits
  work_cv_.notify_one();  // it may be pausing over rows it held back
  done_cv_.wait(lock, [&] { return committed_ >= target; });
  --flushers_;
  if (error_) {
    auto error = std::exchange(error_, nullptr);
    std::rethrow_exception(error);
  }
}

bool BatchWriter::idle() {
  std::lock_guard lock(mutex_);
  return committed_ == enqueued_;
}

BatchWriter::Stats BatchWriter::stats() {
  std::lock_guard lock(mutex_);
  return stats_;
}

void BatchWriter::run() {
  pthread_setname_np(pthread_self(), "baton-writer");  // shows in top, perf and gdb
  TaskRunRows runs, held;
  std::vector<LogRecord> logs;
  std::unique_lock lock(mutex_);
  for (;;) {
    work_cv_.wait(lock, [&] { return stop_ || !runs_.empty() || !logs_.empty(); });
    if (runs_.empty() && logs_.empty()) {
      if (stop_) return;
      continue;
    }
    runs.swap(runs_);
    logs.swap(logs_);
    uint64_t target = enqueued_;
    // Nobody is waiting for these to be durable: unfinished runs may wait for a few batches.
    bool may_hold = !stop_ && flushers_ == 0;
    lock.unlock();
    space_cv_.notify_all();
    uint64_t count = runs.snapshots() + logs.size();
    int holds = may_hold ? runs.hold_back_unfinished(held, options_.max_holds) : 0;
    uint64_t rows = runs.size();
    bool wrote = rows || !logs.empty();
    if (wrote) write(runs, logs);
    runs.clear();
    logs.clear();
    lock.lock();
    // Runs held back go first in the next batch, with whatever states they have gained since.
    if (holds) runs_.merge_earlier(held);
    held.clear();
    // Everything up to `target` is durable but what is held back. A run held back for the h-th
    // time holds nothing enqueued before the target of h batches ago (it would have been written
    // or held then too), so that target is durable.
    recent_targets_.push_front(target);
    if (recent_targets_.size() > static_cast<size_t>(options_.max_holds) + 1)
      recent_targets_.pop_back();
    uint64_t durable = holds == 0 ? target
                       : static_cast<size_t>(holds) < recent_targets_.size()
                           ? recent_targets_[static_cast<size_t>(holds)]
                           : 0;
    committed_ = std::max(committed_, durable);
    if (rows || count) ++stats_.batches;
    stats_.records += count;
    stats_.rows += rows;
    rusage usage{};
    if (getrusage(RUSAGE_THREAD, &usage) == 0) {
      auto seconds = [](timeval t) { return static_cast<double>(t.tv_sec) + t.tv_usec * 1e-6; };
      stats_.sys_s = seconds(usage.ru_stime);
      stats_.cpu_s = seconds(usage.ru_utime) + stats_.sys_s;
    }
    stats_.largest_batch = std::max<uint64_t>(stats_.largest_batch, count);
    done_cv_.notify_all();
    // A batch that was all held back: let the next states arrive rather than go round at once
    // (a run is held back max_holds times at most, so this delays nothing by more than that
    // many pauses; a flush or the destructor ends the pause).
    if (!wrote && holds)
      work_cv_.wait_for(lock, options_.hold_pause, [&] { return stop_ || flushers_ > 0; });
    bool quiet = runs_.empty() && logs_.empty() &&
                 !work_cv_.wait_for(lock, options_.idle_delay,
                                    [&] { return stop_ || !runs_.empty() || !logs_.empty(); });
    if (quiet) {
      lock.unlock();
      storage_.on_writer_idle();
      lock.lock();
    }
  }
}

void BatchWriter::write(const TaskRunRows& runs, const std::vector<LogRecord>& logs) {
  static const std::vector<LogRecord> kNoLogs;
  static const std::vector<EventView> kNoEvents;
  try {
    storage_.write_task_runs(runs, logs, kNoEvents);
    return;
  } catch (...) {
    // Fall through: isolate the row(s) at fault.
  }
  static const TaskRunRows kNoRuns;
  auto record_failure = [&] {
    std::lock_guard lock(mutex_);
    ++stats_.dropped;
    if (!error_) error_ = std::current_exception();
  };
  for (size_t i = 0; i < runs.size(); ++i) {
    try {
      TaskRunRows one;
      one.add_row(runs, i);
      storage_.write_task_runs(one, kNoLogs, kNoEvents);
    } catch (...) {
      record_failure();
    }
  }
  for (const auto& l : logs) {
    try {
      storage_.write_task_runs(kNoRuns, {l}, kNoEvents);
    } catch (...) {
      record_failure();
    }
  }
}

}  // namespace baton::storage
