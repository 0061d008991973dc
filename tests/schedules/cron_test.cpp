// Cron schedules as tables of rows: expression, zone, start, and the fire times a person expects.
#include <date/date.h>
#include <gtest/gtest.h>

#include "baton/error.h"
#include "baton/schedule.h"
#include "preview.h"

namespace baton {
namespace {

using testing::preview;

struct CronRow {
  const char* name;
  const char* cron;
  const char* zone;
  bool day_or;
  const char* start;
  std::vector<std::string> expected;
};

const std::vector<CronRow> kRows = {
    // Daylight saving: gaps shift forward by the gap, folds fire at the first occurrence.
    {"ny_gap_daily_0230",
     "30 2 * * *",
     "America/New_York",
     true,
     "2024-03-09T00:00:00Z",
     {"2024-03-09T02:30:00-05:00", "2024-03-10T03:30:00-04:00", "2024-03-11T02:30:00-04:00"}},
    {"ny_gap_0200_is_0300",
     "0 2 * * *",
     "America/New_York",
     true,
     "2024-03-10T00:00:00Z",
     {"2024-03-10T03:00:00-04:00", "2024-03-11T02:00:00-04:00"}},
    {"ny_fold_daily_0130_once",
     "30 1 * * *",
     "America/New_York",
     true,
     "2024-11-02T12:00:00Z",
     {"2024-11-03T01:30:00-04:00", "2024-11-04T01:30:00-05:00", "2024-11-05T01:30:00-05:00"}},
    {"ny_fold_hourly_each_wall_time_once",
     "0 * * * *",
     "America/New_York",
     true,
     "2024-11-03T04:30:00Z",
     {"2024-11-03T01:00:00-04:00", "2024-11-03T02:00:00-05:00", "2024-11-03T03:00:00-05:00",
      "2024-11-03T04:00:00-05:00"}},
    {"ny_fold_half_hourly",
     "*/30 * * * *",
     "America/New_York",
     true,
     "2024-11-03T05:00:00Z",
     {"2024-11-03T01:00:00-04:00", "2024-11-03T01:30:00-04:00", "2024-11-03T02:00:00-05:00",
      "2024-11-03T02:30:00-05:00"}},
    {"ny_gap_hourly_shift_coincides_once",
     "0 * * * *",
     "America/New_York",
     true,
     "2024-03-10T06:00:00Z",
     {"2024-03-10T01:00:00-05:00", "2024-03-10T03:00:00-04:00", "2024-03-10T04:00:00-04:00"}},
    {"ny_gap_every_20_minutes",
     "*/20 * * * *",
     "America/New_York",
     true,
     "2024-03-10T06:40:00Z",
     {"2024-03-10T01:40:00-05:00", "2024-03-10T03:00:00-04:00", "2024-03-10T03:20:00-04:00",
      "2024-03-10T03:40:00-04:00", "2024-03-10T04:00:00-04:00"}},
    {"ny_gap_only_inside_gap",
     "45 2 * * *",
     "America/New_York",
     true,
     "2024-03-10T00:00:00Z",
     {"2024-03-10T03:45:00-04:00", "2024-03-11T02:45:00-04:00"}},
    {"london_issue_example",
     "0 8 * * *",
     "Europe/London",
     true,
     "2024-03-30T00:00:00Z",
     {"2024-03-30T08:00:00+00:00", "2024-03-31T08:00:00+01:00", "2024-04-01T08:00:00+01:00"}},
    {"london_gap_0130",
     "30 1 * * *",
     "Europe/London",
     true,
     "2024-03-31T00:00:00Z",
     {"2024-03-31T02:30:00+01:00", "2024-04-01T01:30:00+01:00"}},
    {"london_fold_0130",
     "30 1 * * *",
     "Europe/London",
     true,
     "2024-10-26T12:00:00Z",
     {"2024-10-27T01:30:00+01:00", "2024-10-28T01:30:00+00:00"}},
    {"lord_howe_30_minute_gap",
     "15 2 * * *",
     "Australia/Lord_Howe",
     true,
     "2024-10-05T00:00:00Z",
     {"2024-10-06T02:45:00+11:00", "2024-10-07T02:15:00+11:00", "2024-10-08T02:15:00+11:00"}},
    {"lord_howe_30_minute_fold",
     "45 1 * * *",
     "Australia/Lord_Howe",
     true,
     "2024-04-06T00:00:00Z",
     {"2024-04-07T01:45:00+11:00", "2024-04-08T01:45:00+10:30"}},
    {"lord_howe_fold_every_15_minutes",
     "*/15 1 * * *",
     "Australia/Lord_Howe",
     true,
     "2024-04-06T13:00:00Z",
     {"2024-04-07T01:00:00+11:00", "2024-04-07T01:15:00+11:00", "2024-04-07T01:30:00+11:00",
      "2024-04-07T01:45:00+11:00", "2024-04-08T01:00:00+10:30"}},
    {"sydney_southern_gap",
     "30 2 * * *",
     "Australia/Sydney",
     true,
     "2024-10-05T00:00:00Z",
     {"2024-10-06T03:30:00+11:00", "2024-10-07T02:30:00+11:00"}},
    {"kolkata_no_dst",
     "0 9 * * *",
     "Asia/Kolkata",
     true,
     "2024-03-09T00:00:00Z",
     {"2024-03-09T09:00:00+05:30", "2024-03-10T09:00:00+05:30"}},
    {"kathmandu_quarter_hour_offset",
     "0 0 1 1 *",
     "Asia/Kathmandu",
     true,
     "2024-06-01T00:00:00Z",
     {"2025-01-01T00:00:00+05:45"}},
    {"historical_1974_year_round_dst",
     "0 12 * * *",
     "America/New_York",
     true,
     "1974-01-05T00:00:00Z",
     {"1974-01-05T12:00:00-05:00", "1974-01-06T12:00:00-04:00"}},
    {"future_2050_summer_is_edt",
     "0 12 1 7 *",
     "America/New_York",
     true,
     "2050-01-01T00:00:00Z",
     {"2050-07-01T12:00:00-04:00"}},
    {"future_2040_gap",
     "30 2 * * *",
     "America/New_York",
     true,
     "2040-03-10T12:00:00Z",
     {"2040-03-11T03:30:00-04:00", "2040-03-12T02:30:00-04:00"}},
    {"future_2045_lord_howe_gap",
     "15 2 1 10 *",
     "Australia/Lord_Howe",
     true,
     "2045-01-01T00:00:00Z",
     {"2045-10-01T02:45:00+11:00"}},
    // Calendar: leap years, L, W, #, day_or.
    {"leap_day",
     "0 0 29 2 *",
     "UTC",
     true,
     "2024-03-01T00:00:00Z",
     {"2028-02-29T00:00:00+00:00", "2032-02-29T00:00:00+00:00"}},
    {"last_day",
     "0 12 L * *",
     "UTC",
     true,
     "2024-01-15T00:00:00Z",
     {"2024-01-31T12:00:00+00:00", "2024-02-29T12:00:00+00:00", "2024-03-31T12:00:00+00:00",
      "2024-04-30T12:00:00+00:00"}},
    {"last_day_minus_2",
     "0 12 L-2 * *",
     "UTC",
     true,
     "2023-02-01T00:00:00Z",
     {"2023-02-26T12:00:00+00:00", "2023-03-29T12:00:00+00:00"}},
    {"last_weekday",
     "0 12 LW * *",
     "UTC",
     true,
     "2024-03-01T00:00:00Z",
     {"2024-03-29T12:00:00+00:00", "2024-04-30T12:00:00+00:00", "2024-05-31T12:00:00+00:00"}},
    {"nearest_weekday_1st_saturday_goes_to_monday",
     "0 12 1W * *",
     "UTC",
     true,
     "2024-06-01T00:00:00Z",
     {"2024-06-03T12:00:00+00:00", "2024-07-01T12:00:00+00:00"}},
    {"nearest_weekday_saturday_goes_to_friday",
     "0 12 15W 6 *",
     "UTC",
     true,
     "2024-01-01T00:00:00Z",
     {"2024-06-14T12:00:00+00:00"}},
    {"nearest_weekday_last_sunday_goes_to_friday",
     "0 12 30W 6 *",
     "UTC",
     true,
     "2024-01-01T00:00:00Z",
     {"2024-06-28T12:00:00+00:00"}},
    {"nearest_weekday_31_skips_short_months",
     "0 12 31W * *",
     "UTC",
     true,
     "2024-04-01T00:00:00Z",
     {"2024-05-31T12:00:00+00:00", "2024-07-31T12:00:00+00:00"}},
    {"first_monday",
     "0 10 * * MON#1",
     "UTC",
     true,
     "2024-01-01T00:00:00Z",
     {"2024-01-01T10:00:00+00:00", "2024-02-05T10:00:00+00:00", "2024-03-04T10:00:00+00:00"}},
    {"fifth_friday_only_when_it_exists",
     "0 10 * * 5#5",
     "UTC",
     true,
     "2024-01-01T00:00:00Z",
     {"2024-03-29T10:00:00+00:00", "2024-05-31T10:00:00+00:00"}},
    {"last_friday",
     "0 10 * * 5L",
     "UTC",
     true,
     "2024-01-01T00:00:00Z",
     {"2024-01-26T10:00:00+00:00", "2024-02-23T10:00:00+00:00", "2024-03-29T10:00:00+00:00"}},
    {"day_or_true_either_matches",
     "0 0 13 * FRI",
     "UTC",
     true,
     "2024-09-01T00:00:00Z",
     {"2024-09-06T00:00:00+00:00", "2024-09-13T00:00:00+00:00", "2024-09-20T00:00:00+00:00",
      "2024-09-27T00:00:00+00:00", "2024-10-04T00:00:00+00:00"}},
    {"day_or_false_friday_13th",
     "0 0 13 * FRI",
     "UTC",
     false,
     "2024-09-01T00:00:00Z",
     {"2024-09-13T00:00:00+00:00", "2024-12-13T00:00:00+00:00", "2025-06-13T00:00:00+00:00"}},
    {"day_or_irrelevant_when_one_field_is_star",
     "0 0 * * FRI",
     "UTC",
     false,
     "2024-09-01T00:00:00Z",
     {"2024-09-06T00:00:00+00:00"}},
    {"full_range_counts_as_unrestricted",
     "0 0 1-31 * MON",
     "UTC",
     true,
     "2024-09-01T00:00:00Z",
     {"2024-09-02T00:00:00+00:00", "2024-09-09T00:00:00+00:00"}},
    // Syntax.
    {"names_case_insensitive",
     "0 9 * jan-Mar mon-FRI",
     "UTC",
     true,
     "2024-03-29T10:00:00Z",
     {"2025-01-01T09:00:00+00:00", "2025-01-02T09:00:00+00:00"}},
    {"seven_is_sunday",
     "0 9 * * 7",
     "UTC",
     true,
     "2024-01-01T00:00:00Z",
     {"2024-01-07T09:00:00+00:00"}},
    {"question_mark",
     "0 9 ? * 0",
     "UTC",
     true,
     "2024-01-01T00:00:00Z",
     {"2024-01-07T09:00:00+00:00"}},
    {"range_step",
     "10-50/20 * * * *",
     "UTC",
     true,
     "2024-01-01T00:00:00Z",
     {"2024-01-01T00:10:00+00:00", "2024-01-01T00:30:00+00:00", "2024-01-01T00:50:00+00:00",
      "2024-01-01T01:10:00+00:00"}},
    {"start_slash_step",
     "5/20 * * * *",
     "UTC",
     true,
     "2024-01-01T00:00:00Z",
     {"2024-01-01T00:05:00+00:00", "2024-01-01T00:25:00+00:00", "2024-01-01T00:45:00+00:00",
      "2024-01-01T01:05:00+00:00"}},
    {"list_of_ranges",
     "0 8-9,17 * * *",
     "UTC",
     true,
     "2024-01-01T00:00:00Z",
     {"2024-01-01T08:00:00+00:00", "2024-01-01T09:00:00+00:00", "2024-01-01T17:00:00+00:00",
      "2024-01-02T08:00:00+00:00"}},
    {"macro_hourly", "@hourly", "UTC", true, "2024-01-01T00:00:01Z", {"2024-01-01T01:00:00+00:00"}},
    {"macro_weekly_is_sunday_midnight",
     "@weekly",
     "UTC",
     true,
     "2024-01-01T00:00:00Z",
     {"2024-01-07T00:00:00+00:00"}},
    {"macro_yearly", "@YEARLY", "UTC", true, "2024-01-01T00:00:01Z", {"2025-01-01T00:00:00+00:00"}},
    {"macro_annually_monthly_daily_midnight",
     "@midnight",
     "Europe/Paris",
     true,
     "2024-01-01T12:00:00Z",
     {"2024-01-02T00:00:00+01:00"}},
    {"start_is_inclusive",
     "0 9 * * *",
     "UTC",
     true,
     "2024-01-01T09:00:00Z",
     {"2024-01-01T09:00:00+00:00", "2024-01-02T09:00:00+00:00"}},
    {"start_a_microsecond_late",
     "0 9 * * *",
     "UTC",
     true,
     "2024-01-01T09:00:00.000001Z",
     {"2024-01-02T09:00:00+00:00"}},
    {"year_end_rollover",
     "59 23 31 12 *",
     "UTC",
     true,
     "2024-12-31T23:59:30Z",
     {"2025-12-31T23:59:00+00:00"}},
};

class CronRows : public ::testing::TestWithParam<CronRow> {};

TEST_P(CronRows, FiresAtExpectedLocalTimes) {
  const CronRow& row = GetParam();
  Schedule s = Schedule::cron(row.cron, row.zone, row.day_or);
  EXPECT_EQ(preview(s, row.start, row.expected.size()), row.expected);
}

INSTANTIATE_TEST_SUITE_P(Table, CronRows, ::testing::ValuesIn(kRows),
                         [](const auto& info) { return std::string(info.param.name); });

struct BadCronRow {
  const char* name;
  const char* cron;
  const char* zone;
  const char* field;
  const char* message_part;
};

const std::vector<BadCronRow> kBadRows = {
    {"hour_25", "0 25 * * *", "UTC", "schedule.cron.hour", "0-23"},
    {"minute_60", "60 * * * *", "UTC", "schedule.cron.minute", "0-59"},
    {"step_zero", "*/0 * * * *", "UTC", "schedule.cron.minute", "step 0"},
    {"step_zero_alone", "*/0", "UTC", "schedule.cron.minute", "step 0"},
    {"empty", "", "UTC", "schedule.cron", "5 fields"},
    {"blank", "   ", "UTC", "schedule.cron", "5 fields"},
    {"too_few_fields", "0 9 * *", "UTC", "schedule.cron", "expected 5"},
    {"six_fields", "0 0 9 * * *", "UTC", "schedule.cron", "expected 5"},
    {"day_of_month_0", "0 0 0 * *", "UTC", "schedule.cron.day_of_month", "1-31"},
    {"month_13", "0 0 1 13 *", "UTC", "schedule.cron.month", "1-12"},
    {"weekday_8", "0 0 * * 8", "UTC", "schedule.cron.day_of_week", "0-7"},
    {"bad_month_name", "0 0 1 JANUARY *", "UTC", "schedule.cron.month", "JAN-DEC"},
    {"backwards_range", "0 17-9 * * *", "UTC", "schedule.cron.hour", "backwards"},
    {"sixth_weekday", "0 0 * * MON#6", "UTC", "schedule.cron.day_of_week", "1-5"},
    {"l_alone_in_weekday", "0 0 * * L", "UTC", "schedule.cron.day_of_week", "n#k"},
    {"hash_in_day_of_month", "0 0 1#2 * *", "UTC", "schedule.cron.day_of_month", "1-31"},
    {"question_mark_in_hour", "0 ? * * *", "UTC", "schedule.cron.hour", "0-23"},
    {"empty_list_item", "1,,2 * * * *", "UTC", "schedule.cron.minute", "empty list item"},
    {"letters", "a b c d e", "UTC", "schedule.cron.minute", "not a valid value"},
    {"huge_number", "99999999999 * * * *", "UTC", "schedule.cron.minute", "out of range"},
    {"unknown_macro", "@reboot", "UTC", "schedule.cron", "@hourly"},
    {"never_fires_feb_30", "0 0 30 2 *", "UTC", "schedule.cron.day_of_month", "never fires"},
    {"never_fires_and_of_days", "0 0 31 4,6,9,11 *", "UTC", "schedule.cron.day_of_month",
     "never fires"},
    {"unknown_zone", "0 0 * * *", "Mars/Olympus_Mons", "schedule.timezone", "IANA"},
    {"empty_zone_is_not_utc_silently", "0 0 * * *", "Europe/Londn", "schedule.timezone",
     "Europe/Londn"},
};

class BadCronRows : public ::testing::TestWithParam<BadCronRow> {};

TEST_P(BadCronRows, RejectedWithFieldAndAllowedRange) {
  const BadCronRow& row = GetParam();
  try {
    Schedule::cron(row.cron, row.zone);
    FAIL() << "accepted '" << row.cron << "'";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    EXPECT_EQ(e.field(), row.field) << e.what();
    EXPECT_NE(std::string(e.what()).find(row.message_part), std::string::npos) << e.what();
  }
}

INSTANTIATE_TEST_SUITE_P(Table, BadCronRows, ::testing::ValuesIn(kBadRows),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(Cron, DayOrFalseRestrictsToFridayThe13thOverManyYears) {
  Schedule s = Schedule::cron("0 0 13 * 5", "UTC", false);
  for (TimePoint t : s.next(50, parse_time("2000-01-01T00:00:00Z"))) {
    const auto day =
        date::floor<date::days>(date::sys_time<std::chrono::microseconds>(t.time_since_epoch()));
    EXPECT_EQ(date::year_month_day(day).day(), date::day(13));
    EXPECT_EQ(date::weekday(day), date::Friday);
  }
}

TEST(Cron, EveryMinuteAcrossBothDstChangesOfAYearHasNoDuplicatesAndIsSorted) {
  // Every local wall time that matches fires once: 366 days * 24 h * 9 matches an hour
  // (0,7,...,56), less the 9 of a one-hour gap, whose shifted times coincide with the hour after
  // it. Lord Howe's 30-minute gap shifts 02:00..02:28 onto 02:30..02:58, which do not coincide with
  // 02:35..02:56.
  const std::size_t full = 366u * 24 * 9;
  const std::vector<std::pair<const char*, std::size_t>> zones = {{"America/New_York", full - 9},
                                                                  {"Australia/Lord_Howe", full},
                                                                  {"Europe/London", full - 9},
                                                                  {"Asia/Kolkata", full}};
  for (const auto& [zone, expected] : zones) {
    Schedule s = Schedule::cron("*/7 * * * *", zone);
    auto times = s.between(parse_time("2024-01-01T00:00:00Z"), parse_time("2025-01-01T00:00:00Z"));
    ASSERT_FALSE(times.empty());
    for (std::size_t i = 1; i < times.size(); ++i)
      ASSERT_LT(times[i - 1], times[i]) << zone << " at " << i;
    EXPECT_EQ(times.size(), expected) << zone;
  }
}

TEST(Cron, BetweenHonoursTheWindowAndLimit) {
  Schedule s = Schedule::cron("0 * * * *", "UTC");
  auto times = s.between(parse_time("2024-01-01T00:00:00Z"), parse_time("2024-01-01T05:00:00Z"));
  ASSERT_EQ(times.size(), 5u);  // end is exclusive
  EXPECT_EQ(s.format_local(times.back()), "2024-01-01T04:00:00+00:00");
  EXPECT_EQ(
      s.between(parse_time("2024-01-01T00:00:00Z"), parse_time("2024-02-01T00:00:00Z"), 3).size(),
      3u);
}

}  // namespace
}  // namespace baton
