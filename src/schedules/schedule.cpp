#include "baton/schedule.h"

#include <cmath>

#include "baton/error.h"
#include "schedules/schedule_impl.h"

namespace baton {

namespace {

using schedules::TimeZone;

// Every schedule lives between these: date arithmetic and the tz database are exact there, and
// searches for a schedule that stopped firing end at the upper bound.
const TimePoint kEarliest{date::sys_days{date::year{1} / 1 / 1}.time_since_epoch()};
const TimePoint kLatest{date::sys_days{date::year{10000} / 1 / 1}.time_since_epoch()};

std::string trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(first, last - first + 1));
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

const nlohmann::json* member(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it == j.end() ? nullptr : &*it;
}

std::string string_member(const nlohmann::json& j, const char* key, const std::string& field) {
  const nlohmann::json* v = member(j, key);
  if (v == nullptr || !v->is_string())
    throw invalid_argument(std::string("expected a string for '") + key + "'", field + "." + key);
  return v->get<std::string>();
}

}  // namespace

TimePoint Schedule::parse_instant(std::string_view text, std::string_view field) {
  // parse_time checks the ISO-8601 shape strictly; the schedule engine adds the year range.
  const TimePoint t = parse_time(text, field);
  if (t < kEarliest || t >= kLatest)
    throw invalid_argument("times must lie between the years 1 and 9999", std::string(field));
  return t;
}

std::string_view to_string(ScheduleKind kind) noexcept {
  switch (kind) {
    case ScheduleKind::kCron:
      return "cron";
    case ScheduleKind::kInterval:
      return "interval";
    case ScheduleKind::kRRule:
      return "rrule";
  }
  return "cron";
}

Schedule Schedule::cron(std::string_view expression, std::string_view timezone, bool day_or) {
  TimeZone zone(timezone.empty() ? "UTC" : timezone, "schedule.timezone");
  return Schedule(schedules::make_cron(expression, zone, day_or, "schedule"));
}

Schedule Schedule::interval(std::chrono::microseconds interval, TimePoint anchor,
                            std::string_view timezone) {
  TimeZone zone(timezone.empty() ? "UTC" : timezone, "schedule.timezone");
  if (anchor < kEarliest || anchor >= kLatest)
    throw invalid_argument("anchor_date must lie between the years 1 and 9999",
                           "schedule.anchor_date");
  return Schedule(schedules::make_interval(interval, anchor, zone, "schedule"));
}

Schedule Schedule::rrule(std::string_view text, std::string_view timezone) {
  std::optional<TimeZone> zone;
  if (!timezone.empty()) zone.emplace(timezone, "schedule.timezone");
  return Schedule(schedules::make_rrule(text, std::move(zone), "schedule"));
}

Schedule Schedule::from_json(const nlohmann::json& j, std::string_view field_view) {
  const std::string field(field_view);
  if (!j.is_object())
    throw invalid_argument(
        "a schedule must be a JSON object with one of \"cron\", \"interval\" or \"rrule\"", field);
  const char* kinds[] = {"cron", "interval", "rrule"};
  int present = 0;
  std::string kind;
  for (const char* k : kinds) {
    if (j.contains(k)) {
      ++present;
      kind = k;
    }
  }
  if (present != 1)
    throw invalid_argument(
        "a schedule needs exactly one of \"cron\", \"interval\" or \"rrule\"; got " +
            std::to_string(present),
        field);
  const std::vector<std::string> allowed =
      kind == "cron"       ? std::vector<std::string>{"cron", "timezone", "day_or"}
      : kind == "interval" ? std::vector<std::string>{"interval", "anchor_date", "timezone"}
                           : std::vector<std::string>{"rrule", "timezone"};
  for (const auto& [key, value] : j.items()) {
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      std::string list;
      for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
      throw invalid_argument(
          "unknown key '" + key + "' in a " + kind + " schedule; expected " + list,
          field + "." + key);
    }
  }
  std::optional<TimeZone> zone;
  if (const nlohmann::json* tz = member(j, "timezone"); tz != nullptr && !tz->is_null()) {
    if (!tz->is_string())
      throw invalid_argument("expected a string such as \"Europe/London\"", field + ".timezone");
    zone.emplace(tz->get<std::string>(), field + ".timezone");
  }
  if (kind == "rrule") {
    return Schedule(
        schedules::make_rrule(string_member(j, "rrule", field), std::move(zone), field));
  }
  if (!zone) zone.emplace("UTC", field + ".timezone");
  if (kind == "cron") {
    bool day_or = true;
    if (const nlohmann::json* d = member(j, "day_or"); d != nullptr && !d->is_null()) {
      if (!d->is_boolean()) throw invalid_argument("expected true or false", field + ".day_or");
      day_or = d->get<bool>();
    }
    return Schedule(schedules::make_cron(string_member(j, "cron", field), *zone, day_or, field));
  }
  const nlohmann::json& iv = j.at("interval");
  if (!iv.is_number())
    throw invalid_argument("expected a number of seconds, e.g. 3600", field + ".interval");
  const double seconds = iv.get<double>();
  if (!std::isfinite(seconds) || seconds <= 0 || seconds > 3162240000.0)
    throw invalid_argument(
        "interval must be a positive number of seconds, at most 100 years (3162240000); got " +
            iv.dump(),
        field + ".interval");
  const auto micros = std::chrono::microseconds(std::llround(seconds * 1e6));
  TimePoint anchor;
  if (const nlohmann::json* a = member(j, "anchor_date"); a != nullptr && !a->is_null()) {
    if (!a->is_string())
      throw invalid_argument("expected an ISO-8601 time such as \"2024-01-01T09:00:00-05:00\"",
                             field + ".anchor_date");
    anchor = parse_instant(a->get<std::string>(), field + ".anchor_date");
  } else {
    // Default: midnight 2020-01-01 in the zone, so hourly and daily intervals fall on the hour.
    const auto midnight =
        zone->resolve(schedules::LocalSeconds{date::local_days{date::year{2020} / 1 / 1}});
    anchor = TimePoint(
        std::chrono::duration_cast<std::chrono::microseconds>(midnight.time_since_epoch()));
  }
  if (anchor < kEarliest || anchor >= kLatest)
    throw invalid_argument("anchor_date must lie between the years 1 and 9999",
                           field + ".anchor_date");
  return Schedule(schedules::make_interval(micros, anchor, *zone, field));
}

Schedule Schedule::parse(std::string_view text_view, std::string_view timezone) {
  const std::string text = trim(text_view);
  if (!text.empty() && text[0] == '{') {
    nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded())
      throw invalid_argument(
          "the schedule is not valid JSON; expected e.g. {\"cron\": \"0 9 * * *\"}", "schedule");
    if (j.is_object() && !timezone.empty() && !j.contains("timezone"))
      j["timezone"] = std::string(timezone);
    return from_json(j);
  }
  const std::string u = upper(text);
  if (u.find("FREQ=") != std::string::npos || u.rfind("DTSTART", 0) == 0 ||
      u.rfind("RRULE", 0) == 0 || u.rfind("RDATE", 0) == 0) {
    return rrule(text, timezone);
  }
  return cron(text, timezone.empty() ? "UTC" : timezone);
}

nlohmann::json Schedule::to_json() const { return impl_->to_json(); }
ScheduleKind Schedule::kind() const noexcept { return impl_->kind(); }
const std::string& Schedule::timezone() const noexcept { return impl_->zone().name(); }

std::vector<TimePoint> Schedule::next(std::size_t count, TimePoint start) const {
  if (count > kMaxCount)
    throw invalid_argument(
        "count " + std::to_string(count) + " is too large; expected 0-" + std::to_string(kMaxCount),
        "count");
  std::vector<TimePoint> out;
  out.reserve(count);
  impl_->collect(std::max(start, kEarliest), kLatest, count, out);
  return out;
}

std::vector<TimePoint> Schedule::between(TimePoint start, TimePoint end, std::size_t limit) const {
  if (limit > kMaxCount)
    throw invalid_argument(
        "limit " + std::to_string(limit) + " is too large; expected 0-" + std::to_string(kMaxCount),
        "limit");
  std::vector<TimePoint> out;
  impl_->collect(std::max(start, kEarliest), std::min(end, kLatest), limit, out);
  return out;
}

std::string Schedule::format_local(TimePoint t) const { return impl_->zone().format(t); }

}  // namespace baton
