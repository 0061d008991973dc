// The WAL write buffer (src/storage/sqlite/wal_write_buffer.h) through real Connections on real
// files: commits are visible to other connections and processes at once, survive the writer's
// death, stay consistent across WAL restarts, and reach the file in fewer writes than frames.
#include "storage/sqlite/wal_write_buffer.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>

#include "storage/sqlite/connection.h"
#include "storage_test_util.h"

namespace baton::sqlite {
namespace {

using baton::testing::fresh_db;

// Each row carries a 3000-byte blob, so a transaction of a few rows changes several pages.
void create_table(Connection& db) {
  db.exec("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, batch INTEGER, body BLOB)");
}

void insert_batch(Connection& db, int batch, int rows) {
  db.write_transaction([&] {
    auto& insert = db.prepare_cached("INSERT INTO t (batch, body) VALUES (?, randomblob(3000))");
    for (int i = 0; i < rows; ++i) insert.bind(1, batch).run();
    return 0;
  });
}

int64_t scalar(Connection& db, const std::string& sql) {
  auto& q = db.prepare_cached(sql);
  EXPECT_TRUE(q.step()) << sql;
  int64_t value = q.int64(0);
  q.reset();
  return value;
}

std::string integrity(Connection& db) {
  auto& q = db.prepare_cached("PRAGMA integrity_check");
  EXPECT_TRUE(q.step());
  std::string value = q.text(0);
  q.reset();
  return value;
}

// `sqlite3` (the CLI, default unix VFS: no buffer of its own) in another process.
std::optional<int64_t> count_in_cli(const std::string& path) {
  if (!std::filesystem::exists("/usr/bin/sqlite3")) return std::nullopt;
  std::string command = "/usr/bin/sqlite3 '" + path + "' 'SELECT count(*) FROM t' 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return std::nullopt;
  char line[128] = {};
  std::string out = fgets(line, sizeof line, pipe) ? line : "";
  pclose(pipe);
  return std::stoll(out);
}

TEST(WalWriteBuffer, EveryCommitIsVisibleAtOnceToOtherConnectionsAndProcesses) {
  std::string path = fresh_db();
  Connection writer(path);
  create_table(writer);
  Connection reader(path);
  for (int batch = 1; batch <= 40; ++batch) {
    insert_batch(writer, batch, 1 + batch % 7);
    int64_t expected = scalar(writer, "SELECT count(*) FROM t");
    ASSERT_EQ(scalar(reader, "SELECT count(*) FROM t"), expected) << "batch " << batch;
    ASSERT_EQ(scalar(reader, "SELECT max(batch) FROM t"), batch);
    if (batch % 10 == 0) {
      auto in_cli = count_in_cli(path);
      if (in_cli) {
        EXPECT_EQ(*in_cli, expected) << "sqlite3 CLI after batch " << batch;
      }
    }
  }
}

TEST(WalWriteBuffer, CommittedRowsSurviveTheWriterBeingKilled) {
  std::string path = fresh_db();
  {
    Connection db(path);
    create_table(db);
  }
  int acks[2];
  ASSERT_EQ(pipe(acks), 0);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(acks[0]);
    Connection db(path);
    // Bounded: the parent kills it long before the end.
    for (int batch = 1; batch <= 100000; ++batch) {
      insert_batch(db, batch, 1 + batch % 5);
      char ack = 1;
      if (write(acks[1], &ack, 1) != 1) _exit(1);
    }
    _exit(0);
  }
  close(acks[1]);
  int acknowledged = 0;
  char ack = 0;
  while (acknowledged < 60 && read(acks[0], &ack, 1) == 1) ++acknowledged;
  kill(child, SIGKILL);
  int status = 0;
  waitpid(child, &status, 0);
  while (read(acks[0], &ack, 1) == 1) ++acknowledged;  // commits acknowledged before the kill
  close(acks[0]);
  ASSERT_EQ(acknowledged >= 60, true);

  Connection db(path);
  EXPECT_EQ(integrity(db), "ok");
  // Every acknowledged commit is there, whole (batch b has 1 + b % 5 rows); at most one more
  // commit (done, not yet acknowledged) may be.
  int64_t batches = scalar(db, "SELECT count(DISTINCT batch) FROM t");
  EXPECT_GE(batches, acknowledged);
  EXPECT_LE(batches, acknowledged + 1);
  EXPECT_EQ(scalar(db, "SELECT count(*) FROM (SELECT batch, count(*) AS n FROM t GROUP BY batch "
                       "HAVING n != 1 + batch % 5)"),
            0);
  if (auto in_cli = count_in_cli(path)) {
    EXPECT_EQ(*in_cli, scalar(db, "SELECT count(*) FROM t"));
  }
}

TEST(WalWriteBuffer, RestartedWalStaysConsistent) {
  std::string path = fresh_db();
  ConnectionOptions small_wal;
  small_wal.wal_autocheckpoint = 8;  // 32 KiB: the WAL checkpoints and restarts every few commits
  int64_t rows = 0;
  {
    Connection writer(path, small_wal);
    create_table(writer);
    Connection reader(path);
    for (int batch = 1; batch <= 120; ++batch) {
      int n = 1 + batch % 9;
      insert_batch(writer, batch, n);
      rows += n;
      if (batch % 17 == 0) writer.exec("PRAGMA wal_checkpoint(RESTART)");
      if (batch % 29 == 0) writer.exec("PRAGMA wal_checkpoint(TRUNCATE)");
      // A reader holding an old snapshot for a while keeps the WAL from restarting, then lets go.
      if (batch % 11 == 0) {
        reader.exec("BEGIN");
        ASSERT_EQ(scalar(reader, "SELECT count(*) FROM t"), rows);
        insert_batch(writer, -batch, 2);
        rows += 2;
        ASSERT_EQ(scalar(reader, "SELECT count(*) FROM t"), rows - 2);  // its snapshot
        reader.exec("COMMIT");
      }
      ASSERT_EQ(scalar(reader, "SELECT count(*) FROM t"), rows) << "batch " << batch;
    }
    EXPECT_EQ(integrity(writer), "ok");
    EXPECT_EQ(integrity(reader), "ok");
  }
  Connection reopened(path);
  EXPECT_EQ(integrity(reopened), "ok");
  EXPECT_EQ(scalar(reopened, "SELECT count(*) FROM t"), rows);
  if (auto in_cli = count_in_cli(path)) {
    EXPECT_EQ(*in_cli, rows);
  }
}

TEST(WalWriteBuffer, AMultiPageCommitReachesTheFileInFewerWritesThanFrames) {
  std::string path = fresh_db();
  ConnectionOptions no_autocheckpoint;
  no_autocheckpoint.wal_autocheckpoint = 0;
  Connection db(path, no_autocheckpoint);
  create_table(db);
  insert_batch(db, 0, 1);  // the WAL exists and has its header
  auto before = WalWriteBuffer::stats();
  // Ten pages of 3000-byte blobs, whatever the page size: 10+ frames.
  int rows = 10 * db.page_size() / 3000;
  insert_batch(db, 1, rows);
  auto after = WalWriteBuffer::stats();
  uint64_t calls = after.wal_writes - before.wal_writes;
  uint64_t real = after.wal_real_writes - before.wal_real_writes;
  uint64_t frames = calls / 2;  // SQLite writes each frame as header + page
  EXPECT_GE(frames, 8u);
  EXPECT_LT(real, frames);
  // One run, handed over in pieces of at most 124 KiB.
  uint64_t run_bytes = frames * (static_cast<uint64_t>(db.page_size()) + 24);
  EXPECT_LE(real, run_bytes / (124 * 1024) + 1)
      << calls << " write calls reached the file as " << real << " writes";
  EXPECT_EQ(scalar(db, "SELECT count(*) FROM t"), rows + 1);
}

// A commit of one frame is flushed by the write of its page, as a longer one is by the write of
// its last page: nothing of it waits for xShmBarrier, which could not report a failed write.
TEST(WalWriteBuffer, AOneFrameCommitReachesTheFileAsOneWriteWhenItsPageIsWritten) {
  std::string path = fresh_db();
  ConnectionOptions no_autocheckpoint;
  no_autocheckpoint.wal_autocheckpoint = 0;
  Connection db(path, no_autocheckpoint);
  db.exec("CREATE TABLE small (x INTEGER)");
  db.exec("INSERT INTO small VALUES (1)");  // the table's leaf page exists, the WAL has its header
  auto before = WalWriteBuffer::stats();
  db.exec("UPDATE small SET x = 2");  // changes that one leaf page: one frame
  auto after = WalWriteBuffer::stats();
  EXPECT_EQ(after.wal_writes - before.wal_writes, 2u);  // its header, then its page
  EXPECT_EQ(after.wal_real_writes - before.wal_real_writes, 1u);
  Connection other(path);
  EXPECT_EQ(scalar(other, "SELECT x FROM small"), 2);
}

// Runs longer than one write of the unix VFS (under 128 KiB) and than the buffer's bound.
TEST(WalWriteBuffer, LargeCommitsArriveWhole) {
  std::string path = fresh_db();
  int64_t rows = 0;
  {
    Connection writer(path);
    create_table(writer);
    Connection reader(path);
    for (int n : {43, 44, 87, 400, 700, 3}) {  // ~130 KB, ~260 KB, 1.2 MB, 2.1 MB of blobs
      auto before = WalWriteBuffer::stats();
      insert_batch(writer, n, n);
      auto after = WalWriteBuffer::stats();
      rows += n;
      EXPECT_LT(after.wal_real_writes - before.wal_real_writes,
                (after.wal_writes - before.wal_writes) / 2);
      ASSERT_EQ(scalar(reader, "SELECT count(*) FROM t"), rows) << n << " rows";
    }
    EXPECT_EQ(integrity(reader), "ok");
  }
  Connection reopened(path);
  EXPECT_EQ(integrity(reopened), "ok");
  EXPECT_EQ(scalar(reopened, "SELECT count(*) FROM t"), rows);
}

}  // namespace
}  // namespace baton::sqlite
