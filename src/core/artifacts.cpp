// The SDK's artifacts and variables (include/baton/artifacts.h, include/baton/variables.h): thin
// calls on the process's orchestration client, with the run context's ids attached.
#include "baton/artifacts.h"

#include "baton/engine.h"
#include "baton/error.h"
#include "baton/variables.h"
#include "core/runtime.h"

namespace baton {

namespace {
using nlohmann::json;

std::string create(const std::string& type, json data, const std::string& key,
                   const std::string& description) {
  json artifact{{"type", type}, {"data", std::move(data)}};
  if (!key.empty()) artifact["key"] = key;
  if (!description.empty()) artifact["description"] = description;
  if (auto flow_run_id = engine::current_flow_run_id(); !flow_run_id.empty())
    artifact["flow_run_id"] = flow_run_id;
  if (auto task_run_id = engine::current_task_run_id(); !task_run_id.empty())
    artifact["task_run_id"] = task_run_id;
  return core::Runtime::get().client().create_artifact(artifact).at("id").get<std::string>();
}
}  // namespace

std::string create_markdown_artifact(const std::string& markdown, const std::string& key,
                                     const std::string& description) {
  return create("markdown", markdown, key, description);
}

std::string create_table_artifact(const json& table, const std::string& key,
                                  const std::string& description) {
  return create("table", table, key, description);
}

std::string create_link_artifact(const std::string& url, const std::string& link_text,
                                 const std::string& key, const std::string& description) {
  if (url.empty()) throw invalid_argument("a link artifact needs a URL", "data");
  return create("link", link_text.empty() ? url : "[" + link_text + "](" + url + ")", key,
                description);
}

std::string create_image_artifact(const std::string& image_url, const std::string& key,
                                  const std::string& description) {
  return create("image", image_url, key, description);
}

std::string create_progress_artifact(double progress, const std::string& key,
                                     const std::string& description) {
  return create("progress", progress, key, description);
}

void update_progress_artifact(const std::string& artifact_id, double progress,
                              const std::optional<std::string>& description) {
  auto& client = core::Runtime::get().client();
  auto artifact = client.read_artifact(artifact_id);
  if (!artifact) throw not_found("no artifact with id " + artifact_id);
  if (artifact->value("type", "") != "progress")
    throw invalid_argument("artifact " + artifact_id + " is a " + artifact->value("type", "") +
                               " artifact, not a progress artifact",
                           "id");
  json changes{{"data", progress}};
  if (description) changes["description"] = *description;
  client.update_artifact(artifact_id, changes);
}

namespace variables {

std::optional<json> get(const std::string& name) {
  auto variable = core::Runtime::get().client().read_variable(name);
  if (!variable) return std::nullopt;
  return variable->at("value");
}

json set(const std::string& name, const json& value, const SetOptions& options) {
  std::optional<std::vector<std::string>> tags;
  if (!options.tags.empty()) tags = options.tags;
  return core::Runtime::get().client().set_variable(name, value, tags, options.overwrite);
}

bool unset(const std::string& name) { return core::Runtime::get().client().delete_variable(name); }

}  // namespace variables
}  // namespace baton
