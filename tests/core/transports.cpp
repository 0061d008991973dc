#include "transports.h"

#include "client/embedded_client.h"
#include "client/remote_client.h"
#include "server_process.h"

namespace baton::testing {

std::vector<SdkTransport> sdk_transports() {
  return {
      {"embedded", [] { return std::unique_ptr<OrchestrationClient>(EmbeddedClient::open()); }},
      // One real `baton server` per test process, started on first use, on a loopback port.
      {"remote",
       [] {
         static ServerProcess server;
         return std::unique_ptr<OrchestrationClient>(
             std::make_unique<RemoteClient>(server.url(), ""));
       }},
  };
}

}  // namespace baton::testing
