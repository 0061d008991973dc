// `baton server start|status`, `baton flow-run cancel`, `baton events stream|emit`. (The retention
// options of `server start` and `server vacuum` are in retention_commands.cpp.)
#include <pthread.h>
#include <signal.h>

#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>

#include "baton/error.h"
#include "baton/version.h"
#include "cli/command_registry.h"
#include "cli/retention_settings.h"
#include "cli/server_connection.h"
#include "client/embedded_client.h"
#include "client/http_client.h"
#include "client/remote_client.h"
#include "model/ids.h"
#include "server/server.h"
#include "server/sqlite_event_store.h"
#include "storage/sqlite/connection.h"
#include "storage/storage.h"

namespace baton::cli {

namespace {
using nlohmann::json;

void start_server(const std::string& host, int port, const std::string& database, int workers,
                  int network_threads, size_t body_limit, bool store_events) {
  if (port < 0 || port > 65535)
    throw invalid_argument("port " + std::to_string(port) + " is out of range 0-65535", "port");
  auto retention_options = server_retention_options();
  // Block the stop signals before any thread exists, so every thread inherits the mask and this
  // thread alone receives them through sigwait.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  server::ServerOptions options;
  options.http.host = host;
  options.http.port = static_cast<uint16_t>(port);
  options.http.worker_threads = workers;
  options.http.io_threads = network_threads;
  options.http.body_limit = body_limit;
  std::string path = database.empty() ? storage::default_database_path() : database;
  options.database_path = path;
  // Creates and migrates the file; a new one gets the small pages that suit the server's many
  // small commits (an existing file keeps its own).
  auto client = EmbeddedClient::open(path, sqlite::kTransactionalPageSize);
  auto& storage = client->storage();
  server::Server srv(options, std::move(client),
                     store_events ? std::make_unique<server::SqliteEventStore>(path) : nullptr);
  uint16_t bound = srv.start();
  // Declared after the server, so destroyed (stopped) before it.
  services::RetentionService retention(storage, retention_options);
  retention.start();
  std::string shown_host = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  std::cout << "Baton server listening on http://" << shown_host << ":" << bound << "/api"
            << std::endl;
  int received = 0;
  sigwait(&signals, &received);
  std::cout << "Stopping (signal " << received << "): finishing in-flight requests" << std::endl;
  retention.stop();
  srv.stop();
  std::cout << "Baton server stopped" << std::endl;
}

void server_status() {
  std::string url = api_url();
  HttpClient http(url, api_key(), std::chrono::seconds(5));
  auto health = http.request("GET", "/health");
  if (health.status != 200)
    throw unavailable("the server at " + url + " answered HTTP " + std::to_string(health.status));
  auto version = http.request("GET", "/version");
  std::string shown = "unknown version";
  if (version.status == 200) {
    json v = json::parse(version.body, nullptr, false);
    if (v.is_object()) shown = "version " + v.value("version", std::string("?"));
  } else if (version.status == 401) {
    shown = "version hidden: BATON_API_KEY missing or wrong";
  }
  std::cout << "Baton server running at " << url << " (" << shown << ")\n";
}

// The JSON of `option`'s text, which must be of `expected` (an object or an array); exit 2 naming
// the option otherwise.
json json_option(const std::string& option, const std::string& text, json::value_t expected,
                 const std::string& example) {
  json j = json::parse(text, nullptr, false);
  bool ok = !j.is_discarded() &&
            (j.type() == expected || (expected == json::value_t::array && j.is_object()));
  if (!ok)
    throw invalid_argument(
        option + " must be a JSON " +
            (expected == json::value_t::object ? "object" : "array of objects (or one object)") +
            ", e.g. " + example + "; got: " + text,
        option);
  if (expected == json::value_t::array) {
    if (j.is_object()) j = json::array({j});
    for (const auto& item : j)
      if (!item.is_object())
        throw invalid_argument(option + " must hold objects, e.g. " + example + "; got: " + text,
                               option);
  }
  return j;
}

void stream_events(const std::string& filter_text, const std::vector<std::string>& prefixes,
                   const std::vector<std::string>& resources, bool as_json, int limit) {
  json filter = filter_text.empty() ? json::object()
                                    : json_option("--filter", filter_text, json::value_t::object,
                                                  R"({"event": {"prefix": ["baton.flow-run."]}})");
  if (!prefixes.empty()) filter["event"]["prefix"] = prefixes;
  if (!resources.empty()) filter["resource"]["id"] = resources;
  EventSubscription events(filter);
  std::cerr << "Streaming events from " << api_url() << " (Ctrl-C to stop)" << std::endl;
  for (int shown = 0; limit <= 0 || shown < limit;) {
    auto e = events.next();
    if (!e) continue;
    ++shown;
    if (as_json) {
      std::cout << e->dump() << std::endl;
    } else {
      std::cout << e->value("occurred", "") << "  " << e->value("event", "") << "  "
                << (*e)["resource"].value("baton.resource.id", "") << std::endl;
    }
  }
}

struct EmitOptions {
  std::string event, resource_id, resource, payload, related;
  bool as_json = false;
};

// `baton events emit`: posts one event to the server (POST /api/events) and prints its id.
void emit_event(const EmitOptions& o) {
  if (o.event.empty()) throw invalid_argument("the event name is empty", "event");
  if (o.resource_id.empty()) throw invalid_argument("the resource id is empty", "--resource-id");
  json resource = o.resource.empty() ? json::object()
                                     : json_option("--resource", o.resource, json::value_t::object,
                                                   R"({"baton.resource.name": "nightly"})");
  if (auto id = resource.find("baton.resource.id");
      id != resource.end() && *id != json(o.resource_id))
    throw invalid_argument("--resource names the resource " + id->dump() +
                               " but --resource-id names '" + o.resource_id + "'",
                           "--resource");
  resource["baton.resource.id"] = o.resource_id;
  json event{
      {"id", new_id()},
      {"occurred", format_time(now())},
      {"event", o.event},
      {"resource", resource},
      {"related", o.related.empty() ? json::array()
                                    : json_option("--related", o.related, json::value_t::array,
                                                  R"([{"baton.resource.id": "db", )"
                                                  R"("baton.resource.role": "target"}])")},
      {"payload", o.payload.empty() ? json::object()
                                    : json_option("--payload", o.payload, json::value_t::object,
                                                  R"({"rows": 42})")}};
  HttpClient http(api_url(), api_key(), std::chrono::seconds(30));
  auto answer = http.request("POST", "/events", event.dump());
  if (answer.status < 200 || answer.status >= 300)
    throw error_from_response(answer.status, answer.body);
  if (o.as_json)
    std::cout << event.dump(2) << '\n';
  else
    std::cout << event["id"].get<std::string>() << '\n';
}
}  // namespace

BATON_CLI_COMMANDS(60, [](CLI::App& root) {
  auto* server = root.add_subcommand("server", "Run or query a Baton server");
  server->require_subcommand(1);

  auto* start = server->add_subcommand(
      "start", "Serve the REST API and event stream over the local database");
  static std::string host = "127.0.0.1";
  static int port = 4200;
  static std::string database;
  static int workers = 64;
  static int network_threads = server::network_threads_default();
  static size_t body_limit = 8 * 1024 * 1024;
  static bool no_event_store = false;
  start->add_option("--host", host, "Address to listen on")->capture_default_str();
  start->add_option("--port", port, "Port to listen on (0: any free port)")->capture_default_str();
  start->add_option("--database", database, "SQLite file (default $BATON_HOME/baton.db)");
  start->add_option("--workers", workers, "Requests served at once by blocking handlers")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  start->add_option("--network-threads", network_threads,
                    "Threads reading and answering requests (default: half the cores, at least 1)")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  start->add_option("--max-body-bytes", body_limit, "Larger request bodies are refused with 413")
      ->check(CLI::Range(size_t{1024}, size_t{1} << 30))
      ->capture_default_str();
  // Prefect's PREFECT_SERVER_SERVICES_EVENT_PERSISTER_ENABLED=false.
  start->add_flag("--no-event-store", no_event_store,
                  "Stream events live without storing them (POST /api/events/filter then answers "
                  "503)");
  start->callback([] {
    start_server(host, port, database, workers, network_threads, body_limit, !no_event_store);
  });

  auto* status = server->add_subcommand("status", "Tell whether a server answers at BATON_API_URL");
  status->callback([] { server_status(); });

  auto* events = root.add_subcommand("events", "Baton events");
  events->require_subcommand(1);
  auto* stream =
      events->add_subcommand("stream", "Print events live as they happen (from the server)");
  static std::string filter;
  static std::vector<std::string> prefixes, resources;
  static bool as_json = false;
  static int limit = 0;
  stream->add_option("--filter", filter,
                     "Event filter as JSON: {\"event\": {\"prefix\": [...]}, \"resource\": {...}}");
  stream->add_option("--event", prefixes, "Only events whose name starts with this (repeatable)");
  stream->add_option("--resource", resources, "Only events about this resource id (repeatable)");
  stream->add_flag("--json", as_json, "Print each event as one JSON line");
  stream->add_option("--limit", limit, "Exit after this many events (0: run until interrupted)");
  stream->callback(
      [] { needing_server([] { stream_events(filter, prefixes, resources, as_json, limit); }); });

  auto* emit = events->add_subcommand("emit", "Post one event to the server");
  static EmitOptions emitted;
  emit->add_option("event", emitted.event, "The event's name, e.g. acme.model.trained")->required();
  emit->add_option("--resource-id", emitted.resource_id,
                   "The id of the resource the event is about, e.g. acme.model.churn")
      ->required();
  emit->add_option("--resource", emitted.resource, "More labels of the resource, as a JSON object");
  emit->add_option("--payload", emitted.payload, "The event's payload, as a JSON object");
  emit->add_option("--related", emitted.related,
                   "Related resources, as a JSON array of objects each with baton.resource.id "
                   "and baton.resource.role");
  emit->add_flag("--json", emitted.as_json, "Print the event as JSON instead of its id");
  emit->callback([] { needing_server([] { emit_event(emitted); }); });
});

// `flow-run cancel` joins the flow-run group of run_commands.cpp (installed earlier), or creates
// it.
BATON_CLI_COMMANDS(61, [](CLI::App& root) {
  CLI::App* flow_run = nullptr;
  try {
    flow_run = root.get_subcommand("flow-run");
  } catch (const CLI::OptionNotFound&) {
    flow_run = root.add_subcommand("flow-run", "Flow runs");
  }
  auto* cancel = flow_run->add_subcommand(
      "cancel", "Cancel a flow run (Cancelling, or Cancelled when nothing runs it)");
  static std::string id;
  cancel->add_option("id", id, "The flow run's id")->required();
  cancel->callback([] {
    auto client = make_client();
    if (!client->read_flow_run(id)) throw not_found("no flow run with id " + id);
    auto result =
        client->set_flow_run_state(id, State::cancelling("cancelled from the command line"));
    if (result.status != SetStateStatus::kAccept)
      throw conflict("cannot cancel flow run " + id + ": " +
                     (result.reason.empty() ? "the rules refused" : result.reason) + " (it is " +
                     result.state.name + ")");
    std::cout << "Flow run " << id << " is now " << result.state.name << "\n";
  });
});

}  // namespace baton::cli
