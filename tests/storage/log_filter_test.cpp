// SqliteStorage::read_logs on the real SQLite file: Prefect's whole log filter (several flow and
// task runs, task_run_id is_null_, level and timestamp bounds, both sorts, pages), each case
// asserting the exact lines and their order; id lists beyond the cap are refused.
#include <gtest/gtest.h>

#include "baton/error.h"
#include "log_filter_cases.h"
#include "storage/sqlite/sqlite_storage.h"
#include "storage_test_util.h"

namespace baton::storage {
namespace {

TEST(LogFilter, EveryCaseSelectsExactlyItsLinesInOrder) {
  SqliteStorage s(testing::fresh_db());
  testing::LogFilterData data;
  s.write_batch({}, data.lines());
  for (const auto& c : data.cases())
    EXPECT_EQ(testing::line_numbers(s.read_logs(c.filter)), c.expected) << c.name;
}

TEST(LogFilter, IdListsBeyondTheCapOrNotOfUuidsAreRefusedNamingTheList) {
  SqliteStorage s(testing::fresh_db());
  std::vector<std::string> at_cap(kMaxLogFilterIds);
  for (auto& id : at_cap) id = new_id();
  LogFilter f;
  f.flow_run_ids = at_cap;
  f.task_run_ids = at_cap;
  EXPECT_TRUE(s.read_logs(f).empty());
  for (auto [list, field] : {std::pair{&LogFilter::flow_run_ids, "flow_run_ids"},
                             std::pair{&LogFilter::task_run_ids, "task_run_ids"}}) {
    LogFilter over;
    over.*list = at_cap;
    (over.*list).push_back(new_id());
    try {
      s.read_logs(over);
      ADD_FAILURE() << field << ": no error";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
      EXPECT_EQ(e.field(), field);
      EXPECT_NE(std::string(e.what()).find("at most 200"), std::string::npos) << e.what();
    }
    LogFilter malformed;
    malformed.*list = {new_id(), "not-a-uuid"};
    try {
      s.read_logs(malformed);
      ADD_FAILURE() << field << ": no error for a malformed id";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
      EXPECT_EQ(e.field(), std::string(field) + ".1");
    }
  }
}

}  // namespace
}  // namespace baton::storage
