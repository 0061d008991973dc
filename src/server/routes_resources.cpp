// Variables, artifacts and concurrency limits (global, rate and task-run tag limits).
#include <cmath>

#include "baton/error.h"
#include "server/server_context.h"
#include "storage/artifact_store.h"
#include "storage/concurrency_limits.h"
#include "storage/variable_store.h"

namespace baton::server {

namespace {
using nlohmann::json;
namespace s = schema;

std::vector<std::string> any_list(const json& body, const char* outer, const char* inner) {
  auto o = body.find(outer);
  if (o == body.end() || !o->is_object()) return {};
  auto i = o->find(inner);
  if (i == o->end() || !i->is_object()) return {};
  auto a = i->find("any_");
  if (a == i->end() || a->is_null()) return {};
  return a->get<std::vector<std::string>>();
}

json any_filter(json item) {
  return s::nullable(s::object({{"any_", s::nullable(s::array(std::move(item)))}}, {}, true));
}

std::vector<std::string> tags_of(const json& j) {
  return j.contains("tags") && !j["tags"].is_null() ? j["tags"].get<std::vector<std::string>>()
                                                    : std::vector<std::string>{};
}

constexpr const char* kTagPrefix = storage::kTagLimitPrefix;
}  // namespace

void add_variable_routes(Router& router, VariableStore& store) {
  auto ref = router.schemas().add("Variable", s::object({{"id", s::uuid()},
                                                         {"name", s::string()},
                                                         {"value", s::any()},
                                                         {"tags", s::array(s::string())},
                                                         {"created", s::date_time()},
                                                         {"updated", s::date_time()}}));
  json name = {{"type", "string"},
               {"minLength", 1},
               {"maxLength", 255},
               {"description", "lowercase letters, digits, _ and -"}};
  router.add({.method = "POST",
              .path = "/api/variables/",
              .tag = "Variables",
              .summary = "Create a variable",
              .request_schema = s::object({{"name", name},
                                           {"value", s::any("any JSON, at most 5,000 characters")},
                                           {"tags", s::nullable(s::array(s::string()))}},
                                          {"name", "value"}, true),
              .response_schema = ref,
              .success_status = 201,
              .handler = [&store](Request& r) {
                return Response::json(
                    store.create(r.json["name"], r.json["value"], tags_of(r.json)), 201);
              }});
  router.add({.method = "GET",
              .path = "/api/variables/name/{name}",
              .tag = "Variables",
              .summary = "Read a variable by name",
              .response_schema = ref,
              .handler = [&store](Request& r) {
                return Response::json(store.read_by_name(r.path_params.at("name")));
              }});
  router.add({.method = "GET",
              .path = "/api/variables/{id}",
              .tag = "Variables",
              .summary = "Read a variable",
              .parameters = {{"id", "path", s::uuid(), true, ""}},
              .response_schema = ref,
              .handler = [&store](Request& r) {
                return Response::json(store.read_by_id(r.path_params.at("id")));
              }});
  router.add({.method = "PATCH",
              .path = "/api/variables/name/{name}",
              .tag = "Variables",
              .summary = "Change a variable's value or tags",
              .request_schema = s::object(
                  {{"value", s::any()}, {"tags", s::nullable(s::array(s::string()))}}, {}, true),
              .success_status = 204,
              .handler = [&store](Request& r) {
                std::vector<std::string> tags = tags_of(r.json);
                store.update(r.path_params.at("name"),
                             r.json.contains("value") ? &r.json["value"] : nullptr,
                             r.json.contains("tags") ? &tags : nullptr);
                return Response::no_content();
              }});
  router.add({.method = "DELETE",
              .path = "/api/variables/name/{name}",
              .tag = "Variables",
              .summary = "Delete a variable",
              .success_status = 204,
              .handler = [&store](Request& r) {
                store.remove(r.path_params.at("name"));
                return Response::no_content();
              }});
  router.add(
      {.method = "POST",
       .path = "/api/variables/filter",
       .tag = "Variables",
       .summary = "List variables",
       .request_schema = s::object(
           {{"variables",
             s::nullable(s::object(
                 {{"name", s::nullable(s::object({{"any_", s::nullable(s::array(s::string()))},
                                                  {"like_", s::nullable(s::string())}},
                                                 {}, true))}},
                 {}, true))},
            {"limit", s::integer(0, 10000)},
            {"offset", s::integer(0)}},
           {}, true),
       .response_schema = s::array(ref),
       .handler = [&store](Request& r) {
         std::string like;
         if (auto v = r.json.find("variables"); v != r.json.end() && v->is_object())
           if (auto n = v->find("name");
               n != v->end() && n->is_object() && n->contains("like_") && (*n)["like_"].is_string())
             like = (*n)["like_"].get<std::string>();
         return Response::json(store.list(any_list(r.json, "variables", "name"), like,
                                          r.json.value("limit", 200), r.json.value("offset", 0)));
       }});
}

void add_artifact_routes(Router& router, ArtifactStore& store) {
  const json types = s::enumeration({"markdown", "table", "link", "image", "progress"});
  const char* data_doc =
      "markdown, link: a string; image: the image's URL; progress: a number from 0 to 100; table: "
      "a list of rows or an object of columns";
  auto ref = router.schemas().add("Artifact", s::object({{"id", s::uuid()},
                                                         {"key", s::nullable(s::string())},
                                                         {"type", types},
                                                         {"description", s::nullable(s::string())},
                                                         {"data", s::any(data_doc)},
                                                         {"flow_run_id", s::nullable(s::uuid())},
                                                         {"task_run_id", s::nullable(s::uuid())},
                                                         {"created", s::date_time()},
                                                         {"updated", s::date_time()}}));
  router.add(
      {.method = "POST",
       .path = "/api/artifacts/",
       .tag = "Artifacts",
       .summary = "Create an artifact; a key that exists gets a new version",
       .request_schema =
           s::object({{"key", s::nullable(s::string("lowercase letters, digits and -"))},
                      {"type", types},
                      {"description", s::nullable(s::string())},
                      {"data", s::any(data_doc)},
                      {"flow_run_id", s::nullable(s::uuid())},
                      {"task_run_id", s::nullable(s::uuid())}},
                     {"type", "data"}, true),
       .response_schema = ref,
       .success_status = 201,
       .handler = [&store](Request& r) { return Response::json(store.create(r.json), 201); }});
  router.add({.method = "GET",
              .path = "/api/artifacts/{id}",
              .tag = "Artifacts",
              .summary = "Read an artifact",
              .parameters = {{"id", "path", s::uuid(), true, ""}},
              .response_schema = ref,
              .handler = [&store](Request& r) {
                return Response::json(store.read(r.path_params.at("id")));
              }});
  router.add({.method = "GET",
              .path = "/api/artifacts/{key}/latest",
              .tag = "Artifacts",
              .summary = "The newest version of a keyed artifact",
              .response_schema = ref,
              .handler = [&store](Request& r) {
                return Response::json(store.latest(r.path_params.at("key")));
              }});
  router.add(
      {.method = "PATCH",
       .path = "/api/artifacts/{id}",
       .tag = "Artifacts",
       .summary = "Change an artifact's data (a progress artifact advancing) or description",
       .parameters = {{"id", "path", s::uuid(), true, ""}},
       .request_schema = s::object(
           {{"data", s::any(data_doc)}, {"description", s::nullable(s::string())}}, {}, true),
       .success_status = 204,
       .handler = [&store](Request& r) {
         store.update(r.path_params.at("id"), r.json);
         return Response::no_content();
       }});
  router.add({.method = "DELETE",
              .path = "/api/artifacts/{id}",
              .tag = "Artifacts",
              .summary = "Delete an artifact",
              .parameters = {{"id", "path", s::uuid(), true, ""}},
              .success_status = 204,
              .handler = [&store](Request& r) {
                store.remove(r.path_params.at("id"));
                return Response::no_content();
              }});
  json filter =
      s::object({{"artifacts", s::nullable(s::object({{"key", any_filter(s::string())},
                                                      {"type", any_filter(s::string())},
                                                      {"flow_run_id", any_filter(s::uuid())},
                                                      {"task_run_id", any_filter(s::uuid())}},
                                                     {}, true))},
                 {"sort", s::nullable(s::enumeration({"CREATED_DESC", "CREATED_ASC", "KEY_ASC"}))},
                 {"limit", s::integer(0, 10000)},
                 {"offset", s::integer(0)}},
                {}, true);
  auto handler = [&store](bool latest) {
    return [&store, latest](Request& r) {
      ArtifactFilter f;
      f.keys = any_list(r.json, "artifacts", "key");
      f.types = any_list(r.json, "artifacts", "type");
      f.flow_run_ids = any_list(r.json, "artifacts", "flow_run_id");
      f.task_run_ids = any_list(r.json, "artifacts", "task_run_id");
      f.latest_only = latest;
      if (r.json.contains("sort") && r.json["sort"].is_string()) f.sort = r.json["sort"];
      f.limit = r.json.value("limit", 200);
      f.offset = r.json.value("offset", 0);
      return Response::json(store.filter(f));
    };
  };
  router.add({.method = "POST",
              .path = "/api/artifacts/filter",
              .tag = "Artifacts",
              .summary = "Filter artifacts (every version)",
              .request_schema = filter,
              .response_schema = s::array(ref),
              .handler = handler(false)});
  router.add({.method = "POST",
              .path = "/api/artifacts/latest/filter",
              .tag = "Artifacts",
              .summary = "Filter keyed artifacts, newest version per key",
              .request_schema = filter,
              .response_schema = s::array(ref),
              .handler = handler(true)});
}

void add_concurrency_routes(Router& router, ConcurrencyLimits& limits) {
  auto ref =
      router.schemas().add("ConcurrencyLimit", s::object({{"id", s::uuid()},
                                                          {"name", s::string()},
                                                          {"limit", s::integer(0)},
                                                          {"active", s::boolean()},
                                                          {"active_slots", s::integer(0)},
                                                          {"denied_slots", s::integer(0)},
                                                          {"slot_decay_per_second", s::number()},
                                                          {"created", s::date_time()},
                                                          {"updated", s::date_time()}}));
  json name = {{"type", "string"}, {"minLength", 1}, {"maxLength", 255}};
  json decay = {{"type", "number"}, {"minimum", 0}, {"description", "> 0 makes it a rate limit"}};
  router.add({.method = "POST",
              .path = "/api/v2/concurrency_limits/",
              .tag = "Concurrency Limits",
              .summary = "Create a global concurrency (or rate) limit",
              .request_schema = s::object({{"name", name},
                                           {"limit", s::integer(0, 1000000)},
                                           {"active", s::nullable(s::boolean())},
                                           {"slot_decay_per_second", s::nullable(decay)}},
                                          {"name", "limit"}, true),
              .response_schema = ref,
              .success_status = 201,
              .handler = [&limits](Request& r) {
                bool active = !r.json.contains("active") || r.json["active"].is_null() ||
                              r.json["active"].get<bool>();
                double d = r.json.contains("slot_decay_per_second") &&
                                   r.json["slot_decay_per_second"].is_number()
                               ? r.json["slot_decay_per_second"].get<double>()
                               : 0.0;
                return Response::json(limits.create(r.json["name"], r.json["limit"], active, d),
                                      201);
              }});
  router.add({.method = "GET",
              .path = "/api/v2/concurrency_limits/{id_or_name}",
              .tag = "Concurrency Limits",
              .summary = "Read a limit with its active slots",
              .response_schema = ref,
              .handler = [&limits](Request& r) {
                return Response::json(limits.read(r.path_params.at("id_or_name")));
              }});
  router.add({.method = "PATCH",
              .path = "/api/v2/concurrency_limits/{id_or_name}",
              .tag = "Concurrency Limits",
              .summary = "Change a limit",
              .request_schema = s::object({{"name", name},
                                           {"limit", s::integer(0, 1000000)},
                                           {"active", s::boolean()},
                                           {"slot_decay_per_second", decay}},
                                          {}, true),
              .response_schema = ref,
              .handler = [&limits](Request& r) {
                return Response::json(limits.update(r.path_params.at("id_or_name"), r.json));
              }});
  router.add({.method = "DELETE",
              .path = "/api/v2/concurrency_limits/{id_or_name}",
              .tag = "Concurrency Limits",
              .summary = "Delete a limit (and its leases)",
              .success_status = 204,
              .handler = [&limits](Request& r) {
                limits.remove(r.path_params.at("id_or_name"));
                return Response::no_content();
              }});
  router.add({.method = "POST",
              .path = "/api/v2/concurrency_limits/{id_or_name}/reset",
              .tag = "Concurrency Limits",
              .summary = "Free every slot of a limit (its leases and decayed slots)",
              .response_schema = ref,
              .handler = [&limits](Request& r) {
                return Response::json(limits.reset(r.path_params.at("id_or_name")));
              }});
  router.add({.method = "POST",
              .path = "/api/v2/concurrency_limits/filter",
              .tag = "Concurrency Limits",
              .summary = "List limits",
              .request_schema =
                  s::object({{"limit", s::integer(0, 10000)}, {"offset", s::integer(0)}}, {}, true),
              .response_schema = s::array(ref),
              .handler = [&limits](Request& r) {
                return Response::json(
                    limits.list("", r.json.value("limit", 200), r.json.value("offset", 0)));
              }});
  router.add(
      {.method = "POST",
       .path = "/api/v2/concurrency_limits/increment-with-lease",
       .tag = "Concurrency Limits",
       .summary = "Take slots of every named limit at once (or none: 423 with Retry-After)",
       .request_schema =
           s::object({{"names", {{"type", "array"}, {"items", name}, {"minItems", 1}}},
                      {"slots", s::integer(1, 1000000)},
                      {"mode", s::nullable(s::enumeration({"concurrency", "rate"}))},
                      {"lease_duration",
                       s::nullable({{"type", "number"}, {"minimum", 1}, {"maximum", 86400}})},
                      {"holder", s::nullable(s::string())}},
                     {"names", "slots"}, true),
       .response_schema =
           s::object({{"lease_id", s::nullable(s::uuid())}, {"limits", s::array(ref)}}),
       .handler = [&limits](Request& r) {
         std::string mode = r.json.contains("mode") && r.json["mode"].is_string()
                                ? r.json["mode"].get<std::string>()
                                : "concurrency";
         double lease = r.json.contains("lease_duration") && r.json["lease_duration"].is_number()
                            ? r.json["lease_duration"].get<double>()
                            : 300.0;
         std::string holder = r.json.contains("holder") && r.json["holder"].is_string()
                                  ? r.json["holder"].get<std::string>()
                                  : "";
         auto got = limits.acquire(r.json["names"].get<std::vector<std::string>>(), r.json["slots"],
                                   mode, lease, holder);
         if (!got.granted) {
           Response locked = Response::json(
               {{"error",
                 {{"code", "locked"},
                  {"message", "no free slot in limit '" + got.blocking_limit + "'; retry after " +
                                  std::to_string(got.retry_after_s) + " s"},
                  {"field", nullptr}}},
                {"retry_after", got.retry_after_s}},
               423);
           locked.headers["Retry-After"] =
               std::to_string(static_cast<int>(std::ceil(got.retry_after_s)));
           return locked;
         }
         return Response::json(
             {{"lease_id", got.lease_id.empty() ? json(nullptr) : json(got.lease_id)},
              {"limits", got.limits}});
       }});
  router.add({.method = "POST",
              .path = "/api/v2/concurrency_limits/leases/{lease_id}/renew",
              .tag = "Concurrency Limits",
              .summary = "Extend a lease before it expires",
              .parameters = {{"lease_id", "path", s::uuid(), true, ""}},
              .request_schema = s::object(
                  {{"lease_duration",
                    s::nullable({{"type", "number"}, {"minimum", 1}, {"maximum", 86400}})}},
                  {}, true),
              .success_status = 204,
              .handler = [&limits](Request& r) {
                double lease =
                    r.json.contains("lease_duration") && r.json["lease_duration"].is_number()
                        ? r.json["lease_duration"].get<double>()
                        : 300.0;
                if (!limits.renew(r.path_params.at("lease_id"), lease))
                  throw not_found("no active lease " + r.path_params.at("lease_id") +
                                  " (released or expired)");
                return Response::no_content();
              }});
  router.add({.method = "POST",
              .path = "/api/v2/concurrency_limits/decrement-with-lease",
              .tag = "Concurrency Limits",
              .summary = "Give back the slots of a lease",
              .request_schema = s::object({{"lease_id", s::uuid()}}, {"lease_id"}, true),
              .success_status = 204,
              .handler = [&limits](Request& r) {
                if (!limits.release(r.json["lease_id"]))
                  throw not_found("no active lease " + r.json["lease_id"].get<std::string>() +
                                  " (released or expired)");
                return Response::no_content();
              }});

  // Task-run tag limits (Prefect's v1 routes): global limits named "tag:<tag>".
  auto tag_view = [](json limit) {
    std::string n = limit["name"];
    limit["tag"] = n.substr(std::string(kTagPrefix).size());
    limit["concurrency_limit"] = limit["limit"];
    return limit;
  };
  router.add({.method = "POST",
              .path = "/api/concurrency_limits/",
              .tag = "Concurrency Limits",
              .summary = "Set the limit of task runs carrying a tag that may run at once",
              .request_schema =
                  s::object({{"tag", {{"type", "string"}, {"minLength", 1}, {"maxLength", 250}}},
                             {"concurrency_limit", s::integer(0, 1000000)}},
                            {"tag", "concurrency_limit"}, true),
              .response_schema = ref,
              .success_status = 201,
              .handler = [&limits, tag_view](Request& r) {
                return Response::json(
                    tag_view(limits.upsert(kTagPrefix + r.json["tag"].get<std::string>(),
                                           r.json["concurrency_limit"])),
                    201);
              }});
  router.add({.method = "GET",
              .path = "/api/concurrency_limits/tag/{tag}",
              .tag = "Concurrency Limits",
              .summary = "Read a tag limit",
              .response_schema = ref,
              .handler = [&limits, tag_view](Request& r) {
                return Response::json(tag_view(limits.read(kTagPrefix + r.path_params.at("tag"))));
              }});
  router.add({.method = "DELETE",
              .path = "/api/concurrency_limits/tag/{tag}",
              .tag = "Concurrency Limits",
              .summary = "Remove a tag limit",
              .success_status = 204,
              .handler = [&limits](Request& r) {
                limits.remove(kTagPrefix + r.path_params.at("tag"));
                return Response::no_content();
              }});
  router.add({.method = "POST",
              .path = "/api/concurrency_limits/tag/{tag}/reset",
              .tag = "Concurrency Limits",
              .summary = "Free every slot of a tag limit",
              .response_schema = ref,
              .handler = [&limits, tag_view](Request& r) {
                return Response::json(tag_view(limits.reset(kTagPrefix + r.path_params.at("tag"))));
              }});
  router.add({.method = "POST",
              .path = "/api/concurrency_limits/filter",
              .tag = "Concurrency Limits",
              .summary = "List tag limits",
              .request_schema =
                  s::object({{"limit", s::integer(0, 10000)}, {"offset", s::integer(0)}}, {}, true),
              .response_schema = s::array(ref),
              .handler = [&limits, tag_view](Request& r) {
                json out = json::array();
                for (auto& l :
                     limits.list(kTagPrefix, r.json.value("limit", 200), r.json.value("offset", 0)))
                  out.push_back(tag_view(l));
                return Response::json(out);
              }});
}

}  // namespace baton::server
