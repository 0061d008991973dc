#pragma once

#include <filesystem>
#include <string>

namespace baton::testing {
// A fresh, empty folder under $BATON_HOME for the current test.
std::filesystem::path fresh_folder();
// fresh_folder() / "baton.db".
std::string fresh_db();
}  // namespace baton::testing
