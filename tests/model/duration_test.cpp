#include "model/duration.h"

#include <gtest/gtest.h>

#include "baton/error.h"

namespace baton {
namespace {

struct DurationRow {
  std::string_view text;
  int64_t seconds;
  std::string_view formatted;  // format_duration of the value
};

TEST(Duration, ReadsUnitsPlainSecondsAndSums) {
  const DurationRow rows[] = {
      {"7d", 7 * 86400, "7d"}, {"12h", 12 * 3600, "12h"},
      {"30m", 1800, "30m"},    {"3600s", 3600, "1h"},
      {"3600", 3600, "1h"},    {"0", 0, "0s"},
      {"0s", 0, "0s"},         {"1w", 604800, "7d"},
      {"10d", 864000, "10d"},  {"1d12h", 129600, "1d12h"},
      {"90s", 90, "1m30s"},    {"1h1s", 3601, "1h1s"},
      {"2w", 1209600, "14d"},  {"45", 45, "45s"},
  };
  for (const auto& row : rows) {
    auto d = parse_duration(row.text, "--keep");
    EXPECT_EQ(d.count(), row.seconds) << row.text;
    EXPECT_EQ(format_duration(d), row.formatted) << row.text;
    EXPECT_EQ(parse_duration(format_duration(d), "--keep"), d) << row.text;
  }
}

TEST(Duration, RefusesWhatIsNotOneNamingTheField) {
  for (std::string_view bad : {"", "d", "7x", "-5", "+5", "1.5h", "7 d", "7D", "1d3600", "h12",
                               "off", "99999999999w", "36600000000", "100000d"}) {
    try {
      parse_duration(bad, "BATON_SERVER_EVENTS_RETENTION");
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument) << bad;
      EXPECT_EQ(e.field(), "BATON_SERVER_EVENTS_RETENTION") << bad;
      EXPECT_NE(std::string(e.what()).find("BATON_SERVER_EVENTS_RETENTION"), std::string::npos)
          << e.what();
      EXPECT_NE(std::string(e.what()).find("'" + std::string(bad) + "'"), std::string::npos)
          << e.what();
    }
  }
}

}  // namespace
}  // namespace baton
