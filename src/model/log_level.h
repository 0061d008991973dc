// Log levels: Python's logging numbers, which Prefect's and Baton's log lines carry
// (DEBUG 10, INFO 20, WARNING 30, ERROR 40, CRITICAL 50). One table for every place that turns a
// level into its name or a name into its level: the run logger, BATON_LOGGING_LEVEL and the CLI.
#pragma once

#include <algorithm>
#include <cctype>
#include <optional>
#include <string_view>
#include <utility>

namespace baton {

inline constexpr std::pair<std::string_view, int> kLogLevels[] = {
    {"DEBUG", 10}, {"INFO", 20}, {"WARNING", 30}, {"ERROR", 40}, {"CRITICAL", 50}};

// The name of the highest level `level` reaches ("DEBUG" below INFO).
inline std::string_view log_level_name(int level) {
  std::string_view name = kLogLevels[0].first;
  for (const auto& [n, value] : kLogLevels)
    if (level >= value) name = n;
  return name;
}

// The level a name stands for, in any case ("warning" -> 30); nullopt for anything else.
inline std::optional<int> log_level_from_name(std::string_view text) {
  for (const auto& [name, value] : kLogLevels)
    if (std::equal(text.begin(), text.end(), name.begin(), name.end(),
                   [](char a, char b) { return std::toupper(static_cast<unsigned char>(a)) == b; }))
      return value;
  return std::nullopt;
}

}  // namespace baton
