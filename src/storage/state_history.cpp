#include "storage/state_history.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <utility>

#include "model/json_text.h"
#include "storage/storage.h"

namespace baton::storage {

namespace {
using nlohmann::json;

// Every state line has a timestamp (16 digits): written from the end, two digits per step,
// without std::to_chars's length pass.
void append_uint(std::string& out, uint64_t value) {
  static constexpr char kPairs[] =
      "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
      "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
      "8081828384858687888990919293949596979899";
  char buf[24];
  char* p = buf + sizeof buf;
  while (value >= 100) {
    p -= 2;
    std::memcpy(p, kPairs + 2 * (value % 100), 2);
    value /= 100;
  }
  if (value >= 10) {
    p -= 2;
    std::memcpy(p, kPairs + 2 * value, 2);
  } else {
    *--p = static_cast<char>('0' + value);
  }
  out.append(p, static_cast<size_t>(buf + sizeof buf - p));
}

void append_int(std::string& out, int64_t value) {
  if (value >= 0) return append_uint(out, static_cast<uint64_t>(value));
  out += '-';
  append_uint(out, 0 - static_cast<uint64_t>(value));
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

// The members after id, type and timestamp (both formats), from a JSON object.
void read_members(const json& j, StateRow& row) {
  State& s = row.state;
  s.name = optional_text(j, "name");
  if (s.name.empty()) s.name = default_name(s.type);
  s.message = optional_text(j, "message");
  s.scheduled_time = optional_time(j, "scheduled_time");
  if (auto it = j.find("data"); it != j.end()) s.result = *it;
  s.cache_key = optional_text(j, "cache_key");
  s.cache_expiration = optional_time(j, "cache_expiration");
  // Written as false by this code, as 0/1 by the 0004 backfill.
  if (auto it = j.find("retriable"); it != j.end())
    s.retriable = it->is_boolean() ? it->get<bool>() : !(it->is_number() && it->get<double>() == 0);
  row.transition_id = optional_text(j, "transition_id");
}

// One letter per type in compact lines. Stored: never change a letter.
constexpr std::pair<StateType, char> kTypeCodes[] = {
    {StateType::kScheduled, 'S'}, {StateType::kPending, 'P'}, {StateType::kRunning, 'R'},
    {StateType::kCompleted, 'C'}, {StateType::kFailed, 'F'},  {StateType::kCancelled, 'X'},
    {StateType::kCrashed, 'K'},   {StateType::kPaused, 'U'},  {StateType::kCancelling, 'N'},
};

char type_code(StateType type) {
  for (auto [t, c] : kTypeCodes)
    if (t == type) return c;
  return '?';
}

std::optional<StateType> type_of_code(char code) {
  for (auto [t, c] : kTypeCodes)
    if (c == code) return t;
  return std::nullopt;
}

// The format before 2026-11-24: one JSON object, "id" first.
std::optional<StateRow> parse_json_line(std::string_view line) {
  json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return std::nullopt;
  auto type = state_type_from_string(optional_text(j, "type"));
  if (!type) return std::nullopt;
  StateRow row;
  row.id = optional_text(j, "id");
  row.state.type = *type;
  row.state.timestamp = optional_time(j, "timestamp").value_or(TimePoint{});
  read_members(j, row);
  return row;
}

// The compact format: "<id> <type letter><timestamp>[ <JSON object of the other members>]".
std::optional<StateRow> parse_compact_line(std::string_view line) {
  size_t space = line.find(' ');
  if (space == 0 || space == std::string_view::npos || space + 2 >= line.size())
    return std::nullopt;
  auto type = type_of_code(line[space + 1]);
  if (!type) return std::nullopt;
  std::string_view rest = line.substr(space + 2);
  int64_t timestamp = 0;
  auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), timestamp);
  if (ec != std::errc() || end == rest.data()) return std::nullopt;
  rest.remove_prefix(static_cast<size_t>(end - rest.data()));
  StateRow row;
  row.id = std::string(line.substr(0, space));
  row.state.type = *type;
  row.state.timestamp = TimePoint(std::chrono::microseconds(timestamp));
  if (rest.empty()) {
    row.state.name = default_name(*type);
    return row;
  }
  if (rest[0] != ' ') return std::nullopt;
  json j = json::parse(rest.substr(1), nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return std::nullopt;
  read_members(j, row);
  return row;
}

std::optional<StateRow> parse_line(std::string_view line) {
  if (!line.empty() && line[0] == '{') return parse_json_line(line);
  return parse_compact_line(line);
}
}  // namespace

void append_history_entry(std::string& out, std::string_view state_id, const State& state,
                          std::string_view transition_id) {
  // Ids are UUID text (new_id()): no space, nothing to escape.
  out += state_id;
  out += ' ';
  out += type_code(state.type);
  append_int(out, state.timestamp.time_since_epoch().count());
  // The other members, when any differs from its default, as one JSON object.
  const size_t before = out.size();
  auto member = [&](std::string_view key) {
    out += out.size() == before ? " {\"" : ",\"";
    out += key;
    out += "\":";
  };
  if (!state.name.empty() && state.name != default_name(state.type)) {
    member("name");
    append_json_string(out, state.name);
  }
  if (!state.message.empty()) {
    member("message");
    append_json_string(out, state.message);
  }
  if (state.scheduled_time) {
    member("scheduled_time");
    append_int(out, state.scheduled_time->time_since_epoch().count());
  }
  if (!state.result.is_null()) {
    member("data");
    // What dump() writes, without its serializer for the common small results.
    if (state.result.is_number_integer() && !state.result.is_number_unsigned())
      append_int(out, state.result.get<int64_t>());
    else if (state.result.is_number_unsigned())
      append_uint(out, state.result.get<uint64_t>());
    else if (state.result.is_boolean())
      out += state.result.get<bool>() ? "true" : "false";
    else
      out += state.result.dump();
  }
  if (!state.cache_key.empty()) {
    member("cache_key");
    append_json_string(out, state.cache_key);
  }
  if (state.cache_expiration) {
    member("cache_expiration");
    append_int(out, state.cache_expiration->time_since_epoch().count());
  }
  if (!state.retriable) {
    member("retriable");
    out += "false";
  }
  if (!transition_id.empty()) {
    member("transition_id");
    append_json_string(out, transition_id);
  }
  if (out.size() != before) out += '}';
  out += '\n';
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
  // A line starts with "<id> " (compact) or {"id":"<id>" (JSON); ids are plain ASCII.
  std::string json_prefix = "{\"id\":\"";
  json_prefix += state_id;
  json_prefix += '"';
  std::string compact_prefix(state_id);
  compact_prefix += ' ';
  for (const std::string& prefix : {compact_prefix, json_prefix}) {
    for (size_t at = 0; (at = history.find(prefix, at)) != std::string_view::npos; ++at) {
      if (at != 0 && history[at - 1] != '\n') continue;
      size_t end = history.find('\n', at);
      return parse_line(history.substr(at, end == std::string_view::npos ? end : end - at));
    }
  }
  return std::nullopt;
}

}  // namespace baton::storage
