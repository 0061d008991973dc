// Fixtures of the client suites (client_suite_test.cpp, multi_process_test.cpp); each transport
// file instantiates them (see transport.h).
#pragma once

#include <gtest/gtest.h>

#include "transport.h"

namespace baton::testing {

class ClientSuite : public ::testing::TestWithParam<TransportParam> {
 protected:
  void SetUp() override {
    home_ = fresh_home();
    transport_ = GetParam().make();
    client_ = transport_->connect(home_);
  }
  void TearDown() override {
    client_.reset();
    transport_.reset();
    if (!HasFailure()) std::filesystem::remove_all(home_);  // kept for inspection on failure
  }

  OrchestrationClient& client() { return *client_; }
  // Closes the client (its destructor flushes) and connects a new one to the same backend.
  void reopen() {
    client_.reset();
    client_ = transport_->connect(home_);
  }
  FlowRunRecord new_run(const std::string& flow = "etl", RetryPolicy policy = {}) {
    FlowRunRecord run;
    run.flow_name = flow;
    run.empirical_policy = std::move(policy);
    return client().create_flow_run(run);
  }

  std::filesystem::path home_;
  std::unique_ptr<Transport> transport_;
  std::unique_ptr<OrchestrationClient> client_;
};

class MultiProcessSuite : public ClientSuite {};

}  // namespace baton::testing
