// `baton flow ...`, `baton flow-run ...` and `baton task-run ...`: read and manage recorded runs
// through the orchestration client, so they work the same against the embedded database and a
// server (BATON_API_URL). Human tables by default, --json for machines.
#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "baton/error.h"
#include "cli/command_registry.h"
#include "cli/server_connection.h"
#include "cli/table.h"
#include "client/orchestration_client.h"
#include "model/ids.h"
#include "model/log_level.h"

namespace baton::cli {

namespace {

using nlohmann::json;

// Every state name Baton or Prefect gives, so `--state cached` can be told from a typo.
constexpr std::string_view kStateNames[] = {
    "Scheduled",  "Late",      "AwaitingRetry", "AwaitingConcurrencySlot",
    "Resuming",   "Pending",   "Submitting",    "InfrastructurePending",
    "Running",    "Retrying",  "Paused",        "Suspended",
    "Cancelling", "Cancelled", "Completed",     "Cached",
    "RolledBack", "Failed",    "TimedOut",      "Crashed"};

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// Splits --state values into state types (COMPLETED, failed, ...) and state names (Cached, Late,
// ...), case-insensitively. Anything else is an error listing what is accepted.
void parse_state_filters(const std::vector<std::string>& values, std::vector<StateType>& types,
                         std::vector<std::string>& names) {
  for (const auto& value : values) {
    if (auto type = state_type_from_string(upper(value))) {
      types.push_back(*type);
      continue;
    }
    auto it = std::find_if(std::begin(kStateNames), std::end(kStateNames),
                           [&](std::string_view name) { return lower(name) == lower(value); });
    if (it == std::end(kStateNames))
      throw invalid_argument(
          "unknown state '" + value +
              "'; expected a state type (SCHEDULED, PENDING, RUNNING, COMPLETED, "
              "FAILED, CANCELLED, CRASHED, PAUSED, CANCELLING) or a state name "
              "(Late, AwaitingRetry, Retrying, Cached, TimedOut, ...)",
          "--state");
    names.emplace_back(*it);
  }
}

void require_id(const std::string& id, std::string_view what) {
  if (!is_uuid(id))
    throw invalid_argument("'" + id + "' is not a " + std::string(what) +
                               " id; expected a UUID such as 0190a6e2-7c3f-7b41-8d2e-5f3a9c1b2d4e",
                           std::string(what) + " id");
}

std::string when(const std::optional<TimePoint>& t) {
  if (!t) return "-";
  std::string s = format_time(std::chrono::floor<std::chrono::seconds>(*t));
  s[10] = ' ';
  s.pop_back();  // drop the Z: the column header says UTC
  return s;
}

std::string duration(double seconds) {
  char buf[32];
  if (seconds < 1)
    std::snprintf(buf, sizeof buf, "%.0fms", seconds * 1000);
  else if (seconds < 120)
    std::snprintf(buf, sizeof buf, "%.1fs", seconds);
  else {
    auto whole = static_cast<long long>(seconds);
    std::snprintf(buf, sizeof buf, "%lldm%02llds", whole / 60, whole % 60);
  }
  return buf;
}

std::string state_label(const State& s) {
  return s.name.empty() ? std::string(default_name(s.type)) : s.name;
}

FlowRunRecord read_flow_run_or_throw(OrchestrationClient& client, const std::string& id) {
  require_id(id, "flow run");
  auto run = client.read_flow_run(id);
  if (!run) throw not_found("no flow run with id " + id);
  return *run;
}

TaskRunRecord read_task_run_or_throw(OrchestrationClient& client, const std::string& id) {
  require_id(id, "task run");
  auto run = client.read_task_run(id);
  if (!run) throw not_found("no task run with id " + id);
  return *run;
}

void print_json(const json& j) { std::cout << j.dump(2) << '\n'; }

struct ListOptions {
  int limit = 20;
  bool as_json = false;
};

void add_limit_and_json(CLI::App* cmd, ListOptions& opts, int default_limit) {
  opts.limit = default_limit;
  cmd->add_option("--limit", opts.limit, "Most rows to show")
      ->check(CLI::Range(1, 10000))
      ->default_val(default_limit);
  cmd->add_flag("--json", opts.as_json, "Print JSON instead of a table");
}

// "Flow run id" for "flow run": the help text of a command's id argument.
std::string id_help(const std::string& what) {
  std::string help = what + " id";
  help[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(help[0])));
  return help;
}

// `<group> inspect ID [--json]`: one run read by `read` (which throws for an unknown or malformed
// id) with its state history. Human output: the id and name, the lines `describe` prints, the
// state, times and run count, the tags, then the history as a table. --json: the run as the API
// gives it plus "state_history". Shared by flow-run and task-run.
template <typename Run>
void install_inspect(CLI::App* group, const std::string& what,
                     Run (*read)(OrchestrationClient&, const std::string&),
                     void (*describe)(const Run&)) {
  auto id = std::make_shared<std::string>();
  auto as_json = std::make_shared<bool>(false);
  auto* inspect = group->add_subcommand("inspect", "Show one " + what + " with its state history");
  inspect->add_option("id", *id, id_help(what))->required();
  inspect->add_flag("--json", *as_json, "Print JSON");
  inspect->callback([id, as_json, read, describe] {
    auto client = make_client();
    Run run = read(*client, *id);
    auto history = client->read_states(run.id);
    if (*as_json) {
      json j = run;
      j["state_history"] = history;
      return print_json(j);
    }
    std::cout << "id:               " << run.id << '\n' << "name:             " << run.name << '\n';
    describe(run);
    std::cout << "state:            " << state_label(run.state)
              << (run.state.message.empty() ? "" : ": " + run.state.message) << '\n'
              << "run count:        " << run.run_count << '\n'
              << "start (UTC):      " << when(run.start_time) << '\n'
              << "end (UTC):        " << when(run.end_time) << '\n'
              << "run time:         " << duration(run.total_run_time_s) << '\n';
    if (!run.tags.empty()) {
      std::cout << "tags:            ";
      for (const auto& t : run.tags) std::cout << ' ' << t;
      std::cout << '\n';
    }
    std::cout << "\nstate history:\n";
    Table table({"TIME (UTC)", "TYPE", "NAME", "MESSAGE"});
    for (const auto& s : history)
      table.add_row(
          {format_time(s.timestamp), std::string(to_string(s.type)), state_label(s), s.message});
    table.print(std::cout);
  });
}

// --level: a level name (any case) or a number of 0 or more.
int parse_log_level(const std::string& text) {
  if (auto named = log_level_from_name(text)) return *named;
  int level = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), level);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || level < 0)
    throw invalid_argument("'" + text +
                               "' is not a log level; expected DEBUG, INFO, WARNING, ERROR, "
                               "CRITICAL or a number such as 25",
                           "--level");
  return level;
}

// `<group> logs ID [--level L] [--reverse] [--limit N] [--json]`: the log lines `filter_for`
// selects (it also checks that the run exists) at `--level` or above, oldest first or, with
// --reverse, newest first (the newest N with --limit). Shared by flow-run and task-run.
void install_logs(CLI::App* group, const std::string& what,
                  std::function<LogFilter(OrchestrationClient&, const std::string&)> filter_for) {
  struct Options : ListOptions {
    std::string id, level;
    bool reverse = false;
  };
  auto opts = std::make_shared<Options>();
  auto* logs = group->add_subcommand("logs", "Print a " + what + "'s log lines, oldest first");
  logs->add_option("id", opts->id, id_help(what))->required();
  auto* level =
      logs->add_option("--level", opts->level,
                       "Lowest level shown: DEBUG, INFO, WARNING, ERROR, CRITICAL or a number");
  logs->add_flag("--reverse", opts->reverse, "Newest lines first");
  add_limit_and_json(logs, *opts, 1000);
  logs->callback([opts, level, filter_for] {
    std::optional<int> min_level;
    if (level->count() > 0) min_level = parse_log_level(opts->level);
    auto client = make_client();
    LogFilter filter = filter_for(*client, opts->id);
    filter.min_level = min_level;
    filter.sort = opts->reverse ? "TIMESTAMP_DESC" : "TIMESTAMP_ASC";
    filter.limit = opts->limit;
    auto lines = client->read_logs(filter);
    if (opts->as_json) return print_json(lines);
    for (const auto& line : lines)
      std::cout << format_time(line.timestamp) << " | " << log_level_name(line.level) << " | "
                << line.name << " - " << line.message << '\n';
  });
}

// How often `flow-run watch` reads the embedded database, and how often it re-reads a server's
// run when no event came (a stream that dropped an event must not leave it waiting for ever),
// unless --poll-interval says.
constexpr double kWatchPollS = 0.2;
constexpr double kWatchRecheckS = 2;

// `flow-run watch`: prints each state the run enters until it is final; exits 0 when it ended
// Completed, 1 otherwise (ExitStatus), 1 with a message when `timeout_s` (> 0) passes first.
// Every wake-up re-reads the run and its state history and prints the states not yet printed, so
// each state is printed once and in order however the wake-ups come. Against a server the run's
// events wake it; the subscription is made before the first read, so a transition between that
// read and the subscription still wakes it. The embedded database is polled.
void watch_flow_run(const std::string& id, double timeout_s, double poll_s, bool as_json) {
  require_id(id, "flow run");
  using Steady = std::chrono::steady_clock;
  std::optional<Steady::time_point> deadline;
  if (timeout_s > 0)
    deadline = Steady::now() + std::chrono::duration_cast<Steady::duration>(
                                   std::chrono::duration<double>(timeout_s));
  auto client = make_client();
  std::optional<EventSubscription> events;
  if (server_configured()) events.emplace(json{{"resource", {{"id", {"baton.flow-run." + id}}}}});
  std::optional<size_t> shown;  // how much of the history is printed; none before the first read
  for (;;) {
    FlowRunRecord run = read_flow_run_or_throw(*client, id);
    auto history = client->read_states(run.id);  // read after the run: it holds run.state
    if (history.empty()) history.push_back(run.state);
    if (!shown) shown = history.size() - 1;  // from the current state on
    for (; *shown < history.size(); ++*shown) {
      const State& s = history[*shown];
      if (as_json)
        std::cout << json(s).dump() << std::endl;
      else
        std::cout << format_time(s.timestamp) << "  " << state_label(s)
                  << (s.message.empty() ? "" : "  " + s.message) << std::endl;
    }
    if (run.state.is_terminal()) {
      if (run.state.type == StateType::kCompleted) return;
      throw ExitStatus{1};
    }
    auto wait = std::chrono::duration_cast<Steady::duration>(
        std::chrono::duration<double>(poll_s > 0 ? poll_s
                                      : events   ? kWatchRecheckS
                                                 : kWatchPollS));
    if (deadline) {
      auto left = *deadline - Steady::now();
      if (left <= Steady::duration::zero()) {
        std::cerr << "error: flow run " << id << " is still " << state_label(run.state) << " after "
                  << timeout_s << " s (--timeout)" << std::endl;
        throw ExitStatus{1};
      }
      wait = std::min(wait, left);
    }
    if (events)
      events->next(std::chrono::ceil<std::chrono::milliseconds>(wait));
    else
      std::this_thread::sleep_for(wait);
  }
}

// --- flow ------------------------------------------------------------------------------------

void install_flow(CLI::App& root) {
  auto* flow = root.add_subcommand("flow", "Flows: the named functions whose runs Baton tracks");
  flow->require_subcommand(1);

  auto opts = std::make_shared<ListOptions>();
  auto* ls = flow->add_subcommand("ls", "List flows");
  add_limit_and_json(ls, *opts, 50);
  ls->callback([opts] {
    auto client = make_client();
    auto flows = client->list_flows(opts->limit, 0);
    if (opts->as_json) return print_json(flows);
    Table table({"ID", "NAME", "TAGS", "CREATED (UTC)"});
    for (const auto& f : flows) {
      std::string tags;
      for (const auto& t : f.tags) tags += (tags.empty() ? "" : ",") + t;
      table.add_row({f.id, f.name, tags.empty() ? "-" : tags, when(f.created)});
    }
    table.print(std::cout);
  });
}

// --- flow-run --------------------------------------------------------------------------------

void install_flow_run(CLI::App& root) {
  auto* fr = root.add_subcommand("flow-run", "Flow runs: one execution of a flow each");
  fr->require_subcommand(1);

  {
    struct Options : ListOptions {
      std::vector<std::string> flow_names, states;
    };
    auto opts = std::make_shared<Options>();
    auto* ls = fr->add_subcommand("ls", "List flow runs, newest first");
    ls->add_option("--flow-name", opts->flow_names, "Only runs of this flow (repeatable)");
    ls->add_option("--state", opts->states,
                   "Only runs in this state type or name, e.g. FAILED or Cached (repeatable)");
    add_limit_and_json(ls, *opts, 20);
    ls->callback([opts] {
      FlowRunFilter filter;
      filter.flow_names = opts->flow_names;
      parse_state_filters(opts->states, filter.state_types, filter.state_names);
      filter.limit = opts->limit;
      auto client = make_client();
      auto runs = client->filter_flow_runs(filter);
      if (opts->as_json) return print_json(runs);
      Table table({"ID", "FLOW", "NAME", "STATE", "START (UTC)", "DURATION"});
      for (const auto& r : runs)
        table.add_row({r.id, r.flow_name, r.name, state_label(r.state),
                       when(r.start_time ? r.start_time : r.expected_start_time),
                       r.start_time ? duration(r.total_run_time_s) : "-"});
      table.print(std::cout);
    });
  }

  install_inspect<FlowRunRecord>(fr, "flow run", read_flow_run_or_throw, [](const auto& run) {
    std::cout << "flow:             " << run.flow_name << " (" << run.flow_id << ")\n"
              << "parameters:       " << run.parameters.dump() << '\n';
    if (!run.parent_task_run_id.empty())
      std::cout << "parent task run:  " << run.parent_task_run_id << '\n';
  });

  install_logs(fr, "flow run", [](OrchestrationClient& client, const std::string& id) {
    LogFilter filter;
    filter.flow_run_ids = {read_flow_run_or_throw(client, id).id};
    return filter;
  });

  {
    struct Options {
      std::string id;
      double timeout_s = 0, poll_s = 0;
      bool as_json = false;
    };
    auto opts = std::make_shared<Options>();
    auto* watch = fr->add_subcommand(
        "watch", "Print each state a flow run enters until it is final; exit 0 if it Completed");
    watch->add_option("id", opts->id, "Flow run id")->required();
    watch->add_option("--timeout", opts->timeout_s, "Give up (exit 1) after this many seconds")
        ->check(CLI::PositiveNumber);
    watch
        ->add_option("--poll-interval", opts->poll_s,
                     "Seconds between reads of the run: of the database (default 0.2), or of a "
                     "server when no event came (default 2)")
        ->check(CLI::PositiveNumber);
    watch->add_flag("--json", opts->as_json, "Print each state as one JSON line");
    watch->callback(
        [opts] { watch_flow_run(opts->id, opts->timeout_s, opts->poll_s, opts->as_json); });
  }

  {
    auto id = std::make_shared<std::string>();
    auto* del = fr->add_subcommand("delete", "Delete a flow run with its task runs and logs");
    del->add_option("id", *id, "Flow run id")->required();
    del->callback([id] {
      require_id(*id, "flow run");
      auto client = make_client();
      if (!client->delete_flow_run(*id)) throw not_found("no flow run with id " + *id);
      std::cout << "Deleted flow run " << *id << '\n';
    });
  }
}

// --- task-run --------------------------------------------------------------------------------

void install_task_run(CLI::App& root) {
  auto* tr = root.add_subcommand("task-run", "Task runs: one execution of a task each");
  tr->require_subcommand(1);

  struct Options : ListOptions {
    std::string flow_run_id;
    std::vector<std::string> states;
  };
  auto opts = std::make_shared<Options>();
  auto* ls = tr->add_subcommand("ls", "List task runs, newest first");
  ls->add_option("--flow-run", opts->flow_run_id, "Only task runs of this flow run");
  ls->add_option("--state", opts->states, "Only task runs in this state type or name (repeatable)");
  add_limit_and_json(ls, *opts, 50);
  ls->callback([opts] {
    auto client = make_client();
    TaskRunFilter filter;
    if (!opts->flow_run_id.empty())
      filter.flow_run_id = read_flow_run_or_throw(*client, opts->flow_run_id).id;
    parse_state_filters(opts->states, filter.state_types, filter.state_names);
    filter.limit = opts->limit;
    auto runs = client->filter_task_runs(filter);
    if (opts->as_json) return print_json(runs);
    Table table({"ID", "NAME", "STATE", "RUNS", "START (UTC)", "DURATION"});
    for (const auto& r : runs)
      table.add_row({r.id, r.name, state_label(r.state), std::to_string(r.run_count),
                     when(r.start_time), r.start_time ? duration(r.total_run_time_s) : "-"});
    table.print(std::cout);
  });

  install_inspect<TaskRunRecord>(tr, "task run", read_task_run_or_throw, [](const auto& run) {
    std::cout << "task key:         " << run.task_key << '\n'
              << "flow run:         " << run.flow_run_id << '\n';
    if (!run.cache_key.empty()) {
      std::cout << "cache key:        " << run.cache_key;
      if (run.cache_expiration) std::cout << " (expires " << when(run.cache_expiration) << ")";
      std::cout << '\n';
    }
  });

  install_logs(tr, "task run", [](OrchestrationClient& client, const std::string& id) {
    LogFilter filter;
    filter.task_run_ids = {read_task_run_or_throw(client, id).id};
    return filter;
  });
}

// `baton cache inspect KEY` and `baton cache clear (KEY | --task TASK_KEY)`: what a cached call
// would get now, and a way to make the next calls run their bodies again (Prefect has none:
// PrefectHQ/prefect#10494). Task keys and cache keys are what `baton task-run inspect` shows.
void install_cache(CLI::App& root) {
  auto* cache = root.add_subcommand("cache", "Task-run cache entries: inspect and clear them");
  cache->require_subcommand(1);
  struct Options {
    std::string key, task_key;
    bool as_json = false;
  };
  auto opts = std::make_shared<Options>();

  auto* inspect = cache->add_subcommand(
      "inspect", "Show the entry a call with this cache key would be answered from now");
  inspect->add_option("key", opts->key, "The cache key (see `baton task-run inspect`)")
      ->required();
  inspect->add_flag("--json", opts->as_json, "Print the entry's state as JSON");
  inspect->callback([opts] {
    auto state = make_client()->find_cached_state(opts->key, now());
    if (!state)
      throw not_found("no unexpired cache entry under key '" + opts->key + "'");
    if (opts->as_json) return print_json(*state);
    std::cout << "cache key:        " << opts->key << '\n'
              << "state:            " << state_label(*state) << '\n'
              << "stored (UTC):     " << when(state->timestamp) << '\n'
              << "expires (UTC):    " << (state->cache_expiration ? when(state->cache_expiration)
                                                                   : std::string("never"))
              << '\n'
              << "result:           " << (state->result.is_null() ? "-" : state->result.dump())
              << '\n';
  });

  auto* clear = cache->add_subcommand(
      "clear", "End the entries under a cache key, or every entry of a task (--task): the next "
               "calls run their bodies and cache anew; runs and results stay");
  clear->add_option("key", opts->key, "The cache key (see `baton task-run inspect`)");
  clear->add_option("--task", opts->task_key,
                    "Every entry of the task with this task key instead (see `baton task-run "
                    "inspect`)");
  clear->add_flag("--json", opts->as_json, "Print {\"cleared\": N}, N the cache keys ended");
  clear->callback([opts] {
    CacheSelector which{opts->key, opts->task_key};
    check_cache_selector(which);
    int64_t cleared = make_client()->expire_cache(which, now());
    if (opts->as_json) {
      std::cout << nlohmann::json{{"cleared", cleared}}.dump() << '\n';
      return;
    }
    std::cout << "cleared " << cleared << (cleared == 1 ? " cache key" : " cache keys")
              << (opts->key.empty() ? " of task '" + opts->task_key + "'"
                                    : " under key '" + opts->key + "'")
              << '\n';
  });
}

}  // namespace

BATON_CLI_COMMANDS(10, install_flow);
BATON_CLI_COMMANDS(11, install_flow_run);
BATON_CLI_COMMANDS(12, install_task_run);
BATON_CLI_COMMANDS(13, install_cache);

}  // namespace baton::cli
