// The only translation unit of the server that includes Boost.Beast (see http_server.h).
#include "server/http_server.h"

#include <spdlog/spdlog.h>

#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/url/parse.hpp>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include "baton/error.h"

namespace baton::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

namespace {

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::chrono::seconds kIdleTimeout{300};

// One io_context per network thread, each run by its thread alone, and each connection served by
// one of them for its whole life: a request is read, handled and answered on one thread, with no
// hand-over to another (with one context shared by two threads, each request woke the other
// thread two or three times: a futex wake and a context switch each). The hint tells Asio a
// context has one thread, so what a handler posts stays on that thread's own queue.
struct NetworkThread {
  explicit NetworkThread(const void* s) : server(s) {}
  const void* server;  // the HttpServer::Impl it serves
  asio::io_context context{1};
  asio::executor_work_guard<asio::io_context::executor_type> keep_running{context.get_executor()};
  std::thread thread;
};
// The network thread running on this thread, if any.
thread_local NetworkThread* current_network_thread = nullptr;

// Converts Beast's request into ours: decoded path and query, lower-case header names.
Request to_request(http::request<http::string_body>& in) {
  Request out;
  out.method = std::string(in.method_string());
  auto target = in.target();
  std::string_view text(target.data(), target.size());
  // A target with no query, escape or fragment is its own decoded path whether or not it parses
  // as origin-form (the fallback below takes it whole): most requests skip the URL parser.
  if (text.find_first_of("?%#") == std::string_view::npos) {
    out.path = std::string(text);
  } else if (auto parsed = boost::urls::parse_origin_form(text)) {
    out.path = std::string(parsed->path());
    for (auto param : parsed->params())
      out.query.emplace(std::string(param.key),
                        param.has_value ? std::string(param.value) : std::string());
  } else {
    out.path = std::string(target);
  }
  for (const auto& field : in) {
    std::string name(field.name_string());
    for (auto& c : name)
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');  // names are ASCII tokens
    out.headers[std::move(name)] = std::string(field.value());
  }
  out.body = std::move(in.body());
  return out;
}

// An answer as the bytes sent: the status line and headers as text, and the body, written
// together in one gathered write: the bytes Beast's serializer would write for the same message,
// without its per-field work on every answer.
struct Answer {
  std::string head;
  std::string body;
  std::array<asio::const_buffer, 2> buffers() const {
    return {asio::buffer(head), asio::buffer(body)};
  }
};

Answer to_answer(Response& r, unsigned version, bool keep_alive) {
  Answer a;
  bool has_body = r.status != 204 && r.status != 304 && r.status >= 200;
  if (has_body) a.body = r.raw_body ? std::move(*r.raw_body) : r.body.dump();
  auto reason = http::obsolete_reason(static_cast<http::status>(r.status));
  std::string& h = a.head;
  h.reserve(128);
  h += version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
  h += std::to_string(r.status);
  h += ' ';
  h.append(reason.data(), reason.size());
  h += "\r\nServer: baton\r\n";
  if (has_body) {
    h += "Content-Type: ";
    h += r.content_type;
    h += "\r\n";
  }
  for (const auto& [name, value] : r.headers) {
    h += name;
    h += ": ";
    h += value;
    h += "\r\n";
  }
  if (version == 10 && keep_alive) h += "Connection: keep-alive\r\n";
  if (version != 10 && !keep_alive) h += "Connection: close\r\n";
  if (has_body) {
    h += "Content-Length: ";
    h += std::to_string(a.body.size());
    h += "\r\n";
  }
  h += "\r\n";
  return a;
}

Response plain_error(ErrorKind kind, const std::string& message) {
  return Response::json(error_body(to_string(kind), message, ""), http_status(kind));
}

std::string header(const Request& r, const std::string& name) {
  auto it = r.headers.find(name);
  return it == r.headers.end() ? std::string() : it->second;
}

}  // namespace

// A websocket connection: a read loop delivering messages to the application, and a write queue
// drained by one writer coroutine at a time on the connection's network thread.
class WsPeer : public WebSocketPeer, public std::enable_shared_from_this<WsPeer> {
 public:
  explicit WsPeer(beast::tcp_stream stream) : ws_(std::move(stream)) {}

  void send(std::string text) override {
    if (!open_) return;
    asio::post(ws_.get_executor(), [self = shared_from_this(), text = std::move(text)]() mutable {
      if (!self->open_) return;
      self->queue_.push_back(std::move(text));
      if (!self->writing_) {
        self->writing_ = true;
        asio::co_spawn(self->ws_.get_executor(), self->write_loop(), asio::detached);
      }
    });
  }

  void close() override {
    asio::post(ws_.get_executor(), [self = shared_from_this()] {
      if (!self->open_) return;
      self->open_ = false;
      beast::error_code ec;
      beast::get_lowest_layer(self->ws_).socket().shutdown(tcp::socket::shutdown_both, ec);
      beast::get_lowest_layer(self->ws_).socket().close(ec);
    });
  }

  bool is_open() const override { return open_; }

  asio::awaitable<void> run(http::request<http::string_body> upgrade,
                            std::function<void(const std::string&)>& on_message) {
    beast::get_lowest_layer(ws_).expires_never();
    ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    auto [ec] = co_await ws_.async_accept(upgrade, kUseTuple);
    if (ec) {
      open_ = false;
      co_return;
    }
    beast::flat_buffer buffer;
    while (open_) {
      auto [rec, n] = co_await ws_.async_read(buffer, kUseTuple);
      if (rec) break;
      std::string text = beast::buffers_to_string(buffer.data());
      buffer.consume(buffer.size());
      if (on_message) on_message(text);
    }
    open_ = false;
  }

 private:
  asio::awaitable<void> write_loop() {
    auto self = shared_from_this();
    while (!queue_.empty() && open_) {
      std::string text = std::move(queue_.front());
      queue_.pop_front();
      ws_.text(true);
      auto [ec, n] = co_await ws_.async_write(asio::buffer(text), kUseTuple);
      if (ec) {
        open_ = false;
        break;
      }
    }
    writing_ = false;
  }

  websocket::stream<beast::tcp_stream> ws_;
  std::atomic<bool> open_{true};
  std::deque<std::string> queue_;
  bool writing_ = false;
};

struct HttpServer::Impl {
  struct Session {
    explicit Session(tcp::socket socket)
        : executor(socket.get_executor()), stream(std::move(socket)) {}
    asio::any_io_executor executor;  // the connection's network thread; outlives a move of `stream`
    beast::tcp_stream stream;
    bool busy = false;      // between reading a request and writing its answer; its thread only
    bool upgraded = false;  // became a websocket
    std::shared_ptr<WsPeer> peer;
  };

  Impl(HttpServerOptions o, const Router& r, const ApiKeyAuth& a)
      : options(std::move(o)),
        router(r),
        auth(a),
        workers(static_cast<size_t>(std::max(1, options.worker_threads))) {
    for (int i = 0; i < std::max(1, options.io_threads); ++i)
      network.push_back(std::make_unique<NetworkThread>(this));
  }

  HttpServerOptions options;
  const Router& router;
  const ApiKeyAuth& auth;
  std::vector<WebSocketRoute> ws_routes;
  std::vector<std::unique_ptr<NetworkThread>> network;
  size_t next_network = 0;  // accept_loop only: where the next connection goes
  // The acceptor lives on the first network thread: accept_loop and stop() use it only there.
  std::optional<tcp::acceptor> acceptor;
  asio::thread_pool workers;
  std::atomic<bool> stopping{false};
  bool started = false, stopped = false;

  std::mutex mutex;
  std::condition_variable sessions_done;
  // post(): tasks accepted and not yet run, and whether more are accepted.
  std::mutex posts_mutex;
  std::condition_variable posts_done;
  int posts_pending = 0;
  bool posts_closed = false;
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions;

  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto& home = network[next_network++ % network.size()]->context;
      auto [ec, socket] = co_await acceptor->async_accept(home, kUseTuple);
      if (ec) {
        if (!acceptor->is_open() || stopping) co_return;
        spdlog::warn("accept failed: {}", ec.message());
        continue;
      }
      socket.set_option(tcp::no_delay(true));
      auto session = std::make_shared<Session>(std::move(socket));
      {
        std::lock_guard lock(mutex);
        sessions.emplace(session.get(), session);
      }
      asio::co_spawn(session->executor, serve(session),
                     [this, raw = session.get()](std::exception_ptr e) {
                       if (e) {
                         try {
                           std::rethrow_exception(e);
                         } catch (const std::exception& ex) {
                           spdlog::error("connection ended by an unexpected error: {}", ex.what());
                         }
                       }
                       std::lock_guard lock(mutex);
                       sessions.erase(raw);
                       if (sessions.empty()) sessions_done.notify_all();
                     });
    }
  }

  // Runs an asynchronous route. The handler answers from whichever thread completes its work:
  // often this one (a request that found no group commit in progress commits it here and is
  // answered before execute_async returns), and then the answer is used at once; otherwise the
  // coroutine suspends and the answer is posted back to this connection's network thread. Deciding
  // which under one mutex means the answer is neither lost nor delivered twice, and the
  // coroutine is never resumed from inside its own initiation.
  asio::awaitable<Response> answer_async(const Route& route, Request& request) {
    struct Pending {
      std::mutex mutex;
      std::optional<Response> response;      // an answer that came before `resume`
      std::function<void(Response)> resume;  // set once the coroutine has suspended
    };
    auto pending = std::make_shared<Pending>();
    router.execute_async(route, request, [pending](Response r) {
      std::unique_lock lock(pending->mutex);
      if (!pending->resume) {
        pending->response = std::move(r);
        return;
      }
      auto resume = std::move(pending->resume);
      lock.unlock();
      resume(std::move(r));
    });
    {
      std::lock_guard lock(pending->mutex);
      if (pending->response) co_return std::move(*pending->response);
    }
    // The initiation captures by reference, and the answer is taken into a local before
    // co_return: GCC 12 destroys temporaries of a `co_return co_await` expression twice (a
    // lambda holding a shared_ptr there is freed twice, found with ASan).
    Pending* p = pending.get();
    Response answer = co_await asio::async_initiate<decltype(asio::use_awaitable), void(Response)>(
        [p](auto handler) {
          auto shared = std::make_shared<decltype(handler)>(std::move(handler));
          std::function<void(Response)> resume = [shared](Response r) {
            auto executor = asio::get_associated_executor(*shared);
            asio::post(executor, [shared, r = std::move(r)]() mutable { (*shared)(std::move(r)); });
          };
          std::unique_lock lock(p->mutex);
          if (p->response) {
            // Answered between the check above and this initiation: still post, never resume
            // from inside the initiation.
            Response r = std::move(*p->response);
            p->response.reset();
            lock.unlock();
            resume(std::move(r));
            return;
          }
          p->resume = std::move(resume);
        },
        asio::use_awaitable);
    co_return answer;
  }

  asio::awaitable<Response> dispatch(Request& request) {
    Router::Match m = router.match(request);
    bool exempt = m.route && !m.route->requires_auth;
    if (!exempt && !auth.allowed(header(request, "authorization")))
      co_return plain_error(ErrorKind::kUnauthorized, "missing or invalid API key");
    if (!m.route) co_return std::move(*m.error);
    const Route& route = *m.route;
    if (route.async_handler) {
      Response answer = co_await answer_async(route, request);
      co_return answer;
    }
    if (!route.blocking) co_return router.execute(route, request);
    co_return co_await asio::co_spawn(
        workers, [&]() -> asio::awaitable<Response> { co_return router.execute(route, request); },
        asio::use_awaitable);
  }

  // Writes `r` on the session's stream as to_answer() spells it; the write's error.
  asio::awaitable<beast::error_code> send(Session& s, Response& r, unsigned version,
                                          bool keep_alive) {
    Answer answer = to_answer(r, version, keep_alive);
    auto [ec, n] = co_await asio::async_write(s.stream, answer.buffers(), kUseTuple);
    co_return ec;
  }

  asio::awaitable<void> serve(std::shared_ptr<Session> s) {
    beast::flat_buffer buffer;
    for (;;) {
      s->busy = false;
      if (stopping) break;
      http::request_parser<http::string_body> parser;
      parser.body_limit(options.body_limit);
      s->stream.expires_after(kIdleTimeout);
      auto [ec, n] = co_await http::async_read(s->stream, buffer, parser, kUseTuple);
      if (ec) {
        if (ec == http::error::body_limit) {
          Response r =
              plain_error(ErrorKind::kTooLarge, "the request body is larger than the limit of " +
                                                    std::to_string(options.body_limit) + " bytes");
          co_await send(*s, r, parser.get().version(), false);
        } else if (ec != http::error::end_of_stream && ec != asio::error::operation_aborted &&
                   ec != beast::error::timeout && ec != asio::error::eof &&
                   ec != asio::error::connection_reset && ec != asio::error::bad_descriptor) {
          Response r =
              plain_error(ErrorKind::kMalformed, "malformed HTTP request: " + ec.message());
          co_await send(*s, r, 11, false);
        }
        break;
      }
      s->busy = true;
      s->stream.expires_never();
      auto& beast_request = parser.get();
      if (websocket::is_upgrade(beast_request)) {
        co_await upgrade(s, parser.release());
        co_return;
      }
      bool keep_alive = beast_request.keep_alive();
      unsigned version = beast_request.version();
      Request request = to_request(beast_request);
      Response response = co_await dispatch(request);
      keep_alive = keep_alive && !stopping;
      beast::error_code wec = co_await send(*s, response, version, keep_alive);
      if (wec || !keep_alive) break;
    }
    beast::error_code ec;
    s->stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  asio::awaitable<void> upgrade(std::shared_ptr<Session> s,
                                http::request<http::string_body> beast_request) {
    http::request<http::string_body> copy = beast_request;
    Request request = to_request(copy);
    const WebSocketRoute* route = nullptr;
    for (const auto& r : ws_routes)
      if (r.path == request.path) route = &r;
    Response refusal;
    if (!auth.allowed(header(request, "authorization")))
      refusal = plain_error(ErrorKind::kUnauthorized, "missing or invalid API key");
    else if (!route)
      refusal = Response::json(
          error_body("not_found", "no websocket endpoint at " + request.path, ""), 404);
    if (refusal.status != 200) {
      co_await send(*s, refusal, beast_request.version(), false);
      co_return;
    }
    auto peer = std::make_shared<WsPeer>(std::move(s->stream));
    s->upgraded = true;
    s->peer = peer;
    auto on_message = route->open(peer, request);
    co_await peer->run(std::move(beast_request), on_message);
  }

  void close_idle() {
    std::vector<std::shared_ptr<Session>> live;
    {
      std::lock_guard lock(mutex);
      for (auto& [raw, weak] : sessions)
        if (auto s = weak.lock()) live.push_back(std::move(s));
    }
    for (auto& s : live) {
      asio::post(s->executor, [s] {
        if (s->upgraded) {
          if (s->peer) s->peer->close();
          return;
        }
        if (s->busy) return;
        beast::error_code ec;
        s->stream.socket().shutdown(tcp::socket::shutdown_both, ec);
        s->stream.socket().close(ec);
      });
    }
  }
};

int network_threads_default() {
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency() / 2));
}

HttpServer::HttpServer(HttpServerOptions options, const Router& router, const ApiKeyAuth& auth)
    : impl_(std::make_unique<Impl>(std::move(options), router, auth)) {}

HttpServer::~HttpServer() { stop(); }

void HttpServer::add_websocket(WebSocketRoute route) {
  impl_->ws_routes.push_back(std::move(route));
}

uint16_t HttpServer::start() {
  auto& im = *impl_;
  beast::error_code ec;
  auto address = asio::ip::make_address(im.options.host, ec);
  if (ec) throw invalid_argument("'" + im.options.host + "' is not an IP address", "host");
  tcp::endpoint endpoint{address, im.options.port};
  auto& first = im.network.front()->context;
  im.acceptor.emplace(first);
  im.acceptor->open(endpoint.protocol(), ec);
  if (!ec) im.acceptor->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) im.acceptor->bind(endpoint, ec);
  if (!ec) im.acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    throw unavailable("cannot listen on " + im.options.host + ":" +
                      std::to_string(im.options.port) + ": " + ec.message());
  uint16_t port = im.acceptor->local_endpoint().port();
  asio::co_spawn(first, im.accept_loop(), asio::detached);
  for (auto& n : im.network)
    n->thread = std::thread([&im, n = n.get()] {
      current_network_thread = n;
      n->context.run();
    });
  im.started = true;
  return port;
}

void HttpServer::stop() {
  auto& im = *impl_;
  if (im.stopped) return;
  im.stopped = true;
  if (!im.started) return;
  im.stopping = true;
  asio::post(im.network.front()->context, [&im] {
    beast::error_code ec;
    im.acceptor->close(ec);
  });
  im.close_idle();
  {
    // In-flight requests finish and answer; connections close after their answer. A client that
    // holds a connection open without sending anything is closed above; one that trickles a
    // request forever is cut off after a grace period.
    std::unique_lock lock(im.mutex);
    im.sessions_done.wait_for(lock, std::chrono::seconds(10),
                              [&im] { return im.sessions.empty(); });
  }
  im.workers.join();
  {
    // Tasks already accepted run (a group commit whose requests have gone still completes).
    std::unique_lock lock(im.posts_mutex);
    im.posts_closed = true;
    im.posts_done.wait(lock, [&im] { return im.posts_pending == 0; });
  }
  for (auto& n : im.network) n->context.stop();
  for (auto& n : im.network) n->thread.join();
}

bool HttpServer::post(std::function<void()> task) {
  auto& im = *impl_;
  {
    std::lock_guard lock(im.posts_mutex);
    if (im.posts_closed) return false;
    ++im.posts_pending;
  }
  // From a network thread the task joins that thread's own queue, behind the handlers already
  // queued (defer: no wake-up); from elsewhere it goes to the first network thread.
  NetworkThread* n = current_network_thread;
  if (!n || n->server != &im) n = im.network.front().get();
  asio::defer(n->context, [&im, task = std::move(task)] {
    task();
    std::lock_guard lock(im.posts_mutex);
    if (--im.posts_pending == 0 && im.posts_closed) im.posts_done.notify_all();
  });
  return true;
}

}  // namespace baton::server
