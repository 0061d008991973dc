// The storage half of W1: N task runs, each recorded three times (Pending, Running, Completed)
// through the embedded client's group-commit writer, then flushed (every state durable).
// Baseline, same run: the same number of state rows written straight into SQLite (WAL,
// synchronous=NORMAL) with prepared statements in batched transactions of 10,000 rows.
//
//   STORAGE n=100000 us_per_task=... baseline_us=... ratio=... batches=...

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>

#include "client/embedded_client.h"
#include "model/ids.h"
#include "sqlite_baseline.h"
#include "storage/storage.h"

namespace {
using namespace baton;
using Seconds = std::chrono::duration<double>;

double bench_client(const std::string& path, int n, storage::BatchWriter::Stats& stats,
                    double& produced_s) {
  auto client = EmbeddedClient::open(path);
  FlowRunRecord run;
  run.flow_name = "bench";
  run = client->create_flow_run(run);
  client->set_flow_run_state(run.id, State::running());
  auto start = std::chrono::steady_clock::now();
  TaskRunRecord t;
  t.flow_run_id = run.id;
  t.task_key = "noop-5f3a9c1b";
  for (int i = 0; i < n; ++i) {
    t.id = new_id();
    t.name = "noop-" + std::to_string(i);
    t.run_count = 0;
    t.state = State::pending();
    t.created = t.state.timestamp;
    t.expected_start_time = t.state.timestamp;
    client->record_task_run(t);
    t.state = State::running();
    t.run_count = 1;
    t.start_time = t.state.timestamp;
    client->record_task_run(t);
    t.state = State::completed(i);
    t.end_time = t.state.timestamp;
    client->record_task_run(t);
  }
  produced_s = Seconds(std::chrono::steady_clock::now() - start).count();
  client->flush();
  double s = Seconds(std::chrono::steady_clock::now() - start).count();
  stats = client->writer_stats();
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  fs::path dir = fs::path(storage::baton_home()) / ("bench-storage-" + new_id());
  fs::create_directories(dir);
  for (int n : {1000, 30000, 100000}) {
    if (argc > 1 && std::stoi(argv[1]) != n) continue;
    storage::BatchWriter::Stats stats;
    double produced = 0;
    double ours =
        bench_client((dir / ("client-" + std::to_string(n) + ".db")).string(), n, stats, produced);
    double base = baton::bench::write_state_rows_directly(
        (dir / ("baseline-" + std::to_string(n) + ".db")).string(), 3 * n);
    double us = ours * 1e6 / n, base_us = base * 1e6 / n;
    std::printf(
        "STORAGE n=%d us_per_task=%.2f baseline_us=%.2f ratio=%.2f enqueue_us=%.2f batches=%llu "
        "largest=%llu\n",
        n, us, base_us, us / base_us, produced * 1e6 / n,
        static_cast<unsigned long long>(stats.batches),
        static_cast<unsigned long long>(stats.largest_batch));
  }
  fs::remove_all(dir);
  return 0;
}
