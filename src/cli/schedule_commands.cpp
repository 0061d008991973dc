// `baton schedule preview`: the next fire times of a cron, interval or RRULE schedule, computed
// locally by the schedule engine (no server, no database), so a schedule can be checked before it
// is deployed.
//
//   baton schedule preview --cron "0 8 * * *" --timezone Europe/London --start 2024-03-30T00:00:00Z
//   --count 5 baton schedule preview --interval 3600 --anchor 2024-01-01T09:00:00-05:00 --timezone
//   America/New_York baton schedule preview --rrule
//   $'DTSTART;TZID=Europe/Berlin:20240101T090000\nRRULE:FREQ=WEEKLY;BYDAY=MO'
//
// Prints one ISO-8601 time per line in the schedule's zone with that instant's offset, or a JSON
// array with --json. Bad input is a one-line error naming the field, exit code 2.
#include <algorithm>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "baton/error.h"
#include "baton/schedule.h"
#include "cli/command_registry.h"

namespace baton::cli {

namespace {

struct PreviewOptions {
  std::optional<std::string> cron;
  std::optional<std::string> interval;
  std::optional<std::string> rrule;
  std::optional<std::string> anchor;
  std::optional<std::string> timezone;
  std::optional<std::string> day_or;
  std::optional<std::string> start;
  std::string count = "10";
  bool json = false;
};

constexpr long kMaxPreview = 10000;

std::string one_line(std::string s) {
  std::replace_if(
      s.begin(), s.end(), [](char c) { return c == '\n' || c == '\r'; }, ' ');
  return s;
}

nlohmann::json spec_from(const PreviewOptions& o) {
  const int kinds = (o.cron ? 1 : 0) + (o.interval ? 1 : 0) + (o.rrule ? 1 : 0);
  if (kinds != 1)
    throw invalid_argument("give exactly one of --cron, --interval or --rrule", "schedule");
  nlohmann::json spec = nlohmann::json::object();
  if (o.timezone) spec["timezone"] = *o.timezone;
  if (o.day_or && !o.cron)
    throw invalid_argument("--day-or applies to --cron schedules only", "day_or");
  if (o.anchor && !o.interval)
    throw invalid_argument("--anchor applies to --interval schedules only", "anchor_date");
  if (o.cron) {
    spec["cron"] = *o.cron;
    if (o.day_or) {
      if (*o.day_or != "true" && *o.day_or != "false")
        throw invalid_argument("--day-or must be true or false; got '" + *o.day_or + "'", "day_or");
      spec["day_or"] = *o.day_or == "true";
    }
  } else if (o.interval) {
    std::size_t used = 0;
    double seconds = 0;
    try {
      seconds = std::stod(*o.interval, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != o.interval->size())
      throw invalid_argument(
          "--interval must be a number of seconds, e.g. 3600; got '" + *o.interval + "'",
          "schedule.interval");
    spec["interval"] = seconds;
    if (o.anchor) spec["anchor_date"] = *o.anchor;
  } else {
    spec["rrule"] = *o.rrule;
  }
  return spec;
}

void preview(const PreviewOptions& o) {
  try {
    Schedule schedule = Schedule::from_json(spec_from(o));
    const TimePoint start = o.start ? Schedule::parse_instant(*o.start, "start") : now();
    long count = 0;
    std::size_t used = 0;
    try {
      count = std::stol(o.count, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != o.count.size() || count < 1 || count > kMaxPreview)
      throw invalid_argument("--count must be a whole number from 1 to " +
                                 std::to_string(kMaxPreview) + "; got '" + o.count + "'",
                             "count");
    const auto times = schedule.next(static_cast<std::size_t>(count), start);
    if (o.json) {
      nlohmann::json out = nlohmann::json::array();
      for (TimePoint t : times) out.push_back(schedule.format_local(t));
      std::cout << out.dump() << "\n";
    } else {
      for (TimePoint t : times) std::cout << schedule.format_local(t) << "\n";
    }
  } catch (const Error& e) {
    throw Error(e.kind(), one_line(e.what()), e.field());  // the CLI promises one-line errors
  }
}

}  // namespace

BATON_CLI_COMMANDS(40, [](CLI::App& root) {
  auto* schedule = root.add_subcommand("schedule", "Work with schedules (cron, interval, RRULE)");
  schedule->require_subcommand(1);
  auto* cmd = schedule->add_subcommand(
      "preview", "Print the next fire times of a schedule, in its time zone, without a server");
  auto o = std::make_shared<PreviewOptions>();
  cmd->add_option("--cron", o->cron,
                  "Five-field cron expression or macro, e.g. \"0 8 * * *\" or @daily");
  cmd->add_option("--interval", o->interval, "Interval in seconds, e.g. 3600");
  cmd->add_option("--rrule", o->rrule, "RFC 5545 text: DTSTART, RRULE, EXDATE, RDATE lines");
  cmd->add_option("--anchor", o->anchor,
                  "Interval anchor, ISO-8601 with offset (default 2020-01-01T00:00 local)");
  cmd->add_option("--timezone", o->timezone,
                  "IANA time zone, e.g. Europe/London (default UTC, or DTSTART's TZID)");
  cmd->add_option("--day-or", o->day_or,
                  "Cron: when both day fields are restricted, true = either matches "
                  "(default), false = both must");
  cmd->add_option("--start", o->start,
                  "First instant to consider (inclusive), ISO-8601 with offset (default now)");
  cmd->add_option("--count", o->count, "How many fire times to print (default 10, at most 10000)");
  cmd->add_flag("--json", o->json, "Print a JSON array instead of one time per line");
  cmd->callback([o] { preview(*o); });
});

}  // namespace baton::cli
