// Shared by the schedule tests: fire times as the strings a person reads.
#pragma once

#include <string>
#include <vector>

#include "baton/schedule.h"

namespace baton::testing {

inline std::vector<std::string> preview(const Schedule& s, const std::string& start,
                                        std::size_t count) {
  std::vector<std::string> out;
  for (TimePoint t : s.next(count, parse_time(start))) out.push_back(s.format_local(t));
  return out;
}

}  // namespace baton::testing
