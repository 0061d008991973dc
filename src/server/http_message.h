// The server's own HTTP vocabulary: what a handler sees and what it returns.
//
// Boost.Beast stays inside http_server.cpp; everything else in the server (routes, schemas,
// handlers, tests) speaks these plain structs, so a change of HTTP library touches one file and
// handlers compile in seconds instead of the ~80 s a Beast translation unit costs.
//
// Thread-safety: plain values.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace baton::server {

struct Request {
  std::string method;  // "GET", "POST", "PATCH", "DELETE", ...
  std::string path;    // without the query string, percent-decoded: "/api/flow_runs/0190..."
  std::multimap<std::string, std::string> query;   // decoded query parameters
  std::map<std::string, std::string> path_params;  // filled by the router: {"id": "0190..."}
  std::map<std::string, std::string> headers;      // lower-case names
  std::string body;
  // The parsed body when the route declares a request schema; validated against it.
  nlohmann::json json;

  // The first value of a query parameter, if present.
  std::optional<std::string> query_param(const std::string& name) const {
    auto it = query.find(name);
    if (it == query.end()) return std::nullopt;
    return it->second;
  }
};

struct Response {
  int status = 200;
  nlohmann::json body;  // serialised as JSON unless `raw_body` is set
  std::optional<std::string> raw_body;
  std::string content_type = "application/json";
  std::map<std::string, std::string> headers;

  static Response json(nlohmann::json body, int status = 200) {
    Response r;
    r.status = status;
    r.body = std::move(body);
    return r;
  }
  static Response no_content() {
    Response r;
    r.status = 204;
    r.raw_body = std::string();
    return r;
  }
};

// The one error body: {"error": {"code": "not_found", "message": "...", "field": "..."|null}}.
nlohmann::json error_body(std::string_view code, const std::string& message,
                          const std::string& field);

}  // namespace baton::server
