#include "server/router.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <future>
#include <span>

#include "baton/error.h"
#include "model/ids.h"

namespace baton::server {

namespace {
using nlohmann::json;

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> out;
  size_t start = 1;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    out.push_back(path.substr(start, end - start));
    start = end + 1;
  }
  // "/api/flow_runs/" and "/api/flow_runs" are the same route (Prefect uses both spellings).
  if (!out.empty() && out.back().empty()) out.pop_back();
  return out;
}

bool is_param(const std::string& segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

// Query values are text; the schema says what they should become before validation.
json query_value(const std::string& text, const json& s, const std::string& field) {
  std::string type = s.value("type", std::string("string"));
  if (type == "integer") {
    try {
      size_t used = 0;
      long long v = std::stoll(text, &used);
      if (used == text.size()) return v;
    } catch (const std::exception&) {
    }
    throw invalid_argument("'" + text + "' is not an integer", field);
  }
  if (type == "boolean") {
    if (text == "true" || text == "1") return true;
    if (text == "false" || text == "0") return false;
    throw invalid_argument("'" + text + "' is not true or false", field);
  }
  return text;
}
}  // namespace

json error_body(std::string_view code, const std::string& message, const std::string& field) {
  return json{{"error",
               {{"code", code},
                {"message", message},
                {"field", field.empty() ? json(nullptr) : json(field)}}}};
}

Response error_response(const std::exception& e) {
  if (const auto* be = dynamic_cast<const Error*>(&e)) {
    if (be->kind() == ErrorKind::kInternal) spdlog::error("internal error: {}", be->what());
    return Response::json(error_body(to_string(be->kind()), be->what(), be->field()),
                          http_status(be->kind()));
  }
  if (const auto* je = dynamic_cast<const json::exception*>(&e)) {
    // A handler read a member with the wrong type: the request's shape was wrong.
    return Response::json(error_body("invalid_argument", je->what(), ""), 422);
  }
  spdlog::error("unexpected error: {}", e.what());
  return Response::json(error_body("internal", "internal server error", ""), 500);
}

Response error_response(std::exception_ptr error) {
  try {
    std::rethrow_exception(std::move(error));
  } catch (const std::exception& e) {
    return error_response(e);
  } catch (...) {
    spdlog::error("unexpected error of unknown type");
    return Response::json(error_body("internal", "internal server error", ""), 500);
  }
}

Router::Router(SchemaRegistry schemas) : schemas_(std::move(schemas)) {}

void Router::add(Route route) {
  Compiled c{split_path(route.path)};
  if (c.segments.size() > 16)
    throw Error(ErrorKind::kInternal, "route " + route.path + " has more than 16 segments");
  for (const auto& seg : c.segments) {
    if (!is_param(seg)) continue;
    std::string name = seg.substr(1, seg.size() - 2);
    bool declared = false;
    for (const auto& p : route.parameters)
      declared = declared || (p.in == "path" && p.name == name);
    if (!declared) route.parameters.push_back({name, "path", schema::string(), true, ""});
  }
  for (const auto& p : route.parameters) {
    bool bare_uuid = p.schema.is_object() && p.schema.value("type", json()) == "string" &&
                     p.schema.value("format", json()) == "uuid";
    for (const auto& [key, value] : p.schema.items())
      bare_uuid = bare_uuid && (key == "type" || key == "format" || key == "description");
    c.uuid_parameters.push_back(bare_uuid);
  }
  routes_.push_back(std::move(route));
  compiled_.push_back(std::move(c));
}

const std::vector<bool>& Router::uuid_parameters_of(const Route& route) const {
  static const std::vector<bool>& none = *new std::vector<bool>();
  const Route* first = routes_.data();
  if (std::less_equal<const Route*>()(first, &route) &&
      std::less<const Route*>()(&route, first + routes_.size()))
    return compiled_[static_cast<size_t>(&route - first)].uuid_parameters;
  return none;  // a route of someone else's: its parameters take the schema walk
}

Router::Match Router::match(Request& request) const {
  // The path's segments as views (split_path's rule, without its strings: every request comes
  // here). No route has more than kMaxSegments segments, so a longer path matches none.
  constexpr size_t kMaxSegments = 16;
  std::array<std::string_view, kMaxSegments + 2> parts;  // one more, and a trailing empty one
  size_t count = 0;
  const std::string_view path = request.path;
  for (size_t start = 1; start <= path.size() && count < parts.size();) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    parts[count++] = path.substr(start, end - start);
    start = end + 1;
  }
  if (count > 0 && parts[count - 1].empty()) --count;
  const bool too_long = count > kMaxSegments;
  const std::span<const std::string_view> segments(parts.data(), too_long ? 0 : count);
  bool path_known = false;
  for (size_t i = 0; i < routes_.size() && !too_long; ++i) {
    const auto& pattern = compiled_[i].segments;
    if (pattern.size() != segments.size()) continue;
    bool ok = true;
    for (size_t k = 0; k < pattern.size() && ok; ++k)
      ok = is_param(pattern[k]) ? !segments[k].empty() : pattern[k] == segments[k];
    if (!ok) continue;
    path_known = true;
    if (routes_[i].method != request.method) continue;
    request.path_params.clear();
    for (size_t k = 0; k < pattern.size(); ++k)
      if (is_param(pattern[k]))
        request.path_params[pattern[k].substr(1, pattern[k].size() - 2)] = std::string(segments[k]);
    return {&routes_[i], std::nullopt};
  }
  if (path_known)
    return {nullptr,
            Response::json(error_body("method_not_allowed",
                                      request.method + " is not allowed on " + request.path, ""),
                           405)};
  return {nullptr,
          Response::json(
              error_body("not_found", "no route " + request.method + " " + request.path, ""), 404)};
}

namespace {
// Parses and validates the body and parameters against the route's declarations; throws.
// `uuid_parameters` flags the parameters whose schema is a bare UUID: a value is_uuid accepts
// fits it without the schema walk (every run route has an id in its path).
void validate(const SchemaRegistry& schemas, const Route& route,
              const std::vector<bool>& uuid_parameters, Request& request) {
  for (size_t i = 0; i < route.parameters.size(); ++i) {
    const auto& p = route.parameters[i];
    if (p.in == "path") {
      auto it = request.path_params.find(p.name);
      bool bare_uuid = i < uuid_parameters.size() && uuid_parameters[i];
      if (it != request.path_params.end() && !(bare_uuid && is_uuid(it->second)))
        schemas.validate(it->second, p.schema, p.name);
      continue;
    }
    if (p.in == "header") {
      // Request::headers has lower-case names.
      std::string name = p.name;
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      auto it = request.headers.find(name);
      if (it == request.headers.end()) {
        if (p.required) throw invalid_argument("missing header '" + p.name + "'", p.name);
        continue;
      }
      schemas.validate(json(it->second), p.schema, p.name);
      continue;
    }
    auto value = request.query_param(p.name);
    if (!value) {
      if (p.required) throw invalid_argument("missing query parameter '" + p.name + "'", p.name);
      continue;
    }
    schemas.validate(query_value(*value, p.schema, p.name), p.schema, p.name);
  }
  if (!route.request_schema.is_null() && !route.reads_raw_body) {
    if (request.body.empty()) {
      request.json = json::object();
    } else {
      request.json = json::parse(request.body, nullptr, /*allow_exceptions=*/false);
      if (request.json.is_discarded())
        throw Error(ErrorKind::kMalformed, "the request body is not valid JSON");
    }
    schemas.validate(request.json, route.request_schema);
  }
}

Response with_success_status(const Route& route, Response r) {
  if (r.status == 200 && route.success_status != 200) r.status = route.success_status;
  return r;
}
}  // namespace

Response Router::execute(const Route& route, Request& request) const {
  if (route.async_handler) {
    std::promise<Response> answer;
    auto future = answer.get_future();
    execute_async(route, request, [&answer](Response r) { answer.set_value(std::move(r)); });
    return future.get();
  }
  try {
    validate(schemas_, route, uuid_parameters_of(route), request);
    return with_success_status(route, route.handler(request));
  } catch (const std::exception& e) {
    return error_response(e);
  }
}

void Router::execute_async(const Route& route, Request& request, Respond respond) const {
  if (!route.async_handler) {
    respond(execute(route, request));
    return;
  }
  // Shared so that the answer is given once whether the handler throws before or after
  // handing `respond` on.
  struct Once {
    Respond respond;
    std::atomic<bool> answered{false};
    void answer(Response r) {
      if (!answered.exchange(true)) respond(std::move(r));
    }
  };
  auto once = std::make_shared<Once>();
  once->respond = std::move(respond);
  try {
    validate(schemas_, route, uuid_parameters_of(route), request);
    route.async_handler(request, [once, &route](Response r) {
      once->answer(with_success_status(route, std::move(r)));
    });
  } catch (const std::exception& e) {
    once->answer(error_response(e));
  }
}

json Router::openapi(const std::string& title, const std::string& version) const {
  json paths = json::object();
  for (const auto& r : routes_) {
    json op{{"summary", r.summary},
            {"tags", json::array({r.tag})},
            {"operationId", r.method + " " + r.path}};
    json params = json::array();
    for (const auto& p : r.parameters) {
      json one{{"name", p.name},
               {"in", p.in},
               {"required", p.in == "path" || p.required},
               {"schema", p.schema}};
      if (!p.description.empty()) one["description"] = p.description;
      params.push_back(std::move(one));
    }
    if (!params.empty()) op["parameters"] = params;
    if (!r.request_schema.is_null())
      op["requestBody"] = {{"required", true},
                           {"content", {{"application/json", {{"schema", r.request_schema}}}}}};
    json responses = json::object();
    json ok{{"description", "Success"}};
    if (!r.response_schema.is_null())
      ok["content"] = {{"application/json", {{"schema", r.response_schema}}}};
    responses[std::to_string(r.success_status)] = ok;
    json err{{"description", "Error"},
             {"content",
              {{"application/json", {{"schema", {{"$ref", "#/components/schemas/Error"}}}}}}}};
    if (!r.request_schema.is_null()) {
      responses["400"] = err;
      responses["422"] = err;
    }
    if (r.requires_auth) responses["401"] = err;
    if (r.path.find('{') != std::string::npos) responses["404"] = err;
    op["responses"] = responses;
    if (!r.requires_auth) op["security"] = json::array();
    std::string method = r.method;
    for (auto& ch : method) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    paths[r.path][method] = op;
  }
  json components = schemas_.components();
  components["Error"] = {{"type", "object"},
                         {"required", {"error"}},
                         {"properties",
                          {{"error",
                            {{"type", "object"},
                             {"required", {"code", "message"}},
                             {"properties",
                              {{"code", {{"type", "string"}}},
                               {"message", {{"type", "string"}}},
                               {"field", {{"type", {"string", "null"}}}}}}}}}}};
  return json{{"openapi", "3.1.0"},
              {"info", {{"title", title}, {"version", version}}},
              {"paths", paths},
              {"components",
               {{"schemas", components},
                {"securitySchemes", {{"bearer", {{"type", "http"}, {"scheme", "bearer"}}}}}}},
              {"security", json::array({{{"bearer", json::array()}}})}};
}

}  // namespace baton::server
