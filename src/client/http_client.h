// A small blocking HTTP/1.1 and websocket client for talking to a Baton server.
//
// HttpClient keeps a pool of keep-alive connections to one base URL (e.g.
// "http://127.0.0.1:4200/api") and sends `Authorization: Bearer <key>` when given a key. Each
// request has a timeout. A pooled connection the server has closed meanwhile (its end of stream
// is waiting to be read) is dropped before use; a request on a reused connection that fails
// before any answer (the server closed it while the request was on its way) is retried once on a
// fresh connection, since a server that closes an idle keep-alive connection has not read it.
//
// Errors: a server that cannot be reached or an exchange that breaks off (refused, reset, timed
// out) → ConnectionError (kind kUnavailable) naming the URL, and telling whether the request may
// have reached the server. HTTP error statuses are not errors here: the caller reads `status`,
// `body` and `retry_after`.
//
// Boost.Beast stays inside http_client.cpp.
//
// Thread-safety: HttpClient::request may be called from any thread concurrently (each call takes
// its own connection from the pool). WebSocketClient is for one thread at a time.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "baton/error.h"

namespace baton {

struct HttpUrl {
  std::string host;
  std::string port;       // "4200"
  std::string base_path;  // "/api" (no trailing slash)
  // Accepts "http://host[:port][/path]"; throws invalid_argument naming `field` otherwise.
  static HttpUrl parse(const std::string& url, const std::string& field = "BATON_API_URL");
  std::string to_string() const;
};

struct HttpResult {
  int status = 0;
  std::string body;
  std::string retry_after;  // the Retry-After header's value; empty when the answer has none
};

// What HttpClient::request throws when no answer came: kind kUnavailable, naming the URL.
// sent() is false when no connection could be established (refused, unreachable, connect timed
// out, name not resolved): the request never left this process, so repeating it is always safe.
// It is true when the connection failed after the request was written (reset, closed, timed out
// waiting for the answer): the server may have applied it.
class ConnectionError : public Error {
 public:
  ConnectionError(std::string message, bool sent)
      : Error(ErrorKind::kUnavailable, std::move(message)), sent_(sent) {}
  bool sent() const noexcept { return sent_; }

 private:
  bool sent_;
};

class HttpClient {
 public:
  HttpClient(const std::string& base_url, std::string api_key,
             std::chrono::milliseconds timeout = std::chrono::seconds(30));
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // `target` is appended to the base path: request("POST", "/flow_runs/filter", body).
  // `headers`: extra header lines, {name, value} (e.g. {"Idempotency-Key", key}).
  using Headers = std::vector<std::pair<std::string, std::string>>;
  HttpResult request(const std::string& method, const std::string& target,
                     const std::string& body = {}, const Headers& headers = {});

  const HttpUrl& url() const { return url_; }

 private:
  struct Connection;
  std::unique_ptr<Connection> take();
  void give_back(std::unique_ptr<Connection> c);

  HttpUrl url_;
  std::string api_key_;
  std::chrono::milliseconds timeout_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<Connection>> idle_;
};

class WebSocketClient {
 public:
  // Connects to base_url + path (e.g. "/events/out"); throws unavailable when it cannot, and
  // Error(kUnauthorized) when the server refuses the key.
  WebSocketClient(const std::string& base_url, const std::string& path, const std::string& api_key,
                  std::chrono::milliseconds connect_timeout = std::chrono::seconds(10));
  ~WebSocketClient();
  void send(const std::string& text);
  // The next text message; nullopt when `timeout` passes first (or the connection closed — see
  // is_open()).
  std::optional<std::string> receive(
      std::optional<std::chrono::milliseconds> timeout = std::nullopt);
  bool is_open() const;
  void close();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace baton
