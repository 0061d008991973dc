// TaskRunRows (task_run_rows.h): snapshots encoded once, one row per run with every state in its
// history in the order added, the newest added current; and what the group-commit writer, which
// queues them, writes from them.
#include "storage/task_run_rows.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "model/ids.h"
#include "storage/batch_writer.h"
#include "storage/sqlite/sqlite_storage.h"
#include "storage/state_history.h"
#include "storage_test_util.h"

namespace baton::storage {
namespace {

using baton::testing::fresh_db;

TimePoint at_us(int64_t us) { return TimePoint(std::chrono::microseconds(us)); }
constexpr int64_t kT0 = 1'700'000'000'000'000;

TaskRunRecord snapshot(const std::string& id, State state, int64_t us) {
  TaskRunRecord t;
  t.id = id;
  t.flow_run_id = "run-1";
  t.task_key = "k";
  t.name = "t-" + (id.size() > 30 ? id.substr(30) : id);
  state.timestamp = at_us(us);
  t.state = std::move(state);
  t.updated = t.state.timestamp;
  return t;
}

std::vector<StateType> types_in_order_written(std::string_view history) {
  // parse_history orders by (timestamp, id); the raw lines are in the order written.
  std::vector<StateType> out;
  while (!history.empty()) {
    size_t end = history.find('\n');
    auto rows = parse_history(history.substr(0, end + 1));
    if (rows.size() == 1) out.push_back(rows[0].state.type);
    history.remove_prefix(end + 1);
  }
  return out;
}

TEST(TaskRunRows, SnapshotsOfOneRunCoalesceIntoOneRowInTheOrderAdded) {
  std::string a = new_id(), b = new_id();
  TaskRunRows rows;
  rows.add(snapshot(a, State::pending(), kT0));
  rows.add(snapshot(b, State::pending(), kT0 + 1));
  auto running = snapshot(a, State::running(), kT0 + 2);
  running.run_count = 1;
  running.start_time = at_us(kT0 + 2);
  rows.add(running);
  auto completed = snapshot(a, State::completed(7), kT0 + 3);
  completed.run_count = 1;
  completed.start_time = at_us(kT0 + 2);
  completed.end_time = at_us(kT0 + 3);
  rows.add(completed);

  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows.snapshots(), 4u);
  TaskRunRow ra = rows.row(0), rb = rows.row(1);
  EXPECT_EQ(ra.id, a);
  EXPECT_EQ(rb.id, b);
  EXPECT_EQ(ra.state_type, StateType::kCompleted);
  EXPECT_EQ(ra.state_timestamp, kT0 + 3);
  EXPECT_EQ(ra.run_count, 1);
  EXPECT_EQ(ra.start_time, kT0 + 2);
  EXPECT_EQ(ra.end_time, kT0 + 3);
  EXPECT_EQ(
      types_in_order_written(ra.history),
      (std::vector<StateType>{StateType::kPending, StateType::kRunning, StateType::kCompleted}));
  // The current state is the history's entry with the row's state id.
  auto current = find_history_entry(ra.history, ra.state_id);
  ASSERT_TRUE(current);
  EXPECT_EQ(current->state.result, 7);
  EXPECT_EQ(types_in_order_written(rb.history), (std::vector<StateType>{StateType::kPending}));
  EXPECT_TRUE(rows.contains(a));
  EXPECT_FALSE(rows.contains(new_id()));
}

// A coalescing snapshot keeps the row's copy of the run's own columns when they are the same
// text and brings its own when any differs (here the name, then the dynamic key, then a longer
// flow run id): the row always has the newest snapshot's values and every state in its history.
TEST(TaskRunRows, ASnapshotWithOtherRunColumnsBringsThemIntoTheRow) {
  const std::string id = new_id();
  TaskRunRows rows;
  auto first = snapshot(id, State::pending(), kT0);
  first.dynamic_key = "0";
  rows.add(first);
  struct Step {
    const char* label;
    std::string name, dynamic_key, flow_run_id;
  };
  const Step steps[] = {
      {"same columns", first.name, "0", "run-1"},
      {"renamed", "renamed", "0", "run-1"},
      {"same as the renamed", "renamed", "0", "run-1"},
      {"another dynamic key", "renamed", "1", "run-1"},
      {"a longer flow run id", "renamed", "1", "run-1-longer"},
      {"a name of the same length", "RENAMED", "1", "run-1-longer"},
  };
  int64_t at = kT0;
  for (const auto& step : steps) {
    auto t = snapshot(id, State::running(), ++at);
    t.name = step.name;
    t.dynamic_key = step.dynamic_key;
    t.flow_run_id = step.flow_run_id;
    rows.add(t);
    ASSERT_EQ(rows.size(), 1u) << step.label;
    TaskRunRow r = rows.row(0);
    EXPECT_EQ(r.id, id) << step.label;
    EXPECT_EQ(r.name, step.name) << step.label;
    EXPECT_EQ(r.dynamic_key, step.dynamic_key) << step.label;
    EXPECT_EQ(r.flow_run_id, step.flow_run_id) << step.label;
    EXPECT_EQ(r.task_key, "k") << step.label;
    EXPECT_EQ(r.state_timestamp, at) << step.label;
    EXPECT_EQ(parse_history(r.history).size(), static_cast<size_t>(at - kT0 + 1)) << step.label;
  }
}

// Rows are found by a hash of a few words of the id (hash_id): ids that share those words, or
// are too short to have them, must still be told apart by their whole text.
TEST(TaskRunRows, IdsAlikeInTheWordsHashedAreStillDistinctRuns) {
  const std::string same_words = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";
  std::vector<std::string> ids = {same_words, "a", "run-1", "run-2", "run-10"};
  for (size_t at : {8u, 9u, 14u, 20u, 24u}) {
    std::string id = same_words;  // differs from it only outside the first, middle, last words
    id[at] = 'x';
    ids.push_back(id);
  }
  for (size_t i = 0; i < 500; ++i) ids.push_back(new_id());
  TaskRunRows rows;
  for (size_t i = 0; i < ids.size(); ++i)
    rows.add(snapshot(ids[i], State::pending(), kT0 + static_cast<int64_t>(i)));
  for (size_t i = 0; i < ids.size(); ++i)
    rows.add(snapshot(ids[i], State::running(), kT0 + 1000 + static_cast<int64_t>(i)));
  ASSERT_EQ(rows.size(), ids.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    TaskRunRow r = rows.row(i);
    EXPECT_EQ(r.id, ids[i]);
    EXPECT_EQ(r.state_type, StateType::kRunning) << r.id;
    EXPECT_EQ(types_in_order_written(r.history),
              (std::vector<StateType>{StateType::kPending, StateType::kRunning}))
        << r.id;
  }
  for (const auto& id : ids) EXPECT_TRUE(rows.contains(id)) << id;
  EXPECT_FALSE(rows.contains("aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeez"));
  EXPECT_FALSE(rows.contains("run-3"));
}

TEST(TaskRunRows, EncodesDefaultsAsLiteralsAndUnsetTimesAsNull) {
  TaskRunRows rows;
  auto t = snapshot(new_id(), State::pending(), kT0);
  t.updated = TimePoint{};
  t.flow_run_id.clear();
  rows.add(t);
  auto tagged = snapshot(new_id(), State::pending(), kT0);
  tagged.tags = {"db"};
  tagged.empirical_policy.retries = 2;
  tagged.task_inputs = {{"x", nlohmann::json::array()}};
  State keyed = State::completed(1);
  keyed.cache_key = "key-1";
  keyed.cache_expiration = at_us(kT0 + 100);
  tagged.state = keyed;
  rows.add(tagged);

  TaskRunRow r = rows.row(0);
  EXPECT_EQ(r.flow_run_id, "");
  EXPECT_EQ(r.task_inputs, "{}");
  EXPECT_EQ(r.tags, "[]");
  EXPECT_EQ(r.empirical_policy, "{}");
  EXPECT_EQ(r.state_name, "Pending");
  EXPECT_EQ(r.created, std::nullopt);  // the time of the write
  EXPECT_EQ(r.updated, std::nullopt);
  EXPECT_EQ(r.start_time, std::nullopt);
  EXPECT_EQ(r.cache_key, "");

  TaskRunRow k = rows.row(1);
  EXPECT_EQ(nlohmann::json::parse(k.tags), nlohmann::json({"db"}));
  EXPECT_EQ(nlohmann::json::parse(k.empirical_policy)["retries"], 2);
  EXPECT_EQ(nlohmann::json::parse(k.task_inputs), tagged.task_inputs);
  EXPECT_EQ(k.cache_key, "key-1");  // the current state's key is the row's
  EXPECT_EQ(k.cache_expiration, kT0 + 100);
}

TEST(TaskRunRows, ASnapshotWithoutIdIsRefusedAndNothingIsAdded) {
  TaskRunRows rows;
  try {
    rows.add(snapshot("", State::pending(), kT0));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    EXPECT_EQ(e.field(), "task_run.id");
  }
  EXPECT_TRUE(rows.empty());
  EXPECT_EQ(rows.snapshots(), 0u);
}

TEST(TaskRunRows, ClearSwapAndCopyOfARow) {
  std::string a = new_id(), b = new_id();
  TaskRunRows rows, other;
  rows.add(snapshot(a, State::pending(), kT0));
  rows.add(snapshot(a, State::running(), kT0 + 1));
  rows.add(snapshot(b, State::pending(), kT0 + 2));
  other.add_row(rows, 0);
  ASSERT_EQ(other.size(), 1u);
  EXPECT_EQ(other.row(0).id, a);
  EXPECT_EQ(other.row(0).history, rows.row(0).history);
  EXPECT_EQ(other.row(0).state_id, rows.row(0).state_id);

  rows.swap(other);
  EXPECT_EQ(rows.size(), 1u);
  EXPECT_EQ(other.size(), 2u);
  other.clear();
  EXPECT_TRUE(other.empty());
  EXPECT_FALSE(other.contains(a));
  // Cleared rows take new snapshots as new rows.
  other.add(snapshot(a, State::completed(), kT0 + 3));
  EXPECT_EQ(types_in_order_written(other.row(0).history),
            (std::vector<StateType>{StateType::kCompleted}));
}

TEST(TaskRunRows, ManyRunsKeepTheirOwnRows) {
  TaskRunRows rows;
  std::vector<std::string> ids;
  for (int i = 0; i < 3000; ++i) ids.push_back(new_id());
  for (int pass = 0; pass < 3; ++pass)
    for (int i = 0; i < 3000; ++i)
      rows.add(snapshot(ids[static_cast<size_t>(i)],
                        pass == 0   ? State::pending()
                        : pass == 1 ? State::running()
                                    : State::completed(i),
                        kT0 + pass * 10'000 + i));
  ASSERT_EQ(rows.size(), 3000u);
  EXPECT_EQ(rows.snapshots(), 9000u);
  for (size_t i = 0; i < 3000; i += 131) {
    TaskRunRow r = rows.row(i);
    EXPECT_EQ(r.id, ids[i]);
    EXPECT_EQ(r.state_type, StateType::kCompleted);
    EXPECT_EQ(types_in_order_written(r.history).size(), 3u);
  }
}

// The writer's holding back: an unfinished run goes back to the queue at most max_holds batches
// in a row, keeping its count when new states join it; a finished one is never held.
TEST(TaskRunRows, AnUnfinishedRunIsHeldBackAtMostMaxHoldsTimes) {
  const std::string a = new_id(), b = new_id();
  TaskRunRows batch;
  batch.add(snapshot(a, State::pending(), kT0));
  batch.add(snapshot(b, State::completed(), kT0));
  constexpr int kMaxHolds = 3;
  for (int hold = 1; hold <= kMaxHolds; ++hold) {
    TaskRunRows held;
    EXPECT_EQ(batch.hold_back_unfinished(held, kMaxHolds), hold);
    ASSERT_EQ(held.size(), 1u);
    EXPECT_EQ(held.row(0).id, a);
    EXPECT_EQ(batch.size(), hold == 1 ? 1u : 0u);  // b, finished, stays to be written
    TaskRunRows queue;                             // the next batch: a's next state joins it there
    if (hold == 2) queue.add(snapshot(a, State::running(), kT0 + 2));
    queue.merge_earlier(held);
    ASSERT_EQ(queue.size(), 1u);
    batch.swap(queue);
  }
  TaskRunRows held;
  EXPECT_EQ(batch.hold_back_unfinished(held, kMaxHolds), 0);
  EXPECT_TRUE(held.empty());
  ASSERT_EQ(batch.size(), 1u);
  EXPECT_EQ(batch.row(0).state_type, StateType::kRunning);
  EXPECT_EQ(types_in_order_written(batch.row(0).history),
            (std::vector<StateType>{StateType::kPending, StateType::kRunning}));
}

// Thousands of runs held back and taken back into a queue that has meanwhile gained states of
// half of them: one row per run, the held lines first, and every run still found by its id.
TEST(TaskRunRows, ManyRunsHeldBackAndTakenBackKeepOneRowEach) {
  constexpr size_t kRuns = 3000;
  std::vector<std::string> ids;
  TaskRunRows batch, held, queue;
  for (size_t i = 0; i < kRuns; ++i) {
    ids.push_back(new_id());
    batch.add(snapshot(ids[i], State::pending(), kT0 + static_cast<int64_t>(i)));
  }
  EXPECT_EQ(batch.hold_back_unfinished(held, 4), 1);
  EXPECT_TRUE(batch.empty());
  ASSERT_EQ(held.size(), kRuns);
  for (size_t i = 0; i < kRuns; i += 2)
    queue.add(snapshot(ids[i], State::running(), kT0 + 10'000 + static_cast<int64_t>(i)));
  queue.merge_earlier(held);
  ASSERT_EQ(queue.size(), kRuns);
  for (size_t r = 0; r < queue.size(); ++r) {
    TaskRunRow row = queue.row(r);
    auto types = types_in_order_written(row.history);
    if (row.state_type == StateType::kRunning)
      EXPECT_EQ(types, (std::vector<StateType>{StateType::kPending, StateType::kRunning})) << r;
    else
      EXPECT_EQ(types, (std::vector<StateType>{StateType::kPending})) << r;
  }
  for (const auto& id : ids) EXPECT_TRUE(queue.contains(id));
  queue.add(snapshot(ids[1], State::completed(), kT0 + 20'000));
  EXPECT_EQ(queue.size(), kRuns);  // coalesced into its run's row
}

// Without any flush, a run that never finishes is still written once it has been held back
// max_holds times, and committed_sequence() reaches it only then.
TEST(TaskRunRows, TheWriterWritesAnUnfinishedRunWithoutAFlush) {
  SqliteStorage storage(fresh_db());
  BatchWriter writer(storage);
  const std::string id = new_id();
  uint64_t sequence = writer.enqueue(snapshot(id, State::running(), kT0));
  for (int i = 0; i < 3000 && writer.committed_sequence() < sequence; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_GE(writer.committed_sequence(), sequence);
  auto run = storage.read_task_run(id);  // straight from the file: no flush
  ASSERT_TRUE(run.has_value());
  EXPECT_EQ(run->state.type, StateType::kRunning);
  EXPECT_EQ(writer.stats().rows, 1u);
}

// A coalesced row written under a stored state that is newer (another writer got there first):
// every state enters the history, the stored current state stays current.
TEST(TaskRunRows, ACoalescedLateRowKeepsTheStoredNewerStateCurrent) {
  SqliteStorage storage(fresh_db());
  std::string id = new_id();
  auto newest = snapshot(id, State::completed(9), kT0 + 10);
  storage.write_batch({newest}, {});
  TaskRunRows late;
  late.add(snapshot(id, State::pending(), kT0));
  late.add(snapshot(id, State::running(), kT0 + 1));
  storage.write_task_runs(late, {}, {});

  auto run = storage.read_task_run(id);
  ASSERT_TRUE(run);
  EXPECT_EQ(run->state.type, StateType::kCompleted);
  EXPECT_EQ(run->state.result, 9);
  auto states = storage.read_states(id);
  ASSERT_EQ(states.size(), 3u);
  EXPECT_EQ(states[0].state.type, StateType::kPending);
  EXPECT_EQ(states[1].state.type, StateType::kRunning);
  EXPECT_EQ(states[2].state.type, StateType::kCompleted);
}

// Through the group-commit writer, whether snapshots coalesce in its queue or arrive in separate
// batches: after flush() every state is in its run's history, in order, and the newest current.
TEST(TaskRunRows, TheWriterKeepsEveryStateOfEveryRunAfterFlush) {
  SqliteStorage storage(fresh_db());
  std::vector<std::string> ids;
  {
    BatchWriter writer(storage);
    for (int i = 0; i < 1500; ++i) ids.push_back(new_id());
    // Like a map: every Pending first, then each run's Running and Completed.
    for (size_t i = 0; i < ids.size(); ++i)
      writer.enqueue(snapshot(ids[i], State::pending(), kT0 + static_cast<int64_t>(i)));
    for (size_t i = 0; i < ids.size(); ++i) {
      writer.enqueue(snapshot(ids[i], State::running(), kT0 + 10'000 + static_cast<int64_t>(i)));
      writer.enqueue(snapshot(ids[i], State::completed(static_cast<int>(i)),
                              kT0 + 20'000 + static_cast<int64_t>(i)));
    }
    writer.flush();
    auto stats = writer.stats();
    EXPECT_EQ(stats.records, 4500u);
    EXPECT_GE(stats.rows, ids.size());
    EXPECT_LE(stats.rows, stats.records);
    EXPECT_EQ(stats.dropped, 0u);
  }
  for (size_t i = 0; i < ids.size(); i += 37) {
    auto run = storage.read_task_run(ids[i]);
    ASSERT_TRUE(run) << i;
    EXPECT_EQ(run->state.type, StateType::kCompleted);
    EXPECT_EQ(run->state.result, static_cast<int>(i));
    auto states = storage.read_states(ids[i]);
    ASSERT_EQ(states.size(), 3u) << i;
    EXPECT_EQ(states[0].state.type, StateType::kPending);
    EXPECT_EQ(states[1].state.type, StateType::kRunning);
    EXPECT_EQ(states[2].state.type, StateType::kCompleted);
  }
}

TEST(TaskRunRows, TheWriterReportsASnapshotItCannotEncodeAtFlush) {
  SqliteStorage storage(fresh_db());
  BatchWriter writer(storage);
  std::string good = new_id();
  writer.enqueue(snapshot(good, State::pending(), kT0));
  writer.enqueue(snapshot("", State::pending(), kT0));
  writer.enqueue(snapshot(good, State::completed(), kT0 + 1));
  EXPECT_THROW(writer.flush(), Error);
  EXPECT_EQ(writer.stats().dropped, 1u);
  EXPECT_EQ(storage.read_states(good).size(), 2u);
  writer.flush();  // reported once
}

}  // namespace
}  // namespace baton::storage
