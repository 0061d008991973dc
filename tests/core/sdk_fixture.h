// The fixture of the SDK behaviour tests: installs the transport under test as the engine's
// client, and offers reads of what the runs recorded.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "baton/baton.h"
#include "core/runtime.h"
#include "transports.h"

namespace baton::testing {

class SdkTest : public ::testing::TestWithParam<SdkTransport> {
 protected:
  void SetUp() override {
    setenv("BATON_LOGGING_QUIET", "1", 0);
    core::Runtime::get().set_client_factory(GetParam().make);
  }
  void TearDown() override { core::Runtime::get().flush(); }

  OrchestrationClient& client() { return core::Runtime::get().client(); }

  std::vector<std::string> state_names(const std::string& run_id) {
    client().flush();
    std::vector<std::string> out;
    for (const auto& s : client().read_states(run_id)) out.push_back(s.name);
    return out;
  }
  std::vector<TaskRunRecord> task_runs(const std::string& flow_run_id) {
    client().flush();
    TaskRunFilter f;
    f.flow_run_id = flow_run_id;
    f.sort = "ID_ASC";
    f.limit = 1000;
    auto runs = client().filter_task_runs(f);
    std::sort(runs.begin(), runs.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
    return runs;
  }
  FlowRunRecord flow_run(const std::string& id) {
    client().flush();
    auto r = client().read_flow_run(id);
    EXPECT_TRUE(r.has_value()) << id;
    return r.value_or(FlowRunRecord{});
  }
  TaskRunRecord task_run(const std::string& id) {
    client().flush();
    auto r = client().read_task_run(id);
    EXPECT_TRUE(r.has_value()) << id;
    return r.value_or(TaskRunRecord{});
  }
};

inline std::string transport_name(const ::testing::TestParamInfo<SdkTransport>& info) {
  return info.param.name;
}

}  // namespace baton::testing
