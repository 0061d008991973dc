#include "baton/state.h"

#include <date/date.h>

#include <array>
#include <sstream>

#include "baton/error.h"

namespace baton {

namespace {
struct TypeInfo {
  StateType type;
  std::string_view upper;
  std::string_view name;
};
constexpr std::array<TypeInfo, 9> kTypes{{
    {StateType::kScheduled, "SCHEDULED", "Scheduled"},
    {StateType::kPending, "PENDING", "Pending"},
    {StateType::kRunning, "RUNNING", "Running"},
    {StateType::kCompleted, "COMPLETED", "Completed"},
    {StateType::kFailed, "FAILED", "Failed"},
    {StateType::kCancelled, "CANCELLED", "Cancelled"},
    {StateType::kCrashed, "CRASHED", "Crashed"},
    {StateType::kPaused, "PAUSED", "Paused"},
    {StateType::kCancelling, "CANCELLING", "Cancelling"},
}};

State make(StateType type, std::string name, std::string message = {}) {
  State s;
  s.type = type;
  s.name = name.empty() ? std::string(default_name(type)) : std::move(name);
  s.message = std::move(message);
  s.timestamp = now();
  return s;
}

// make() with the type's own name and no message.
State make_default(StateType type) {
  State s;
  s.type = type;
  s.name = default_name(type);
  s.timestamp = now();
  return s;
}
}  // namespace

std::string format_time(TimePoint t) {
  auto days = std::chrono::floor<std::chrono::days>(t);
  std::chrono::year_month_day ymd{days};
  int year = static_cast<int>(ymd.year());
  if (year < 0 || year > 9999) {  // outside ISO-8601's four digits: date's general formatter
    auto secs = std::chrono::floor<std::chrono::seconds>(t);
    return date::format("%Y-%m-%dT%H:%M:%S", secs) + "Z";
  }
  // By hand rather than through date::format's ostream: every event and state carries a time,
  // and the stream costs about a microsecond each.
  int64_t us = (t - days).count();
  auto put = [](char* at, int64_t value, int width) {
    for (int i = width - 1; i >= 0; --i, value /= 10) at[i] = static_cast<char>('0' + value % 10);
  };
  char buf[32] = "0000-00-00T00:00:00";
  put(buf, year, 4);
  put(buf + 5, static_cast<unsigned>(ymd.month()), 2);
  put(buf + 8, static_cast<unsigned>(ymd.day()), 2);
  put(buf + 11, us / 3'600'000'000, 2);
  put(buf + 14, us / 60'000'000 % 60, 2);
  put(buf + 17, us / 1'000'000 % 60, 2);
  size_t n = 19;
  if (int64_t micros = us % 1'000'000; micros != 0) {
    buf[n++] = '.';
    put(buf + n, micros, 6);
    n += 6;
  }
  buf[n++] = 'Z';
  return std::string(buf, n);
}

TimePoint parse_time(std::string_view text, std::string_view field) {
  auto fail = [&] {
    return invalid_argument("'" + std::string(text) +
                                "' is not an ISO-8601 time; expected e.g. 2024-03-31T08:00:00Z " +
                                "or 2024-03-31T09:00:00+01:00",
                            std::string(field));
  };
  // The shape is checked by hand before date::parse sees it: YYYY-MM-DD[T ]HH:MM:SS[.f{1,6}]
  // [Z | +HH:MM | -HH:MM]. date::parse alone accepts some garbled input and, on some, converts a
  // NaN to an integer (undefined behaviour found by the schedule fuzzer).
  auto digits = [&](size_t at, size_t n) {
    if (at + n > text.size()) return false;
    for (size_t i = at; i < at + n; ++i)
      if (text[i] < '0' || text[i] > '9') return false;
    return true;
  };
  if (text.size() < 19 || !digits(0, 4) || text[4] != '-' || !digits(5, 2) || text[7] != '-' ||
      !digits(8, 2) || (text[10] != 'T' && text[10] != 't' && text[10] != ' ') || !digits(11, 2) ||
      text[13] != ':' || !digits(14, 2) || text[16] != ':' || !digits(17, 2))
    throw fail();
  size_t i = 19;
  if (i < text.size() && text[i] == '.') {
    size_t n = 0;
    while (digits(i + 1 + n, 1)) ++n;
    if (n == 0 || n > 6) throw fail();
    i += 1 + n;
  }
  const size_t body_end = i;
  bool has_offset = false;
  if (i < text.size()) {
    const bool zulu = (text[i] == 'Z' || text[i] == 'z') && i + 1 == text.size();
    has_offset = (text[i] == '+' || text[i] == '-') && i + 6 == text.size() && digits(i + 1, 2) &&
                 text[i + 3] == ':' && digits(i + 4, 2);
    if (!zulu && !has_offset) throw fail();
  }

  std::string body(text.substr(0, body_end));
  body[10] = 'T';
  date::sys_time<std::chrono::microseconds> tp;
  std::istringstream in(body);
  in >> date::parse("%FT%T", tp);
  if (in.fail()) throw fail();  // e.g. month 13 or day 45
  if (has_offset) {
    int hours = (text[i + 1] - '0') * 10 + (text[i + 2] - '0');
    int minutes = (text[i + 4] - '0') * 10 + (text[i + 5] - '0');
    if (hours > 23 || minutes > 59) throw fail();
    auto offset = std::chrono::hours(hours) + std::chrono::minutes(minutes);
    tp += text[i] == '+' ? -offset : offset;
  }
  return TimePoint(tp.time_since_epoch());
}

std::string_view to_string(StateType type) noexcept {
  for (const auto& t : kTypes)
    if (t.type == type) return t.upper;
  return "UNKNOWN";
}

std::optional<StateType> state_type_from_string(std::string_view text) noexcept {
  for (const auto& t : kTypes)
    if (t.upper == text) return t.type;
  return std::nullopt;
}

bool is_terminal(StateType type) noexcept {
  return type == StateType::kCompleted || type == StateType::kFailed ||
         type == StateType::kCancelled || type == StateType::kCrashed;
}

std::string_view default_name(StateType type) noexcept {
  for (const auto& t : kTypes)
    if (t.type == type) return t.name;
  return "Unknown";
}

State State::scheduled(TimePoint at, std::string name) {
  State s = make(StateType::kScheduled, std::move(name));
  s.scheduled_time = at;
  return s;
}
State State::pending() { return make_default(StateType::kPending); }
State State::pending(std::string name) { return make(StateType::kPending, std::move(name)); }
State State::running() { return make_default(StateType::kRunning); }
State State::running(std::string name) { return make(StateType::kRunning, std::move(name)); }
State State::completed() { return make_default(StateType::kCompleted); }
State State::completed(nlohmann::json result, std::string name) {
  State s = make(StateType::kCompleted, std::move(name));
  s.result = std::move(result);
  return s;
}
State State::failed(std::string message, std::string name) {
  return make(StateType::kFailed, std::move(name), std::move(message));
}
State State::crashed(std::string message) {
  return make(StateType::kCrashed, "Crashed", std::move(message));
}
State State::cancelling(std::string message) {
  return make(StateType::kCancelling, "Cancelling", std::move(message));
}
State State::cancelled(std::string message) {
  return make(StateType::kCancelled, "Cancelled", std::move(message));
}
State State::paused(std::string name) { return make(StateType::kPaused, std::move(name)); }

void to_json(nlohmann::json& j, const State& s) {
  nlohmann::json details = nlohmann::json::object();
  if (s.scheduled_time) details["scheduled_time"] = format_time(*s.scheduled_time);
  if (!s.cache_key.empty()) details["cache_key"] = s.cache_key;
  if (s.cache_expiration) details["cache_expiration"] = format_time(*s.cache_expiration);
  if (!s.retriable) details["retriable"] = false;
  j = nlohmann::json{{"type", to_string(s.type)},
                     {"name", s.name},
                     {"message", s.message},
                     {"timestamp", format_time(s.timestamp)},
                     {"state_details", std::move(details)},
                     {"data", s.result}};
}

void from_json(const nlohmann::json& j, State& s) {
  if (!j.is_object()) throw invalid_argument("a state must be a JSON object", "state");
  auto type_it = j.find("type");
  if (type_it == j.end() || !type_it->is_string())
    throw invalid_argument(
        "missing state type; expected one of SCHEDULED, PENDING, RUNNING, "
        "COMPLETED, FAILED, CANCELLED, CRASHED, PAUSED, CANCELLING",
        "state.type");
  auto type = state_type_from_string(type_it->get<std::string>());
  if (!type)
    throw invalid_argument("unknown state type '" + type_it->get<std::string>() +
                               "'; expected one of SCHEDULED, PENDING, RUNNING, COMPLETED, FAILED, "
                               "CANCELLED, CRASHED, PAUSED, CANCELLING",
                           "state.type");
  auto str = [&](const char* key) -> std::string {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return {};
    if (!it->is_string())
      throw invalid_argument(std::string("expected a string"), std::string("state.") + key);
    return it->get<std::string>();
  };
  s = State{};
  s.type = *type;
  s.name = str("name");
  if (s.name.empty()) s.name = std::string(default_name(s.type));
  s.message = str("message");
  std::string ts = str("timestamp");
  s.timestamp = ts.empty() ? now() : parse_time(ts, "state.timestamp");
  if (auto it = j.find("data"); it != j.end()) s.result = *it;
  if (auto it = j.find("state_details"); it != j.end() && !it->is_null()) {
    const auto& d = *it;
    if (!d.is_object()) throw invalid_argument("expected an object", "state.state_details");
    if (auto t = d.find("scheduled_time"); t != d.end() && t->is_string())
      s.scheduled_time = parse_time(t->get<std::string>(), "state.state_details.scheduled_time");
    if (auto t = d.find("cache_key"); t != d.end() && t->is_string())
      s.cache_key = t->get<std::string>();
    if (auto t = d.find("cache_expiration"); t != d.end() && t->is_string())
      s.cache_expiration =
          parse_time(t->get<std::string>(), "state.state_details.cache_expiration");
    if (auto t = d.find("retriable"); t != d.end() && t->is_boolean()) s.retriable = t->get<bool>();
  }
}

}  // namespace baton
