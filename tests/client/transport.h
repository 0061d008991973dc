// The client test suite runs against every transport registered here. A transport turns a fresh
// BATON_HOME folder into a connected OrchestrationClient (and whatever it needs behind it: nothing
// for embedded; a real server process on 127.0.0.1 for remote).
//
// Adding a transport (e.g. the remote one): write a Transport subclass in its own .cpp in this
// folder, instantiate the suites with it, and add the file to client_test's SOURCES:
//
//   INSTANTIATE_TEST_SUITE_P(Remote, ClientSuite,
//       ::testing::Values(TransportParam{"remote", [] { return std::make_unique<RemoteTransport>();
//       }}), transport_name);
//   INSTANTIATE_TEST_SUITE_P(Remote, MultiProcessSuite, <same>, transport_name);
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "client/orchestration_client.h"

namespace baton::testing {

class Transport {
 public:
  virtual ~Transport() = default;
  // A client for the backend rooted at `home` (a fresh, empty folder). May be called again for
  // the same home to get a second, independent client (reopen after a close).
  virtual std::unique_ptr<OrchestrationClient> connect(const std::filesystem::path& home) = 0;
  // Environment variables ("NAME=value") a child process needs so that its make_client() reaches
  // the same backend.
  virtual std::vector<std::string> child_environment(const std::filesystem::path& home) = 0;
};

struct TransportParam {
  std::string name;
  std::function<std::unique_ptr<Transport>()> make;
};

inline std::string transport_name(const ::testing::TestParamInfo<TransportParam>& info) {
  return info.param.name;
}
inline void PrintTo(const TransportParam& p, std::ostream* os) { *os << p.name; }

// A fresh, empty folder under $BATON_HOME for the current test.
std::filesystem::path fresh_home();

}  // namespace baton::testing
