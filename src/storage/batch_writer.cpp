#include "storage/batch_writer.h"

#include <pthread.h>

#include <algorithm>
#include <ctime>

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
  if (!runs_.contains(run.id)) wait_for_space(lock);
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
  ++flushers_;  // the writer holds nothing back while someone waits
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
  uint64_t previous_target = 0;
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
    // Nobody is waiting for these to be durable: unfinished runs may wait for one batch.
    bool may_hold = !stop_ && flushers_ == 0;
    lock.unlock();
    space_cv_.notify_all();
    uint64_t count = runs.snapshots() + logs.size();
    if (may_hold) runs.hold_back_unfinished(held);
    uint64_t rows = runs.size();
    if (rows || !logs.empty()) write(runs, logs);
    runs.clear();
    logs.clear();
    lock.lock();
    // Runs held back go first in the next batch, with whatever states they have gained since.
    bool held_any = !held.empty();
    if (held_any) runs_.merge_earlier(held);
    held.clear();
    // Everything up to `target` is durable but what was held back, which was enqueued after the
    // previous batch's target (and the rows that batch held back are written now).
    committed_ = held_any ? previous_target : target;
    previous_target = target;
    if (rows || count) ++stats_.batches;
    stats_.records += count;
    stats_.rows += rows;
    timespec cpu{};
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu) == 0)
      stats_.cpu_s = static_cast<double>(cpu.tv_sec) + static_cast<double>(cpu.tv_nsec) * 1e-9;
    stats_.largest_batch = std::max<uint64_t>(stats_.largest_batch, count);
    done_cv_.notify_all();
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
