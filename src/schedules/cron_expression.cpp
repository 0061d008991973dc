#include "schedules/cron_expression.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cctype>

#include "baton/error.h"

namespace baton::schedules {

namespace {

struct FieldSpec {
  const char* name;   // the field path's last part
  const char* label;  // how a person names it
  int min;
  int max;
  const char* expected;  // what the field accepts, for error messages
};

constexpr std::array<FieldSpec, 5> kFields{{
    {"minute", "minute", 0, 59, "0-59, with lists (a,b), ranges (a-b) and steps (*/n, a-b/n)"},
    {"hour", "hour", 0, 23, "0-23, with lists (a,b), ranges (a-b) and steps (*/n, a-b/n)"},
    {"day_of_month", "day-of-month", 1, 31,
     "1-31, *, ?, L, LW, L-n or nW, with lists, ranges and steps"},
    {"month", "month", 1, 12, "1-12 or JAN-DEC, with lists, ranges and steps"},
    {"day_of_week", "day-of-week", 0, 7,
     "0-7 or SUN-SAT (0 and 7 are Sunday), *, ?, n#k (k 1-5) or nL, with lists, ranges and steps"},
}};

constexpr std::array<const char*, 12> kMonthNames{"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                                  "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
constexpr std::array<const char*, 7> kDayNames{"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};

std::string upper(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  std::size_t pos = 0;
  while (true) {
    auto next = s.find(sep, pos);
    out.push_back(
        s.substr(pos, next == std::string_view::npos ? std::string_view::npos : next - pos));
    if (next == std::string_view::npos) break;
    pos = next + 1;
  }
  return out;
}

std::string expand_macro(const std::string& text, std::string_view field_prefix) {
  const std::string u = upper(text);
  if (u == "@YEARLY" || u == "@ANNUALLY") return "0 0 1 1 *";
  if (u == "@MONTHLY") return "0 0 1 * *";
  if (u == "@WEEKLY") return "0 0 * * 0";
  if (u == "@DAILY" || u == "@MIDNIGHT") return "0 0 * * *";
  if (u == "@HOURLY") return "0 * * * *";
  throw invalid_argument(
      "unknown cron macro '" + text +
          "'; expected one of @yearly @annually @monthly @weekly @daily @midnight "
          "@hourly",
      std::string(field_prefix));
}

// Finds the lowest set bit at or above `from`; -1 when none.
int next_bit(std::uint64_t mask, int from) {
  if (from >= 64) return -1;
  std::uint64_t rest = mask >> from;
  if (rest == 0) return -1;
  return from + std::countr_zero(rest);
}

}  // namespace

CronExpression::CronExpression(std::string_view text, bool day_or, std::string_view field_prefix)
    : day_or_(day_or) {
  const auto first = text.find_first_not_of(" \t\r\n");
  const auto last = text.find_last_not_of(" \t\r\n");
  text_ = first == std::string_view::npos ? std::string{}
                                          : std::string(text.substr(first, last - first + 1));
  if (text_.empty()) {
    throw invalid_argument(
        "empty cron expression; expected 5 fields (minute hour day-of-month month "
        "day-of-week), e.g. '0 9 * * MON-FRI', or a macro such as @daily",
        std::string(field_prefix));
  }
  std::string expanded = text_[0] == '@' ? expand_macro(text_, field_prefix) : text_;

  std::vector<std::string> tokens;
  std::size_t pos = 0;
  while (pos < expanded.size()) {
    auto start = expanded.find_first_not_of(" \t\r\n", pos);
    if (start == std::string::npos) break;
    auto end = expanded.find_first_of(" \t\r\n", start);
    if (end == std::string::npos) end = expanded.size();
    tokens.push_back(expanded.substr(start, end - start));
    pos = end;
  }
  // Parse the fields present first, so "*/0" reports its bad step rather than only its length.
  for (std::size_t i = 0; i < tokens.size() && i < kFields.size(); ++i) {
    parse_field(static_cast<int>(i), tokens[i], field_prefix);
  }
  if (tokens.size() != kFields.size()) {
    throw invalid_argument("cron expression '" + text_ + "' has " + std::to_string(tokens.size()) +
                               " fields; expected 5 (minute hour day-of-month month day-of-week)",
                           std::string(field_prefix));
  }
  dom_restricted_ = days_ != 0xFFFFFFFEu || last_day_ || last_weekday_ || !last_offsets_.empty() ||
                    !nearest_weekdays_.empty();
  dow_restricted_ = weekdays_ != 0x7F || !nth_weekdays_.empty() || !last_weekdays_of_month_.empty();

  // A cron pattern repeats every 400 years (the Gregorian cycle); if no month of one cycle has a
  // matching day, the expression can never fire, which is a mistake to report, not to schedule.
  date::year_month ym = date::year{2000} / 1;
  for (int i = 0; i < 4800; ++i, ym += date::months{1}) {
    if (day_mask(ym) != 0) return;
  }
  throw invalid_argument(
      "cron expression '" + text_ +
          "' never fires: no date matches its day-of-month, month and day-of-week "
          "fields (e.g. 30 February); expected a day that exists in a chosen month",
      std::string(field_prefix) + ".day_of_month");
}

void CronExpression::parse_field(int index, std::string_view token, std::string_view field_prefix) {
  const FieldSpec& spec = kFields[static_cast<std::size_t>(index)];
  const std::string field = std::string(field_prefix) + "." + spec.name;
  auto fail = [&](const std::string& what) {
    return invalid_argument(what + " in the " + spec.label + " field of cron expression '" + text_ +
                                "'; expected " + spec.expected,
                            field);
  };
  const bool is_dom = index == 2;
  const bool is_dow = index == 4;

  // A plain value: digits, or a name for month and weekday fields.
  auto value = [&](std::string_view s) -> int {
    if (s.empty()) throw fail("missing value");
    if (std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      if (s.size() > 3) throw fail("value " + std::string(s) + " is out of range");
      int v = 0;
      for (char c : s) v = v * 10 + (c - '0');
      if (v < spec.min || v > spec.max) {
        throw fail("value " + std::to_string(v) + " is out of range " + std::to_string(spec.min) +
                   "-" + std::to_string(spec.max));
      }
      return v;
    }
    const std::string u = upper(s);
    if (index == 3) {
      for (int m = 0; m < 12; ++m)
        if (u == kMonthNames[static_cast<std::size_t>(m)]) return m + 1;
    } else if (is_dow) {
      for (int d = 0; d < 7; ++d)
        if (u == kDayNames[static_cast<std::size_t>(d)]) return d;
    }
    throw fail("'" + std::string(s) + "' is not a valid value");
  };

  std::uint64_t bits = 0;
  const std::string whole = upper(token);
  if ((is_dom || is_dow) && whole == "?") {
    for (int v = spec.min; v <= spec.max; ++v) bits |= 1ull << v;
  } else {
    for (std::string_view item : split(token, ',')) {
      if (item.empty()) throw fail("empty list item");
      const std::string u = upper(item);
      if (is_dom && u == "L") {
        last_day_ = true;
        continue;
      }
      if (is_dom && u == "LW") {
        last_weekday_ = true;
        continue;
      }
      if (is_dom && u.size() > 2 && u.rfind("L-", 0) == 0) {
        int n = value(std::string_view(u).substr(2));
        if (n > 30) throw fail("offset L-" + std::to_string(n) + " is out of range L-1 to L-30");
        last_offsets_.push_back(n);
        continue;
      }
      if (is_dom && u.size() > 1 && u.back() == 'W') {
        nearest_weekdays_.push_back(value(std::string_view(u).substr(0, u.size() - 1)));
        continue;
      }
      if (is_dow && u.find('#') != std::string::npos) {
        auto hash = u.find('#');
        int wd = value(std::string_view(u).substr(0, hash)) % 7;
        std::string_view k = std::string_view(u).substr(hash + 1);
        if (k.size() != 1 || k[0] < '1' || k[0] > '5')
          throw fail("'" + std::string(item) + "' has occurrence '" + std::string(k) +
                     "' out of range 1-5");
        nth_weekdays_.emplace_back(wd, k[0] - '0');
        continue;
      }
      if (is_dow && u.size() > 1 && u.back() == 'L') {
        last_weekdays_of_month_.push_back(value(std::string_view(u).substr(0, u.size() - 1)) % 7);
        continue;
      }
      // base[/step] where base is *, a value or a range.
      std::string_view base = item;
      int step = 1;
      bool stepped = false;
      if (auto slash = item.find('/'); slash != std::string_view::npos) {
        base = item.substr(0, slash);
        std::string_view s = item.substr(slash + 1);
        if (s.empty() || s.size() > 3 ||
            !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }))
          throw fail("step '" + std::string(s) + "' is not a number");
        step = std::stoi(std::string(s));
        const int span = spec.max - spec.min + (is_dow ? 0 : 1);
        if (step < 1 || step > span)
          throw fail("step " + std::to_string(step) + " is out of range 1-" + std::to_string(span));
        stepped = true;
      }
      int lo = spec.min;
      int hi = is_dow ? 6 : spec.max;
      if (base == "*") {
        // the whole range
      } else if (auto dash = base.find('-'); dash != std::string_view::npos) {
        lo = value(base.substr(0, dash));
        hi = value(base.substr(dash + 1));
        if (lo > hi)
          throw fail("range " + std::string(base) +
                     " runs backwards; write the smaller value first");
      } else {
        lo = value(base);
        if (!stepped) hi = lo;  // "a/n" means a up to the field's maximum, every n
      }
      for (int v = lo; v <= hi; v += step) bits |= 1ull << (is_dow ? v % 7 : v);
    }
  }
  switch (index) {
    case 0:
      minutes_ = bits;
      break;
    case 1:
      hours_ = static_cast<std::uint32_t>(bits);
      break;
    case 2:
      days_ = static_cast<std::uint32_t>(bits);
      break;
    case 3:
      months_ = static_cast<std::uint16_t>(bits);
      break;
    default:
      weekdays_ = static_cast<std::uint8_t>(bits & 0x7F);
      break;
  }
}

std::uint32_t CronExpression::day_mask(date::year_month ym) const {
  const unsigned month = static_cast<unsigned>(ym.month());
  if (((months_ >> month) & 1u) == 0) return 0;
  const int last = static_cast<int>(static_cast<unsigned>((ym / date::last).day()));
  const std::uint32_t all = static_cast<std::uint32_t>((1ull << (last + 1)) - 2);
  if (!dom_restricted_ && !dow_restricted_) return all;
  const int first_wd = static_cast<int>(date::weekday(date::sys_days(ym / 1)).c_encoding());
  auto weekday_of = [&](int d) { return (first_wd + d - 1) % 7; };
  auto first_day_with = [&](int wd) { return 1 + (wd - first_wd + 7) % 7; };

  std::uint32_t dom = 0;
  if (dom_restricted_) {
    dom = days_ & all;
    if (last_day_) dom |= 1u << last;
    for (int n : last_offsets_)
      if (last - n >= 1) dom |= 1u << (last - n);
    if (last_weekday_) {
      const int wd = weekday_of(last);
      dom |= 1u << (wd == 6 ? last - 1 : wd == 0 ? last - 2 : last);
    }
    for (int n : nearest_weekdays_) {
      if (n > last) continue;  // no such day this month: nothing to be near
      const int wd = weekday_of(n);
      int d = n;
      if (wd == 6) d = n == 1 ? 3 : n - 1;
      if (wd == 0) d = n == last ? n - 2 : n + 1;
      dom |= 1u << d;
    }
  }
  std::uint32_t dow = 0;
  if (dow_restricted_) {
    for (int wd = 0; wd < 7; ++wd) {
      if (((weekdays_ >> wd) & 1u) == 0) continue;
      for (int d = first_day_with(wd); d <= last; d += 7) dow |= 1u << d;
    }
    for (auto [wd, k] : nth_weekdays_) {
      const int d = first_day_with(wd) + 7 * (k - 1);
      if (d <= last) dow |= 1u << d;
    }
    for (int wd : last_weekdays_of_month_) {
      const int d0 = first_day_with(wd);
      dow |= 1u << (d0 + 7 * ((last - d0) / 7));
    }
  }
  if (dom_restricted_ && dow_restricted_) return day_or_ ? (dom | dow) : (dom & dow);
  return dom_restricted_ ? dom : dow;
}

std::optional<LocalSeconds> CronExpression::next_match(LocalSeconds from,
                                                       LocalSeconds limit) const {
  using std::chrono::minutes;
  const int first_hour = next_bit(hours_, 0);
  const int first_minute = next_bit(minutes_, 0);
  LocalSeconds t = date::ceil<minutes>(from);
  // Bounded: a valid expression fires at least once per 400-year cycle (checked when parsed).
  for (int guard = 0; guard < 5000 && t < limit; ++guard) {
    const date::local_days day_start = date::floor<date::days>(t);
    const date::year_month_day ymd{day_start};
    const date::year_month ym = ymd.year() / ymd.month();
    const std::uint32_t mask = day_mask(ym);
    const int day = static_cast<int>(static_cast<unsigned>(ymd.day()));
    if ((mask >> day) & 1u) {
      const auto tod = std::chrono::duration_cast<minutes>(t - day_start).count();
      const int h0 = static_cast<int>(tod / 60);
      const int m0 = static_cast<int>(tod % 60);
      int h = -1;
      int m = -1;
      if ((hours_ >> h0) & 1u) {
        m = next_bit(minutes_, m0);
        if (m >= 0) h = h0;
      }
      if (h < 0) {
        h = next_bit(hours_, h0 + 1);
        m = first_minute;
      }
      if (h >= 0) {
        LocalSeconds found = day_start + std::chrono::hours(h) + minutes(m);
        return found < limit ? std::optional(found) : std::nullopt;
      }
    }
    const std::uint32_t later = day >= 31 ? 0 : mask & ~((2u << day) - 1);
    if (later != 0) {
      const int d = std::countr_zero(later);
      LocalSeconds found =
          date::local_days(ym / d) + std::chrono::hours(first_hour) + minutes(first_minute);
      return found < limit ? std::optional(found) : std::nullopt;
    }
    t = LocalSeconds(date::local_days((ym + date::months{1}) / 1));
  }
  return std::nullopt;
}

}  // namespace baton::schedules
