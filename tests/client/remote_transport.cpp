// The remote transport for the client suites: a real `baton server start` process on a loopback
// port per test home, and a RemoteClient talking HTTP to it.
#include <map>

#include "client/remote_client.h"
#include "client_suite.h"
#include "server_process.h"

namespace baton::testing {
namespace {

class RemoteTransport : public Transport {
 public:
  std::unique_ptr<OrchestrationClient> connect(const std::filesystem::path& home) override {
    return std::make_unique<RemoteClient>(server_for(home).url(), "");
  }
  std::vector<std::string> child_environment(const std::filesystem::path& home) override {
    return {"BATON_HOME=" + home.string(), "BATON_API_URL=" + server_for(home).url()};
  }

 private:
  ServerProcess& server_for(const std::filesystem::path& home) {
    auto& slot = servers_[home.string()];
    if (!slot)
      slot = std::make_unique<ServerProcess>(ServerProcess::Options{.home = home.string()});
    return *slot;
  }
  std::map<std::string, std::unique_ptr<ServerProcess>> servers_;
};

const TransportParam kRemote{"remote", [] { return std::make_unique<RemoteTransport>(); }};

INSTANTIATE_TEST_SUITE_P(Remote, ClientSuite, ::testing::Values(kRemote), transport_name);
INSTANTIATE_TEST_SUITE_P(Remote, MultiProcessSuite, ::testing::Values(kRemote), transport_name);

}  // namespace
}  // namespace baton::testing
