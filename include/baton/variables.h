// Variables: small named JSON values shared by every run (Prefect's variables), set by people
// (`baton variable set`) or programs and read by flows, e.g. a threshold or a target bucket.
//
//   int batch = baton::variables::get("batch_size", 100);        // 100 when it is not set
//   std::optional<nlohmann::json> raw = baton::variables::get("targets");
//   baton::variables::set("last_run", "2026-11-24", {.overwrite = true});
//   baton::variables::unset("last_run");
//
// Names are 1-255 lowercase letters, digits, '_' and '-'; values any JSON of at most 5,000
// characters. They live in the same database as the runs (the embedded SQLite file, or the server
// at BATON_API_URL).
//
// Errors: baton::Error(kInvalidArgument) naming "name" or "value" for bad input (and, for the
// typed get, naming "variables.<name>" when the stored value is not a T); kConflict when set()
// finds the name in use without `overwrite`; kUnavailable when the database or server cannot be
// reached. Thread-safety: call from any thread.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "baton/serialization.h"

namespace baton::variables {

// The variable's value; nullopt when no variable has that name.
std::optional<nlohmann::json> get(const std::string& name);

// The value converted to T, or `default_value` when no variable has that name.
template <class T>
T get(const std::string& name, T default_value) {
  auto value = get(name);
  if (!value) return default_value;
  return from_json_checked<T>(*value, "variables." + name);
}
inline std::string get(const std::string& name, const char* default_value) {
  return get<std::string>(name, default_value);
}

struct SetOptions {
  bool overwrite = false;         // replace the value of a variable that exists
  std::vector<std::string> tags;  // empty: none for a new variable, unchanged on overwrite
};

// Creates the variable (or, with overwrite, replaces its value); returns the stored record
// {"id", "name", "value", "tags", "created", "updated"}.
nlohmann::json set(const std::string& name, const nlohmann::json& value,
                   const SetOptions& options = {});

// Deletes the variable; false when there was none.
bool unset(const std::string& name);

}  // namespace baton::variables
