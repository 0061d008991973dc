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

// Retention's range of final runs by end time (migration 0010's partial index). Without the hint
// SQLite, lacking statistics, reads every final run by state type and sorts them. PostgreSQL: no
// hint (its planner has statistics; pg_hint_plan is not assumed).
inline constexpr std::string_view kFinalRunsByEndTime = " INDEXED BY ix_flow_run_final_end_time";

}  // namespace baton::storage::sqlite_dialect
