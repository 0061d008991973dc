// TaskRunIngest over a real SQLite file: states and their events commit together, a batch is all
// or nothing even when it shares a transaction with others, and subscribers get the stored events.
// Storage failures are made by SQLite itself: a trigger refuses events of a "Poisoned" state.
#include "server/task_run_ingest.h"

#include <gtest/gtest.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <thread>

#include "../storage/storage_test_util.h"
#include "baton/error.h"
#include "model/ids.h"
#include "storage/sqlite/connection.h"

namespace baton::server {
namespace {
using nlohmann::json;

TaskRunRecord run_in(const std::string& flow_run_id, const std::string& state_name = "Completed") {
  TaskRunRecord r;
  r.id = new_id();
  r.flow_run_id = flow_run_id;
  r.task_key = "t";
  r.name = "t \"quoted\"\n";
  r.state = State::completed(json{{"rows", 3}}, state_name);
  return r;
}

class TaskRunIngestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = testing::fresh_db();
    storage_ = storage::open_sqlite_storage(path_);
    db_ = std::make_unique<sqlite::Connection>(path_);
    db_->exec(
        "CREATE TRIGGER poison BEFORE INSERT ON event WHEN NEW.event = 'baton.task-run.Poisoned' "
        "BEGIN SELECT RAISE(ABORT, 'poisoned event'); END");
  }
  int64_t count(const std::string& sql, const std::string& arg) {
    auto q = db_->prepare(sql);
    q->bind(1, arg);
    q->step();
    return q->int64(0);
  }
  int64_t events_of(const std::string& run_id) {
    return count("SELECT count(*) FROM event WHERE resource_id = ?", "baton.task-run." + run_id);
  }
  bool stored(const std::string& run_id) { return storage_->read_task_run(run_id).has_value(); }

  std::string path_;
  std::unique_ptr<storage::Storage> storage_;
  std::unique_ptr<sqlite::Connection> db_;
  EventBus bus_;
  const std::string flow_run_ = new_id();
};

TEST_F(TaskRunIngestTest, StatesAndTheirEventsAreStoredTogether) {
  TaskRunIngest ingest(*storage_, bus_, true);
  std::vector<TaskRunRecord> runs{run_in(flow_run_), run_in(flow_run_)};
  runs.push_back(runs[0]);  // a second snapshot of the first run
  runs[2].state = State::failed("bad \\ input");
  ingest.record(runs, {});
  EXPECT_EQ(storage_->read_task_run(runs[0].id)->state.type, StateType::kFailed);
  EXPECT_EQ(storage_->read_states(runs[0].id).size(), 2u);
  EXPECT_EQ(events_of(runs[0].id), 2);
  EXPECT_EQ(events_of(runs[1].id), 1);
  auto q = db_->prepare("SELECT event, resource, payload FROM event WHERE resource_id = ?");
  q->bind(1, "baton.task-run." + runs[1].id);
  ASSERT_TRUE(q->step());
  EXPECT_EQ(q->text(0), "baton.task-run.Completed");
  json resource = json::parse(q->text(1));
  EXPECT_EQ(resource["baton.resource.name"], "t \"quoted\"\n");
  EXPECT_EQ(resource["baton.state-type"], "COMPLETED");
  json payload = json::parse(q->text(2));
  EXPECT_EQ(payload["validated_state"], json(runs[1].state));
}

TEST_F(TaskRunIngestTest, AFailingBatchWritesNothing) {
  TaskRunIngest ingest(*storage_, bus_, true);
  std::vector<TaskRunRecord> runs{run_in(flow_run_), run_in(flow_run_, "Poisoned")};
  EXPECT_THROW(ingest.record(runs, {}), Error);
  EXPECT_FALSE(stored(runs[0].id));
  EXPECT_FALSE(stored(runs[1].id));
  EXPECT_EQ(events_of(runs[0].id), 0);
}

TEST_F(TaskRunIngestTest, ABadBatchDoesNotFailTheBatchesThatShareItsTransaction) {
  TaskRunIngest ingest(*storage_, bus_, true);
  constexpr int kThreads = 4, kRounds = 20;
  std::atomic<int> good_failed{0}, poisoned_accepted{0};
  std::vector<std::vector<std::string>> ids(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < kRounds; ++round) {
        bool poisoned = t == 0 && round % 2 == 0;
        std::vector<TaskRunRecord> runs;
        for (int i = 0; i < 50; ++i) runs.push_back(run_in(flow_run_));
        if (poisoned) runs.back().state.name = "Poisoned";
        try {
          ingest.record(runs, {});
          if (poisoned) ++poisoned_accepted;
          for (const auto& r : runs) ids[t].push_back(r.id);
        } catch (const Error&) {
          if (!poisoned) ++good_failed;
          for (const auto& r : runs) EXPECT_FALSE(stored(r.id));
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(good_failed, 0);
  EXPECT_EQ(poisoned_accepted, 0);
  size_t recorded = 0;
  for (const auto& list : ids) {
    recorded += list.size();
    for (const auto& id : list) EXPECT_EQ(events_of(id), 1) << id;
  }
  EXPECT_EQ(recorded, static_cast<size_t>((kThreads * kRounds - kRounds / 2) * 50));
}

TEST_F(TaskRunIngestTest, SubscribersReceiveTheStoredEvents) {
  TaskRunIngest ingest(*storage_, bus_, true);
  std::vector<json> seen;
  auto sub = bus_.subscribe(nullptr, [&](const json& e) { seen.push_back(e); });
  std::vector<TaskRunRecord> runs{run_in(flow_run_)};
  ingest.record(runs, {});
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0]["event"], "baton.task-run.Completed");
  EXPECT_EQ(seen[0]["resource"]["baton.resource.id"], "baton.task-run." + runs[0].id);
  EXPECT_EQ(seen[0]["payload"]["validated_state"]["data"]["rows"], 3);
  EXPECT_EQ(count("SELECT count(*) FROM event WHERE id = ?", seen[0]["id"].get<std::string>()), 1);
}

TEST_F(TaskRunIngestTest, WithoutAnEventStoreEventsAreOnlyPublished) {
  TaskRunIngest ingest(*storage_, bus_, false);
  int published = 0;
  auto sub = bus_.subscribe(nullptr, [&](const json&) { ++published; });
  std::vector<TaskRunRecord> runs{run_in(flow_run_, "Poisoned")};  // the trigger never fires
  ingest.record(runs, {});
  EXPECT_TRUE(stored(runs[0].id));
  EXPECT_EQ(events_of(runs[0].id), 0);
  EXPECT_EQ(published, 1);
}

TEST_F(TaskRunIngestTest, LogsAreWrittenWithTheBatch) {
  TaskRunIngest ingest(*storage_, bus_, true);
  std::vector<TaskRunRecord> none;
  LogRecord line;
  line.flow_run_id = flow_run_;
  line.message = "hello";
  line.timestamp = now();
  ingest.record(none, {line, line});
  EXPECT_EQ(count("SELECT count(*) FROM log WHERE flow_run_id = ?", flow_run_), 2);
}

}  // namespace
}  // namespace baton::server
