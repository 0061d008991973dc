#include "fuzz_harness.h"

#include <array>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "baton/error.h"
#include "baton/schedule.h"

namespace baton::testing {

namespace {

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "schedule fuzz invariant broken: %s\n", what);
    std::abort();
  }
}

void exercise(const Schedule& s) {
  const TimePoint start = parse_time("2024-03-09T12:34:56.789Z");
  const auto times = s.next(8, start);
  for (std::size_t i = 0; i < times.size(); ++i) {
    check(times[i] >= start, "a fire time before the start");
    if (i > 0) check(times[i - 1] < times[i], "fire times not strictly ascending");
    check(!s.format_local(times[i]).empty(), "empty formatted time");
  }
  const TimePoint end = parse_time("2024-11-10T00:00:00Z");
  const auto window = s.between(parse_time("2024-10-27T00:00:00Z"), end, 64);
  for (std::size_t i = 0; i < window.size(); ++i) {
    check(window[i] < end, "a fire time at or after the window's end");
    if (i > 0) check(window[i - 1] < window[i], "window not strictly ascending");
  }
  check(Schedule::from_json(s.to_json()).to_json() == s.to_json(), "to_json does not round-trip");
}

}  // namespace

void run_schedule_fuzz_input(const std::uint8_t* data, std::size_t size) {
  if (size < 2 || size > 4096) return;
  static constexpr std::array<const char*, 8> kZones{
      "UTC",          "America/New_York", "Europe/London",    "Australia/Lord_Howe",
      "Asia/Kolkata", "Pacific/Apia",     "America/Santiago", "Asia/Jerusalem"};
  const int mode = data[0] % 5;
  const char* zone = kZones[data[1] % kZones.size()];
  const std::string text(reinterpret_cast<const char*>(data + 2), size - 2);
  try {
    switch (mode) {
      case 0:
        exercise(Schedule::cron(text, zone, true));
        break;
      case 1:
        exercise(Schedule::cron(text, zone, false));
        break;
      case 2:
        exercise(Schedule::rrule(text, zone));
        break;
      case 3:
        exercise(Schedule::parse(text));
        break;
      default:
        exercise(Schedule::parse(text, zone));
        break;
    }
  } catch (const Error&) {
    // Rejected with a message and a field: the expected outcome for most inputs.
  }
}

}  // namespace baton::testing
