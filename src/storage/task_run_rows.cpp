#include "storage/task_run_rows.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <functional>
#include <limits>
#include <span>

#include "baton/error.h"
#include "model/ids.h"
#include "storage/state_history.h"

namespace baton::storage {

namespace {
using nlohmann::json;

int64_t micros(TimePoint t) { return t.time_since_epoch().count(); }
std::optional<int64_t> micros(const std::optional<TimePoint>& t) {
  if (!t) return std::nullopt;
  return micros(*t);
}
std::optional<int64_t> micros_or_now(TimePoint t) {
  if (t == TimePoint{}) return std::nullopt;
  return micros(t);
}
}  // namespace

void TaskRunRows::encode(const TaskRunRecord& r, Snapshot& out) {
  if (r.id.empty()) throw invalid_argument("a task run needs an id", "task_run.id");
  std::string& t = out.text_;
  t.clear();
  Columns& c = out.columns_;
  auto put = [&t](std::string_view s) {
    Span span{static_cast<uint32_t>(t.size()), static_cast<uint32_t>(s.size())};
    t.append(s);
    return span;
  };
  auto put_json = [&t](const auto& value) {
    auto begin = static_cast<uint32_t>(t.size());
    t += json(value).dump();
    return Span{begin, static_cast<uint32_t>(t.size() - begin)};
  };
  c.id = put(r.id);
  c.hash = hash_id(r.id);
  c.flow_run_id = put(r.flow_run_id);
  c.task_key = put(r.task_key);
  c.name = put(r.name);
  c.dynamic_key = put(r.dynamic_key);
  // The row's cache key is its current state's (CacheRetrieval looks runs up by it), else the
  // run's own.
  if (!r.state.cache_key.empty()) {
    c.cache_key = put(r.state.cache_key);
    c.cache_expiration = micros(r.state.cache_expiration);
  } else {
    c.cache_key = put(r.cache_key);
    c.cache_expiration = micros(r.cache_expiration);
  }
  // Defaults are written as literals: most task runs have no inputs, tags or retry policy.
  if (r.task_inputs.is_null() || r.task_inputs.empty())
    c.task_inputs = put("{}");
  else
    c.task_inputs = put_json(r.task_inputs);
  c.tags = r.tags.empty() ? put("[]") : put_json(r.tags);
  const auto& p = r.empirical_policy;
  if (p.retries == 0 && p.retry_delays_s.empty() && p.retry_jitter_factor == 0)
    c.empirical_policy = put("{}");
  else
    c.empirical_policy = put_json(p);
  char state_id[36];
  new_id_into(state_id, micros(r.state.timestamp));  // the state's time: no clock reading
  c.state_id = put({state_id, sizeof state_id});
  c.state_type = r.state.type;
  c.state_name = put(r.state.name.empty() ? default_name(r.state.type) : r.state.name);
  c.state_timestamp = micros(r.state.timestamp);
  c.run_count = r.run_count;
  c.created = micros_or_now(r.created);
  c.updated = micros_or_now(r.updated);
  c.expected_start_time = micros(r.expected_start_time);
  c.start_time = micros(r.start_time);
  c.end_time = micros(r.end_time);
  c.total_run_time_s = r.total_run_time_s;
  // Last, so that add() can put a coalesced row's earlier lines right before it.
  auto begin = static_cast<uint32_t>(t.size());
  append_history_entry(t, {state_id, sizeof state_id}, r.state);
  c.history = {begin, static_cast<uint32_t>(t.size() - begin)};
}

void TaskRunRows::add(const TaskRunRecord& run) {
  thread_local Snapshot snapshot;  // its buffer is reused: no allocation per record
  encode(run, snapshot);
  add(snapshot);
}

void TaskRunRows::add(const Snapshot& s) {
  const Columns& in = s.columns_;
  if (text_.size() + 2 * s.text_.size() + 4096 > std::numeric_limits<uint32_t>::max())
    throw invalid_argument("too many task-run snapshots in one batch (over 4 GiB of text)",
                           "task_runs");
  if ((rows_.size() + 1) * 2 > slots_.size()) grow_slots();
  if (slots_stale_) rebuild_slots();
  size_t slot = find_slot({s.text_.data() + in.id.begin, in.id.size}, in.hash);
  if (slots_[slot] == 0) {
    auto base = static_cast<uint32_t>(text_.size());
    text_.append(s.text_);
    Columns& c = rows_.emplace_back(in);
    for (auto member : kSpans) (c.*member).begin += base;
    slots_[slot] = static_cast<uint32_t>(rows_.size());
  } else {
    // The run's row so far: this snapshot becomes its current state, and its history is the
    // row's lines followed by this one (copied together, so the history stays one span).
    Columns& row = rows_[slots_[slot] - 1];
    const Span earlier = row.history;
    // The run's own columns (id, flow run id, task key, name, dynamic key) are one block of text
    // in a snapshot and in a row. When the row's block is the same text (a run's keys and name
    // do not change from state to state), the row keeps it and only the state's columns are
    // copied, a third of the snapshot's text; otherwise the snapshot's columns are copied whole.
    // (Comparing the columns one by one cost more than copying them.)
    auto same_place = [&](Span Columns::*m) {
      return (in.*m).size == (row.*m).size &&
             (in.*m).begin - in.id.begin == (row.*m).begin - row.id.begin;
    };
    static_assert(kSpans[0] == &Columns::id && kSpans[kRunColumns - 1] == &Columns::dynamic_key);
    const auto run_spans = std::span(kSpans).first<kRunColumns>();
    const uint32_t run_size = in.dynamic_key.begin + in.dynamic_key.size - in.id.begin;
    const bool same_run = std::all_of(run_spans.begin(), run_spans.end(), same_place) &&
                          std::memcmp(s.text_.data() + in.id.begin, text_.data() + row.id.begin,
                                      run_size) == 0;
    const uint32_t from = same_run ? in.cache_key.begin : 0;
    auto base = static_cast<uint32_t>(text_.size());
    text_.reserve(text_.size() + in.history.begin - from + earlier.size + in.history.size);
    text_.append(s.text_.data() + from, in.history.begin - from);
    Columns c = in;
    c.holds = row.holds;
    for (auto member : kSpans) (c.*member).begin += base - from;
    if (same_run)
      for (auto member : run_spans) c.*member = row.*member;
    c.history = {static_cast<uint32_t>(text_.size()), earlier.size + in.history.size};
    text_.append(text_.data() + earlier.begin, earlier.size);  // reserved: no reallocation
    text_.append(s.text_.data() + in.history.begin, in.history.size);
    row = c;
  }
  ++snapshots_;
}

void TaskRunRows::add_row(const TaskRunRows& other, size_t i) {
  if (contains(other.view(other.rows_.at(i).id))) {
    // Coalesces through add(), as a snapshot of the run would.
    const Columns& in = other.rows_[i];
    Snapshot& s = scratch_;
    s.text_.clear();
    Columns& c = s.columns_;
    c = in;
    auto copy = [&](Span span) {
      Span out{static_cast<uint32_t>(s.text_.size()), span.size};
      s.text_.append(other.view(span));
      return out;
    };
    for (auto member : kSpans) c.*member = copy(in.*member);
    add(s);
    return;
  }
  append_row(other, i, /*index=*/true);
}

void TaskRunRows::append_row(const TaskRunRows& other, size_t i, bool index) {
  // One copy of each column straight into this object's text (no snapshot in between): the
  // writer copies every row it holds back, out of its batch and back into the queue.
  const Columns& in = other.rows_[i];
  size_t size = 0;
  for (auto member : kSpans) size += (in.*member).size;
  if (text_.size() + size + 4096 > std::numeric_limits<uint32_t>::max())
    throw invalid_argument("too many task-run snapshots in one batch (over 4 GiB of text)",
                           "task_runs");
  Columns c = in;
  for (auto member : kSpans) {
    Span& span = c.*member;
    Span copied{static_cast<uint32_t>(text_.size()), span.size};
    text_.append(other.text_.data() + span.begin, span.size);
    span = copied;
  }
  rows_.push_back(c);
  ++snapshots_;
  if (rows_.size() * 2 > slots_.size()) {
    slots_.assign(std::max<size_t>(64, slots_.size() * 2), 0u);
    slots_stale_ = true;
  }
  if (!index || slots_stale_) {
    slots_stale_ = true;  // rebuilt at the next lookup, if any (a held-back batch has none)
    return;
  }
  slots_[find_slot(view(c.id), c.hash)] = static_cast<uint32_t>(rows_.size());
}

int TaskRunRows::hold_back_unfinished(TaskRunRows& out, int max_holds) {
  size_t kept = 0;
  int most = 0;
  for (size_t i = 0; i < rows_.size(); ++i) {
    if (rows_[i].holds < max_holds && !is_terminal(rows_[i].state_type)) {
      out.append_row(*this, i, /*index=*/false);
      most = std::max(most, static_cast<int>(++out.rows_.back().holds));
      continue;
    }
    if (kept != i) rows_[kept] = rows_[i];
    ++kept;
  }
  if (kept == rows_.size()) return most;
  rows_.resize(kept);
  slots_stale_ = true;  // rebuilt if ever looked up: a writer's batch never is
  return most;
}

void TaskRunRows::merge_earlier(const TaskRunRows& earlier) {
  uint64_t snapshots = snapshots_;
  for (size_t i = 0; i < earlier.size(); ++i) {
    std::string_view id = earlier.view(earlier.rows_[i].id);
    if (slots_stale_) rebuild_slots();
    size_t slot = slots_.empty() ? 0 : find_slot(id, earlier.rows_[i].hash);
    if (slots_.empty() || slots_[slot] == 0) {
      append_row(earlier, i, /*index=*/true);
      continue;
    }
    Columns& row = rows_[slots_[slot] - 1];
    Span later = row.history, before = earlier.rows_[i].history;
    if (text_.size() + before.size + later.size > std::numeric_limits<uint32_t>::max())
      throw invalid_argument("too many task-run snapshots in one batch (over 4 GiB of text)",
                             "task_runs");
    text_.reserve(text_.size() + before.size + later.size);
    auto begin = static_cast<uint32_t>(text_.size());
    text_.append(earlier.view(before));
    text_.append(text_.data() + later.begin, later.size);  // reserved: no reallocation
    row.history = {begin, before.size + later.size};
    row.holds = earlier.rows_[i].holds;
  }
  snapshots_ = snapshots;
}

bool TaskRunRows::contains(std::string_view id) {
  if (slots_stale_) rebuild_slots();
  return !slots_.empty() && slots_[find_slot(id, hash_id(id))] != 0;
}

bool TaskRunRows::contains(const Snapshot& s) {
  if (slots_stale_) rebuild_slots();
  const Columns& c = s.columns_;
  return !slots_.empty() &&
         slots_[find_slot({s.text_.data() + c.id.begin, c.id.size}, c.hash)] != 0;
}

TaskRunRow TaskRunRows::row(size_t i) const {
  const Columns& c = rows_[i];
  TaskRunRow r;
  r.id = view(c.id);
  r.flow_run_id = view(c.flow_run_id);
  r.task_key = view(c.task_key);
  r.name = view(c.name);
  r.dynamic_key = view(c.dynamic_key);
  r.cache_key = view(c.cache_key);
  r.cache_expiration = c.cache_expiration;
  r.task_inputs = view(c.task_inputs);
  r.tags = view(c.tags);
  r.empirical_policy = view(c.empirical_policy);
  r.state_id = view(c.state_id);
  r.state_type = c.state_type;
  r.state_name = view(c.state_name);
  r.state_timestamp = c.state_timestamp;
  r.run_count = c.run_count;
  r.created = c.created;
  r.updated = c.updated;
  r.expected_start_time = c.expected_start_time;
  r.start_time = c.start_time;
  r.end_time = c.end_time;
  r.total_run_time_s = c.total_run_time_s;
  r.history = view(c.history);
  return r;
}

void TaskRunRows::clear() noexcept {
  rows_.clear();
  text_.clear();
  std::fill(slots_.begin(), slots_.end(), 0u);
  slots_stale_ = false;
  snapshots_ = 0;
}

void TaskRunRows::swap(TaskRunRows& other) noexcept {
  rows_.swap(other.rows_);
  text_.swap(other.text_);
  slots_.swap(other.slots_);
  std::swap(snapshots_, other.snapshots_);
  std::swap(slots_stale_, other.slots_stale_);
}

uint64_t TaskRunRows::hash_id(std::string_view id) noexcept {
  if (id.size() < 24) return std::hash<std::string_view>{}(id);
  // Run ids are UUID text (UUIDv7: the leading characters are the time, shared by the ids of a
  // millisecond; the last ones random): three 8-byte words, from the start, the middle and the
  // end, mixed, rather than every byte (find_slot compares whole ids anyway).
  auto word = [&id](size_t at) {
    uint64_t w;
    std::memcpy(&w, id.data() + at, sizeof w);
    return w;
  };
  uint64_t h = word(0) * 0x9e3779b97f4a7c15ULL;
  h ^= std::rotl(word(id.size() / 2 - 4) * 0xc2b2ae3d27d4eb4fULL, 23);
  h ^= word(id.size() - 8) * 0x165667b19e3779f9ULL;
  h ^= h >> 29;
  h *= 0xbf58476d1ce4e5b9ULL;
  return h ^ (h >> 32);
}

size_t TaskRunRows::find_slot(std::string_view id, uint64_t hash) const {
  size_t mask = slots_.size() - 1;
  size_t h = hash & mask;
  while (slots_[h] != 0) {
    const Columns& row = rows_[slots_[h] - 1];
    if (row.hash == hash && view(row.id) == id) break;
    h = (h + 1) & mask;
  }
  return h;
}

void TaskRunRows::grow_slots() {
  slots_.assign(std::max<size_t>(64, slots_.size() * 2), 0u);
  rebuild_slots();
}

void TaskRunRows::rebuild_slots() {
  slots_stale_ = false;
  std::fill(slots_.begin(), slots_.end(), 0u);
  for (size_t i = 0; i < rows_.size(); ++i)
    slots_[find_slot(view(rows_[i].id), rows_[i].hash)] = static_cast<uint32_t>(i + 1);
}

}  // namespace baton::storage
