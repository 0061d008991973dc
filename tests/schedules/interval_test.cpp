// Interval schedules: elapsed time under a day, calendar days (wall-clock kept) from a day up.
#include <gtest/gtest.h>

#include "baton/error.h"
#include "baton/schedule.h"
#include "preview.h"

namespace baton {
namespace {

using testing::preview;

struct IntervalRow {
  const char* name;
  double seconds;
  const char* anchor;
  const char* zone;
  const char* start;
  std::vector<std::string> expected;
};

const std::vector<IntervalRow> kRows = {
    {"hourly_is_elapsed_time_so_0100_repeats_on_fold",
     3600,
     "2024-11-03T00:00:00-04:00",
     "America/New_York",
     "2024-11-03T00:00:00-04:00",
     {"2024-11-03T00:00:00-04:00", "2024-11-03T01:00:00-04:00", "2024-11-03T01:00:00-05:00",
      "2024-11-03T02:00:00-05:00"}},
    {"hourly_skips_the_gap",
     3600,
     "2024-03-10T00:00:00-05:00",
     "America/New_York",
     "2024-03-10T00:00:00-05:00",
     {"2024-03-10T00:00:00-05:00", "2024-03-10T01:00:00-05:00", "2024-03-10T03:00:00-04:00"}},
    {"half_hourly_lord_howe_fold",
     1800,
     "2024-04-07T01:00:00+11:00",
     "Australia/Lord_Howe",
     "2024-04-07T01:00:00+11:00",
     {"2024-04-07T01:00:00+11:00", "2024-04-07T01:30:00+11:00", "2024-04-07T01:30:00+10:30",
      "2024-04-07T02:00:00+10:30"}},
    {"daily_keeps_0900_from_a_winter_anchor",
     86400,
     "2024-01-01T09:00:00-05:00",
     "America/New_York",
     "2024-03-09T00:00:00Z",
     {"2024-03-09T09:00:00-05:00", "2024-03-10T09:00:00-04:00", "2024-03-11T09:00:00-04:00"}},
    {"daily_keeps_0900_in_summer_years_later",
     86400,
     "2024-01-01T09:00:00-05:00",
     "America/New_York",
     "2031-07-04T00:00:00Z",
     {"2031-07-04T09:00:00-04:00"}},
    {"three_days_is_not_always_72_hours",
     259200,
     "2024-03-07T09:00:00-05:00",
     "America/New_York",
     "2024-03-07T09:00:00-05:00",
     {"2024-03-07T09:00:00-05:00", "2024-03-10T09:00:00-04:00", "2024-03-13T09:00:00-04:00"}},
    {"daily_in_gap_shifts_without_drift",
     86400,
     "2024-03-08T02:30:00-05:00",
     "America/New_York",
     "2024-03-08T02:30:00-05:00",
     {"2024-03-08T02:30:00-05:00", "2024-03-09T02:30:00-05:00", "2024-03-10T03:30:00-04:00",
      "2024-03-11T02:30:00-04:00"}},
    {"daily_in_fold_fires_first_occurrence",
     86400,
     "2024-11-01T01:30:00-04:00",
     "America/New_York",
     "2024-11-02T12:00:00Z",
     {"2024-11-03T01:30:00-04:00", "2024-11-04T01:30:00-05:00"}},
    {"day_plus_hour",
     90000,
     "2024-01-01T00:00:00Z",
     "UTC",
     "2024-01-01T00:00:00Z",
     {"2024-01-01T00:00:00+00:00", "2024-01-02T01:00:00+00:00", "2024-01-03T02:00:00+00:00"}},
    {"anchor_in_the_future",
     3600,
     "2030-01-01T00:00:00Z",
     "UTC",
     "2029-12-31T22:30:00Z",
     {"2029-12-31T23:00:00+00:00", "2030-01-01T00:00:00+00:00", "2030-01-01T01:00:00+00:00"}},
    {"weekly_anchor_in_the_future_keeps_wall_time",
     604800,
     "2024-07-01T09:00:00+02:00",
     "Europe/Berlin",
     "2024-03-01T00:00:00Z",
     {"2024-03-04T09:00:00+01:00", "2024-03-11T09:00:00+01:00"}},
    {"start_is_inclusive",
     900,
     "2024-01-01T00:00:00Z",
     "UTC",
     "2024-01-01T00:15:00Z",
     {"2024-01-01T00:15:00+00:00", "2024-01-01T00:30:00+00:00"}},
    {"fractional_seconds",
     1.5,
     "2024-01-01T00:00:00Z",
     "UTC",
     "2024-01-01T00:00:01Z",
     {"2024-01-01T00:00:01.500000+00:00", "2024-01-01T00:00:03+00:00"}},
    {"kolkata_daily",
     86400,
     "2024-01-01T09:00:00+05:30",
     "Asia/Kolkata",
     "2024-06-01T00:00:00Z",
     {"2024-06-01T09:00:00+05:30"}},
};

class IntervalRows : public ::testing::TestWithParam<IntervalRow> {};

TEST_P(IntervalRows, FiresAtExpectedTimes) {
  const IntervalRow& row = GetParam();
  Schedule s = Schedule::from_json(
      {{"interval", row.seconds}, {"anchor_date", row.anchor}, {"timezone", row.zone}});
  EXPECT_EQ(preview(s, row.start, row.expected.size()), row.expected);
}

INSTANTIATE_TEST_SUITE_P(Table, IntervalRows, ::testing::ValuesIn(kRows),
                         [](const auto& info) { return std::string(info.param.name); });

struct BadIntervalRow {
  const char* name;
  nlohmann::json spec;
  const char* field;
};

const std::vector<BadIntervalRow> kBadRows = {
    {"zero", {{"interval", 0}}, "schedule.interval"},
    {"negative", {{"interval", -60}}, "schedule.interval"},
    {"string", {{"interval", "3600"}}, "schedule.interval"},
    {"too_large", {{"interval", 1e12}}, "schedule.interval"},
    {"bad_anchor", {{"interval", 60}, {"anchor_date", "yesterday"}}, "schedule.anchor_date"},
    {"anchor_not_a_string", {{"interval", 60}, {"anchor_date", 5}}, "schedule.anchor_date"},
    {"unknown_zone", {{"interval", 60}, {"timezone", "Nowhere/City"}}, "schedule.timezone"},
    {"cron_key_in_interval", {{"interval", 60}, {"day_or", true}}, "schedule.day_or"},
};

class BadIntervalRows : public ::testing::TestWithParam<BadIntervalRow> {};

TEST_P(BadIntervalRows, RejectedNamingTheField) {
  try {
    Schedule::from_json(GetParam().spec);
    FAIL() << "accepted " << GetParam().spec.dump();
  } catch (const Error& e) {
    EXPECT_EQ(e.field(), GetParam().field) << e.what();
  }
}

INSTANTIATE_TEST_SUITE_P(Table, BadIntervalRows, ::testing::ValuesIn(kBadRows),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(Interval, DefaultAnchorIsMidnight2020InTheZoneSoHoursFallOnTheHour) {
  Schedule s = Schedule::from_json({{"interval", 3600}, {"timezone", "Asia/Kolkata"}});
  EXPECT_EQ(preview(s, "2024-05-05T10:10:00+05:30", 1),
            std::vector<std::string>{"2024-05-05T11:00:00+05:30"});
}

TEST(Interval, HourlyAcrossAYearIsEveryRealHour) {
  Schedule s = Schedule::interval(std::chrono::hours(1), parse_time("2024-01-01T00:00:00Z"),
                                  "America/New_York");
  auto times = s.between(parse_time("2024-01-01T00:00:00Z"), parse_time("2025-01-01T00:00:00Z"));
  EXPECT_EQ(times.size(), 366u * 24);
  for (std::size_t i = 1; i < times.size(); ++i)
    ASSERT_EQ(times[i] - times[i - 1], std::chrono::hours(1));
}

}  // namespace
}  // namespace baton
