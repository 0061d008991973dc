// Helpers for reading the exception a task or flow body threw, shared by the task and flow
// engines. Internal to src/core.
#pragma once

#include <exception>
#include <string>

namespace baton::core {

// The exception's what(), or a fixed text for exceptions not derived from std::exception.
inline std::string exception_message(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    return ex.what();
  } catch (...) {
    return "an exception not derived from std::exception";
  }
}

// True when the exception in `e` is an E (or derived from it).
template <class E>
bool holds(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const E&) {
    return true;
  } catch (...) {
    return false;
  }
}

}  // namespace baton::core
