// Cron fire times: local wall-clock matches mapped to instants, one constant-offset stretch of the
// zone at a time.
//
// Within a stretch [begin, end) with offset o, local time L is the instant L - o. Two places need
// care, both at the stretch's start, where the offset changed from p to o:
// - fall-back (p > o): local times in [begin + o, begin + p) already happened under p; they are
//   second occurrences and are skipped, so every wall time fires once, at its first occurrence.
// - spring-forward (p < o): local times in [begin + p, begin + o) never happen; they fire shifted
//   forward by the gap, at L - p, which lands in [begin, begin + o - p). Those shifted times are
//   merged with the stretch's ordinary times (a coincidence fires once).
#include <algorithm>

#include "schedules/cron_expression.h"
#include "schedules/schedule_impl.h"

namespace baton::schedules {

namespace {

LocalSeconds as_local(SysSeconds t, Seconds offset) {
  return LocalSeconds{(t + offset).time_since_epoch()};
}
SysSeconds as_sys(LocalSeconds l, Seconds offset) {
  return SysSeconds{(l - offset).time_since_epoch()};
}

class CronSchedule final : public ScheduleImpl {
 public:
  CronSchedule(CronExpression expression, TimeZone zone)
      : ScheduleImpl(std::move(zone)), expression_(std::move(expression)) {}

  void collect(TimePoint start, TimePoint end, std::size_t count,
               std::vector<TimePoint>& out) const override {
    SysSeconds t = date::ceil<Seconds>(start);
    const SysSeconds stop = date::ceil<Seconds>(end);
    if (count == 0 || t >= stop) return;
    ZoneSegment seg = zone().segment_at(t);
    Seconds previous = zone().segment_at(seg.begin - Seconds{1}).offset;
    std::size_t added = 0;
    while (added < count && t < stop) {
      if (t >= seg.end) {
        previous = seg.offset;
        seg = zone().segment_at(seg.end);
      }
      const Seconds o = seg.offset;
      const SysSeconds seg_stop = std::min(seg.end, stop);
      std::optional<SysSeconds> best;

      LocalSeconds lo = as_local(t, o);
      if (previous > o)
        lo = std::max(lo, as_local(seg.begin, previous));  // skip second occurrences
      if (auto l = expression_.next_match(lo, as_local(seg_stop, o))) best = as_sys(*l, o);

      const Seconds gap = o - previous;
      if (gap > Seconds{0} && t < seg.begin + gap) {
        const LocalSeconds gap_lo = as_local(std::max(t, seg.begin), previous);
        if (auto l = expression_.next_match(gap_lo, as_local(seg.begin, o))) {
          const SysSeconds shifted = as_sys(*l, previous);
          if (!best || shifted < *best) best = shifted;
        }
      }
      if (best && *best < stop) {
        out.push_back(TimePoint(
            std::chrono::duration_cast<std::chrono::microseconds>(best->time_since_epoch())));
        ++added;
        t = *best + Seconds{1};
      } else {
        if (seg.end >= stop) return;
        t = seg.end;
      }
    }
  }

  ScheduleKind kind() const noexcept override { return ScheduleKind::kCron; }

  nlohmann::json to_json() const override {
    return {{"cron", expression_.text()},
            {"timezone", zone().name()},
            {"day_or", expression_.day_or()}};
  }

 private:
  CronExpression expression_;
};

}  // namespace

std::shared_ptr<const ScheduleImpl> make_cron(std::string_view expression, const TimeZone& zone,
                                              bool day_or, std::string_view field) {
  return std::make_shared<CronSchedule>(
      CronExpression(expression, day_or, std::string(field) + ".cron"), zone);
}

}  // namespace baton::schedules
