// `baton concurrency-limit ...` (task-run tag limits) and `baton global-concurrency-limit ...`
// (named global and rate limits), as Prefect's `concurrency-limit` and `gcl` commands. Both go
// through the orchestration client, so they work the same against the embedded database and a
// server (BATON_API_URL). A tag limit is the global limit named "tag:<tag>".
#include <fmt/format.h>

#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "baton/error.h"
#include "cli/command_registry.h"
#include "cli/table.h"
#include "client/orchestration_client.h"
#include "storage/concurrency_limits.h"

namespace baton::cli {

namespace {

using nlohmann::json;

std::string tag_limit_name(const std::string& tag) {
  if (tag.empty()) throw invalid_argument("a tag must not be empty", "tag");
  return storage::kTagLimitPrefix + tag;
}

std::string slots_text(const json& limit) {
  return std::to_string(limit.value("active_slots", 0)) + "/" +
         std::to_string(limit.value("limit", 0));
}

std::string decay_text(const json& limit) {
  double decay = limit.value("slot_decay_per_second", 0.0);
  return decay > 0 ? fmt::format("{:g}", decay) : "-";
}

void print_limit(const json& limit, bool as_json) {
  if (as_json) {
    std::cout << limit.dump(2) << '\n';
    return;
  }
  Table table({"FIELD", "VALUE"});
  table.add_row({"id", limit.value("id", "")});
  table.add_row({"name", limit.value("name", "")});
  table.add_row({"slots in use", slots_text(limit)});
  table.add_row({"active", limit.value("active", true) ? "yes" : "no (admits everything)"});
  table.add_row({"slot decay per second", decay_text(limit)});
  table.add_row({"denied slots", std::to_string(limit.value("denied_slots", 0))});
  table.add_row({"created (UTC)", limit.value("created", "")});
  table.add_row({"updated (UTC)", limit.value("updated", "")});
  table.print(std::cout);
}

json read_or_throw(OrchestrationClient& client, const std::string& name, const std::string& what) {
  auto limit = client.read_concurrency_limit(name);
  if (!limit) throw not_found("no " + what);
  return *limit;
}

// --- concurrency-limit (tags) ------------------------------------------------------------------

void install_tag_limits(CLI::App& root) {
  auto* group = root.add_subcommand(
      "concurrency-limit", "Tag concurrency limits: how many task runs with a tag may run at once");
  group->require_subcommand(1);
  struct Options {
    std::string tag;
    int limit = 0;
    bool as_json = false;
  };
  auto opts = std::make_shared<Options>();
  auto tag_arg = [&opts](CLI::App* cmd) {
    cmd->add_option("tag", opts->tag, "The tag")->required();
  };
  auto what = [opts] { return "tag concurrency limit for '" + opts->tag + "'"; };

  auto* create = group->add_subcommand(
      "create", "Set the limit of a tag (creates it, or changes an existing one)");
  tag_arg(create);
  create->add_option("limit", opts->limit, "Task runs with the tag that may run at once")
      ->required()
      ->check(CLI::Range(0, 1000000));
  create->callback([opts] {
    auto limit = make_client()->set_concurrency_limit(tag_limit_name(opts->tag), opts->limit);
    std::cout << "Tag '" << opts->tag << "' may now run " << opts->limit << " task run(s) at once ("
              << slots_text(limit) << " slots in use)\n";
  });

  auto* ls = group->add_subcommand("ls", "List tag limits");
  ls->add_flag("--json", opts->as_json, "Print JSON instead of a table");
  ls->callback([opts] {
    auto limits = make_client()->list_concurrency_limits(storage::kTagLimitPrefix);
    const size_t prefix = std::string(storage::kTagLimitPrefix).size();
    if (opts->as_json) {
      json out = json::array();
      for (auto& l : limits) {
        l["tag"] = l.value("name", "").substr(prefix);
        out.push_back(l);
      }
      std::cout << out.dump(2) << '\n';
      return;
    }
    Table table({"TAG", "SLOTS IN USE", "ACTIVE", "ID"});
    for (const auto& l : limits)
      table.add_row({l.value("name", "").substr(prefix), slots_text(l),
                     l.value("active", true) ? "yes" : "no", l.value("id", "")});
    table.print(std::cout);
  });

  auto* inspect = group->add_subcommand("inspect", "Show a tag limit with the slots in use");
  tag_arg(inspect);
  inspect->add_flag("--json", opts->as_json, "Print JSON instead of a table");
  inspect->callback([opts, what] {
    auto client = make_client();
    print_limit(read_or_throw(*client, tag_limit_name(opts->tag), what()), opts->as_json);
  });

  auto* reset = group->add_subcommand(
      "reset", "Free every slot of a tag limit (task runs that hold one keep running)");
  tag_arg(reset);
  reset->callback([opts, what] {
    auto client = make_client();
    read_or_throw(*client, tag_limit_name(opts->tag), what());
    auto limit = client->reset_concurrency_limit(tag_limit_name(opts->tag));
    std::cout << "Reset the limit of tag '" << opts->tag << "': " << slots_text(limit)
              << " slots in use\n";
  });

  auto* del = group->add_subcommand("delete", "Remove a tag limit (its tag no longer waits)");
  tag_arg(del);
  del->callback([opts, what] {
    if (!make_client()->delete_concurrency_limit(tag_limit_name(opts->tag)))
      throw not_found("no " + what());
    std::cout << "Deleted the limit of tag '" << opts->tag << "'\n";
  });
}

// --- global-concurrency-limit --------------------------------------------------------------------

void install_global_limits(CLI::App& root) {
  auto* group = root.add_subcommand(
      "global-concurrency-limit",
      "Global concurrency limits (slots held while work runs) and rate limits (slots that decay)");
  group->alias("gcl");
  group->require_subcommand(1);
  struct Options {
    std::string name;
    std::optional<int> limit;
    std::optional<double> decay;
    bool enable = false, disable = false, as_json = false;
  };
  auto opts = std::make_shared<Options>();
  auto name_arg = [&opts](CLI::App* cmd) {
    cmd->add_option("name", opts->name, "The limit's name (or id)")->required();
  };
  auto what = [opts] { return "concurrency limit '" + opts->name + "'"; };
  auto size_options = [&opts](CLI::App* cmd) {
    cmd->add_option("--limit", opts->limit, "Slots that may be held at once")
        ->check(CLI::Range(0, 1000000));
    cmd->add_option("--slot-decay-per-second", opts->decay,
                    "Slots freed per second: makes it a rate limit")
        ->check(CLI::NonNegativeNumber);
  };

  auto* create = group->add_subcommand("create", "Create a limit");
  name_arg(create);
  size_options(create);
  create->get_option("--limit")->required();
  create->add_flag("--disable", opts->disable, "Create it inactive (admitting everything)");
  create->callback([opts] {
    if (opts->name.empty()) throw invalid_argument("a limit name must not be empty", "name");
    auto limit = make_client()->create_concurrency_limit(opts->name, *opts->limit, !opts->disable,
                                                         opts->decay.value_or(0));
    std::cout << "Created concurrency limit '" << opts->name << "' (" << slots_text(limit)
              << " slots in use), id " << limit.value("id", "") << "\n";
  });

  auto* ls = group->add_subcommand("ls", "List limits, tag limits included");
  ls->add_flag("--json", opts->as_json, "Print JSON instead of a table");
  ls->callback([opts] {
    auto limits = make_client()->list_concurrency_limits("");
    if (opts->as_json) {
      std::cout << json(limits).dump(2) << '\n';
      return;
    }
    Table table({"NAME", "SLOTS IN USE", "DECAY/S", "ACTIVE", "ID"});
    for (const auto& l : limits)
      table.add_row({l.value("name", ""), slots_text(l), decay_text(l),
                     l.value("active", true) ? "yes" : "no", l.value("id", "")});
    table.print(std::cout);
  });

  auto* inspect = group->add_subcommand("inspect", "Show a limit with the slots in use");
  name_arg(inspect);
  inspect->add_flag("--json", opts->as_json, "Print JSON instead of a table");
  inspect->callback([opts, what] {
    auto client = make_client();
    print_limit(read_or_throw(*client, opts->name, what()), opts->as_json);
  });

  auto* update = group->add_subcommand("update", "Change a limit's size, decay or activity");
  name_arg(update);
  size_options(update);
  auto* enable = update->add_flag("--enable", opts->enable, "Make it active");
  update->add_flag("--disable", opts->disable, "Make it inactive (admitting everything)")
      ->excludes(enable);
  update->callback([opts, what] {
    json changes = json::object();
    if (opts->limit) changes["limit"] = *opts->limit;
    if (opts->decay) changes["slot_decay_per_second"] = *opts->decay;
    if (opts->enable || opts->disable) changes["active"] = opts->enable;
    if (changes.empty())
      throw invalid_argument(
          "nothing to change; give --limit, --slot-decay-per-second, --enable or --disable",
          "update");
    auto client = make_client();
    read_or_throw(*client, opts->name, what());
    auto limit = client->update_concurrency_limit(opts->name, changes);
    std::cout << "Updated concurrency limit '" << limit.value("name", "") << "' ("
              << slots_text(limit) << " slots in use)\n";
  });

  for (bool active : {true, false}) {
    auto* cmd = group->add_subcommand(
        active ? "enable" : "disable",
        active ? "Make a limit active" : "Make a limit inactive (admitting everything)");
    name_arg(cmd);
    cmd->callback([opts, what, active] {
      auto client = make_client();
      read_or_throw(*client, opts->name, what());
      client->update_concurrency_limit(opts->name, {{"active", active}});
      std::cout << (active ? "Enabled" : "Disabled") << " concurrency limit '" << opts->name
                << "'\n";
    });
  }

  auto* reset = group->add_subcommand("reset", "Free every slot of a limit");
  name_arg(reset);
  reset->callback([opts, what] {
    auto client = make_client();
    read_or_throw(*client, opts->name, what());
    auto limit = client->reset_concurrency_limit(opts->name);
    std::cout << "Reset concurrency limit '" << opts->name << "': " << slots_text(limit)
              << " slots in use\n";
  });

  auto* del = group->add_subcommand("delete", "Delete a limit and the leases on it");
  name_arg(del);
  del->callback([opts, what] {
    if (!make_client()->delete_concurrency_limit(opts->name)) throw not_found("no " + what());
    std::cout << "Deleted concurrency limit '" << opts->name << "'\n";
  });
}

}  // namespace

BATON_CLI_COMMANDS(20, install_tag_limits);
BATON_CLI_COMMANDS(21, install_global_limits);

}  // namespace baton::cli
