// Storage-level behaviour the client suites do not reach directly: concurrent writers on
// separate connections, upsert ordering, transition callbacks.
#include "storage/sqlite/sqlite_storage.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <functional>
#include <thread>

#include "model/ids.h"
#include "storage/sqlite/connection.h"
#include "storage/task_run_rows.h"
#include "storage_test_util.h"

namespace baton::storage {
namespace {

using baton::testing::fresh_db;

FlowRunRecord flow_run(SqliteStorage& s, const std::string& flow) {
  return testing::insert_test_flow_run(s, flow);
}

TEST(SqliteStorage, SeparateConnectionsWritingAtOnceLoseNothing) {
  auto path = fresh_db();
  constexpr int kWriters = 4, kBatches = 20, kPerBatch = 100;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      try {
        SqliteStorage storage(path);  // its own connections, as another process would have
        auto run = flow_run(storage, "writer-" + std::to_string(w));
        for (int b = 0; b < kBatches; ++b) {
          std::vector<TaskRunRecord> batch;
          for (int i = 0; i < kPerBatch; ++i) {
            TaskRunRecord t;
            t.id = new_id();
            t.flow_run_id = run.id;
            t.task_key = "k";
            t.name = "t";
            t.state = State::completed();
            batch.push_back(t);
          }
          storage.write_batch(batch, {});
          storage.update_flow_run(run.id, [](FlowRunRecord& r, const std::string&) {
            r.run_count += 1;
            return FlowRunWrite{State::running(), {}};
          });
        }
      } catch (const std::exception& e) {
        ADD_FAILURE() << e.what();
        ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_EQ(failures.load(), 0);
  SqliteStorage storage(path);
  for (int w = 0; w < kWriters; ++w) {
    FlowRunFilter f;
    f.flow_names = {"writer-" + std::to_string(w)};
    auto runs = storage.filter_flow_runs(f);
    ASSERT_EQ(runs.size(), 1u);
    EXPECT_EQ(runs[0].run_count, kBatches);  // every read-decide-write saw the previous one
    TaskRunFilter tf;
    tf.flow_run_id = runs[0].id;
    tf.limit = 10000;
    EXPECT_EQ(storage.filter_task_runs(tf).size(), static_cast<size_t>(kBatches * kPerBatch));
    EXPECT_EQ(storage.read_states(runs[0].id).size(), static_cast<size_t>(kBatches + 1));
  }
}

TEST(SqliteStorage, OlderSnapshotDoesNotOverwriteANewerOne) {
  SqliteStorage storage(fresh_db());
  TaskRunRecord t;
  t.id = new_id();
  t.task_key = "k";
  t.name = "t";
  t.state = State::completed();
  storage.write_batch({t}, {});
  TaskRunRecord stale = t;
  stale.state = State::running();
  stale.state.timestamp = t.state.timestamp - std::chrono::seconds(1);
  storage.write_batch({stale}, {});
  EXPECT_EQ(storage.read_task_run(t.id)->state.type, StateType::kCompleted);
  EXPECT_EQ(storage.read_states(t.id).size(), 2u);  // history keeps both
}

TEST(SqliteStorage, UpdateFlowRunWritesNothingWhenDecideSaysSo) {
  SqliteStorage storage(fresh_db());
  auto run = flow_run(storage, "etl");
  bool called = false;
  EXPECT_TRUE(storage.update_flow_run(run.id, [&](FlowRunRecord& r, const std::string&) {
    called = true;
    EXPECT_EQ(r.state.type, StateType::kPending);
    r.run_count = 99;  // ignored: no state written
    return FlowRunWrite{};
  }));
  EXPECT_TRUE(called);
  EXPECT_EQ(storage.read_flow_run(run.id)->run_count, 0);
  EXPECT_FALSE(storage.update_flow_run(new_id(), [&](FlowRunRecord&, const std::string&) {
    ADD_FAILURE() << "decide called for a missing run";
    return FlowRunWrite{};
  }));
}

TEST(SqliteStorage, TransitionIdIsStoredWithTheState) {
  SqliteStorage storage(fresh_db());
  auto run = flow_run(storage, "etl");
  storage.update_flow_run(run.id, [](FlowRunRecord&, const std::string&) {
    return FlowRunWrite{State::running(), "tx-1"};
  });
  std::string seen;
  storage.update_flow_run(run.id, [&](FlowRunRecord&, const std::string& transition_id) {
    seen = transition_id;
    return FlowRunWrite{};
  });
  EXPECT_EQ(seen, "tx-1");
  EXPECT_EQ(storage.read_states(run.id).back().transition_id, "tx-1");
}

// A transition writes the run columns `decide` changed and leaves the others as stored (the
// UPDATE names only changed columns, so that unchanged indexed ones cost no index write).
struct TransitionCase {
  std::string label;
  State state;
  std::function<void(FlowRunRecord&)> change;
  std::function<void(const FlowRunRecord&)> check;
};

TEST(SqliteStorage, TransitionsWriteTheColumnsTheyChangeAndKeepTheRest) {
  SqliteStorage storage(fresh_db());
  using std::chrono::seconds;
  TimePoint t0 = now();
  State scheduled = State::scheduled(t0 + seconds(60));
  auto run = testing::insert_test_flow_run(storage, "etl", scheduled);
  storage.update_flow_run(run.id, [&](FlowRunRecord& r, const std::string&) {
    r.expected_start_time = t0 + seconds(60);
    return FlowRunWrite{scheduled, ""};
  });
  const std::vector<TransitionCase> cases = {
      {"rescheduled: next_scheduled_start_time follows the new state",
       State::scheduled(t0 + seconds(90)), [](FlowRunRecord&) {},
       [&](const FlowRunRecord& r) {
         EXPECT_EQ(r.next_scheduled_start_time, t0 + seconds(90));
         EXPECT_EQ(r.expected_start_time, t0 + seconds(60));
       }},
      {"pending: nothing but the state; next_scheduled_start_time cleared", State::pending(),
       [](FlowRunRecord&) {},
       [&](const FlowRunRecord& r) {
         EXPECT_FALSE(r.next_scheduled_start_time.has_value());
         EXPECT_EQ(r.expected_start_time, t0 + seconds(60));
         EXPECT_EQ(r.run_count, 0);
         EXPECT_FALSE(r.start_time.has_value());
       }},
      {"running: run_count, start_time, infrastructure_pid", State::running(),
       [&](FlowRunRecord& r) {
         r.run_count = 1;
         r.start_time = t0 + seconds(61);
         r.infrastructure_pid = "host:42:7";
       },
       [&](const FlowRunRecord& r) {
         EXPECT_EQ(r.run_count, 1);
         EXPECT_EQ(r.start_time, t0 + seconds(61));
         EXPECT_EQ(r.infrastructure_pid, "host:42:7");
         EXPECT_EQ(r.expected_start_time, t0 + seconds(60));
       }},
      {"completed: end_time and total_run_time; the rest kept", State::completed(nullptr),
       [&](FlowRunRecord& r) {
         r.end_time = t0 + seconds(70);
         r.total_run_time_s = 9.5;
       },
       [&](const FlowRunRecord& r) {
         EXPECT_EQ(r.end_time, t0 + seconds(70));
         EXPECT_DOUBLE_EQ(r.total_run_time_s, 9.5);
         EXPECT_EQ(r.run_count, 1);
         EXPECT_EQ(r.start_time, t0 + seconds(61));
         EXPECT_EQ(r.infrastructure_pid, "host:42:7");
       }},
      {"cleared: end_time and infrastructure_pid back to NULL", State::running(),
       [&](FlowRunRecord& r) {
         r.end_time.reset();
         r.infrastructure_pid.clear();
         r.expected_start_time.reset();
       },
       [&](const FlowRunRecord& r) {
         EXPECT_FALSE(r.end_time.has_value());
         EXPECT_TRUE(r.infrastructure_pid.empty());
         EXPECT_FALSE(r.expected_start_time.has_value());
         EXPECT_EQ(r.start_time, t0 + seconds(61));
       }},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.label);
    ASSERT_TRUE(storage.update_flow_run(run.id, [&](FlowRunRecord& r, const std::string&) {
      c.change(r);
      return FlowRunWrite{c.state, ""};
    }));
    auto stored = storage.read_flow_run(run.id);
    ASSERT_TRUE(stored.has_value());
    EXPECT_EQ(stored->state.type, c.state.type);
    c.check(*stored);
  }
  EXPECT_EQ(storage.read_states(run.id).size(), cases.size() + 2);
}

// A steady stream of commits never leaves SQLite a moment in which the whole WAL is copied back
// and unread, so it never starts the WAL over by itself and the file grows with every commit. The
// checkpointer starts it over past its bound.
TEST(SqliteStorage, TheWalStaysBoundedUnderASteadyStreamOfCommits) {
  auto path = fresh_db();
  SqliteStorage storage(path);
  storage.set_wal_restart_bytes(int64_t{1} << 20);
  std::uintmax_t largest = 0;
  for (int i = 0; i < 2000; ++i) {  // 4,000 commits of a few pages each: ~100 MB unbounded
    auto run = flow_run(storage, "steady");
    storage.update_flow_run(run.id, [](FlowRunRecord& r, const std::string&) {
      FlowRunWrite w;
      w.state = State::running();
      r.state = *w.state;
      return w;
    });
    largest = std::max(largest, std::filesystem::file_size(path + "-wal"));
  }
  // The checkpointer is asked once the WAL passes 4 MB and then starts it over past the bound,
  // at its own pace: on a busy machine commits keep landing meanwhile, so the bound while writing
  // is loose (the unbounded WAL passes 300 MB here). The file is cut back to the bound by the
  // first write after the WAL starts over, so once the stream stops, slow commits (one per 10 ms,
  // bounded wait) soon find it small again; SQLite alone would leave it at its largest.
  EXPECT_LT(largest, std::uintmax_t{200} << 20);
  const std::uintmax_t settled = std::uintmax_t{8} << 20;
  auto probe = flow_run(storage, "probe");
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::filesystem::file_size(path + "-wal") > settled &&
         std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    storage.update_flow_run(probe.id, [](FlowRunRecord& r, const std::string&) {
      FlowRunWrite w;
      w.state = State::running();
      r.state = *w.state;
      return w;
    });
  }
  EXPECT_LE(std::filesystem::file_size(path + "-wal"), settled);
  EXPECT_EQ(storage.count_flow_runs({}), 2001);
}

TEST(SqliteStorage, CountMatchesFilter) {
  SqliteStorage storage(fresh_db());
  for (int i = 0; i < 5; ++i) flow_run(storage, i < 2 ? "a" : "b");
  FlowRunFilter f;
  f.flow_names = {"b"};
  EXPECT_EQ(storage.count_flow_runs(f), 3);
  EXPECT_EQ(storage.count_flow_runs({}), 5);
}

TEST(Paths, BatonHomeComesFromTheEnvironment) {
  const char* home = std::getenv("BATON_HOME");
  ASSERT_NE(home, nullptr);
  EXPECT_EQ(baton_home(), std::string(home));
  EXPECT_EQ(default_database_path(), std::string(home) + "/baton.db");
}

// Idempotency keys (the server's batch routes): a key written with a batch is found for a day;
// an older one is not, and the write that brings the count of new keys to 4,096 prunes it.
TEST(SqliteStorage, RequestKeysCountForADayAndOldOnesArePruned) {
  auto path = fresh_db();
  SqliteStorage storage(path);
  static const TaskRunRows kNoRows;
  storage.write_task_runs(kNoRows, {}, {}, {"fresh-key"});
  EXPECT_TRUE(storage.has_request_key("fresh-key"));
  EXPECT_FALSE(storage.has_request_key("other-key"));
  storage.write_task_runs(kNoRows, {}, {}, {"fresh-key"});  // stored already: left as it is

  sqlite::Connection db(path);
  const int64_t two_days_ago =
      now().time_since_epoch().count() - int64_t{48} * 3600 * 1'000'000;  // µs
  db.prepare("INSERT INTO request_key (key, created) VALUES ('old-key', ?)")
      ->bind(1, two_days_ago)
      .run();
  auto count = [&] {
    auto q = db.prepare("SELECT count(*) FROM request_key");
    EXPECT_TRUE(q->step());
    return q->int64(0);
  };
  EXPECT_FALSE(storage.has_request_key("old-key"));  // too old to count, though still stored
  EXPECT_EQ(count(), 2);

  // Keys written so far, counting the repeat: 2. Pruning comes with the write that makes 4,096.
  std::vector<std::string> keys;
  for (int i = 0; i < 4'093; ++i) keys.push_back("key-" + std::to_string(i));
  storage.write_task_runs(kNoRows, {}, {}, keys);  // 4,095: no pruning yet
  EXPECT_EQ(count(), 1 + 1 + 4'093);
  storage.write_task_runs(kNoRows, {}, {}, {"the-4096th"});
  EXPECT_EQ(count(), 1 + 4'093 + 1);  // the old key went, the new one came
  EXPECT_TRUE(storage.has_request_key("the-4096th"));
  EXPECT_TRUE(storage.has_request_key("fresh-key"));
}

}  // namespace
}  // namespace baton::storage
