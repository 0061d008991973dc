#include "baton/error.h"

namespace baton {

namespace {
struct KindInfo {
  std::string_view code;
  int http_status;
  int exit_code;
};

// The one table from error kind to HTTP status and CLI exit code.
constexpr KindInfo info(ErrorKind kind) noexcept {
  switch (kind) {
    case ErrorKind::kInvalidArgument:
      return {"invalid_argument", 422, 2};
    case ErrorKind::kMalformed:
      return {"malformed", 400, 2};
    case ErrorKind::kNotFound:
      return {"not_found", 404, 2};
    case ErrorKind::kConflict:
      return {"conflict", 409, 1};
    case ErrorKind::kUnauthorized:
      return {"unauthorized", 401, 1};
    case ErrorKind::kTooLarge:
      return {"too_large", 413, 2};
    case ErrorKind::kUnavailable:
      return {"unavailable", 503, 1};
    case ErrorKind::kInternal:
      return {"internal", 500, 1};
  }
  return {"internal", 500, 1};
}
}  // namespace

std::string_view to_string(ErrorKind kind) noexcept { return info(kind).code; }
int http_status(ErrorKind kind) noexcept { return info(kind).http_status; }
int exit_code(ErrorKind kind) noexcept { return info(kind).exit_code; }

}  // namespace baton
