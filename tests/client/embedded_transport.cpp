// The embedded transport for the client suites: the SQLite file under the test's own home.
#include "client/embedded_client.h"
#include "client_suite.h"

namespace baton::testing {
namespace {

class EmbeddedTransport : public Transport {
 public:
  std::unique_ptr<OrchestrationClient> connect(const std::filesystem::path& home) override {
    return EmbeddedClient::open((home / "baton.db").string());
  }
  std::vector<std::string> child_environment(const std::filesystem::path& home) override {
    return {"BATON_HOME=" + home.string()};
  }
};

const TransportParam kEmbedded{"embedded", [] { return std::make_unique<EmbeddedTransport>(); }};

INSTANTIATE_TEST_SUITE_P(Embedded, ClientSuite, ::testing::Values(kEmbedded), transport_name);
INSTANTIATE_TEST_SUITE_P(Embedded, MultiProcessSuite, ::testing::Values(kEmbedded), transport_name);

}  // namespace
}  // namespace baton::testing
