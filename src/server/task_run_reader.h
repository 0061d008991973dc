// Reads task-run snapshots from request text straight into TaskRunRecords: the bodies of
// POST /api/task_runs/batch ({"task_runs": [TaskRun, ...]}) and POST /api/task_runs/ (one TaskRun).
//
// The batch route is the server's hottest path (the SDK's background senders post thousands of
// states a second), so the text is read with nlohmann's SAX interface instead of building a JSON
// tree, validating it against the generic schema and converting it: each member is checked as the
// TaskRun schema in routes_runs.cpp declares it (which stays the documentation in
// /api/openapi.json) and moved into its field. Only free-form members (task_inputs, state.data,
// state.state_details, empirical_policy, unknown members) become small JSON values.
//
// Errors: Error(kMalformed) (HTTP 400) for text that is not JSON, with the parser's position;
// invalid_argument (HTTP 422) naming the first offending member as a dotted path in document
// order, e.g. "task_runs.17.state.type", and saying what was expected. Nothing is returned on
// error, so a caller cannot record part of a bad batch.
//
// Thread-safety: plain functions, no shared state.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

#include "model/records.h"

namespace baton::server {

// {"task_runs": [...]} with at most `max_items` items (more: 422 naming "task_runs").
std::vector<TaskRunRecord> read_task_run_batch(std::string_view body, size_t max_items);

// One TaskRun object.
TaskRunRecord read_task_run(std::string_view body);

}  // namespace baton::server
