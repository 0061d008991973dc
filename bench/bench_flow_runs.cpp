// The storage half of W3: what one flow-run create or transition costs in SQLite, apart from
// HTTP. `batch` runs are in flight at once (as `batch` concurrent clients of the server); every
// commit is one Storage::write_flow_runs call holding one op per run, each run at its own step of
// create (SCHEDULED) -> PENDING -> RUNNING -> COMPLETED, decided by the orchestration rules, each
// with its event row, exactly as the server's group commit writes them.
// Baseline, same run: the same number of rows written straight into SQLite (WAL,
// synchronous=NORMAL), one row per op with a UUIDv7 key, `batch` rows per transaction.
//
//   FLOWRUNS batch=B ops=N us_per_op=... baseline_us=... ratio=... cpu_us_per_op=...
//            baseline_cpu_us=... cpu_ratio=... written_kb_per_commit=...
//   FRAMES batch=B page_size=P frames_per_commit=... <b-tree>=<frames per commit> ...
//
// Usage: bench_flow_runs [batch (0 = 1, 8 and 64)] [ops] [page size of the new file, 0 = the
// server's, sqlite::kTransactionalPageSize]
//
// cpu_us_per_op is the process's CPU time (the checkpointer thread included), steadier than wall
// time on a shared machine. written_kb_per_commit is what the process wrote (wchar in
// /proc/self/io) per commit: the WAL frames of the pages the commit changed, plus the
// checkpointer's copies of them into the database, the cost this benchmark exists to keep down.
// FRAMES says where a commit's WAL frames go: after the timed ops, kSampleCommits more commits
// run while a reader holds the WAL (so no checkpoint restarts it), then the frames they appended
// are read from the WAL file and each page is named by the b-tree that owns it (dbstat).
#include <sqlite3.h>

#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "model/ids.h"
#include "orchestration/rules.h"
#include "sqlite_baseline.h"
#include "storage/sqlite/sqlite_storage.h"

namespace {
using namespace baton;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

long long written_bytes() {
  std::ifstream in("/proc/self/io");
  std::string key;
  long long value = 0;
  while (in >> key >> value)
    if (key == "wchar:") return value;
  return 0;
}

// The event the server records with a state change (routes_events.cpp state_event/event_row).
storage::EventRow state_event(const std::string& run_id, const State& state) {
  json resource{{"baton.resource.id", "baton.flow-run." + run_id},
                {"baton.state-type", to_string(state.type)},
                {"baton.state-name", state.name}};
  return {new_id(),      state.timestamp,
          "baton.flow-run." + state.name,
          "baton.flow-run." + run_id,
          resource.dump(), "[]",
          json{{"validated_state", state}}.dump()};
}

orchestration::RunCounters counters_of(const FlowRunRecord& run) {
  return {run.run_count,        run.start_time,          run.end_time,
          run.total_run_time_s, run.expected_start_time, run.next_scheduled_start_time};
}

// One client's run: its record while being created, then its step (0 = create, 1..3 the
// transitions) and the decide function of its next transition.
struct Client {
  FlowRunRecord run;
  int step = 0;
  State proposed;
  storage::Storage::DecideFn decide;
};

double cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

struct Result {
  double seconds = 0;
  double cpu_seconds = 0;
  long commits = 0;
  long long bytes = 0;
  // Frames per commit of the sample commits, in total and per b-tree (table or index name).
  double frames_per_commit = 0;
  std::vector<std::pair<std::string, double>> frames_by_btree;
  int page_size = 0;
};

constexpr int kSampleCommits = 64;

uint32_t big_endian(const unsigned char* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | uint32_t{p[3]};
}

// The page number of each valid frame of the WAL's current generation (the frames whose salts
// match the header's), in order.
std::vector<uint32_t> wal_frames(const std::string& wal_path) {
  std::ifstream in(wal_path, std::ios::binary);
  unsigned char header[32];
  std::vector<uint32_t> out;
  if (!in.read(reinterpret_cast<char*>(header), sizeof header)) return out;
  const uint32_t page_size = big_endian(header + 8);
  unsigned char frame[24];
  while (in.read(reinterpret_cast<char*>(frame), sizeof frame)) {
    if (big_endian(frame + 8) != big_endian(header + 16) ||
        big_endian(frame + 12) != big_endian(header + 20))
      break;
    out.push_back(big_endian(frame));
    in.seekg(page_size, std::ios::cur);
  }
  return out;
}

Result bench_storage(const std::string& path, int batch, int ops, int page_size) {
  bench::create_with_page_size(path, page_size);
  storage::SqliteStorage db(path, {.new_file_page_size = sqlite::kTransactionalPageSize});
  auto flow = db.upsert_flow("bench", {});
  std::vector<Client> clients(static_cast<size_t>(batch));
  for (int c = 0; c < batch; ++c) {
    auto& client = clients[static_cast<size_t>(c)];
    // Staggered, so that every commit mixes creates and each kind of transition.
    client.step = c % 4;
    client.run.id = new_id();
    client.decide = [&client](FlowRunRecord& run, const std::string& transition_id) {
      orchestration::Transition t;
      t.kind = orchestration::RunKind::kFlow;
      t.current = run.state;
      t.proposed = client.proposed;
      t.policy = run.empirical_policy;
      t.run = counters_of(run);
      t.now = now();
      t.current_transition_id = transition_id;
      auto d = orchestration::decide(t);
      storage::FlowRunWrite write;
      if (d.write_state) {
        run.run_count = d.run.run_count;
        run.start_time = d.run.start_time;
        run.end_time = d.run.end_time;
        run.total_run_time_s = d.run.total_run_time_s;
        run.expected_start_time = d.run.expected_start_time;
        run.next_scheduled_start_time = d.run.next_scheduled_start_time;
        write.state = d.state;
        write.events.push_back(state_event(run.id, d.state));
      }
      return write;
    };
  }
  // Runs staggered at steps 1..3 need a stored run to start from.
  {
    std::vector<storage::Storage::FlowRunOp> ops0;
    for (auto& c : clients) {
      if (c.step == 0) continue;
      c.run.flow_id = flow.id;
      c.run.flow_name = "bench";
      c.run.name = "warm-" + c.run.id;
      c.run.state = State::scheduled(now());
      c.run.created = c.run.updated = now();
      c.run.expected_start_time = c.run.state.scheduled_time;
      c.run.next_scheduled_start_time = c.run.state.scheduled_time;
      ops0.push_back({&c.run, {}, {}, nullptr});
    }
    if (!ops0.empty()) db.write_flow_runs(ops0);
  }
  std::vector<storage::Storage::FlowRunOp> ops_batch;
  auto commit = [&] {
    ops_batch.clear();
    for (auto& c : clients) {
      storage::Storage::FlowRunOp op;
      if (c.step == 0) {
        c.run = FlowRunRecord{};
        c.run.id = new_id();
        c.run.flow_id = flow.id;
        c.run.flow_name = "bench";
        c.run.name = "run-" + c.run.id;
        orchestration::Transition t;
        t.kind = orchestration::RunKind::kFlow;
        t.proposed = State::scheduled(now());
        t.now = now();
        auto d = orchestration::decide(t);
        c.run.state = d.state;
        c.run.expected_start_time = d.run.expected_start_time;
        c.run.next_scheduled_start_time = d.run.next_scheduled_start_time;
        c.run.created = c.run.updated = t.now;
        op.insert = &c.run;
        op.insert_events.push_back(state_event(c.run.id, c.run.state));
      } else {
        c.proposed = c.step == 1   ? State::pending()
                     : c.step == 2 ? State::running()
                                   : State::completed(nullptr);
        op.id = c.run.id;
        op.decide = &c.decide;
      }
      ops_batch.push_back(std::move(op));
      c.step = (c.step + 1) % 4;
    }
    db.write_flow_runs(ops_batch);
  };
  Result r;
  long long bytes0 = written_bytes();
  double cpu0 = cpu_seconds();
  auto start = Clock::now();
  for (int done = 0; done < ops; done += batch) {
    commit();
    ++r.commits;
  }
  r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  r.cpu_seconds = cpu_seconds() - cpu0;
  r.bytes = written_bytes() - bytes0;

  // The sample: a reader's snapshot keeps every frame appended after it in the WAL.
  sqlite3* reader = nullptr;
  bench::check_sqlite(sqlite3_open(path.c_str(), &reader), reader);
  bench::check_sqlite(
      sqlite3_exec(reader, "BEGIN; SELECT count(*) FROM flow", nullptr, nullptr, nullptr), reader);
  const size_t first = wal_frames(path + "-wal").size();
  for (int i = 0; i < kSampleCommits; ++i) commit();
  auto frames = wal_frames(path + "-wal");
  bench::check_sqlite(sqlite3_exec(reader, "COMMIT", nullptr, nullptr, nullptr), reader);
  std::unordered_map<uint32_t, std::string> owner;
  sqlite3_stmt* pages = nullptr;
  bench::check_sqlite(
      sqlite3_prepare_v2(reader, "SELECT name, pageno FROM dbstat", -1, &pages, nullptr), reader);
  while (sqlite3_step(pages) == SQLITE_ROW)
    owner[static_cast<uint32_t>(sqlite3_column_int64(pages, 1))] =
        reinterpret_cast<const char*>(sqlite3_column_text(pages, 0));
  sqlite3_finalize(pages);
  bench::check_sqlite(sqlite3_prepare_v2(reader, "PRAGMA page_size", -1, &pages, nullptr), reader);
  if (sqlite3_step(pages) == SQLITE_ROW) r.page_size = sqlite3_column_int(pages, 0);
  sqlite3_finalize(pages);
  sqlite3_close(reader);
  std::map<std::string, int> by_btree;
  for (size_t i = first; i < frames.size(); ++i) {
    auto it = owner.find(frames[i]);
    ++by_btree[it == owner.end() ? "(free)" : it->second];
  }
  r.frames_per_commit =
      static_cast<double>(frames.size() - std::min(first, frames.size())) / kSampleCommits;
  for (const auto& [name, count] : by_btree)
    r.frames_by_btree.emplace_back(name, static_cast<double>(count) / kSampleCommits);
  return r;
}

// One narrow row per op, `batch` rows per transaction, the same pragmas as Baton's database.
double bench_baseline(double* cpu, const std::string& path, int batch, int ops) {
  sqlite3* db = nullptr;
  bench::check_sqlite(sqlite3_open(path.c_str(), &db), db);
  bench::check_sqlite(
      sqlite3_exec(db,
                   "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                   "CREATE TABLE state (id TEXT PRIMARY KEY, run_id TEXT NOT NULL, "
                   "type TEXT, name TEXT, timestamp BIGINT, data TEXT)",
                   nullptr, nullptr, nullptr),
      db);
  sqlite3_stmt* insert = nullptr;
  bench::check_sqlite(
      sqlite3_prepare_v2(db, "INSERT INTO state VALUES (?, ?, ?, ?, ?, ?)", -1, &insert, nullptr),
      db);
  double cpu0 = cpu_seconds();
  auto start = Clock::now();
  for (int done = 0; done < ops; done += batch) {
    bench::check_sqlite(sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), db);
    for (int k = 0; k < batch; ++k) {
      std::string id = new_id();
      sqlite3_bind_text(insert, 1, id.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_text(insert, 2, id.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_text(insert, 3, "RUNNING", -1, SQLITE_STATIC);
      sqlite3_bind_text(insert, 4, "Running", -1, SQLITE_STATIC);
      sqlite3_bind_int64(insert, 5, done + k);
      sqlite3_bind_null(insert, 6);
      bench::check_sqlite(sqlite3_step(insert), db);
      sqlite3_reset(insert);
    }
    bench::check_sqlite(sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr), db);
  }
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  *cpu = cpu_seconds() - cpu0;
  sqlite3_finalize(insert);
  sqlite3_close(db);
  return seconds;
}

}  // namespace

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  fs::path dir = fs::path(storage::baton_home()) / ("bench-flow-runs-" + new_id());
  fs::create_directories(dir);
  int ops = argc > 2 ? std::stoi(argv[2]) : 40000;
  int page_size = argc > 3 ? std::stoi(argv[3]) : 0;
  for (int batch : {1, 8, 64}) {
    if (argc > 1 && std::stoi(argv[1]) != 0 && std::stoi(argv[1]) != batch) continue;
    std::string tag = std::to_string(batch);
    Result ours = bench_storage((dir / ("storage-" + tag + ".db")).string(), batch, ops, page_size);
    double base_cpu = 0;
    double base = bench_baseline(&base_cpu, (dir / ("baseline-" + tag + ".db")).string(), batch, ops);
    double us = ours.seconds * 1e6 / ops, base_us = base * 1e6 / ops;
    std::printf(
        "FLOWRUNS batch=%d ops=%d us_per_op=%.2f baseline_us=%.2f ratio=%.2f "
        "cpu_us_per_op=%.2f baseline_cpu_us=%.2f cpu_ratio=%.2f written_kb_per_commit=%.1f\n",
        batch, ops, us, base_us, us / base_us, ours.cpu_seconds * 1e6 / ops, base_cpu * 1e6 / ops,
        ours.cpu_seconds / base_cpu,
        static_cast<double>(ours.bytes) / 1024.0 / static_cast<double>(ours.commits));
    std::printf("FRAMES batch=%d page_size=%d frames_per_commit=%.1f", batch, ours.page_size,
                ours.frames_per_commit);
    for (const auto& [name, per_commit] : ours.frames_by_btree)
      std::printf(" %s=%.2f", name.c_str(), per_commit);
    std::printf("\n");
    std::fflush(stdout);
  }
  fs::remove_all(dir);
  return 0;
}
