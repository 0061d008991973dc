#include "storage/sqlite/sqlite_storage.h"

#include <algorithm>
#include <array>
#include <set>
#include <unordered_map>

#include "model/ids.h"
#include "storage/migrations.h"
#include "storage/sqlite/sqlite_dialect.h"
#include "storage/state_history.h"

namespace baton::storage {

namespace {
using nlohmann::json;
using sqlite::Statement;

int64_t micros(TimePoint t) { return t.time_since_epoch().count(); }
std::optional<int64_t> micros(const std::optional<TimePoint>& t) {
  if (!t) return std::nullopt;
  return micros(*t);
}
TimePoint time_at(int64_t us) { return TimePoint(std::chrono::microseconds(us)); }
std::optional<TimePoint> optional_time(const Statement& s, int column) {
  if (s.is_null(column)) return std::nullopt;
  return time_at(s.int64(column));
}
// Most runs have no parameters, no tags and the default retry policy, and every flow-run
// transition reads its run: those values are recognised by their text instead of parsed (parsing
// the default policy alone took 11,000 instructions, a tenth of a transition's work outside the
// kernel), and written as fixed text.
const std::string& default_policy_text() {
  static const std::string& text = *new std::string(json(RetryPolicy{}).dump());
  return text;
}
std::string policy_text(const RetryPolicy& p) {
  if (p.retries == 0 && p.retry_delays_s.empty() && p.retry_jitter_factor == 0)
    return default_policy_text();
  return json(p).dump();
}
std::string tags_text(const std::vector<std::string>& tags) {
  return tags.empty() ? std::string("[]") : json(tags).dump();
}

json parse_json(const std::string& text, json fallback) {
  if (text.empty()) return fallback;
  if (text == "{}") return json::object();
  return json::parse(text, nullptr, /*allow_exceptions=*/false);
}
std::vector<std::string> parse_tags(const std::string& text) {
  if (text == "[]") return {};
  auto j = parse_json(text, json::array());
  std::vector<std::string> out;
  if (j.is_array())
    for (const auto& t : j)
      if (t.is_string()) out.push_back(t.get<std::string>());
  return out;
}
RetryPolicy parse_policy(const std::string& text) {
  RetryPolicy p;
  if (text == default_policy_text()) return p;
  auto j = parse_json(text, json::object());
  if (j.is_object()) from_json(j, p);
  return p;
}

// --- states -------------------------------------------------------------------------------------

// The state columns, in this order, in both state tables and in the run selects below.
constexpr std::string_view kStateColumns =
    "type, name, message, timestamp, scheduled_time, data, cache_key, cache_expiration, "
    "retriable, transition_id";

// Binds state fields to parameters first..first+9 (kStateColumns order).
void bind_state(Statement& s, int first, const State& state, std::string_view transition_id,
                std::string& data_buffer) {
  s.bind_view(first, to_string(state.type));
  s.bind_view(first + 1,
              state.name.empty() ? default_name(state.type) : std::string_view(state.name));
  s.bind_view(first + 2, state.message);
  s.bind(first + 3, micros(state.timestamp));
  s.bind(first + 4, micros(state.scheduled_time));
  if (state.result.is_null()) {
    s.bind(first + 5, nullptr);
  } else {
    data_buffer = state.result.dump();
    s.bind_view(first + 5, data_buffer);
  }
  s.bind_view_or_null(first + 6, state.cache_key);
  s.bind(first + 7, micros(state.cache_expiration));
  s.bind(first + 8, state.retriable);
  s.bind_view_or_null(first + 9, transition_id);
}

// Reads kStateColumns starting at `first`; nullopt when the run has no state (LEFT JOIN).
std::optional<State> read_state(const Statement& s, int first) {
  if (s.is_null(first)) return std::nullopt;
  State state;
  auto type = state_type_from_string(s.text(first));
  state.type = type.value_or(StateType::kPending);
  state.name = s.text(first + 1);
  state.message = s.text(first + 2);
  state.timestamp = time_at(s.int64(first + 3));
  state.scheduled_time = optional_time(s, first + 4);
  if (!s.is_null(first + 5)) state.result = parse_json(s.text(first + 5), nullptr);
  state.cache_key = s.text(first + 6);
  state.cache_expiration = optional_time(s, first + 7);
  state.retriable = s.is_null(first + 8) || s.int64(first + 8) != 0;
  return state;
}

Statement& insert_flow_run_state_statement(sqlite::Connection& db) {
  // Never destroyed, as every SQL text built at first use here: the group-commit writer may
  // still be committing a final flush while static destructors run at exit.
  static const std::string& kInsertFlowRunState = *new std::string(
      "INSERT INTO flow_run_state (id, flow_run_id, " + std::string(kStateColumns) +
      ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  return db.prepare_cached(kInsertFlowRunState);
}

void insert_flow_run_state(sqlite::Connection& db, const std::string& state_id,
                           const std::string& run_id, const State& state,
                           std::string_view transition_id) {
  auto& insert = insert_flow_run_state_statement(db);
  std::string data;
  insert.bind_view(1, state_id).bind_view(2, run_id);
  bind_state(insert, 3, state, transition_id, data);
  insert.run();
}

// --- flow runs ----------------------------------------------------------------------------------

constexpr std::string_view kFlowRunSelect =
    "SELECT r.id, r.flow_id, r.flow_name, r.name, r.deployment_id, r.parent_task_run_id, "
    "r.idempotency_key, r.parameters, r.tags, r.empirical_policy, r.run_count, r.created, "
    "r.updated, r.expected_start_time, r.start_time, r.end_time, r.total_run_time, "
    "r.infrastructure_pid, r.next_scheduled_start_time, s.type, s.name, s.message, s.timestamp, "
    "s.scheduled_time, s.data, s.cache_key, s.cache_expiration, s.retriable, s.transition_id "
    "FROM flow_run r LEFT JOIN flow_run_state s ON s.flow_run_id = r.id AND s.id = r.state_id";
constexpr int kFlowRunStateColumn = 19;

FlowRunRecord read_flow_run_row(const Statement& s) {
  FlowRunRecord r;
  r.id = s.text(0);
  r.flow_id = s.text(1);
  r.flow_name = s.text(2);
  r.name = s.text(3);
  r.deployment_id = s.text(4);
  r.parent_task_run_id = s.text(5);
  r.idempotency_key = s.text(6);
  r.parameters = parse_json(s.text(7), json::object());
  r.tags = parse_tags(s.text(8));
  r.empirical_policy = parse_policy(s.text(9));
  r.run_count = static_cast<int>(s.int64(10));
  r.created = time_at(s.int64(11));
  r.updated = time_at(s.int64(12));
  r.expected_start_time = optional_time(s, 13);
  r.start_time = optional_time(s, 14);
  r.end_time = optional_time(s, 15);
  r.total_run_time_s = s.real(16);
  r.infrastructure_pid = s.text(17);
  r.next_scheduled_start_time = optional_time(s, 18);
  if (auto state = read_state(s, kFlowRunStateColumn)) r.state = std::move(*state);
  return r;
}

// The flow whose `column` (id or name, both unique) equals `value`.
std::optional<FlowRecord> select_flow(sqlite::Connection& db, std::string_view column,
                                      const std::string& value) {
  auto& q = db.prepare_cached("SELECT id, name, tags, created FROM flow WHERE " +
                              std::string(column) + " = ?");
  q.bind(1, value);
  std::optional<FlowRecord> out;
  if (q.step()) out = FlowRecord{q.text(0), q.text(1), parse_tags(q.text(2)), time_at(q.int64(3))};
  q.reset();
  return out;
}

// A run with its current state's transition id and its rowid (so that an UPDATE finds the row
// directly instead of searching the id index a second time).
std::optional<StoredFlowRun> select_stored_flow_run(sqlite::Connection& db, const std::string& id) {
  static const std::string& kSql = *new std::string(
      std::string(kFlowRunSelect).insert(kFlowRunSelect.find(" FROM "), ", r.rowid") +
      " WHERE r.id = ?");
  auto& q = db.prepare_cached(kSql);
  q.bind_view(1, id);
  if (!q.step()) {
    q.reset();
    return std::nullopt;
  }
  std::optional<StoredFlowRun> out{StoredFlowRun{
      read_flow_run_row(q), q.text(kFlowRunStateColumn + 9), q.int64(kFlowRunStateColumn + 10)}};
  q.reset();
  return out;
}

// The run cache of write_flow_runs (SqliteStorage::run_cache_): what a read of a run's rows would
// return, kept for the runs written last.
using RunCache = std::unordered_map<std::string, StoredFlowRun>;
// Runs in flight (a run leaves the cache when it ends); a full cache starts over.
constexpr size_t kRunCacheLimit = 1024;

void remember(RunCache& cache, const std::string& id, StoredFlowRun entry) {
  if (cache.size() >= kRunCacheLimit) cache.clear();
  cache.insert_or_assign(id, std::move(entry));
}

// `state` as read_state returns it from the row insert_flow_run_state writes for it; nullopt
// when it holds a result (a JSON round trip need not give back the same value), which leaves its
// run out of the cache.
std::optional<State> stored_state(const State& state) {
  if (!state.result.is_null()) return std::nullopt;
  State out;
  out.type = state.type;
  out.name = state.name.empty() ? std::string(default_name(state.type)) : state.name;
  out.message = state.message;
  out.timestamp = state.timestamp;
  out.scheduled_time = state.scheduled_time;
  out.cache_key = state.cache_key;
  out.cache_expiration = state.cache_expiration;
  out.retriable = state.retriable;
  return out;
}

// --- task runs ----------------------------------------------------------------------------------

// The current state is the history entry whose id is state_id (see state_history.h).
constexpr std::string_view kTaskRunSelect =
    "SELECT r.id, r.flow_run_id, r.task_key, r.name, r.dynamic_key, r.cache_key, "
    "r.cache_expiration, r.task_inputs, r.tags, r.empirical_policy, r.run_count, r.created, "
    "r.updated, r.expected_start_time, r.start_time, r.end_time, r.total_run_time, "
    "r.state_id, r.history FROM task_run r";
constexpr int kTaskRunStateIdColumn = 17;

TaskRunRecord read_task_run_row(const Statement& s) {
  TaskRunRecord r;
  r.id = s.text(0);
  r.flow_run_id = s.text(1);
  r.task_key = s.text(2);
  r.name = s.text(3);
  r.dynamic_key = s.text(4);
  r.cache_key = s.text(5);
  r.cache_expiration = optional_time(s, 6);
  r.task_inputs = parse_json(s.text(7), json::object());
  r.tags = parse_tags(s.text(8));
  r.empirical_policy = parse_policy(s.text(9));
  r.run_count = static_cast<int>(s.int64(10));
  r.created = time_at(s.int64(11));
  r.updated = time_at(s.int64(12));
  r.expected_start_time = optional_time(s, 13);
  r.start_time = optional_time(s, 14);
  r.end_time = optional_time(s, 15);
  r.total_run_time_s = s.real(16);
  if (auto row = find_history_entry(s.text_view(kTaskRunStateIdColumn + 1),
                                    s.text_view(kTaskRunStateIdColumn)))
    r.state = std::move(row->state);
  return r;
}

// --- filters ------------------------------------------------------------------------------------

// A WHERE clause under construction with its bound values, bound in order.
struct Where {
  std::string sql;
  std::vector<std::function<void(Statement&, int)>> binds;

  void add(const std::string& condition) { sql += (sql.empty() ? " WHERE " : " AND ") + condition; }
  template <typename T>
  void bind(T value) {
    binds.push_back([v = std::move(value)](Statement& s, int i) { s.bind(i, v); });
  }
  void in(const std::string& column, const std::vector<std::string>& values) {
    if (values.empty()) return;
    std::string marks;
    for (size_t i = 0; i < values.size(); ++i) marks += i ? ", ?" : "?";
    add(column + " IN (" + marks + ")");
    for (const auto& v : values) bind(v);
  }
  // `column >= low` and `column <= high`, each only when given: Prefect's inclusive bounds.
  void range(const std::string& column, std::optional<int64_t> low, std::optional<int64_t> high) {
    if (low) {
      add(column + " >= ?");
      bind(*low);
    }
    if (high) {
      add(column + " <= ?");
      bind(*high);
    }
  }
  void state_types(const std::string& column, const std::vector<StateType>& types) {
    std::vector<std::string> names;
    for (auto t : types) names.emplace_back(to_string(t));
    in(column, names);
  }
  void tags(const std::string& column, const std::vector<std::string>& tags) {
    for (const auto& t : tags) {
      add(sqlite_dialect::json_array_contains(column));
      bind(t);
    }
  }
  // Binds the values from parameter `first` on; returns the next parameter's index.
  int apply(Statement& s, int first = 1) const {
    int i = first;
    for (const auto& b : binds) b(s, i++);
    return i;
  }
  // This clause with `condition` added (for a query that uses it twice).
  std::string sql_and(const std::string& condition) const {
    return sql + (sql.empty() ? " WHERE " : " AND ") + condition;
  }
};

// COUNT(*) of the rows of `table` (aliased r, as the filters expect) that `w` selects.
int64_t count_matching(sqlite::Connection& db, std::string_view table, const Where& w) {
  auto q = db.prepare("SELECT COUNT(*) FROM " + std::string(table) + " r" + w.sql);
  w.apply(*q);
  q->step();
  return q->int64(0);
}

void check_page(int limit, int offset) {
  if (limit < 0)
    throw invalid_argument("limit must be 0 or more, got " + std::to_string(limit), "limit");
  if (offset < 0)
    throw invalid_argument("offset must be 0 or more, got " + std::to_string(offset), "offset");
}

struct SortOption {
  std::string_view name;
  std::string_view order_by;
};

std::string order_by(std::string_view sort, std::initializer_list<SortOption> options) {
  std::string expected;
  for (const auto& o : options) {
    if (o.name == sort) return " ORDER BY " + std::string(o.order_by);
    expected += (expected.empty() ? "" : ", ") + std::string(o.name);
  }
  throw invalid_argument("unknown sort '" + std::string(sort) + "'; expected one of " + expected,
                         "sort");
}

std::string flow_run_order(std::string_view sort) {
  return order_by(
      sort, {
                {"EXPECTED_START_TIME_DESC", "r.expected_start_time DESC NULLS LAST, r.id DESC"},
                {"EXPECTED_START_TIME_ASC", "r.expected_start_time ASC NULLS LAST, r.id ASC"},
                {"START_TIME_DESC", "r.start_time DESC NULLS LAST, r.id DESC"},
                {"START_TIME_ASC", "r.start_time ASC NULLS LAST, r.id ASC"},
                {"END_TIME_DESC", "r.end_time DESC NULLS LAST, r.id DESC"},
                {"CREATED_DESC", "r.created DESC, r.id DESC"},
                {"CREATED_ASC", "r.created ASC, r.id ASC"},
                {"NAME_ASC", "r.name ASC, r.id ASC"},
                {"NAME_DESC", "r.name DESC, r.id DESC"},
                {"ID_DESC", "r.id DESC"},
                {"ID_ASC", "r.id ASC"},
            });
}

std::string task_run_order(std::string_view sort) {
  return order_by(
      sort, {
                {"EXPECTED_START_TIME_DESC", "r.expected_start_time DESC NULLS LAST, r.id DESC"},
                {"EXPECTED_START_TIME_ASC", "r.expected_start_time ASC NULLS LAST, r.id ASC"},
                {"START_TIME_DESC", "r.start_time DESC NULLS LAST, r.id DESC"},
                {"END_TIME_DESC", "r.end_time DESC NULLS LAST, r.id DESC"},
                {"CREATED_DESC", "r.created DESC, r.id DESC"},
                {"CREATED_ASC", "r.created ASC, r.id ASC"},
                {"NAME_ASC", "r.name ASC, r.id ASC"},
                {"ID_DESC", "r.id DESC"},
                {"ID_ASC", "r.id ASC"},
            });
}

Where flow_run_where(const FlowRunFilter& f) {
  Where w;
  w.in("r.id", f.ids);
  w.in("r.flow_name", f.flow_names);
  w.state_types("r.state_type", f.state_types);
  w.in("r.state_name", f.state_names);
  w.tags("r.tags", f.tags);
  if (!f.parent_task_run_id.empty()) {
    w.add("r.parent_task_run_id = ?");
    w.bind(f.parent_task_run_id);
  }
  if (!f.deployment_id.empty()) {
    w.add("r.deployment_id = ?");
    w.bind(f.deployment_id);
  }
  w.range("r.start_time", micros(f.start_time_after), micros(f.start_time_before));
  w.range("r.expected_start_time", micros(f.expected_start_time_after),
          micros(f.expected_start_time_before));
  w.range("r.next_scheduled_start_time", std::nullopt, micros(f.next_scheduled_start_time_before));
  return w;
}

Where task_run_where(const TaskRunFilter& f) {
  Where w;
  w.in("r.id", f.ids);
  if (!f.flow_run_id.empty()) {
    w.add("r.flow_run_id = ?");
    w.bind(f.flow_run_id);
  }
  w.state_types("r.state_type", f.state_types);
  w.in("r.state_name", f.state_names);
  w.tags("r.tags", f.tags);
  return w;
}

// --- batch writes -------------------------------------------------------------------------------

// One row write per task run per batch: the run's states of this batch are appended to its
// history whatever their age, but the current-state columns (and the other mutable fields) take
// the snapshot's values only when it is not older than the stored one, so a late batch from
// another writer cannot overwrite a newer state. (SET expressions all read the stored row.)
// `rows` runs per statement: a multi-row VALUES list pays the statement's fixed cost (start,
// bindings reset, statement journal) once for all of them. The statement journal copies every
// page the statement touches that the transaction had already changed (the last page of the
// table and of each index: three pages), so 128 rows per statement rather than 16 took about a
// fifth fewer instructions per row written (callgrind, bench_storage, at 16 KiB pages); 128 x 22
// parameters stay well under SQLite's limit of 32,766.
//
// Most task runs have no cache key and default inputs, tags and retry policy: their rows go
// through a statement that has those five columns as literals (NULL, NULL, '{}', '[]', '{}'), so
// each binds 17 parameters instead of 22 (a bound text value costs about 180 instructions inside
// SQLite).
//
// Most of those in turn are finished runs of one task in one flow run, written with their last
// state: a batch of a map's runs is thousands of Completed rows alike in their flow run, task key,
// state type and name and run count, whose `updated` and `end_time` are the state's timestamp and
// whose `expected_start_time` is their creation time. Such rows (`RowKind::kShared`, alike in
// those five values with the first such row of the batch) go through statements that bind those
// five once per statement (parameters ?1-?5) and refer to a row's own timestamps by number
// (`?n` used twice), so each row binds 9 parameters instead of 17.
constexpr int kUpsertColumns = 22;
constexpr int kPlainColumns = 17;
constexpr int kSharedColumns = 9;  // per row; the statement's five shared ones come first
constexpr int kSharedParameters = 5;
constexpr int kUpsertRows = 128;
constexpr int kUpsertSizes = 8;  // statements of 128, 64, ... 1 rows
static_assert(kUpsertRows >> (kUpsertSizes - 1) == 1);
enum class RowKind { kFull = 0, kPlain = 1, kShared = 2 };
constexpr int kRowKinds = 3;
constexpr int kColumnsOf[kRowKinds] = {kUpsertColumns, kPlainColumns, kSharedColumns};  // per row

std::string upsert_task_run_sql(int rows, RowKind kind) {
  std::string out =
      "INSERT INTO task_run (id, flow_run_id, task_key, name, dynamic_key, cache_key, "
      "cache_expiration, task_inputs, tags, empirical_policy, state_id, state_type, state_name, "
      "state_timestamp, run_count, created, updated, expected_start_time, start_time, end_time, "
      "total_run_time, history) VALUES ";
  for (int r = 0; r < rows; ++r) {
    out += r ? ", (" : "(";
    if (kind == RowKind::kShared) {
      // ?1 flow_run_id, ?2 task_key, ?3 state_type, ?4 state_name, ?5 run_count; then per row
      // (base + 1...9): id, name, dynamic_key, state_id, state_timestamp, created, start_time,
      // total_run_time, history. A plain `?` takes the next number, so only what must be named
      // is: the first row's id (after ?1-?5) and the two values used twice. (Every `?NNN` is
      // added to a list that SQLite's parser searches linearly for each reuse: naming every
      // parameter made preparing a 128-row statement cost several million instructions.)
      const int base = kSharedParameters + r * kSharedColumns;
      auto p = [base](int i) { return "?" + std::to_string(base + i); };
      const std::string timestamp = p(5), created = p(6);
      out += (r == 0 ? p(1) : "?") + ", ?1, ?2, ?, ?, NULL, NULL, '{}', '[]', '{}', ?, ?3, ?4, " +
             timestamp + ", ?5, " + created + ", " + timestamp + ", " + created + ", ?, " +
             timestamp + ", ?, ?";
    } else if (kind == RowKind::kPlain) {
      out += "?, ?, ?, ?, ?, NULL, NULL, '{}', '[]', '{}', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?";
    } else {
      for (int c = 0; c < kUpsertColumns; ++c) out += c ? ", ?" : "?";
    }
    out += ')';
  }
  out += " ON CONFLICT (id) DO UPDATE SET history = task_run.history || excluded.history";
  for (std::string_view column :
       {"name", "cache_key", "cache_expiration", "task_inputs", "tags", "empirical_policy",
        "state_id", "state_type", "state_name", "state_timestamp", "run_count", "updated",
        "expected_start_time", "start_time", "end_time", "total_run_time"}) {
    std::string c(column);
    out += ", " + c +
           " = CASE WHEN task_run.state_timestamp IS NULL OR "
           "excluded.state_timestamp >= task_run.state_timestamp THEN excluded." +
           c + " ELSE task_run." + c + " END";
  }
  return out;
}

// True when the row's cache key, inputs, tags and retry policy are the defaults TaskRunRows
// encodes as literals.
bool is_plain(const TaskRunRow& r) {
  return r.cache_key.empty() && !r.cache_expiration && r.task_inputs == "{}" && r.tags == "[]" &&
         r.empirical_policy == "{}";
}

// True when a plain row's times are what a shared statement writes from fewer parameters.
bool has_shared_times(const TaskRunRow& r) {
  return r.updated == r.state_timestamp && r.end_time == r.state_timestamp && r.created &&
         r.expected_start_time == r.created;
}

// True when two rows that have shared times are alike in the shared statement's parameters ?1-?5.
bool alike(const TaskRunRow& a, const TaskRunRow& b) {
  return a.state_type == b.state_type && a.run_count == b.run_count &&
         a.flow_run_id == b.flow_run_id && a.task_key == b.task_key && a.state_name == b.state_name;
}

// Binds one row of the upsert at parameters base+1..base+kUpsertColumns (kPlainColumns for a
// plain statement, whose literals stand for the five default columns; kSharedColumns for a shared
// one, after its kSharedParameters). The row's views must outlive the step.
void bind_task_run(Statement& s, int base, const TaskRunRow& r, int64_t now_us, RowKind kind) {
  if (kind == RowKind::kShared) {
    base += kSharedParameters;
    s.bind_view(base + 1, r.id);
    s.bind_view(base + 2, r.name);
    s.bind_view(base + 3, r.dynamic_key);
    s.bind_view(base + 4, r.state_id);
    s.bind(base + 5, r.state_timestamp);
    s.bind(base + 6, *r.created);
    s.bind(base + 7, r.start_time);
    s.bind(base + 8, r.total_run_time_s);
    s.bind_view(base + 9, r.history);
    return;
  }
  s.bind_view(base + 1, r.id);
  s.bind_view_or_null(base + 2, r.flow_run_id);
  s.bind_view(base + 3, r.task_key);
  s.bind_view(base + 4, r.name);
  s.bind_view(base + 5, r.dynamic_key);
  if (kind == RowKind::kFull) {
    s.bind_view_or_null(base + 6, r.cache_key);
    s.bind(base + 7, r.cache_expiration);
    s.bind_view(base + 8, r.task_inputs);
    s.bind_view(base + 9, r.tags);
    s.bind_view(base + 10, r.empirical_policy);
  } else {
    base -= kUpsertColumns - kPlainColumns;
  }
  s.bind_view(base + 11, r.state_id);
  s.bind_view(base + 12, to_string(r.state_type));
  s.bind_view(base + 13, r.state_name);
  s.bind(base + 14, r.state_timestamp);
  s.bind(base + 15, r.run_count);
  s.bind(base + 16, r.created.value_or(now_us));
  s.bind(base + 17, r.updated.value_or(now_us));
  s.bind(base + 18, r.expected_start_time);
  s.bind(base + 19, r.start_time);
  s.bind(base + 20, r.end_time);
  s.bind(base + 21, r.total_run_time_s);
  s.bind_view(base + 22, r.history);
}

// Binds a shared statement's parameters ?1-?5 from one of its rows.
void bind_shared(Statement& s, const TaskRunRow& r) {
  s.bind_view_or_null(1, r.flow_run_id);
  s.bind_view(2, r.task_key);
  s.bind_view(3, to_string(r.state_type));
  s.bind_view(4, r.state_name);
  s.bind(5, r.run_count);
}

}  // namespace

namespace {
// WAL checkpoints: the group-commit writer takes one when it is idle (past kCheckpointIdleBytes),
// so a burst of task states is not slowed by copying pages back into the database, and hands one
// to the checkpointer thread past kCheckpointBusyBytes; flow-run commits hand one to the
// checkpointer past kCheckpointIdleBytes. The checkpointer also starts the WAL over past
// wal_restart_bytes_ (see the header).
constexpr int64_t kCheckpointIdleBytes = 4'096'000;
constexpr int64_t kCheckpointBusyBytes = int64_t{64} << 20;
// restart_wal() holds the writers back only once a checkpoint beside them leaves less than this.
constexpr int64_t kRestartLeftBytes = int64_t{1} << 20;

sqlite::ConnectionOptions manual_checkpoints(sqlite::ConnectionOptions options, int cache_size) {
  options.wal_autocheckpoint = 0;
  if (cache_size) options.cache_size = cache_size;
  return options;
}

}  // namespace

SqliteStorage::SqliteStorage(const std::string& path, sqlite::ConnectionOptions options)
    : path_(path),
      options_(options),
      main_(path, manual_checkpoints(options, 0)),
      // 8 MiB page cache: task runs are appended (UUIDv7 ids), so a batch touches the last pages
      // of the table and its indexes and those of the last few batches (runs held back).
      // 64 MiB took the same instructions per task (callgrind, bench_task_rows, with and without
      // runs written twice) but grew over a W2 run, 14,000 page faults of fresh memory per
      // 100,000 tasks against 2,300.
      batch_(path, manual_checkpoints(options, -8192)) {
  main_.share_write_lock(write_mutex_);
  batch_.share_write_lock(write_mutex_);
  migrate_sqlite(main_);
  set_wal_restart_bytes(kWalRestartBytes);
}

void SqliteStorage::set_wal_restart_bytes(int64_t bytes) {
  // A WAL file that grew past the bound while the checkpointer caught up is cut back to it when
  // the WAL starts over (by whichever connection writes first).
  std::string limit = "PRAGMA journal_size_limit=" + std::to_string(bytes);
  {
    std::lock_guard lock(main_mutex_);
    main_.exec(limit);
  }
  {
    std::lock_guard lock(batch_mutex_);
    batch_.exec(limit);
  }
  wal_restart_bytes_ = bytes;
}

void SqliteStorage::on_writer_idle() {
  std::lock_guard lock(batch_mutex_);
  if (batch_.wal_bytes() > kCheckpointIdleBytes) batch_.checkpoint();
}

void SqliteStorage::after_main_commit() {
  if (main_.wal_bytes() > kCheckpointIdleBytes) request_checkpoint();
}

void SqliteStorage::request_checkpoint() {
  std::lock_guard lock(checkpoint_mutex_);
  if (!checkpointer_.joinable()) {
    // A short busy timeout: the last pass of restart_wal() holds this process's writers back,
    // and another process that keeps it waiting just means "next time".
    checkpointer_db_ = std::make_unique<sqlite::Connection>(
        path_, manual_checkpoints({.busy_timeout = std::chrono::milliseconds(100)}, 0));
    checkpointer_ = std::thread([this] { run_checkpointer(); });
  }
  // Asked already: it checkpoints at its next turn. (A notify per commit would wake it from its
  // pause for nothing: a futex wake and a context switch per request.)
  if (checkpoint_wanted_) return;
  checkpoint_wanted_ = true;
  checkpoint_cv_.notify_one();
}

void SqliteStorage::run_checkpointer() {
  std::unique_lock lock(checkpoint_mutex_);
  for (;;) {
    checkpoint_cv_.wait(lock, [&] { return checkpoint_wanted_ || checkpointer_stop_; });
    if (checkpointer_stop_) return;
    checkpoint_wanted_ = false;
    lock.unlock();
    auto done = checkpointer_db_->checkpoint();
    if (done.wal_bytes > wal_restart_bytes_.load(std::memory_order_relaxed)) restart_wal();
    lock.lock();
    // At most one checkpoint per interval: under a steady stream of commits each one copies
    // what the last left, instead of the thread spinning on a WAL that is always growing.
    checkpoint_cv_.wait_for(lock, std::chrono::milliseconds(20),
                            [&] { return checkpointer_stop_; });
  }
}

void SqliteStorage::restart_wal() {
  // What a checkpoint beside the writers leaves is what they committed while it ran, so a few
  // passes shrink it to a few commits' pages. Only those are copied with the writers held back:
  // that last pass costs them two fsyncs (the WAL's new pages, then the database) and the copy,
  // 1-3 ms on this machine when idle, once per wal_restart_bytes_ of commits. The last pass runs
  // even when one beside the writers copied everything: a write already under way then had begun
  // before the WAL was whole in the database, and SQLite starts the WAL over only at the start of
  // a write that finds it so. With the writers held back, the next write is such a one (unless a
  // reader of an older snapshot, or another process, keeps pages from being copied: next time).
  for (int pass = 0; pass < 3; ++pass)
    if (checkpointer_db_->checkpoint().left_bytes <= kRestartLeftBytes) break;
  std::lock_guard writers(write_mutex_);
  checkpointer_db_->checkpoint();
}

SqliteStorage::~SqliteStorage() {
  {
    std::lock_guard lock(checkpoint_mutex_);
    checkpointer_stop_ = true;
  }
  checkpoint_cv_.notify_all();
  if (checkpointer_.joinable()) checkpointer_.join();
}

FlowRecord SqliteStorage::upsert_flow(const std::string& name,
                                      const std::vector<std::string>& tags) {
  if (name.empty()) throw invalid_argument("a flow needs a name", "name");
  std::lock_guard lock(main_mutex_);
  return main_.write_transaction([&] {
    auto now_us = micros(now());
    auto& s = main_.prepare_cached(
        "INSERT INTO flow (id, name, tags, created, updated) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (name) DO UPDATE SET tags = CASE WHEN excluded.tags = '[]' THEN flow.tags "
        "ELSE excluded.tags END, updated = excluded.updated "
        "RETURNING id, name, tags, created");
    s.bind(1, new_id()).bind(2, name).bind(3, json(tags).dump()).bind(4, now_us).bind(5, now_us);
    if (!s.step()) throw Error(ErrorKind::kInternal, "flow upsert returned no row");
    FlowRecord f{s.text(0), s.text(1), parse_tags(s.text(2)), time_at(s.int64(3))};
    s.reset();
    return f;
  });
}

std::vector<FlowRecord> SqliteStorage::list_flows(int limit, int offset) {
  check_page(limit, offset);
  std::lock_guard lock(main_mutex_);
  auto& q = main_.prepare_cached(
      "SELECT id, name, tags, created FROM flow ORDER BY name ASC LIMIT ? OFFSET ?");
  q.bind(1, limit).bind(2, offset);
  std::vector<FlowRecord> out;
  while (q.step())
    out.push_back({q.text(0), q.text(1), parse_tags(q.text(2)), time_at(q.int64(3))});
  q.reset();
  return out;
}

std::optional<FlowRecord> SqliteStorage::read_flow_by_name(const std::string& name) {
  std::lock_guard lock(main_mutex_);
  return select_flow(main_, "name", name);
}

namespace {
// Writes `events` (EventRow or EventView) into the event table inside the caller's transaction on
// `db`. Large batches (a task-run batch has an event per state) go kEventsPerStatement rows per
// INSERT: one statement step per row cost as much as the row itself.
constexpr size_t kEventsPerStatement = 16;

const std::string& insert_events_sql(size_t rows) {
  static const std::string& one = *new std::string(
      "INSERT INTO event (id, occurred, event, resource_id, resource, related, payload, "
      "received) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING");
  static const std::string& many = *new std::string([] {
    std::string sql =
        "INSERT INTO event (id, occurred, event, resource_id, resource, related, payload, "
        "received) VALUES ";
    for (size_t i = 0; i < kEventsPerStatement; ++i)
      sql += i ? ", (?, ?, ?, ?, ?, ?, ?, ?)" : "(?, ?, ?, ?, ?, ?, ?, ?)";
    return sql + " ON CONFLICT (id) DO NOTHING";
  }());
  return rows == 1 ? one : many;
}

template <typename Row>
void insert_events(sqlite::Connection& db, const std::vector<Row>& events) {
  if (events.empty()) return;
  int64_t received = micros(now());
  auto bind = [&](Statement& s, int first, const Row& e) {
    s.bind_view(first, e.id)
        .bind(first + 1, micros(e.occurred))
        .bind_view(first + 2, e.event)
        .bind_view(first + 3, e.resource_id)
        .bind_view(first + 4, e.resource)
        .bind_view(first + 5, e.related)
        .bind_view(first + 6, e.payload)
        .bind(first + 7, received);
  };
  size_t i = 0;
  if (events.size() >= kEventsPerStatement) {
    auto& many = db.prepare_cached(insert_events_sql(kEventsPerStatement));
    for (; i + kEventsPerStatement <= events.size(); i += kEventsPerStatement) {
      for (size_t k = 0; k < kEventsPerStatement; ++k)
        bind(many, static_cast<int>(k * 8 + 1), events[i + k]);
      many.run();
    }
  }
  auto& one = db.prepare_cached(insert_events_sql(1));
  for (; i < events.size(); ++i) {
    bind(one, 1, events[i]);
    one.run();
  }
}

// insert_flow_run inside the caller's transaction on `db`; `events` are written with the run.
// With `cache`, an inserted run is remembered as it now reads.
Storage::InsertResult insert_flow_run_in(sqlite::Connection& db, const FlowRunRecord& run,
                                         const std::vector<EventRow>& events,
                                         RunCache* cache = nullptr) {
  std::string state_id = new_id();
  auto& s = db.prepare_cached(
      "INSERT INTO flow_run (id, flow_id, flow_name, name, deployment_id, parent_task_run_id, "
      "idempotency_key, parameters, tags, empirical_policy, state_id, state_type, state_name, "
      "state_timestamp, run_count, created, updated, expected_start_time, "
      "next_scheduled_start_time, start_time, end_time, total_run_time, infrastructure_pid) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
      "ON CONFLICT (flow_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING");
  s.bind_view(1, run.id);
  s.bind_view(2, run.flow_id);
  s.bind_view(3, run.flow_name);
  s.bind_view(4, run.name);
  s.bind_view_or_null(5, run.deployment_id);
  s.bind_view_or_null(6, run.parent_task_run_id);
  s.bind_view_or_null(7, run.idempotency_key);
  const std::string parameters = run.parameters.dump();
  const std::string tags = tags_text(run.tags);
  const std::string policy = policy_text(run.empirical_policy);
  s.bind_view(8, parameters);
  s.bind_view(9, tags);
  s.bind_view(10, policy);
  s.bind_view(11, state_id);
  s.bind_view(12, to_string(run.state.type));
  s.bind_view(13, run.state.name);
  s.bind(14, micros(run.state.timestamp));
  s.bind(15, run.run_count);
  s.bind(16, micros(run.created));
  s.bind(17, micros(run.updated));
  s.bind(18, micros(run.expected_start_time));
  if (run.state.type == StateType::kScheduled)
    s.bind(19, micros(run.state.scheduled_time));
  else
    s.bind(19, nullptr);
  s.bind(20, micros(run.start_time));
  s.bind(21, micros(run.end_time));
  s.bind(22, run.total_run_time_s);
  s.bind_view_or_null(23, run.infrastructure_pid);
  s.run();
  if (db.changes() == 0) {
    auto& q = db.prepare_cached(std::string(kFlowRunSelect) +
                                " WHERE r.flow_id = ? AND r.idempotency_key = ?");
    q.bind(1, run.flow_id).bind(2, run.idempotency_key);
    if (!q.step()) {
      q.reset();
      throw conflict("flow run '" + run.id + "' conflicts with an existing run");
    }
    auto existing = read_flow_run_row(q);
    q.reset();
    return {std::move(existing), false};
  }
  if (cache) {
    if (auto state = stored_state(run.state)) {
      // The run as read_flow_run_row reads the row just bound: JSON columns through their text.
      StoredFlowRun entry{run, std::string(), db.last_insert_rowid()};
      FlowRunRecord& stored = entry.run;
      if (parameters != "{}") stored.parameters = parse_json(parameters, json::object());
      if (!run.tags.empty()) stored.tags = parse_tags(tags);
      stored.empirical_policy = parse_policy(policy);
      stored.state = std::move(*state);
      stored.next_scheduled_start_time =
          run.state.type == StateType::kScheduled ? run.state.scheduled_time : std::nullopt;
      remember(*cache, run.id, std::move(entry));
    }
  }
  insert_flow_run_state(db, state_id, run.id, run.state, {});
  insert_events(db, events);
  return {run, true};
}
}  // namespace

Storage::InsertResult SqliteStorage::insert_flow_run(const FlowRunRecord& run) {
  std::lock_guard lock(main_mutex_);
  auto result = main_.write_transaction([&] { return insert_flow_run_in(main_, run, {}); });
  after_main_commit();
  return result;
}

namespace {
// The run columns a transition may change besides its state's, each written only when its value
// changed: an UPDATE that leaves an indexed column out of its SET list does not touch that index
// (expected_start_time is set once, start_time once, by the first state and the first RUNNING).
struct OptionalColumn {
  std::string_view name;
  bool changed;
};

// "UPDATE flow_run SET <state columns>, <changed optional columns> WHERE rowid = ?"; built once per
// combination of changed columns (a handful occur) and kept by the statement cache.
const std::string& update_flow_run_sql(const OptionalColumn (&columns)[7], std::string& buffer) {
  buffer =
      "UPDATE flow_run SET state_id = ?, state_type = ?, state_name = ?, state_timestamp = ?, "
      "updated = ?";
  for (const auto& c : columns)
    if (c.changed) buffer.append(", ").append(c.name).append(" = ?");
  buffer += " WHERE rowid = ?";
  return buffer;
}

// One read-decide-write inside the caller's transaction on `db`. With `cache`, the run is taken
// from it when there, and remembered as it reads after the write. (This trusts decide's contract:
// it changes only the fields the UPDATE writes.)
bool update_flow_run_in(sqlite::Connection& db, const std::string& id,
                        const Storage::DecideFn& decide, RunCache* cache = nullptr) {
  std::optional<StoredFlowRun> selected;
  if (cache) {
    // Taken out: put back below once written, left out when decide wrote nothing (it may still
    // have changed the record in place).
    if (auto it = cache->find(id); it != cache->end()) {
      selected = std::move(it->second);
      cache->erase(it);
    }
  }
  if (!selected) selected = select_stored_flow_run(db, id);
  if (!selected) return false;
  FlowRunRecord* run = &selected->run;
  const std::string& transition_id = selected->transition_id;
  const int run_count = run->run_count;
  const auto expected_start_time = run->expected_start_time, start_time = run->start_time,
             end_time = run->end_time, next_scheduled_before = run->next_scheduled_start_time;
  const double total_run_time_s = run->total_run_time_s;
  const std::string infrastructure_pid = run->infrastructure_pid;
  FlowRunWrite write = decide(*run, transition_id);
  if (!write.state) return true;
  const State& state = *write.state;
  std::string state_id = new_id();
  insert_flow_run_state(db, state_id, id, state, write.transition_id);
  std::optional<TimePoint> next_scheduled;
  if (state.type == StateType::kScheduled) next_scheduled = state.scheduled_time;
  const OptionalColumn columns[7] = {
      {"run_count", run->run_count != run_count},
      {"expected_start_time", run->expected_start_time != expected_start_time},
      {"next_scheduled_start_time", next_scheduled != next_scheduled_before},
      {"start_time", run->start_time != start_time},
      {"end_time", run->end_time != end_time},
      {"total_run_time", run->total_run_time_s != total_run_time_s},
      {"infrastructure_pid", run->infrastructure_pid != infrastructure_pid},
  };
  thread_local std::string sql;
  auto& u = db.prepare_cached(update_flow_run_sql(columns, sql));
  u.bind_view(1, state_id);
  u.bind_view(2, to_string(state.type));
  u.bind_view(3, state.name);
  u.bind(4, micros(state.timestamp));
  const int64_t updated = micros(now());
  u.bind(5, updated);
  int next = 6;
  if (columns[0].changed) u.bind(next++, run->run_count);
  if (columns[1].changed) u.bind(next++, micros(run->expected_start_time));
  if (columns[2].changed) u.bind(next++, micros(next_scheduled));
  if (columns[3].changed) u.bind(next++, micros(run->start_time));
  if (columns[4].changed) u.bind(next++, micros(run->end_time));
  if (columns[5].changed) u.bind(next++, run->total_run_time_s);
  if (columns[6].changed) u.bind_view_or_null(next++, run->infrastructure_pid);
  u.bind(next, selected->rowid);
  u.run();
  insert_events(db, write.events);
  if (cache && !state.is_terminal()) {
    if (auto stored = stored_state(state)) {
      run->state = std::move(*stored);
      run->updated = time_at(updated);
      run->next_scheduled_start_time = next_scheduled;
      selected->transition_id = write.transition_id;
      remember(*cache, id, std::move(*selected));
    }
  }
  return true;
}
}  // namespace

bool SqliteStorage::update_flow_run(const std::string& id, const DecideFn& decide) {
  std::lock_guard lock(main_mutex_);
  bool found = main_.write_transaction([&] { return update_flow_run_in(main_, id, decide); });
  after_main_commit();
  return found;
}

std::vector<Storage::FlowRunOpResult> SqliteStorage::write_flow_runs(
    const std::vector<FlowRunOp>& ops) {
  std::lock_guard lock(main_mutex_);
  auto results = main_.write_transaction([&] {
    // Inside the transaction, so that the data version has seen every commit before it. An
    // attempt that did not commit (a busy retry, a throw) may have changed the cache.
    if (run_cache_open_ || main_.data_version() != run_cache_version_) run_cache_.clear();
    run_cache_open_ = true;
    std::vector<FlowRunOpResult> out(ops.size());
    for (size_t i = 0; i < ops.size(); ++i) {
      const auto& op = ops[i];
      if (op.insert)
        out[i].inserted = insert_flow_run_in(main_, *op.insert, op.insert_events, &run_cache_);
      else
        out[i].found = update_flow_run_in(main_, op.id, *op.decide, &run_cache_);
    }
    return out;
  });
  run_cache_version_ = main_.data_version();
  run_cache_open_ = false;
  after_main_commit();
  return results;
}

std::optional<FlowRecord> SqliteStorage::read_flow(const std::string& id) {
  std::lock_guard lock(main_mutex_);
  return select_flow(main_, "id", id);
}

std::optional<FlowRunRecord> SqliteStorage::read_flow_run(const std::string& id) {
  std::lock_guard lock(main_mutex_);
  auto stored = select_stored_flow_run(main_, id);
  if (!stored) return std::nullopt;
  return std::move(stored->run);
}

std::vector<FlowRunRecord> SqliteStorage::filter_flow_runs(const FlowRunFilter& f) {
  check_page(f.limit, f.offset);
  Where w = flow_run_where(f);
  const std::string order = flow_run_order(f.sort);
  // Sorted by start time, runs that have not started come last, by id. ix_flow_run_start_time
  // holds only runs that have started (0009), so such a page is read in two ordered parts: the
  // started runs through that index, then the others, each cut at offset + limit. UNION ALL
  // returns its parts in order and reads the second only when the first did not fill the page.
  // (ORDER BY start_time NULLS LAST over the whole table cannot use a partial index: with
  // 100,000 runs it sorted them all, 0.26 s against 0.02 s.)
  const bool by_start_time = f.sort == "START_TIME_DESC" || f.sort == "START_TIME_ASC";
  std::string sql;
  if (by_start_time) {
    const std::string dir = f.sort == "START_TIME_DESC" ? " DESC" : " ASC";
    sql = "SELECT * FROM (" + std::string(kFlowRunSelect) + w.sql_and("r.start_time IS NOT NULL") +
          " ORDER BY r.start_time" + dir + ", r.id" + dir + " LIMIT ?) UNION ALL SELECT * FROM (" +
          std::string(kFlowRunSelect) + w.sql_and("r.start_time IS NULL") + " ORDER BY r.id" + dir +
          " LIMIT ?) LIMIT ? OFFSET ?";
  } else {
    sql = std::string(kFlowRunSelect) + w.sql + order + " LIMIT ? OFFSET ?";
  }
  std::lock_guard lock(main_mutex_);
  auto q = main_.prepare(sql);
  int next = w.apply(*q);
  if (by_start_time) {
    const int64_t part = int64_t{f.limit} + f.offset;
    q->bind(next, part);
    next = w.apply(*q, next + 1);
    q->bind(next++, part);
  }
  q->bind(next, f.limit).bind(next + 1, f.offset);
  std::vector<FlowRunRecord> out;
  while (q->step()) out.push_back(read_flow_run_row(*q));
  return out;
}

int64_t SqliteStorage::count_flow_runs(const FlowRunFilter& f) {
  Where w = flow_run_where(f);
  std::lock_guard lock(main_mutex_);
  return count_matching(main_, "flow_run", w);
}

namespace {
// What a flow run owns, as delete_flow_run and retention delete it. Without a budget everything
// goes at once; with one, at most about `budget` rows of task runs and logs (a run may have
// hundreds of thousands), and `complete` says whether everything went.
struct RunContents {
  int64_t rows = 0;
  bool complete = true;
};
RunContents delete_run_contents(sqlite::Connection& db, const std::string& id,
                                std::optional<int64_t> budget, bool with_artifacts) {
  RunContents out;
  auto counted = [&](Statement& s) {
    s.run();
    out.rows += s.changes();
    return s.changes();
  };
  counted(db.prepare_cached("DELETE FROM flow_run_state WHERE flow_run_id = ?").bind(1, id));
  if (with_artifacts)
    counted(db.prepare_cached("DELETE FROM artifact WHERE flow_run_id = ?").bind(1, id));
  if (!budget) {
    counted(db.prepare_cached("DELETE FROM task_run WHERE flow_run_id = ?").bind(1, id));
    counted(db.prepare_cached("DELETE FROM log WHERE flow_run_id = ?").bind(1, id));
    return out;
  }
  // Portable "DELETE ... LIMIT": the ids of a bounded range of the run's index, then those rows.
  for (const char* table : {"task_run", "log"}) {
    int64_t limit = std::max<int64_t>(1, *budget - out.rows);
    auto& d =
        db.prepare_cached(std::string("DELETE FROM ") + table + " WHERE id IN (SELECT id FROM " +
                          table + " WHERE flow_run_id = ? LIMIT ?)");
    if (counted(d.bind(1, id).bind(2, limit)) >= limit) {
      out.complete = false;
      return out;
    }
  }
  return out;
}

// The final state types (is_terminal).
constexpr std::string_view kFinalStateTypes = "('COMPLETED', 'FAILED', 'CANCELLED', 'CRASHED')";

struct TreeRun {
  std::string id;
  bool expired = false;  // final, and ended before the cutoff
};
// `root` (expired) and its subflow runs at every depth, parents before children (breadth first).
// A subflow run points at a task run of its parent (parent_task_run_id,
// ix_flow_run_parent_task_run_id).
std::vector<TreeRun> run_tree(sqlite::Connection& db, const std::string& root, int64_t cutoff_us) {
  std::vector<TreeRun> tree{{root, true}};
  auto& children = db.prepare_cached(
      "SELECT f.id, CASE WHEN f.state_type IN " + std::string(kFinalStateTypes) +
      " AND f.end_time < ? THEN 1 ELSE 0 END FROM flow_run f WHERE f.parent_task_run_id IN "
      "(SELECT t.id FROM task_run t WHERE t.flow_run_id = ?)");
  for (size_t i = 0; i < tree.size(); ++i) {
    children.bind(1, cutoff_us).bind(2, tree[i].id);
    while (children.step()) tree.push_back({children.text(0), children.int64(1) != 0});
    children.reset();
  }
  return tree;
}
}  // namespace

bool SqliteStorage::delete_flow_run(const std::string& id) {
  std::lock_guard lock(main_mutex_);
  return main_.write_transaction([&] {
    auto& d = main_.prepare_cached("DELETE FROM flow_run WHERE id = ?");
    d.bind(1, id).run();
    if (main_.changes() == 0) return false;
    // Its subflow runs stay, as top-level runs: their parent task run goes with this run (as
    // Prefect's ON DELETE SET NULL), so no run points at a task run that no longer exists.
    main_
        .prepare_cached(
            "UPDATE flow_run SET parent_task_run_id = NULL WHERE parent_task_run_id IN "
            "(SELECT id FROM task_run WHERE flow_run_id = ?)")
        .bind(1, id)
        .run();
    delete_run_contents(main_, id, std::nullopt, /*with_artifacts=*/false);
    return true;
  });
}

sqlite::Connection& SqliteStorage::maintenance() {
  if (!maintenance_) {
    // A step that finds the file locked by another process for long gives up (the next pass
    // tries again) rather than keep the server's stop waiting behind it.
    sqlite::ConnectionOptions options = manual_checkpoints(options_, 0);
    options.busy_timeout = std::min(options.busy_timeout, std::chrono::milliseconds(1000));
    options.busy_give_up = std::min(options.busy_give_up, std::chrono::milliseconds(5000));
    maintenance_ = std::make_unique<sqlite::Connection>(path_, options);
    maintenance_->share_write_lock(write_mutex_);
  }
  return *maintenance_;
}

void SqliteStorage::after_maintenance_commit() {
  if (maintenance_->wal_bytes() > kCheckpointIdleBytes) request_checkpoint();
}

int64_t SqliteStorage::delete_events_before(TimePoint cutoff, int limit) {
  if (limit < 1)
    throw invalid_argument("the batch of events to delete must be at least 1", "limit");
  std::lock_guard lock(maintenance_mutex_);
  auto& db = maintenance();
  int64_t deleted = db.write_transaction([&] {
    // The subquery reads ix_event_occurred (occurred, id, event) alone, oldest first.
    auto& d = db.prepare_cached(
        "DELETE FROM event WHERE id IN "
        "(SELECT id FROM event WHERE occurred < ? ORDER BY occurred, id LIMIT ?)");
    d.bind(1, micros(cutoff)).bind(2, limit).run();
    return static_cast<int64_t>(d.changes());
  });
  after_maintenance_commit();
  return deleted;
}

Storage::ExpiredRunsStep SqliteStorage::delete_expired_flow_runs(TimePoint ended_before,
                                                                 int max_runs, int64_t row_budget,
                                                                 ExpiredRunCursor& cursor) {
  if (max_runs < 1)
    throw invalid_argument("the batch of runs to examine must be at least 1", "limit");
  if (row_budget < 1) throw invalid_argument("the row budget must be at least 1", "row_budget");
  std::lock_guard lock(maintenance_mutex_);
  auto& db = maintenance();
  ExpiredRunCursor at = cursor;
  auto step = db.write_transaction([&] {
    at = cursor;  // a retried attempt starts where the step started
    ExpiredRunsStep out;
    // The next runs of ix_flow_run_expected_start_time's range before the cutoff, in any state,
    // so that a step's work is bounded by max_runs however many of them are kept. Roots are runs
    // without a parent task run or whose parent task run is gone.
    auto& q = db.prepare_cached(
        "SELECT r.id, r.expected_start_time, CASE WHEN r.state_type IN " +
        std::string(kFinalStateTypes) +
        " AND r.end_time < ?1 THEN 1 ELSE 0 END, CASE WHEN r.parent_task_run_id IS NULL OR NOT "
        "EXISTS (SELECT 1 FROM task_run t WHERE t.id = r.parent_task_run_id) THEN 1 ELSE 0 END "
        "FROM flow_run r" +
        std::string(sqlite_dialect::kRunsByExpectedStart) +
        " WHERE r.expected_start_time < ?1 AND r.expected_start_time >= ?2 AND "
        "(r.expected_start_time > ?2 OR r.id > ?3) ORDER BY r.expected_start_time, r.id LIMIT ?4");
    q.bind(1, micros(ended_before)).bind(2, at.expected_start_us).bind(3, at.id).bind(4, max_runs);
    struct Candidate {
      std::string id;
      int64_t expected_start_us;
      bool expired, root;
    };
    std::vector<Candidate> candidates;
    while (q.step())
      candidates.push_back({q.text(0), q.int64(1), q.int64(2) != 0, q.int64(3) != 0});
    q.reset();
    out.more = static_cast<int>(candidates.size()) == max_runs;
    auto& delete_run = db.prepare_cached("DELETE FROM flow_run WHERE id = ?");
    for (const auto& c : candidates) {
      if (c.expired && c.root) {
        auto tree = run_tree(db, c.id, micros(ended_before));
        bool all_expired = true;
        for (const auto& run : tree) all_expired = all_expired && run.expired;
        if (all_expired) {
          // Deepest first: a child goes before the parent whose task run it points at.
          for (auto run = tree.rbegin(); run != tree.rend(); ++run) {
            auto contents = delete_run_contents(db, run->id, row_budget - out.rows, true);
            out.rows += contents.rows;
            if (!contents.complete) {
              out.more = true;  // this tree again, from where it was left, in the next step
              return out;
            }
            delete_run.bind(1, run->id).run();
            out.rows += delete_run.changes();
            out.flow_runs += delete_run.changes();
          }
        }
      }
      at = {c.expected_start_us, c.id};
      if (out.rows >= row_budget) {
        out.more = true;
        break;
      }
    }
    return out;
  });
  cursor = at;
  after_maintenance_commit();
  return step;
}

std::vector<StateRow> SqliteStorage::read_states(const std::string& run_id) {
  std::lock_guard lock(main_mutex_);
  auto& q = main_.prepare_cached("SELECT id, " + std::string(kStateColumns) +
                                 " FROM flow_run_state WHERE flow_run_id = ? ORDER BY 5, 1");
  q.bind(1, run_id);
  std::vector<StateRow> out;
  while (q.step()) out.push_back({q.text(0), *read_state(q, 1), q.text(10)});
  q.reset();
  if (!out.empty()) return out;
  auto& h = main_.prepare_cached("SELECT history FROM task_run WHERE id = ?");
  h.bind(1, run_id);
  if (h.step()) out = parse_history(h.text_view(0));
  h.reset();
  return out;
}

namespace {
// How long an idempotency key counts (has_request_key), and how many keys are stored between two
// prunings of the older ones: a pruning is one indexed range delete in the transaction that
// crosses the count, a few ms for a day's keys at most.
constexpr int64_t kRequestKeyLifetimeUs = int64_t{24} * 3600 * 1'000'000;
constexpr int64_t kRequestKeysPerPruning = 4'096;
}  // namespace

bool SqliteStorage::has_request_key(const std::string& key) {
  std::lock_guard lock(main_mutex_);
  auto& q = main_.prepare_cached("SELECT 1 FROM request_key WHERE key = ? AND created >= ?");
  q.bind(1, key).bind(2, micros(now()) - kRequestKeyLifetimeUs);
  bool found = q.step();
  q.reset();
  return found;
}

void SqliteStorage::write_task_runs(const TaskRunRows& task_runs,
                                    const std::vector<LogRecord>& logs,
                                    const std::vector<EventView>& events,
                                    const std::vector<std::string>& request_keys) {
  if (task_runs.empty() && logs.empty() && events.empty() && request_keys.empty()) return;
  std::lock_guard lock(batch_mutex_);
  const int64_t keys_since_prune =
      request_keys_since_prune_ + static_cast<int64_t>(request_keys.size());
  const bool prune_keys = keys_since_prune >= kRequestKeysPerPruning;
  batch_.write_transaction([&] {
    int64_t now_us = micros(now());
    // Rows are encoded already (TaskRunRows): bind and step, kUpsertRows runs per statement and
    // the rest in statements of halving sizes (64, 32, ... 1), so a batch takes at most eight
    // statements per kind of row beyond its full ones: each statement costs a statement journal
    // (a copy of the last page of the table and of each index) however few rows it holds. Shared,
    // plain (is_plain) and the other rows go through statements of their own; a batch holds one
    // row per run, so their order does not matter.
    static const auto& kUpsertSql =
        *new std::array<std::array<std::string, kUpsertSizes>, kRowKinds>([] {
          std::array<std::array<std::string, kUpsertSizes>, kRowKinds> sql;
          for (int kind = 0; kind < kRowKinds; ++kind)
            for (int k = 0; k < kUpsertSizes; ++k)
              sql[static_cast<size_t>(kind)][static_cast<size_t>(k)] =
                  upsert_task_run_sql(kUpsertRows >> k, static_cast<RowKind>(kind));
          return sql;
        }());
    // Each row's views, made once (TaskRunRows::row builds 22 of them), grouped by kind.
    thread_local std::array<std::vector<TaskRunRow>, kRowKinds> rows_of;
    for (auto& v : rows_of) v.clear();
    const size_t n = task_runs.size();
    std::optional<TaskRunRow> shared;  // the first row of the shared kind: ?1-?5
    for (size_t i = 0; i < n; ++i) {
      TaskRunRow r = task_runs.row(i);
      RowKind kind = RowKind::kFull;
      if (is_plain(r)) {
        kind = RowKind::kPlain;
        if (has_shared_times(r)) {
          if (!shared) shared = r;
          if (alike(r, *shared)) kind = RowKind::kShared;
        }
      }
      rows_of[static_cast<size_t>(kind)].push_back(r);
    }
    for (int kind = 0; kind < kRowKinds; ++kind) {
      const auto& order = rows_of[static_cast<size_t>(kind)];
      const RowKind row_kind = static_cast<RowKind>(kind);
      const int columns = kColumnsOf[kind];
      size_t i = 0;
      const size_t end = order.size();
      for (int k = 0; k < kUpsertSizes && i < end; ++k) {
        const size_t rows = kUpsertRows >> k;
        if (end - i < rows) continue;
        auto& upsert =
            batch_.prepare_cached(kUpsertSql[static_cast<size_t>(kind)][static_cast<size_t>(k)]);
        // Bindings stay until rebound: ?1-?5 once for every statement of this size.
        if (row_kind == RowKind::kShared) bind_shared(upsert, *shared);
        for (; end - i >= rows; i += rows) {
          for (size_t r = 0; r < rows; ++r)
            bind_task_run(upsert, static_cast<int>(r) * columns, order[i + r], now_us, row_kind);
          upsert.run();
        }
      }
    }
    auto& insert_log = batch_.prepare_cached(
        "INSERT INTO log (id, flow_run_id, task_run_id, name, level, message, timestamp) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)");
    for (const auto& l : logs) {
      insert_log.bind(1, l.id.empty() ? new_id() : l.id);
      insert_log.bind_text_or_null(2, l.flow_run_id);
      insert_log.bind_text_or_null(3, l.task_run_id);
      insert_log.bind(4, l.name);
      insert_log.bind(5, l.level);
      insert_log.bind(6, l.message);
      insert_log.bind(7, l.timestamp == TimePoint{} ? now_us : micros(l.timestamp));
      insert_log.run();
    }
    insert_events(batch_, events);
    if (!request_keys.empty()) {
      auto& insert_key = batch_.prepare_cached(
          "INSERT INTO request_key (key, created) VALUES (?, ?) ON CONFLICT (key) DO NOTHING");
      for (const auto& key : request_keys) {
        insert_key.bind(1, key).bind(2, now_us);
        insert_key.run();
      }
      if (prune_keys) {
        auto& prune = batch_.prepare_cached("DELETE FROM request_key WHERE created < ?");
        prune.bind(1, now_us - kRequestKeyLifetimeUs);
        prune.run();
      }
    }
  });
  // Counted once the transaction has committed.
  request_keys_since_prune_ = prune_keys ? 0 : keys_since_prune;
  // A WAL grown past kCheckpointBusyBytes is copied back by the checkpointer thread rather than
  // by this caller: copying 64 MiB here stalled every request waiting on the commit (about a
  // tenth of the server's task-state ingestion time).
  if (batch_.wal_bytes() > kCheckpointBusyBytes) request_checkpoint();
}

std::optional<TaskRunRecord> SqliteStorage::read_task_run(const std::string& id) {
  std::lock_guard lock(main_mutex_);
  auto& q = main_.prepare_cached(std::string(kTaskRunSelect) + " WHERE r.id = ?");
  q.bind(1, id);
  std::optional<TaskRunRecord> out;
  if (q.step()) out = read_task_run_row(q);
  q.reset();
  return out;
}

std::vector<TaskRunRecord> SqliteStorage::filter_task_runs(const TaskRunFilter& f) {
  check_page(f.limit, f.offset);
  Where w = task_run_where(f);
  std::string sql =
      std::string(kTaskRunSelect) + w.sql + task_run_order(f.sort) + " LIMIT ? OFFSET ?";
  std::lock_guard lock(main_mutex_);
  auto q = main_.prepare(sql);
  int next = w.apply(*q);
  q->bind(next, f.limit).bind(next + 1, f.offset);
  std::vector<TaskRunRecord> out;
  while (q->step()) out.push_back(read_task_run_row(*q));
  return out;
}

int64_t SqliteStorage::count_task_runs(const TaskRunFilter& f) {
  Where w = task_run_where(f);
  std::lock_guard lock(main_mutex_);
  return count_matching(main_, "task_run", w);
}

bool SqliteStorage::delete_task_run(const std::string& id) {
  std::lock_guard lock(main_mutex_);
  return main_.write_transaction([&] {
    main_.prepare_cached("DELETE FROM task_run WHERE id = ?").bind(1, id).run();
    if (main_.changes() == 0) return false;
    main_.prepare_cached("DELETE FROM log WHERE task_run_id = ?").bind(1, id).run();
    return true;
  });
}

std::vector<LogRecord> SqliteStorage::read_logs(const LogFilter& f) {
  check_page(f.limit, f.offset);
  // Refused as the server's schema refuses them, so both transports answer alike.
  for (const auto& [ids, field] :
       {std::pair{&f.flow_run_ids, "flow_run_ids"}, std::pair{&f.task_run_ids, "task_run_ids"}}) {
    if (ids->size() > kMaxLogFilterIds)
      throw invalid_argument(std::string(field) + " holds " + std::to_string(ids->size()) +
                                 " ids; at most " + std::to_string(kMaxLogFilterIds) +
                                 " are accepted",
                             field);
    for (size_t i = 0; i < ids->size(); ++i)
      if (!is_uuid((*ids)[i]))
        throw invalid_argument("'" + (*ids)[i] + "' is not a UUID",
                               std::string(field) + "." + std::to_string(i));
  }
  // The run ids reach ix_log_flow_run_id (flow_run_id, timestamp), with the time bounds, or the
  // partial ix_log_task_run_id, which a task_run_id IN (...) term implies is usable.
  Where w;
  w.in("flow_run_id", f.flow_run_ids);
  w.in("task_run_id", f.task_run_ids);
  // A line without a task run is stored with NULL there (write_task_runs binds '' as NULL).
  if (f.task_run_is_null)
    w.add(*f.task_run_is_null ? "task_run_id IS NULL" : "task_run_id IS NOT NULL");
  w.range("level", f.min_level, f.max_level);
  w.range("timestamp", micros(f.timestamp_after), micros(f.timestamp_before));
  std::string order = order_by(f.sort, {{"TIMESTAMP_ASC", "timestamp ASC, id ASC"},
                                        {"TIMESTAMP_DESC", "timestamp DESC, id DESC"}});
  std::string sql =
      "SELECT id, flow_run_id, task_run_id, name, level, message, timestamp FROM log" + w.sql +
      order + " LIMIT ? OFFSET ?";
  std::lock_guard lock(main_mutex_);
  auto q = main_.prepare(sql);
  int next = w.apply(*q);
  q->bind(next, f.limit).bind(next + 1, f.offset);
  std::vector<LogRecord> out;
  while (q->step()) {
    LogRecord l;
    l.id = q->text(0);
    l.flow_run_id = q->text(1);
    l.task_run_id = q->text(2);
    l.name = q->text(3);
    l.level = static_cast<int>(q->int64(4));
    l.message = q->text(5);
    l.timestamp = time_at(q->int64(6));
    out.push_back(std::move(l));
  }
  return out;
}

std::optional<State> SqliteStorage::find_cached_state(const std::string& cache_key, TimePoint at) {
  if (cache_key.empty()) return std::nullopt;
  std::lock_guard lock(main_mutex_);
  // ix_task_run_cache_key: runs whose current state is COMPLETED, by their state's cache key.
  auto& q = main_.prepare_cached(
      "SELECT state_id, history FROM task_run WHERE cache_key = ? AND state_type = 'COMPLETED' "
      "AND (cache_expiration IS NULL OR cache_expiration > ?) ORDER BY state_timestamp DESC "
      "LIMIT 1");
  q.bind(1, cache_key).bind(2, micros(at));
  std::optional<State> out;
  if (q.step())
    if (auto row = find_history_entry(q.text_view(1), q.text_view(0))) out = std::move(row->state);
  q.reset();
  return out;
}

int64_t SqliteStorage::expire_cache(const CacheSelector& which, TimePoint at) {
  check_cache_selector(which);
  std::lock_guard lock(main_mutex_);
  return main_.write_transaction([&] {
    // Both read ix_task_run_cache_key (COMPLETED runs with a key): by key, its prefix; by task,
    // the whole index, which holds only the runs whose entries are or were cached.
    const bool by_task = which.cache_key.empty();
    auto& q = main_.prepare_cached(
        std::string("UPDATE task_run SET cache_expiration = ?1 WHERE ") +
        (by_task ? "task_key = ?2 AND cache_key IS NOT NULL" : "cache_key = ?2") +
        " AND state_type = 'COMPLETED' AND (cache_expiration IS NULL OR cache_expiration > ?1) "
        "RETURNING cache_key");
    q.bind(1, micros(at)).bind(2, by_task ? which.task_key : which.cache_key);
    // A key is often held by several runs (the one that stored it, and each Cached run since).
    std::set<std::string> keys;
    while (q.step()) keys.insert(q.text(0));
    return static_cast<int64_t>(keys.size());
  });
}

int SqliteStorage::set_task_runs_state(const std::string& flow_run_id,
                                       const std::vector<StateType>& from, const State& state) {
  std::lock_guard lock(main_mutex_);
  return main_.write_transaction([&] {
    Where w;
    w.add("flow_run_id = ?");
    w.bind(flow_run_id);
    w.state_types("state_type", from);
    auto q = main_.prepare("SELECT id, state_timestamp, start_time FROM task_run" + w.sql);
    w.apply(*q);
    struct Row {
      std::string id;
      int64_t state_timestamp;
      bool running;
    };
    std::vector<Row> rows;
    while (q->step()) rows.push_back({q->text(0), q->int64(1), !q->is_null(2)});
    q.reset();
    std::string entry;
    for (const auto& row : rows) {
      std::string state_id = new_id();
      entry.clear();
      append_history_entry(entry, state_id, state);
      auto& u = main_.prepare_cached(
          "UPDATE task_run SET history = history || ?, state_id = ?, state_type = ?, "
          "state_name = ?, state_timestamp = ?, updated = ?, "
          "end_time = CASE WHEN ? THEN ? ELSE end_time END WHERE id = ?");
      u.bind(1, entry)
          .bind(2, state_id)
          .bind(3, to_string(state.type))
          .bind(4, state.name.empty() ? default_name(state.type) : std::string_view(state.name))
          .bind(5, micros(state.timestamp))
          .bind(6, micros(now()))
          .bind(7, state.is_terminal())
          .bind(8, micros(state.timestamp))
          .bind(9, row.id)
          .run();
    }
    return static_cast<int>(rows.size());
  });
}

}  // namespace baton::storage
