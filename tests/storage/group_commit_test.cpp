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

// ---- the run cache: write_flow_runs hands decide the run as a read of its rows returns it -----

// Every field a read returns, compared one by one (a difference names its field).
void expect_same_run(const FlowRunRecord& seen, const FlowRunRecord& read, const std::string& at) {
  SCOPED_TRACE(at);
  EXPECT_EQ(seen.id, read.id);
  EXPECT_EQ(seen.flow_id, read.flow_id);
  EXPECT_EQ(seen.flow_name, read.flow_name);
  EXPECT_EQ(seen.name, read.name);
  EXPECT_EQ(seen.deployment_id, read.deployment_id);
  EXPECT_EQ(seen.parent_task_run_id, read.parent_task_run_id);
  EXPECT_EQ(seen.idempotency_key, read.idempotency_key);
  EXPECT_EQ(seen.parameters, read.parameters);
  EXPECT_EQ(seen.tags, read.tags);
  EXPECT_EQ(seen.empirical_policy.retries, read.empirical_policy.retries);
  EXPECT_EQ(seen.empirical_policy.retry_delays_s, read.empirical_policy.retry_delays_s);
  EXPECT_EQ(seen.empirical_policy.retry_jitter_factor, read.empirical_policy.retry_jitter_factor);
  EXPECT_EQ(seen.run_count, read.run_count);
  EXPECT_EQ(seen.created, read.created);
  EXPECT_EQ(seen.updated, read.updated);
  EXPECT_EQ(seen.expected_start_time, read.expected_start_time);
  EXPECT_EQ(seen.next_scheduled_start_time, read.next_scheduled_start_time);
  EXPECT_EQ(seen.start_time, read.start_time);
  EXPECT_EQ(seen.end_time, read.end_time);
  EXPECT_EQ(seen.total_run_time_s, read.total_run_time_s);
  EXPECT_EQ(seen.infrastructure_pid, read.infrastructure_pid);
  EXPECT_EQ(seen.state.type, read.state.type);
  EXPECT_EQ(seen.state.name, read.state.name);
  EXPECT_EQ(seen.state.message, read.state.message);
  EXPECT_EQ(seen.state.timestamp, read.state.timestamp);
  EXPECT_EQ(seen.state.scheduled_time, read.state.scheduled_time);
  EXPECT_EQ(seen.state.result, read.state.result);
  EXPECT_EQ(seen.state.cache_key, read.state.cache_key);
  EXPECT_EQ(seen.state.cache_expiration, read.state.cache_expiration);
  EXPECT_EQ(seen.state.retriable, read.state.retriable);
}

// Moves a run through `states` one batch each, each decide also bumping the fields a transition
// may change; each decide must see exactly what read_flow_run returned after the batch before.
// `previous` is the transition id stored with the run's current state.
void walk(SqliteStorage& storage, const std::string& id, const std::vector<State>& states,
          const std::string& previous = "") {
  for (size_t i = 0; i < states.size(); ++i) {
    FlowRunRecord before = *storage.read_flow_run(id);
    std::string expected_transition = i == 0 ? previous : "t" + std::to_string(i - 1);
    FlowRunRecord seen;
    std::string seen_transition;
    Storage::DecideFn decide = [&](FlowRunRecord& r, const std::string& transition) {
      seen = r;
      seen_transition = transition;
      r.run_count += 1;
      r.total_run_time_s += 0.25;
      if (states[i].type == StateType::kRunning) {
        r.start_time = now();
        r.infrastructure_pid = "host:" + std::to_string(i);
      }
      if (is_terminal(states[i].type)) r.end_time = now();
      return FlowRunWrite{states[i], "t" + std::to_string(i), {}};
    };
    auto results = storage.write_flow_runs({{nullptr, {}, id, &decide}});
    ASSERT_TRUE(results[0].found);
    expect_same_run(seen, before, "decide of transition " + std::to_string(i));
    EXPECT_EQ(seen_transition, expected_transition) << "transition " << i;
  }
}

struct CachedRunCase {
  const char* name;
  std::function<void(FlowRunRecord&)> shape;
};

TEST(RunCache, DecideSeesTheRunAsStoredWhateverItsShape) {
  auto at = now() + std::chrono::hours(1);
  const std::vector<CachedRunCase> cases = {
      {"plain", [](FlowRunRecord&) {}},
      {"parameters, tags and a retry policy",
       [](FlowRunRecord& r) {
         r.parameters = {{"n", 3}, {"x", 0.1}, {"nested", {{"list", {1, "two", nullptr}}}}};
         r.tags = {"a", "b\"q\""};
         r.empirical_policy.retries = 2;
         r.empirical_policy.retry_delays_s = {0.5, 1.25};
         r.empirical_policy.retry_jitter_factor = 0.2;
       }},
      {"null parameters", [](FlowRunRecord& r) { r.parameters = nullptr; }},
      {"scheduled with a message",
       [at](FlowRunRecord& r) {
         r.state = State::scheduled(at, "Late");
         r.state.message = "late";
         r.expected_start_time = at;
       }},
      {"a state with a result",
       [](FlowRunRecord& r) {
         r.state.result = {{"value", 1.5}};
       }},
      {"unnamed state", [](FlowRunRecord& r) { r.state.name.clear(); }},
      {"links and a pid",
       [](FlowRunRecord& r) {
         r.deployment_id = new_id();
         r.parent_task_run_id = new_id();
         r.infrastructure_pid = "h:1:2";
         r.idempotency_key = "k";
       }},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    SqliteStorage storage(fresh_db());
    auto run = new_run(storage);
    c.shape(run);
    auto created = storage.write_flow_runs({{&run, {}}});
    ASSERT_TRUE(created[0].inserted.inserted);
    State done = State::completed(7);
    done.cache_key = "key";
    done.cache_expiration = now() + std::chrono::hours(2);
    State failed = State::failed("boom");
    failed.retriable = false;
    walk(storage, run.id,
         {State::pending(), State::running(), failed, State::running(), done,
          State::scheduled(now(), "AwaitingRetry"), State::running()});
  }
}

TEST(RunCache, ACommitOfAnotherConnectionIsSeen) {
  std::string path = fresh_db();
  SqliteStorage storage(path);
  auto run = new_run(storage);
  storage.write_flow_runs({{&run, {}}});
  walk(storage, run.id, {State::pending()});  // cached now
  {
    sqlite::Connection other(path);
    auto& rename =
        other.prepare_cached("UPDATE flow_run SET name = 'renamed', run_count = 41 WHERE id = ?");
    rename.bind(1, run.id).run();
  }
  walk(storage, run.id, {State::running(), State::completed()}, "t0");
  EXPECT_EQ(storage.read_flow_run(run.id)->name, "renamed");
  EXPECT_EQ(storage.read_flow_run(run.id)->run_count, 43);
}

TEST(RunCache, AnotherWriteOfTheSameStorageIsSeen) {
  SqliteStorage storage(fresh_db());
  auto run = new_run(storage);
  auto gone = new_run(storage);
  storage.write_flow_runs({{&run, {}}, {&gone, {}}});
  walk(storage, run.id, {State::pending()});
  Storage::DecideFn bump = [](FlowRunRecord& r, const std::string&) {
    r.run_count += 10;
    return FlowRunWrite{State::running(), "outside", {}};
  };
  ASSERT_TRUE(storage.update_flow_run(run.id, bump));  // its own transaction, not the cache's
  ASSERT_TRUE(storage.delete_flow_run(gone.id));
  walk(storage, run.id, {State::completed()}, "outside");
  EXPECT_EQ(storage.read_flow_run(run.id)->run_count, 12);
  Storage::DecideFn never = [](FlowRunRecord&, const std::string&) -> FlowRunWrite {
    ADD_FAILURE() << "decide called for a deleted run";
    return {};
  };
  EXPECT_FALSE(storage.write_flow_runs({{nullptr, {}, gone.id, &never}})[0].found);
}

TEST(RunCache, ABatchThatFailedLeavesNoTrace) {
  SqliteStorage storage(fresh_db());
  auto run = new_run(storage);
  storage.write_flow_runs({{&run, {}}});
  Storage::DecideFn to_running = [](FlowRunRecord& r, const std::string&) {
    r.run_count = 5;
    return FlowRunWrite{State::running(), "lost", {}};
  };
  Storage::DecideFn boom = [](FlowRunRecord&, const std::string&) -> FlowRunWrite {
    throw invalid_argument("refused", "state");
  };
  EXPECT_THROW(
      storage.write_flow_runs({{nullptr, {}, run.id, &to_running}, {nullptr, {}, run.id, &boom}}),
      Error);
  walk(storage, run.id, {State::pending(), State::running()});
  EXPECT_EQ(storage.read_flow_run(run.id)->run_count, 2);
}

TEST(RunCache, ADecisionThatWritesNothingKeepsTheStoredRun) {
  SqliteStorage storage(fresh_db());
  auto run = new_run(storage);
  storage.write_flow_runs({{&run, {}}});
  Storage::DecideFn refuse_but_touch = [](FlowRunRecord& r, const std::string&) {
    r.run_count = 99;  // changed in place, never written
    return FlowRunWrite{};
  };
  storage.write_flow_runs({{nullptr, {}, run.id, &refuse_but_touch}});
  walk(storage, run.id, {State::pending()});
}

}  // namespace
}  // namespace baton::storage
