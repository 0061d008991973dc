// The real `baton` binary: `baton schedule preview` output, and bad input -> exit code 2 with a
// one-line error naming the field.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

extern char** environ;

namespace {

struct Result {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Runs the baton binary with `args` (no shell), capturing stdout and stderr through files.
Result run_baton(std::vector<std::string> args) {
  const std::string binary = std::string(BATON_BINARY_DIR) + "/src/cli/baton";
  const std::string base = ::testing::TempDir() + "baton_cli_" + std::to_string(::getpid());
  const std::string out_path = base + ".out";
  const std::string err_path = base + ".err";
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  args.insert(args.begin(), binary);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  Result r;
  if (posix_spawn(&pid, binary.c_str(), &actions, nullptr, argv.data(), environ) != 0) return r;
  posix_spawn_file_actions_destroy(&actions);
  int status = 0;
  waitpid(pid, &status, 0);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = slurp(out_path);
  r.err = slurp(err_path);
  std::remove(out_path.c_str());
  std::remove(err_path.c_str());
  return r;
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream s(text);
  for (std::string line; std::getline(s, line);) out.push_back(line);
  return out;
}

TEST(SchedulePreviewCli, CronInLondonAcrossTheSpringChange) {
  Result r = run_baton({"schedule", "preview", "--cron", "0 8 * * *", "--timezone", "Europe/London",
                        "--start", "2024-03-30T00:00:00Z", "--count", "3"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(lines(r.out),
            (std::vector<std::string>{"2024-03-30T08:00:00+00:00", "2024-03-31T08:00:00+01:00",
                                      "2024-04-01T08:00:00+01:00"}));
}

TEST(SchedulePreviewCli, CronDayOrFalse) {
  Result r = run_baton({"schedule", "preview", "--cron", "0 0 13 * FRI", "--day-or", "false",
                        "--start", "2024-09-01T00:00:00Z", "--count", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(lines(r.out),
            (std::vector<std::string>{"2024-09-13T00:00:00+00:00", "2024-12-13T00:00:00+00:00"}));
}

TEST(SchedulePreviewCli, IntervalHourlyRepeatsLocalOneOClockOnFallBack) {
  Result r = run_baton({"schedule", "preview", "--interval", "3600", "--anchor",
                        "2024-01-01T09:00:00-05:00", "--timezone", "America/New_York", "--start",
                        "2024-11-03T04:00:00Z", "--count", "4"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(lines(r.out),
            (std::vector<std::string>{"2024-11-03T00:00:00-04:00", "2024-11-03T01:00:00-04:00",
                                      "2024-11-03T01:00:00-05:00", "2024-11-03T02:00:00-05:00"}));
}

TEST(SchedulePreviewCli, RRuleWithTzidAsJson) {
  Result r = run_baton({"schedule", "preview", "--rrule",
                        "DTSTART;TZID=Europe/Berlin:20240101T090000\nRRULE:FREQ=WEEKLY;BYDAY=MO",
                        "--start", "2024-03-20T00:00:00+01:00", "--count", "2", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out),
            nlohmann::json::array({"2024-03-25T09:00:00+01:00", "2024-04-01T09:00:00+02:00"}));
}

TEST(SchedulePreviewCli, CountDefaultsToTenAndStartToNow) {
  Result r = run_baton({"schedule", "preview", "--cron", "@hourly"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(lines(r.out).size(), 10u);
}

struct BadRow {
  const char* name;
  std::vector<std::string> args;
  const char* field;
};

const std::vector<BadRow> kBad = {
    {"hour_25", {"--cron", "0 25 * * *"}, "schedule.cron.hour"},
    {"step_zero", {"--cron", "*/0"}, "schedule.cron.minute"},
    {"empty_cron", {"--cron", ""}, "schedule.cron"},
    {"freq_sometimes", {"--rrule", "FREQ=SOMETIMES"}, "schedule.rrule.FREQ"},
    {"multi_line_rrule_error",
     {"--rrule", "DTSTART:20240101T000000Z\nRRULE:FREQ=DAILY;BYHOUR=24"},
     "schedule.rrule.BYHOUR"},
    {"unknown_zone",
     {"--cron", "0 0 * * *", "--timezone", "Mars/Olympus_Mons"},
     "schedule.timezone"},
    {"interval_zero", {"--interval", "0"}, "schedule.interval"},
    {"interval_words", {"--interval", "hourly"}, "schedule.interval"},
    {"bad_anchor", {"--interval", "60", "--anchor", "soon"}, "schedule.anchor_date"},
    {"bad_start", {"--cron", "@daily", "--start", "yesterday"}, "start"},
    {"count_zero", {"--cron", "@daily", "--count", "0"}, "count"},
    {"count_words", {"--cron", "@daily", "--count", "ten"}, "count"},
    {"no_kind", {"--timezone", "UTC"}, "schedule"},
    {"two_kinds", {"--cron", "@daily", "--interval", "60"}, "schedule"},
    {"day_or_not_bool", {"--cron", "0 0 13 * FRI", "--day-or", "maybe"}, "day_or"},
};

class BadInputRows : public ::testing::TestWithParam<BadRow> {};

TEST_P(BadInputRows, ExitTwoWithOneLineErrorNamingTheField) {
  std::vector<std::string> args{"schedule", "preview"};
  args.insert(args.end(), GetParam().args.begin(), GetParam().args.end());
  Result r = run_baton(args);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
  ASSERT_EQ(lines(r.err).size(), 1u) << r.err;
  EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find(std::string("[") + GetParam().field + "]"), std::string::npos) << r.err;
}

INSTANTIATE_TEST_SUITE_P(Table, BadInputRows, ::testing::ValuesIn(kBad),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(SchedulePreviewCli, UnknownOptionIsAUsageErrorWithExitTwo) {
  Result r = run_baton({"schedule", "preview", "--cron", "@daily", "--frobnicate"});
  EXPECT_EQ(r.exit_code, 2);
}

}  // namespace
