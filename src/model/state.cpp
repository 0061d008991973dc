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
}  // namespace

std::string format_time(TimePoint t) {
  auto secs = std::chrono::floor<std::chrono::seconds>(t);
  auto micros = (t - secs).count();
  std::string out = date::format("%Y-%m-%dT%H:%M:%S", secs);
  if (micros != 0) {
    char buf[16];
    std::snprintf(buf, sizeof buf, ".%06lld", static_cast<long long>(micros));
    out += buf;
  }
  out += 'Z';
  return out;
}

TimePoint parse_time(std::string_view text, std::string_view field) {
  // date::parse handles fractional seconds and %Ez offsets ("+01:00"); "Z" is handled first.
  std::string s(text);
  auto fail = [&] {
    return invalid_argument("'" + s + "' is not an ISO-8601 time; expected e.g. 2024-03-31T08:00:00Z " +
                                "or 2024-03-31T09:00:00+01:00",
                            std::string(field));
  };
  if (s.size() < 19) throw fail();
  if (s[10] == ' ') s[10] = 'T';
  date::sys_time<std::chrono::microseconds> tp;
  std::istringstream in(s);
  if (!s.empty() && (s.back() == 'Z' || s.back() == 'z')) {
    in.str(s.substr(0, s.size() - 1));
    in >> date::parse("%FT%T", tp);
  } else if (s.size() > 19 && s.find_first_of("+-", 19) != std::string::npos) {
    std::chrono::minutes offset{};
    in >> date::parse("%FT%T%Ez", tp, offset);
  } else {
    in >> date::parse("%FT%T", tp);  // no offset: UTC
  }
  if (in.fail() || in.peek() != std::char_traits<char>::eof()) throw fail();
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
State State::pending(std::string name) { return make(StateType::kPending, std::move(name)); }
State State::running(std::string name) { return make(StateType::kRunning, std::move(name)); }
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
    throw invalid_argument("missing state type; expected one of SCHEDULED, PENDING, RUNNING, "
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
    if (auto t = d.find("cache_key"); t != d.end() && t->is_string()) s.cache_key = t->get<std::string>();
    if (auto t = d.find("cache_expiration"); t != d.end() && t->is_string())
      s.cache_expiration = parse_time(t->get<std::string>(), "state.state_details.cache_expiration");
    if (auto t = d.find("retriable"); t != d.end() && t->is_boolean()) s.retriable = t->get<bool>();
  }
}

}  // namespace baton
