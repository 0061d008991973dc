// Storage-level behaviour the client suites do not reach directly: concurrent writers on
// separate connections, upsert ordering, transition callbacks.
#include "storage/sqlite/sqlite_storage.h"

#include <gtest/gtest.h>

#include <thread>

#include "model/ids.h"
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

}  // namespace
}  // namespace baton::storage
