// A task run's state history as one text value stored on its run row (task_run.history).
//
// Each state is one line. Lines written since 2026-11-24 are compact:
//   <id> <type letter><timestamp>[ <JSON object>]\n
// e.g. "01a20d91-75f1-7301-8dcd-c7e194d9a8bf C1795523966450232": the state's id (UUID text), one
// letter for its type (S P R C F X K U N: Scheduled, Pending, Running, Completed, Failed,
// Cancelled, Crashed, Paused, Cancelling), its timestamp, and only when one of them differs from
// its default, a JSON object of the other members ("name" when it is not the type's default name,
// "message", "scheduled_time", "data", "cache_key", "cache_expiration", "retriable": false,
// "transition_id"). Lines written before are one JSON object whose first member is "id", then
// "type", "timestamp" and the same optional members; both are read, in any mix. Times are integer
// microseconds since the epoch. A line of three defaults takes 55 bytes instead of 93: most of a
// task run's row is its history, and every byte of it is written to the WAL and copied by SQLite.
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

// Appends one (compact) history line for `state` with id `state_id` (UUID text, as new_id()
// makes: it is written unescaped) to `out`. Throws what
// nlohmann::json::dump throws for a result that is not valid UTF-8.
void append_history_entry(std::string& out, std::string_view state_id, const State& state,
                          std::string_view transition_id = {});

// Every entry of `history`, ordered by (timestamp, id). Lines that do not parse are skipped.
std::vector<StateRow> parse_history(std::string_view history);

// The entry with id `state_id` (the run's current state), or nullopt.
std::optional<StateRow> find_history_entry(std::string_view history, std::string_view state_id);

}  // namespace baton::storage
