// The SDK workloads, each with its baseline measured in the same run:
//
//   W1: one flow calling N trivial tasks in a loop (direct calls), every state (Pending, Running,
//       Completed per task) durable in SQLite when the flow ends. Baseline: the same number of
//       state rows (3N) written straight into SQLite (WAL, synchronous=NORMAL) with prepared
//       statements in batched transactions.
//   W2: one flow mapping a trivial task over N inputs on its thread pool, every state durable.
//       Baseline: N no-op jobs submitted to a plain thread pool of the same size, with futures.
//       Three alternating rounds of each; the medians are printed, with the range. Each round
//       also times W1's baseline for N rows (row_us): what recording one row per task costs in
//       SQLite alone, which bounds W2 from below however little the rest costs (row_ratio).
//
// Prints one line per workload and the peak resident memory of the process:
//   W1 n=100000 us_per_task=... baseline_us=... ratio=...
//
// W2 also prints a line per round, with the CPU time of the flow's own thread (it submits every
// run). BENCH_W2_PROFILE=1 skips W2's baselines, so that a profiler sees Baton's work alone.
//
// Usage: bench_sdk [W1|W2] [page size of the new database files, 0 = Baton's] [W2's n]
#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <functional>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "baton/baton.h"
#include "client/embedded_client.h"
#include "core/runtime.h"
#include "model/ids.h"
#include "sqlite_baseline.h"
#include "storage/storage.h"

namespace {
using Seconds = std::chrono::duration<double>;
using Clock = std::chrono::steady_clock;

// The obvious alternative to a task runner: a fixed pool of threads, a queue, std::future.
class PlainPool {
 public:
  explicit PlainPool(unsigned n) {
    for (unsigned i = 0; i < n; ++i)
      threads_.emplace_back([this] {
        for (;;) {
          std::function<void()> job;
          {
            std::unique_lock lock(mutex_);
            ready_.wait(lock, [this] { return stop_ || !jobs_.empty(); });
            if (jobs_.empty()) return;
            job = std::move(jobs_.front());
            jobs_.pop_front();
          }
          job();
        }
      });
  }
  ~PlainPool() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    ready_.notify_all();
    for (auto& t : threads_) t.join();
  }
  std::future<int> submit(int x) {
    auto task = std::make_shared<std::packaged_task<int()>>([x] { return x; });
    auto f = task->get_future();
    {
      std::lock_guard lock(mutex_);
      jobs_.emplace_back([task] { (*task)(); });
    }
    ready_.notify_one();
    return f;
  }

 private:
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> jobs_;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

double baseline_pool(int n) {
  auto start = Clock::now();
  {
    PlainPool pool(std::max(1u, std::thread::hardware_concurrency()));
    std::vector<std::future<int>> fs;
    fs.reserve(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) fs.push_back(pool.submit(i));
    long long sum = 0;
    for (auto& f : fs) sum += f.get();
    if (sum < 0) std::puts("");
  }
  return Seconds(Clock::now() - start).count();
}

// A fresh database for each workload, opened (and migrated) before the clock starts, as the
// baseline's table is created before its clock starts.
void use_database(const std::filesystem::path& path, int page_size) {
  baton::bench::create_with_page_size(path.string(), page_size);
  baton::core::Runtime::get().set_client_factory([path] {
    return std::unique_ptr<baton::OrchestrationClient>(baton::EmbeddedClient::open(path.string()));
  });
  baton::core::Runtime::get().client();
}

// CPU time the group-commit writer thread has spent so far, per task of a workload of n.
double writer_cpu_us(int n) {
  auto* client = dynamic_cast<baton::EmbeddedClient*>(&baton::core::Runtime::get().client());
  return client ? client->writer_stats().cpu_s * 1e6 / n : 0;
}

// The kernel's part of writer_cpu_us (WAL writes, page faults).
double writer_sys_us(int n) {
  auto* client = dynamic_cast<baton::EmbeddedClient*>(&baton::core::Runtime::get().client());
  return client ? client->writer_stats().sys_s * 1e6 / n : 0;
}

// Transactions the writer has committed so far.
double writer_batches() {
  auto* client = dynamic_cast<baton::EmbeddedClient*>(&baton::core::Runtime::get().client());
  return client ? static_cast<double>(client->writer_stats().batches) : 0;
}

// Task-run rows the writer has written so far per task (1: every run written once).
double writer_rows_per_task(int n) {
  auto* client = dynamic_cast<baton::EmbeddedClient*>(&baton::core::Runtime::get().client());
  return client ? static_cast<double>(client->writer_stats().rows) / n : 0;
}

// CPU time of the calling thread so far.
double thread_cpu_us() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) * 1e6 + static_cast<double>(t.tv_nsec) / 1e3;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double peak_rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;
}

}  // namespace

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  setenv("BATON_LOGGING_QUIET", "1", 1);
  fs::path dir = fs::path(baton::storage::baton_home()) / ("bench-sdk-" + baton::new_id());
  fs::create_directories(dir);
  const std::string only = argc > 1 ? argv[1] : "";
  const int page_size = argc > 2 ? std::stoi(argv[2]) : 0;
  const int w2_n = argc > 3 ? std::stoi(argv[3]) : 100000;  // smaller under callgrind

  auto noop = baton::task("noop", [](int x) { return x; });
  auto w1 = baton::flow("bench_w1", [&](int n) {
    long long sum = 0;
    for (int i = 0; i < n; ++i) sum += noop(i);
    return sum;
  });
  auto w2 = baton::flow("bench_w2", [&](int n) {
    std::vector<int> inputs(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) inputs[static_cast<std::size_t>(i)] = i;
    auto futures = noop.map(inputs);
    long long sum = 0;
    for (int v : futures.results()) sum += v;
    return sum;
  });

  for (int n : {1000, 100000}) {
    if (!only.empty() && only != "W1") break;
    // The baseline runs first: after ours, our client's checkpointer may still be copying the
    // WAL into the database on a thread of its own, and the baseline would share the cores with it.
    use_database(dir / ("w1-" + std::to_string(n) + ".db"), page_size);
    double base = baton::bench::write_state_rows_directly(
        (dir / ("w1-baseline-" + std::to_string(n) + ".db")).string(), 3 * n);
    auto start = Clock::now();
    w1(n);
    double ours = Seconds(Clock::now() - start).count();
    double us = ours * 1e6 / n, base_us = base * 1e6 / n;
    std::printf("W1 n=%d us_per_task=%.2f baseline_us=%.2f ratio=%.2f\n", n, us, base_us,
                us / base_us);
    std::fflush(stdout);
  }
  if (only.empty() || only == "W2") {
    // Three alternating rounds of ours and the baseline, each of ours on a fresh database; every
    // figure printed is the median of its three. The plain pool's time swings up to 2-3x from run
    // to run on this shared machine (how its sleeping threads happen to be woken), so one round
    // of each would make the ratio a coin toss either way.
    const int n = w2_n;
    constexpr int kRounds = 3;
    const bool profile = std::getenv("BENCH_W2_PROFILE") != nullptr;
    std::vector<double> us, base_us, row_us, cpu, flow_cpu, writer_cpu, writer_sys, rows, batches;
    for (int round = 0; round < kRounds; ++round) {
      // Opening the round's database closes the previous round's client (its writer and
      // checkpointer threads joined), so the baseline, run next, has the cores to itself.
      use_database(dir / ("w2-" + std::to_string(round) + ".db"), page_size);
      base_us.push_back(profile ? 0 : baseline_pool(n) * 1e6 / n);
      row_us.push_back(profile ? 0
                               : baton::bench::write_state_rows_directly(
                                     (dir / ("w2-rows-" + std::to_string(round) + ".db")).string(),
                                     n) * 1e6 / n);
      rusage u0{}, u1{};
      getrusage(RUSAGE_SELF, &u0);
      const double flow_cpu0 = thread_cpu_us();
      auto start = Clock::now();
      w2(n);
      double ours = Seconds(Clock::now() - start).count();
      flow_cpu.push_back((thread_cpu_us() - flow_cpu0) / n);
      getrusage(RUSAGE_SELF, &u1);
      auto us_of = [](timeval t) { return static_cast<double>(t.tv_sec) * 1e6 + t.tv_usec; };
      cpu.push_back(
          (us_of(u1.ru_utime) - us_of(u0.ru_utime) + us_of(u1.ru_stime) - us_of(u0.ru_stime)) / n);
      writer_cpu.push_back(writer_cpu_us(n));
      writer_sys.push_back(writer_sys_us(n));
      rows.push_back(writer_rows_per_task(n));
      batches.push_back(writer_batches());
      us.push_back(ours * 1e6 / n);
      std::printf(
          "W2 round=%d us_per_task=%.2f baseline_us=%.2f row_us=%.2f cpu_us=%.2f flow_cpu_us=%.2f "
          "writer_cpu_us=%.2f batches=%.0f\n",
          round, us.back(), base_us.back(), row_us.back(), cpu.back(), flow_cpu.back(),
          writer_cpu.back(), batches.back());
      std::fflush(stdout);
    }
    // CPU per task, all threads and the writer's alone: on a shared machine these move less than
    // the wall-clock figure.
    std::printf(
        "W2 n=%d us_per_task=%.2f baseline_us=%.2f ratio=%.2f row_us=%.2f row_ratio=%.2f "
        "cpu_us=%.2f flow_cpu_us=%.2f writer_cpu_us=%.2f writer_sys_us=%.2f rows_per_task=%.2f "
        "batches=%.0f rounds=%d (medians; us_per_task %.2f-%.2f, baseline_us %.2f-%.2f)\n",
        n, median(us), median(base_us), median(us) / median(base_us), median(row_us),
        median(us) / median(row_us), median(cpu), median(flow_cpu),
        median(writer_cpu), median(writer_sys), median(rows), median(batches), kRounds,
        *std::min_element(us.begin(), us.end()), *std::max_element(us.begin(), us.end()),
        *std::min_element(base_us.begin(), base_us.end()),
        *std::max_element(base_us.begin(), base_us.end()));
  }
  std::printf("MEMORY peak_rss_mb=%.1f limit_mb=300\n", peak_rss_mb());
  baton::core::Runtime::get().set_client_factory({});
  fs::remove_all(dir);
  return 0;
}
