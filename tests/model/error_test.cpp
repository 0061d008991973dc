#include "baton/error.h"

#include <gtest/gtest.h>

namespace baton {
namespace {

struct KindRow {
  ErrorKind kind;
  std::string_view code;
  int http;
  int exit;
};

TEST(ErrorKinds, MapToOneHttpStatusAndExitCode) {
  const KindRow rows[] = {
      {ErrorKind::kInvalidArgument, "invalid_argument", 422, 2},
      {ErrorKind::kMalformed, "malformed", 400, 2},
      {ErrorKind::kNotFound, "not_found", 404, 2},
      {ErrorKind::kConflict, "conflict", 409, 1},
      {ErrorKind::kUnauthorized, "unauthorized", 401, 1},
      {ErrorKind::kTooLarge, "too_large", 413, 2},
      {ErrorKind::kUnavailable, "unavailable", 503, 1},
      {ErrorKind::kInternal, "internal", 500, 1},
  };
  for (const auto& row : rows) {
    EXPECT_EQ(to_string(row.kind), row.code);
    EXPECT_EQ(http_status(row.kind), row.http) << row.code;
    EXPECT_EQ(exit_code(row.kind), row.exit) << row.code;
  }
}

}  // namespace
}  // namespace baton
