// Artifacts: markdown, tables, links, images and progress produced by runs (Prefect's artifacts),
// in the SQLite database file.
//
// Storage logic shared by the server (the /api/artifacts routes) and the embedded client (the
// SDK's create_*_artifact calls without a server), so both keep artifacts in the same table.
// A keyed artifact keeps its history: creating one with an existing key adds a new version, and
// the newest version per key is its "latest".
//
// Data by type: markdown → a string; link → a string (the URL, or markdown "[text](url)");
// image → a string (the image's URL); progress → a number from 0 to 100; table → a list of row
// objects, a list of row lists, or an object of equal-length column lists. Keys are lowercase
// letters, digits and '-'. Records are JSON objects {"id", "key", "type", "description", "data",
// "flow_run_id", "task_run_id", "created", "updated"}.
//
// Errors: invalid_argument naming the field; not_found.
// Thread-safety: every method is safe from any thread (one connection behind a mutex).
#pragma once

#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "model/records.h"

namespace baton::sqlite {
class Connection;
}

namespace baton::storage {

class ArtifactStore {
 public:
  // Opens its own connection to the SQLite file at `path`, migrating it when needed.
  explicit ArtifactStore(const std::string& path);
  ~ArtifactStore();

  // `artifact` holds "type" and "data", and optionally "key", "description", "flow_run_id",
  // "task_run_id"; returns the stored record.
  nlohmann::json create(const nlohmann::json& artifact);
  nlohmann::json read(const std::string& id);
  nlohmann::json latest(const std::string& key);
  std::vector<nlohmann::json> filter(const ArtifactFilter& filter);
  // Changes "data" (checked against the artifact's type) and/or "description" of one version
  // (how a progress artifact advances); other fields are rejected. Returns the updated record.
  nlohmann::json update(const std::string& id, const nlohmann::json& changes);
  void remove(const std::string& id);

  static void check_data(const std::string& type, const nlohmann::json& data);
  static void check_key(const std::string& key);
  // invalid_argument naming "id" unless `id` is a UUID.
  static void check_id(const std::string& id);

 private:
  std::vector<nlohmann::json> query(const std::string& where, const std::vector<std::string>& args,
                                    const std::string& order, int limit, int offset);
  std::unique_ptr<sqlite::Connection> db_;
  std::mutex mutex_;
};

}  // namespace baton::storage
