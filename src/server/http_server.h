// The HTTP/1.1 and websocket front end of the Baton server.
//
// HttpServer owns the listening socket, the network threads and a worker pool. Each connection is
// served by a coroutine (keep-alive, pipelining-safe, bodies over `body_limit` answered with 413).
// Requests are dispatched through a Router: routes marked `blocking` run on the worker pool so a
// handler waiting for a group commit never stalls the network threads. Authentication (ApiKeyAuth)
// is checked before routing, so an unauthenticated caller learns nothing, not even which paths
// exist; routes with requires_auth=false (health) are exempt.
//
// Websocket endpoints are registered with add_websocket(); each accepted connection becomes a
// WebSocketPeer the application may send text frames to from any thread.
//
// Boost.Beast is confined to http_server.cpp: this header pulls in none of it.
//
// Lifetime and threads: start() binds and returns the bound port (useful with port 0) and spawns
// the threads; stop() stops accepting, lets in-flight requests finish and answer (with
// "Connection: close"), closes idle connections and websockets, then joins every thread. The
// destructor calls stop(). The Router and ApiKeyAuth must outlive the server.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "server/api_key_auth.h"
#include "server/http_message.h"
#include "server/router.h"

namespace baton::server {

// Half the cores, at least one. A network thread reads, handles and answers the requests of its
// connections; the writes they carry are serialized by the database anyway (one group commit at
// a time), so threads past that mostly add hand-overs between them, and the other cores are left
// to the blocking handlers' pool, the checkpointer, and the flows and workers that often run on
// the same machine. Measured on 2 cores with the load generator beside the server (W3, server
// CPU per request at 1 / 8 / 64 clients): one thread 165-218 / 56-71 / 39-45 µs, two threads
// sharing one io_context 180-233 / 67-93 / 44-59, two with a context each 186-216 / 84-89 / 45-49.
int network_threads_default();

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 4200;  // 0: any free port (see start()'s return value)
  size_t body_limit = 8 * 1024 * 1024;
  // Network threads, each with its own connections (see network_threads_default()).
  int io_threads = network_threads_default();
  int worker_threads = 64;  // blocking handlers in flight at once (group commit batches them)
};

// One open websocket connection, as the application sees it.
class WebSocketPeer {
 public:
  virtual ~WebSocketPeer() = default;
  // Queues a text frame; safe from any thread; dropped once the connection is closed.
  virtual void send(std::string text) = 0;
  // Starts a clean close; safe from any thread.
  virtual void close() = 0;
  virtual bool is_open() const = 0;
};

struct WebSocketRoute {
  std::string path;
  // Called when a client connects; returns the callback for each text message the client sends.
  // Runs on a network thread: must not block.
  std::function<std::function<void(const std::string&)>(std::shared_ptr<WebSocketPeer>,
                                                        const Request&)>
      open;
};

class HttpServer {
 public:
  HttpServer(HttpServerOptions options, const Router& router, const ApiKeyAuth& auth);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Register before start().
  void add_websocket(WebSocketRoute route);

  // Binds and starts serving; returns the bound port. Throws baton::Error (unavailable) when the
  // address cannot be bound.
  uint16_t start();
  // Graceful stop as described above; idempotent.
  void stop();

  // Runs `task` on a network thread after the handlers already queued there (from a network
  // thread: after the requests it has already read), for work that gains from gathering what
  // arrives in one turn, such as a group commit. Safe from any thread. False, and `task` does not
  // run, once stop() has begun and in-flight requests have answered; stop() waits for accepted
  // tasks. A task must not block for long: it holds a network thread.
  bool post(std::function<void()> task);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace baton::server
