#include "schedules/time_zone.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <vector>

#include "baton/error.h"

namespace baton::schedules {

namespace {

// date/tz reports the last explicit segment as ending at this far-future sentinel.
bool open_ended(const date::sys_info& info) {
  return info.end >= SysSeconds{date::sys_days{date::year{9999} / 1 / 1}};
}

// The POSIX TZ rule at the end of a TZif (version 2+) file: the text between the last two newlines.
std::optional<PosixRule> read_footer_rule(const std::string& name) {
  std::ifstream in("/usr/share/zoneinfo/" + name, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream buf;
  buf << in.rdbuf();
  std::string data = buf.str();
  if (data.size() < 2 || data.back() != '\n') return std::nullopt;
  auto start = data.rfind('\n', data.size() - 2);
  if (start == std::string::npos) return std::nullopt;
  std::string rule = data.substr(start + 1, data.size() - start - 2);
  return PosixRule::parse(rule);
}

// Reads [+-]hh[:mm[:ss]] at `i`; false when malformed.
bool read_hms(std::string_view s, std::size_t& i, Seconds& out) {
  int sign = 1;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) sign = s[i++] == '-' ? -1 : 1;
  long parts[3] = {0, 0, 0};
  for (int p = 0; p < 3; ++p) {
    if (p > 0) {
      if (i >= s.size() || s[i] != ':') break;
      ++i;
    }
    std::size_t start = i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])) && i - start < 3)
      parts[p] = parts[p] * 10 + (s[i++] - '0');
    if (i == start) return false;
  }
  out = Seconds{sign * (parts[0] * 3600 + parts[1] * 60 + parts[2])};
  return true;
}

bool read_name(std::string_view s, std::size_t& i) {
  if (i < s.size() && s[i] == '<') {
    auto close = s.find('>', i);
    if (close == std::string_view::npos) return false;
    i = close + 1;
    return true;
  }
  std::size_t start = i;
  while (i < s.size() && std::isalpha(static_cast<unsigned char>(s[i]))) ++i;
  return i - start >= 3;
}

}  // namespace

std::optional<PosixRule> PosixRule::parse(std::string_view s) {
  PosixRule r;
  std::size_t i = 0;
  Seconds std_west{0};
  if (!read_name(s, i) || !read_hms(s, i, std_west)) return std::nullopt;
  r.std_offset_ = -std_west;
  if (i >= s.size()) return std::nullopt;  // no DST
  if (!read_name(s, i)) return std::nullopt;
  r.dst_offset_ = r.std_offset_ + std::chrono::hours(1);
  if (i < s.size() && s[i] != ',') {
    Seconds dst_west{0};
    if (!read_hms(s, i, dst_west)) return std::nullopt;
    r.dst_offset_ = -dst_west;
  }
  auto read_when = [&](When& w) {
    if (i >= s.size() || s[i] != ',') return false;
    ++i;
    auto number = [&](int& out) {
      std::size_t start = i;
      out = 0;
      while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])) && i - start < 3)
        out = out * 10 + (s[i++] - '0');
      return i > start;
    };
    if (i < s.size() && s[i] == 'M') {
      ++i;
      w.form = 'M';
      if (!number(w.month) || i >= s.size() || s[i++] != '.' || !number(w.week) || i >= s.size() ||
          s[i++] != '.' || !number(w.weekday))
        return false;
      if (w.month < 1 || w.month > 12 || w.week < 1 || w.week > 5 || w.weekday > 6) return false;
    } else if (i < s.size() && s[i] == 'J') {
      ++i;
      w.form = 'J';
      if (!number(w.day) || w.day < 1 || w.day > 365) return false;
    } else {
      w.form = 'n';
      if (!number(w.day) || w.day > 365) return false;
    }
    if (i < s.size() && s[i] == '/') {
      ++i;
      if (!read_hms(s, i, w.time)) return false;
    }
    return true;
  };
  if (!read_when(r.start_) || !read_when(r.end_) || i != s.size()) return std::nullopt;
  return r;
}

SysSeconds PosixRule::transition(int y, const When& w, Seconds offset_before) const {
  date::local_days day;
  const date::year year{y};
  if (w.form == 'M') {
    const date::month m{static_cast<unsigned>(w.month)};
    const date::weekday wd{static_cast<unsigned>(w.weekday)};
    if (w.week == 5) {
      day = date::local_days{year / m / wd[date::last]};
    } else {
      day = date::local_days{year / m / wd[static_cast<unsigned>(w.week)]};
    }
  } else if (w.form == 'J') {
    // Day 1-365, February 29 never counted.
    day = date::local_days{year / 1 / 1} + date::days{w.day - 1};
    if (year.is_leap() && w.day >= 60) day += date::days{1};
  } else {
    day = date::local_days{year / 1 / 1} + date::days{w.day};
  }
  return SysSeconds{(LocalSeconds{day} + w.time - offset_before).time_since_epoch()};
}

ZoneSegment PosixRule::segment_at(SysSeconds t) const {
  const int y = static_cast<int>(date::year_month_day{date::floor<date::days>(t)}.year());
  struct Change {
    SysSeconds at;
    Seconds offset;
  };
  std::vector<Change> changes;
  for (int year = y - 1; year <= y + 1; ++year) {
    changes.push_back({transition(year, start_, std_offset_), dst_offset_});
    changes.push_back({transition(year, end_, dst_offset_), std_offset_});
  }
  std::sort(changes.begin(), changes.end(),
            [](const Change& a, const Change& b) { return a.at < b.at; });
  ZoneSegment seg{changes.front().at, changes.back().at, changes.front().offset};
  for (std::size_t k = 0; k < changes.size(); ++k) {
    if (changes[k].at <= t) {
      seg.begin = changes[k].at;
      seg.offset = changes[k].offset;
      seg.end = k + 1 < changes.size() ? changes[k + 1].at : changes.back().at + date::days{366};
    }
  }
  return seg;
}

TimeZone::TimeZone(std::string_view name, std::string_view field) : name_(name) {
  auto fail = [&] {
    return invalid_argument(
        "unknown time zone '" + name_ +
            "'; expected an IANA time zone name such as UTC, Europe/London or "
            "America/New_York (from the system tz database, /usr/share/zoneinfo)",
        std::string(field));
  };
  if (name_.empty() || name_.size() > 64 || name_.find("..") != std::string::npos) throw fail();
  try {
    zone_ = date::locate_zone(name_);
  } catch (const std::exception&) {
    throw fail();
  }
  // Read each zone's file once per process: schedulers build thousands of schedules in few zones.
  static std::mutex mutex;
  static std::map<std::string, std::optional<PosixRule>> rules;
  std::lock_guard<std::mutex> lock(mutex);
  auto it = rules.find(name_);
  if (it == rules.end()) it = rules.emplace(name_, read_footer_rule(name_)).first;
  rule_ = it->second;
}

ZoneSegment TimeZone::segment_at(SysSeconds t) const {
  date::sys_info info = zone_->get_info(t);
  if (rule_ && open_ended(info)) {
    ZoneSegment later = rule_->segment_at(t);
    return {std::max(info.begin, later.begin), later.end, later.offset};
  }
  return {info.begin, info.end, info.offset};
}

SysSeconds TimeZone::resolve(LocalSeconds local) const {
  // Offsets stay within +-26 h, so every candidate instant lies in (local - 30 h, local + 30 h).
  const SysSeconds as_utc{local.time_since_epoch()};
  ZoneSegment seg = segment_at(as_utc - std::chrono::hours(30));
  std::optional<Seconds> previous_offset;
  for (int i = 0; i < 16; ++i) {
    const LocalSeconds local_begin{(seg.begin + seg.offset).time_since_epoch()};
    const LocalSeconds local_end{(seg.end + seg.offset).time_since_epoch()};
    if (previous_offset && local < local_begin) {
      return SysSeconds{(local - *previous_offset).time_since_epoch()};  // in the gap before seg
    }
    if (local < local_end) return SysSeconds{(local - seg.offset).time_since_epoch()};
    previous_offset = seg.offset;
    seg = segment_at(seg.end);
  }
  return SysSeconds{(local - seg.offset).time_since_epoch()};
}

std::string TimeZone::format(TimePoint t) const {
  const SysSeconds whole = date::floor<Seconds>(t);
  const auto micros =
      (t -
       TimePoint(std::chrono::duration_cast<std::chrono::microseconds>(whole.time_since_epoch())))
          .count();
  const Seconds offset = offset_at(whole);
  std::string out =
      date::format("%Y-%m-%dT%H:%M:%S", LocalSeconds{(whole + offset).time_since_epoch()});
  char buf[32];
  if (micros != 0) {
    std::snprintf(buf, sizeof buf, ".%06lld", static_cast<long long>(micros));
    out += buf;
  }
  const long long total = offset.count();
  const long long a = total < 0 ? -total : total;
  if (a % 60 != 0) {  // historical local mean time, e.g. -04:56:02
    std::snprintf(buf, sizeof buf, "%c%02lld:%02lld:%02lld", total < 0 ? '-' : '+', a / 3600,
                  a / 60 % 60, a % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%c%02lld:%02lld", total < 0 ? '-' : '+', a / 3600, a / 60 % 60);
  }
  return out + buf;
}

}  // namespace baton::schedules
