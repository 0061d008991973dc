// The baseline W1 and the storage benchmark compare against: the same number of state rows
// written straight into SQLite (WAL, synchronous=NORMAL, like Baton's own database) with one
// prepared statement and 10,000 rows per transaction. Header-only; benchmarks only.
#pragma once

#include <sqlite3.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "model/ids.h"

namespace baton::bench {

inline void check_sqlite(int rc, sqlite3* db) {
  if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
    std::fprintf(stderr, "sqlite: %s\n", sqlite3_errmsg(db));
    std::exit(1);
  }
}

// Creates the database file at `path` with pages of `page_size` bytes (0: leaves it to Baton), as
// an older file with other pages would be: Baton keeps an existing file's page size. For
// measuring what the page size costs each workload.
inline void create_with_page_size(const std::string& path, int page_size) {
  if (page_size == 0) return;
  sqlite3* db = nullptr;
  check_sqlite(sqlite3_open(path.c_str(), &db), db);
  std::string sql = "PRAGMA page_size=" + std::to_string(page_size) + "; PRAGMA journal_mode=WAL";
  check_sqlite(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), db);
  sqlite3_close(db);
}

// Inserts `rows` state rows (UUIDv7 ids, like Baton's) into a fresh database at `path`; returns the
// seconds taken.
inline double write_state_rows_directly(const std::string& path, int rows) {
  sqlite3* db = nullptr;
  check_sqlite(sqlite3_open(path.c_str(), &db), db);
  check_sqlite(sqlite3_exec(db,
                            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                            "CREATE TABLE state (id TEXT PRIMARY KEY, run_id TEXT NOT NULL, "
                            "type TEXT, name TEXT, timestamp BIGINT, data TEXT)",
                            nullptr, nullptr, nullptr),
               db);
  sqlite3_stmt* insert = nullptr;
  check_sqlite(
      sqlite3_prepare_v2(db, "INSERT INTO state VALUES (?, ?, ?, ?, ?, ?)", -1, &insert, nullptr),
      db);
  std::string run_id = new_id();
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < rows; ++i) {
    if (i % 10000 == 0) check_sqlite(sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr), db);
    std::string id = new_id();
    std::string data = std::to_string(i);
    sqlite3_bind_text(insert, 1, id.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(insert, 2, run_id.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(insert, 3, "COMPLETED", -1, SQLITE_STATIC);
    sqlite3_bind_text(insert, 4, "Completed", -1, SQLITE_STATIC);
    sqlite3_bind_int64(insert, 5, i);
    sqlite3_bind_text(insert, 6, data.c_str(), -1, SQLITE_TRANSIENT);
    check_sqlite(sqlite3_step(insert), db);
    sqlite3_reset(insert);
    if (i % 10000 == 9999 || i == rows - 1)
      check_sqlite(sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr), db);
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  sqlite3_finalize(insert);
  sqlite3_close(db);
  return seconds;
}

}  // namespace baton::bench
