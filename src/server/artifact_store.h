// Artifacts: markdown, tables and links produced by runs (Prefect's artifacts), in the server's
// SQLite file. A keyed artifact keeps its history: creating one with an existing key adds a new
// version, and the newest version per key is its "latest".
//
// Data by type: markdown → a string; link → a string (the URL, or markdown "[text](url)");
// table → a list of row objects, a list of row lists, or an object of equal-length column lists.
// Keys are lowercase letters, digits and '-'. Records are JSON objects {"id", "key", "type",
// "description", "data", "flow_run_id", "task_run_id", "created"}.
//
// Errors: invalid_argument naming the field; not_found.
// Thread-safety: every method is safe from any thread.
#pragma once

#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace baton::sqlite {
class Connection;
}

namespace baton::server {

struct ArtifactFilter {
  std::vector<std::string> keys, types, flow_run_ids, task_run_ids;
  bool latest_only = false;           // one row per key: its newest version
  std::string sort = "CREATED_DESC";  // or CREATED_ASC, KEY_ASC
  int limit = 200;
  int offset = 0;
};

class ArtifactStore {
 public:
  explicit ArtifactStore(const std::string& path);
  ~ArtifactStore();

  // `artifact` is the request body (validated shape); returns the stored record.
  nlohmann::json create(const nlohmann::json& artifact);
  nlohmann::json read(const std::string& id);
  nlohmann::json latest(const std::string& key);
  std::vector<nlohmann::json> filter(const ArtifactFilter& filter);
  void remove(const std::string& id);

  static void check_data(const std::string& type, const nlohmann::json& data);

 private:
  std::vector<nlohmann::json> query(const std::string& where, const std::vector<std::string>& args,
                                    const std::string& order, int limit, int offset);
  std::unique_ptr<sqlite::Connection> db_;
  std::mutex mutex_;
};

}  // namespace baton::server
