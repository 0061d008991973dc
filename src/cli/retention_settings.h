// Retention settings of `baton server start` and `baton server vacuum` (retention_commands.cpp):
// an option, else its environment variable, else the default.
//
//   --events-retention  BATON_SERVER_EVENTS_RETENTION   default 7d
//   --runs-retention    BATON_SERVER_RUNS_RETENTION     default off
//   --retention-interval BATON_SERVER_RETENTION_INTERVAL default 1h
//
// Errors: a value that is not a duration (or "off" where allowed) throws invalid_argument naming
// the option or the variable it came from, which the CLI turns into exit code 2.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

#include "services/retention_service.h"

namespace baton::cli {

// "0" or "off": keep forever (nullopt); otherwise a duration of baton::parse_duration.
std::optional<std::chrono::seconds> parse_retention(std::string_view text, std::string_view field);

// The retention service's options from `server start`'s options and the environment. Call after
// the command line is parsed, before the server starts, so that a bad value stops it.
services::RetentionService::Options server_retention_options();

}  // namespace baton::cli
