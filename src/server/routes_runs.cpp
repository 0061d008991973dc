// Flows, flow runs, task runs, their state histories, and logs: Prefect's routes and shapes.
#include <algorithm>
#include <limits>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "baton/error.h"
#include "model/ids.h"
#include "model/json_text.h"
#include "server/server_context.h"
#include "server/task_run_ingest.h"
#include "server/task_run_reader.h"

namespace baton::server {

namespace {
using nlohmann::json;
namespace s = schema;

constexpr int kMaxLimit = 10000;          // one page at most; keeps answers bounded
constexpr size_t kMaxBatchItems = 10000;  // task runs or log lines in one request

// Follows `keys` through nested objects of `body`; null when any is missing.
const json* at(const json& body, std::initializer_list<const char*> keys) {
  const json* cur = &body;
  for (const char* k : keys) {
    if (!cur->is_object()) return nullptr;
    auto it = cur->find(k);
    if (it == cur->end() || it->is_null()) return nullptr;
    cur = &*it;
  }
  return cur;
}

std::vector<std::string> strings_at(const json& body, std::initializer_list<const char*> keys) {
  const json* v = at(body, keys);
  return v ? v->get<std::vector<std::string>>() : std::vector<std::string>{};
}

std::vector<StateType> state_types_at(const json& body, std::initializer_list<const char*> keys) {
  std::vector<StateType> out;
  for (const auto& t : strings_at(body, keys)) out.push_back(*state_type_from_string(t));
  return out;
}

json state_type_names() {
  return json::array({"SCHEDULED", "PENDING", "RUNNING", "COMPLETED", "FAILED", "CANCELLED",
                      "CRASHED", "PAUSED", "CANCELLING"});
}

json any_filter(json item) {
  return s::object({{"any_", s::nullable(s::array(std::move(item)))}}, {}, true);
}

// The storage layer's sort names (Prefect's, plus the ascending twins).
const std::vector<std::string> kFlowRunSorts = {"EXPECTED_START_TIME_DESC",
                                                "EXPECTED_START_TIME_ASC",
                                                "START_TIME_DESC",
                                                "START_TIME_ASC",
                                                "END_TIME_DESC",
                                                "CREATED_DESC",
                                                "CREATED_ASC",
                                                "NAME_ASC",
                                                "NAME_DESC",
                                                "ID_DESC",
                                                "ID_ASC"};
const std::vector<std::string> kTaskRunSorts = {"EXPECTED_START_TIME_DESC",
                                                "EXPECTED_START_TIME_ASC",
                                                "START_TIME_DESC",
                                                "END_TIME_DESC",
                                                "CREATED_DESC",
                                                "CREATED_ASC",
                                                "NAME_ASC",
                                                "ID_DESC",
                                                "ID_ASC"};

json pagination_properties(json props, const std::vector<std::string>& sorts) {
  props["limit"] = s::integer(0, kMaxLimit);
  props["offset"] = s::integer(0);
  props["sort"] = s::nullable(s::enumeration(sorts));
  return props;
}

void read_page(const json& body, int& limit, int& offset, std::string& sort) {
  if (auto v = at(body, {"limit"})) limit = v->get<int>();
  if (auto v = at(body, {"offset"})) offset = v->get<int>();
  if (auto v = at(body, {"sort"})) sort = v->get<std::string>();
}

std::string path_id(const Request& r) { return r.path_params.at("id"); }

Parameter id_param(std::string what) { return {"id", "path", s::uuid(), true, std::move(what)}; }

json details(const SetStateResult& r) {
  switch (r.status) {
    case SetStateStatus::kAccept:
      return {{"type", "accept_details"}};
    case SetStateStatus::kReject:
      return {{"type", "reject_details"}, {"reason", r.reason}};
    case SetStateStatus::kWait:
      return {{"type", "wait_details"}, {"delay_seconds", r.wait_s}, {"reason", r.reason}};
    case SetStateStatus::kAbort:
      return {{"type", "abort_details"}, {"reason", r.reason}};
  }
  return json::object();
}

void register_schemas(SchemaRegistry& reg) {
  reg.add("StateType", s::enumeration(state_type_names().get<std::vector<std::string>>()));
  reg.add("State",
          s::object({{"type", {{"$ref", "#/components/schemas/StateType"}}},
                     {"name", s::nullable(s::string("e.g. AwaitingRetry; defaults from type"))},
                     {"message", s::nullable(s::string())},
                     {"timestamp", s::nullable(s::date_time())},
                     {"state_details", s::nullable(s::object_any())},
                     {"data", s::any("the result, inline JSON or a storage reference")}},
                    {"type"}));
  reg.add("RetryPolicy", s::object({{"retries", s::integer(0)},
                                    {"retry_delay", {{"type", {"number", "array", "null"}}}},
                                    {"retry_jitter_factor", s::nullable(s::number())}}));
  reg.add("Flow", s::object({{"id", s::uuid()},
                             {"name", s::string()},
                             {"tags", s::array(s::string())},
                             {"created", s::date_time()}}));
  json run_common{{"name", s::nullable(s::string())},
                  {"parameters", s::nullable(s::object_any())},
                  {"tags", s::nullable(s::array(s::string()))},
                  {"empirical_policy", s::nullable({{"$ref", "#/components/schemas/RetryPolicy"}})},
                  {"state", s::nullable({{"$ref", "#/components/schemas/State"}})},
                  {"expected_start_time", s::nullable(s::date_time())}};
  json flow_run_create = run_common;
  flow_run_create["id"] = s::nullable(s::uuid("client-chosen id; generated when absent"));
  flow_run_create["flow_id"] = s::nullable(s::uuid());
  flow_run_create["flow_name"] =
      s::nullable(s::string("used when flow_id is absent; the flow is created if needed"));
  flow_run_create["deployment_id"] = s::nullable(s::uuid());
  flow_run_create["parent_task_run_id"] = s::nullable(s::uuid());
  flow_run_create["idempotency_key"] = s::nullable(s::string());
  flow_run_create["infrastructure_pid"] = s::nullable(s::string());
  reg.add("FlowRunCreate", s::object(flow_run_create));
  json flow_run = flow_run_create;
  for (const char* k : {"id", "flow_id", "created", "updated"}) flow_run[k] = s::string();
  flow_run["state_type"] = {{"$ref", "#/components/schemas/StateType"}};
  flow_run["state_name"] = s::string();
  flow_run["run_count"] = s::integer(0);
  flow_run["start_time"] = s::nullable(s::date_time());
  flow_run["end_time"] = s::nullable(s::date_time());
  flow_run["total_run_time"] = s::number();
  reg.add("FlowRun", s::object(flow_run));

  json task_run = run_common;
  task_run["id"] = s::uuid("client-chosen id of the task run");
  // Empty or null for a task called outside any flow.
  task_run["flow_run_id"] = {
      {"anyOf",
       json::array({s::uuid(), {{"type", "string"}, {"maxLength", 0}}, {{"type", "null"}}})}};
  task_run["task_key"] = s::string();
  task_run["dynamic_key"] = s::nullable(s::string());
  task_run["cache_key"] = s::nullable(s::string());
  task_run["cache_expiration"] = s::nullable(s::date_time());
  task_run["task_inputs"] = s::nullable(s::object_any());
  task_run["run_count"] = s::nullable(s::integer(0));
  task_run["start_time"] = s::nullable(s::date_time());
  task_run["end_time"] = s::nullable(s::date_time());
  task_run["total_run_time"] = s::nullable(s::number());
  reg.add("TaskRun", s::object(task_run, {"id", "task_key", "state"}));

  reg.add("SetState",
          s::object({{"state", {{"$ref", "#/components/schemas/State"}}},
                     {"force", s::nullable(s::boolean())},
                     {"infrastructure_pid", s::nullable(s::string("hostname:pid:start-ticks of the "
                                                                  "process that runs the flow"))}},
                    {"state"}, true));
  reg.add(
      "OrchestrationResult",
      s::object({{"status", s::enumeration({"ACCEPT", "REJECT", "WAIT", "ABORT"})},
                 {"state", {{"$ref", "#/components/schemas/State"}}},
                 {"details", s::object_any("type: accept_details, reject_details, wait_details or "
                                           "abort_details; reason; delay_seconds")}}));
  reg.add("Log", s::object({{"flow_run_id", s::uuid()},
                            {"task_run_id", s::nullable(s::uuid())},
                            {"name", s::nullable(s::string())},
                            {"level", s::integer(0, 100)},
                            {"message", s::string()},
                            {"timestamp", s::nullable(s::date_time())}},
                           {"flow_run_id", "level", "message"}));
}

class FlowIdCache {
 public:
  std::string id_for(const std::string& name, OrchestrationClient& client) {
    {
      std::lock_guard lock(mutex_);
      if (auto it = ids_.find(name); it != ids_.end()) return it->second;
    }
    std::string id = client.ensure_flow(name, {}).id;
    std::lock_guard lock(mutex_);
    ids_.emplace(name, id);
    return id;
  }

 private:
  std::mutex mutex_;
  std::unordered_map<std::string, std::string> ids_;
};

// The routes that need more than the OrchestrationClient interface (counts, flow by id, task-run
// transitions and deletes) use the embedded client, which `baton server` always has.
EmbeddedClient& embedded(ServerContext& ctx) {
  if (!ctx.embedded) throw unavailable("this server has no embedded database");
  return *ctx.embedded;
}

FlowRecord find_flow(ServerContext& ctx, const std::string& id) {
  if (auto flow = embedded(ctx).read_flow(id)) return *flow;
  throw not_found("no flow with id " + id);
}

FlowRunFilter flow_run_filter_from(const json& b) {
  FlowRunFilter f;
  f.ids = strings_at(b, {"flow_runs", "id", "any_"});
  f.flow_names = strings_at(b, {"flows", "name", "any_"});
  f.state_types = state_types_at(b, {"flow_runs", "state", "type", "any_"});
  f.state_names = strings_at(b, {"flow_runs", "state", "name", "any_"});
  f.tags = strings_at(b, {"flow_runs", "tags", "all_"});
  if (auto p = strings_at(b, {"flow_runs", "parent_task_run_id", "any_"}); !p.empty())
    f.parent_task_run_id = p.front();
  if (auto d = strings_at(b, {"flow_runs", "deployment_id", "any_"}); !d.empty())
    f.deployment_id = d.front();
  if (auto t = at(b, {"flow_runs", "start_time", "after_"}))
    f.start_time_after = parse_time(t->get<std::string>(), "flow_runs.start_time.after_");
  if (auto t = at(b, {"flow_runs", "start_time", "before_"}))
    f.start_time_before = parse_time(t->get<std::string>(), "flow_runs.start_time.before_");
  if (auto t = at(b, {"flow_runs", "expected_start_time", "after_"}))
    f.expected_start_time_after =
        parse_time(t->get<std::string>(), "flow_runs.expected_start_time.after_");
  if (auto t = at(b, {"flow_runs", "expected_start_time", "before_"}))
    f.expected_start_time_before =
        parse_time(t->get<std::string>(), "flow_runs.expected_start_time.before_");
  if (auto t = at(b, {"flow_runs", "next_scheduled_start_time", "before_"}))
    f.next_scheduled_start_time_before =
        parse_time(t->get<std::string>(), "flow_runs.next_scheduled_start_time.before_");
  read_page(b, f.limit, f.offset, f.sort);
  return f;
}

// Prefect's LogFilter: run ids (at most kMaxLogFilterIds of each), task_run_id.is_null_ (true: the
// flow run's own lines), level ge_/le_ and timestamp after_/before_, every bound inclusive.
json log_filter_schema() {
  json ids = s::array(s::uuid());
  ids["maxItems"] = kMaxLogFilterIds;
  auto range = [](json bound, const char* low, const char* high) {
    return s::nullable(
        s::object({{low, s::nullable(bound)}, {high, s::nullable(bound)}}, {}, true));
  };
  return s::nullable(s::object(
      {{"flow_run_id", s::nullable(s::object({{"any_", s::nullable(ids)}}, {}, true))},
       {"task_run_id",
        s::nullable(s::object({{"any_", s::nullable(ids)}, {"is_null_", s::nullable(s::boolean())}},
                              {}, true))},
       {"level", range(s::integer(std::numeric_limits<int>::min(), std::numeric_limits<int>::max()),
                       "ge_", "le_")},
       {"timestamp", range(s::date_time(), "after_", "before_")}},
      {}, true));
}

LogFilter log_filter_from(const json& b) {
  LogFilter f;
  f.flow_run_ids = strings_at(b, {"logs", "flow_run_id", "any_"});
  f.task_run_ids = strings_at(b, {"logs", "task_run_id", "any_"});
  if (auto v = at(b, {"logs", "task_run_id", "is_null_"})) f.task_run_is_null = v->get<bool>();
  if (auto v = at(b, {"logs", "level", "ge_"})) f.min_level = v->get<int>();
  if (auto v = at(b, {"logs", "level", "le_"})) f.max_level = v->get<int>();
  if (auto t = at(b, {"logs", "timestamp", "after_"}))
    f.timestamp_after = parse_time(t->get<std::string>(), "logs.timestamp.after_");
  if (auto t = at(b, {"logs", "timestamp", "before_"}))
    f.timestamp_before = parse_time(t->get<std::string>(), "logs.timestamp.before_");
  read_page(b, f.limit, f.offset, f.sort);
  return f;
}

TaskRunFilter task_run_filter_from(const json& b) {
  TaskRunFilter f;
  f.ids = strings_at(b, {"task_runs", "id", "any_"});
  auto flow_runs = strings_at(b, {"flow_runs", "id", "any_"});
  if (flow_runs.size() > 1)
    throw invalid_argument("filtering task runs by more than one flow run is not supported",
                           "flow_runs.id.any_");
  if (!flow_runs.empty()) f.flow_run_id = flow_runs.front();
  f.state_types = state_types_at(b, {"task_runs", "state", "type", "any_"});
  f.state_names = strings_at(b, {"task_runs", "state", "name", "any_"});
  f.tags = strings_at(b, {"task_runs", "tags", "all_"});
  read_page(b, f.limit, f.offset, f.sort);
  return f;
}

// One CSV field (RFC 4180): quoted when it holds a comma, a quote or a line break.
std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string out = "\"";
  for (char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

// The optional Idempotency-Key header of the batch routes (Baton's remote client sends one per
// batch, the same on every retry of it): a batch whose key the server has stored is answered as
// recorded without being written again (TaskRunIngest::record).
Parameter idempotency_key_param() {
  return {"Idempotency-Key", "header",
          json{{"type", "string"}, {"minLength", 1}, {"maxLength", 255}}, false,
          "a key of the client's choosing, the same for every retry of one batch: a batch whose "
          "key was recorded in the last day is answered without being written twice"};
}

std::string idempotency_key_of(const Request& r) {
  auto it = r.headers.find("idempotency-key");
  return it == r.headers.end() ? std::string() : it->second;
}

// Prefect's set_state body: {"state": {...}, "force": bool}.
bool force_of(const json& body) {
  return body.value("force", json(false)).is_boolean() && body.value("force", false);
}

// A set_state body that certainly fits the SetState schema, checked without the generic schema
// walk (a transition is the server's hottest route): an object of state, force and
// infrastructure_pid only; a state object with a known type and string-or-null name, message and
// timestamp, and an object-or-null state_details. The timestamp's format is checked by
// from_json(State) with the same parser and field as the schema's. Anything else takes the
// schema walk, which names what is wrong.
bool null_or(const json& v, bool (json::*is)() const noexcept) { return v.is_null() || (v.*is)(); }

// A State object that certainly fits the State schema: a known type, string-or-null name, message
// and (when `timestamp_allowed`) timestamp, an object-or-null state_details; other members are
// allowed, as the schema allows them.
bool plainly_valid_state(const json& state, bool timestamp_allowed) {
  if (!state.is_object()) return false;
  auto type = state.find("type");
  if (type == state.end() || !type->is_string() ||
      !state_type_from_string(type->get_ref<const std::string&>()))
    return false;
  for (const char* key : {"name", "message"})
    if (auto it = state.find(key); it != state.end() && !null_or(*it, &json::is_string))
      return false;
  if (auto it = state.find("timestamp");
      it != state.end() && !it->is_null() && (!timestamp_allowed || !it->is_string()))
    return false;
  auto details = state.find("state_details");
  return details == state.end() || null_or(*details, &json::is_object);
}

// A flow-run create body that certainly fits FlowRunCreate, checked without the generic schema
// walk (every W3 run starts here): an object whose members are all among the plain ones below,
// each of the schema's type (ids UUIDs, the state plainly valid without a timestamp). Anything
// else (times, a retry policy, members the schema does not name) takes the walk.
bool plainly_valid_flow_run_create(const json& body) {
  if (!body.is_object()) return false;
  for (const auto& [key, value] : body.items()) {
    if (value.is_null()) continue;
    if (key == "flow_name" || key == "name" || key == "idempotency_key" ||
        key == "infrastructure_pid") {
      if (!value.is_string()) return false;
    } else if (key == "id" || key == "flow_id" || key == "deployment_id" ||
               key == "parent_task_run_id") {
      if (!value.is_string() || !is_uuid(value.get_ref<const std::string&>())) return false;
    } else if (key == "parameters") {
      if (!value.is_object()) return false;
    } else if (key == "tags") {
      if (!value.is_array()) return false;
      for (const auto& tag : value)
        if (!tag.is_string()) return false;
    } else if (key != "state" || !plainly_valid_state(value, false)) {
      return false;
    }
  }
  return true;
}

bool plainly_valid_set_state(const json& body) {
  if (!body.is_object()) return false;
  const json* state = nullptr;
  for (const auto& [key, value] : body.items()) {
    if (key == "state")
      state = &value;
    else if (key == "force" ? !null_or(value, &json::is_boolean)
                            : key != "infrastructure_pid" || !null_or(value, &json::is_string))
      return false;
  }
  return state && plainly_valid_state(*state, true);
}

// The body of a route that reads it raw (reads_raw_body): parsed, and checked against `schema`
// unless `plainly_valid` vouches for it.
void parse_body(Request& r, const SchemaRegistry& schemas, const json& schema,
                bool (*plainly_valid)(const json&)) {
  r.json = r.body.empty() ? json::object() : json::parse(r.body, nullptr, false);
  if (r.json.is_discarded())
    throw Error(ErrorKind::kMalformed, "the request body is not valid JSON");
  if (!plainly_valid(r.json)) schemas.validate(r.json, schema);
}

// Prefect's OrchestrationResult: 201 when the proposed state was accepted, 200 otherwise. Written
// as text (a transition's answer is on the server's hottest synchronous path); the same JSON as
// {"status": ..., "state": State, "details": details(result)}. `state_json`, when given, is
// result.state already written (its event's payload holds it).
Response orchestration_result(const SetStateResult& result, std::string_view state_json = {}) {
  Response r;
  r.status = result.status == SetStateStatus::kAccept ? 201 : 200;
  std::string& out = r.raw_body.emplace();
  out.reserve(512);
  out += "{\"status\":\"";
  out += to_string(result.status);
  out += "\",\"state\":";
  if (state_json.empty())
    append_json(out, result.state);
  else
    out += state_json;
  out += ",\"details\":";
  if (result.status == SetStateStatus::kAccept)
    out += R"({"type":"accept_details"})";
  else
    out += details(result).dump(-1, ' ', false, json::error_handler_t::replace);
  out += '}';
  return r;
}

// A flow run as the answer body, written as text.
Response flow_run_response(const FlowRunRecord& run, int status) {
  Response r;
  r.status = status;
  std::string& out = r.raw_body.emplace();
  out.reserve(1024);
  append_json(out, run);
  return r;
}

// The cache routes' optional `now` (a date-time the schema has checked), else the server's clock.
TimePoint now_of(const json& body) {
  auto it = body.find("now");
  return it != body.end() && it->is_string() ? parse_time(it->get<std::string>(), "now") : now();
}
}  // namespace

void add_run_routes(Router& router, ServerContext& ctx) {
  register_schemas(router.schemas());
  auto ref = [](const char* name) {
    return json{{"$ref", std::string("#/components/schemas/") + name}};
  };
  OrchestrationClient& client = ctx.client;

  // ---- flows ------------------------------------------------------------------------------------
  router.add({.method = "POST",
              .path = "/api/flows/",
              .tag = "Flows",
              .summary = "Create a flow, or return the one with this name",
              .request_schema = s::object({{"name", {{"type", "string"}, {"minLength", 1}}},
                                           {"tags", s::nullable(s::array(s::string()))}},
                                          {"name"}, true),
              .response_schema = ref("Flow"),
              .success_status = 201,
              .handler = [&client](Request& r) {
                auto tags = r.json.contains("tags") && !r.json["tags"].is_null()
                                ? r.json["tags"].get<std::vector<std::string>>()
                                : std::vector<std::string>{};
                return Response::json(client.ensure_flow(r.json["name"].get<std::string>(), tags));
              }});
  router.add(
      {.method = "GET",
       .path = "/api/flows/{id}",
       .tag = "Flows",
       .summary = "Read a flow",
       .parameters = {id_param("the flow's id")},
       .response_schema = ref("Flow"),
       .handler = [&ctx](Request& r) { return Response::json(find_flow(ctx, path_id(r))); }});
  router.add({.method = "GET",
              .path = "/api/flows/name/{name}",
              .tag = "Flows",
              .summary = "Read a flow by name",
              .response_schema = ref("Flow"),
              .handler = [&ctx](Request& r) {
                const auto& name = r.path_params.at("name");
                if (auto f = embedded(ctx).storage().read_flow_by_name(name))
                  return Response::json(*f);
                throw not_found("no flow named '" + name + "'");
              }});
  router.add({.method = "POST",
              .path = "/api/flows/filter",
              .tag = "Flows",
              .summary = "List flows",
              .request_schema = s::object(
                  {{"flows", s::nullable(s::object({{"name", any_filter(s::string())}}, {}, true))},
                   {"limit", s::integer(0, kMaxLimit)},
                   {"offset", s::integer(0)}},
                  {}, true),
              .response_schema = s::array(ref("Flow")),
              .handler = [&client](Request& r) {
                int limit = 200, offset = 0;
                std::string sort;
                read_page(r.json, limit, offset, sort);
                auto names = strings_at(r.json, {"flows", "name", "any_"});
                if (names.empty()) return Response::json(client.list_flows(limit, offset));
                std::vector<FlowRecord> out;
                int skipped = 0;
                for (int page = 0;; page += kMaxLimit) {
                  auto flows = client.list_flows(kMaxLimit, page);
                  for (auto& f : flows) {
                    if (std::find(names.begin(), names.end(), f.name) == names.end()) continue;
                    if (skipped++ < offset) continue;
                    if (static_cast<int>(out.size()) < limit) out.push_back(f);
                  }
                  if (static_cast<int>(flows.size()) < kMaxLimit) break;
                }
                return Response::json(out);
              }});
  router.add(
      {.method = "POST",
       .path = "/api/flows/count",
       .tag = "Flows",
       .summary = "Count the flows a filter matches",
       .request_schema = s::object(
           {{"flows", s::nullable(s::object({{"name", any_filter(s::string())}}, {}, true))}}, {},
           true),
       .response_schema = s::integer(0),
       .handler = [&ctx](Request& r) {
         auto names = strings_at(r.json, {"flows", "name", "any_"});
         int64_t count = 0;
         if (!names.empty()) {
           std::sort(names.begin(), names.end());
           names.erase(std::unique(names.begin(), names.end()), names.end());
           for (const auto& name : names)
             if (embedded(ctx).storage().read_flow_by_name(name)) ++count;
           return Response::json(count);
         }
         for (int offset = 0;; offset += kMaxLimit) {
           auto page = ctx.client.list_flows(kMaxLimit, offset).size();
           count += static_cast<int64_t>(page);
           if (static_cast<int>(page) < kMaxLimit) break;
         }
         return Response::json(count);
       }});

  // ---- flow runs --------------------------------------------------------------------------------
  // Flows are never deleted, so a name's id, once known, saves the upsert (a write transaction)
  // on every later run of that flow.
  auto flow_ids = std::make_shared<FlowIdCache>();
  router.add({.method = "POST",
              .path = "/api/flow_runs/",
              .tag = "Flow Runs",
              .summary = "Create a flow run (idempotent per flow with idempotency_key)",
              .request_schema = ref("FlowRunCreate"),
              .reads_raw_body = true,
              .response_schema = ref("FlowRun"),
              .success_status = 201,
              .async_handler = [&ctx, flow_ids, &schemas = router.schemas(),
                                create = ref("FlowRunCreate")](Request& r, Respond respond) {
                parse_body(r, schemas, create, plainly_valid_flow_run_create);
                const json& b = r.json;
                FlowRunRecord run;
                bool has_state = b.contains("state") && !b["state"].is_null();
                from_json(b, run);
                if (run.flow_id.empty() && run.flow_name.empty())
                  throw invalid_argument("a flow run needs flow_id or flow_name", "flow_id");
                if (run.flow_id.empty()) {
                  run.flow_id = flow_ids->id_for(run.flow_name, ctx.client);
                } else if (run.flow_name.empty()) {
                  run.flow_name = find_flow(ctx, run.flow_id).name;
                }
                if (!has_state) run.state = State::pending();
                if (!ctx.embedded) {
                  auto created = ctx.client.create_flow_run(std::move(run));
                  emit_state_event(ctx, "flow-run", created.id, created.name, created.state);
                  respond(Response::json(created, 201));
                  return;
                }
                // The run and its event commit together (group commit); the event goes live
                // once both are durable.
                auto event = std::make_shared<storage::EventRow>();
                bool store = ctx.events != nullptr;
                ctx.embedded->create_flow_run_async(
                    std::move(run),
                    [event, store](const FlowRunRecord& created, const State& state) {
                      *event = state_event_row("flow-run", created.id, created.name, state);
                      std::vector<storage::EventRow> rows;
                      if (store) rows.push_back(*event);
                      return rows;
                    },
                    [&ctx, event, respond](std::exception_ptr error,
                                           storage::Storage::InsertResult result) {
                      if (error) return respond(error_response(error));
                      if (result.inserted) publish_event(ctx, *event);
                      respond(flow_run_response(result.run, 201));
                    });
              }});
  router.add({.method = "GET",
              .path = "/api/flow_runs/{id}",
              .tag = "Flow Runs",
              .summary = "Read a flow run",
              .parameters = {id_param("the flow run's id")},
              .response_schema = ref("FlowRun"),
              .handler = [&client](Request& r) {
                auto run = client.read_flow_run(path_id(r));
                if (!run) throw not_found("no flow run with id " + path_id(r));
                return Response::json(*run);
              }});
  json flow_run_filter = pagination_properties(
      {{"flow_runs",
        s::nullable(s::object(
            {{"id", any_filter(s::uuid())},
             {"state", s::nullable(s::object({{"type", any_filter(ref("StateType"))},
                                              {"name", any_filter(s::string())}},
                                             {}, true))},
             {"tags",
              s::nullable(s::object({{"all_", s::nullable(s::array(s::string()))}}, {}, true))},
             {"parent_task_run_id", any_filter(s::uuid())},
             {"deployment_id", any_filter(s::uuid())},
             {"start_time", s::nullable(s::object({{"after_", s::nullable(s::date_time())},
                                                   {"before_", s::nullable(s::date_time())}},
                                                  {}, true))},
             {"expected_start_time",
              s::nullable(s::object({{"after_", s::nullable(s::date_time())},
                                     {"before_", s::nullable(s::date_time())}},
                                    {}, true))},
             {"next_scheduled_start_time",
              s::nullable(s::object({{"before_", s::nullable(s::date_time())}}, {}, true))}},
            {}, true))},
       {"flows", s::nullable(s::object({{"name", any_filter(s::string())}}, {}, true))}},
      kFlowRunSorts);
  router.add({.method = "POST",
              .path = "/api/flow_runs/filter",
              .tag = "Flow Runs",
              .summary = "Filter flow runs, with pagination and sorting",
              .request_schema = s::object(flow_run_filter, {}, true),
              .response_schema = s::array(ref("FlowRun")),
              .handler = [&client](Request& r) {
                return Response::json(client.filter_flow_runs(flow_run_filter_from(r.json)));
              }});
  router.add({.method = "POST",
              .path = "/api/flow_runs/count",
              .tag = "Flow Runs",
              .summary = "Count the flow runs a filter matches (limit, offset and sort ignored)",
              .request_schema = s::object(flow_run_filter, {}, true),
              .response_schema = s::integer(0),
              .handler = [&ctx](Request& r) {
                return Response::json(embedded(ctx).count_flow_runs(flow_run_filter_from(r.json)));
              }});
  router.add({.method = "POST",
              .path = "/api/flow_runs/paginate",
              .tag = "Flow Runs",
              .summary = "One page of the flow runs a filter matches, with the total count",
              .request_schema =
                  [&] {
                    json props = flow_run_filter;
                    props.erase("offset");
                    props["page"] = s::integer(1);
                    return s::object(props, {}, true);
                  }(),
              .response_schema = s::object({{"results", s::array(ref("FlowRun"))},
                                            {"count", s::integer(0)},
                                            {"limit", s::integer(0)},
                                            {"pages", s::integer(0)},
                                            {"page", s::integer(1)}}),
              .handler =
                  [&ctx](Request& r) {
                    FlowRunFilter f = flow_run_filter_from(r.json);
                    int page = r.json.value("page", 1);
                    if (page > 1 && f.limit > 0 &&
                        page - 1 > (std::numeric_limits<int>::max)() / f.limit)
                      throw invalid_argument("page is too large for this limit", "page");
                    f.offset = (page - 1) * f.limit;
                    int64_t count = embedded(ctx).count_flow_runs(f);
                    int64_t pages = f.limit > 0 ? (count + f.limit - 1) / f.limit : 0;
                    return Response::json({{"results", ctx.client.filter_flow_runs(f)},
                                           {"count", count},
                                           {"limit", f.limit},
                                           {"pages", pages},
                                           {"page", page}});
                  }});
  router.add(
      {.method = "POST",
       .path = "/api/flow_runs/{id}/set_state",
       .tag = "Flow Runs",
       .summary = "Propose a state; the orchestration rules decide (ACCEPT, REJECT, WAIT, ABORT)",
       .parameters = {id_param("the flow run's id")},
       .request_schema = ref("SetState"),
       .reads_raw_body = true,
       .response_schema = ref("OrchestrationResult"),
       .async_handler = [&ctx, &schemas = router.schemas(), set_state = ref("SetState")](
                            Request& r, Respond respond) {
         parse_body(r, schemas, set_state, plainly_valid_set_state);
         State proposed = r.json["state"].get<State>();
         bool force = force_of(r.json);
         std::string identity =
             r.json.contains("infrastructure_pid") && r.json["infrastructure_pid"].is_string()
                 ? r.json["infrastructure_pid"].get<std::string>()
                 : std::string();
         std::string id = path_id(r);
         if (!ctx.embedded) {
           auto result = ctx.client.set_flow_run_state(id, proposed, force);
           if (result.recorded) emit_state_event(ctx, "flow-run", id, "", result.state);
           respond(orchestration_result(result));
           return;
         }
         // An accepted transition and its event commit together (group commit); the event goes
         // live once both are durable.
         auto event = std::make_shared<storage::EventRow>();
         bool store = ctx.events != nullptr;
         ctx.embedded->set_flow_run_state_async(
             id, std::move(proposed), force, std::move(identity),
             [event, store, id](const FlowRunRecord&, const State& state) {
               *event = state_event_row("flow-run", id, "", state);
               std::vector<storage::EventRow> rows;
               if (store) rows.push_back(*event);
               return rows;
             },
             [&ctx, event, respond](std::exception_ptr error, SetStateResult result) {
               if (error) return respond(error_response(error));
               // Accepted, or a substitute such as AwaitingRetry: recorded, so an event, built
               // from the state the answer carries.
               if (!result.recorded) return respond(orchestration_result(result));
               publish_event(ctx, *event);
               respond(orchestration_result(result, validated_state_json(*event)));
             });
       }});
  router.add(
      {.method = "POST",
       .path = "/api/flow_runs/mark_crashed",
       .tag = "Flow Runs",
       .summary =
           "Mark Crashed the runs left RUNNING by processes of this host that no longer exist",
       .request_schema = s::object({}, {}, true),
       .response_schema = s::object({{"flow_run_ids", s::array(s::uuid())}}),
       .handler = [&ctx](Request&) {
         auto ids = ctx.client.mark_crashed_runs();
         for (const auto& id : ids)
           if (auto run = ctx.client.read_flow_run(id))
             emit_state_event(ctx, "flow-run", id, run->name, run->state);
         return Response::json({{"flow_run_ids", ids}});
       }});
  router.add({.method = "DELETE",
              .path = "/api/flow_runs/{id}",
              .tag = "Flow Runs",
              .summary = "Delete a flow run with its states, task runs and logs",
              .parameters = {id_param("the flow run's id")},
              .success_status = 204,
              .handler = [&client](Request& r) {
                if (!client.delete_flow_run(path_id(r)))
                  throw not_found("no flow run with id " + path_id(r));
                return Response::no_content();
              }});
  router.add({.method = "GET",
              .path = "/api/flow_runs/{id}/logs/download",
              .tag = "Flow Runs",
              .summary = "All of a flow run's log lines as CSV (timestamp, level, flow_run_id, "
                         "task_run_id, name, message), oldest first",
              .parameters = {id_param("the flow run's id")},
              .response_schema = s::string("text/csv"),
              .handler = [&client](Request& r) {
                const std::string id = path_id(r);
                if (!client.read_flow_run(id)) throw not_found("no flow run with id " + id);
                std::string csv = "timestamp,level,flow_run_id,task_run_id,name,message\r\n";
                LogFilter f;
                f.flow_run_ids = {id};
                f.limit = kMaxLimit;
                for (;; f.offset += kMaxLimit) {
                  auto lines = client.read_logs(f);
                  for (const auto& l : lines)
                    csv += format_time(l.timestamp) + "," + std::to_string(l.level) + "," +
                           l.flow_run_id + "," + l.task_run_id + "," + csv_field(l.name) + "," +
                           csv_field(l.message) + "\r\n";
                  if (static_cast<int>(lines.size()) < kMaxLimit) break;
                }
                Response out;
                out.raw_body = std::move(csv);
                out.content_type = "text/csv";
                out.headers["Content-Disposition"] = "attachment; filename=\"" + id + "-logs.csv\"";
                return out;
              }});
  router.add({.method = "GET",
              .path = "/api/flow_run_states/",
              .tag = "Flow Runs",
              .summary = "A flow run's state history, oldest first",
              .parameters = {{"flow_run_id", "query", s::uuid(), true, "the flow run's id"}},
              .response_schema = s::array(ref("State")),
              .handler = [&client](Request& r) {
                auto id = *r.query_param("flow_run_id");
                if (!client.read_flow_run(id)) throw not_found("no flow run with id " + id);
                return Response::json(client.read_states(id));
              }});

  // ---- task runs --------------------------------------------------------------------------------
  // Snapshots posted by clients (the SDK's background sender) are read without a JSON tree and
  // committed with their events in one transaction per group of concurrent requests.
  std::shared_ptr<TaskRunIngest> ingest;
  if (ctx.embedded)
    ingest =
        std::make_shared<TaskRunIngest>(ctx.embedded->storage(), ctx.bus, ctx.events != nullptr);
  auto record_task_runs = [&ctx, ingest](std::vector<TaskRunRecord>& runs,
                                          const std::string& request_key = {}) {
    if (ingest) {
      ingest->record(runs, {}, request_key);
      return;
    }
    for (auto& run : runs) {
      if (run.created == TimePoint{}) run.created = now();
      run.updated = now();
      ctx.client.record_task_run(run);
    }
    ctx.client.flush();  // answer only once the batch is durable
    for (const auto& run : runs) emit_state_event(ctx, "task-run", run.id, run.name, run.state);
  };
  router.add({.method = "POST",
              .path = "/api/task_runs/",
              .tag = "Task Runs",
              .summary = "Record a task run snapshot (upsert) and append its state to the history",
              .request_schema = ref("TaskRun"),
              .reads_raw_body = true,
              .response_schema = ref("TaskRun"),
              .success_status = 201,
              .handler = [record_task_runs](Request& r) {
                std::vector<TaskRunRecord> runs;
                runs.push_back(read_task_run(r.body));
                record_task_runs(runs);
                return Response::json(runs.front(), 201);
              }});
  router.add({.method = "POST",
              .path = "/api/task_runs/batch",
              .tag = "Task Runs",
              .summary =
                  "Record many task run snapshots in one durable batch (the SDK's background "
                  "sender); all or nothing, each state also an event",
              .parameters = {idempotency_key_param()},
              .request_schema = s::object(
                  {{"task_runs",
                    {{"type", "array"}, {"items", ref("TaskRun")}, {"maxItems", kMaxBatchItems}}}},
                  {"task_runs"}, true),
              .reads_raw_body = true,
              .response_schema = s::object({{"recorded", s::integer(0)}}),
              .success_status = 201,
              .handler = [record_task_runs](Request& r) {
                auto runs = read_task_run_batch(r.body, kMaxBatchItems);
                record_task_runs(runs, idempotency_key_of(r));
                return Response::json({{"recorded", runs.size()}}, 201);
              }});
  router.add(
      {.method = "POST",
       .path = "/api/task_runs/cached_state",
       .tag = "Task Runs",
       .summary = "The newest unexpired COMPLETED task-run state stored under a cache key, or null",
       .request_schema = s::object({{"cache_key", {{"type", "string"}, {"minLength", 1}}},
                                    {"now", s::nullable(s::date_time())}},
                                   {"cache_key"}, true),
       .response_schema = s::nullable(ref("State")),
       .handler = [&client](Request& r) {
         auto state = client.find_cached_state(r.json["cache_key"].get<std::string>(),
                                               now_of(r.json));
         return Response::json(state ? json(*state) : json(nullptr));
       }});
  router.add(
      {.method = "POST",
       .path = "/api/task_runs/cache/clear",
       .tag = "Task Runs",
       // The selected COMPLETED runs' cache_expiration becomes `now` (default: the server's
       // clock), so that no lookup from then on finds them; runs, states and results stay.
       .summary = "Clear the cache entries under one cache key, or every entry of one task "
                  "(task_key); exactly one of the two",
       .request_schema = s::object({{"cache_key", {{"type", "string"}, {"minLength", 1}}},
                                    {"task_key", {{"type", "string"}, {"minLength", 1}}},
                                    {"now", s::nullable(s::date_time())}},
                                   {}, true),
       .response_schema = s::object({{"cleared", s::integer(0)}}),
       .handler = [&client](Request& r) {
         CacheSelector which;
         which.cache_key = r.json.value("cache_key", "");
         which.task_key = r.json.value("task_key", "");
         return Response::json({{"cleared", client.expire_cache(which, now_of(r.json))}});
       }});
  router.add({.method = "GET",
              .path = "/api/task_runs/{id}",
              .tag = "Task Runs",
              .summary = "Read a task run",
              .parameters = {id_param("the task run's id")},
              .response_schema = ref("TaskRun"),
              .handler = [&client](Request& r) {
                auto run = client.read_task_run(path_id(r));
                if (!run) throw not_found("no task run with id " + path_id(r));
                return Response::json(*run);
              }});
  json task_run_filter = pagination_properties(
      {{"task_runs", s::nullable(s::object(
                         {{"id", any_filter(s::uuid())},
                          {"state", s::nullable(s::object({{"type", any_filter(ref("StateType"))},
                                                           {"name", any_filter(s::string())}},
                                                          {}, true))},
                          {"tags", s::nullable(s::object(
                                       {{"all_", s::nullable(s::array(s::string()))}}, {}, true))}},
                         {}, true))},
       {"flow_runs", s::nullable(s::object({{"id", any_filter(s::uuid())}}, {}, true))}},
      kTaskRunSorts);
  router.add({.method = "POST",
              .path = "/api/task_runs/filter",
              .tag = "Task Runs",
              .summary = "Filter task runs, with pagination and sorting",
              .request_schema = s::object(task_run_filter, {}, true),
              .response_schema = s::array(ref("TaskRun")),
              .handler = [&client](Request& r) {
                return Response::json(client.filter_task_runs(task_run_filter_from(r.json)));
              }});
  router.add({.method = "POST",
              .path = "/api/task_runs/count",
              .tag = "Task Runs",
              .summary = "Count the task runs a filter matches (limit, offset and sort ignored)",
              .request_schema = s::object(task_run_filter, {}, true),
              .response_schema = s::integer(0),
              .handler = [&ctx](Request& r) {
                return Response::json(embedded(ctx).count_task_runs(task_run_filter_from(r.json)));
              }});
  router.add(
      {.method = "POST",
       .path = "/api/task_runs/{id}/set_state",
       .tag = "Task Runs",
       .summary = "Propose a task-run state; the task policy decides (ACCEPT, REJECT, WAIT, ABORT)",
       .parameters = {id_param("the task run's id")},
       .request_schema = ref("SetState"),
       .response_schema = ref("OrchestrationResult"),
       .handler = [&ctx](Request& r) {
         State proposed = r.json["state"].get<State>();
         auto result = embedded(ctx).set_task_run_state(path_id(r), proposed, force_of(r.json));
         if (result.recorded) emit_state_event(ctx, "task-run", path_id(r), "", result.state);
         return orchestration_result(result);
       }});
  router.add({.method = "DELETE",
              .path = "/api/task_runs/{id}",
              .tag = "Task Runs",
              .summary = "Delete a task run with its states and logs",
              .parameters = {id_param("the task run's id")},
              .success_status = 204,
              .handler = [&ctx](Request& r) {
                if (!embedded(ctx).delete_task_run(path_id(r)))
                  throw not_found("no task run with id " + path_id(r));
                return Response::no_content();
              }});
  router.add({.method = "GET",
              .path = "/api/task_run_states/",
              .tag = "Task Runs",
              .summary = "A task run's state history, oldest first",
              .parameters = {{"task_run_id", "query", s::uuid(), true, "the task run's id"}},
              .response_schema = s::array(ref("State")),
              .handler = [&client](Request& r) {
                auto id = *r.query_param("task_run_id");
                if (!client.read_task_run(id)) throw not_found("no task run with id " + id);
                return Response::json(client.read_states(id));
              }});

  // ---- logs -------------------------------------------------------------------------------------
  router.add(
      {.method = "POST",
       .path = "/api/logs/",
       .tag = "Logs",
       .summary = "Write a batch of log lines; answered once durable",
       .parameters = {idempotency_key_param()},
       .request_schema = {{"type", "array"}, {"items", ref("Log")}, {"maxItems", kMaxBatchItems}},
       .success_status = 201,
       .handler = [&client, ingest](Request& r) {
         std::vector<LogRecord> logs;
         logs.reserve(r.json.size());
         TimePoint at = now();
         for (const auto& item : r.json) {
           LogRecord log = item.get<LogRecord>();
           if (log.timestamp == TimePoint{}) log.timestamp = at;
           logs.push_back(std::move(log));
         }
         if (ingest) {
           std::vector<TaskRunRecord> no_runs;
           // All or nothing, answered once durable (or at once when the key says it is already).
           ingest->record(no_runs, logs, idempotency_key_of(r));
         } else {
           client.write_logs(std::move(logs));
           client.flush();
         }
         return Response::json(nullptr, 201);
       }});
  router.add(
      {.method = "POST",
       .path = "/api/logs/filter",
       .tag = "Logs",
       .summary = "Filter log lines",
       .request_schema = s::object(pagination_properties({{"logs", log_filter_schema()}},
                                                         {"TIMESTAMP_ASC", "TIMESTAMP_DESC"}),
                                   {}, true),
       .response_schema = s::array(ref("Log")),
       .handler = [&client](Request& r) {
         return Response::json(client.read_logs(log_filter_from(r.json)));
       }});
}

}  // namespace baton::server
