// A task run's state history as one text value stored on its run row (task_run.history).
//
// Each state is one line: a JSON object whose first member is the state's "id", then "type",
// "timestamp" and only the members that differ from their defaults ("name" when it is not the
// type's default name, "message", "scheduled_time", "data", "cache_key", "cache_expiration",
// "retriable": false, "transition_id"), then '\n'. Times are integer microseconds since the epoch.
// Lines are appended (SQL `history || ?` in both SQLite and PostgreSQL), so a late state may
// follow a newer one: readers order by (timestamp, id).
//
// Shared by every Storage backend, so the format is the same in SQLite and PostgreSQL.
// Thread-safety: free functions over values.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "baton/state.h"

namespace baton::storage {

struct StateRow;

// Appends one history line for `state` with id `state_id` (UUID text, as new_id() makes: it is
// written unescaped) to `out`. Throws what
// nlohmann::json::dump throws for a result that is not valid UTF-8.
void append_history_entry(std::string& out, std::string_view state_id, const State& state,
                          std::string_view transition_id = {});

// Every entry of `history`, ordered by (timestamp, id). Lines that do not parse are skipped.
std::vector<StateRow> parse_history(std::string_view history);

// The entry with id `state_id` (the run's current state), or nullopt.
std::optional<StateRow> find_history_entry(std::string_view history, std::string_view state_id);

}  // namespace baton::storage
