// Run names: templates over parameters / arguments, and generated "adjective-animal" names.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace baton::core {

// Replaces each "{key}" in `pattern` with values[key] (strings without quotes, other values as
// JSON). Throws baton::Error(kInvalidArgument, field `field`) for a key `values` lacks.
std::string render_name(const std::string& pattern, const nlohmann::json& values,
                        const std::string& field);

// "brave-otter", "quick-heron", ...: Prefect-style generated flow run names.
std::string random_run_name();

}  // namespace baton::core
