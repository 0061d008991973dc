// Retention on the command line: `baton server start --events-retention D --runs-retention D
// --retention-interval D`, and `baton server vacuum`, one pass over the local database on demand.
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "baton/error.h"
#include "cli/command_registry.h"
#include "cli/retention_settings.h"
#include "model/duration.h"
#include "storage/sqlite/connection.h"
#include "storage/storage.h"

namespace baton::cli {

namespace {
using nlohmann::json;
using services::RetentionPolicy;

// One setting: the option's text when given, else the variable's, else nullopt. `field` names
// where the value came from, for error messages.
struct Setting {
  std::string option;  // "--events-retention"
  const char* variable;
  std::string text;  // the option's value, empty when not given

  std::optional<std::pair<std::string, std::string>> value() const {
    if (!text.empty()) return std::pair{text, option};
    if (const char* v = std::getenv(variable); v && *v)
      return std::pair{std::string(v), std::string(variable)};
    return std::nullopt;
  }
};

Setting& events_setting() {
  static Setting s{"--events-retention", "BATON_SERVER_EVENTS_RETENTION", {}};
  return s;
}
Setting& runs_setting() {
  static Setting s{"--runs-retention", "BATON_SERVER_RUNS_RETENTION", {}};
  return s;
}
Setting& interval_setting() {
  static Setting s{"--retention-interval", "BATON_SERVER_RETENTION_INTERVAL", {}};
  return s;
}

std::optional<std::chrono::seconds> retention_from(const Setting& s,
                                                   std::optional<std::chrono::seconds> fallback) {
  auto v = s.value();
  return v ? parse_retention(v->first, v->second) : fallback;
}

RetentionPolicy policy_from_settings() {
  RetentionPolicy policy;
  policy.events = retention_from(events_setting(), RetentionPolicy::kDefaultEvents);
  policy.runs = retention_from(runs_setting(), std::nullopt);
  return policy;
}

struct VacuumOptions {
  std::string database;
  std::string events, runs;
  bool as_json = false;
};

// `baton server vacuum`: one retention pass over the database file, as the server's service
// would run it now. Safe beside a running server (SQLite's locks; each step is short).
void vacuum(const VacuumOptions& o) {
  RetentionPolicy policy = policy_from_settings();
  if (!o.events.empty()) policy.events = parse_retention(o.events, "--events-older-than");
  if (!o.runs.empty()) policy.runs = parse_retention(o.runs, "--runs-older-than");
  std::string path = o.database.empty() ? storage::default_database_path() : o.database;
  if (!std::filesystem::exists(path)) throw not_found("no database at " + path);
  auto storage = storage::open_sqlite_storage(path, sqlite::kTransactionalPageSize);
  // Between steps, as long as the step took: a server on the same file gets its turns.
  auto pass = services::apply_retention(*storage, policy, now(), {},
                                        [](std::chrono::steady_clock::duration d, std::stop_token) {
                                          std::this_thread::sleep_for(d);
                                        });
  if (o.as_json) {
    auto text = [](const std::optional<std::chrono::seconds>& d) {
      return d ? json(format_duration(*d)) : json(nullptr);
    };
    std::cout << json{{"events", pass.events},
                      {"flow_runs", pass.flow_runs},
                      {"run_rows", pass.run_rows},
                      {"took_ms", pass.took.count()},
                      {"events_retention", text(policy.events)},
                      {"runs_retention", text(policy.runs)}}
                     .dump()
              << '\n';
  } else {
    std::string line = services::describe(pass, policy);
    line[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(line[0])));
    std::cout << line << '\n';
  }
  if (pass.error) std::rethrow_exception(pass.error);
}
}  // namespace

std::optional<std::chrono::seconds> parse_retention(std::string_view text, std::string_view field) {
  if (text == "off") return std::nullopt;
  try {
    auto d = parse_duration(text, field);
    if (d.count() == 0) return std::nullopt;
    return d;
  } catch (const Error& e) {
    throw invalid_argument(std::string(e.what()) + "; 0 or off keeps them forever", e.field());
  }
}

services::RetentionService::Options server_retention_options() {
  services::RetentionService::Options options;
  options.policy = policy_from_settings();
  if (auto v = interval_setting().value()) {
    auto d = parse_duration(v->first, v->second);
    if (d.count() == 0)
      throw invalid_argument(v->second + " must be at least 1s; got '" + v->first + "'", v->second);
    options.interval = d;
  }
  return options;
}

// After server_commands.cpp (60, 61) has installed `server start`.
BATON_CLI_COMMANDS(62, [](CLI::App& root) {
  auto* server = root.get_subcommand("server");
  auto* start = server->get_subcommand("start");
  start->add_option("--events-retention", events_setting().text,
                    "Delete events older than this: 7d, 12h, 30m, 3600s or seconds; 0 or off "
                    "keeps them forever (default 7d, or BATON_SERVER_EVENTS_RETENTION)");
  start->add_option("--runs-retention", runs_setting().text,
                    "Delete flow runs that ended in a final state longer ago than this, with "
                    "their task runs, states, logs and artifacts (default off, or "
                    "BATON_SERVER_RUNS_RETENTION)");
  start->add_option("--retention-interval", interval_setting().text,
                    "Time between two retention passes, the first shortly after start (default "
                    "1h, or BATON_SERVER_RETENTION_INTERVAL)");

  auto* vac = server->add_subcommand(
      "vacuum", "Delete old events (and, when asked, old flow runs) from the local database now");
  static VacuumOptions o;
  vac->add_option("--database", o.database, "SQLite file (default $BATON_HOME/baton.db)");
  vac->add_option("--events-older-than", o.events,
                  "Delete events older than this; 0 or off: none (default: the server's "
                  "setting, BATON_SERVER_EVENTS_RETENTION, else 7d)");
  vac->add_option("--runs-older-than", o.runs,
                  "Delete final flow runs that ended longer ago than this; 0 or off: none "
                  "(default: BATON_SERVER_RUNS_RETENTION, else off)");
  vac->add_flag("--json", o.as_json, "Print what was deleted as one JSON object");
  vac->callback([] { vacuum(o); });
});

}  // namespace baton::cli
