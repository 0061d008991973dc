// Variables: small named JSON values (Prefect's variables), in the server's SQLite file.
//
// Names are 1-255 characters of lowercase letters, digits, '_' and '-'; values any JSON up to
// 5,000 characters serialised. Records are JSON objects {"id", "name", "value", "tags",
// "created", "updated"}.
//
// Errors: invalid_argument naming the field; conflict for a name in use; not_found.
// Thread-safety: every method is safe from any thread (one connection behind a mutex).
#pragma once

#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace baton::sqlite {
class Connection;
}

namespace baton::server {

class VariableStore {
 public:
  explicit VariableStore(const std::string& path);
  ~VariableStore();

  nlohmann::json create(const std::string& name, const nlohmann::json& value,
                        const std::vector<std::string>& tags);
  nlohmann::json read_by_name(const std::string& name);
  nlohmann::json read_by_id(const std::string& id);
  // Updates the value and/or tags (absent = unchanged).
  void update(const std::string& name, const nlohmann::json* value,
              const std::vector<std::string>* tags);
  void remove(const std::string& name);
  // Sorted by name; names_like filters by substring when not empty.
  std::vector<nlohmann::json> list(const std::vector<std::string>& names,
                                   const std::string& name_like, int limit, int offset);

  static void check_name(const std::string& name, const std::string& field = "name");

 private:
  nlohmann::json read_where(const char* column, const std::string& value);
  std::unique_ptr<sqlite::Connection> db_;
  std::mutex mutex_;
};

}  // namespace baton::server
