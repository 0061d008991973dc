#include "transports.h"

#include "client/embedded_client.h"

namespace baton::testing {

std::vector<Transport> sdk_transports() {
  return {
      {"embedded", [] { return std::unique_ptr<OrchestrationClient>(EmbeddedClient::open()); }},
  };
}

}  // namespace baton::testing
