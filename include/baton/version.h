// Baton's version, from the CMake project version.
#pragma once

namespace baton {
inline constexpr const char* kVersion = "0.1.0";
}  // namespace baton
