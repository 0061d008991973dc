// A GitHub-stars style flow: call an HTTP API whose base URL is a parameter.
//
// fetch_stars() GETs <base_url>/repos/<owner>/<name> with Boost.Beast's synchronous client and
// reads stargazers_count; it retries twice on network errors. The flow maps it over the
// repositories. Without --params, the program starts a local stand-in for the API on 127.0.0.1
// (see fake_github.cpp) so that it never needs the internet:
//
//   ./example_github_stars
//   ./example_github_stars --flow github_stars --params '{"base_url": "http://127.0.0.1:8080",
//                                                          "repos": ["PrefectHQ/prefect"]}'
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/url/parse.hpp>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "baton/baton.h"
#include "fake_github.h"

struct StarsParams {
  std::string base_url = "https://api.github.com";
  std::vector<std::string> repos = {"PrefectHQ/prefect", "apache/airflow", "dagster-io/dagster"};
};
BATON_PARAMS(StarsParams, base_url, repos)

namespace {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

// GET url, synchronously. Throws on network errors and non-200 answers.
std::string http_get(const std::string& url) {
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed) throw baton::invalid_argument("'" + url + "' is not a URL", "parameters.base_url");
  if (parsed->scheme() != "http")
    throw baton::invalid_argument(
        "only http:// URLs are supported by this example, got '" + url + "'",
        "parameters.base_url");
  std::string host(parsed->host());
  std::string port = parsed->has_port() ? std::string(parsed->port()) : "80";
  std::string target(parsed->encoded_target());
  if (target.empty()) target = "/";

  asio::io_context io;
  tcp::resolver resolver(io);
  beast::tcp_stream stream(io);
  stream.expires_after(std::chrono::seconds(10));
  stream.connect(resolver.resolve(host, port));
  http::request<http::empty_body> req{http::verb::get, target, 11};
  req.set(http::field::host, host);
  req.set(http::field::user_agent, "baton-example");
  req.set(http::field::accept, "application/json");
  http::write(stream, req);
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(stream, buffer, res);
  beast::error_code ec;
  stream.socket().shutdown(tcp::socket::shutdown_both, ec);
  if (res.result() != http::status::ok)
    throw std::runtime_error("GET " + url + " answered " + std::to_string(res.result_int()));
  return res.body();
}
}  // namespace

int main(int argc, char** argv) {
  auto fetch_stars = baton::task("fetch_stars",
                                 [](const std::string& repo, const std::string& base_url) {
                                   auto body =
                                       nlohmann::json::parse(http_get(base_url + "/repos/" + repo));
                                   int stars = body.at("stargazers_count").get<int>();
                                   baton::get_run_logger().info("{} has {} stars", repo, stars);
                                   return stars;
                                 })
                         .arg_names({"repo", "base_url"})
                         .task_run_name("stars-{repo}")
                         .retries(2)
                         .retry_delay(std::chrono::milliseconds(100));

  auto github_stars = baton::flow("github_stars", [&](const StarsParams& p) {
                        auto stars =
                            fetch_stars.map(p.repos, baton::unmapped(p.base_url)).results();
                        for (std::size_t i = 0; i < p.repos.size(); ++i)
                          std::cout << p.repos[i] << ": " << stars[i] << " stars\n";
                        return stars;
                      }).log_prints();

  return baton::main(argc, argv, [&] {
    examples::FakeGithub local_api;  // never the internet in the demo
    StarsParams params;
    params.base_url = "http://127.0.0.1:" + std::to_string(local_api.port());
    std::cout << "No --params given: asking a local stand-in for the GitHub API at "
              << params.base_url << "\n";
    auto stars = github_stars(params);
    std::cout << "GitHub stars: fetched " << stars.size() << " repositories through task runs.\n";
    return 0;
  });
}
