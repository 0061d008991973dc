// Artifacts: results a run publishes for people (Prefect's artifacts): a markdown report, a
// table, a link, an image or a progress figure, stored with the run and listed by
// `baton artifact ls`.
//
//   auto flow = baton::flow("nightly_report", [] {
//     auto id = baton::create_progress_artifact(0, "report-progress");
//     auto rows = load();                               // your work
//     baton::update_progress_artifact(id, 50);
//     baton::create_table_artifact(rows, "nightly-rows", "Rows loaded tonight");
//     baton::create_markdown_artifact("# Done\n" + summary(rows), "nightly-report");
//   });
//
// Each call returns the new artifact's id. Called inside a flow run (or a task run), the artifact
// is linked to that flow run (and task run); outside any run it stands alone. A `key` (lowercase
// letters, digits and '-') names an artifact across runs: creating one with a key in use adds a
// new version, and `baton artifact inspect KEY` shows its history. Empty key: an unkeyed artifact.
//
// Data: markdown → the text; table → a list of row objects, a list of row lists, or an object of
// equal-length column lists (any nlohmann::json of those shapes); link → the URL, shown as
// "[link_text](url)" when link_text is given; image → the image's URL; progress → a number from
// 0 to 100, changed later by update_progress_artifact.
//
// Errors: baton::Error(kInvalidArgument) naming the field ("key", "data", "id") for bad input;
// kNotFound for an unknown artifact id; kUnavailable when the database or server cannot be
// reached. Thread-safety: call from any thread.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace baton {

std::string create_markdown_artifact(const std::string& markdown, const std::string& key = {},
                                     const std::string& description = {});
std::string create_table_artifact(const nlohmann::json& table, const std::string& key = {},
                                  const std::string& description = {});
std::string create_link_artifact(const std::string& url, const std::string& link_text = {},
                                 const std::string& key = {}, const std::string& description = {});
std::string create_image_artifact(const std::string& image_url, const std::string& key = {},
                                  const std::string& description = {});
std::string create_progress_artifact(double progress, const std::string& key = {},
                                     const std::string& description = {});
// Sets a progress artifact's figure (0-100), and its description when given.
void update_progress_artifact(const std::string& artifact_id, double progress,
                              const std::optional<std::string>& description = std::nullopt);

}  // namespace baton
