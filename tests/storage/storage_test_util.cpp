#include "storage_test_util.h"

#include <gtest/gtest.h>

#include "model/ids.h"
#include "storage/storage.h"

namespace baton::testing {

std::filesystem::path fresh_folder() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = info ? std::string(info->test_suite_name()) + "." + info->name() : "test";
  for (auto& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.') c = '_';
  auto dir = std::filesystem::path(storage::baton_home()) / (name + "-" + new_id());
  std::filesystem::create_directories(dir);
  return dir;
}

std::string fresh_db() { return (fresh_folder() / "baton.db").string(); }

FlowRunRecord insert_test_flow_run(storage::Storage& s, const std::string& flow, State state) {
  FlowRunRecord r;
  r.id = new_id();
  r.flow_id = s.upsert_flow(flow, {}).id;
  r.flow_name = flow;
  r.name = "r";
  r.state = std::move(state);
  r.created = r.updated = now();
  return s.insert_flow_run(r).run;
}

}  // namespace baton::testing
