#include "storage/batch_writer.h"

#include <gtest/gtest.h>

#include "model/ids.h"
#include "storage/sqlite/sqlite_storage.h"
#include "storage_test_util.h"

namespace baton::storage {
namespace {

using baton::testing::fresh_db;

TaskRunRecord task(const std::string& id, State state) {
  TaskRunRecord t;
  t.id = id;
  t.flow_run_id = "run-1";
  t.task_key = "k";
  t.name = "t";
  t.state = std::move(state);
  return t;
}

TEST(BatchWriter, FlushMakesEverythingEnqueuedReadable) {
  SqliteStorage storage(fresh_db());
  BatchWriter writer(storage);
  std::vector<std::string> ids;
  for (int i = 0; i < 2000; ++i) {
    ids.push_back(new_id());
    writer.enqueue(task(ids.back(), State::running()));
    writer.enqueue(task(ids.back(), State::completed(i)));
  }
  writer.enqueue(std::vector<LogRecord>{LogRecord{{}, "run-1", {}, "x", 20, "hello", now()}});
  writer.flush();
  EXPECT_TRUE(writer.idle());
  for (size_t i = 0; i < ids.size(); i += 97) {
    auto t = storage.read_task_run(ids[i]);
    ASSERT_TRUE(t) << i;
    EXPECT_EQ(t->state.type, StateType::kCompleted);
    EXPECT_EQ(t->state.result, static_cast<int>(i));
    EXPECT_EQ(storage.read_states(ids[i]).size(), 2u);
  }
  auto stats = writer.stats();
  EXPECT_EQ(stats.records, 4001u);
  EXPECT_EQ(stats.dropped, 0u);
  EXPECT_GE(stats.batches, 1u);
  EXPECT_LT(stats.batches, 4001u);  // group commit: fewer transactions than records
}

TEST(BatchWriter, DestructorFlushes) {
  auto path = fresh_db();
  std::string id = new_id();
  {
    SqliteStorage storage(path);
    BatchWriter writer(storage);
    writer.enqueue(task(id, State::completed()));
  }
  SqliteStorage reopened(path);
  EXPECT_TRUE(reopened.read_task_run(id).has_value());
}

TEST(BatchWriter, OneBadRecordDoesNotTakeItsBatchDown) {
  SqliteStorage storage(fresh_db());
  BatchWriter writer(storage);
  std::string good1 = new_id(), good2 = new_id();
  writer.enqueue(task(good1, State::completed()));
  writer.enqueue(task("", State::completed()));  // no id: cannot be stored
  writer.enqueue(task(good2, State::completed()));
  try {
    writer.flush();
    FAIL() << "expected the bad record's error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    EXPECT_EQ(e.field(), "task_run.id");
  }
  EXPECT_TRUE(storage.read_task_run(good1));
  EXPECT_TRUE(storage.read_task_run(good2));
  EXPECT_EQ(writer.stats().dropped, 1u);
  writer.flush();  // the error was reported once
}

TEST(BatchWriter, BoundedQueueStillAcceptsMoreThanItsBound) {
  SqliteStorage storage(fresh_db());
  BatchWriter::Options options;
  options.max_pending = 16;  // producers block and resume as the writer drains
  BatchWriter writer(storage, options);
  std::vector<std::string> ids;
  for (int i = 0; i < 500; ++i) {
    ids.push_back(new_id());
    writer.enqueue(task(ids.back(), State::completed()));
  }
  writer.flush();
  EXPECT_LE(writer.stats().largest_batch, 16u);
  EXPECT_EQ(writer.stats().records, 500u);
  EXPECT_TRUE(storage.read_task_run(ids.back()));
}

}  // namespace
}  // namespace baton::storage
