// Server benchmarks (W3, W6 and batched ingestion), against the real `baton server` binary on a
// loopback port. Every figure is printed next to a baseline measured in the same run:
//   W3   flow-run create + three transitions over HTTP from 1, 8, 64 clients, against the same
//        server answering GET /api/health with the same clients (ratio = what orchestration costs
//        over bare HTTP); requests/s, p50, p99: the medians of three alternating rounds.
//   ING  task-run states ingested through POST /api/task_runs/batch, against the embedded
//        client's group-commit writer doing the same work in-process.
//   W6   start-up until /api/health answers, against starting `baton version`; resident memory
//        idle and after 100,000 recorded task runs.
// Every load loop is bounded in requests and in time, and talks to 127.0.0.1 only.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "client/embedded_client.h"
#include "client/http_client.h"
#include "model/ids.h"
#include "server_process.h"

namespace {
using nlohmann::json;
using Clock = std::chrono::steady_clock;
using baton::HttpClient;
using baton::testing::ServerProcess;

constexpr auto kPhase = std::chrono::milliseconds(2500);  // each load phase
constexpr long kMaxRequestsPerClient = 200'000;

struct LoadResult {
  double per_second = 0;
  double p50_ms = 0, p99_ms = 0;
  long requests = 0, failures = 0;
  // CPU time per request (user + system), of the server process and of this load generator:
  // unlike requests/s, these hardly move when other work shares the machine.
  double server_cpu_us = 0, client_cpu_us = 0;
};

// User + system CPU seconds of a process so far (all its threads), from /proc/<pid>/stat.
double cpu_seconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto close = text.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream fields(text.substr(close + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; fields >> field; ++i) {
    if (i == 14 || i == 15) ticks += std::stod(field);  // utime, stime
    if (i == 15) break;
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  size_t k = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
  return v[k];
}

// Runs `clients` threads, each calling `one(http, latencies)` until the phase ends.
template <typename Work>
LoadResult run_load(const std::string& url, pid_t server_pid, int clients, Work work) {
  std::vector<std::vector<double>> latencies(static_cast<size_t>(clients));
  std::atomic<long> failures{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  auto deadline = std::make_shared<Clock::time_point>();
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      HttpClient http(url, "", std::chrono::seconds(30));
      http.request("GET", "/health");  // connect before the clock starts
      while (!go) std::this_thread::yield();
      auto& lat = latencies[static_cast<size_t>(c)];
      for (long i = 0; i < kMaxRequestsPerClient && Clock::now() < *deadline; ++i) {
        if (!work(http, lat)) ++failures;
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  double server_cpu0 = cpu_seconds(server_pid), client_cpu0 = cpu_seconds(getpid());
  auto start = Clock::now();
  *deadline = start + kPhase;
  go = true;
  for (auto& t : threads) t.join();
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  double server_cpu = cpu_seconds(server_pid) - server_cpu0;
  double client_cpu = cpu_seconds(getpid()) - client_cpu0;
  std::vector<double> all;
  for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  LoadResult r;
  r.requests = static_cast<long>(all.size());
  r.failures = failures;
  r.per_second = static_cast<double>(all.size()) / seconds;
  r.p50_ms = percentile(all, 0.50);
  r.p99_ms = percentile(all, 0.99);
  if (r.requests > 0) {
    r.server_cpu_us = server_cpu * 1e6 / static_cast<double>(r.requests);
    r.client_cpu_us = client_cpu * 1e6 / static_cast<double>(r.requests);
  }
  return r;
}

// Times one request and records it; false when it did not answer as expected.
bool timed(HttpClient& http, std::vector<double>& lat, const char* method,
           const std::string& target, const std::string& body, int expect,
           std::string* out = nullptr) {
  auto t0 = Clock::now();
  auto r = http.request(method, target, body);
  lat.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  if (r.status != expect) {
    static std::atomic<int> reported{0};
    if (reported++ < 3)
      std::fprintf(stderr, "%s %s answered %d, expected %d: %.300s\n", method, target.c_str(),
                   r.status, expect, r.body.c_str());
    return false;
  }
  if (out) *out = std::move(r.body);
  return true;
}

LoadResult health_load(const std::string& url, pid_t server_pid, int clients) {
  return run_load(url, server_pid, clients, [](HttpClient& http, std::vector<double>& lat) {
    return timed(http, lat, "GET", "/health", "", 200);
  });
}

// The id of a flow run from the create answer. The answer starts with it (append_json writes
// "id" first); anything else falls back to a full parse, so a change of order costs speed, not
// correctness.
std::string run_id_of(const std::string& answer) {
  constexpr std::string_view kPrefix = R"({"id":")";
  constexpr size_t kUuidLength = 36;
  if (answer.size() > kPrefix.size() + kUuidLength &&
      std::string_view(answer).substr(0, kPrefix.size()) == kPrefix &&
      answer[kPrefix.size() + kUuidLength] == '"')
    return answer.substr(kPrefix.size(), kUuidLength);
  return json::parse(answer).at("id").get<std::string>();
}

// W3: create a flow run (Scheduled) and move it Pending -> Running -> Completed: four requests,
// three of them transitions decided by the orchestration rules, each durable when answered. The
// bodies are written once: a client's own JSON building is its own machine's business, and here
// the generator shares the server's two cores. Every answer is still read whole and its status
// checked.
LoadResult w3_load(const std::string& url, pid_t server_pid, int clients) {
  static const std::string create = R"({"flow_name":"bench","state":{"type":"SCHEDULED"}})";
  static const std::string transitions[] = {R"({"state":{"type":"PENDING"}})",
                                            R"({"state":{"type":"RUNNING"}})",
                                            R"({"state":{"type":"COMPLETED"}})"};
  return run_load(url, server_pid, clients, [](HttpClient& http, std::vector<double>& lat) {
    std::string body;
    if (!timed(http, lat, "POST", "/flow_runs/", create, 201, &body)) return false;
    const std::string target = "/flow_runs/" + run_id_of(body) + "/set_state";
    for (const auto& transition : transitions)
      if (!timed(http, lat, "POST", target, transition, 201)) return false;
    return true;
  });
}

long rss_kb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

json task_snapshot(const std::string& flow_run_id, int i) {
  return {{"id", baton::new_id()},
          {"flow_run_id", flow_run_id},
          {"task_key", "bench-task"},
          {"name", "bench-task-" + std::to_string(i)},
          {"dynamic_key", std::to_string(i)},
          {"state", {{"type", "COMPLETED"}, {"name", "Completed"}}}};
}

// Task-run states through HTTP batches: `total` states in batches of `batch` from `clients`.
// The request bodies are built before the clock starts: a real sender builds them on its own
// machine, and here the load generator shares the server's two cores.
double ingest_http(const std::string& url, const std::string& flow_run_id, int clients, int total,
                   int batch) {
  int per_client = total / clients;
  std::vector<std::vector<std::string>> bodies(static_cast<size_t>(clients));
  for (int c = 0; c < clients; ++c) {
    for (int done = 0; done < per_client; done += batch) {
      json runs = json::array();
      for (int i = 0; i < batch; ++i)
        runs.push_back(task_snapshot(flow_run_id, c * per_client + done + i));
      bodies[static_cast<size_t>(c)].push_back(json{{"task_runs", runs}}.dump());
    }
  }
  std::vector<std::unique_ptr<HttpClient>> connections;
  for (int c = 0; c < clients; ++c) {
    connections.push_back(std::make_unique<HttpClient>(url, "", std::chrono::seconds(60)));
    connections.back()->request("GET", "/health");  // connect before the clock starts
  }
  auto start = Clock::now();
  std::vector<std::thread> threads;
  std::atomic<int> sent{0};
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      for (const auto& body : bodies[static_cast<size_t>(c)]) {
        // With an idempotency key, as Baton's remote client sends every batch.
        auto r = connections[static_cast<size_t>(c)]->request(
            "POST", "/task_runs/batch", body, {{"Idempotency-Key", baton::new_id()}});
        if (r.status == 201)
          sent += batch;
        else
          std::fprintf(stderr, "batch refused: %d %s\n", r.status, r.body.substr(0, 200).c_str());
      }
    });
  }
  for (auto& t : threads) t.join();
  return sent / std::chrono::duration<double>(Clock::now() - start).count();
}

// The same states recorded in-process through the embedded client's group-commit writer.
double ingest_embedded(const std::string& path, int total) {
  auto client = baton::EmbeddedClient::open(path);
  baton::FlowRunRecord run;
  run.flow_name = "bench-embedded";
  run = client->create_flow_run(run);
  std::vector<baton::TaskRunRecord> snapshots;
  snapshots.reserve(static_cast<size_t>(total));
  for (int i = 0; i < total; ++i)
    snapshots.push_back(task_snapshot(run.id, i).get<baton::TaskRunRecord>());
  auto start = Clock::now();
  for (const auto& s : snapshots) client->record_task_run(s);
  client->flush();
  return total / std::chrono::duration<double>(Clock::now() - start).count();
}

double start_seconds(pid_t* pid_out, std::unique_ptr<ServerProcess>* keep) {
  auto t0 = Clock::now();
  auto server = std::make_unique<ServerProcess>();
  HttpClient http(server->url(), "", std::chrono::seconds(5));
  while (http.request("GET", "/health").status != 200) {
  }
  double s = std::chrono::duration<double>(Clock::now() - t0).count();
  if (pid_out) *pid_out = server->pid();
  if (keep) *keep = std::move(server);
  return s;
}

double version_seconds() {
  auto t0 = Clock::now();
  auto r = baton::testing::run_baton({"version"});
  if (r.exit_code != 0) std::fprintf(stderr, "baton version failed\n");
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// For `perf record -p`: with BENCH_SERVER_PID_FILE set, the server's pid is written there, then
// a moment passes to attach before the load.
void write_pid_file(pid_t pid) {
  if (const char* file = std::getenv("BENCH_SERVER_PID_FILE")) {
    std::ofstream(file) << pid << "\n";
    std::this_thread::sleep_for(std::chrono::seconds(2));
  }
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

// `bench_server` runs everything; `bench_server w3` (or w6, ing) runs only the sections named.
int main(int argc, char** argv) {
  auto wanted = [&](const char* section) {
    if (argc < 2) return true;
    for (int i = 1; i < argc; ++i)
      if (std::string(argv[i]) == section) return true;
    return false;
  };
  // W6: start-up.
  std::vector<double> starts, versions;
  for (int i = 0; i < (wanted("w6") ? 5 : 1); ++i) {
    starts.push_back(start_seconds(nullptr, nullptr));
    versions.push_back(version_seconds());
  }
  double start_ms = median(starts) * 1000, version_ms = median(versions) * 1000;
  std::printf(
      "W6 start-up until /api/health answers: %.1f ms   baseline `baton version`: %.1f ms   ratio "
      "%.2f\n",
      start_ms, version_ms, start_ms / version_ms);

  pid_t pid = -1;
  std::unique_ptr<ServerProcess> server;
  start_seconds(&pid, &server);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  long idle_kb = rss_kb(pid);
  std::printf("W6 idle resident memory: %.1f MB\n", idle_kb / 1024.0);

  // W3. Each client count runs kW3Rounds alternating rounds of the health baseline and W3, and
  // prints the medians: on this shared machine one pair of 2.5 s phases moves the ratio by a
  // fifth from run to run. The ratio printed is the median of the rounds' own ratios (each
  // measured in the same minute as its baseline). BENCH_W3_CLIENTS=8 runs one client count only,
  // BENCH_W3_ROUNDS=1 one round (for profiling).
  std::vector<int> client_counts{1, 8, 64};
  if (const char* only = std::getenv("BENCH_W3_CLIENTS")) client_counts = {std::atoi(only)};
  int rounds = 3;
  if (const char* r = std::getenv("BENCH_W3_ROUNDS")) rounds = std::max(1, std::atoi(r));
  if (wanted("w3")) write_pid_file(pid);
  for (int clients : client_counts) {
    if (!wanted("w3")) break;
    std::vector<LoadResult> bases, w3s;
    std::vector<double> ratios;
    for (int round = 0; round < rounds; ++round) {
      bases.push_back(health_load(server->url(), pid, clients));
      w3s.push_back(w3_load(server->url(), pid, clients));
      ratios.push_back(w3s.back().per_second / bases.back().per_second);
    }
    auto med = [](const std::vector<LoadResult>& v, double LoadResult::*field) {
      std::vector<double> values;
      for (const auto& r : v) values.push_back(r.*field);
      return median(values);
    };
    auto worst = [](const std::vector<LoadResult>& v, double LoadResult::*field) {
      double m = 0;
      for (const auto& r : v) m = std::max(m, r.*field);
      return m;
    };
    long failures = 0;
    for (const auto& r : w3s) failures += r.failures;
    std::string each;
    for (double r : ratios) {
      char text[16];
      std::snprintf(text, sizeof text, "%s%.2f", each.empty() ? "" : " ", r);
      each += text;
    }
    const double w3_server = med(w3s, &LoadResult::server_cpu_us);
    const double base_server = med(bases, &LoadResult::server_cpu_us);
    const double base_client = med(bases, &LoadResult::client_cpu_us);
    std::printf(
        "W3 %2d clients: create+3 transitions %8.0f req/s  p50 %.2f ms  p99 %.2f ms  (failures "
        "%ld)\n"
        "   baseline GET /api/health       %8.0f req/s  p50 %.2f ms  p99 %.2f ms   ratio %.2f\n"
        "   rounds %d (medians; p99 the worst round's; ratio per round: %s)\n"
        "   CPU per request: server %.0f us (health %.0f us), load generator %.0f us (health %.0f "
        "us); server over health + generator %.2f\n",
        clients, med(w3s, &LoadResult::per_second), med(w3s, &LoadResult::p50_ms),
        worst(w3s, &LoadResult::p99_ms), failures, med(bases, &LoadResult::per_second),
        med(bases, &LoadResult::p50_ms), worst(bases, &LoadResult::p99_ms), median(ratios), rounds,
        each.c_str(), w3_server, base_server, med(w3s, &LoadResult::client_cpu_us), base_client,
        w3_server / (base_server + base_client));
    std::fflush(stdout);
  }

  if (!wanted("ing")) return server->stop();
  // Batched task-state ingestion, then memory after 100,000 recorded task runs.
  HttpClient http(server->url(), "");
  std::string flow_run_id = json::parse(
      http.request("POST", "/flow_runs/", R"({"flow_name": "bench-ingest"})").body)["id"];
  constexpr int kTotal = 100'000;
  write_pid_file(pid);
  double http_rate = ingest_http(server->url(), flow_run_id, 4, kTotal, 1000);
  long after_kb = rss_kb(pid);
  baton::testing::FreshDir other_home("bench-embedded");
  double embedded_rate = ingest_embedded(other_home.path() + "/baton.db", kTotal);
  std::printf(
      "ING task-run states via POST /api/task_runs/batch (4 clients x 1000/batch): %8.0f states/s\n"
      "    baseline embedded group-commit writer, same states in-process:      %8.0f states/s   "
      "ratio %.2f\n",
      http_rate, embedded_rate, http_rate / embedded_rate);
  std::printf("W6 resident memory after %d recorded task runs: %.1f MB (idle %.1f MB)\n", kTotal,
              after_kb / 1024.0, idle_kb / 1024.0);
  int status = server->stop();
  std::printf("server stopped with status %d\n", status);
  return status;
}
