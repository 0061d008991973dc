// The transports every SDK behaviour test runs against. Each is a factory for an
// OrchestrationClient: the embedded one over the real SQLite file under BATON_HOME, and (once the
// server layer adds it here) the remote one talking to a real server on 127.0.0.1.
#pragma once

#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "client/orchestration_client.h"

namespace baton::testing {

struct SdkTransport {
  std::string name;
  std::function<std::unique_ptr<OrchestrationClient>()> make;
};

std::vector<SdkTransport> sdk_transports();

// gtest prints a parameter with this instead of its bytes.
inline void PrintTo(const SdkTransport& t, std::ostream* os) { *os << t.name; }

}  // namespace baton::testing
