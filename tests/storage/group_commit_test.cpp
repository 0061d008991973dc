// Group commit of flow-run transitions: Storage::update_flow_runs and write_flow_runs (one
// transaction for many creations and read-decide-writes, with the events recording them) and the
// EmbeddedClient combiner that feeds it from concurrent threads, synchronously or asynchronously.
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>

#include "client/embedded_client.h"
#include "model/ids.h"
#include "storage/sqlite/connection.h"
#include "storage/sqlite/sqlite_storage.h"
#include "storage_test_util.h"

namespace baton::storage {
namespace {

using baton::testing::fresh_db;

FlowRunRecord make_run(Storage& s) { return testing::insert_test_flow_run(s, "etl"); }

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

EventRow event_for(const std::string& run_id, const std::string& name) {
  return {new_id(), now(), "baton.flow-run." + name, "baton.flow-run." + run_id, "{}", "[]", "{}"};
}

// Events stored for a run, by name, oldest first (read through a connection of their own).
std::vector<std::string> stored_events(const std::string& path, const std::string& run_id) {
  sqlite::Connection db(path);
  auto q = db.prepare("SELECT event FROM event WHERE resource_id = ? ORDER BY occurred, id");
  q->bind(1, "baton.flow-run." + run_id);
  std::vector<std::string> out;
  while (q->step()) out.push_back(q->text(0));
  return out;
}

FlowRunRecord new_run(Storage& s, const std::string& idempotency_key = {}) {
  FlowRunRecord run;
  run.id = new_id();
  run.flow_id = s.upsert_flow("etl", {}).id;
  run.flow_name = "etl";
  run.name = "r";
  run.idempotency_key = idempotency_key;
  run.state = State::scheduled(now());
  run.created = run.updated = now();
  return run;
}

TEST(GroupCommit, EventsAreWrittenInTheTransactionOfTheirChange) {
  std::string path = fresh_db();
  SqliteStorage storage(path);
  auto run = new_run(storage);
  Storage::DecideFn to_running = [&](FlowRunRecord&, const std::string&) {
    return FlowRunWrite{State::running(), {}, {event_for(run.id, "Running")}};
  };
  Storage::DecideFn refuse = [](FlowRunRecord&, const std::string&) { return FlowRunWrite{}; };
  Storage::FlowRunOp create{&run, {event_for(run.id, "Scheduled")}};
  Storage::FlowRunOp transition{nullptr, {}, run.id, &to_running};
  Storage::FlowRunOp refused{nullptr, {}, run.id, &refuse};
  auto results = storage.write_flow_runs({create, transition, refused});
  ASSERT_EQ(results.size(), 3u);
  EXPECT_TRUE(results[0].inserted.inserted);
  EXPECT_TRUE(results[1].found);
  EXPECT_TRUE(results[2].found);
  EXPECT_EQ(stored_events(path, run.id),
            (std::vector<std::string>{"baton.flow-run.Scheduled", "baton.flow-run.Running"}));
  EXPECT_EQ(storage.read_states(run.id).size(), 2u);
}

TEST(GroupCommit, AFailedBatchWritesNeitherChangesNorEvents) {
  std::string path = fresh_db();
  SqliteStorage storage(path);
  auto run = new_run(storage);
  storage.write_flow_runs({{&run, {event_for(run.id, "Scheduled")}}});
  Storage::DecideFn to_pending = [&](FlowRunRecord&, const std::string&) {
    return FlowRunWrite{State::pending(), {}, {event_for(run.id, "Pending")}};
  };
  Storage::DecideFn boom = [](FlowRunRecord&, const std::string&) -> FlowRunWrite {
    throw invalid_argument("refused", "state");
  };
  auto other = new_run(storage);
  EXPECT_THROW(storage.write_flow_runs({{&other, {event_for(other.id, "Scheduled")}},
                                        {nullptr, {}, run.id, &to_pending},
                                        {nullptr, {}, run.id, &boom}}),
               Error);
  EXPECT_EQ(stored_events(path, run.id), (std::vector<std::string>{"baton.flow-run.Scheduled"}));
  EXPECT_TRUE(stored_events(path, other.id).empty());
  EXPECT_FALSE(storage.read_flow_run(other.id));
  EXPECT_EQ(storage.read_flow_run(run.id)->state.type, StateType::kScheduled);
}

TEST(GroupCommit, AnIdempotentCreateThatFindsItsRunWritesNoEvent) {
  std::string path = fresh_db();
  SqliteStorage storage(path);
  auto first = new_run(storage, "nightly");
  auto again = new_run(storage, "nightly");
  auto results = storage.write_flow_runs(
      {{&first, {event_for(first.id, "Scheduled")}}, {&again, {event_for(again.id, "Scheduled")}}});
  EXPECT_TRUE(results[0].inserted.inserted);
  EXPECT_FALSE(results[1].inserted.inserted);
  EXPECT_EQ(results[1].inserted.run.id, first.id);
  EXPECT_EQ(stored_events(path, first.id).size(), 1u);
  EXPECT_TRUE(stored_events(path, again.id).empty());
}

// The server's path: asynchronous creations and transitions from many threads, each completed
// exactly once with its own outcome, each accepted change stored with its event.
TEST(GroupCommit, AsynchronousWritesCompleteOnceWithTheirEvents) {
  std::string path = fresh_db();
  constexpr int kThreads = 8, kRunsEach = 10;
  auto client = EmbeddedClient::open(path);
  auto events = [](const FlowRunRecord& run, const State& state) {
    return std::vector<EventRow>{event_for(run.id, state.name)};
  };
  std::mutex ids_mutex;
  std::vector<std::string> ids;
  std::atomic<int> completions{0}, accepted{0}, rejected{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kRunsEach; ++i) {
        FlowRunRecord run;
        run.flow_name = "async";
        run.state = State::scheduled(now());
        std::promise<std::string> created;
        client->create_flow_run_async(run, events,
                                      [&](std::exception_ptr e, Storage::InsertResult r) {
                                        completions++;
                                        if (e)
                                          created.set_exception(e);
                                        else
                                          created.set_value(r.run.id);
                                      });
        std::string id = created.get_future().get();
        {
          std::lock_guard lock(ids_mutex);
          ids.push_back(id);
        }
        // PENDING, RUNNING, COMPLETED (with a result) are accepted; RUNNING again is not.
        for (auto state :
             {State::pending(), State::running(), State::completed(42), State::running()}) {
          std::promise<SetStateResult> done;
          client->set_flow_run_state_async(id, state, false, "", events,
                                           [&](std::exception_ptr e, SetStateResult r) {
                                             completions++;
                                             if (e)
                                               done.set_exception(e);
                                             else
                                               done.set_value(r);
                                           });
          auto r = done.get_future().get();
          (r.status == SetStateStatus::kAccept ? accepted : rejected)++;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(completions.load(), kThreads * kRunsEach * 5);
  EXPECT_EQ(accepted.load(), kThreads * kRunsEach * 3);
  EXPECT_EQ(rejected.load(), kThreads * kRunsEach);
  for (const auto& id : ids)
    EXPECT_EQ(stored_events(path, id),
              (std::vector<std::string>{"baton.flow-run.Scheduled", "baton.flow-run.Pending",
                                        "baton.flow-run.Running", "baton.flow-run.Completed"}));
}

TEST(GroupCommit, AsynchronousTransitionOfAnUnknownRunCompletesWithNotFound) {
  auto client = EmbeddedClient::open(fresh_db());
  std::promise<std::exception_ptr> done;
  client->set_flow_run_state_async(
      new_id(), State::running(), false, "", nullptr,
      [&](std::exception_ptr e, SetStateResult) { done.set_value(e); });
  auto error = done.get_future().get();
  ASSERT_TRUE(error);
  try {
    std::rethrow_exception(error);
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kNotFound);
  }
}

}  // namespace
}  // namespace baton::storage
