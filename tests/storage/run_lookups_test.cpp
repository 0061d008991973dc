// Storage lookups behind the server's flow-by-id, count and task-run delete routes, on the real
// SQLite file: each matches what the filters and histories say.
#include <gtest/gtest.h>

#include <algorithm>
#include <optional>

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
  logs.flow_run_ids = {fr};
  auto left = s.read_logs(logs);
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].message, "kept");
  EXPECT_TRUE(s.read_task_run(kept.id));
  EXPECT_EQ(s.read_states(kept.id).size(), 1u);
  EXPECT_TRUE(s.read_flow_run(fr));
}

// START_TIME sorts read started runs through the partial ix_flow_run_start_time and the others
// after them: every page, including pages that straddle the two parts or lie past both, is the
// slice of the whole order (start time, NULLs last, ties and NULLs by id) that a plain sort gives.
TEST(RunLookups, StartTimeSortsPageThroughStartedRunsThenTheOthers) {
  SqliteStorage s(testing::fresh_db());
  auto flow = s.upsert_flow("etl", {});
  // Start times in microseconds; -1 = not started. Two runs share a start time (ties by id).
  const std::vector<int64_t> starts = {30, -1, 10, 20, -1, 20, 40, -1};
  struct Run {
    std::string id;
    std::optional<int64_t> start;
  };
  std::vector<Run> runs;
  for (int64_t start : starts) {
    FlowRunRecord r;
    r.id = new_id();
    r.flow_id = flow.id;
    r.flow_name = "etl";
    r.name = "r";
    r.state = start < 0 ? State::scheduled(now()) : State::running();
    if (start >= 0) r.start_time = TimePoint(std::chrono::microseconds(start));
    r.created = r.updated = now();
    ASSERT_TRUE(s.insert_flow_run(r).inserted);
    runs.push_back({r.id, start < 0 ? std::nullopt : std::optional<int64_t>(start)});
  }
  testing::insert_test_flow_run(s, "other", State::running());  // filtered out by flow name

  for (bool desc : {true, false}) {
    std::vector<Run> expected = runs;
    std::sort(expected.begin(), expected.end(), [&](const Run& a, const Run& b) {
      if (a.start.has_value() != b.start.has_value()) return a.start.has_value();
      if (a.start != b.start) return desc ? *a.start > *b.start : *a.start < *b.start;
      return desc ? a.id > b.id : a.id < b.id;
    });
    struct Page {
      int limit, offset;
    };
    for (Page page : {Page{3, 0}, Page{3, 3}, Page{3, 6}, Page{10, 0}, Page{2, 4}, Page{5, 8},
                      Page{0, 0}, Page{1, 7}}) {
      FlowRunFilter f;
      f.flow_names = {"etl"};
      f.sort = desc ? "START_TIME_DESC" : "START_TIME_ASC";
      f.limit = page.limit;
      f.offset = page.offset;
      std::vector<std::string> got, want;
      for (const auto& r : s.filter_flow_runs(f)) got.push_back(r.id);
      for (int i = page.offset;
           i < page.offset + page.limit && i < static_cast<int>(expected.size()); ++i)
        want.push_back(expected[static_cast<size_t>(i)].id);
      EXPECT_EQ(got, want) << f.sort << " limit " << page.limit << " offset " << page.offset;
    }
  }
}
}  // namespace
}  // namespace baton::storage
