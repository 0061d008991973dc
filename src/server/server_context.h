// What route handlers share: the orchestration client (rules + storage), the event bus, and
// the server's own stores. Owned by Server; handlers hold references.
//
// Thread-safety: every member is safe to use from any thread.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "client/embedded_client.h"
#include "client/orchestration_client.h"
#include "server/event_bus.h"
#include "server/router.h"

namespace baton::storage {
class ArtifactStore;
class ConcurrencyLimits;
class VariableStore;
}  // namespace baton::storage

namespace baton::server {

class EventStore;
using storage::ArtifactStore;
using storage::ConcurrencyLimits;
using storage::VariableStore;

struct ServerContext {
  OrchestrationClient& client;
  EventBus& bus;
  EventStore* events = nullptr;        // null: events are published live but not stored
  EmbeddedClient* embedded = nullptr;  // `client` when it is embedded (always, in `baton server`)
};

// Adds the routes of one resource group. Each lives in its own routes_<group>.cpp.
void add_system_routes(Router& router, const std::string& api_title);
void add_run_routes(Router& router, ServerContext& ctx);
void add_event_routes(Router& router, ServerContext& ctx);
void add_variable_routes(Router& router, VariableStore& store);
void add_artifact_routes(Router& router, ArtifactStore& store);
void add_concurrency_routes(Router& router, ConcurrencyLimits& limits);

// The event for a run's state change ("baton.flow-run.Running", "baton.task-run.Completed" on
// resource "baton.<kind>.<id>", payload {"validated_state": state}) as the event table row,
// written as text: storage writes it in the same transaction as the change it records.
storage::EventRow state_event_row(const std::string& kind, const std::string& run_id,
                                  const std::string& run_name, const State& state);
// The state's JSON inside a state_event_row's payload (the text append_json(State) wrote), so
// that an answer carrying the same state need not write it again; empty for any other row.
std::string_view validated_state_json(const storage::EventRow& row);
// A stored event row as the JSON event the API serves and the live stream sends.
nlohmann::json event_json(const storage::EventRow& row);
// state_event_row's event as JSON, with `extra` members added to its payload.
nlohmann::json state_event(const std::string& kind, const std::string& run_id,
                           const std::string& run_name, const State& state,
                           const nlohmann::json& extra = {});
// Sends an already stored event to the live stream's subscribers (its JSON is built only when
// there are some).
void publish_event(ServerContext& ctx, const storage::EventRow& row);

// Emits the event for a run's state change (state_event), stored and published.
void emit_state_event(ServerContext& ctx, const std::string& kind, const std::string& run_id,
                      const std::string& run_name, const State& state,
                      const nlohmann::json& extra = {});

}  // namespace baton::server
