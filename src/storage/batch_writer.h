// Group commit for task-run snapshots and log lines.
//
// enqueue() returns at once; one writer thread takes everything queued so far and writes it with
// Storage::write_task_runs (one transaction per batch, so one fsync-equivalent per batch, never one
// per state). While a batch commits, the next one accumulates, so batches grow with the load.
//
// A snapshot is encoded as it is enqueued, on the caller's thread (TaskRunRows: its state id,
// history line and JSON columns), into the queue's own buffers: no allocation per snapshot, and
// the writer thread only binds and steps. A snapshot of a run that is still queued coalesces into
// that run's row (its state appended to the row's history lines, and current), so a quick task's
// Pending, Running and Completed states usually cost one row write.
//
// Holding back: when nobody waits in flush() and the writer is not stopping, a batch's runs
// whose current state is not terminal (Pending, Running, ...) are not written with it but go to
// the front of the next batch, where their next states usually join them, up to
// Options::max_holds batches in a row. A map that queues thousands of Pending states before its
// tasks run would otherwise write many runs twice, and the second write (an update that grows a
// row in a full page) costs two to three times the first. A batch that is all held back pauses
// the writer for Options::hold_pause (or until a flush), so holding is bounded in time too.
// committed_sequence() stays below what is held back; flush() and the destructor hold nothing
// back.
// flush() waits until everything enqueued before the call is committed. The destructor flushes
// and joins the thread: nothing accepted is lost on a normal exit.
//
// Back-pressure: when `max_pending` rows and log lines are queued, enqueue() of a new row blocks
// until the writer catches up, which bounds memory (a snapshot that coalesces never blocks; rows
// held back return to the queue on top of the bound, so it holds at most twice as many).
//
// Errors: a batch that fails (after the storage's own busy retries) is retried row by row so that
// one bad row cannot take its neighbours down; rows that still fail are dropped and the first
// error is reported by the next flush() as baton::Error (kUnavailable or the original kind). A
// snapshot that cannot be encoded (no id; a result that is not valid UTF-8) is dropped and
// reported the same way.
//
// Thread-safety: enqueue and flush may be called from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "storage/storage.h"
#include "storage/task_run_rows.h"

namespace baton::storage {

class BatchWriter {
 public:
  struct Options {
    // Rows (one per run, however many of its states coalesced) and log lines. A row with its
    // history lines takes about a kilobyte of queue, so the bound is about 10 MB per buffer.
    size_t max_pending = 8'192;
    // How long the queue must stay empty before Storage::on_writer_idle() runs (maintenance
    // such as WAL checkpoints), so that a momentary gap inside a burst does not trigger it.
    std::chrono::milliseconds idle_delay{100};
    // Batches an unfinished run may be held back for in a row (see the header), at most 255.
    // One let a tenth of W2's runs be written twice.
    int max_holds = 4;
    // The writer's pause after a batch that held back every row it had.
    std::chrono::milliseconds hold_pause{1};
  };
  struct Stats {
    uint64_t batches = 0;        // transactions committed
    uint64_t records = 0;        // task-run snapshots and log lines committed
    uint64_t rows = 0;           // task-run rows written (snapshots of one run in a batch: one row)
    uint64_t dropped = 0;        // snapshots or rows and log lines that could not be written
    uint64_t largest_batch = 0;  // records
    double cpu_s = 0;            // CPU time of the writer thread so far (benchmarks)
    double sys_s = 0;            // the part of cpu_s spent in the kernel (writes, page faults)
  };

  // `storage` must outlive the writer.
  explicit BatchWriter(Storage& storage) : BatchWriter(storage, Options{}) {}
  BatchWriter(Storage& storage, Options options);
  ~BatchWriter();
  BatchWriter(const BatchWriter&) = delete;
  BatchWriter& operator=(const BatchWriter&) = delete;

  // Each returns the sequence number of the (last) record enqueued: it is durable once
  // committed_sequence() has reached it.
  uint64_t enqueue(const TaskRunRecord& run);
  uint64_t enqueue(std::vector<LogRecord> logs);
  uint64_t committed_sequence();
  // Waits until everything enqueued before the call is committed; throws the first write error
  // since the previous flush.
  void flush();
  // True when nothing is queued or being written.
  bool idle();
  Stats stats();

 private:
  void run();
  void write(const TaskRunRows& runs, const std::vector<LogRecord>& logs);
  void wait_for_space(std::unique_lock<std::mutex>& lock);

  Storage& storage_;
  Options options_;
  std::mutex mutex_;
  std::condition_variable work_cv_;   // writer waits for records
  std::condition_variable done_cv_;   // flushers wait for commits
  std::condition_variable space_cv_;  // producers wait for room
  TaskRunRows runs_;
  std::vector<LogRecord> logs_;
  uint64_t enqueued_ = 0;                // sequence number of the last record enqueued
  uint64_t committed_ = 0;               // sequence number of the last record written (or dropped)
  std::deque<uint64_t> recent_targets_;  // the last batches' targets, newest first (writer)
  int flushers_ = 0;                     // threads waiting in flush()
  bool stop_ = false;
  std::exception_ptr error_;
  Stats stats_;
  std::thread thread_;
};

}  // namespace baton::storage
