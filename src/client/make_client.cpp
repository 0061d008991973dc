#include <cstdlib>

#include "baton/error.h"
#include "client/embedded_client.h"
#include "client/orchestration_client.h"

namespace baton {

std::unique_ptr<OrchestrationClient> make_client() {
  if (const char* url = std::getenv("BATON_API_URL"); url && *url) {
    // The remote (HTTP) transport joins this library with the server; until then say so plainly
    // rather than silently writing to a local database the user did not ask for.
    throw unavailable(std::string("BATON_API_URL is set (") + url +
                      ") but this build has no remote transport; unset it to use the embedded "
                      "database under BATON_HOME");
  }
  return EmbeddedClient::open();
}

}  // namespace baton
