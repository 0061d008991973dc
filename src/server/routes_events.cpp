// Events: emitted for every state change, posted by clients, stored, filtered, and streamed live
// over the websocket /api/events/out.
#include "baton/error.h"
#include "model/ids.h"
#include "server/event_store.h"
#include "server/server_context.h"

namespace baton::server {

namespace {
using nlohmann::json;
namespace s = schema;

json event_schema() {
  return s::object(
      {{"id", s::nullable(s::uuid())},
       {"occurred", s::nullable(s::date_time())},
       {"event", {{"type", "string"}, {"minLength", 1}}},
       {"resource", s::object({{"baton.resource.id", {{"type", "string"}, {"minLength", 1}}}},
                              {"baton.resource.id"})},
       {"related", s::nullable(s::array(s::object_any()))},
       {"payload", s::nullable(s::object_any())}},
      {"event", "resource"});
}

json normalise(json e) {
  if (!e.contains("id") || e["id"].is_null()) e["id"] = new_id();
  if (!e.contains("occurred") || e["occurred"].is_null()) e["occurred"] = format_time(now());
  if (!e.contains("related") || e["related"].is_null()) e["related"] = json::array();
  if (!e.contains("payload") || e["payload"].is_null()) e["payload"] = json::object();
  return e;
}

void record(ServerContext& ctx, const std::vector<json>& events) {
  if (ctx.events) ctx.events->append(events);
  for (const auto& e : events) ctx.bus.publish(e);
}
}  // namespace

json state_event(const std::string& kind, const std::string& run_id, const std::string& run_name,
                 const State& state, const json& extra) {
  json resource{{"baton.resource.id", "baton." + kind + "." + run_id},
                {"baton.state-type", to_string(state.type)},
                {"baton.state-name", state.name}};
  if (!run_name.empty()) resource["baton.resource.name"] = run_name;
  json payload{{"validated_state", state}};
  if (extra.is_object()) payload.update(extra);
  return json{{"id", new_id()},
              {"occurred", format_time(state.timestamp == TimePoint{} ? now() : state.timestamp)},
              {"event", "baton." + kind + "." + state.name},
              {"resource", std::move(resource)},
              {"related", json::array()},
              {"payload", std::move(payload)}};
}

storage::EventRow event_row(const json& e) {
  // The same columns SqliteEventStore writes, so both paths read back alike.
  const json& resource = e.at("resource");
  return {e.at("id").get<std::string>(),
          parse_time(e.at("occurred").get<std::string>(), "occurred"),
          e.at("event").get<std::string>(),
          resource.value("baton.resource.id", std::string()),
          resource.dump(),
          e.value("related", json::array()).dump(),
          e.value("payload", json::object()).dump()};
}

void publish_event(ServerContext& ctx, const json& event) { ctx.bus.publish(event); }

void emit_state_event(ServerContext& ctx, const std::string& kind, const std::string& run_id,
                      const std::string& run_name, const State& state, const json& extra) {
  record(ctx, {state_event(kind, run_id, run_name, state, extra)});
}

void add_event_routes(Router& router, ServerContext& ctx) {
  auto ref = router.schemas().add("Event", event_schema());
  auto filter_ref = router.schemas().add("EventFilter", EventFilter::schema());
  router.add(
      {.method = "POST",
       .path = "/api/events",
       .tag = "Events",
       .summary = "Emit events (one object or a list); they are stored and streamed live",
       .request_schema = {{"anyOf",
                           json::array(
                               {ref, {{"type", "array"}, {"items", ref}, {"maxItems", 10000}}})}},
       .success_status = 204,
       .handler = [&ctx](Request& r) {
         std::vector<json> events;
         if (r.json.is_array())
           for (auto& e : r.json) events.push_back(normalise(e));
         else
           events.push_back(normalise(r.json));
         record(ctx, events);
         if (ctx.events) ctx.events->flush();  // answered once durable
         return Response::no_content();
       }});
  router.add({.method = "POST",
              .path = "/api/events/filter",
              .tag = "Events",
              .summary = "Query stored events, oldest first",
              .request_schema = s::object({{"filter", s::nullable(filter_ref)},
                                           {"limit", s::integer(0, 1000)},
                                           {"offset", s::integer(0)}},
                                          {}, true),
              .response_schema = s::object({{"events", s::array(ref)}}),
              .handler = [&ctx](Request& r) {
                if (!ctx.events) throw unavailable("this server does not store events");
                auto filter = EventFilter::from_json(r.json.value("filter", json()));
                int limit = r.json.value("limit", 200), offset = r.json.value("offset", 0);
                return Response::json({{"events", ctx.events->filter(filter, limit, offset)}});
              }});
}

}  // namespace baton::server
