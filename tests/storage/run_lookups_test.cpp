// Storage lookups behind the server's flow-by-id, count and task-run delete routes, on the real
// SQLite file: each matches what the filters and histories say.
#include <gtest/gtest.h>

#include "model/ids.h"
#include "storage/sqlite/sqlite_storage.h"
#include "storage_test_util.h"

namespace baton::storage {
namespace {

TaskRunRecord task(const std::string& flow_run_id, State state,
                   std::vector<std::string> tags = {}) {
  TaskRunRecord t;
  t.id = new_id();
  t.flow_run_id = flow_run_id;
  t.task_key = "k";
  t.name = "t";
  t.tags = std::move(tags);
  t.state = std::move(state);
  t.created = t.updated = now();
  return t;
}

std::string flow_run(SqliteStorage& s, const std::string& flow) {
  return testing::insert_test_flow_run(s, flow).id;
}

TEST(RunLookups, ReadFlowFindsExactlyTheFlowWithThatId) {
  SqliteStorage s(testing::fresh_db());
  auto etl = s.upsert_flow("etl", {"nightly"});
  s.upsert_flow("other", {});
  auto read = s.read_flow(etl.id);
  ASSERT_TRUE(read);
  EXPECT_EQ(read->name, "etl");
  EXPECT_EQ(read->tags, std::vector<std::string>{"nightly"});
  EXPECT_FALSE(s.read_flow(new_id()));
}

TEST(RunLookups, CountTaskRunsAgreesWithTheFilter) {
  SqliteStorage s(testing::fresh_db());
  std::string a = flow_run(s, "etl"), b = flow_run(s, "etl");
  s.write_batch({task(a, State::completed(), {"db"}), task(a, State::running()),
                 task(a, State::completed()), task(b, State::completed(), {"db"})},
                {});
  struct Case {
    TaskRunFilter filter;
    int64_t expected;
  };
  TaskRunFilter in_a, completed, db, paged;
  in_a.flow_run_id = a;
  completed.state_types = {StateType::kCompleted};
  db.tags = {"db"};
  paged.limit = 1;
  paged.offset = 3;
  for (const auto& c : std::vector<Case>{{{}, 4}, {in_a, 3}, {completed, 3}, {db, 2}, {paged, 4}}) {
    EXPECT_EQ(s.count_task_runs(c.filter), c.expected);
    TaskRunFilter all = c.filter;
    all.limit = 1000;
    all.offset = 0;
    EXPECT_EQ(static_cast<int64_t>(s.filter_task_runs(all).size()), c.expected);
  }
}

TEST(RunLookups, DeleteTaskRunTakesItsHistoryAndLogsOnly) {
  SqliteStorage s(testing::fresh_db());
  std::string fr = flow_run(s, "etl");
  auto gone = task(fr, State::pending());
  auto kept = task(fr, State::pending());
  auto gone_running = gone;
  gone_running.state = State::running();
  LogRecord log_gone, log_kept;
  log_gone.flow_run_id = log_kept.flow_run_id = fr;
  log_gone.task_run_id = gone.id;
  log_kept.task_run_id = kept.id;
  log_gone.message = "gone";
  log_kept.message = "kept";
  log_gone.level = log_kept.level = 20;
  s.write_batch({gone, gone_running, kept}, {log_gone, log_kept});
  ASSERT_EQ(s.read_states(gone.id).size(), 2u);

  EXPECT_TRUE(s.delete_task_run(gone.id));
  EXPECT_FALSE(s.read_task_run(gone.id));
  EXPECT_TRUE(s.read_states(gone.id).empty());
  EXPECT_FALSE(s.delete_task_run(gone.id));
  LogFilter logs;
  logs.flow_run_id = fr;
  auto left = s.read_logs(logs);
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].message, "kept");
  EXPECT_TRUE(s.read_task_run(kept.id));
  EXPECT_EQ(s.read_states(kept.id).size(), 1u);
  EXPECT_TRUE(s.read_flow_run(fr));
}

}  // namespace
}  // namespace baton::storage
