// The time zone layer: offsets from the system tz database, including years past the TZif files'
// last explicit transition (2037), and the gap/fold rule every schedule shares.
#include "schedules/time_zone.h"

#include <gtest/gtest.h>

#include "baton/error.h"

namespace baton::schedules {
namespace {

SysSeconds utc(const char* text) { return date::floor<Seconds>(parse_time(text)); }
LocalSeconds local(int y, unsigned m, unsigned d, int h, int mi) {
  return LocalSeconds{date::local_days{date::year{y} / m / d}} + std::chrono::hours(h) +
         std::chrono::minutes(mi);
}

struct OffsetRow {
  const char* zone;
  const char* instant;
  int offset_minutes;
};

const std::vector<OffsetRow> kOffsets = {
    {"America/New_York", "2024-07-01T12:00:00Z", -240},
    {"America/New_York", "2024-01-01T12:00:00Z", -300},
    {"America/New_York", "2050-07-01T12:00:00Z", -240},  // past 2037: from the TZif footer rule
    {"America/New_York", "2050-12-01T12:00:00Z", -300},
    {"America/New_York", "1974-02-01T12:00:00Z", -240},  // year-round DST of 1974
    {"Europe/London", "2099-07-01T12:00:00Z", 60},
    {"Australia/Lord_Howe", "2060-01-01T00:00:00Z", 660},
    {"Australia/Lord_Howe", "2060-07-01T00:00:00Z", 630},
    {"Australia/Sydney", "2070-01-01T00:00:00Z", 660},
    {"Asia/Jerusalem", "2060-07-01T00:00:00Z", 180},  // IST-2IDT,M3.4.4/26,M10.5.0
    {"Asia/Kolkata", "2060-07-01T00:00:00Z", 330},
    {"Asia/Kolkata", "1943-07-01T00:00:00Z", 390},       // +0630 during the war
    {"America/Santiago", "2060-01-01T00:00:00Z", -180},  // <-04>4<-03>,M9.1.6/24,M4.1.6/24
    {"America/Santiago", "2060-07-01T00:00:00Z", -240},
    {"UTC", "2024-07-01T00:00:00Z", 0},
};

TEST(TimeZone, OffsetsForHistoricalPresentAndFutureDates) {
  for (const auto& row : kOffsets) {
    TimeZone zone(row.zone);
    EXPECT_EQ(zone.offset_at(utc(row.instant)), std::chrono::minutes(row.offset_minutes))
        << row.zone << " at " << row.instant;
  }
}

TEST(TimeZone, FutureTransitionsComeFromTheFooterRule) {
  TimeZone ny("America/New_York");
  // 2040's DST starts on the second Sunday of March, 11 March, at 07:00 UTC.
  ZoneSegment summer = ny.segment_at(utc("2040-06-01T00:00:00Z"));
  EXPECT_EQ(summer.begin, utc("2040-03-11T07:00:00Z"));
  EXPECT_EQ(summer.end, utc("2040-11-04T06:00:00Z"));
}

TEST(TimeZone, ResolveGapShiftsForwardAndFoldTakesFirstOccurrence) {
  TimeZone ny("America/New_York");
  EXPECT_EQ(ny.resolve(local(2024, 3, 10, 2, 30)), utc("2024-03-10T07:30:00Z"));  // 03:30 EDT
  EXPECT_EQ(ny.resolve(local(2024, 11, 3, 1, 30)), utc("2024-11-03T05:30:00Z"));  // 01:30 EDT
  EXPECT_EQ(ny.resolve(local(2024, 11, 3, 2, 0)), utc("2024-11-03T07:00:00Z"));   // 02:00 EST
  EXPECT_EQ(ny.resolve(local(2045, 3, 12, 2, 15)), utc("2045-03-12T07:15:00Z"));  // future gap
  TimeZone lord_howe("Australia/Lord_Howe");
  EXPECT_EQ(lord_howe.resolve(local(2024, 10, 6, 2, 10)),
            utc("2024-10-05T15:40:00Z"));  // 02:40 +11
}

TEST(TimeZone, FormatShowsTheInstantsOwnOffset) {
  TimeZone london("Europe/London");
  EXPECT_EQ(london.format(parse_time("2024-03-31T07:00:00Z")), "2024-03-31T08:00:00+01:00");
  EXPECT_EQ(london.format(parse_time("2024-03-30T08:00:00.250Z")),
            "2024-03-30T08:00:00.250000+00:00");
  TimeZone kolkata("Asia/Kolkata");
  EXPECT_EQ(kolkata.format(parse_time("2024-01-01T00:00:00Z")), "2024-01-01T05:30:00+05:30");
  TimeZone ny("America/New_York");
  EXPECT_EQ(ny.format(parse_time("1880-01-01T12:00:00Z")),
            "1880-01-01T07:03:58-04:56:02");  // local mean time
}

TEST(TimeZone, UnknownNamesAreErrorsNamingTheField) {
  for (const char* name : {"", "Mars/Base", "../../etc/passwd", "Europe/Londonn", "utc+1"}) {
    try {
      TimeZone zone(name, "schedule.timezone");
      FAIL() << "accepted " << name;
    } catch (const Error& e) {
      EXPECT_EQ(e.field(), "schedule.timezone");
      EXPECT_NE(std::string(e.what()).find("IANA"), std::string::npos);
    }
  }
}

TEST(PosixRule, ParsesTheFormsTzdataUses) {
  EXPECT_TRUE(PosixRule::parse("EST5EDT,M3.2.0,M11.1.0"));
  EXPECT_TRUE(PosixRule::parse("<+1030>-10:30<+11>-11,M10.1.0,M4.1.0"));
  EXPECT_TRUE(PosixRule::parse("IST-2IDT,M3.4.4/26,M10.5.0"));
  EXPECT_TRUE(PosixRule::parse("<-02>2<-01>,M3.5.0/-1,M10.5.0/0"));
  EXPECT_TRUE(PosixRule::parse("XXX3YYY,J60/2,300/2"));
  EXPECT_FALSE(PosixRule::parse("IST-5:30"));  // no DST: nothing to add
  EXPECT_FALSE(PosixRule::parse("EST5EDT,M13.2.0,M11.1.0"));
  EXPECT_FALSE(PosixRule::parse("garbage"));
}

}  // namespace
}  // namespace baton::schedules
