// The SQL fragments where SQLite and PostgreSQL differ. Everything else in the storage layer's
// SQL is portable; a PostgreSQL backend supplies its own version of these functions.
#pragma once

#include <string>
#include <string_view>

namespace baton::storage::sqlite_dialect {

// True when the JSON array of strings in `column` contains the bound parameter (one `?`).
// PostgreSQL: `column::jsonb ? $n`.
inline std::string json_array_contains(std::string_view column) {
  return "EXISTS (SELECT 1 FROM json_each(" + std::string(column) + ") WHERE json_each.value = ?)";
}

// Retention's range of runs by expected start time (ix_flow_run_expected_start_time, migration
// 0001). Without the hint SQLite, lacking statistics, may read the runs by state type and sort
// them. PostgreSQL: no hint (its planner has statistics; pg_hint_plan is not assumed).
inline constexpr std::string_view kRunsByExpectedStart =
    " INDEXED BY ix_flow_run_expected_start_time";

}  // namespace baton::storage::sqlite_dialect
