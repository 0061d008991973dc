// Interval fire times: anchor + k * interval for every integer k.
//
// Under one day the interval is elapsed time. From one day up it is D calendar days plus S
// seconds, and fire k is computed from the anchor directly (never step by step, so a time shifted
// out of a DST gap does not drag later fires along): the anchor's local wall time on the anchor's
// local date + k*D days, resolved like a cron time (gap: shifted forward; fold: first occurrence),
// plus k*S elapsed seconds. Fire 0 is the anchor itself.
#include "baton/error.h"
#include "schedules/schedule_impl.h"

namespace baton::schedules {

namespace {

using Micros = std::chrono::microseconds;
constexpr Micros kDay = std::chrono::hours(24);

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

class IntervalSchedule final : public ScheduleImpl {
 public:
  IntervalSchedule(Micros interval, TimePoint anchor, TimeZone zone)
      : ScheduleImpl(std::move(zone)), interval_(interval), anchor_(anchor) {
    days_ = interval_ / kDay;
    rest_ = interval_ % kDay;
    const SysSeconds whole = date::floor<Seconds>(anchor_);
    fraction_ = anchor_ - TimePoint(std::chrono::duration_cast<Micros>(whole.time_since_epoch()));
    anchor_local_ = this->zone().to_local(whole);
  }

  void collect(TimePoint start, TimePoint end, std::size_t count,
               std::vector<TimePoint>& out) const override {
    if (count == 0 || start >= end) return;
    std::int64_t k = floor_div((start - anchor_).count(), interval_.count());
    if (days_ > 0) k -= 2;  // calendar days may run up to a day and a bit behind elapsed time
    std::size_t added = 0;
    std::optional<TimePoint> last;
    for (; added < count; ++k) {
      const TimePoint t = fire(k);
      if (t >= end) break;
      if (t < start || (last && t == *last)) continue;
      out.push_back(t);
      last = t;
      ++added;
    }
  }

  ScheduleKind kind() const noexcept override { return ScheduleKind::kInterval; }

  nlohmann::json to_json() const override {
    nlohmann::json interval;
    if (interval_.count() % 1000000 == 0) {
      interval = interval_.count() / 1000000;
    } else {
      interval = static_cast<double>(interval_.count()) / 1e6;
    }
    return {{"interval", interval},
            {"anchor_date", zone().format(anchor_)},
            {"timezone", zone().name()}};
  }

 private:
  TimePoint fire(std::int64_t k) const {
    if (days_ == 0 || k == 0) return anchor_ + k * interval_;
    const LocalSeconds local = anchor_local_ + Seconds{k * days_ * 86400};
    const SysSeconds instant = zone().resolve(local);
    return TimePoint(std::chrono::duration_cast<Micros>(instant.time_since_epoch())) + fraction_ +
           k * rest_;
  }

  Micros interval_;
  TimePoint anchor_;
  std::int64_t days_ = 0;
  Micros rest_{0};
  Micros fraction_{0};
  LocalSeconds anchor_local_;
};

}  // namespace

std::shared_ptr<const ScheduleImpl> make_interval(std::chrono::microseconds interval,
                                                  TimePoint anchor, const TimeZone& zone,
                                                  std::string_view field) {
  constexpr Micros kMax = std::chrono::hours(24 * 366 * 100);
  if (interval <= Micros{0} || interval > kMax) {
    throw invalid_argument(
        "interval must be a positive number of seconds, at most 100 years (3162240000); got " +
            std::to_string(static_cast<double>(interval.count()) / 1e6),
        std::string(field) + ".interval");
  }
  return std::make_shared<IntervalSchedule>(interval, anchor, zone);
}

}  // namespace baton::schedules
