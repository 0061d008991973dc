// The route table: every route the server answers, with its request and response schemas.
//
// One table serves three purposes so they cannot drift apart: dispatching requests (path
// templates with {parameters}), validating bodies and parameters against the declared schemas,
// and generating /api/openapi.json (openapi()).
//
// Handlers take a Request whose `json` already fits the declared request schema and return a
// Response. They report failure by throwing baton::Error; Router::execute turns every exception
// into the one JSON error shape, so no handler can crash the server or answer in another shape.
//
// Routes are declared `blocking` when they touch the database or may wait for a commit: the HTTP
// layer runs those on a worker pool so the network threads keep serving other connections.
//
// Thread-safety: build the table before the server starts; afterwards it is read-only and
// dispatch is safe from any thread.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "server/http_message.h"
#include "server/schema.h"

namespace baton::server {

using Handler = std::function<Response(Request&)>;
// A handler that answers later, from any thread, by calling `respond` exactly once (the HTTP
// layer resumes the connection on its own thread). Used by routes whose work joins a group
// commit: the network thread queues it and goes on serving other connections.
using Respond = std::function<void(Response)>;
using AsyncHandler = std::function<void(Request&, Respond respond)>;

struct Parameter {
  std::string name;
  std::string in = "query";  // "query", "path" or "header" (matched case-insensitively)
  nlohmann::json schema;
  bool required = false;
  std::string description;
};

struct Route {
  std::string method;  // "GET", "POST", "PATCH", "PUT", "DELETE"
  std::string path;    // "/api/flow_runs/{id}"
  std::string tag;     // OpenAPI grouping: "Flow Runs", ...
  std::string summary;
  std::vector<Parameter> parameters;  // path parameters are found from the template when omitted
  nlohmann::json request_schema;      // null: the route takes no body
  // The handler reads request.body itself (a hot route with a dedicated reader that checks what
  // request_schema declares); request_schema then only documents the body in OpenAPI.
  bool reads_raw_body = false;
  nlohmann::json response_schema;  // documentation of the 2xx body
  int success_status = 200;
  bool blocking = true;
  bool requires_auth = true;
  Handler handler;
  // Set instead of `handler` by routes that answer asynchronously (`blocking` does not apply).
  AsyncHandler async_handler;
};

class Router {
 public:
  explicit Router(SchemaRegistry schemas = {});

  void add(Route route);
  SchemaRegistry& schemas() { return schemas_; }
  const SchemaRegistry& schemas() const { return schemas_; }
  const std::vector<Route>& routes() const { return routes_; }

  // The outcome of matching a request: the route, or the error response to send instead (404 for
  // an unknown path, 405 for a known path with another method).
  struct Match {
    const Route* route = nullptr;
    std::optional<Response> error;
  };
  // Fills request.path_params.
  Match match(Request& request) const;

  // Parses and validates the body and parameters, calls the handler and maps every exception to
  // the JSON error shape. Never throws.
  // Waits for an asynchronous route's answer.
  Response execute(const Route& route, Request& request) const;
  // As execute(), but answers through `respond`, called exactly once: at once for synchronous
  // routes and invalid requests, later for asynchronous ones. Never throws.
  void execute_async(const Route& route, Request& request, Respond respond) const;

  // The OpenAPI 3.1 document for this table.
  nlohmann::json openapi(const std::string& title, const std::string& version) const;

 private:
  struct Compiled {
    std::vector<std::string> segments;  // "{id}" segments are parameters
    // Per route parameter: its schema is a bare UUID, checked with is_uuid alone when it fits.
    std::vector<bool> uuid_parameters;
  };
  // Compiled::uuid_parameters of one of routes_; none for any other route.
  const std::vector<bool>& uuid_parameters_of(const Route& route) const;
  SchemaRegistry schemas_;
  std::vector<Route> routes_;
  std::vector<Compiled> compiled_;
};

// Maps an exception (baton::Error or anything else) to the JSON error response.
Response error_response(const std::exception& e);
// The same for a captured exception (one reported by an asynchronous completion).
Response error_response(std::exception_ptr error);

}  // namespace baton::server
