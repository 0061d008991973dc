// Group commit of flow-run transitions: Storage::update_flow_runs (one transaction for many
// read-decide-writes) and the EmbeddedClient combiner that feeds it from concurrent threads.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "client/embedded_client.h"
#include "model/ids.h"
#include "storage/sqlite/sqlite_storage.h"
#include "storage_test_util.h"

namespace baton::storage {
namespace {

using baton::testing::fresh_db;

FlowRunRecord make_run(Storage& s) {
  auto flow = s.upsert_flow("etl", {});
  FlowRunRecord run;
  run.id = new_id();
  run.flow_id = flow.id;
  run.flow_name = "etl";
  run.name = "r";
  run.state = State::pending();
  run.created = run.updated = now();
  return s.insert_flow_run(run).run;
}

TEST(GroupCommit, LaterUpdatesOfTheSameRunSeeEarlierOnesInTheBatch) {
  SqliteStorage storage(fresh_db());
  auto run = make_run(storage);
  Storage::DecideFn bump = [](FlowRunRecord& r, const std::string&) {
    r.run_count += 1;
    return FlowRunWrite{State::running(), {}};
  };
  Storage::DecideFn never = [](FlowRunRecord&, const std::string&) -> FlowRunWrite {
    ADD_FAILURE() << "decide called for a missing run";
    return {};
  };
  auto found = storage.update_flow_runs(
      {{run.id, &bump}, {new_id(), &never}, {run.id, &bump}, {run.id, &bump}});
  EXPECT_EQ(found, (std::vector<bool>{true, false, true, true}));
  EXPECT_EQ(storage.read_flow_run(run.id)->run_count, 3);
  EXPECT_EQ(storage.read_states(run.id).size(), 4u);  // Pending + three
}

TEST(GroupCommit, AFailingDecisionWritesNothingOfItsBatch) {
  SqliteStorage storage(fresh_db());
  auto run = make_run(storage);
  Storage::DecideFn ok = [](FlowRunRecord&, const std::string&) {
    return FlowRunWrite{State::running(), {}};
  };
  Storage::DecideFn boom = [](FlowRunRecord&, const std::string&) -> FlowRunWrite {
    throw invalid_argument("refused", "state");
  };
  EXPECT_THROW(storage.update_flow_runs({{run.id, &ok}, {run.id, &boom}}), Error);
  EXPECT_EQ(storage.read_states(run.id).size(), 1u);
  EXPECT_EQ(storage.read_flow_run(run.id)->state.type, StateType::kPending);
}

TEST(GroupCommit, ConcurrentTransitionsAreAllDecidedAndDurable) {
  std::string path = fresh_db();
  constexpr int kThreads = 16, kRunsEach = 20;
  std::vector<std::string> ids;
  {
    auto client = EmbeddedClient::open(path);
    std::mutex ids_mutex;
    std::atomic<int> accepted{0}, refused{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&] {
        for (int i = 0; i < kRunsEach; ++i) {
          FlowRunRecord run;
          run.flow_name = "concurrent";
          run = client->create_flow_run(run);
          {
            std::lock_guard lock(ids_mutex);
            ids.push_back(run.id);
          }
          for (auto state : {State::running(), State::completed(42)}) {
            auto r = client->set_flow_run_state(run.id, state);
            (r.status == SetStateStatus::kAccept ? accepted : refused)++;
          }
          // A run completed with a result cannot start again, even when its refusal shares a batch.
          if (client->set_flow_run_state(run.id, State::running()).status !=
              SetStateStatus::kAccept)
            refused++;
        }
      });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(accepted.load(), kThreads * kRunsEach * 2);
    EXPECT_EQ(refused.load(), kThreads * kRunsEach);
  }
  auto reopened = EmbeddedClient::open(path);
  for (const auto& id : ids) {
    auto run = reopened->read_flow_run(id);
    ASSERT_TRUE(run);
    EXPECT_EQ(run->state.type, StateType::kCompleted);
    EXPECT_EQ(run->run_count, 1);
    EXPECT_EQ(reopened->read_states(id).size(), 3u);
  }
}

TEST(GroupCommit, UnknownRunInABatchIsNotFoundForItsCallerOnly) {
  auto client = EmbeddedClient::open(fresh_db());
  FlowRunRecord run;
  run.flow_name = "etl";
  run = client->create_flow_run(run);
  std::atomic<int> not_found{0}, answered{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      try {
        client->set_flow_run_state(t % 2 ? new_id() : run.id, State::running());
        answered++;
      } catch (const Error& e) {
        if (e.kind() == ErrorKind::kNotFound) not_found++;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(not_found.load(), 4);
  EXPECT_EQ(answered.load(), 4);
  EXPECT_EQ(client->read_flow_run(run.id)->state.type, StateType::kRunning);
}

}  // namespace
}  // namespace baton::storage
