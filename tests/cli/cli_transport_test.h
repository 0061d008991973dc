// A fixture for command-line tests that must give the same results through both transports: the
// parameter is "embedded" (the database in a fresh BATON_HOME) or "remote" (the real server on a
// loopback port, over that BATON_HOME, with BATON_API_URL pointing at it). The `baton` executable
// under test inherits the environment.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "cli/cli_runner.h"
#include "client/orchestration_client.h"
#include "server_process.h"

namespace baton::testing {

class CliTransportTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::replace(name.begin(), name.end(), '/', '_');
    parent_home_ = std::getenv("BATON_HOME");
    auto home = std::filesystem::path(parent_home_) / name;
    std::filesystem::remove_all(home);
    std::filesystem::create_directories(home);
    setenv("BATON_HOME", home.c_str(), 1);
    unsetenv("BATON_API_URL");
    if (GetParam() == "remote") {
      server_ = std::make_unique<ServerProcess>(ServerProcess::Options{.home = home.string()});
      setenv("BATON_API_URL", server_->url().c_str(), 1);
    }
    client_ = make_client();
  }
  void TearDown() override {
    client_.reset();
    if (server_) {
      EXPECT_EQ(server_->stop(), 0);
    }
    unsetenv("BATON_API_URL");
    setenv("BATON_HOME", parent_home_.c_str(), 1);
  }

  // Runs a command that must succeed; returns what it printed.
  std::string ok(const std::string& args) {
    auto r = run_baton(args);
    EXPECT_EQ(r.exit_code, 0) << args << "\n" << r.err;
    return r.out;
  }
  nlohmann::json ok_json(const std::string& args) { return nlohmann::json::parse(ok(args)); }

  // Each row (arguments, text the error must contain) must fail as bad input does: exit code 2,
  // one line on stderr, nothing on stdout.
  static void expect_bad_input(const std::vector<std::pair<std::string, std::string>>& rows) {
    for (const auto& [args, expected] : rows) {
      auto r = run_baton(args);
      EXPECT_EQ(r.exit_code, 2) << args << "\n" << r.err;
      EXPECT_NE(r.err.find(expected), std::string::npos) << args << "\n" << r.err;
      EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << args << "\n" << r.err;
      EXPECT_TRUE(r.out.empty()) << args << "\n" << r.out;
    }
  }

  std::string parent_home_;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<OrchestrationClient> client_;
};

// INSTANTIATE_TEST_SUITE_P(Transports, Suite, kCliTransports, cli_transport_name);
inline const auto kCliTransports = ::testing::Values("embedded", "remote");
inline std::string cli_transport_name(const ::testing::TestParamInfo<std::string>& info) {
  return info.param;
}

}  // namespace baton::testing
