// Prefect-shaped event filters, shared by POST /api/events/filter and the websocket stream:
//
//   {"event":    {"prefix": ["baton.flow-run."], "name": ["baton.flow-run.Completed"]},
//    "resource": {"id": ["baton.flow-run.0190..."], "id_prefix": ["baton.flow-run."]},
//    "occurred": {"since": "2024-01-01T00:00:00Z", "until": "..."}}
//
// Every present clause must match; within a list, any entry may. An empty filter matches all.
//
// Thread-safety: immutable after construction.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "baton/state.h"

namespace baton::server {

struct EventFilter {
  std::vector<std::string> name_prefixes;
  std::vector<std::string> names;
  std::vector<std::string> resource_ids;
  std::vector<std::string> resource_id_prefixes;
  std::optional<TimePoint> since, until;

  // Throws invalid_argument naming the field (under `field`) when the shape is wrong.
  static EventFilter from_json(const nlohmann::json& j, const std::string& field = "filter");
  // The JSON Schema of the filter object (for validation and OpenAPI).
  static nlohmann::json schema();
  bool matches(const nlohmann::json& event) const;
};

}  // namespace baton::server
