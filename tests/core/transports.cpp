#include "transports.h"

#include "client/embedded_client.h"

namespace baton::testing {

std::vector<SdkTransport> sdk_transports() {
  return {
      {"embedded", [] { return std::unique_ptr<OrchestrationClient>(EmbeddedClient::open()); }},
  };
}

}  // namespace baton::testing
