#include <cstdlib>

#include "baton/error.h"
#include "client/embedded_client.h"
#include "client/orchestration_client.h"
#include "client/remote_client.h"

namespace baton {

std::unique_ptr<OrchestrationClient> make_client() {
  if (const char* url = std::getenv("BATON_API_URL"); url && *url) {
    const char* key = std::getenv("BATON_API_KEY");
    return std::make_unique<RemoteClient>(url, key ? key : "");
  }
  return EmbeddedClient::open();
}

}  // namespace baton
