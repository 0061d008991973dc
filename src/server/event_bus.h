// In-process publish/subscribe of events, feeding the websocket stream /api/events/out.
//
// Publishers (route handlers recording state changes) call publish(); every subscriber whose
// filter matches receives the event's JSON through its callback. Subscribers are held weakly
// through a token: dropping the token unsubscribes.
//
// Thread-safety: all methods are safe from any thread. Callbacks run on the publishing thread and
// must not block (the websocket peer only queues the frame).
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <vector>

namespace baton::server {

class EventBus {
 public:
  using Matcher = std::function<bool(const nlohmann::json& event)>;
  using Callback = std::function<void(const nlohmann::json& event)>;

  struct Subscription {
    Matcher matches;
    Callback deliver;
  };
  // Keep the returned pointer alive for as long as the subscription should last.
  std::shared_ptr<Subscription> subscribe(Matcher matches, Callback deliver);

  void publish(const nlohmann::json& event);
  size_t subscriber_count();

 private:
  std::mutex mutex_;
  std::vector<std::weak_ptr<Subscription>> subscribers_;
};

}  // namespace baton::server
