// Task-run state histories stored on the run row (migrations 0003/0004, state_history.h): the
// text format round-trips every state field, one batch of a run's states is one history, a late
// snapshot enters the history without becoming current, cache lookups go through the run row,
// and a database written before 0003 is upgraded with its histories intact.
#include <gtest/gtest.h>

#include <limits>

#include "model/ids.h"
#include "storage/migrations.h"
#include "storage/sqlite/connection.h"
#include "storage/sqlite/sqlite_storage.h"
#include "storage/state_history.h"
#include "storage_test_util.h"

namespace baton::storage {
namespace {

using baton::testing::fresh_db;
using namespace std::chrono_literals;

TimePoint at_us(int64_t us) { return TimePoint(std::chrono::microseconds(us)); }

void expect_same_state(const State& got, const State& want, const std::string& label) {
  EXPECT_EQ(got.type, want.type) << label;
  EXPECT_EQ(got.name, want.name.empty() ? std::string(default_name(want.type)) : want.name)
      << label;
  EXPECT_EQ(got.message, want.message) << label;
  EXPECT_EQ(got.timestamp, want.timestamp) << label;
  EXPECT_EQ(got.scheduled_time, want.scheduled_time) << label;
  EXPECT_EQ(got.result, want.result) << label;
  EXPECT_EQ(got.cache_key, want.cache_key) << label;
  EXPECT_EQ(got.cache_expiration, want.cache_expiration) << label;
  EXPECT_EQ(got.retriable, want.retriable) << label;
}

struct EntryCase {
  std::string label;
  State state;
  std::string transition_id;
};

std::vector<EntryCase> entry_cases() {
  std::vector<EntryCase> cases;
  auto add = [&](std::string label, State s, std::string transition_id = {}) {
    s.timestamp = at_us(1'700'000'000'000'000 + static_cast<int64_t>(cases.size()));
    cases.push_back({std::move(label), std::move(s), std::move(transition_id)});
  };
  add("pending, all defaults", State::pending());
  add("empty name takes the default",
      State{StateType::kRunning, "", "", {}, {}, nullptr, "", {}, true});
  add("custom name", State::retrying());
  State scheduled = State::awaiting_retry(at_us(1'800'000'000'000'000));
  add("scheduled time", scheduled);
  add("quotes, backslash, newline, tab, control byte",
      State::failed("bad \"input\" at C:\\tmp\nline 2\tcol\x01 end"));
  add("unicode message", State::failed("échec – 失败 ✗"));
  State invalid_utf8 = State::failed(std::string("bytes \xff\xfe end"));
  add("invalid UTF-8 is replaced, the line stays readable", invalid_utf8);
  State not_retriable = State::failed("no");
  not_retriable.retriable = false;
  add("not retriable", not_retriable);
  State cached = State::completed({{"storage_key", "k-1"}, {"n", 3}, {"s", "a\nb"}});
  cached.cache_key = "task-abc";
  cached.cache_expiration = at_us(1'900'000'000'000'000);
  add("result and cache key", cached);
  add("scalar result", State::completed(42));
  add("zero result", State::completed(0));
  add("negative result", State::completed(-7));
  add("smallest int64 result", State::completed(std::numeric_limits<int64_t>::min()));
  add("largest uint64 result", State::completed(std::numeric_limits<uint64_t>::max()));
  add("true result", State::completed(true));
  add("false result", State::completed(false));
  add("floating-point result", State::completed(0.1));
  add("string result", State::completed("done"));
  add("transition id", State::cancelled("stop"), "tx-9");
  return cases;
}

TEST(StateHistory, EveryFieldRoundTrips) {
  for (const auto& c : entry_cases()) {
    std::string history;
    std::string id = new_id();
    append_history_entry(history, id, c.state, c.transition_id);
    ASSERT_EQ(history.back(), '\n') << c.label;
    EXPECT_EQ(history.find('\n'), history.size() - 1) << c.label << ": one line per state";
    auto rows = parse_history(history);
    ASSERT_EQ(rows.size(), 1u) << c.label;
    EXPECT_EQ(rows[0].id, id) << c.label;
    EXPECT_EQ(rows[0].transition_id, c.transition_id) << c.label;
    State want = c.state;
    if (c.label.starts_with("invalid UTF-8")) {
      EXPECT_NE(rows[0].state.message, want.message);
      EXPECT_TRUE(rows[0].state.message.starts_with("bytes ")) << rows[0].state.message;
      want.message = rows[0].state.message;
    }
    expect_same_state(rows[0].state, want, c.label);
    auto found = find_history_entry(history, id);
    ASSERT_TRUE(found.has_value()) << c.label;
    expect_same_state(found->state, want, c.label);
  }
}

// Numbers and booleans are written without nlohmann's serializer: the text must be dump()'s.
TEST(StateHistory, ScalarResultsAreWrittenAsDumpWritesThem) {
  const nlohmann::json results[] = {0,
                                    7,
                                    -7,
                                    1'795'523'966'450'232,
                                    std::numeric_limits<int64_t>::min(),
                                    std::numeric_limits<int64_t>::max(),
                                    std::numeric_limits<uint64_t>::max(),
                                    true,
                                    false,
                                    2.5,
                                    "x"};
  for (const auto& result : results) {
    State s = State::completed(result);
    s.timestamp = at_us(-1'000'001);  // before the epoch: a sign
    std::string history;
    append_history_entry(history, "id-1", s);
    EXPECT_EQ(history, "id-1 C-1000001 {\"data\":" + result.dump() + "}\n");
    auto rows = parse_history(history);
    ASSERT_EQ(rows.size(), 1u) << history;
    EXPECT_EQ(rows[0].state.result, result) << history;
    EXPECT_EQ(rows[0].state.timestamp, s.timestamp) << history;
  }
}

TEST(StateHistory, ReadsInTimeOrderAndFindsByIdOnly) {
  std::string history;
  State late = State::completed();
  late.timestamp = at_us(300);
  State early = State::pending();
  early.timestamp = at_us(100);
  State middle = State::running();
  middle.timestamp = at_us(200);
  std::string a = new_id(), b = new_id(), c = new_id();
  append_history_entry(history, a, late);
  append_history_entry(history, b, early);
  history += "not json\n";  // skipped, not fatal
  append_history_entry(history, c, middle);
  auto rows = parse_history(history);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].id, b);
  EXPECT_EQ(rows[1].id, c);
  EXPECT_EQ(rows[2].id, a);
  EXPECT_EQ(find_history_entry(history, c)->state.type, StateType::kRunning);
  EXPECT_FALSE(find_history_entry(history, new_id()).has_value());
  EXPECT_FALSE(find_history_entry(history, a.substr(0, 10)).has_value());  // no prefix matches
  EXPECT_FALSE(find_history_entry(history, "").has_value());
}

// The compact line: "<id> <letter><timestamp>", with a JSON object only for members that are not
// their defaults; one letter per type, each read back as its type.
TEST(StateHistory, CompactLinesSpellEachTypeWithOneLetter) {
  struct Case {
    StateType type;
    char letter;
  };
  const Case cases[] = {
      {StateType::kScheduled, 'S'}, {StateType::kPending, 'P'}, {StateType::kRunning, 'R'},
      {StateType::kCompleted, 'C'}, {StateType::kFailed, 'F'},  {StateType::kCancelled, 'X'},
      {StateType::kCrashed, 'K'},   {StateType::kPaused, 'U'},  {StateType::kCancelling, 'N'},
  };
  for (const auto& c : cases) {
    State s{c.type, "", "", {}, {}, nullptr, "", {}, true};
    s.timestamp = at_us(1'795'523'966'450'232);
    std::string id = new_id(), history;
    append_history_entry(history, id, s);
    EXPECT_EQ(history, id + " " + c.letter + "1795523966450232\n") << to_string(c.type);
    auto rows = parse_history(history);
    ASSERT_EQ(rows.size(), 1u) << to_string(c.type);
    expect_same_state(rows[0].state, s, std::string(to_string(c.type)));
  }
  State renamed = State::retrying();
  renamed.timestamp = at_us(5);
  std::string history;
  append_history_entry(history, "id-1", renamed);
  EXPECT_EQ(history, "id-1 R5 {\"name\":\"Retrying\"}\n");
}

// Histories written before the compact format (one JSON object per line, as this code and the
// 0004 backfill wrote them) read back as before, alone or mixed with compact lines.
TEST(StateHistory, JsonLinesWrittenBeforeTheCompactFormatStillRead) {
  const std::string a = "01a20d91-75f1-7301-8dcd-c7e194d9a8bf",
                    b = "01a20d91-75f2-70e5-9790-ed09682aec0f",
                    c = "01a20d91-75f2-70e5-9790-ed09682aec10";
  std::string history =
      "{\"id\":\"" + a +
      "\",\"type\":\"PENDING\",\"timestamp\":100}\n"
      "{\"id\":\"" +
      b +
      "\",\"type\":\"FAILED\",\"timestamp\":200,\"name\":\"Oops\",\"message\":\"m\","
      "\"scheduled_time\":7,\"data\":{\"x\":1},\"cache_key\":\"k\",\"cache_expiration\":9,"
      "\"retriable\":0,\"transition_id\":\"tx\"}\n";
  State completed = State::completed(3);
  completed.timestamp = at_us(300);
  append_history_entry(history, c, completed);
  auto rows = parse_history(history);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].id, a);
  expect_same_state(rows[0].state,
                    State{StateType::kPending, "", "", at_us(100), {}, nullptr, "", {}, true},
                    "old pending");
  EXPECT_EQ(rows[1].id, b);
  State failed{StateType::kFailed, "Oops", "m",      at_us(200), at_us(7),
               {{"x", 1}},         "k",    at_us(9), false};
  expect_same_state(rows[1].state, failed, "old failed, every member");
  EXPECT_EQ(rows[1].transition_id, "tx");
  EXPECT_EQ(rows[2].id, c);
  expect_same_state(rows[2].state, completed, "compact completed");
  for (const auto& id : {a, b, c}) EXPECT_EQ(find_history_entry(history, id)->id, id);
  expect_same_state(find_history_entry(history, b)->state, failed, "found old line");
  expect_same_state(find_history_entry(history, c)->state, completed, "found compact line");
}

TaskRunRecord task_run(const std::string& id, State state) {
  TaskRunRecord t;
  t.id = id;
  t.task_key = "k";
  t.name = "t-0";
  t.state = std::move(state);
  return t;
}

TEST(TaskRunHistory, OneBatchOfThreeStatesIsOneRunWithThreeStates) {
  SqliteStorage storage(fresh_db());
  std::string id = new_id();
  std::vector<TaskRunRecord> batch;
  batch.push_back(task_run(id, State::pending()));
  batch.push_back(task_run(new_id(), State::pending()));  // another run in between
  batch.push_back(task_run(id, State::running()));
  State done = State::completed({{"value", "x\"y"}});
  done.message = "all good";
  batch.push_back(task_run(id, done));
  batch.back().run_count = 1;
  storage.write_batch(batch, {});

  auto states = storage.read_states(id);
  ASSERT_EQ(states.size(), 3u);
  EXPECT_EQ(states[0].state.type, StateType::kPending);
  EXPECT_EQ(states[1].state.type, StateType::kRunning);
  EXPECT_EQ(states[2].state.type, StateType::kCompleted);
  EXPECT_NE(states[0].id, states[1].id);
  EXPECT_NE(states[1].id, states[2].id);
  auto run = storage.read_task_run(id);
  ASSERT_TRUE(run.has_value());
  EXPECT_EQ(run->run_count, 1);
  expect_same_state(run->state, done, "current state");
  EXPECT_EQ(storage.read_states(batch[1].id).size(), 1u);
  // Stable ids: reading twice gives the same ones.
  auto again = storage.read_states(id);
  for (size_t i = 0; i < states.size(); ++i) EXPECT_EQ(again[i].id, states[i].id);
}

TEST(TaskRunHistory, LateSnapshotEntersHistoryButDoesNotBecomeCurrent) {
  SqliteStorage storage(fresh_db());
  std::string id = new_id();
  State done = State::completed(7);
  done.cache_key = "key-late";
  auto newest = task_run(id, done);
  newest.name = "final-name";
  newest.run_count = 1;
  State pending = State::pending();
  pending.timestamp = done.timestamp - 2s;
  storage.write_batch({task_run(id, pending), newest}, {});

  // Another writer's batch arrives late with an older Running snapshot.
  State running = State::running();
  running.timestamp = done.timestamp - 1s;
  auto stale = task_run(id, running);
  stale.name = "stale-name";
  stale.run_count = 0;
  storage.write_batch({stale}, {});

  auto run = storage.read_task_run(id);
  EXPECT_EQ(run->state.type, StateType::kCompleted);
  EXPECT_EQ(run->name, "final-name");
  EXPECT_EQ(run->run_count, 1);
  auto states = storage.read_states(id);
  ASSERT_EQ(states.size(), 3u);
  EXPECT_EQ(states[1].state.type, StateType::kRunning);  // ordered by time, not arrival
  EXPECT_EQ(states[2].state.type, StateType::kCompleted);
  EXPECT_TRUE(storage.find_cached_state("key-late", now()).has_value());

  // A newer snapshot in a later batch does become current.
  State crashed = State::crashed("gone");
  crashed.timestamp = done.timestamp + 1s;
  storage.write_batch({task_run(id, crashed)}, {});
  EXPECT_EQ(storage.read_task_run(id)->state.type, StateType::kCrashed);
  EXPECT_EQ(storage.read_states(id).size(), 4u);
  EXPECT_FALSE(storage.find_cached_state("key-late", now()).has_value());
}

// Batches of more runs than one multi-row upsert takes (16): every run lands once with its own
// fields, in new rows and in rows written by an earlier batch, late snapshots included.
TEST(TaskRunHistory, LargeBatchesWriteEveryRunWithItsOwnFields) {
  SqliteStorage storage(fresh_db());
  // Past two full statements of 128 rows, the rest in halving ones; plain rows (no cache key,
  // default inputs, tags and policy) and the others through statements of their own.
  constexpr int kRuns = 333;
  std::vector<std::string> ids;
  std::vector<TaskRunRecord> first;
  TimePoint t0 = now();
  for (int i = 0; i < kRuns; ++i) {
    ids.push_back(new_id());
    State pending = State::pending();
    pending.timestamp = t0 + std::chrono::microseconds(i);
    auto t = task_run(ids.back(), pending);
    t.name = "run-" + std::to_string(i);
    if (i % 3 == 0) t.tags = {"tag-" + std::to_string(i)};
    if (i % 7 == 0) t.task_inputs = {{"x", nlohmann::json::array()}};
    if (i % 11 == 0) t.cache_key = "key-" + std::to_string(i);
    if (i % 13 == 0) t.empirical_policy.retries = 2;
    first.push_back(t);
  }
  storage.write_batch(first, {});
  std::vector<TaskRunRecord> second;
  for (int i = 0; i < kRuns; ++i) {
    State next = State::completed(i);
    // Every fifth run gets a late snapshot: older than its stored Pending.
    next.timestamp = i % 5 == 0 ? t0 - 1s : t0 + 1s + std::chrono::microseconds(i);
    auto t = first[i];  // same tags
    t.state = next;
    t.name = "run-" + std::to_string(i) + (i % 5 == 0 ? "-late" : "-done");
    t.run_count = 1;
    second.push_back(t);
  }
  storage.write_batch(second, {});
  for (int i = 0; i < kRuns; ++i) {
    auto run = storage.read_task_run(ids[i]);
    ASSERT_TRUE(run.has_value()) << i;
    bool late = i % 5 == 0;
    EXPECT_EQ(run->name, "run-" + std::to_string(i) + (late ? "" : "-done")) << i;
    EXPECT_EQ(run->state.type, late ? StateType::kPending : StateType::kCompleted) << i;
    if (!late) {
      EXPECT_EQ(run->state.result, i) << i;
    }
    EXPECT_EQ(run->tags.size(), i % 3 == 0 ? 1u : 0u) << i;
    EXPECT_EQ(run->task_inputs.size(), i % 7 == 0 ? 1u : 0u) << i;
    EXPECT_EQ(run->cache_key, i % 11 == 0 ? "key-" + std::to_string(i) : "") << i;
    EXPECT_EQ(run->empirical_policy.retries, i % 13 == 0 ? 2 : 0) << i;
    auto states = storage.read_states(ids[i]);
    ASSERT_EQ(states.size(), 2u) << i;
    EXPECT_EQ(states[late ? 0 : 1].state.type, StateType::kCompleted) << i;
  }
  TaskRunFilter all;
  all.limit = 1000;
  EXPECT_EQ(storage.filter_task_runs(all).size(), static_cast<size_t>(kRuns));
}

// Finished runs alike in flow run, task key, state and run count, whose updated and end times are
// their state's timestamp and whose expected start is their creation (most of a map's runs), go
// through statements that bind those values once; runs that differ in any of them, or in their
// times, go through the others. Every run must read back with its own values either way, also
// across statements of different sizes in one batch and a second batch.
TEST(TaskRunHistory, RunsAlikeInTheirSharedColumnsReadBackWithTheirOwnValues) {
  SqliteStorage storage(fresh_db());
  constexpr int kRuns = 300;  // two full statements of 128 and halving ones, per kind
  const std::string flow_a = new_id(), flow_b = new_id();
  const TimePoint t0 = now();
  auto us = [&](int i) { return t0 + std::chrono::microseconds(i); };
  std::vector<TaskRunRecord> runs;
  for (int i = 0; i < kRuns; ++i) {
    State state = i % 17 == 0 ? State::failed("boom") : State::completed(i);
    state.timestamp = us(10 * i + 5);
    TaskRunRecord t = task_run(new_id(), state);
    t.flow_run_id = i % 10 == 0 ? flow_b : flow_a;
    if (i % 23 == 0) t.flow_run_id.clear();
    t.task_key = i % 9 == 0 ? "other-task" : "noop";
    t.name = "noop-" + std::to_string(i);
    t.dynamic_key = std::to_string(i);
    t.run_count = i % 31 == 0 ? 2 : 1;
    t.created = us(10 * i);
    t.expected_start_time = i % 19 == 0 ? us(10 * i + 1) : t.created;
    t.start_time = us(10 * i + 2);
    t.end_time = i % 29 == 0 ? us(10 * i + 4) : t.state.timestamp;
    t.updated = i % 37 == 0 ? us(10 * i + 3) : t.state.timestamp;
    t.total_run_time_s = 1e-6 * i;
    runs.push_back(t);
  }
  storage.write_batch(runs, {});
  // The same runs again, newer: their rows are updated through the same statements.
  std::vector<TaskRunRecord> again = runs;
  for (auto& t : again) {
    t.state.timestamp += std::chrono::seconds(1);
    t.updated = t.state.timestamp;
    t.end_time = t.state.timestamp;
  }
  storage.write_batch({again.begin(), again.begin() + 150}, {});
  for (int i = 0; i < kRuns; ++i) {
    const TaskRunRecord& want = i < 150 ? again[i] : runs[i];
    auto got = storage.read_task_run(want.id);
    ASSERT_TRUE(got.has_value()) << i;
    EXPECT_EQ(got->flow_run_id, want.flow_run_id) << i;
    EXPECT_EQ(got->task_key, want.task_key) << i;
    EXPECT_EQ(got->name, want.name) << i;
    EXPECT_EQ(got->dynamic_key, want.dynamic_key) << i;
    EXPECT_EQ(got->state.type, want.state.type) << i;
    EXPECT_EQ(got->state.name, want.state.name) << i;
    EXPECT_EQ(got->state.timestamp, want.state.timestamp) << i;
    EXPECT_EQ(got->run_count, want.run_count) << i;
    EXPECT_EQ(got->created, want.created) << i;
    EXPECT_EQ(got->updated, want.updated) << i;
    EXPECT_EQ(got->expected_start_time, want.expected_start_time) << i;
    EXPECT_EQ(got->start_time, want.start_time) << i;
    EXPECT_EQ(got->end_time, want.end_time) << i;
    EXPECT_DOUBLE_EQ(got->total_run_time_s, want.total_run_time_s) << i;
    EXPECT_EQ(storage.read_states(want.id).size(), i < 150 ? 2u : 1u) << i;
  }
  TaskRunFilter of_b;
  of_b.flow_run_id = flow_b;
  of_b.limit = kRuns;
  size_t in_b = 0;
  for (int i = 0; i < kRuns; ++i) in_b += i % 10 == 0 && i % 23 != 0;
  EXPECT_EQ(storage.filter_task_runs(of_b).size(), in_b);
}

TEST(TaskRunHistory, CacheLookupTakesNewestUnexpiredCompletedRunThroughItsIndex) {
  auto path = fresh_db();
  SqliteStorage storage(path);
  auto completed = [](int value, TimePoint ts, std::optional<TimePoint> expires) {
    State s = State::completed(value);
    s.timestamp = ts;
    s.cache_key = "shared";
    s.cache_expiration = expires;
    return s;
  };
  TimePoint t0 = now();
  storage.write_batch({task_run(new_id(), completed(1, t0, std::nullopt)),
                       task_run(new_id(), completed(2, t0 + 1s, t0 + 1h)),
                       task_run(new_id(), completed(3, t0 + 2s, t0 + 1min))},
                      {});
  State running = State::running();  // looked up with the key, not completed: never a hit
  running.cache_key = "shared";
  running.timestamp = t0 + 3s;
  storage.write_batch({task_run(new_id(), running)}, {});

  struct Case {
    TimePoint at;
    std::optional<int> want;
  };
  for (const auto& c : std::vector<Case>{{t0 + 10s, 3}, {t0 + 2min, 2}, {t0 + 2h, 1}}) {
    auto hit = storage.find_cached_state("shared", c.at);
    ASSERT_TRUE(hit.has_value());
    EXPECT_EQ(hit->result, *c.want);
    EXPECT_EQ(hit->cache_key, "shared");
  }
  EXPECT_FALSE(storage.find_cached_state("other", t0).has_value());

  sqlite::Connection db(path);
  auto& plan = db.prepare_cached(
      "EXPLAIN QUERY PLAN SELECT state_id, history FROM task_run WHERE cache_key = ? AND "
      "state_type = 'COMPLETED' AND (cache_expiration IS NULL OR cache_expiration > ?) "
      "ORDER BY state_timestamp DESC LIMIT 1");
  plan.bind(1, "shared").bind(2, int64_t{0});
  std::string detail;
  while (plan.step()) detail += plan.text(3) + "\n";
  EXPECT_NE(detail.find("ix_task_run_cache_key"), std::string::npos) << detail;
}

TEST(TaskRunHistory, MarkingTaskRunsAppendsToTheirHistory) {
  SqliteStorage storage(fresh_db());
  auto fr = testing::insert_test_flow_run(storage, "f", State::running());
  auto t = task_run(new_id(), State::running());
  t.flow_run_id = fr.id;
  storage.write_batch({task_run(t.id, State::pending()), t}, {});
  State crashed = State::crashed("process died");
  crashed.timestamp = now() + 1s;
  EXPECT_EQ(storage.set_task_runs_state(fr.id, {StateType::kRunning}, crashed), 1);
  auto states = storage.read_states(t.id);
  ASSERT_EQ(states.size(), 3u);
  EXPECT_EQ(states.back().state.type, StateType::kCrashed);
  EXPECT_EQ(states.back().state.message, "process died");
  auto run = storage.read_task_run(t.id);
  EXPECT_EQ(run->state.type, StateType::kCrashed);
  EXPECT_EQ(run->state.message, "process died");
  EXPECT_EQ(run->state.name, "Crashed");
}

// A database written before 0003 (0001 and 0002 applied, states in task_run_state) keeps every
// task-run state, its current state and its cache entry.
// A database written before the compact format keeps JSON lines in its histories: its runs read
// back exactly as they did, and new states append compact lines to them.
TEST(TaskRunHistory, RunsWithJsonLinesReadTheSameAndTakeCompactLines) {
  auto path = fresh_db();
  SqliteStorage storage(path);
  std::string id = new_id();
  TaskRunRows first;
  auto t = task_run(id, State::pending());
  t.state.timestamp = at_us(100);
  first.add(t);
  t.state = State::retrying();
  t.state.timestamp = at_us(200);
  t.state.message = "again";
  first.add(t);
  storage.write_task_runs(first, {}, {});
  auto states = storage.read_states(id);
  auto run = storage.read_task_run(id);
  ASSERT_EQ(states.size(), 2u);
  ASSERT_TRUE(run);

  // The same two states as the code before the compact format wrote them.
  std::string json_lines;
  for (const auto& row : states) {
    json_lines += R"({"id":")" + row.id + R"(","type":")" + std::string(to_string(row.state.type)) +
                  R"(","timestamp":)" +
                  std::to_string(row.state.timestamp.time_since_epoch().count());
    if (row.state.name != default_name(row.state.type))
      json_lines += R"(,"name":")" + row.state.name + '"';
    if (!row.state.message.empty()) json_lines += R"(,"message":")" + row.state.message + '"';
    json_lines += "}\n";
  }
  {
    sqlite::Connection db(path);
    db.prepare_cached("UPDATE task_run SET history = ? WHERE id = ?")
        .bind(1, json_lines)
        .bind(2, id)
        .run();
    auto& q = db.prepare_cached("SELECT history FROM task_run WHERE id = ?");
    q.bind(1, id);
    ASSERT_TRUE(q.step());
    ASSERT_EQ(q.text(0), json_lines);
    q.reset();
  }
  auto old_states = storage.read_states(id);
  ASSERT_EQ(old_states.size(), states.size());
  for (size_t i = 0; i < states.size(); ++i) {
    EXPECT_EQ(old_states[i].id, states[i].id) << i;
    expect_same_state(old_states[i].state, states[i].state, "json line " + std::to_string(i));
  }
  auto old_run = storage.read_task_run(id);
  ASSERT_TRUE(old_run);
  expect_same_state(old_run->state, run->state, "current state from a json line");
  EXPECT_EQ(nlohmann::json(*old_run), nlohmann::json(*run));

  TaskRunRows second;
  t.state = State::completed(7);
  t.state.timestamp = at_us(300);
  t.state.cache_key = "compact-key";
  second.add(t);
  storage.write_task_runs(second, {}, {});
  auto mixed = storage.read_states(id);
  ASSERT_EQ(mixed.size(), 3u);
  EXPECT_EQ(mixed[0].id, states[0].id);
  EXPECT_EQ(mixed[1].state.name, "Retrying");
  EXPECT_EQ(mixed[1].state.message, "again");
  EXPECT_EQ(mixed[2].state.type, StateType::kCompleted);
  auto now_run = storage.read_task_run(id);
  ASSERT_TRUE(now_run);
  EXPECT_EQ(now_run->state.result, 7);
  auto hit = storage.find_cached_state("compact-key", at_us(400));
  ASSERT_TRUE(hit.has_value());
  EXPECT_EQ(hit->result, 7);
}

TEST(TaskRunHistory, UpgradeMovesStateRowsIntoHistories) {
  auto path = fresh_db();
  std::string task_id = new_id(), other_id = new_id();
  std::string s1 = new_id(), s2 = new_id(), s3 = new_id(), s4 = new_id();
  {
    sqlite::Connection db(path);
    applied_migrations(db);
    for (const auto& m : embedded_migrations()) {
      if (m.version > 2 || m.dialect == "postgres") continue;
      db.exec(m.sql);
      db.prepare_cached(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, 0)")
          .bind(1, m.version)
          .bind(2, m.name)
          .run();
    }
    auto& run = db.prepare_cached(
        "INSERT INTO task_run (id, flow_run_id, task_key, name, state_id, state_type, "
        "state_name, state_timestamp, run_count, created, updated) "
        "VALUES (?, 'fr', 'k', ?, ?, ?, ?, ?, 1, 1, 1)");
    run.bind(1, task_id).bind(2, "old-task").bind(3, s3).bind(4, "COMPLETED").bind(5, "Completed");
    run.bind(6, int64_t{30}).run();
    run.bind(1, other_id).bind(2, "other").bind(3, s4).bind(4, "FAILED").bind(5, "Failed");
    run.bind(6, int64_t{40}).run();
    auto& state = db.prepare_cached(
        "INSERT INTO task_run_state (task_run_id, id, type, name, message, timestamp, data, "
        "cache_key, cache_expiration, retriable) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    // Inserted out of time order: the history must still read oldest first.
    state.bind(1, task_id).bind(2, s3).bind(3, "COMPLETED").bind(4, "Completed").bind(5, "");
    state.bind(6, int64_t{30}).bind(7, R"({"storage_key":"old-key"})").bind(8, "old-cache");
    state.bind(9, nullptr).bind(10, int64_t{1}).run();
    state.bind(1, task_id).bind(2, s1).bind(3, "PENDING").bind(4, "Pending").bind(5, "");
    state.bind(6, int64_t{10}).bind(7, nullptr).bind(8, nullptr).bind(9, nullptr);
    state.bind(10, int64_t{1}).run();
    state.bind(1, task_id).bind(2, s2).bind(3, "RUNNING").bind(4, "Retrying");
    state.bind(5, "said \"hi\"\nbye").bind(6, int64_t{20}).bind(7, nullptr).bind(8, "old-cache");
    state.bind(9, nullptr).bind(10, int64_t{1}).run();
    state.bind(1, other_id).bind(2, s4).bind(3, "FAILED").bind(4, "Failed").bind(5, "boom");
    state.bind(6, int64_t{40}).bind(7, nullptr).bind(8, nullptr).bind(9, nullptr);
    state.bind(10, int64_t{0}).run();
  }

  SqliteStorage storage(path);
  auto states = storage.read_states(task_id);
  ASSERT_EQ(states.size(), 3u);
  EXPECT_EQ(states[0].id, s1);
  EXPECT_EQ(states[1].id, s2);
  EXPECT_EQ(states[2].id, s3);
  EXPECT_EQ(states[1].state.name, "Retrying");
  EXPECT_EQ(states[1].state.message, "said \"hi\"\nbye");
  EXPECT_EQ(states[1].state.timestamp, at_us(20));
  EXPECT_EQ(states[2].state.result, nlohmann::json({{"storage_key", "old-key"}}));
  EXPECT_TRUE(states[0].state.result.is_null());
  auto run = storage.read_task_run(task_id);
  ASSERT_TRUE(run.has_value());
  EXPECT_EQ(run->name, "old-task");
  EXPECT_EQ(run->state.type, StateType::kCompleted);
  EXPECT_EQ(run->state.result, nlohmann::json({{"storage_key", "old-key"}}));
  auto hit = storage.find_cached_state("old-cache", at_us(100));
  ASSERT_TRUE(hit.has_value());
  EXPECT_EQ(hit->result, nlohmann::json({{"storage_key", "old-key"}}));
  auto other = storage.read_states(other_id);
  ASSERT_EQ(other.size(), 1u);
  EXPECT_EQ(other[0].state.message, "boom");
  EXPECT_FALSE(other[0].state.retriable);

  sqlite::Connection db(path);
  auto& q = db.prepare_cached("SELECT COUNT(*) FROM sqlite_master WHERE name = 'task_run_state'");
  ASSERT_TRUE(q.step());
  EXPECT_EQ(q.int64(0), 0);
  q.reset();

  // New states append to the migrated history.
  State crashed = State::crashed("later");
  crashed.timestamp = at_us(50);
  storage.write_batch({task_run(other_id, crashed)}, {});
  auto after = storage.read_states(other_id);
  ASSERT_EQ(after.size(), 2u);
  EXPECT_EQ(after[0].id, s4);
  EXPECT_EQ(after[1].state.message, "later");
}

}  // namespace
}  // namespace baton::storage
