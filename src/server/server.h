// The Baton server as one component: the orchestration client it serves (rules + storage), the
// route table, the event bus and stores, and the HTTP front end, started and stopped in order.
//
//   baton::server::Server server(options, std::move(client));
//   uint16_t port = server.start();   // answering /api/health from here on
//   ...
//   server.stop();                    // in-flight requests answered, pending writes flushed
//
// Thread-safety: start() and stop() from one controlling thread; requests are served on the
// server's own threads. The destructor stops.
#pragma once

#include <memory>
#include <string>

#include "client/orchestration_client.h"
#include "server/event_store.h"
#include "server/http_server.h"

namespace baton::server {

struct ServerOptions {
  HttpServerOptions http;
  // The SQLite file of variables, artifacts and concurrency limits (the same file as the
  // client's); empty: those routes are not served.
  std::string database_path;
  // With no explicit key, ApiKeyAuth::from_environment() decides.
  std::optional<std::string> api_key;
};

class Server {
 public:
  // `client` is the embedded orchestration client over the server's database (never a remote
  // one). `events` may be null (events then stream live but are not stored).
  Server(ServerOptions options, std::unique_ptr<OrchestrationClient> client,
         std::unique_ptr<EventStore> events = nullptr);
  ~Server();

  uint16_t start();
  void stop();
  const Router& router() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace baton::server
