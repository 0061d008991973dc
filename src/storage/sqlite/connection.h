// A thin RAII wrapper over the sqlite3 C API: Connection, Statement, Transaction.
//
// Use it for any table in $BATON_HOME/baton.db (the server's own tables too):
//
//   sqlite::Connection db(path);                       // WAL, synchronous=NORMAL, busy timeout
//   sqlite::Transaction tx(db);                        // BEGIN IMMEDIATE, retried while busy
//   auto& insert = db.prepare_cached("INSERT INTO variable (id, name) VALUES (?, ?)");
//   insert.bind(1, id).bind(2, name).run();
//   tx.commit();                                       // rolled back if destroyed uncommitted
//
//   auto& q = db.prepare_cached("SELECT name, value FROM variable WHERE id = ?");
//   q.bind(1, id);
//   while (q.step()) use(q.text(0), q.int64(1));       // reset() happens on the next bind/step
//   cycle
//
// Several processes may open the same file: every write transaction starts with BEGIN IMMEDIATE
// (the write lock is taken up front, so a transaction never fails half-way on an upgrade), the
// busy handler waits up to `busy_timeout`, and Transaction retries BEGIN with back-off for a
// bounded total time before giving up with ErrorKind::kUnavailable. "database is locked" never
// reaches callers as a crash.
//
// Errors: every failing sqlite3 call throws baton::Error (kConflict for constraint violations,
// kUnavailable for busy/locked/IO, kInternal otherwise) with the SQL and sqlite's message.
//
// Thread-safety: a Connection and its statements belong to one thread at a time (the caller
// serialises, e.g. with a mutex). Use one Connection per thread for parallelism.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "baton/error.h"

struct sqlite3;
struct sqlite3_stmt;

namespace baton::sqlite {

class Connection;

// Raised when the database stayed locked by another connection for longer than allowed.
// A baton::Error of kind kUnavailable, so callers that do not care need not catch it specially.
class BusyError : public Error {
 public:
  explicit BusyError(std::string message) : Error(ErrorKind::kUnavailable, std::move(message)) {}
};

// A prepared statement. Bind parameters are 1-based, columns 0-based (as in the C API).
// Owned either by the Connection's cache (prepare_cached) or by the caller (prepare).
class Statement {
 public:
  Statement(Connection& db, std::string_view sql);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // Binding resets the statement first when it was stepped, so a cached statement is reusable.
  Statement& bind(int index, int64_t value);
  Statement& bind(int index, int value) { return bind(index, static_cast<int64_t>(value)); }
  Statement& bind(int index, double value);
  Statement& bind(int index, std::string_view value);  // copied (SQLITE_TRANSIENT)
  Statement& bind(int index, const std::string& value) {
    return bind(index, std::string_view(value));
  }
  Statement& bind(int index, const char* value) { return bind(index, std::string_view(value)); }
  Statement& bind(int index, std::nullptr_t);
  // Binds text without copying it: `value` must stay alive and unchanged until the statement is
  // reset or re-bound (the hot insert paths bind, step and reset in one go).
  Statement& bind_view(int index, std::string_view value);
  Statement& bind_view_or_null(int index, std::string_view value) {
    return value.empty() ? bind(index, nullptr) : bind_view(index, value);
  }
  Statement& bind(int index, bool value) {
    return bind(index, static_cast<int64_t>(value ? 1 : 0));
  }
  template <typename T>
  Statement& bind(int index, const std::optional<T>& value) {
    return value ? bind(index, *value) : bind(index, nullptr);
  }
  // Binds NULL for an empty string: optional text columns (unique keys where NULLs may repeat).
  Statement& bind_text_or_null(int index, std::string_view value) {
    return value.empty() ? bind(index, nullptr) : bind(index, value);
  }

  // Advances; true while a row is available. Throws on error.
  bool step();
  // Runs a statement that returns no rows (or ignores them) and resets it.
  void run();
  // Number of rows the last run() changed.
  int changes() const;
  void reset();

  bool is_null(int column) const;
  int64_t int64(int column) const;
  double real(int column) const;
  std::string text(int column) const;  // "" for NULL
  // The column's text without a copy: valid until the next step, reset or bind.
  std::string_view text_view(int column) const;
  std::optional<int64_t> optional_int64(int column) const;

  sqlite3_stmt* handle() const noexcept { return stmt_; }

 private:
  void check_bind(int rc, int index);
  Connection& db_;
  sqlite3_stmt* stmt_ = nullptr;
  bool needs_reset_ = false;
};

// Page sizes for files Baton creates (an existing file keeps its own). Every page a commit changes
// is a whole WAL frame, so the two ways Baton writes pull apart: the SDK's task-run writer appends
// wide rows in bulk and wants big pages (fewer b-tree splits, frames and write calls per row); the
// server commits a few small changes per request (a flow-run state and its event) to ~9 pages
// whatever their size and wants small ones. docs/storage.md has the figures.
inline constexpr int kBulkPageSize = 16384;
inline constexpr int kTransactionalPageSize = 4096;

struct ConnectionOptions {
  // How long one sqlite3 call waits for another process's lock before SQLITE_BUSY.
  std::chrono::milliseconds busy_timeout{5000};
  // Total time a write transaction keeps retrying BEGIN IMMEDIATE before kUnavailable.
  std::chrono::milliseconds busy_give_up{60000};
  bool read_only = false;
  // Page cache per connection; negative values are KiB (SQLite's convention). The group-commit
  // connection uses a larger one so that index pages stay cached across batches.
  int cache_size = -8192;
  // WAL size, in 4 KiB pages, before an automatic checkpoint inside a commit (SQLite's default
  // is 1000 pages). 0 turns
  // automatic checkpoints off: the owner then calls checkpoint() at moments of its choosing
  // (SqliteStorage does when its writer is idle), reading wal_pages() to decide.
  int wal_autocheckpoint = 4000;
  // The page size when this connection creates the file; ignored for an existing file.
  int new_file_page_size = kBulkPageSize;
};

// An open database file. Opening creates the file, switches it to WAL and synchronous=NORMAL,
// turns on foreign keys and sets the busy timeout.
class Connection {
 public:
  explicit Connection(const std::string& path, ConnectionOptions options = {});
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // A statement from this connection's cache, keyed by SQL text: prepared once, reused for the
  // connection's lifetime. Use it for fixed SQL; use prepare() for SQL built per call.
  Statement& prepare_cached(std::string_view sql);
  std::unique_ptr<Statement> prepare(std::string_view sql);
  // Runs one or more statements without results (DDL, PRAGMA). Retries while busy.
  void exec(std::string_view sql);

  // Runs `body` between BEGIN IMMEDIATE and COMMIT, retrying the whole body when another process
  // holds the lock (SQLITE_BUSY at begin or commit) until busy_give_up has passed. `body` must be
  // safe to run again (it only touches the database). Returns what `body` returns.
  template <typename F>
  auto write_transaction(F&& body) -> decltype(body());

  // Connections of one process that write the same file share `lock` (which must outlive
  // them): write_transaction holds it, so they queue on it at once instead of finding the file
  // busy and sleeping in SQLite's busy handler (1, 2, 5, 10, 15 ms... steps, far longer than a
  // group commit holds the lock). Other processes are still kept out by SQLite's own lock.
  void share_write_lock(std::mutex& lock) noexcept { write_lock_ = &lock; }

  // Bytes of pages in the WAL file after this connection's last commit (tracked only when
  // wal_autocheckpoint is 0); 0 once this connection's checkpoint found every page copied.
  int64_t wal_bytes() const noexcept { return int64_t{wal_pages_} * page_size_; }
  // The file's page size: ConnectionOptions::new_file_page_size for a file this connection created.
  int page_size() const noexcept { return page_size_; }
  // A PASSIVE checkpoint: copies what it can from the WAL into the database without waiting for
  // readers or writers. Never throws (a busy database just means "later").
  struct Checkpoint {
    int64_t wal_bytes = 0;   // the WAL's size (0 when the checkpoint could not run)
    int64_t left_bytes = 0;  // what it could not copy: pages committed while it ran, or pages
                             // an older snapshot of a reader still needs
  };
  Checkpoint checkpoint() noexcept;

  bool in_transaction() const;
  int64_t last_insert_rowid() const;
  int changes() const;
  // SQLite's data version of the file: moves with every commit, by this connection or any other
  // (of this process or another) that this connection has seen, i.e. as of its current or last
  // transaction. Equal values mean the file has not changed in between.
  uint32_t data_version() const;
  const std::string& path() const noexcept { return path_; }
  const ConnectionOptions& options() const noexcept { return options_; }
  sqlite3* handle() const noexcept { return db_; }

  // Internal: raises the error for `rc` with context.
  [[noreturn]] void fail(int rc, std::string_view what) const;
  // Begins IMMEDIATE, waiting with back-off while busy for at most busy_give_up.
  void begin_immediate();
  void commit();
  void rollback() noexcept;

 private:
  sqlite3* db_ = nullptr;
  std::string path_;
  ConnectionOptions options_;
  // Hashes the length and at most the last 64 bytes: SQL texts of one connection differ mostly
  // in their tails (WHERE and VALUES clauses), and hashing a whole 600-byte SELECT on every
  // prepare_cached was a tenth of a flow-run transition's statement overhead. Texts that share
  // length and tail only share a bucket; equality still compares them whole.
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const noexcept {
      constexpr size_t kTail = 64;
      std::string_view tail = s.size() > kTail ? s.substr(s.size() - kTail) : s;
      return std::hash<std::string_view>{}(tail) ^ (s.size() * 0x9E3779B97F4A7C15ULL);
    }
  };
  std::unordered_map<std::string, std::unique_ptr<Statement>, Hash, std::equal_to<>> cache_;
  int wal_pages_ = 0;
  int page_size_ = 4096;
  std::mutex* write_lock_ = nullptr;
};

// BEGIN IMMEDIATE in the constructor; ROLLBACK in the destructor unless commit() ran.
class Transaction {
 public:
  explicit Transaction(Connection& db) : db_(db) { db_.begin_immediate(); }
  ~Transaction() {
    if (!done_) db_.rollback();
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit() {
    db_.commit();
    done_ = true;
  }

 private:
  Connection& db_;
  bool done_ = false;
};

// True for errors that mean "another connection holds the lock; try again".
bool is_busy_error(int sqlite_code) noexcept;

namespace detail {
// Sleeps for the back-off of retry `attempt` and says whether to keep trying.
bool backoff(int attempt, std::chrono::steady_clock::time_point deadline);
}  // namespace detail

template <typename F>
auto Connection::write_transaction(F&& body) -> decltype(body()) {
  std::unique_lock<std::mutex> in_process;
  if (write_lock_) in_process = std::unique_lock(*write_lock_);
  auto deadline = std::chrono::steady_clock::now() + options_.busy_give_up;
  for (int attempt = 0;; ++attempt) {
    begin_immediate();
    try {
      if constexpr (std::is_void_v<decltype(body())>) {
        body();
        commit();
        return;
      } else {
        auto result = body();
        commit();
        return result;
      }
    } catch (const BusyError&) {
      rollback();
      if (!detail::backoff(attempt, deadline)) throw;
    } catch (...) {
      rollback();
      throw;
    }
  }
}

}  // namespace baton::sqlite
