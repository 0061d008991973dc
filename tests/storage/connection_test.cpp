#include "storage/sqlite/connection.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "storage_test_util.h"

namespace baton::sqlite {
namespace {

using namespace std::chrono_literals;
using baton::testing::fresh_db;

TEST(Connection, OpensInWalWithNormalSync) {
  Connection db(fresh_db());
  auto& mode = db.prepare_cached("PRAGMA journal_mode");
  ASSERT_TRUE(mode.step());
  EXPECT_EQ(mode.text(0), "wal");
  mode.reset();
  auto& sync = db.prepare_cached("PRAGMA synchronous");
  ASSERT_TRUE(sync.step());
  EXPECT_EQ(sync.int64(0), 1);  // NORMAL
  sync.reset();
}

TEST(Connection, CachedStatementsAreReusedAndRebindable) {
  Connection db(fresh_db());
  db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, score DOUBLE PRECISION)");
  auto& insert = db.prepare_cached("INSERT INTO t (id, name, score) VALUES (?, ?, ?)");
  for (int i = 0; i < 3; ++i)
    insert.bind(1, i).bind(2, "n" + std::to_string(i)).bind(3, i * 0.5).run();
  EXPECT_EQ(&insert, &db.prepare_cached("INSERT INTO t (id, name, score) VALUES (?, ?, ?)"));
  auto& q = db.prepare_cached("SELECT name, score FROM t WHERE id = ?");
  q.bind(1, 2);
  ASSERT_TRUE(q.step());
  EXPECT_EQ(q.text(0), "n2");
  EXPECT_DOUBLE_EQ(q.real(1), 1.0);
  q.bind(1, 0);  // rebinding resets the half-read statement
  ASSERT_TRUE(q.step());
  EXPECT_EQ(q.text(0), "n0");
  q.reset();
  std::optional<int64_t> none;
  insert.bind(1, 9).bind(2, nullptr).bind(3, none).run();
  q.bind(1, 9);
  ASSERT_TRUE(q.step());
  EXPECT_TRUE(q.is_null(0));
  EXPECT_EQ(q.text(0), "");
  q.reset();
}

TEST(Connection, ErrorsCarryKindsAndTheSql) {
  Connection db(fresh_db());
  db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY)");
  db.prepare_cached("INSERT INTO t (id) VALUES (1)").run();
  try {
    db.prepare_cached("INSERT INTO t (id) VALUES (1)").run();
    FAIL() << "expected a conflict";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kConflict);
    EXPECT_NE(std::string(e.what()).find("UNIQUE"), std::string::npos) << e.what();
  }
  // The failed statement stays usable.
  db.prepare_cached("INSERT INTO t (id) VALUES (1)").reset();
  try {
    db.prepare("SELECT nope FROM t");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInternal);
    EXPECT_NE(std::string(e.what()).find("SELECT nope FROM t"), std::string::npos) << e.what();
  }
}

TEST(Connection, UnopenableFileIsUnavailable) {
  try {
    Connection db("/proc/definitely/not/here.db");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUnavailable);
  }
}

TEST(Transaction, RollsBackUnlessCommitted) {
  Connection db(fresh_db());
  db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY)");
  {
    Transaction tx(db);
    db.prepare_cached("INSERT INTO t (id) VALUES (1)").run();
  }
  {
    Transaction tx(db);
    db.prepare_cached("INSERT INTO t (id) VALUES (2)").run();
    tx.commit();
  }
  auto& count = db.prepare_cached("SELECT COUNT(*), MAX(id) FROM t");
  ASSERT_TRUE(count.step());
  EXPECT_EQ(count.int64(0), 1);
  EXPECT_EQ(count.int64(1), 2);
  count.reset();
  EXPECT_FALSE(db.in_transaction());
}

TEST(Transaction, WriteTransactionRollsBackOnException) {
  Connection db(fresh_db());
  db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY)");
  EXPECT_THROW(db.write_transaction([&] {
    db.prepare_cached("INSERT INTO t (id) VALUES (1)").run();
    throw invalid_argument("stop half-way");
  }),
               Error);
  auto& count = db.prepare_cached("SELECT COUNT(*) FROM t");
  ASSERT_TRUE(count.step());
  EXPECT_EQ(count.int64(0), 0);  // never a half-written record
  count.reset();
}

TEST(Transaction, WaitsForAnotherConnectionsLockInsteadOfFailing) {
  auto path = fresh_db();
  Connection holder(path);
  holder.exec("CREATE TABLE t (id INTEGER PRIMARY KEY)");
  ConnectionOptions quick;
  quick.busy_timeout = 5ms;  // sqlite's own wait gives up fast: our retry loop must carry on
  Connection waiter(path, quick);
  holder.begin_immediate();
  std::atomic<bool> done{false};
  std::thread writer([&] {
    waiter.write_transaction([&] { waiter.prepare_cached("INSERT INTO t (id) VALUES (7)").run(); });
    done = true;
  });
  std::this_thread::sleep_for(100ms);  // let the writer hit the lock and retry a while
  EXPECT_FALSE(done.load());
  holder.prepare_cached("INSERT INTO t (id) VALUES (1)").run();
  holder.commit();
  writer.join();
  auto& count = holder.prepare_cached("SELECT COUNT(*) FROM t");
  ASSERT_TRUE(count.step());
  EXPECT_EQ(count.int64(0), 2);
  count.reset();
}

TEST(Transaction, GivesUpWithUnavailableAfterTheBudget) {
  auto path = fresh_db();
  Connection holder(path);
  holder.exec("CREATE TABLE t (id INTEGER PRIMARY KEY)");
  ConnectionOptions impatient;
  impatient.busy_timeout = 5ms;
  impatient.busy_give_up = 50ms;
  Connection waiter(path, impatient);
  holder.begin_immediate();
  try {
    waiter.write_transaction([&] { waiter.prepare_cached("INSERT INTO t (id) VALUES (7)").run(); });
    FAIL() << "expected BusyError";
  } catch (const BusyError& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUnavailable);
  }
  holder.rollback();
  EXPECT_FALSE(waiter.in_transaction());
}

}  // namespace
}  // namespace baton::sqlite

namespace baton::sqlite {
namespace {

TEST(Connection, ManualCheckpointsLeaveTheWalToTheOwner) {
  auto path = baton::testing::fresh_db();
  ConnectionOptions manual;
  manual.wal_autocheckpoint = 0;
  Connection db(path, manual);
  db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, payload TEXT)");
  std::string payload(2000, 'x');
  int64_t last = 0;
  for (int batch = 0; batch < 5; ++batch) {
    db.write_transaction([&] {
      for (int i = 0; i < 500; ++i)
        db.prepare_cached("INSERT INTO t (payload) VALUES (?)").bind(1, payload).run();
    });
    EXPECT_GT(db.wal_bytes(), last);  // nothing was checkpointed behind our back
    last = db.wal_bytes();
  }
  EXPECT_GT(last, 4'000'000);  // 2,500 rows of 2 KB
  auto db_size_before = std::filesystem::file_size(path);
  db.checkpoint();
  EXPECT_EQ(db.wal_bytes(), 0);
  EXPECT_GT(std::filesystem::file_size(path), db_size_before);  // pages moved into the database
}

TEST(Connection, NewFilesGetTheAskedPageSizeAndExistingFilesKeepTheirs) {
  auto path = baton::testing::fresh_db();
  EXPECT_EQ(Connection(path).page_size(), kBulkPageSize);
  auto small_path = baton::testing::fresh_db();
  EXPECT_EQ(Connection(small_path, {.new_file_page_size = kTransactionalPageSize}).page_size(),
            kTransactionalPageSize);
  // An existing file keeps its pages whatever the next opener asks for.
  EXPECT_EQ(Connection(small_path).page_size(), kTransactionalPageSize);
  auto old_path = baton::testing::fresh_folder() / "old.db";
  {
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open(old_path.c_str(), &raw), SQLITE_OK);
    ASSERT_EQ(
        sqlite3_exec(raw, "PRAGMA page_size=4096; CREATE TABLE t (x)", nullptr, nullptr, nullptr),
        SQLITE_OK);
    sqlite3_close(raw);
  }
  Connection old(old_path.string());
  EXPECT_EQ(old.page_size(), 4096);
  old.exec("INSERT INTO t VALUES (1)");  // and it still works, in WAL mode
}

}  // namespace
}  // namespace baton::sqlite
