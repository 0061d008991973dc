// RRULE schedules: RFC 5545's own examples (section 3.8.5.3), its rule for nonexistent and repeated
// local times (section 3.3.5), EXDATE, RDATE, UNTIL, COUNT, and the errors.
#include <gtest/gtest.h>

#include "baton/error.h"
#include "baton/schedule.h"
#include "preview.h"

namespace baton {
namespace {

using testing::preview;

struct RRuleRow {
  const char* name;
  const char* rrule;
  const char* zone;  // "" = from DTSTART
  const char* start;
  std::size_t ask;  // how many to ask for (more than expected when the rule ends)
  std::vector<std::string> expected;
};

#define NY "DTSTART;TZID=America/New_York:"

const std::vector<RRuleRow> kRows = {
    {"rfc_daily_for_10",
     NY "19970902T090000\nRRULE:FREQ=DAILY;COUNT=10",
     "",
     "1997-01-01T00:00:00Z",
     20,
     {"1997-09-02T09:00:00-04:00", "1997-09-03T09:00:00-04:00", "1997-09-04T09:00:00-04:00",
      "1997-09-05T09:00:00-04:00", "1997-09-06T09:00:00-04:00", "1997-09-07T09:00:00-04:00",
      "1997-09-08T09:00:00-04:00", "1997-09-09T09:00:00-04:00", "1997-09-10T09:00:00-04:00",
      "1997-09-11T09:00:00-04:00"}},
    {"rfc_every_10_days_5_times",
     NY "19970902T090000\nRRULE:FREQ=DAILY;INTERVAL=10;COUNT=5",
     "",
     "1997-01-01T00:00:00Z",
     10,
     {"1997-09-02T09:00:00-04:00", "1997-09-12T09:00:00-04:00", "1997-09-22T09:00:00-04:00",
      "1997-10-02T09:00:00-04:00", "1997-10-12T09:00:00-04:00"}},
    {"rfc_weekly_for_10_crosses_dst_end",
     NY "19970902T090000\nRRULE:FREQ=WEEKLY;COUNT=10",
     "",
     "1997-10-20T00:00:00Z",
     10,
     {"1997-10-21T09:00:00-04:00", "1997-10-28T09:00:00-05:00", "1997-11-04T09:00:00-05:00"}},
    {"rfc_monthly_first_friday",
     NY "19970905T090000\nRRULE:FREQ=MONTHLY;COUNT=10;BYDAY=1FR",
     "",
     "1997-12-01T00:00:00Z",
     10,
     {"1997-12-05T09:00:00-05:00", "1998-01-02T09:00:00-05:00", "1998-02-06T09:00:00-05:00",
      "1998-03-06T09:00:00-05:00", "1998-04-03T09:00:00-05:00", "1998-05-01T09:00:00-04:00",
      "1998-06-05T09:00:00-04:00"}},
    {"rfc_friday_13th_with_exdate",
     NY "19970902T090000\nEXDATE;TZID=America/"
        "New_York:19970902T090000\nRRULE:FREQ=MONTHLY;BYDAY=FR;BYMONTHDAY=13",
     "",
     "1997-01-01T00:00:00Z",
     5,
     {"1998-02-13T09:00:00-05:00", "1998-03-13T09:00:00-05:00", "1998-11-13T09:00:00-05:00",
      "1999-08-13T09:00:00-04:00", "2000-10-13T09:00:00-04:00"}},
    {"rfc_last_work_day_of_month",
     NY "19970929T090000\nRRULE:FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1",
     "",
     "1997-09-29T13:00:00Z",
     5,
     {"1997-09-29T09:00:00-04:00", "1997-09-30T09:00:00-04:00", "1997-10-31T09:00:00-05:00",
      "1997-11-28T09:00:00-05:00", "1997-12-31T09:00:00-05:00"}},
    {"rfc_third_tue_wed_thu_bysetpos",
     NY "19970904T090000\nRRULE:FREQ=MONTHLY;COUNT=3;BYDAY=TU,WE,TH;BYSETPOS=3",
     "",
     "1997-01-01T00:00:00Z",
     5,
     {"1997-09-04T09:00:00-04:00", "1997-10-07T09:00:00-04:00", "1997-11-06T09:00:00-05:00"}},
    {"rfc_monday_of_week_20",
     NY "19970512T090000\nRRULE:FREQ=YEARLY;BYWEEKNO=20;BYDAY=MO",
     "",
     "1997-01-01T00:00:00Z",
     3,
     {"1997-05-12T09:00:00-04:00", "1998-05-11T09:00:00-04:00", "1999-05-17T09:00:00-04:00"}},
    {"rfc_every_third_year_by_year_day",
     NY "19970101T090000\nRRULE:FREQ=YEARLY;INTERVAL=3;COUNT=10;BYYEARDAY=1,100,200",
     "",
     "1997-01-01T00:00:00Z",
     20,
     {"1997-01-01T09:00:00-05:00", "1997-04-10T09:00:00-04:00", "1997-07-19T09:00:00-04:00",
      "2000-01-01T09:00:00-05:00", "2000-04-09T09:00:00-04:00", "2000-07-18T09:00:00-04:00",
      "2003-01-01T09:00:00-05:00", "2003-04-10T09:00:00-04:00", "2003-07-19T09:00:00-04:00",
      "2006-01-01T09:00:00-05:00"}},
    {"rfc_us_election_day",
     NY
     "19961105T090000\nRRULE:FREQ=YEARLY;INTERVAL=4;BYMONTH=11;BYDAY=TU;BYMONTHDAY=2,3,4,5,6,7,8",
     "",
     "1996-01-01T00:00:00Z",
     3,
     {"1996-11-05T09:00:00-05:00", "2000-11-07T09:00:00-05:00", "2004-11-02T09:00:00-05:00"}},
    {"rfc_every_20_minutes_9_to_1640",
     NY "19970902T090000\nRRULE:FREQ=DAILY;BYHOUR=9,10,11,12,13,14,15,16;BYMINUTE=0,20,40",
     "",
     "1997-09-02T20:30:00Z",
     3,
     {"1997-09-02T16:40:00-04:00", "1997-09-03T09:00:00-04:00", "1997-09-03T09:20:00-04:00"}},
    {"rfc_wkst_monday",
     NY "19970805T090000\nRRULE:FREQ=WEEKLY;INTERVAL=2;COUNT=4;BYDAY=TU,SU;WKST=MO",
     "",
     "1997-01-01T00:00:00Z",
     10,
     {"1997-08-05T09:00:00-04:00", "1997-08-10T09:00:00-04:00", "1997-08-19T09:00:00-04:00",
      "1997-08-24T09:00:00-04:00"}},
    {"rfc_wkst_sunday",
     NY "19970805T090000\nRRULE:FREQ=WEEKLY;INTERVAL=2;COUNT=4;BYDAY=TU,SU;WKST=SU",
     "",
     "1997-01-01T00:00:00Z",
     10,
     {"1997-08-05T09:00:00-04:00", "1997-08-17T09:00:00-04:00", "1997-08-19T09:00:00-04:00",
      "1997-08-31T09:00:00-04:00"}},
    {"rfc_until_is_inclusive_and_utc",
     NY "19970902T090000\nRRULE:FREQ=DAILY;UNTIL=19970904T130000Z",
     "",
     "1997-01-01T00:00:00Z",
     10,
     {"1997-09-02T09:00:00-04:00", "1997-09-03T09:00:00-04:00", "1997-09-04T09:00:00-04:00"}},
    // RFC 5545 section 3.3.5: a nonexistent local time is shifted forward by the gap; a repeated
    // one is its first occurrence.
    {"gap_shifts_forward",
     NY "20240309T023000\nRRULE:FREQ=DAILY;COUNT=3",
     "",
     "2024-01-01T00:00:00Z",
     5,
     {"2024-03-09T02:30:00-05:00", "2024-03-10T03:30:00-04:00", "2024-03-11T02:30:00-04:00"}},
    {"fold_first_occurrence",
     NY "20241102T013000\nRRULE:FREQ=DAILY;COUNT=3",
     "",
     "2024-01-01T00:00:00Z",
     5,
     {"2024-11-02T01:30:00-04:00", "2024-11-03T01:30:00-04:00", "2024-11-04T01:30:00-05:00"}},
    {"hourly_wall_clock_across_fold",
     NY "20241103T000000\nRRULE:FREQ=HOURLY;COUNT=4",
     "",
     "2024-01-01T00:00:00Z",
     5,
     {"2024-11-03T00:00:00-04:00", "2024-11-03T01:00:00-04:00", "2024-11-03T02:00:00-05:00",
      "2024-11-03T03:00:00-05:00"}},
    {"duplicates_from_the_gap_removed",
     NY "20240310T013000\nRRULE:FREQ=MINUTELY;INTERVAL=30;COUNT=4",
     "",
     "2024-01-01T00:00:00Z",
     5,
     {"2024-03-10T01:30:00-05:00", "2024-03-10T03:00:00-04:00", "2024-03-10T03:30:00-04:00"}},
    {"lord_howe_gap",
     "DTSTART;TZID=Australia/Lord_Howe:20241005T021500\nRRULE:FREQ=DAILY;COUNT=3",
     "",
     "2024-01-01T00:00:00Z",
     5,
     {"2024-10-05T02:15:00+10:30", "2024-10-06T02:45:00+11:00", "2024-10-07T02:15:00+11:00"}},
    {"kolkata_weekly",
     "DTSTART;TZID=Asia/Kolkata:20240101T090000\nRRULE:FREQ=WEEKLY;BYDAY=MO,TH",
     "",
     "2024-06-01T00:00:00Z",
     2,
     {"2024-06-03T09:00:00+05:30", "2024-06-06T09:00:00+05:30"}},
    {"issue_berlin_weekly_monday",
     "DTSTART;TZID=Europe/Berlin:20240101T090000\nRRULE:FREQ=WEEKLY;BYDAY=MO",
     "",
     "2024-03-20T00:00:00Z",
     2,
     {"2024-03-25T09:00:00+01:00", "2024-04-01T09:00:00+02:00"}},
    // Sources and zones.
    {"utc_dtstart_shown_in_schedule_zone",
     "DTSTART:20240101T090000Z\nRRULE:FREQ=DAILY",
     "Europe/Berlin",
     "2024-01-01T00:00:00Z",
     1,
     {"2024-01-01T10:00:00+01:00"}},
    {"floating_dtstart_in_schedule_zone",
     "DTSTART:20240101T090000\nRRULE:FREQ=DAILY",
     "Asia/Tokyo",
     "2024-01-01T00:00:00Z",
     1,
     {"2024-01-01T09:00:00+09:00"}},
    {"rdate_added_exdate_removed",
     "DTSTART:20240101T090000Z\nRRULE:FREQ=DAILY;COUNT=3\nRDATE:20240105T120000Z\nEXDATE:"
     "20240102T090000Z",
     "",
     "2024-01-01T00:00:00Z",
     10,
     {"2024-01-01T09:00:00+00:00", "2024-01-03T09:00:00+00:00", "2024-01-05T12:00:00+00:00"}},
    {"exdate_as_date_removes_that_day",
     "DTSTART;TZID=Europe/"
     "Paris:20240101T090000\nRRULE:FREQ=DAILY;COUNT=3\nEXDATE;VALUE=DATE:20240102",
     "",
     "2024-01-01T00:00:00Z",
     10,
     {"2024-01-01T09:00:00+01:00", "2024-01-03T09:00:00+01:00"}},
    {"dtstart_is_first_instance_and_counts",
     "DTSTART:20240102T090000Z\nRRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=3",
     "",
     "2024-01-01T00:00:00Z",
     10,
     {"2024-01-02T09:00:00+00:00", "2024-01-08T09:00:00+00:00", "2024-01-15T09:00:00+00:00"}},
    {"bare_rule_with_zone",
     "FREQ=DAILY;BYHOUR=9;BYMINUTE=30",
     "Europe/London",
     "2024-03-30T12:00:00Z",
     2,
     {"2024-03-31T09:30:00+01:00", "2024-04-01T09:30:00+01:00"}},
    {"literal_backslash_n_separates_lines",
     "DTSTART:20240101T090000Z\\nRRULE:FREQ=DAILY",
     "",
     "2024-01-01T00:00:00Z",
     1,
     {"2024-01-01T09:00:00+00:00"}},
    {"two_rrules_merged",
     "DTSTART:20240101T090000Z\nRRULE:FREQ=DAILY;COUNT=2\nRRULE:FREQ=DAILY;BYHOUR=18;COUNT=2",
     "",
     "2024-01-01T00:00:00Z",
     10,
     {"2024-01-01T09:00:00+00:00", "2024-01-01T18:00:00+00:00", "2024-01-02T09:00:00+00:00"}},
    {"all_day_dates",
     "DTSTART;VALUE=DATE:20240101\nRRULE:FREQ=MONTHLY;BYMONTHDAY=-1;COUNT=2",
     "America/Chicago",
     "2023-01-01T00:00:00Z",
     5,
     {"2024-01-01T00:00:00-06:00", "2024-01-31T00:00:00-06:00"}},
    // Skipping ahead from an old DTSTART keeps the INTERVAL phase.
    {"skip_ahead_minutely_interval_7",
     "DTSTART:20240101T090000Z\nRRULE:FREQ=MINUTELY;INTERVAL=7",
     "",
     "2024-06-05T00:00:00Z",
     3,
     {"2024-06-05T00:05:00+00:00", "2024-06-05T00:12:00+00:00", "2024-06-05T00:19:00+00:00"}},
    {"skip_ahead_hourly_interval_5",
     "DTSTART:20240101T090000Z\nRRULE:FREQ=HOURLY;INTERVAL=5",
     "",
     "2024-06-05T00:00:00Z",
     3,
     {"2024-06-05T00:00:00+00:00", "2024-06-05T05:00:00+00:00", "2024-06-05T10:00:00+00:00"}},
    {"skip_ahead_biweekly",
     "DTSTART:20240101T090000Z\nRRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=MO",
     "",
     "2024-06-05T00:00:00Z",
     2,
     {"2024-06-17T09:00:00+00:00", "2024-07-01T09:00:00+00:00"}},
    {"skip_ahead_monthly_interval_5",
     "DTSTART:20240101T090000Z\nRRULE:FREQ=MONTHLY;INTERVAL=5;BYMONTHDAY=-1",
     "",
     "2026-06-05T00:00:00Z",
     2,
     {"2026-07-31T09:00:00+00:00", "2026-12-31T09:00:00+00:00"}},
};

class RRuleRows : public ::testing::TestWithParam<RRuleRow> {};

TEST_P(RRuleRows, FiresAtExpectedTimes) {
  const RRuleRow& row = GetParam();
  Schedule s = Schedule::rrule(row.rrule, row.zone);
  EXPECT_EQ(preview(s, row.start, row.ask), row.expected);
}

INSTANTIATE_TEST_SUITE_P(Table, RRuleRows, ::testing::ValuesIn(kRows),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(RRule, RfcWeeklyUntilDecember24Has17Occurrences) {
  Schedule s = Schedule::rrule(NY "19970902T090000\nRRULE:FREQ=WEEKLY;UNTIL=19971224T000000Z");
  auto times = s.next(100, parse_time("1997-01-01T00:00:00Z"));
  ASSERT_EQ(times.size(), 17u);
  EXPECT_EQ(s.format_local(times.back()), "1997-12-23T09:00:00-05:00");
}

TEST(RRule, RfcEveryOtherWeekMonWedFriHas25Occurrences) {
  Schedule s = Schedule::rrule(NY
                               "19970901T090000\nRRULE:FREQ=WEEKLY;INTERVAL=2;UNTIL="
                               "19971224T000000Z;WKST=SU;BYDAY=MO,WE,FR");
  auto times = s.next(100, parse_time("1997-01-01T00:00:00Z"));
  ASSERT_EQ(times.size(), 25u);
  EXPECT_EQ(s.format_local(times[3]), "1997-09-15T09:00:00-04:00");
  EXPECT_EQ(s.format_local(times.back()), "1997-12-22T09:00:00-05:00");
}

TEST(RRule, RfcEveryDayInJanuaryFor3YearsHas93Occurrences) {
  Schedule s = Schedule::rrule(NY
                               "19980101T090000\nRRULE:FREQ=YEARLY;UNTIL=20000131T140000Z;BYMONTH="
                               "1;BYDAY=SU,MO,TU,WE,TH,FR,SA");
  EXPECT_EQ(s.next(200, parse_time("1990-01-01T00:00:00Z")).size(), 93u);
}

TEST(RRule, WithoutDtstartTheDefaultAnchorIsNotAnInstance) {
  // The default DTSTART, 2000-01-01T00:00 in the zone, does not match BYHOUR=9: it must not fire.
  Schedule s = Schedule::rrule("FREQ=DAILY;BYHOUR=9;COUNT=2", "UTC");
  EXPECT_EQ(preview(s, "1999-01-01T00:00:00Z", 5),
            (std::vector<std::string>{"2000-01-01T09:00:00+00:00", "2000-01-02T09:00:00+00:00"}));
  Schedule only_rdates = Schedule::rrule("RDATE:20240105T120000Z,20240106T120000Z", "UTC");
  EXPECT_EQ(preview(only_rdates, "1999-01-01T00:00:00Z", 5),
            (std::vector<std::string>{"2024-01-05T12:00:00+00:00", "2024-01-06T12:00:00+00:00"}));
}

TEST(RRule, CountIsCountedFromDtstartNotFromTheQueryStart) {
  Schedule s = Schedule::rrule("DTSTART:20240101T090000Z\nRRULE:FREQ=DAILY;COUNT=5");
  auto times = s.next(10, parse_time("2024-01-04T00:00:00Z"));
  ASSERT_EQ(times.size(), 2u);
  EXPECT_EQ(s.format_local(times[1]), "2024-01-05T09:00:00+00:00");
}

struct BadRRuleRow {
  const char* name;
  const char* rrule;
  const char* field;
  const char* message_part;
};

const std::vector<BadRRuleRow> kBadRows = {
    {"freq_sometimes", "FREQ=SOMETIMES", "schedule.rrule.FREQ", "DAILY"},
    {"empty", "", "schedule.rrule", "empty"},
    {"no_freq", "DTSTART:20240101T090000Z\nRRULE:INTERVAL=2", "schedule.rrule.FREQ", "FREQ"},
    {"byhour_25", "FREQ=DAILY;BYHOUR=25", "schedule.rrule.BYHOUR", "0-23"},
    {"byminute_60", "FREQ=DAILY;BYMINUTE=60", "schedule.rrule.BYMINUTE", "0-59"},
    {"bymonth_13", "FREQ=YEARLY;BYMONTH=13", "schedule.rrule.BYMONTH", "1-12"},
    {"bymonthday_0", "FREQ=MONTHLY;BYMONTHDAY=0", "schedule.rrule.BYMONTHDAY", "1 to 31"},
    {"byyearday_367", "FREQ=YEARLY;BYYEARDAY=367", "schedule.rrule.BYYEARDAY", "366"},
    {"byweekno_54", "FREQ=YEARLY;BYWEEKNO=54", "schedule.rrule.BYWEEKNO", "53"},
    {"byweekno_not_yearly", "FREQ=MONTHLY;BYWEEKNO=5", "schedule.rrule.BYWEEKNO", "YEARLY"},
    {"byday_bad", "FREQ=WEEKLY;BYDAY=XX", "schedule.rrule.BYDAY", "MO"},
    {"byday_ordinal_in_weekly", "FREQ=WEEKLY;BYDAY=5MO", "schedule.rrule.BYDAY", "ordinal"},
    {"byday_ordinal_6_in_monthly", "FREQ=MONTHLY;BYDAY=6MO", "schedule.rrule.BYDAY", "1 to 5"},
    {"interval_0", "FREQ=DAILY;INTERVAL=0", "schedule.rrule.INTERVAL", "1-10000"},
    {"count_0", "FREQ=DAILY;COUNT=0", "schedule.rrule.COUNT", "1-1000000"},
    {"count_and_until", "FREQ=DAILY;COUNT=2;UNTIL=20250101T000000Z", "schedule.rrule.COUNT",
     "UNTIL"},
    {"bad_until", "FREQ=DAILY;UNTIL=tomorrow", "schedule.rrule.UNTIL", "YYYYMMDD"},
    {"wkst_bad", "FREQ=WEEKLY;WKST=XX", "schedule.rrule.WKST", "MO"},
    {"unknown_part", "FREQ=DAILY;BYEASTER=1", "schedule.rrule.BYEASTER", "BYSETPOS"},
    {"repeated_part", "FREQ=DAILY;FREQ=WEEKLY", "schedule.rrule.FREQ", "twice"},
    {"bysetpos_alone", "FREQ=MONTHLY;BYSETPOS=1", "schedule.rrule.BYSETPOS", "another"},
    {"unknown_tzid", "DTSTART;TZID=Mars/Base:20240101T090000\nRRULE:FREQ=DAILY",
     "schedule.rrule.DTSTART.TZID", "IANA"},
    {"bad_dtstart_date", "DTSTART:20240230T090000Z\nRRULE:FREQ=DAILY", "schedule.rrule.DTSTART",
     "real date"},
    {"bad_dtstart_time", "DTSTART:20240101T250000Z\nRRULE:FREQ=DAILY", "schedule.rrule.DTSTART",
     "00-23"},
    {"two_dtstarts", "DTSTART:20240101T090000Z\nDTSTART:20240102T090000Z\nRRULE:FREQ=DAILY",
     "schedule.rrule.DTSTART", "one"},
    {"unknown_property", "DTSTART:20240101T090000Z\nSUMMARY:hi\nRRULE:FREQ=DAILY", "schedule.rrule",
     "SUMMARY"},
    {"no_rule", "DTSTART:20240101T090000Z", "schedule.rrule.RRULE", "RRULE"},
    {"never_yearly_feb_30", "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", "schedule.rrule.RRULE", "never"},
    {"never_hourly_feb_30", "FREQ=HOURLY;BYMONTH=2;BYMONTHDAY=30", "schedule.rrule.RRULE", "never"},
    {"rdate_period", "DTSTART:20240101T090000Z\nRDATE;VALUE=PERIOD:20240101T090000Z/PT1H",
     "schedule.rrule.RDATE", "PERIOD"},
};

class BadRRuleRows : public ::testing::TestWithParam<BadRRuleRow> {};

TEST_P(BadRRuleRows, RejectedNamingThePartAndAllowedValues) {
  const BadRRuleRow& row = GetParam();
  try {
    Schedule::rrule(row.rrule);
    FAIL() << "accepted '" << row.rrule << "'";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    EXPECT_EQ(e.field(), row.field) << e.what();
    EXPECT_NE(std::string(e.what()).find(row.message_part), std::string::npos) << e.what();
  }
}

INSTANTIATE_TEST_SUITE_P(Table, BadRRuleRows, ::testing::ValuesIn(kBadRows),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace baton
