// How the CLI reaches a Baton server for what only a server offers (the live event stream, posting
// events): its address and key from the environment, and a subscription to its event stream.
//
// The websocket itself lives in client/http_client.cpp (Boost.Beast stays there).
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "client/http_client.h"

namespace baton::cli {

// BATON_API_URL, or http://127.0.0.1:4200/api (where `baton server start` listens by default).
std::string api_url();
// BATON_API_KEY, or "" (no key).
std::string api_key();
// Whether BATON_API_URL is set, i.e. whether make_client() talks to a server.
bool server_configured();

// Runs `command`, which needs a server. When it cannot reach one and BATON_API_URL is unset, the
// unavailable error says so (the command tried the default address).
void needing_server(const std::function<void()>& command);

// A live subscription to the server's event stream (/api/events/out): the events matching
// `filter` (the server's EventFilter JSON, e.g. {"resource": {"id": ["baton.flow-run.<id>"]}})
// that happen once the constructor has returned.
//
// Errors: the constructor throws unavailable when the server cannot be reached or does not confirm
// the subscription within `confirm_timeout`, Error(kUnauthorized) when it refuses the key, and
// invalid_argument naming the field when it refuses the filter. next() throws unavailable when the
// stream closes.
//
// Thread-safety: one thread at a time.
class EventSubscription {
 public:
  explicit EventSubscription(const nlohmann::json& filter,
                             std::chrono::milliseconds confirm_timeout = std::chrono::seconds(10));

  // The next matching event (the event object, not the stream's envelope); nullopt when `timeout`
  // passes first. Without a timeout, waits as long as it takes.
  std::optional<nlohmann::json> next(
      std::optional<std::chrono::milliseconds> timeout = std::nullopt);

 private:
  // The next message (an object; an empty one for anything that is not); nullopt on timeout.
  // Throws as described above.
  std::optional<nlohmann::json> receive(std::optional<std::chrono::milliseconds> timeout);

  WebSocketClient ws_;
  // Events that arrived before the confirmation (the server may send one first when it is busy).
  std::deque<nlohmann::json> early_;
};

}  // namespace baton::cli
