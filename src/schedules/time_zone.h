// An IANA time zone from the system tz database (/usr/share/zoneinfo), with the two queries the
// schedules need: the constant-offset segment that contains an instant, and the instant a local
// wall-clock time stands for.
//
// date/tz (built with USE_OS_TZDB) reads the compiled TZif files, whose explicit transitions end
// in 2037; after the last one it would keep the last offset forever. TZif files end with a POSIX
// TZ rule for all later years ("EST5EDT,M3.2.0,M11.1.0"), so past the last transition we answer
// from that rule (PosixRule below). That keeps New York's summers in EDT in 2050.
//
// Thread-safety: immutable after construction; safe to share between threads.
#pragma once

#include <date/tz.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "baton/state.h"

namespace baton::schedules {

using Seconds = std::chrono::seconds;
using SysSeconds = date::sys_time<Seconds>;
using LocalSeconds = date::local_time<Seconds>;

// A stretch of time with one UTC offset: [begin, end), local = utc + offset.
struct ZoneSegment {
  SysSeconds begin;
  SysSeconds end;
  Seconds offset;
};

// A POSIX TZ rule as found at the end of TZif files: "EST5EDT,M3.2.0,M11.1.0",
// "<+1030>-10:30<+11>-11,M10.1.0,M4.1.0", "IST-2IDT,M3.4.4/26,M10.5.0". (date/ptz.h does this job
// but does not compile as C++20.) Only rules with DST are kept; Jn and n day forms included.
class PosixRule {
 public:
  // nullopt when `text` is not a rule with DST transitions.
  static std::optional<PosixRule> parse(std::string_view text);
  ZoneSegment segment_at(SysSeconds t) const;

 private:
  struct When {
    char form = 'M';  // 'M' month.week.weekday, 'J' julian 1-365 without Feb 29, 'n' 0-365
    int month = 0, week = 0, weekday = 0, day = 0;
    Seconds time{7200};
  };
  SysSeconds transition(int year, const When& when, Seconds offset_before) const;

  Seconds std_offset_{0};
  Seconds dst_offset_{0};
  When start_, end_;
};

class TimeZone {
 public:
  // Throws baton::Error (invalid argument, naming `field`) for a name the database lacks.
  explicit TimeZone(std::string_view name, std::string_view field = "timezone");

  const std::string& name() const noexcept { return name_; }

  ZoneSegment segment_at(SysSeconds t) const;
  Seconds offset_at(SysSeconds t) const { return segment_at(t).offset; }
  LocalSeconds to_local(SysSeconds t) const {
    return LocalSeconds{(t + offset_at(t)).time_since_epoch()};
  }

  // The instant a local wall-clock time stands for, by the rule of RFC 5545 section 3.3.5 that cron
  // and interval schedules share: a time that occurs twice (fall-back) means its first
  // occurrence; a time that does not exist (spring-forward gap) is read with the offset in force
  // before the gap, i.e. shifted forward by the length of the gap.
  SysSeconds resolve(LocalSeconds local) const;

  // "2024-03-31T08:00:00+01:00": the instant as local time with its offset (fraction when
  // non-zero).
  std::string format(TimePoint t) const;

 private:
  std::string name_;
  const date::time_zone* zone_ = nullptr;
  std::optional<PosixRule> rule_;  // the TZif footer rule for times after the last transition
};

}  // namespace baton::schedules
