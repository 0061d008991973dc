// Variables: small named JSON values (Prefect's variables), in the SQLite database file.
//
// Storage logic shared by the server (the /api/variables routes) and the embedded client (the
// SDK's baton::variables without a server), so both read and write the same table.
//
// Names are 1-255 characters of lowercase letters, digits, '_' and '-'; values any JSON up to
// 5,000 characters serialised. Records are JSON objects {"id", "name", "value", "tags",
// "created", "updated"}.
//
// Errors: invalid_argument naming the field; conflict for a name in use; not_found.
// Thread-safety: every method is safe from any thread (one connection behind a mutex).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace baton::sqlite {
class Connection;
}

namespace baton::storage {

class VariableStore {
 public:
  // Opens its own connection to the SQLite file at `path`, migrating it when needed.
  explicit VariableStore(const std::string& path);
  ~VariableStore();

  nlohmann::json create(const std::string& name, const nlohmann::json& value,
                        const std::vector<std::string>& tags);
  nlohmann::json read_by_name(const std::string& name);
  nlohmann::json read_by_id(const std::string& id);
  // Updates the value and/or tags (absent = unchanged).
  void update(const std::string& name, const nlohmann::json* value,
              const std::vector<std::string>* tags);
  // Creates the variable, or (with `overwrite`) replaces the value of an existing one, in one
  // transaction; `tags` null keeps an existing variable's tags. Without `overwrite` a name in
  // use is a conflict. Returns the stored record.
  nlohmann::json set(const std::string& name, const nlohmann::json& value,
                     const std::vector<std::string>* tags, bool overwrite);
  void remove(const std::string& name);
  // Sorted by name; names_like filters by substring when not empty.
  std::vector<nlohmann::json> list(const std::vector<std::string>& names,
                                   const std::string& name_like, int limit, int offset);

  static void check_name(const std::string& name, const std::string& field = "name");

 private:
  nlohmann::json read_where(const char* column, const std::string& value);
  // Both run inside a write transaction, with mutex_ held.
  bool name_taken(const std::string& name);
  void insert_row(const std::string& id, const std::string& name, const std::string& value_text,
                  const std::string& tags_text, int64_t at);
  std::unique_ptr<sqlite::Connection> db_;
  std::mutex mutex_;
};

}  // namespace baton::storage
