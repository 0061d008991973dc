// Retention over the real SQLite file: the storage steps (Storage::delete_events_before,
// Storage::delete_expired_flow_runs), a whole pass (apply_retention) and the service's loop.
// Rows are counted in every table the runs own, so a deleted run that left anything behind, or a
// kept one that lost anything, fails.
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <map>
#include <thread>

#include "../storage/storage_test_util.h"
#include "baton/error.h"
#include "eventually.h"
#include "model/ids.h"
#include "services/retention_service.h"
#include "storage/artifact_store.h"
#include "storage/sqlite/connection.h"
#include "storage/sqlite/sqlite_storage.h"

namespace baton::services {
namespace {
using namespace std::chrono_literals;
using storage::SqliteStorage;
using storage::Storage;

constexpr auto kBound = 30s;
constexpr std::chrono::seconds kWeek{7 * 86400};

using baton::testing::eventually;

// A file with its own connection for counting rows, as an operator's sqlite3 would.
class RetentionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = testing::fresh_db();
    storage_ = std::make_unique<SqliteStorage>(path_);
    counter_ = std::make_unique<sqlite::Connection>(path_);
  }

  int64_t count(const std::string& sql) {
    auto q = counter_->prepare(sql);
    EXPECT_TRUE(q->step()) << sql;
    return q->int64(0);
  }
  int64_t rows(const std::string& table) { return count("SELECT count(*) FROM " + table); }
  // Rows that belong to a flow run that no longer exists, in every table that refers to one,
  // and subflow runs whose parent task run is gone.
  int64_t orphans() {
    int64_t n = 0;
    for (const char* table : {"flow_run_state", "task_run", "log", "artifact"})
      n += count(std::string("SELECT count(*) FROM ") + table + " x WHERE x.flow_run_id IS NOT " +
                 "NULL AND NOT EXISTS (SELECT 1 FROM flow_run f WHERE f.id = x.flow_run_id)");
    n += count(
        "SELECT count(*) FROM flow_run f WHERE f.parent_task_run_id IS NOT NULL AND NOT EXISTS "
        "(SELECT 1 FROM task_run t WHERE t.id = f.parent_task_run_id)");
    return n;
  }

  // Events named "test.<i>" that occurred at `at` minus i microseconds.
  void add_events(int n, TimePoint at, const std::string& prefix = "test") {
    std::vector<std::string> ids, names;
    ids.reserve(n);
    names.reserve(n);
    for (int i = 0; i < n; ++i) {
      ids.push_back(new_id());
      names.push_back(prefix + "." + std::to_string(i));
    }
    std::vector<storage::EventView> views;
    for (int i = 0; i < n; ++i)
      views.push_back({ids[i], at - std::chrono::microseconds(i), names[i], "r", "{}", "[]", "{}"});
    storage_->write_batch_with_events({}, {}, views);
  }

  // A flow run in state `type`; a final one ended at `ended`. `parent_task` makes it a subflow.
  // With it: `tasks` task runs (each with one log line), `logs` log lines of the run itself, one
  // more state, and an artifact.
  std::string add_run(StateType type, TimePoint ended, int tasks = 2,
                      const std::string& parent_task = "", int logs = 2) {
    FlowRunRecord r;
    r.id = new_id();
    r.flow_id = storage_->upsert_flow("etl", {}).id;
    r.flow_name = "etl";
    r.name = "r";
    r.parent_task_run_id = parent_task;
    r.state = State::pending();
    r.state.timestamp = ended - 1min;
    r.created = r.updated = ended - 2min;
    r.expected_start_time = r.state.timestamp;  // as the rules set it from the first state
    storage_->insert_flow_run(r);
    storage_->update_flow_run(r.id, [&](FlowRunRecord& run, const std::string&) {
      storage::FlowRunWrite w;
      w.state = State::pending();
      w.state->type = type;
      w.state->name = std::string(default_name(type));
      w.state->timestamp = ended;
      if (is_terminal(type)) run.end_time = ended;
      return w;
    });
    std::vector<TaskRunRecord> task_runs;
    std::vector<LogRecord> lines;
    for (int i = 0; i < tasks; ++i) {
      TaskRunRecord t;
      t.id = new_id();
      t.flow_run_id = r.id;
      t.task_key = "k";
      t.name = "t" + std::to_string(i);
      t.state = State::completed();
      t.created = t.updated = ended;
      task_runs.push_back(t);
      LogRecord l;
      l.id = new_id();
      l.flow_run_id = r.id;
      l.task_run_id = t.id;
      l.message = "task line";
      l.timestamp = ended;
      lines.push_back(l);
    }
    for (int i = 0; i < logs; ++i) {
      LogRecord l;
      l.id = new_id();
      l.flow_run_id = r.id;
      l.message = "run line";
      l.timestamp = ended;
      lines.push_back(l);
    }
    storage_->write_batch(task_runs, lines);
    artifacts().create({{"type", "markdown"}, {"data", "# report"}, {"flow_run_id", r.id}});
    tasks_[r.id] = {};
    for (const auto& t : task_runs) tasks_[r.id].push_back(t.id);
    return r.id;
  }
  // A subflow of `parent`: a run whose parent task run is one of `parent`'s task runs.
  std::string add_subflow(const std::string& parent, StateType type, TimePoint ended) {
    return add_run(type, ended, 2, tasks_.at(parent).front());
  }
  bool exists(const std::string& run_id) { return storage_->read_flow_run(run_id).has_value(); }
  // Rows of the run in each table it owns rows in.
  int64_t owned_rows(const std::string& id) {
    int64_t n = 0;
    for (const char* table : {"flow_run_state", "task_run", "log", "artifact"})
      n +=
          count(std::string("SELECT count(*) FROM ") + table + " WHERE flow_run_id = '" + id + "'");
    return n;
  }

  storage::ArtifactStore& artifacts() {
    if (!artifacts_) artifacts_ = std::make_unique<storage::ArtifactStore>(path_);
    return *artifacts_;
  }

  std::string path_;
  std::unique_ptr<SqliteStorage> storage_;
  std::unique_ptr<sqlite::Connection> counter_;
  std::unique_ptr<storage::ArtifactStore> artifacts_;
  std::map<std::string, std::vector<std::string>> tasks_;
  const TimePoint now_ = now();
  const TimePoint long_ago_ = now_ - std::chrono::days(100);
};

RetentionPolicy events_only(std::optional<std::chrono::seconds> events = kWeek) {
  RetentionPolicy p;
  p.events = events;
  return p;
}
RetentionPolicy runs_only(std::chrono::seconds runs = std::chrono::days(30)) {
  RetentionPolicy p;
  p.events.reset();
  p.runs = runs;
  return p;
}

// ---- events ----------------------------------------------------------------------------------

TEST_F(RetentionTest, EventsOlderThanTheRetentionGoInStepsOfTheBatchAndRecentOnesStay) {
  add_events(12000, now_ - std::chrono::days(30), "old");
  add_events(25, now_, "recent");
  // One just inside the retention (a minute younger than the cutoff) stays too.
  add_events(1, now_ - kWeek + 1min, "edge");
  auto pass = apply_retention(*storage_, events_only(), now_);
  EXPECT_EQ(pass.events, 12000);
  EXPECT_EQ(pass.steps, 3);  // 5,000 + 5,000 + 2,000: a short step means nothing older is left
  EXPECT_EQ(rows("event"), 26);
  EXPECT_EQ(count("SELECT count(*) FROM event WHERE event LIKE 'old.%'"), 0);
  EXPECT_EQ(apply_retention(*storage_, events_only(), now_).events, 0) << "nothing left to delete";
}

TEST_F(RetentionTest, OneEventStepDeletesAtMostItsLimitOldestFirst) {
  add_events(10, now_ - std::chrono::days(30), "old");
  // "old.9" occurred first (add_events counts back from `at`).
  EXPECT_EQ(storage_->delete_events_before(now_ - kWeek, 4), 4);
  EXPECT_EQ(rows("event"), 6);
  for (int i = 6; i < 10; ++i)
    EXPECT_EQ(count("SELECT count(*) FROM event WHERE event = 'old." + std::to_string(i) + "'"), 0);
  EXPECT_EQ(storage_->delete_events_before(now_ - kWeek, 4), 4);
  EXPECT_EQ(storage_->delete_events_before(now_ - kWeek, 4), 2);
  EXPECT_EQ(storage_->delete_events_before(now_ - kWeek, 4), 0);
  EXPECT_THROW(storage_->delete_events_before(now_, 0), Error);
}

TEST_F(RetentionTest, WithRetentionOffNothingIsDeleted) {
  add_events(50, now_ - std::chrono::days(300));
  std::string run = add_run(StateType::kCompleted, long_ago_);
  for (const auto& policy : {events_only(std::nullopt), RetentionPolicy{.events = std::nullopt}}) {
    auto pass = apply_retention(*storage_, policy, now_);
    EXPECT_EQ(pass.events + pass.flow_runs + pass.run_rows, 0);
    EXPECT_EQ(pass.steps, 0);
  }
  EXPECT_EQ(rows("event"), 50);
  EXPECT_TRUE(exists(run));
  // The default policy keeps runs: only the events go.
  auto pass = apply_retention(*storage_, RetentionPolicy{}, now_);
  EXPECT_EQ(pass.events, 50);
  EXPECT_EQ(pass.flow_runs, 0);
  EXPECT_TRUE(exists(run));
}

// ---- flow runs -------------------------------------------------------------------------------

TEST_F(RetentionTest, OldRunsInAFinalStateGoWithEverythingTheyOwnAndOnlyThey) {
  struct Row {
    StateType type;
    bool old;
    bool deleted;
  };
  const Row table[] = {
      {StateType::kCompleted, true, true},   {StateType::kFailed, true, true},
      {StateType::kCancelled, true, true},   {StateType::kCrashed, true, true},
      {StateType::kScheduled, true, false},  {StateType::kPending, true, false},
      {StateType::kRunning, true, false},    {StateType::kPaused, true, false},
      {StateType::kCancelling, true, false}, {StateType::kCompleted, false, false},
      {StateType::kFailed, false, false},
  };
  std::vector<std::string> ids;
  for (const auto& row : table)
    ids.push_back(add_run(row.type, row.old ? long_ago_ : now_ - 1h, 3));
  std::map<std::string, int64_t> kept_rows;
  for (size_t i = 0; i < ids.size(); ++i)
    if (!table[i].deleted) kept_rows[ids[i]] = owned_rows(ids[i]);
  const int64_t deleted_rows =
      rows("flow_run_state") + rows("task_run") + rows("log") + rows("artifact") - [&] {
        int64_t n = 0;
        for (auto& [id, r] : kept_rows) n += r;
        return n;
      }();

  auto pass = apply_retention(*storage_, runs_only(), now_);
  EXPECT_EQ(pass.flow_runs, 4);
  EXPECT_EQ(pass.run_rows, deleted_rows + 4);  // what they owned, and their own rows
  for (size_t i = 0; i < ids.size(); ++i) {
    EXPECT_EQ(exists(ids[i]), !table[i].deleted)
        << to_string(table[i].type) << " old " << table[i].old;
    if (!table[i].deleted) {
      EXPECT_EQ(owned_rows(ids[i]), kept_rows[ids[i]]);
    }
  }
  EXPECT_EQ(rows("flow_run"), static_cast<int64_t>(kept_rows.size()));
  EXPECT_EQ(orphans(), 0);
  // Each kept run has its 3 task runs, 3 + 2 log lines, 2 states and its artifact.
  EXPECT_EQ(rows("task_run"), 3 * static_cast<int64_t>(kept_rows.size()));
  EXPECT_EQ(rows("log"), 5 * static_cast<int64_t>(kept_rows.size()));
  EXPECT_EQ(rows("artifact"), static_cast<int64_t>(kept_rows.size()));
}

TEST_F(RetentionTest, ASubflowTreeGoesWholeOrNotAtAll) {
  // Old and final throughout: root, child, grandchild all go.
  std::string root = add_run(StateType::kCompleted, long_ago_);
  std::string child = add_subflow(root, StateType::kCompleted, long_ago_ - 1min);
  std::string grandchild = add_subflow(child, StateType::kFailed, long_ago_ - 2min);
  // A final old parent whose subflow still runs (its process survived the parent's crash): the
  // whole tree stays, so the running child keeps its parent.
  std::string crashed = add_run(StateType::kCrashed, long_ago_);
  std::string running_child = add_subflow(crashed, StateType::kRunning, long_ago_);
  // A subflow that ended within the retention keeps its (old) parent too.
  std::string parent_of_recent = add_run(StateType::kCompleted, long_ago_);
  std::string recent_child = add_subflow(parent_of_recent, StateType::kCompleted, now_ - 1h);
  // An old final subflow of a run that is still going is kept with it.
  std::string live = add_run(StateType::kRunning, long_ago_);
  std::string old_child_of_live = add_subflow(live, StateType::kCompleted, long_ago_);
  // A subflow whose parent task run is gone (its parent deleted by hand) is a root of its own.
  std::string orphan = add_run(StateType::kCompleted, long_ago_, 2, new_id());

  auto pass = apply_retention(*storage_, runs_only(), now_);
  EXPECT_EQ(pass.flow_runs, 4);
  for (const auto& id : {root, child, grandchild, orphan}) EXPECT_FALSE(exists(id)) << id;
  for (const auto& id :
       {crashed, running_child, parent_of_recent, recent_child, live, old_child_of_live})
    EXPECT_TRUE(exists(id)) << id;
  EXPECT_EQ(rows("flow_run"), 6);
  EXPECT_EQ(count("SELECT count(*) FROM flow_run WHERE parent_task_run_id IS NOT NULL AND NOT "
                  "EXISTS (SELECT 1 FROM task_run t WHERE t.id = parent_task_run_id)"),
            0);
  EXPECT_EQ(orphans(), 0);
}

TEST_F(RetentionTest, ARunLargerThanOneStepIsEmptiedOverStepsAndItsRowGoesLast) {
  std::string big = add_run(StateType::kCompleted, long_ago_, 1000, "", 500);
  std::string small = add_run(StateType::kCompleted, long_ago_ + 1s);
  const int64_t big_rows = owned_rows(big), small_rows = owned_rows(small);
  ASSERT_EQ(big_rows, 2 + 1000 + 1500 + 1);  // states, task runs, their logs and its own, artifact
  Storage::ExpiredRunCursor cursor;
  int steps = 0;
  int64_t runs = 0, deleted = 0;
  for (;;) {
    auto step = storage_->delete_expired_flow_runs(now_ - std::chrono::days(30), 200, 300, cursor);
    ++steps;
    runs += step.flow_runs;
    deleted += step.rows;
    EXPECT_LE(step.rows, 300 + 2 + 1 + 1) << "a step stays within its budget, about";
    // Between steps nothing is left without its run: the big run's row goes last.
    EXPECT_EQ(orphans(), 0);
    if (runs == 0) {
      EXPECT_TRUE(exists(big)) << "after step " << steps;
    }
    if (!step.more) break;
    ASSERT_LT(steps, 100);
  }
  EXPECT_GE(steps, 9);  // 2,500 task runs and logs at 300 a step
  EXPECT_EQ(runs, 2);
  EXPECT_FALSE(exists(big));
  EXPECT_FALSE(exists(small));
  EXPECT_EQ(rows("task_run") + rows("log") + rows("flow_run_state") + rows("artifact"), 0);
  EXPECT_EQ(deleted, big_rows + 1 + small_rows + 1);  // with the two runs' own rows
}

TEST_F(RetentionTest, KeptTreesDoNotHideTheDeletableRunsBehindThem) {
  // The 30 oldest final runs each have a subflow still running; behind them, 20 deletable runs.
  // With 10 runs examined per step, a pass must move past the kept ones (the cursor) rather than
  // find them again at every step.
  std::vector<std::string> kept, gone;
  for (int i = 0; i < 30; ++i) {
    kept.push_back(add_run(StateType::kCompleted, long_ago_ + std::chrono::seconds(i), 1));
    add_subflow(kept.back(), StateType::kRunning, long_ago_);
  }
  for (int i = 0; i < 20; ++i)
    gone.push_back(add_run(StateType::kCompleted, long_ago_ + std::chrono::minutes(1 + i), 1));
  RetentionPolicy policy = runs_only();
  policy.runs_per_step = 10;
  auto pass = apply_retention(*storage_, policy, now_);
  EXPECT_EQ(pass.flow_runs, 20);
  for (const auto& id : gone) EXPECT_FALSE(exists(id));
  for (const auto& id : kept) EXPECT_TRUE(exists(id));
  EXPECT_EQ(rows("flow_run"), 60);
  EXPECT_EQ(orphans(), 0);
}

TEST_F(RetentionTest, AStoppedPassEndsBetweenStepsAndDeletesNothingMore) {
  add_events(30, now_ - std::chrono::days(30));
  std::stop_source stop;
  RetentionPolicy policy = events_only();
  policy.events_per_step = 10;
  int pauses = 0;
  auto pass = apply_retention(*storage_, policy, now_, stop.get_token(),
                              [&](std::chrono::steady_clock::duration, std::stop_token) {
                                if (++pauses == 1) stop.request_stop();
                              });
  EXPECT_TRUE(pass.stopped);
  EXPECT_EQ(pass.events, 10);
  EXPECT_EQ(rows("event"), 20);
}

// A writer committing flow runs all through a pass that deletes 12,000 events in 24 steps keeps
// committing between the steps (it waits for one step at most), and loses nothing.
TEST_F(RetentionTest, AWriterKeepsCommittingWhileAPassRuns) {
  add_events(12000, now_ - std::chrono::days(30));
  std::atomic<bool> passing{false}, done{false};
  std::atomic<int> during{0};
  std::vector<std::string> written;
  std::thread writer([&] {
    while (!done) {
      bool was_passing = passing;
      written.push_back(testing::insert_test_flow_run(*storage_, "writer").id);
      if (was_passing && passing) ++during;  // began and ended while the pass ran
    }
  });
  ASSERT_TRUE(eventually([&] { return rows("flow_run") > 0; }));
  RetentionService service(*storage_, {.policy =
                                           [] {
                                             auto p = events_only();
                                             p.events_per_step = 500;
                                             return p;
                                           }(),
                                       .clock = [this] { return now_; }});
  passing = true;
  auto pass = service.run_pass();
  passing = false;
  done = true;
  writer.join();
  EXPECT_EQ(pass.events, 12000);
  EXPECT_EQ(pass.steps, 25);
  EXPECT_GT(during.load(), 0) << "no commit of the writer fitted between the pass's steps";
  EXPECT_EQ(rows("flow_run"), static_cast<int64_t>(written.size()));
  EXPECT_EQ(rows("event"), 0);
}

// ---- the service ---------------------------------------------------------------------------

TEST_F(RetentionTest, TheServicePassesSoonAfterStartAndThenEveryInterval) {
  add_events(40, now_ - std::chrono::days(30), "first");
  add_events(5, now(), "recent");
  RetentionService service(*storage_, {.policy = events_only(), .interval = 50ms});
  service.start();
  ASSERT_TRUE(eventually([&] { return rows("event") == 5; })) << rows("event");
  // A later pass finds what became old since.
  add_events(7, now_ - std::chrono::days(30), "second");
  uint64_t before = service.passes();
  ASSERT_TRUE(eventually([&] { return service.passes() > before + 1 && rows("event") == 5; }))
      << rows("event");
  service.stop();
  EXPECT_EQ(count("SELECT count(*) FROM event WHERE event LIKE 'recent.%'"), 5);
}

TEST_F(RetentionTest, AFailedPassIsLoggedAndTheNextPassDeletes) {
  add_events(20, now_ - std::chrono::days(30));
  // The event table gone: every step fails until it is back.
  counter_->exec("ALTER TABLE event RENAME TO event_aside");
  RetentionService service(*storage_, {.policy = events_only(), .interval = 20ms});
  service.start();
  ASSERT_TRUE(eventually([&] { return service.passes() >= 2; }));
  EXPECT_EQ(rows("event_aside"), 20);
  counter_->exec("ALTER TABLE event_aside RENAME TO event");
  ASSERT_TRUE(eventually([&] { return rows("event") == 0; })) << rows("event");
  service.stop();
}

TEST_F(RetentionTest, AFailingKindReportsItsErrorAndTheOtherKindStillRuns) {
  add_events(5, now_ - std::chrono::days(30));
  std::string run = add_run(StateType::kCompleted, long_ago_);
  counter_->exec("ALTER TABLE event RENAME TO event_aside");
  RetentionPolicy policy;
  policy.runs = std::chrono::days(30);
  auto pass = apply_retention(*storage_, policy, now_);
  ASSERT_TRUE(pass.error);
  EXPECT_THROW(std::rethrow_exception(pass.error), Error);
  EXPECT_EQ(pass.events, 0);
  EXPECT_EQ(pass.flow_runs, 1);
  EXPECT_FALSE(exists(run));
  counter_->exec("ALTER TABLE event_aside RENAME TO event");
  EXPECT_EQ(rows("event"), 5);
  EXPECT_FALSE(apply_retention(*storage_, policy, now_).error);
  EXPECT_EQ(rows("event"), 0);
}

TEST_F(RetentionTest, StopDuringAPassReturnsWithinAStep) {
  add_events(20000, now_ - std::chrono::days(30));
  RetentionPolicy policy = events_only();
  policy.events_per_step = 100;  // 200 steps, each followed by a pause as long
  RetentionService service(*storage_, {.policy = policy, .interval = 1h, .first_delay = 0ms});
  service.start();
  ASSERT_TRUE(eventually([&] { return rows("event") < 20000; }));
  auto stopped = std::async(std::launch::async, [&] { service.stop(); });
  ASSERT_EQ(stopped.wait_for(kBound), std::future_status::ready);
  EXPECT_GT(rows("event"), 0) << "the pass ran to its end instead of stopping";
}

TEST_F(RetentionTest, RefusesBatchesBelowOne) {
  RetentionPolicy p;
  p.events_per_step = 0;
  EXPECT_THROW(apply_retention(*storage_, p, now_), Error);
  EXPECT_THROW(RetentionService(*storage_, {.policy = p}), Error);
  EXPECT_THROW(RetentionService(*storage_, {.interval = 0ms}), Error);
  Storage::ExpiredRunCursor cursor;
  EXPECT_THROW(storage_->delete_expired_flow_runs(now_, 0, 10, cursor), Error);
  EXPECT_THROW(storage_->delete_expired_flow_runs(now_, 10, 0, cursor), Error);
}

TEST(RetentionDescribe, SaysWhatWasDeletedAndUnderWhichRetention) {
  RetentionPass pass{.events = 12000, .flow_runs = 3, .run_rows = 41, .took = 85ms};
  RetentionPolicy both;
  both.runs = std::chrono::days(90);
  EXPECT_EQ(describe(pass, both),
            "deleted 12000 events older than 7d and 3 flow runs (41 rows) that ended more than "
            "90d ago in 85 ms");
  EXPECT_EQ(describe(pass, RetentionPolicy{}), "deleted 12000 events older than 7d in 85 ms");
  pass.stopped = true;
  EXPECT_EQ(describe(pass, RetentionPolicy{}),
            "deleted 12000 events older than 7d in 85 ms, stopped before the end");
}

}  // namespace
}  // namespace baton::services
