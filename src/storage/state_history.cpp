#include "storage/state_history.h"

#include <algorithm>
#include <charconv>

#include "model/json_text.h"
#include "storage/storage.h"

namespace baton::storage {

namespace {
using nlohmann::json;

void append_int(std::string& out, int64_t value) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  out.append(buf, end);
}

void member(std::string& out, std::string_view key) {
  out += ",\"";
  out += key;
  out += "\":";
}

std::optional<TimePoint> optional_time(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number_integer()) return std::nullopt;
  return TimePoint(std::chrono::microseconds(it->get<int64_t>()));
}

std::string optional_text(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::optional<StateRow> parse_line(std::string_view line) {
  json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return std::nullopt;
  auto type = state_type_from_string(optional_text(j, "type"));
  if (!type) return std::nullopt;
  StateRow row;
  row.id = optional_text(j, "id");
  State& s = row.state;
  s.type = *type;
  s.name = optional_text(j, "name");
  if (s.name.empty()) s.name = default_name(s.type);
  s.message = optional_text(j, "message");
  s.timestamp = optional_time(j, "timestamp").value_or(TimePoint{});
  s.scheduled_time = optional_time(j, "scheduled_time");
  if (auto it = j.find("data"); it != j.end()) s.result = std::move(*it);
  s.cache_key = optional_text(j, "cache_key");
  s.cache_expiration = optional_time(j, "cache_expiration");
  // Written as false by this code, as 0/1 by the 0004 backfill.
  if (auto it = j.find("retriable"); it != j.end())
    s.retriable = it->is_boolean() ? it->get<bool>() : !(it->is_number() && it->get<double>() == 0);
  row.transition_id = optional_text(j, "transition_id");
  return row;
}
}  // namespace

void append_history_entry(std::string& out, std::string_view state_id, const State& state,
                          std::string_view transition_id) {
  // Ids are UUID text (new_id()): nothing to escape.
  constexpr std::string_view kId = "{\"id\":\"", kType = "\",\"type\":\"",
                             kTimestamp = "\",\"timestamp\":";
  std::string_view type = to_string(state.type);
  out += kId;
  out += state_id;
  out += kType;
  out += type;
  out += kTimestamp;
  append_int(out, state.timestamp.time_since_epoch().count());
  if (!state.name.empty() && state.name != default_name(state.type)) {
    member(out, "name");
    append_json_string(out, state.name);
  }
  if (!state.message.empty()) {
    member(out, "message");
    append_json_string(out, state.message);
  }
  if (state.scheduled_time) {
    member(out, "scheduled_time");
    append_int(out, state.scheduled_time->time_since_epoch().count());
  }
  if (!state.result.is_null()) {
    member(out, "data");
    out += state.result.dump();
  }
  if (!state.cache_key.empty()) {
    member(out, "cache_key");
    append_json_string(out, state.cache_key);
  }
  if (state.cache_expiration) {
    member(out, "cache_expiration");
    append_int(out, state.cache_expiration->time_since_epoch().count());
  }
  if (!state.retriable) out += ",\"retriable\":false";
  if (!transition_id.empty()) {
    member(out, "transition_id");
    append_json_string(out, transition_id);
  }
  out += "}\n";
}

std::vector<StateRow> parse_history(std::string_view history) {
  std::vector<StateRow> out;
  while (!history.empty()) {
    size_t end = history.find('\n');
    std::string_view line = history.substr(0, end);
    if (auto row = parse_line(line)) out.push_back(std::move(*row));
    if (end == std::string_view::npos) break;
    history.remove_prefix(end + 1);
  }
  std::stable_sort(out.begin(), out.end(), [](const StateRow& a, const StateRow& b) {
    if (a.state.timestamp != b.state.timestamp) return a.state.timestamp < b.state.timestamp;
    return a.id < b.id;
  });
  return out;
}

std::optional<StateRow> find_history_entry(std::string_view history, std::string_view state_id) {
  if (state_id.empty()) return std::nullopt;
  // Every line starts with {"id":"<id>" (ids are plain ASCII, written unescaped).
  std::string prefix = "{\"id\":\"";
  prefix += state_id;
  prefix += '"';
  for (size_t at = 0; (at = history.find(prefix, at)) != std::string_view::npos; ++at) {
    if (at != 0 && history[at - 1] != '\n') continue;
    size_t end = history.find('\n', at);
    return parse_line(history.substr(at, end == std::string_view::npos ? end : end - at));
  }
  return std::nullopt;
}

}  // namespace baton::storage
