#pragma once

#include <filesystem>
#include <string>

#include "baton/state.h"
#include "model/records.h"
#include "storage/storage.h"

namespace baton::testing {
// A fresh, empty folder under $BATON_HOME for the current test.
std::filesystem::path fresh_folder();
// fresh_folder() / "baton.db".
std::string fresh_db();

// A flow run of `flow` (created if new) in `state`, inserted into `s`; returns the stored run.
FlowRunRecord insert_test_flow_run(storage::Storage& s, const std::string& flow,
                                   State state = State::pending());
}  // namespace baton::testing
