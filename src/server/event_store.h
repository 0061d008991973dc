// Where events are kept so they can be queried after the fact (POST /api/events/filter).
//
// Events are JSON objects in Prefect's shape: {"id", "occurred", "event", "resource", "related",
// "payload"}. append() returns once the events are durable.
//
// Thread-safety: implementations are safe to call from any thread.
#pragma once

#include <nlohmann/json.hpp>
#include <vector>

#include "server/event_filter.h"

namespace baton::server {

class EventStore {
 public:
  virtual ~EventStore() = default;
  virtual void append(const std::vector<nlohmann::json>& events) = 0;
  // Waits until everything appended before the call is durable; throws the first write error.
  virtual void flush() = 0;
  // Oldest first.
  virtual std::vector<nlohmann::json> filter(const EventFilter& filter, int limit, int offset) = 0;
};

}  // namespace baton::server
