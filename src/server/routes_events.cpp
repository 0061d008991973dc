// Events: emitted for every state change, posted by clients, stored, filtered, and streamed live
// over the websocket /api/events/out.
#include "baton/error.h"
#include "model/ids.h"
#include "model/json_text.h"
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

namespace {
constexpr std::string_view kValidatedStatePrefix = "{\"validated_state\":";
}  // namespace

storage::EventRow state_event_row(const std::string& kind, const std::string& run_id,
                                  const std::string& run_name, const State& state) {
  storage::EventRow row;
  row.id = new_id();
  row.occurred = state.timestamp == TimePoint{} ? now() : state.timestamp;
  row.event = "baton." + kind + "." + state.name;
  row.resource_id = "baton." + kind + "." + run_id;
  row.resource = "{\"baton.resource.id\":";
  append_json_string(row.resource, row.resource_id);
  row.resource += ",\"baton.state-type\":\"";
  row.resource += to_string(state.type);
  row.resource += "\",\"baton.state-name\":";
  append_json_string(row.resource, state.name);
  if (!run_name.empty()) {
    row.resource += ",\"baton.resource.name\":";
    append_json_string(row.resource, run_name);
  }
  row.resource += '}';
  row.related = "[]";
  row.payload = kValidatedStatePrefix;
  append_json(row.payload, state);
  row.payload += '}';
  return row;
}

std::string_view validated_state_json(const storage::EventRow& row) {
  std::string_view payload = row.payload;
  if (!payload.starts_with(kValidatedStatePrefix) || !payload.ends_with('}')) return {};
  payload.remove_prefix(kValidatedStatePrefix.size());
  payload.remove_suffix(1);
  return payload;
}

json event_json(const storage::EventRow& row) {
  return json{{"id", row.id},
              {"occurred", format_time(row.occurred)},
              {"event", row.event},
              {"resource", json::parse(row.resource)},
              {"related", json::parse(row.related)},
              {"payload", json::parse(row.payload)}};
}

json state_event(const std::string& kind, const std::string& run_id, const std::string& run_name,
                 const State& state, const json& extra) {
  json e = event_json(state_event_row(kind, run_id, run_name, state));
  if (extra.is_object()) e["payload"].update(extra);
  return e;
}

void publish_event(ServerContext& ctx, const storage::EventRow& row) {
  // Most servers have no live subscriber: then the event's JSON is never built.
  if (ctx.bus.subscriber_count() == 0) return;
  ctx.bus.publish(event_json(row));
}

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
