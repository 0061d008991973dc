// Schedules: when a deployment's runs are due. Cron, interval and RRULE (RFC 5545), each in an
// IANA time zone from the system tz database, exact across daylight-saving changes.
//
//   auto s = baton::Schedule::cron("30 2 * * *", "America/New_York");
//   for (baton::TimePoint t : s.next(5, baton::parse_time("2024-03-09T00:00:00Z")))
//     std::cout << s.format_local(t) << "\n";  // ... 2024-03-10T03:30:00-04:00 ...
//
// Semantics, shared by every kind:
// - next(count, start) returns the first `count` fire times at or after `start` (inclusive),
//   ascending, without duplicates; between(start, end) those in [start, end).
// - Cron fields match local wall-clock time in the schedule's zone (a daily 09:00 stays 09:00
//   across DST). A wall time that does not exist (spring-forward gap) fires shifted forward by
//   the length of the gap (02:30 on 2024-03-10 in New York fires at 03:30 EDT); a wall time that
//   occurs twice (fall-back) fires once, at its first occurrence. Times that coincide fire once.
// - Interval: fire times are anchor + k * interval for every integer k (the anchor may lie in the
//   future). Under one day the interval is elapsed time (an hourly interval fires every real
//   hour, so local 01:00 may appear twice on fall-back). From one day up, an interval is D whole
//   days plus S seconds: fire k is the anchor's local wall time on the anchor's date + k*D days
//   (gaps and folds resolved as for cron), plus k*S seconds, so a daily 09:00 stays 09:00.
// - RRULE: RFC 5545 (DTSTART with TZID, UTC or floating; RRULE, EXDATE, RDATE), expanded by
//   libical in DTSTART's zone; nonexistent and repeated local times follow RFC 5545 section 3.3.5
//   (the same rule as above); DTSTART is always the first instance and COUNT counts from it;
//   UNTIL is inclusive; duplicate instants are removed.
//
// Errors: every factory throws baton::Error (invalid argument) naming the field, e.g.
// "schedule.cron.hour", "schedule.timezone" or "schedule.rrule.FREQ", and what is allowed. A
// schedule that can never fire (cron "0 0 30 2 *") is an error too.
//
// Thread-safety: a Schedule is an immutable value; copies share their state and every const
// method may be called from any number of threads at once.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "baton/state.h"

namespace baton {

namespace schedules {
class ScheduleImpl;
}

enum class ScheduleKind { kCron, kInterval, kRRule };
std::string_view to_string(ScheduleKind kind) noexcept;

class Schedule {
 public:
  // Caps on what one call returns, so a typo cannot ask for billions of rows.
  static constexpr std::size_t kMaxCount = 100000;

  // Five-field cron with L, W, # and macros (see src/schedules/cron_expression.h for the syntax).
  // day_or: when both day fields are restricted, true fires when either matches (classic cron),
  // false only when both do.
  static Schedule cron(std::string_view expression, std::string_view timezone = "UTC",
                       bool day_or = true);

  // Every `interval` (at least one microsecond, at most 100 years) from `anchor`.
  static Schedule interval(std::chrono::microseconds interval, TimePoint anchor,
                           std::string_view timezone = "UTC");

  // An RFC 5545 text: DTSTART (optional; default 2000-01-01T00:00:00 in the zone), one or more
  // RRULE lines, EXDATE and RDATE lines; or a bare rule "FREQ=...". `timezone` (default: DTSTART's
  // TZID, else UTC) is the zone of floating times and of format_local().
  static Schedule rrule(std::string_view text, std::string_view timezone = {});

  // {"cron": "...", "timezone": "...", "day_or": true}
  // {"interval": seconds, "anchor_date": "ISO-8601", "timezone": "..."}
  // {"rrule": "...", "timezone": "..."}
  // Unknown keys are errors (a misspelt "timezone" must not silently mean UTC). Field paths in
  // errors start with `field` ("schedule" by default).
  static Schedule from_json(const nlohmann::json& j, std::string_view field = "schedule");

  // A JSON object as above, an RFC 5545 text (has FREQ=, DTSTART or RRULE:), or else a cron
  // expression, in `timezone` (default UTC).
  static Schedule parse(std::string_view text, std::string_view timezone = {});

  // An ISO-8601 instant with "Z" or an offset ("2024-03-31T09:00:00+01:00", fraction optional),
  // checked character by character before baton::parse_time reads it, so that garbled input such
  // as "2024-01-01T09:0ca" is an error naming `field`, never undefined behaviour in date::parse.
  static TimePoint parse_instant(std::string_view text, std::string_view field);

  nlohmann::json to_json() const;
  ScheduleKind kind() const noexcept;
  const std::string& timezone() const noexcept;

  // The first `count` (at most kMaxCount) fire times at or after `start`; fewer when the schedule
  // ends (RRULE COUNT/UNTIL) or past the year 9999.
  std::vector<TimePoint> next(std::size_t count, TimePoint start) const;
  // The fire times in [start, end), at most `limit` (at most kMaxCount) of them.
  std::vector<TimePoint> between(TimePoint start, TimePoint end,
                                 std::size_t limit = kMaxCount) const;

  // "2024-03-31T08:00:00+01:00": the instant in the schedule's zone with that instant's offset.
  std::string format_local(TimePoint t) const;

 private:
  explicit Schedule(std::shared_ptr<const schedules::ScheduleImpl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const schedules::ScheduleImpl> impl_;
};

}  // namespace baton
