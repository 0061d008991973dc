#include "cli/server_connection.h"

#include <cstdlib>

#include "baton/error.h"

namespace baton::cli {

namespace {
using nlohmann::json;

std::string env(const char* name, std::string fallback = {}) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : fallback;
}
}  // namespace

std::string api_url() { return env("BATON_API_URL", "http://127.0.0.1:4200/api"); }
std::string api_key() { return env("BATON_API_KEY"); }
bool server_configured() { return !env("BATON_API_URL").empty(); }

void needing_server(const std::function<void()>& command) {
  try {
    command();
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::kUnavailable || server_configured()) throw;
    throw unavailable(std::string(e.what()) +
                      "; this command needs a Baton server: set BATON_API_URL to its address");
  }
}

EventSubscription::EventSubscription(const json& filter, std::chrono::milliseconds confirm_timeout)
    : ws_(api_url(), "/events/out", api_key()) {
  ws_.send(json{{"type", "filter"}, {"filter", filter}}.dump());
  auto deadline = std::chrono::steady_clock::now() + confirm_timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    auto message = left.count() > 0 ? receive(left) : std::nullopt;
    if (!message)
      throw unavailable("the server at " + api_url() + " did not confirm the event subscription");
    std::string type = message->value("type", "");
    if (type == "subscribed") return;
    if (type == "event") early_.push_back(std::move((*message)["event"]));
  }
}

std::optional<json> EventSubscription::next(std::optional<std::chrono::milliseconds> timeout) {
  if (!early_.empty()) {
    json e = std::move(early_.front());
    early_.pop_front();
    return e;
  }
  auto deadline =
      timeout ? std::optional(std::chrono::steady_clock::now() + *timeout) : std::nullopt;
  for (;;) {
    std::optional<std::chrono::milliseconds> left;
    if (deadline) {
      left = std::chrono::duration_cast<std::chrono::milliseconds>(
          *deadline - std::chrono::steady_clock::now());
      if (left->count() <= 0) return std::nullopt;
    }
    auto message = receive(left);
    if (!message) return std::nullopt;
    if (message->value("type", "") == "event") return std::move((*message)["event"]);
  }
}

std::optional<json> EventSubscription::receive(std::optional<std::chrono::milliseconds> timeout) {
  auto text = ws_.receive(timeout);
  if (!text) {
    if (!ws_.is_open()) throw unavailable("the event stream from " + api_url() + " closed");
    return std::nullopt;
  }
  json message = json::parse(*text, nullptr, false);
  // Not the server's: an empty message of no type, which the callers skip.
  if (!message.is_object()) return json::object();
  if (message.value("type", "") == "error") {
    const json& e = message["error"];
    throw invalid_argument(
        e.value("message", "the server refused the filter"),
        e.contains("field") && e["field"].is_string() ? e["field"].get<std::string>() : "");
  }
  return message;
}

}  // namespace baton::cli
