// Schedules as JSON and as strings: the shapes the server and deployment files use.
#include <gtest/gtest.h>

#include <thread>

#include "baton/error.h"
#include "baton/schedule.h"
#include "preview.h"

namespace baton {
namespace {

using testing::preview;

TEST(ScheduleJson, EachKindRoundTripsAndFiresTheSame) {
  const std::vector<nlohmann::json> specs = {
      {{"cron", "0 0 13 * FRI"}, {"timezone", "Europe/London"}, {"day_or", false}},
      {{"interval", 5400},
       {"anchor_date", "2024-01-01T09:00:00-05:00"},
       {"timezone", "America/New_York"}},
      {{"interval", 0.25}, {"anchor_date", "2024-01-01T09:00:00Z"}, {"timezone", "UTC"}},
      {{"rrule", "DTSTART;TZID=Europe/Berlin:20240101T090000\nRRULE:FREQ=WEEKLY;BYDAY=MO"},
       {"timezone", "Europe/Berlin"}},
  };
  for (const auto& spec : specs) {
    Schedule a = Schedule::from_json(spec);
    Schedule b = Schedule::from_json(a.to_json());
    EXPECT_EQ(a.to_json(), b.to_json()) << spec.dump();
    EXPECT_EQ(preview(a, "2024-02-01T00:00:00Z", 5), preview(b, "2024-02-01T00:00:00Z", 5))
        << spec.dump();
    EXPECT_EQ(preview(a, "2024-02-01T00:00:00Z", 5).size(), 5u) << spec.dump();
  }
}

TEST(ScheduleJson, DefaultsAreUtcAndDayOrTrue) {
  Schedule s = Schedule::from_json({{"cron", "0 0 13 * FRI"}});
  EXPECT_EQ(s.timezone(), "UTC");
  EXPECT_EQ(s.to_json()["day_or"], true);
  EXPECT_EQ(s.kind(), ScheduleKind::kCron);
}

struct BadJsonRow {
  const char* name;
  nlohmann::json spec;
  const char* field;
};

const std::vector<BadJsonRow> kBad = {
    {"not_an_object", nlohmann::json::array(), "schedule"},
    {"no_kind", {{"timezone", "UTC"}}, "schedule"},
    {"two_kinds", {{"cron", "* * * * *"}, {"interval", 60}}, "schedule"},
    {"misspelt_timezone",
     {{"cron", "* * * * *"}, {"timezon", "Europe/London"}},
     "schedule.timezon"},
    {"timezone_not_string", {{"cron", "* * * * *"}, {"timezone", 5}}, "schedule.timezone"},
    {"day_or_not_bool", {{"cron", "* * * * *"}, {"day_or", "no"}}, "schedule.day_or"},
    {"cron_not_string", {{"cron", 5}}, "schedule.cron"},
    {"rrule_not_string", {{"rrule", nullptr}}, "schedule.rrule"},
    {"cron_hour_25", {{"cron", "0 25 * * *"}}, "schedule.cron.hour"},
    {"rrule_freq", {{"rrule", "FREQ=SOMETIMES"}}, "schedule.rrule.FREQ"},
};

class BadJsonRows : public ::testing::TestWithParam<BadJsonRow> {};

TEST_P(BadJsonRows, RejectedNamingTheField) {
  try {
    Schedule::from_json(GetParam().spec);
    FAIL() << "accepted " << GetParam().spec.dump();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    EXPECT_EQ(e.field(), GetParam().field) << e.what();
  }
}

INSTANTIATE_TEST_SUITE_P(Table, BadJsonRows, ::testing::ValuesIn(kBad),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(ScheduleParse, PicksTheKindFromTheText) {
  EXPECT_EQ(Schedule::parse("0 9 * * *").kind(), ScheduleKind::kCron);
  EXPECT_EQ(Schedule::parse("@daily", "Europe/Paris").timezone(), "Europe/Paris");
  EXPECT_EQ(Schedule::parse("FREQ=DAILY").kind(), ScheduleKind::kRRule);
  EXPECT_EQ(Schedule::parse("DTSTART:20240101T000000Z\nRRULE:FREQ=DAILY").kind(),
            ScheduleKind::kRRule);
  EXPECT_EQ(Schedule::parse(R"({"interval": 60})").kind(), ScheduleKind::kInterval);
  EXPECT_EQ(Schedule::parse(R"({"cron": "@hourly"})", "Asia/Tokyo").timezone(), "Asia/Tokyo");
  EXPECT_THROW(Schedule::parse("{not json"), Error);
  EXPECT_THROW(Schedule::parse(""), Error);
}

TEST(ScheduleLimits, CountAboveTheCapIsAnError) {
  Schedule s = Schedule::cron("* * * * *");
  EXPECT_THROW(s.next(Schedule::kMaxCount + 1, parse_time("2024-01-01T00:00:00Z")), Error);
  EXPECT_TRUE(s.next(0, parse_time("2024-01-01T00:00:00Z")).empty());
}

TEST(ScheduleLimits, FiniteRulesEndAndNothingFiresAfterYear9999) {
  Schedule s = Schedule::cron("0 0 1 1 *");
  auto times = s.next(5, parse_time("9998-06-01T00:00:00Z"));
  ASSERT_EQ(times.size(), 1u);
  EXPECT_EQ(s.format_local(times[0]), "9999-01-01T00:00:00+00:00");
}

TEST(ScheduleThreads, ConcurrentQueriesOnSharedSchedulesAgree) {
  const std::vector<Schedule> schedules = {
      Schedule::cron("*/15 * * * *", "America/New_York"),
      Schedule::from_json({{"interval", 86400},
                           {"anchor_date", "2024-01-01T09:00:00-05:00"},
                           {"timezone", "America/New_York"}}),
      Schedule::rrule("DTSTART;TZID=Europe/Berlin:20240101T090000\nRRULE:FREQ=WEEKLY;BYDAY=MO,FR"),
  };
  const TimePoint start = parse_time("2024-03-01T00:00:00Z");
  std::vector<std::vector<TimePoint>> expected;
  for (const auto& s : schedules) expected.push_back(s.next(50, start));
  std::vector<int> mismatches(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i)
        for (std::size_t k = 0; k < schedules.size(); ++k)
          if (schedules[k].next(50, start) != expected[k])
            ++mismatches[static_cast<std::size_t>(t)];
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches, std::vector<int>(4, 0));
}

}  // namespace
}  // namespace baton
