// RRULE schedules: RFC 5545 text, validated here (so errors name the rule part and its allowed
// values) and expanded by libical.
//
// libical expands in floating wall-clock time; each result is then resolved to an instant in the
// rule's zone (DTSTART's TZID, UTC for a "Z" DTSTART, else the schedule's zone) by RFC 5545
// section 3.3.5: a nonexistent time is shifted forward by the gap, a repeated time means its first
// occurrence. What libical does not do the RFC's way is done here:
// - DTSTART is always the first instance (libical skips a DTSTART that does not match the rule),
//   and COUNT counts it;
// - UNTIL is compared here, as an instant when it is UTC (libical would compare it with floating
//   times), inclusive;
// - EXDATE and RDATE, and the removal of duplicate instants;
// - skipping ahead: with no COUNT, iteration starts near the requested start instead of at
//   DTSTART (libical's set_start for DAILY and longer; for shorter frequencies, whose set_start
//   loses the INTERVAL phase, by moving DTSTART forward by whole periods).
// libical also loops forever on sub-daily rules whose day filters match no date (FREQ=HOURLY;
// BYMONTH=2;BYMONTHDAY=30): such rules are rejected up front by scanning one 400-year cycle.
#include <libical/ical.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <map>
#include <set>

#include "baton/error.h"
#include "schedules/schedule_impl.h"

namespace baton::schedules {

namespace {

using Micros = std::chrono::microseconds;

constexpr std::array<const char*, 7> kFreqs{"SECONDLY", "MINUTELY", "HOURLY", "DAILY",
                                            "WEEKLY",   "MONTHLY",  "YEARLY"};
constexpr std::array<const char*, 7> kWeekdays{"SU", "MO", "TU", "WE", "TH", "FR", "SA"};
enum Freq { kSecondly, kMinutely, kHourly, kDaily, kWeekly, kMonthly, kYearly };

std::string upper(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (true) {
    auto next = s.find(sep, pos);
    out.emplace_back(
        s.substr(pos, next == std::string_view::npos ? std::string_view::npos : next - pos));
    if (next == std::string_view::npos) break;
    pos = next + 1;
  }
  return out;
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

TimePoint to_point(SysSeconds s) {
  return TimePoint(std::chrono::duration_cast<Micros>(s.time_since_epoch()));
}

// A DATE or DATE-TIME value with what it is relative to.
struct TimeValue {
  enum Kind { kFloating, kUtc, kZoned, kDate } kind = kFloating;
  LocalSeconds local{};          // wall-clock time (UTC wall time for kUtc; midnight for kDate)
  std::optional<TimeZone> zone;  // for kZoned
};

class RRuleParser;

// One RRULE line, validated.
struct Rule {
  Freq freq = kDaily;
  std::string libical_text;  // the rule as given to libical: validated parts, without UNTIL
  int interval = 1;
  std::optional<long> count;
  std::optional<TimeValue> until;
  // Day-level filters, for the feasibility scan of DAILY and shorter rules.
  std::vector<int> by_month, by_month_day, by_year_day, by_day;
  std::string text;
};

class RRuleSchedule final : public ScheduleImpl {
 public:
  RRuleSchedule(TimeZone display, TimeZone rule_zone, TimeValue dtstart, bool has_dtstart,
                std::vector<Rule> rules, std::vector<TimeValue> rdates,
                std::vector<TimeValue> exdates, std::string text)
      : ScheduleImpl(std::move(display)),
        rule_zone_(std::move(rule_zone)),
        dtstart_(std::move(dtstart)),
        has_dtstart_(has_dtstart),
        rules_(std::move(rules)),
        text_(std::move(text)) {
    dtstart_instant_ = instant_of(dtstart_);
    for (const auto& r : rdates) rdates_.insert(instant_of(r));
    for (const auto& e : exdates) {
      if (e.kind == TimeValue::kDate) {
        exdate_days_.insert(date::floor<date::days>(e.local));
      } else {
        exdates_.insert(instant_of(e));
      }
    }
  }

  void collect(TimePoint start, TimePoint end, std::size_t count,
               std::vector<TimePoint>& out) const override {
    if (count == 0 || start >= end) return;
    std::set<TimePoint> found;
    auto bound = [&] { return found.size() >= count ? *found.rbegin() : end; };
    auto offer = [&](TimePoint t) {
      if (t < start || t >= end || excluded(t)) return;
      if (found.size() >= count && t >= *found.rbegin()) return;
      found.insert(t);
      if (found.size() > count) found.erase(std::prev(found.end()));
    };
    if (has_dtstart_) offer(dtstart_instant_);
    for (TimePoint r : rdates_) offer(r);
    for (const Rule& rule : rules_) expand(rule, start, bound, offer);
    out.insert(out.end(), found.begin(), found.end());
  }

  ScheduleKind kind() const noexcept override { return ScheduleKind::kRRule; }
  nlohmann::json to_json() const override {
    return {{"rrule", text_}, {"timezone", zone().name()}};
  }

 private:
  TimePoint instant_of(const TimeValue& v) const {
    switch (v.kind) {
      case TimeValue::kUtc:
        return to_point(SysSeconds{v.local.time_since_epoch()});
      case TimeValue::kZoned:
        return to_point(v.zone->resolve(v.local));
      default:
        return to_point(rule_zone_.resolve(v.local));
    }
  }

  bool excluded(TimePoint t) const {
    if (exdates_.count(t) != 0) return true;
    if (exdate_days_.empty()) return false;
    return exdate_days_.count(
               date::floor<date::days>(rule_zone_.to_local(date::floor<Seconds>(t)))) != 0;
  }

  static icaltimetype to_ical(LocalSeconds l, bool is_date) {
    icaltimetype t = icaltime_null_time();
    const auto day = date::floor<date::days>(l);
    const date::year_month_day ymd{day};
    const date::hh_mm_ss<Seconds> hms{l - day};
    t.year = static_cast<int>(ymd.year());
    t.month = static_cast<int>(static_cast<unsigned>(ymd.month()));
    t.day = static_cast<int>(static_cast<unsigned>(ymd.day()));
    t.is_date = is_date ? 1 : 0;
    if (!is_date) {
      t.hour = static_cast<int>(hms.hours().count());
      t.minute = static_cast<int>(hms.minutes().count());
      t.second = static_cast<int>(hms.seconds().count());
    }
    return t;
  }

  static LocalSeconds from_ical(const icaltimetype& t) {
    LocalSeconds l{date::local_days{date::year{t.year} / t.month / t.day}};
    if (!t.is_date)
      l += std::chrono::hours(t.hour) + std::chrono::minutes(t.minute) + Seconds(t.second);
    return l;
  }

  template <class Bound, class Offer>
  void expand(const Rule& rule, TimePoint start, Bound bound, Offer offer) const {
    // Offsets lie within +-26 h: an instant is within 27 h of its wall time read as UTC.
    constexpr auto kSlack = std::chrono::hours(27);
    const bool is_date = dtstart_.kind == TimeValue::kDate;
    icalrecurrencetype recur = icalrecurrencetype_from_string(rule.libical_text.c_str());
    LocalSeconds first = dtstart_.local;
    const LocalSeconds wanted = rule_zone_.to_local(date::floor<Seconds>(start)) - date::days{2};
    bool use_set_start = false;
    if (!rule.count && wanted > first) {
      if (rule.freq <= kWeekly) {
        // Move DTSTART forward by whole periods: the same instances, minus the early ones.
        static constexpr std::array<long, 5> kUnit{1, 60, 3600, 86400, 604800};
        const long period = kUnit[static_cast<std::size_t>(rule.freq)] * rule.interval;
        const long periods = (wanted - first).count() / period;
        first += Seconds{periods * period};
      } else {
        use_set_start = true;
      }
    }
    icalrecur_iterator* it = icalrecur_iterator_new(recur, to_ical(first, is_date));
    if (it == nullptr) return;
    if (use_set_start) icalrecur_iterator_set_start(it, to_ical(wanted, is_date));
    // A given DTSTART is the first instance and counts toward COUNT; the default one (no DTSTART
    // in the text) only anchors the rule and is an instance only if the rule produces it.
    long produced = has_dtstart_ ? 1 : 0;
    // Bounded: at most this many candidates are examined per query.
    for (long i = 0; i < 2'000'000; ++i) {
      const icaltimetype next = icalrecur_iterator_next(it);
      if (icaltime_is_null_time(next)) break;
      const LocalSeconds local = from_ical(next);
      if (has_dtstart_ && local == dtstart_.local) continue;  // already offered as DTSTART
      if (local < dtstart_.local) continue;
      if (rule.count && produced >= *rule.count) break;
      ++produced;
      if (rule.until && past_until(*rule.until, local, kSlack)) break;
      const SysSeconds as_utc{local.time_since_epoch()};
      if (to_point(as_utc - kSlack) > bound()) break;
      if (to_point(as_utc + kSlack) < start) continue;
      const TimePoint t = to_point(rule_zone_.resolve(local));
      if (rule.until && after_until(*rule.until, local, t)) continue;
      offer(t);
    }
    icalrecur_iterator_free(it);
  }

  // True once every later wall time is certainly past UNTIL.
  static bool past_until(const TimeValue& until, LocalSeconds local, std::chrono::hours slack) {
    switch (until.kind) {
      case TimeValue::kDate:
        return local >= until.local + date::days{1};
      case TimeValue::kUtc:
        return local - slack > until.local;
      default:
        return local > until.local;
    }
  }
  // True when this instance lies after UNTIL (UNTIL itself is included).
  bool after_until(const TimeValue& until, LocalSeconds local, TimePoint t) const {
    switch (until.kind) {
      case TimeValue::kDate:
        return local >= until.local + date::days{1};
      case TimeValue::kUtc:
        return t > to_point(SysSeconds{until.local.time_since_epoch()});
      case TimeValue::kZoned:
        return t > to_point(until.zone->resolve(until.local));
      default:
        return local > until.local;
    }
  }

  TimeZone rule_zone_;
  TimeValue dtstart_;
  bool has_dtstart_ = true;
  TimePoint dtstart_instant_{};
  std::vector<Rule> rules_;
  std::set<TimePoint> rdates_;
  std::set<TimePoint> exdates_;
  std::set<date::local_days> exdate_days_;
  std::string text_;
};

// Parses and validates the RFC 5545 text; every error names its part ("schedule.rrule.BYHOUR").
class RRuleParser {
 public:
  RRuleParser(std::string_view text, std::string field) : field_(std::move(field)) {
    text_ = std::string(text);
    const auto a = text_.find_first_not_of(" \t\r\n");
    const auto b = text_.find_last_not_of(" \t\r\n");
    text_ = a == std::string::npos ? std::string{} : text_.substr(a, b - a + 1);
  }

  std::shared_ptr<const ScheduleImpl> parse(std::optional<TimeZone> display) {
    if (text_.empty())
      throw fail(
          "empty RRULE; expected RFC 5545 text such as "
          "'DTSTART;TZID=Europe/Berlin:20240101T090000\\nRRULE:FREQ=WEEKLY;BYDAY=MO'",
          field_);
    if (text_.size() > 65536) throw fail("RRULE text is longer than 65536 characters", field_);
    // Lines: real newlines, CRLF, or a literal "\n" as typed in a shell; RFC 5545 folding undone.
    std::string normalized;
    for (std::size_t i = 0; i < text_.size(); ++i) {
      if (text_[i] == '\\' && i + 1 < text_.size() && text_[i + 1] == 'n') {
        normalized += '\n';
        ++i;
      } else if (text_[i] != '\r') {
        normalized += text_[i];
      }
    }
    std::vector<std::string> lines;
    for (auto& line : split(normalized, '\n')) {
      if (!line.empty() && (line[0] == ' ' || line[0] == '\t') && !lines.empty()) {
        lines.back() += line.substr(1);
      } else {
        const auto a = line.find_first_not_of(" \t");
        if (a == std::string::npos) continue;
        lines.push_back(line.substr(a, line.find_last_not_of(" \t") - a + 1));
      }
    }
    std::vector<std::string> rule_texts;
    std::vector<std::pair<std::string, std::string>> rdate_lines, exdate_lines;
    std::optional<std::pair<std::string, std::string>> dtstart_line;
    for (const auto& line : lines) {
      const std::string u = upper(line);
      if (u.rfind("FREQ=", 0) == 0) {
        rule_texts.push_back(line);
        continue;
      }
      const auto colon = line.find(':');
      if (colon == std::string::npos)
        throw fail("line '" + line +
                       "' is not a property; expected NAME:VALUE with NAME one of DTSTART, RRULE, "
                       "RDATE, EXDATE",
                   field_);
      const std::string head = line.substr(0, colon);
      const std::string value = line.substr(colon + 1);
      const std::string name = upper(head.substr(0, head.find(';')));
      const std::string params =
          head.find(';') == std::string::npos ? "" : head.substr(head.find(';') + 1);
      if (name == "DTSTART") {
        if (dtstart_line) throw fail("more than one DTSTART; expected one", field_ + ".DTSTART");
        dtstart_line.emplace(params, value);
      } else if (name == "RRULE") {
        if (!params.empty()) throw fail("RRULE takes no parameters", field_ + ".RRULE");
        rule_texts.push_back(value);
      } else if (name == "RDATE") {
        rdate_lines.emplace_back(params, value);
      } else if (name == "EXDATE") {
        exdate_lines.emplace_back(params, value);
      } else {
        throw fail("unknown property '" + name + "'; expected DTSTART, RRULE, RDATE or EXDATE",
                   field_);
      }
    }
    if (rule_texts.empty() && rdate_lines.empty())
      throw fail("no RRULE; expected a line such as 'RRULE:FREQ=DAILY' (or RDATE)",
                 field_ + ".RRULE");
    if (rule_texts.size() > 16) throw fail("more than 16 RRULE lines", field_ + ".RRULE");

    // The rule zone: DTSTART's TZID, UTC for a UTC DTSTART, else the schedule's zone, else UTC.
    TimeValue dtstart;
    std::optional<TimeZone> rule_zone;
    if (dtstart_line) {
      dtstart = parse_value(dtstart_line->first, dtstart_line->second, field_ + ".DTSTART");
      if (dtstart.kind == TimeValue::kZoned) rule_zone = dtstart.zone;
      if (dtstart.kind == TimeValue::kUtc) rule_zone.emplace("UTC");
    } else {
      dtstart.local = LocalSeconds{date::local_days{date::year{2000} / 1 / 1}};
    }
    if (!rule_zone) rule_zone = display ? *display : TimeZone("UTC");
    if (!display) display = rule_zone;
    zone_for_values_ = &*rule_zone;

    std::vector<Rule> rules;
    for (const auto& r : rule_texts) rules.push_back(parse_rule(r, dtstart));
    std::vector<TimeValue> rdates, exdates;
    for (const auto& [params, value] : rdate_lines)
      parse_list(params, value, field_ + ".RDATE", rdates);
    for (const auto& [params, value] : exdate_lines)
      parse_list(params, value, field_ + ".EXDATE", exdates);
    return std::make_shared<RRuleSchedule>(
        std::move(*display), std::move(*rule_zone), std::move(dtstart), dtstart_line.has_value(),
        std::move(rules), std::move(rdates), std::move(exdates), text_);
  }

 private:
  Error fail(const std::string& message, const std::string& field) const {
    return invalid_argument(message, field);
  }

  // "20240101T090000", "20240101T090000Z" or "20240101" with parameters TZID= and VALUE=.
  TimeValue parse_value(const std::string& params, const std::string& raw,
                        const std::string& field) const {
    std::optional<std::string> tzid;
    std::string value_type;
    for (const auto& p : split(params, ';')) {
      if (p.empty()) continue;
      const auto eq = p.find('=');
      const std::string key = upper(p.substr(0, eq));
      const std::string val = eq == std::string::npos ? "" : p.substr(eq + 1);
      if (key == "TZID") {
        tzid = val;
      } else if (key == "VALUE") {
        value_type = upper(val);
        if (value_type != "DATE" && value_type != "DATE-TIME")
          throw fail("VALUE=" + val + " is not supported; expected DATE or DATE-TIME", field);
      } else {
        throw fail("unknown parameter '" + p + "'; expected TZID= or VALUE=", field);
      }
    }
    TimeValue v = parse_time_text(raw, field);
    if (value_type == "DATE" && v.kind != TimeValue::kDate)
      throw fail("'" + raw + "' is not a DATE (YYYYMMDD) though VALUE=DATE", field);
    if (tzid) {
      if (v.kind != TimeValue::kFloating)
        throw fail(
            "TZID is given but '" + raw + "' is not a local date-time; expected YYYYMMDDTHHMMSS",
            field);
      std::string name = *tzid;
      if (name.size() >= 2 && name.front() == '"' && name.back() == '"')
        name = name.substr(1, name.size() - 2);
      v.kind = TimeValue::kZoned;
      v.zone.emplace(name, field + ".TZID");
    }
    return v;
  }

  TimeValue parse_time_text(const std::string& raw, const std::string& field) const {
    auto bad = [&] {
      return fail(
          "'" + raw +
              "' is not an RFC 5545 date or date-time; expected YYYYMMDD, YYYYMMDDTHHMMSS or "
              "YYYYMMDDTHHMMSSZ",
          field);
    };
    TimeValue v;
    std::string s = raw;
    if (s.size() == 16 && (s[15] == 'Z' || s[15] == 'z')) {
      v.kind = TimeValue::kUtc;
      s.pop_back();
    }
    if (s.size() != 8 && s.size() != 15) throw bad();
    if (!all_digits(s.substr(0, 8))) throw bad();
    const int y = std::stoi(s.substr(0, 4));
    const unsigned mo = static_cast<unsigned>(std::stoi(s.substr(4, 2)));
    const unsigned d = static_cast<unsigned>(std::stoi(s.substr(6, 2)));
    const date::year_month_day ymd{date::year{y} / mo / d};
    if (y < 1 || !ymd.ok())
      throw fail(
          "'" + raw + "' is not a real date (year 0001-9999, month 01-12, day within the month)",
          field);
    v.local = LocalSeconds{date::local_days{ymd}};
    if (s.size() == 8) {
      if (v.kind == TimeValue::kUtc) throw bad();
      v.kind = TimeValue::kDate;
      return v;
    }
    if ((s[8] != 'T' && s[8] != 't') || !all_digits(s.substr(9))) throw bad();
    const int h = std::stoi(s.substr(9, 2));
    const int mi = std::stoi(s.substr(11, 2));
    const int sec = std::stoi(s.substr(13, 2));
    if (h > 23 || mi > 59 || sec > 59)
      throw fail(
          "'" + raw +
              "' has a time out of range; expected hours 00-23, minutes 00-59, seconds 00-59",
          field);
    v.local += std::chrono::hours(h) + std::chrono::minutes(mi) + Seconds(sec);
    return v;
  }

  void parse_list(const std::string& params, const std::string& value, const std::string& field,
                  std::vector<TimeValue>& out) const {
    for (const auto& item : split(value, ',')) {
      if (item.find('/') != std::string::npos)
        throw fail(
            "PERIOD values are not supported in '" + item + "'; expected dates or date-times",
            field);
      if (out.size() >= 10000) throw fail("more than 10000 values", field);
      out.push_back(parse_value(params, item, field));
    }
  }

  Rule parse_rule(const std::string& text, const TimeValue& dtstart) const {
    Rule rule;
    rule.text = text;
    const std::string rf = field_ + ".RRULE";
    std::map<std::string, std::string> parts;
    std::vector<std::string> order;
    for (const auto& part : split(text, ';')) {
      if (part.empty()) continue;
      const auto eq = part.find('=');
      if (eq == std::string::npos) throw fail("rule part '" + part + "' is not NAME=VALUE", rf);
      const std::string key = upper(part.substr(0, eq));
      if (parts.count(key) != 0)
        throw fail("rule part " + key + " appears twice", field_ + "." + key);
      parts[key] = upper(part.substr(eq + 1));
      order.push_back(key);
    }
    auto field = [&](const std::string& key) { return field_ + "." + key; };
    if (parts.count("FREQ") == 0)
      throw fail(
          "the rule has no FREQ; expected FREQ=SECONDLY, MINUTELY, HOURLY, DAILY, WEEKLY, MONTHLY "
          "or YEARLY",
          field("FREQ"));
    {
      const auto& f = parts["FREQ"];
      auto it = std::find(kFreqs.begin(), kFreqs.end(), f);
      if (it == kFreqs.end())
        throw fail("FREQ value '" + f +
                       "' is not allowed; expected one of SECONDLY, MINUTELY, HOURLY, DAILY, "
                       "WEEKLY, MONTHLY, YEARLY",
                   field("FREQ"));
      rule.freq = static_cast<Freq>(it - kFreqs.begin());
    }
    auto integer = [&](const std::string& key, const std::string& s, long lo, long hi,
                       bool allow_negative) -> long {
      std::string digits = s;
      bool negative = false;
      if (!digits.empty() && (digits[0] == '+' || digits[0] == '-')) {
        negative = digits[0] == '-';
        digits = digits.substr(1);
      }
      const std::string range = allow_negative
                                    ? std::to_string(lo) + " to " + std::to_string(hi) + " or -" +
                                          std::to_string(hi) + " to -" + std::to_string(lo)
                                    : std::to_string(lo) + "-" + std::to_string(hi);
      if (!all_digits(digits) || digits.size() > 9 || (negative && !allow_negative))
        throw fail(key + " value '" + s + "' is not allowed; expected " + range, field(key));
      const long v = std::stol(digits);
      if (v < lo || v > hi)
        throw fail(key + " value '" + s + "' is out of range; expected " + range, field(key));
      return negative ? -v : v;
    };
    auto list = [&](const std::string& key, long lo, long hi, bool allow_negative) {
      std::vector<int> out;
      for (const auto& item : split(parts[key], ',')) {
        const int v = static_cast<int>(integer(key, item, lo, hi, allow_negative));
        if (std::find(out.begin(), out.end(), v) != out.end())
          throw fail(key + " lists " + item + " twice", field(key));
        out.push_back(v);
      }
      return out;
    };
    std::vector<std::string> normalized{"FREQ=" + parts["FREQ"]};
    for (const auto& key : order) {
      const std::string& val = parts[key];
      if (key == "FREQ") continue;
      if (key == "INTERVAL") {
        rule.interval = static_cast<int>(integer(key, val, 1, 10000, false));
      } else if (key == "COUNT") {
        rule.count = integer(key, val, 1, 1000000, false);
      } else if (key == "UNTIL") {
        rule.until = parse_time_text(val, field(key));
        continue;  // compared here, not by libical
      } else if (key == "BYSECOND") {
        list(key, 0, 59, false);
      } else if (key == "BYMINUTE") {
        list(key, 0, 59, false);
      } else if (key == "BYHOUR") {
        list(key, 0, 23, false);
      } else if (key == "BYMONTHDAY") {
        if (rule.freq == kWeekly)
          throw fail("BYMONTHDAY cannot be used with FREQ=WEEKLY (RFC 5545)", field(key));
        rule.by_month_day = list(key, 1, 31, true);
      } else if (key == "BYYEARDAY") {
        if (rule.freq == kDaily || rule.freq == kWeekly || rule.freq == kMonthly)
          throw fail("BYYEARDAY cannot be used with FREQ=DAILY, WEEKLY or MONTHLY (RFC 5545)",
                     field(key));
        rule.by_year_day = list(key, 1, 366, true);
      } else if (key == "BYWEEKNO") {
        if (rule.freq != kYearly)
          throw fail("BYWEEKNO can only be used with FREQ=YEARLY (RFC 5545)", field(key));
        list(key, 1, 53, true);
      } else if (key == "BYMONTH") {
        rule.by_month = list(key, 1, 12, false);
      } else if (key == "BYSETPOS") {
        list(key, 1, 366, true);
      } else if (key == "WKST") {
        if (std::find(kWeekdays.begin(), kWeekdays.end(), val) == kWeekdays.end())
          throw fail(
              "WKST value '" + val + "' is not allowed; expected one of MO, TU, WE, TH, FR, SA, SU",
              field(key));
      } else if (key == "BYDAY") {
        const bool ordinals_allowed =
            (rule.freq == kMonthly || rule.freq == kYearly) && parts.count("BYWEEKNO") == 0;
        const long max_ordinal = rule.freq == kMonthly ? 5 : 53;
        std::vector<std::string> seen;
        for (const auto& item : split(val, ',')) {
          const std::string expected =
              "expected weekdays MO, TU, WE, TH, FR, SA, SU, with an ordinal (e.g. 1MO, -1FR) only "
              "for MONTHLY (1-5) "
              "or YEARLY (1-53) rules without BYWEEKNO";
          if (item.size() < 2)
            throw fail("BYDAY value '" + item + "' is not allowed; " + expected, field(key));
          const std::string wd = item.substr(item.size() - 2);
          auto it = std::find(kWeekdays.begin(), kWeekdays.end(), wd);
          if (it == kWeekdays.end())
            throw fail("BYDAY value '" + item + "' is not allowed; " + expected, field(key));
          const std::string ord = item.substr(0, item.size() - 2);
          if (!ord.empty()) {
            if (!ordinals_allowed)
              throw fail("BYDAY value '" + item + "' has an ordinal, which FREQ=" + parts["FREQ"] +
                             (parts.count("BYWEEKNO") ? " with BYWEEKNO" : "") +
                             " does not allow; " + expected,
                         field(key));
            integer(key, ord, 1, max_ordinal, true);
          }
          if (std::find(seen.begin(), seen.end(), item) != seen.end())
            throw fail("BYDAY lists " + item + " twice", field(key));
          seen.push_back(item);
          if (ord.empty()) rule.by_day.push_back(static_cast<int>(it - kWeekdays.begin()));
        }
      } else {
        throw fail("unknown rule part '" + key +
                       "'; expected FREQ, INTERVAL, COUNT, UNTIL, BYSECOND, BYMINUTE, "
                       "BYHOUR, BYDAY, BYMONTHDAY, BYYEARDAY, BYWEEKNO, BYMONTH, BYSETPOS or WKST",
                   field(key));
      }
      normalized.push_back(key + "=" + val);
    }
    if (rule.count && rule.until)
      throw fail("COUNT and UNTIL cannot both be given (RFC 5545); expected one of them",
                 field("COUNT"));
    if (parts.count("BYSETPOS") != 0 &&
        parts.size() - (parts.count("INTERVAL") + parts.count("COUNT") + parts.count("UNTIL") +
                        parts.count("WKST") + 2) ==
            0)
      throw fail("BYSETPOS needs another BYxxx rule part to select from (RFC 5545)",
                 field("BYSETPOS"));
    for (std::size_t i = 0; i < normalized.size(); ++i)
      rule.libical_text += (i ? ";" : "") + normalized[i];

    // libical must accept the rule and produce at least one occurrence.
    icalerror_clear_errno();
    icalrecurrencetype recur = icalrecurrencetype_from_string(rule.libical_text.c_str());
    if (recur.freq == ICAL_NO_RECURRENCE || icalerrno != ICAL_NO_ERROR) {
      icalerror_clear_errno();
      throw fail("the rule '" + text + "' is not a valid RFC 5545 RRULE", field_ + ".RRULE");
    }
    if (rule.freq <= kDaily) check_some_day_matches(rule);
    icaltimetype start = icaltime_null_time();
    {
      const auto day = date::floor<date::days>(dtstart.local);
      const date::year_month_day ymd{day};
      start.year = static_cast<int>(ymd.year());
      start.month = static_cast<int>(static_cast<unsigned>(ymd.month()));
      start.day = static_cast<int>(static_cast<unsigned>(ymd.day()));
      start.is_date = dtstart.kind == TimeValue::kDate ? 1 : 0;
    }
    icalrecur_iterator* it = icalrecur_iterator_new(recur, start);
    icalerror_clear_errno();
    if (it == nullptr)
      throw fail(
          "the rule '" + text +
              "' never produces an occurrence (e.g. a day that does not exist in its months)",
          field_ + ".RRULE");
    icalrecur_iterator_free(it);
    return rule;
  }

  // Rules of DAILY and shorter frequencies filter days by BYMONTH, BYMONTHDAY, BYYEARDAY and BYDAY
  // alone; libical searches forever when no day passes, so make sure one does within a 400-year
  // Gregorian cycle.
  void check_some_day_matches(const Rule& rule) const {
    if (rule.by_month.empty() && rule.by_month_day.empty() && rule.by_year_day.empty() &&
        rule.by_day.empty())
      return;
    date::sys_days day = date::sys_days{date::year{2000} / 1 / 1};
    for (int i = 0; i < 146097; ++i, day += date::days{1}) {
      const date::year_month_day ymd{day};
      const int m = static_cast<int>(static_cast<unsigned>(ymd.month()));
      const int d = static_cast<int>(static_cast<unsigned>(ymd.day()));
      const int last =
          static_cast<int>(static_cast<unsigned>((ymd.year() / ymd.month() / date::last).day()));
      const int yday = (day - date::sys_days{ymd.year() / 1 / 1}).count() + 1;
      const int ylen = ymd.year().is_leap() ? 366 : 365;
      auto has = [](const std::vector<int>& v, int x) {
        return std::find(v.begin(), v.end(), x) != v.end();
      };
      if (!rule.by_month.empty() && !has(rule.by_month, m)) continue;
      if (!rule.by_month_day.empty() && !has(rule.by_month_day, d) &&
          !has(rule.by_month_day, d - last - 1))
        continue;
      if (!rule.by_year_day.empty() && !has(rule.by_year_day, yday) &&
          !has(rule.by_year_day, yday - ylen - 1))
        continue;
      if (!rule.by_day.empty() &&
          !has(rule.by_day, static_cast<int>(date::weekday(day).c_encoding())))
        continue;
      return;
    }
    throw fail("the rule '" + rule.text +
                   "' never produces an occurrence: no date matches its BYMONTH, BYMONTHDAY, "
                   "BYYEARDAY and BYDAY parts",
               field_ + ".RRULE");
  }

  std::string text_;
  std::string field_;
  const TimeZone* zone_for_values_ = nullptr;
};

}  // namespace

std::shared_ptr<const ScheduleImpl> make_rrule(std::string_view text, std::optional<TimeZone> zone,
                                               std::string_view field) {
  return RRuleParser(text, std::string(field) + ".rrule").parse(std::move(zone));
}

}  // namespace baton::schedules
