// The only translation unit of the client layer that includes Boost.Beast (see http_client.h).
// Each connection owns a private io_context; a blocking call starts the async operation and runs
// that context until it completes or the stream's deadline cancels it.
#include "client/http_client.h"

#include <poll.h>

#include <array>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/url/parse.hpp>

#include "baton/error.h"

namespace baton {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

namespace {
void run_until_done(asio::io_context& ioc) {
  ioc.restart();
  ioc.run();
}

beast::error_code connect(asio::io_context& ioc, beast::tcp_stream& stream, const HttpUrl& url,
                          std::chrono::milliseconds timeout) {
  tcp::resolver resolver(ioc);
  beast::error_code ec;
  auto results = resolver.resolve(url.host, url.port, ec);
  if (ec) return ec;
  stream.expires_after(timeout);
  stream.async_connect(results, [&ec](beast::error_code e, const tcp::endpoint&) { ec = e; });
  run_until_done(ioc);
  if (!ec) stream.socket().set_option(tcp::no_delay(true), ec);
  return ec;
}

ConnectionError unreachable(const HttpUrl& url, const beast::error_code& ec) {
  return ConnectionError(
      "cannot reach the Baton server at " + url.to_string() + ": " + ec.message(), false);
}

// A pooled connection is readable only when the server closed it (end of stream or reset) or
// sent something unasked; either way it must not carry another request.
bool closed_by_server(beast::tcp_stream& stream) {
  pollfd p{stream.socket().native_handle(), POLLIN, 0};
  return ::poll(&p, 1, 0) != 0;
}
}  // namespace

HttpUrl HttpUrl::parse(const std::string& text, const std::string& field) {
  auto parsed = boost::urls::parse_uri(text);
  if (!parsed || parsed->scheme() != "http" || parsed->host().empty())
    throw invalid_argument(
        "'" + text + "' is not an http:// URL; expected e.g. http://127.0.0.1:4200/api", field);
  HttpUrl url;
  url.host = std::string(parsed->host());
  if (url.host.size() > 2 && url.host.front() == '[')
    url.host = url.host.substr(1, url.host.size() - 2);
  url.port = parsed->has_port() ? std::string(parsed->port()) : "80";
  url.base_path = std::string(parsed->path());
  while (!url.base_path.empty() && url.base_path.back() == '/') url.base_path.pop_back();
  return url;
}

std::string HttpUrl::to_string() const { return "http://" + host + ":" + port + base_path; }

struct HttpClient::Connection {
  asio::io_context ioc;
  beast::tcp_stream stream{ioc};
  beast::flat_buffer buffer;
};

HttpClient::HttpClient(const std::string& base_url, std::string api_key,
                       std::chrono::milliseconds timeout)
    : url_(HttpUrl::parse(base_url)), api_key_(std::move(api_key)), timeout_(timeout) {}

HttpClient::~HttpClient() = default;

std::unique_ptr<HttpClient::Connection> HttpClient::take() {
  std::lock_guard lock(mutex_);
  if (idle_.empty()) return nullptr;
  auto c = std::move(idle_.back());
  idle_.pop_back();
  return c;
}

void HttpClient::give_back(std::unique_ptr<Connection> c) {
  std::lock_guard lock(mutex_);
  idle_.push_back(std::move(c));
}

HttpResult HttpClient::request(const std::string& method, const std::string& target,
                               const std::string& body, const Headers& headers) {
  // The request head as text, the body beside it, one gathered write: what Beast's serializer
  // would write for the same message, without building its field list on every request.
  std::string head;
  head.reserve(128 + url_.base_path.size() + target.size() + api_key_.size());
  head += method;
  head += ' ';
  head += url_.base_path;
  head += target;
  head += " HTTP/1.1\r\nHost: ";
  head += url_.host;
  head += "\r\nUser-Agent: baton-client\r\n";
  if (!api_key_.empty()) {
    head += "Authorization: Bearer ";
    head += api_key_;
    head += "\r\n";
  }
  for (const auto& [name, value] : headers) {
    head += name;
    head += ": ";
    head += value;
    head += "\r\n";
  }
  if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
    head += "Content-Type: application/json\r\nContent-Length: ";
    head += std::to_string(body.size());
    head += "\r\n";
  }
  head += "\r\n";
  const std::array<asio::const_buffer, 2> message{asio::buffer(head), asio::buffer(body)};

  for (int attempt = 0;; ++attempt) {
    auto c = take();
    while (c && closed_by_server(c->stream)) c = take();
    bool reused = c != nullptr;
    if (!c) {
      c = std::make_unique<Connection>();
      if (auto ec = connect(c->ioc, c->stream, url_, timeout_)) throw unreachable(url_, ec);
    }
    beast::error_code ec;
    http::response_parser<http::string_body> parser;
    parser.body_limit(boost::none);
    c->stream.expires_after(timeout_);
    beast::error_code write_error;
    asio::async_write(c->stream, message, [&](beast::error_code e, size_t) {
      write_error = e;
      if (e == beast::error::timeout) {
        ec = e;
        return;
      }
      // Read the answer even when the write failed: a server refuses an oversized body with 413
      // and closes while the rest of the body is still being sent (then the write fails with a
      // broken pipe, and the answer is what the caller needs).
      http::async_read(c->stream, c->buffer, parser, [&](beast::error_code e2, size_t) {
        ec = e2 && write_error ? write_error : e2;
      });
    });
    run_until_done(c->ioc);
    if (ec) {
      // A kept-alive connection the server closed meanwhile: try once more on a fresh one.
      if (reused && attempt == 0 && ec != beast::error::timeout) continue;
      throw ConnectionError("the connection to the Baton server at " + url_.to_string() +
                                " failed after " + method + " " + target +
                                " was sent: " + ec.message(),
                            true);
    }
    auto res = parser.release();
    HttpResult out{static_cast<int>(res.result_int()), std::move(res.body()),
                   std::string(res[http::field::retry_after])};
    if (res.keep_alive() && !write_error) give_back(std::move(c));
    return out;
  }
}

struct WebSocketClient::Impl {
  asio::io_context ioc;
  websocket::stream<beast::tcp_stream> ws{ioc};
  beast::flat_buffer buffer;
  bool reading = false;
  bool read_done = false;
  beast::error_code read_error;
  bool open = false;
};

WebSocketClient::WebSocketClient(const std::string& base_url, const std::string& path,
                                 const std::string& api_key,
                                 std::chrono::milliseconds connect_timeout)
    : impl_(std::make_unique<Impl>()) {
  HttpUrl url = HttpUrl::parse(base_url);
  auto& im = *impl_;
  if (auto ec = connect(im.ioc, beast::get_lowest_layer(im.ws), url, connect_timeout))
    throw unreachable(url, ec);
  im.ws.set_option(websocket::stream_base::decorator([api_key](websocket::request_type& req) {
    req.set(http::field::user_agent, "baton-client");
    if (!api_key.empty()) req.set(http::field::authorization, "Bearer " + api_key);
  }));
  websocket::response_type response;
  beast::error_code ec;
  im.ws.async_handshake(response, url.host + ":" + url.port, url.base_path + path,
                        [&ec](beast::error_code e) { ec = e; });
  run_until_done(im.ioc);
  if (ec) {
    if (response.result_int() == 401)
      throw Error(ErrorKind::kUnauthorized, "the server refused the API key");
    if (response.result_int() == 404)
      throw not_found("no websocket endpoint at " + url.base_path + path);
    throw unreachable(url, ec);
  }
  beast::get_lowest_layer(im.ws).expires_never();
  im.open = true;
}

WebSocketClient::~WebSocketClient() {
  try {
    close();
  } catch (...) {
  }
}

void WebSocketClient::send(const std::string& text) {
  auto& im = *impl_;
  beast::error_code ec;
  bool written = false;
  im.ws.text(true);
  im.ws.async_write(asio::buffer(text), [&](beast::error_code e, size_t) {
    ec = e;
    written = true;
  });
  // Run until the write completes; a read left pending by a timed-out receive() may complete
  // meanwhile, and receive() picks its result up.
  im.ioc.restart();
  while (!written && im.ioc.run_one() > 0) {
  }
  if (ec) {
    im.open = false;
    throw unavailable("websocket send failed: " + ec.message());
  }
}

std::optional<std::string> WebSocketClient::receive(
    std::optional<std::chrono::milliseconds> timeout) {
  auto& im = *impl_;
  if (!im.open) return std::nullopt;
  if (!im.reading) {
    im.reading = true;
    im.read_done = false;
    im.ws.async_read(im.buffer, [&im](beast::error_code e, size_t) {
      im.read_error = e;
      im.read_done = true;
    });
  }
  im.ioc.restart();
  if (timeout) {
    auto deadline = std::chrono::steady_clock::now() + *timeout;
    while (!im.read_done && im.ioc.run_one_until(deadline) > 0) {
    }
  } else {
    while (!im.read_done && im.ioc.run_one() > 0) {
    }
  }
  if (!im.read_done) return std::nullopt;
  im.reading = false;
  if (im.read_error) {
    im.open = false;
    return std::nullopt;
  }
  std::string text = beast::buffers_to_string(im.buffer.data());
  im.buffer.consume(im.buffer.size());
  return text;
}

bool WebSocketClient::is_open() const { return impl_->open; }

void WebSocketClient::close() {
  auto& im = *impl_;
  if (!im.open) return;
  im.open = false;
  beast::error_code ec;
  beast::get_lowest_layer(im.ws).socket().shutdown(tcp::socket::shutdown_both, ec);
  beast::get_lowest_layer(im.ws).socket().close(ec);
}

}  // namespace baton
