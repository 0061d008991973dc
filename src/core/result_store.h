// Where persisted results and cache entries live: one JSON file per key under
// $BATON_HOME/storage, so cache hits survive process restarts.
//
// A file holds {"key": ..., "created": ..., "expiration": ... | null, "result": <value>}. Writes go
// to a temporary file renamed into place, so a reader never sees half a file, and several
// processes may share the folder.
//
// Thread-safety: all methods are safe from any thread.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "baton/state.h"

namespace baton::core {

struct StoredResult {
  nlohmann::json value;
  TimePoint created{};
  std::optional<TimePoint> expiration;
};

class ResultStore {
 public:
  explicit ResultStore(std::filesystem::path dir);

  const std::filesystem::path& dir() const { return dir_; }

  // Throws baton::Error(kUnavailable) when the file cannot be written.
  void write(const std::string& key, const nlohmann::json& value,
             std::optional<TimePoint> expiration);
  // The entry, when present, readable and not expired at `at`.
  std::optional<StoredResult> read(const std::string& key, TimePoint at) const;
  bool remove(const std::string& key);

  // The file name a key is stored under: the key itself when it is a safe file name, otherwise
  // a digest of it.
  std::filesystem::path path_for(const std::string& key) const;

 private:
  std::filesystem::path dir_;
};

// A hex BLAKE2b digest (32 characters) of `text`: stable across processes and builds.
std::string digest(std::string_view text);

}  // namespace baton::core
