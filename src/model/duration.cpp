#include "model/duration.h"

#include <array>
#include <cstdint>

#include "baton/error.h"

namespace baton {

namespace {
struct Unit {
  char name;
  int64_t seconds;
};
// Largest first: format_duration writes the parts in this order (weeks aside).
constexpr std::array<Unit, 5> kUnits{
    {{'w', 7 * 86400}, {'d', 86400}, {'h', 3600}, {'m', 60}, {'s', 1}}};
// Beyond any retention anyone means, and far from overflowing microsecond time points.
constexpr int64_t kMaxSeconds = int64_t{100} * 366 * 86400;

[[noreturn]] void refuse(std::string_view text, std::string_view field, std::string_view why) {
  throw invalid_argument(std::string(field) + " must be a duration such as 7d, 12h, 30m, 3600s " +
                             "or a number of seconds (units w, d, h, m, s; at most 100 years); " +
                             "got '" + std::string(text) + "'" +
                             (why.empty() ? "" : " (" + std::string(why) + ")"),
                         std::string(field));
}
}  // namespace

std::chrono::seconds parse_duration(std::string_view text, std::string_view field) {
  if (text.empty()) refuse(text, field, "empty");
  int64_t total = 0;
  size_t i = 0;
  while (i < text.size()) {
    size_t digits_at = i;
    int64_t value = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      value = value * 10 + (text[i] - '0');
      if (value > kMaxSeconds) refuse(text, field, "too long");
      ++i;
    }
    if (i == digits_at) refuse(text, field, "expected a number at position " + std::to_string(i));
    int64_t unit = 0;
    if (i == text.size()) {
      if (digits_at != 0) refuse(text, field, "a unit is missing after the last number");
      unit = 1;  // a plain number: seconds
    } else {
      for (const auto& u : kUnits)
        if (text[i] == u.name) unit = u.seconds;
      if (unit == 0) refuse(text, field, std::string("unknown unit '") + text[i] + "'");
      ++i;
    }
    if (value > kMaxSeconds / unit) refuse(text, field, "too long");
    total += value * unit;
    if (total > kMaxSeconds) refuse(text, field, "too long");
  }
  return std::chrono::seconds(total);
}

std::string format_duration(std::chrono::seconds d) {
  int64_t left = d.count();
  if (left <= 0) return "0s";
  std::string out;
  for (const auto& u : kUnits) {
    if (u.name == 'w') continue;  // "7d" and "14d" read better than "1w" and "2w"
    if (left >= u.seconds) {
      out += std::to_string(left / u.seconds) + u.name;
      left %= u.seconds;
    }
  }
  return out;
}

}  // namespace baton
