#include "server/event_bus.h"

#include <algorithm>

namespace baton::server {

std::shared_ptr<EventBus::Subscription> EventBus::subscribe(Matcher matches, Callback deliver) {
  auto sub = std::make_shared<Subscription>(Subscription{std::move(matches), std::move(deliver)});
  std::lock_guard lock(mutex_);
  subscribers_.push_back(sub);
  return sub;
}

void EventBus::publish(const nlohmann::json& event) {
  std::vector<std::shared_ptr<Subscription>> live;
  {
    std::lock_guard lock(mutex_);
    if (subscribers_.empty()) return;
    std::erase_if(subscribers_, [](const auto& w) { return w.expired(); });
    for (const auto& w : subscribers_)
      if (auto s = w.lock()) live.push_back(std::move(s));
  }
  for (const auto& s : live)
    if (!s->matches || s->matches(event)) s->deliver(event);
}

size_t EventBus::subscriber_count() {
  std::lock_guard lock(mutex_);
  std::erase_if(subscribers_, [](const auto& w) { return w.expired(); });
  return subscribers_.size();
}

}  // namespace baton::server
