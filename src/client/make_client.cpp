#include <charconv>
#include <cmath>
#include <cstdlib>
#include <string>

#include "baton/error.h"
#include "client/embedded_client.h"
#include "client/orchestration_client.h"
#include "client/remote_client.h"

namespace baton {

namespace {
// BATON_CLIENT_RETRY_SECONDS: how long a remote call keeps retrying while the server is away.
std::chrono::milliseconds retry_budget(std::chrono::milliseconds otherwise) {
  constexpr const char* kName = "BATON_CLIENT_RETRY_SECONDS";
  const char* text = std::getenv(kName);
  if (!text || !*text) return otherwise;
  const char* end = text + std::char_traits<char>::length(text);
  double seconds = -1;
  auto [stop, ec] = std::from_chars(text, end, seconds);
  if (ec != std::errc() || stop != end || !std::isfinite(seconds) || seconds < 0 || seconds > 86400)
    throw invalid_argument(std::string(kName) + " is '" + text +
                               "', not a number of seconds; expected 0 (no retries) to 86400, "
                               "e.g. 30",
                           kName);
  return std::chrono::milliseconds(std::llround(seconds * 1000));
}
}  // namespace

std::unique_ptr<OrchestrationClient> make_client() {
  if (const char* url = std::getenv("BATON_API_URL"); url && *url) {
    const char* key = std::getenv("BATON_API_KEY");
    RemoteClient::Options options;
    options.retry_for = retry_budget(options.retry_for);
    return std::make_unique<RemoteClient>(url, key ? key : "", options);
  }
  return EmbeddedClient::open();
}

}  // namespace baton
