// `baton artifact ...` and `baton variable ...`, as Prefect's `artifact` and `variable` commands.
// Both go through the orchestration client, so they work the same against the embedded database
// and a server (BATON_API_URL).
#include <cmath>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "baton/error.h"
#include "cli/command_registry.h"
#include "cli/table.h"
#include "client/orchestration_client.h"
#include "model/ids.h"
#include "storage/artifact_store.h"

namespace baton::cli {

namespace {

using nlohmann::json;

std::string text_of(const json& record, const char* field) {
  auto it = record.find(field);
  return it != record.end() && it->is_string() ? it->get<std::string>() : std::string("-");
}

// A JSON value as a person reads it: strings without their quotes.
std::string value_text(const json& value) {
  return value.is_string() ? value.get<std::string>() : value.dump();
}

// The data of an artifact as its type reads best: markdown and links as text, progress as a
// percentage, tables as JSON.
std::string data_text(const json& artifact) {
  const json& data = artifact.at("data");
  if (artifact.value("type", "") == "progress" && data.is_number()) {
    double percent = data.get<double>();
    return (percent == std::floor(percent) ? std::to_string(static_cast<int>(percent))
                                           : json(percent).dump()) +
           "%";
  }
  if (data.is_string()) return data.get<std::string>();
  return data.dump(2);
}

void print_versions(const std::vector<json>& versions) {
  bool first = true;
  for (const auto& a : versions) {
    if (!first) std::cout << '\n';
    first = false;
    Table table({"FIELD", "VALUE"});
    table.add_row({"id", text_of(a, "id")});
    table.add_row({"key", text_of(a, "key")});
    table.add_row({"type", text_of(a, "type")});
    table.add_row({"description", text_of(a, "description")});
    table.add_row({"flow run", text_of(a, "flow_run_id")});
    table.add_row({"task run", text_of(a, "task_run_id")});
    table.add_row({"created (UTC)", text_of(a, "created")});
    table.add_row({"updated (UTC)", text_of(a, "updated")});
    table.print(std::cout);
    std::cout << data_text(a) << '\n';
  }
}

// --- artifact ------------------------------------------------------------------------------------

void install_artifact(CLI::App& root) {
  auto* group = root.add_subcommand("artifact", "Artifacts: reports, tables and links from runs");
  group->require_subcommand(1);
  struct Options {
    std::string key, id;
    bool all_versions = false, as_json = false;
    int limit = 100;
  };
  auto opts = std::make_shared<Options>();

  auto* ls = group->add_subcommand(
      "ls", "List artifacts: the newest version of each key, or every version with --all-versions");
  ls->add_option("--key", opts->key, "Only this key");
  ls->add_flag("--all-versions", opts->all_versions,
               "Every version, unkeyed artifacts included, not just each key's newest");
  ls->add_option("--limit", opts->limit, "At most this many")->check(CLI::Range(1, 100000));
  ls->add_flag("--json", opts->as_json, "Print JSON instead of a table");
  ls->callback([opts] {
    ArtifactFilter f;
    if (!opts->key.empty()) {
      storage::ArtifactStore::check_key(opts->key);
      f.keys = {opts->key};
    }
    f.latest_only = !opts->all_versions;
    f.limit = opts->limit;
    auto artifacts = make_client()->filter_artifacts(f);
    if (opts->as_json) {
      std::cout << json(artifacts).dump(2) << '\n';
      return;
    }
    Table table({"ID", "KEY", "TYPE", "UPDATED (UTC)", "FLOW RUN"});
    for (const auto& a : artifacts)
      table.add_row({text_of(a, "id"), text_of(a, "key"), text_of(a, "type"), text_of(a, "updated"),
                     text_of(a, "flow_run_id")});
    table.print(std::cout);
  });

  auto* inspect =
      group->add_subcommand("inspect", "Show every version of a keyed artifact, newest first");
  inspect->add_option("key", opts->key, "The artifact's key")->required();
  inspect->add_option("--limit", opts->limit, "At most this many versions")
      ->check(CLI::Range(1, 100000));
  inspect->add_flag("--json", opts->as_json, "Print JSON instead of text");
  inspect->callback([opts] {
    storage::ArtifactStore::check_key(opts->key);
    if (opts->key.empty()) throw invalid_argument("an artifact key must not be empty", "key");
    ArtifactFilter f;
    f.keys = {opts->key};
    f.limit = opts->limit;
    auto versions = make_client()->filter_artifacts(f);
    if (versions.empty()) throw not_found("no artifact with key '" + opts->key + "'");
    if (opts->as_json)
      std::cout << json(versions).dump(2) << '\n';
    else
      print_versions(versions);
  });

  auto* del = group->add_subcommand("delete",
                                    "Delete an artifact version by id, or every version of a key");
  del->add_option("id", opts->id, "An artifact id, or a key")->required();
  del->callback([opts] {
    auto client = make_client();
    if (is_uuid(opts->id)) {
      if (!client->delete_artifact(opts->id)) throw not_found("no artifact with id " + opts->id);
      std::cout << "Deleted artifact " << opts->id << "\n";
      return;
    }
    storage::ArtifactStore::check_key(opts->id);
    if (opts->id.empty())
      throw invalid_argument("give an artifact id or a key; this one is empty", "id");
    ArtifactFilter f;
    f.keys = {opts->id};
    f.limit = 100000;
    auto versions = client->filter_artifacts(f);
    if (versions.empty()) throw not_found("no artifact with key '" + opts->id + "'");
    for (const auto& a : versions) client->delete_artifact(a.at("id").get<std::string>());
    std::cout << "Deleted " << versions.size() << " version(s) of artifact '" << opts->id << "'\n";
  });
}

// --- variable ------------------------------------------------------------------------------------

void install_variable(CLI::App& root) {
  auto* group = root.add_subcommand("variable", "Variables: named JSON values runs can read");
  group->require_subcommand(1);
  struct Options {
    std::string name, value;
    std::vector<std::string> tags;
    bool overwrite = false, as_json = false;
  };
  auto opts = std::make_shared<Options>();
  auto name_arg = [&opts](CLI::App* cmd) {
    cmd->add_option("name", opts->name, "The variable's name")->required();
  };
  auto read = [opts] {
    auto variable = make_client()->read_variable(opts->name);
    if (!variable) throw not_found("no variable named '" + opts->name + "'");
    return *variable;
  };

  auto* ls = group->add_subcommand("ls", "List variables");
  ls->add_flag("--json", opts->as_json, "Print JSON instead of a table");
  ls->callback([opts] {
    auto variables = make_client()->list_variables();
    if (opts->as_json) {
      std::cout << json(variables).dump(2) << '\n';
      return;
    }
    Table table({"NAME", "VALUE", "TAGS", "UPDATED (UTC)"});
    for (const auto& v : variables) {
      std::string tags;
      for (const auto& t : v.value("tags", json::array()))
        tags += (tags.empty() ? "" : ",") + value_text(t);
      table.add_row({text_of(v, "name"), value_text(v.at("value")), tags.empty() ? "-" : tags,
                     text_of(v, "updated")});
    }
    table.print(std::cout);
  });

  auto* get = group->add_subcommand("get", "Print a variable's value");
  name_arg(get);
  get->callback([read] { std::cout << value_text(read().at("value")) << '\n'; });

  auto* inspect = group->add_subcommand("inspect", "Show a variable with its tags and times");
  name_arg(inspect);
  inspect->add_flag("--json", opts->as_json, "Print JSON instead of a table");
  inspect->callback([opts, read] {
    json v = read();
    if (opts->as_json) {
      std::cout << v.dump(2) << '\n';
      return;
    }
    Table table({"FIELD", "VALUE"});
    table.add_row({"id", text_of(v, "id")});
    table.add_row({"name", text_of(v, "name")});
    table.add_row({"value", v.at("value").dump()});
    table.add_row({"tags", v.value("tags", json::array()).dump()});
    table.add_row({"created (UTC)", text_of(v, "created")});
    table.add_row({"updated (UTC)", text_of(v, "updated")});
    table.print(std::cout);
  });

  auto* set = group->add_subcommand(
      "set", "Set a variable; VALUE is read as JSON when it parses, else as a string");
  name_arg(set);
  set->add_option("value", opts->value, "The value")->required();
  set->add_flag("--overwrite", opts->overwrite, "Replace the value of a variable that exists");
  set->add_option("--tag", opts->tags, "A tag (repeat for several)");
  set->callback([opts] {
    json value = json::parse(opts->value, nullptr, false);
    if (value.is_discarded()) value = opts->value;
    std::optional<std::vector<std::string>> tags;
    if (!opts->tags.empty()) tags = opts->tags;
    auto v = make_client()->set_variable(opts->name, value, tags, opts->overwrite);
    std::cout << "Set variable '" << opts->name << "' to " << v.at("value").dump() << "\n";
  });

  auto* unset = group->add_subcommand("unset", "Delete a variable");
  name_arg(unset);
  unset->callback([opts] {
    if (!make_client()->delete_variable(opts->name))
      throw not_found("no variable named '" + opts->name + "'");
    std::cout << "Deleted variable '" << opts->name << "'\n";
  });
}

}  // namespace

BATON_CLI_COMMANDS(30, install_artifact);
BATON_CLI_COMMANDS(31, install_variable);

}  // namespace baton::cli
