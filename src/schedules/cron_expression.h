// A parsed five-field cron expression, matched against local wall-clock time.
//
// Fields: minute hour day-of-month month day-of-week. Each accepts `*`, numbers, lists `a,b`,
// ranges `a-b`, steps `*/n`, `a-b/n` and `a/n` (a up to the field's maximum), month names JAN-DEC
// and weekday names SUN-SAT (case-insensitive); weekday 7 is Sunday like 0. The day fields also
// accept `?` (same as `*`); day-of-month accepts `L` (last day), `L-n` (n days before the last),
// `LW` (last weekday Mon-Fri) and `nW` (weekday nearest to day n, never leaving the month; no fire
// in months without day n); day-of-week accepts `n#k` (k-th weekday n of the month, k 1-5) and
// `nL` (last weekday n of the month). Macros: @yearly @annually @monthly @weekly @daily @midnight
// @hourly.
//
// Day matching: a day field is *restricted* unless it matches every value without specials (`*`,
// `?`, `*/1`, `1-31`, `0-6`, ...). When both are restricted, day_or=true fires when either matches
// (classic cron), day_or=false only when both match. (Vixie cron also treats `*/2` as unrestricted;
// here `*/2` is a restriction, as in croniter and Prefect.)
//
// Thread-safety: immutable after construction.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "schedules/time_zone.h"

namespace baton::schedules {

class CronExpression {
 public:
  // Throws baton::Error (invalid argument) naming the field, e.g. "schedule.cron.hour", and the
  // allowed range. `field_prefix` is the path of the expression ("schedule.cron").
  CronExpression(std::string_view text, bool day_or,
                 std::string_view field_prefix = "schedule.cron");

  // The first matching local time at or after `from` and before `limit` (whole minutes).
  std::optional<LocalSeconds> next_match(LocalSeconds from, LocalSeconds limit) const;

  // Bit d (1-31) set when day d of that month matches the day fields and the month field.
  std::uint32_t day_mask(date::year_month ym) const;

  const std::string& text() const noexcept { return text_; }
  bool day_or() const noexcept { return day_or_; }

 private:
  void parse_field(int index, std::string_view token, std::string_view field_prefix);

  std::string text_;
  bool day_or_ = true;
  std::uint64_t minutes_ = 0;                      // bits 0-59
  std::uint32_t hours_ = 0;                        // bits 0-23
  std::uint32_t days_ = 0;                         // bits 1-31 (plain day-of-month values)
  std::uint16_t months_ = 0;                       // bits 1-12
  std::uint8_t weekdays_ = 0;                      // bits 0-6, Sunday = 0 (plain weekday values)
  bool last_day_ = false;                          // L
  bool last_weekday_ = false;                      // LW
  std::vector<int> last_offsets_;                  // L-n
  std::vector<int> nearest_weekdays_;              // nW
  std::vector<std::pair<int, int>> nth_weekdays_;  // n#k as (weekday, k)
  std::vector<int> last_weekdays_of_month_;        // nL
  bool dom_restricted_ = false;
  bool dow_restricted_ = false;
};

}  // namespace baton::schedules
