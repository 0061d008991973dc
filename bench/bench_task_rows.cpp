// The writer thread's half of W2, without threads: N task runs, each with its Pending, Running and
// Completed states coalesced into one row (storage::TaskRunRows, encoded before the clock starts),
// written with SqliteStorage::write_task_runs in batches of B rows, as the group-commit writer
// does. `late` percent of the runs are written twice, as the writer does with a run it held back
// once and still found unfinished: a Pending-only row in one batch, its Running and Completed
// states in the next.
// Baseline, same run: the same number of rows (one per task) written straight into SQLite.
//
//   bench_task_rows [batch=1000] [n=100000] [late=0]
//   TASK_ROWS n=100000 batch=1000 late=0 us_per_task=... baseline_us=... ratio=... cpu_us=...
//       sys_us=... text_bytes_per_row=... written_bytes_per_task=... faults_per_1000=...
// (text bytes: the row's text columns as bound; written: what the writes cost in WAL frames;
// faults: page faults per 1,000 tasks, memory touched for the first time).
//
// Deterministic apart from the clock: under `valgrind --tool=callgrind
// --toggle-collect='*write_task_runs*'` it counts the writer's instructions per task.
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "model/ids.h"
#include "sqlite_baseline.h"
#include "storage/sqlite/sqlite_storage.h"
#include "storage/task_run_rows.h"

namespace {
using namespace baton;
using Seconds = std::chrono::duration<double>;

// Page faults of this thread (memory it touched for the first time: the page cache growing).
long thread_faults() {
  rusage u{};
  getrusage(RUSAGE_THREAD, &u);
  return u.ru_minflt;
}

double thread_seconds(bool system_only) {
  rusage u{};
  getrusage(RUSAGE_THREAD, &u);
  auto s = [](timeval t) { return static_cast<double>(t.tv_sec) + t.tv_usec * 1e-6; };
  return system_only ? s(u.ru_stime) : s(u.ru_utime) + s(u.ru_stime);
}

// Bytes this thread has written (write calls: the WAL's frames), from /proc/thread-self/io.
double written_bytes() {
  std::FILE* f = std::fopen("/proc/thread-self/io", "r");
  if (!f) return 0;
  char line[128];
  long long wchar = 0;
  while (std::fgets(line, sizeof line, f))
    if (std::sscanf(line, "wchar: %lld", &wchar) == 1) break;
  std::fclose(f);
  return static_cast<double>(wchar);
}

// A W2 task run: a mapped noop task of flow run `flow_run_id`.
TaskRunRecord task_run(const std::string& flow_run_id, int i) {
  TaskRunRecord t;
  t.id = new_id();
  t.flow_run_id = flow_run_id;
  t.task_key = "noop";
  t.name = "noop-" + std::to_string(i);
  t.dynamic_key = std::to_string(i);
  t.state = State::pending();
  t.created = t.state.timestamp;
  t.updated = t.state.timestamp;
  t.expected_start_time = t.state.timestamp;
  return t;
}

void run_and_complete(TaskRunRecord& t, storage::TaskRunRows& rows, int i) {
  t.state = State::running();
  t.run_count = 1;
  t.start_time = t.state.timestamp;
  t.updated = t.state.timestamp;
  rows.add(t);
  t.state = State::completed(i);
  t.end_time = t.state.timestamp;
  t.updated = t.state.timestamp;
  t.total_run_time_s = 1e-6;
  rows.add(t);
}

}  // namespace

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  const int batch = argc > 1 ? std::stoi(argv[1]) : 1000;
  const int n = argc > 2 ? std::stoi(argv[2]) : 100000;
  const int late = argc > 3 ? std::stoi(argv[3]) : 0;
  fs::path dir = fs::path(storage::baton_home()) / ("bench-task-rows-" + new_id());
  fs::create_directories(dir);
  double seconds = 0, cpu = 0, sys = 0, bytes = 0, written = 0, faults = 0;
  {
    storage::SqliteStorage storage((dir / "task-rows.db").string());
    const std::string flow_run_id = new_id();  // task_run has no foreign key to flow_run
    // Every batch encoded before the clock starts: this measures the writer thread alone.
    std::vector<storage::TaskRunRows> batches;
    std::vector<TaskRunRecord> carried;  // late runs: Pending written, the rest in the next batch
    for (int i = 0; i < n;) {
      storage::TaskRunRows& rows = batches.emplace_back();
      for (auto& t : carried) run_and_complete(t, rows, i);
      carried.clear();
      for (int k = static_cast<int>(rows.size()); k < batch && i < n; ++k, ++i) {
        TaskRunRecord t = task_run(flow_run_id, i);
        rows.add(t);
        if (i % 100 < late)
          carried.push_back(std::move(t));
        else
          run_and_complete(t, rows, i);
      }
    }
    if (!carried.empty()) {
      storage::TaskRunRows& rows = batches.emplace_back();
      for (auto& t : carried) run_and_complete(t, rows, n);
    }
    for (const auto& rows : batches)
      for (size_t r = 0; r < rows.size(); ++r) {
        auto row = rows.row(r);
        bytes +=
            static_cast<double>(row.id.size() + row.flow_run_id.size() + row.task_key.size() +
                                row.name.size() + row.dynamic_key.size() + row.task_inputs.size() +
                                row.tags.size() + row.empirical_policy.size() +
                                row.state_id.size() + row.state_name.size() + row.history.size());
      }
    static const std::vector<LogRecord> kNoLogs;
    static const std::vector<storage::EventView> kNoEvents;
    double cpu0 = thread_seconds(false), sys0 = thread_seconds(true), written0 = written_bytes();
    long faults0 = thread_faults();
    auto start = std::chrono::steady_clock::now();
    for (const auto& rows : batches) storage.write_task_runs(rows, kNoLogs, kNoEvents);
    seconds = Seconds(std::chrono::steady_clock::now() - start).count();
    cpu = thread_seconds(false) - cpu0;
    sys = thread_seconds(true) - sys0;
    written = written_bytes() - written0;
    faults = static_cast<double>(thread_faults() - faults0);
    size_t row_count = 0;
    for (const auto& rows : batches) row_count += rows.size();
    bytes /= static_cast<double>(row_count);
  }
  double base = baton::bench::write_state_rows_directly((dir / "baseline.db").string(), n);
  double us = seconds * 1e6 / n, base_us = base * 1e6 / n;
  std::printf(
      "TASK_ROWS n=%d batch=%d late=%d us_per_task=%.2f baseline_us=%.2f ratio=%.2f cpu_us=%.2f "
      "sys_us=%.2f text_bytes_per_row=%.0f written_bytes_per_task=%.0f faults_per_1000=%.1f\n",
      n, batch, late, us, base_us, us / base_us, cpu * 1e6 / n, sys * 1e6 / n, bytes, written / n,
      faults * 1000 / n);
  fs::remove_all(dir);
  return 0;
}
