// Health, version and the OpenAPI document generated from the route table itself.
#include <memory>
#include <mutex>

#include "baton/version.h"
#include "server/server_context.h"

namespace baton::server {

void add_system_routes(Router& router, const std::string& api_title) {
  namespace s = schema;
  router.add({.method = "GET",
              .path = "/api/health",
              .tag = "System",
              .summary = "Liveness: answers true while the server runs (no authentication)",
              .response_schema = s::boolean(),
              .blocking = false,
              .requires_auth = false,
              .handler = [](Request&) { return Response::json(true); }});
  router.add({.method = "GET",
              .path = "/api/version",
              .tag = "System",
              .summary = "The server's version",
              .response_schema = s::object({{"version", s::string()}, {"api", s::string()}}),
              .blocking = false,
              .handler = [](Request&) {
                return Response::json({{"version", kVersion}, {"api", "v1"}});
              }});
  // The document is generated on first use, after every route has been added.
  auto cached = std::make_shared<std::pair<std::once_flag, std::string>>();
  router.add({.method = "GET",
              .path = "/api/openapi.json",
              .tag = "System",
              .summary = "This API's OpenAPI 3.1 description, generated from the route table",
              .response_schema = s::object_any(),
              .blocking = false,
              .handler = [&router, api_title, cached](Request&) {
                std::call_once(cached->first, [&] {
                  cached->second = router.openapi(api_title, kVersion).dump();
                });
                Response r;
                r.raw_body = cached->second;
                return r;
              }});
}

}  // namespace baton::server
