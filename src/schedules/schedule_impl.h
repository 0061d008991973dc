// The one seam between the public Schedule and the three kinds behind it.
//
// Thread-safety: implementations are immutable after construction; collect() is const and
// keeps its iteration state on the stack, so concurrent calls are safe.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <vector>

#include "baton/schedule.h"
#include "schedules/time_zone.h"

namespace baton::schedules {

class ScheduleImpl {
 public:
  explicit ScheduleImpl(TimeZone zone) : zone_(std::move(zone)) {}
  virtual ~ScheduleImpl() = default;

  // Appends the fire times t with start <= t < end to `out`, ascending, without duplicates,
  // stopping after `count` of them.
  virtual void collect(TimePoint start, TimePoint end, std::size_t count,
                       std::vector<TimePoint>& out) const = 0;
  virtual ScheduleKind kind() const noexcept = 0;
  virtual nlohmann::json to_json() const = 0;

  // The zone times are shown in.
  const TimeZone& zone() const noexcept { return zone_; }

 private:
  TimeZone zone_;
};

std::shared_ptr<const ScheduleImpl> make_cron(std::string_view expression, const TimeZone& zone,
                                              bool day_or, std::string_view field);
std::shared_ptr<const ScheduleImpl> make_interval(std::chrono::microseconds interval,
                                                  TimePoint anchor, const TimeZone& zone,
                                                  std::string_view field);
std::shared_ptr<const ScheduleImpl> make_rrule(std::string_view text, std::optional<TimeZone> zone,
                                               std::string_view field);

}  // namespace baton::schedules
