#include "server/server.h"

#include <spdlog/spdlog.h>

#include "baton/error.h"
#include "server/event_filter.h"
#include "server/server_context.h"
#include "storage/artifact_store.h"
#include "storage/concurrency_limits.h"
#include "storage/variable_store.h"

namespace baton::server {

namespace {
using nlohmann::json;

// The websocket stream of live events. The client sends {"type": "filter", "filter": {...}}
// (any number of times; the latest wins); the server answers {"type": "subscribed"} and then
// sends {"type": "event", "event": {...}} for each matching event as it happens. A malformed
// message is answered with {"type": "error", "error": {...}} and the connection stays open.
WebSocketRoute events_stream(EventBus& bus) {
  return {
      "/api/events/out", [&bus](std::shared_ptr<WebSocketPeer> peer, const Request&) {
        auto subscription = std::make_shared<std::shared_ptr<EventBus::Subscription>>();
        std::weak_ptr<WebSocketPeer> weak = peer;
        return std::function<void(const std::string&)>([&bus, weak,
                                                        subscription](const std::string& text) {
          auto p = weak.lock();
          if (!p) return;
          try {
            json message = json::parse(text, nullptr, false);
            if (message.is_discarded())
              throw Error(ErrorKind::kMalformed, "the message is not valid JSON");
            if (!message.is_object() || message.value("type", "") != "filter")
              throw invalid_argument("expected {\"type\": \"filter\", \"filter\": {...}}", "type");
            auto filter = std::make_shared<EventFilter>(
                EventFilter::from_json(message.value("filter", json())));
            *subscription =
                bus.subscribe([filter](const json& e) { return filter->matches(e); },
                              [weak](const json& e) {
                                if (auto peer = weak.lock())
                                  peer->send(json{{"type", "event"}, {"event", e}}.dump());
                              });
            p->send(R"({"type":"subscribed"})");
          } catch (const Error& e) {
            p->send(json{{"type", "error"},
                         {"error", error_body(to_string(e.kind()), e.what(), e.field())["error"]}}
                        .dump());
          }
        });
      }};
}
}  // namespace

struct Server::Impl {
  Impl(ServerOptions o, std::unique_ptr<OrchestrationClient> c, std::unique_ptr<EventStore> e)
      : options(std::move(o)),
        client(std::move(c)),
        events(std::move(e)),
        auth(options.api_key ? ApiKeyAuth(*options.api_key) : ApiKeyAuth::from_environment()),
        context{*client, bus, events.get(), dynamic_cast<EmbeddedClient*>(client.get())} {
    add_system_routes(router, "Baton");
    add_run_routes(router, context);
    add_event_routes(router, context);
    if (!options.database_path.empty()) {
      variables = std::make_unique<VariableStore>(options.database_path);
      artifacts = std::make_unique<ArtifactStore>(options.database_path);
      limits = std::make_unique<ConcurrencyLimits>(options.database_path);
      add_variable_routes(router, *variables);
      add_artifact_routes(router, *artifacts);
      add_concurrency_routes(router, *limits);
    }
    http = std::make_unique<HttpServer>(options.http, router, auth);
    http->add_websocket(events_stream(bus));
    // Flow-run group commits run on the network threads after the requests already read, so
    // that concurrent requests share a transaction.
    if (context.embedded)
      context.embedded->set_commit_scheduler(
          [http = http.get()](std::function<void()> task) { return http->post(std::move(task)); });
  }

  ServerOptions options;
  std::unique_ptr<OrchestrationClient> client;
  std::unique_ptr<EventStore> events;
  ApiKeyAuth auth;
  EventBus bus;
  ServerContext context;
  Router router;
  std::unique_ptr<VariableStore> variables;
  std::unique_ptr<ArtifactStore> artifacts;
  std::unique_ptr<ConcurrencyLimits> limits;
  std::unique_ptr<HttpServer> http;
  bool stopped = false;
};

Server::Server(ServerOptions options, std::unique_ptr<OrchestrationClient> client,
               std::unique_ptr<EventStore> events)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(client), std::move(events))) {}

Server::~Server() { stop(); }

uint16_t Server::start() { return impl_->http->start(); }

void Server::stop() {
  if (impl_->stopped) return;
  impl_->stopped = true;
  impl_->http->stop();
  if (impl_->context.embedded) impl_->context.embedded->set_commit_scheduler(nullptr);
  impl_->client->flush();
  if (impl_->events) impl_->events->flush();
}

const Router& Server::router() const { return impl_->router; }

}  // namespace baton::server
