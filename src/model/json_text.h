// Records as JSON text, written straight into a string without building a nlohmann tree.
//
// The hot paths that serialise thousands of records a second (the remote client's batch sender,
// the server's events and its answers to flow-run creates and transitions) use these; they produce
// the same JSON values as the to_json functions of records.h and state.h (member order aside),
// which the tests check. ASCII strings are written as given, escaping only quotes, backslashes and
// control characters; other text goes through nlohmann so that invalid UTF-8 is replaced (U+FFFD),
// never written as JSON that cannot be parsed back.
//
// Thread-safety: plain functions.
#pragma once

#include <string>
#include <string_view>

#include "baton/state.h"
#include "model/records.h"

namespace baton {

// `s` as a quoted JSON string.
void append_json_string(std::string& out, std::string_view s);
// to_json(State)'s value.
void append_json(std::string& out, const State& s);
// to_json(TaskRunRecord)'s value.
void append_json(std::string& out, const TaskRunRecord& r);
// to_json(FlowRunRecord)'s value (the server's answer to flow-run creation).
void append_json(std::string& out, const FlowRunRecord& r);

}  // namespace baton
