#include "storage/batch_writer.h"

#include <pthread.h>

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
  std::unique_lock lock(mutex_);
  wait_for_space(lock);
  bool was_empty = runs_.empty() && logs_.empty();
  // Copied straight into the queue: a copy made before the lock and moved in costs a move and a
  // destruction of a large record on top (a third of this call), more than the short wait it saves.
  runs_.push_back(run);
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
  done_cv_.wait(lock, [&] { return committed_ >= target; });
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
  std::vector<TaskRunRecord> runs;
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
    lock.unlock();
    space_cv_.notify_all();
    write(runs, logs);
    size_t count = runs.size() + logs.size();
    runs.clear();
    logs.clear();
    lock.lock();
    committed_ = target;
    ++stats_.batches;
    stats_.records += count;
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

void BatchWriter::write(std::vector<TaskRunRecord>& runs, std::vector<LogRecord>& logs) {
  try {
    storage_.write_batch(runs, logs);
    return;
  } catch (...) {
    // Fall through: isolate the record(s) at fault.
  }
  static const std::vector<TaskRunRecord> kNoRuns;
  static const std::vector<LogRecord> kNoLogs;
  auto record_failure = [&] {
    std::lock_guard lock(mutex_);
    ++stats_.dropped;
    if (!error_) error_ = std::current_exception();
  };
  for (const auto& r : runs) {
    try {
      storage_.write_batch({r}, kNoLogs);
    } catch (...) {
      record_failure();
    }
  }
  for (const auto& l : logs) {
    try {
      storage_.write_batch(kNoRuns, {l});
    } catch (...) {
      record_failure();
    }
  }
}

}  // namespace baton::storage
