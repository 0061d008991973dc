// The remote transport turns a server's error answer into a baton::Error: the JSON error body
// when it has the documented shape, the HTTP status otherwise. A body of any other shape (a proxy's
// HTML page, members of the wrong type) must still give an Error, never a JSON exception.
#include <gtest/gtest.h>

#include <ostream>
#include <string>

#include "baton/error.h"
#include "client/remote_client.h"

namespace baton {
namespace {

struct ErrorCase {
  std::string name;
  int status;
  std::string body;
  ErrorKind kind;
  std::string message_contains;
  std::string field;
};

void PrintTo(const ErrorCase& c, std::ostream* os) { *os << c.name; }

class ErrorFromResponse : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(ErrorFromResponse, Reads) {
  const auto& c = GetParam();
  Error e = error_from_response(c.status, c.body);
  EXPECT_EQ(e.kind(), c.kind) << to_string(e.kind());
  EXPECT_NE(std::string(e.what()).find(c.message_contains), std::string::npos) << e.what();
  EXPECT_EQ(e.field(), c.field);
}

INSTANTIATE_TEST_SUITE_P(
    Rows, ErrorFromResponse,
    ::testing::Values(
        ErrorCase{"documented_shape", 422,
                  R"({"error":{"code":"invalid_argument","message":"bad limit","field":"limit"}})",
                  ErrorKind::kInvalidArgument, "bad limit", "limit"},
        ErrorCase{"code_wins_over_status", 400,
                  R"({"error":{"code":"not_found","message":"no run 'x'"}})", ErrorKind::kNotFound,
                  "no run 'x'", ""},
        ErrorCase{"unknown_code_falls_back_to_status", 409,
                  R"({"error":{"code":"mystery","message":"m"}})", ErrorKind::kConflict, "m", ""},
        ErrorCase{"message_of_wrong_type", 423, R"({"error":{"message":42,"field":["x"]}})",
                  ErrorKind::kInternal, "error 423", ""},
        ErrorCase{"error_not_an_object", 503, R"({"error":"busy"})", ErrorKind::kUnavailable,
                  "HTTP 503", ""},
        ErrorCase{"too_many_requests_from_a_proxy", 429, "slow down", ErrorKind::kUnavailable,
                  "HTTP 429: slow down", ""},
        ErrorCase{"html_from_a_proxy", 502, "<html>bad gateway</html>", ErrorKind::kInternal,
                  "<html>bad gateway</html>", ""},
        ErrorCase{"empty_body", 404, "", ErrorKind::kNotFound, "HTTP 404", ""}),
    [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace baton
