// The fake GitHub API: Boost.Beast's synchronous server API, one connection at a time.
#include "fake_github.h"

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

namespace examples {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {
const std::map<std::string, int> kStars = {{"PrefectHQ/prefect", 17800},
                                           {"apache/airflow", 38200},
                                           {"dagster-io/dagster", 11900},
                                           {"baton/baton", 42}};

http::response<http::string_body> answer(const http::request<http::string_body>& req) {
  http::response<http::string_body> res;
  res.version(req.version());
  res.set(http::field::content_type, "application/json");
  std::string target(req.target());
  const std::string prefix = "/repos/";
  auto it = target.rfind(prefix, 0) == 0 ? kStars.find(target.substr(prefix.size())) : kStars.end();
  if (req.method() != http::verb::get || it == kStars.end()) {
    res.result(http::status::not_found);
    res.body() = R"({"message": "Not Found"})";
  } else {
    res.result(http::status::ok);
    res.body() = nlohmann::json{{"full_name", it->first}, {"stargazers_count", it->second}}.dump();
  }
  res.prepare_payload();
  return res;
}
}  // namespace

struct FakeGithub::Impl {
  asio::io_context io;
  tcp::acceptor acceptor{io};
  std::atomic<bool> stopping{false};
  std::thread thread;

  void serve(int max_requests) {
    for (int served = 0; served < max_requests; ++served) {
      beast::error_code ec;
      tcp::socket socket(io);
      acceptor.accept(socket, ec);
      if (ec || stopping) return;
      beast::flat_buffer buffer;
      http::request<http::string_body> req;
      http::read(socket, buffer, req, ec);
      if (ec) continue;
      auto res = answer(req);
      res.keep_alive(false);
      http::write(socket, res, ec);
      socket.shutdown(tcp::socket::shutdown_both, ec);
    }
  }
};

FakeGithub::FakeGithub(unsigned short port, int max_requests) : impl_(std::make_unique<Impl>()) {
  tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), port);
  impl_->acceptor.open(endpoint.protocol());
  impl_->acceptor.set_option(asio::socket_base::reuse_address(true));
  impl_->acceptor.bind(endpoint);
  impl_->acceptor.listen();
  impl_->thread = std::thread([this, max_requests] { impl_->serve(max_requests); });
}

FakeGithub::~FakeGithub() {
  beast::error_code ec;
  // Closing the acceptor does not wake a blocking accept(): raise the flag, then connect once so
  // that the serving thread wakes, sees it and returns.
  impl_->stopping = true;
  {
    asio::io_context io;
    tcp::socket poke(io);
    poke.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port()), ec);
  }
  impl_->thread.join();
  impl_->acceptor.close(ec);
}

unsigned short FakeGithub::port() const { return impl_->acceptor.local_endpoint().port(); }

}  // namespace examples
