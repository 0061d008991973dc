// Baton's error hierarchy: one base class and a few kinds.
//
// Every error Baton raises is a baton::Error carrying an ErrorKind. One table (http_status,
// exit_code) maps a kind to the HTTP status the server answers with and the exit code the CLI
// returns, so the same mistake reads the same way everywhere. Messages say what was wrong, where
// (the `field`, a JSON-pointer-like path such as "parameters.retries", when there is one) and what
// was expected.
//
// Thread-safety: immutable values, safe to share.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace baton {

enum class ErrorKind {
  kInvalidArgument,  // bad input: malformed JSON, wrong type, out of range (HTTP 422, exit 2)
  kMalformed,        // input that cannot even be parsed, e.g. broken JSON (HTTP 400, exit 2)
  kNotFound,         // unknown id or name (HTTP 404, exit 2)
  kConflict,         // the request contradicts current state (HTTP 409, exit 1)
  kUnauthorized,     // missing or wrong credentials (HTTP 401, exit 1)
  kTooLarge,         // request body over the limit (HTTP 413, exit 2)
  kUnavailable,      // a dependency (server, database) cannot be reached now (HTTP 503, exit 1)
  kInternal,         // a bug in Baton (HTTP 500, exit 1)
};

// "invalid_argument", "not_found", ...: the `code` of the server's JSON error body.
std::string_view to_string(ErrorKind kind) noexcept;
int http_status(ErrorKind kind) noexcept;
int exit_code(ErrorKind kind) noexcept;

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, std::string message, std::string field = {})
      : std::runtime_error(std::move(message)), kind_(kind), field_(std::move(field)) {}

  ErrorKind kind() const noexcept { return kind_; }
  // Where the problem is, e.g. "schedule.cron.hour" or "parameters.count"; empty when not known.
  const std::string& field() const noexcept { return field_; }

 private:
  ErrorKind kind_;
  std::string field_;
};

// Convenience constructors that read like the situation they describe.
inline Error invalid_argument(std::string message, std::string field = {}) {
  return Error(ErrorKind::kInvalidArgument, std::move(message), std::move(field));
}
inline Error not_found(std::string message) {
  return Error(ErrorKind::kNotFound, std::move(message));
}
inline Error conflict(std::string message) {
  return Error(ErrorKind::kConflict, std::move(message));
}
inline Error unavailable(std::string message) {
  return Error(ErrorKind::kUnavailable, std::move(message));
}

}  // namespace baton
