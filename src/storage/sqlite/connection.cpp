#include "storage/sqlite/connection.h"

#include <sqlite3.h>

#include <algorithm>
#include <random>
#include <thread>

namespace baton::sqlite {

bool is_busy_error(int code) noexcept {
  int primary = code & 0xff;
  return primary == SQLITE_BUSY || primary == SQLITE_LOCKED;
}

namespace detail {
bool backoff(int attempt, std::chrono::steady_clock::time_point deadline) {
  if (std::chrono::steady_clock::now() >= deadline) return false;
  // Randomised, growing sleeps so that processes contending for the lock do not retry in step.
  thread_local std::minstd_rand rng{std::random_device{}()};
  int cap_us = std::min(50'000, 200 << std::min(attempt, 8));
  std::this_thread::sleep_for(std::chrono::microseconds(100 + rng() % cap_us));
  return true;
}
}  // namespace detail

// --- Statement ----------------------------------------------------------------------------------

Statement::Statement(Connection& db, std::string_view sql) : db_(db) {
  int rc = sqlite3_prepare_v3(db.handle(), sql.data(), static_cast<int>(sql.size()),
                              SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr);
  if (rc != SQLITE_OK) db.fail(rc, "preparing: " + std::string(sql));
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

void Statement::check_bind(int rc, int index) {
  if (rc != SQLITE_OK)
    db_.fail(rc, "binding parameter " + std::to_string(index) + " of: " + sqlite3_sql(stmt_));
}

#define BATON_RESET_BEFORE_BIND() \
  if (needs_reset_) reset()

Statement& Statement::bind(int index, int64_t value) {
  BATON_RESET_BEFORE_BIND();
  check_bind(sqlite3_bind_int64(stmt_, index, value), index);
  return *this;
}
Statement& Statement::bind(int index, double value) {
  BATON_RESET_BEFORE_BIND();
  check_bind(sqlite3_bind_double(stmt_, index, value), index);
  return *this;
}
Statement& Statement::bind(int index, std::string_view value) {
  BATON_RESET_BEFORE_BIND();
  check_bind(sqlite3_bind_text(stmt_, index, value.data(), static_cast<int>(value.size()),
                               SQLITE_TRANSIENT),
             index);
  return *this;
}
Statement& Statement::bind_view(int index, std::string_view value) {
  BATON_RESET_BEFORE_BIND();
  check_bind(
      sqlite3_bind_text(stmt_, index, value.data(), static_cast<int>(value.size()), SQLITE_STATIC),
      index);
  return *this;
}
Statement& Statement::bind(int index, std::nullptr_t) {
  BATON_RESET_BEFORE_BIND();
  check_bind(sqlite3_bind_null(stmt_, index), index);
  return *this;
}
#undef BATON_RESET_BEFORE_BIND

bool Statement::step() {
  needs_reset_ = true;
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  // Reset clears the statement's error state so that a cached statement stays usable.
  sqlite3_reset(stmt_);
  needs_reset_ = false;
  db_.fail(rc, std::string("running: ") + sqlite3_sql(stmt_));
}

void Statement::run() {
  while (step()) {
  }
  reset();
}

int Statement::changes() const { return sqlite3_changes(db_.handle()); }

void Statement::reset() {
  sqlite3_reset(stmt_);
  needs_reset_ = false;
}

bool Statement::is_null(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}
int64_t Statement::int64(int column) const { return sqlite3_column_int64(stmt_, column); }
double Statement::real(int column) const { return sqlite3_column_double(stmt_, column); }
std::string Statement::text(int column) const {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
  if (!p) return {};
  return std::string(p, static_cast<size_t>(sqlite3_column_bytes(stmt_, column)));
}
std::string_view Statement::text_view(int column) const {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
  if (!p) return {};
  return std::string_view(p, static_cast<size_t>(sqlite3_column_bytes(stmt_, column)));
}
std::optional<int64_t> Statement::optional_int64(int column) const {
  if (is_null(column)) return std::nullopt;
  return int64(column);
}

// --- Connection ---------------------------------------------------------------------------------

namespace {
// SQLite's allocation statistics take a global mutex on every malloc; nothing here reads them.
// Must run before sqlite3_initialize(); later calls fail harmlessly (SQLITE_MISUSE).
[[maybe_unused]] const int kMemstatusOff = sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}  // namespace

Connection::Connection(const std::string& path, ConnectionOptions options)
    : path_(path), options_(options) {
  int flags =
      options.read_only ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  flags |= SQLITE_OPEN_NOMUTEX;  // one thread at a time by contract; skip sqlite's own mutex
  int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string message = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    sqlite3_close(db_);
    db_ = nullptr;
    throw unavailable("cannot open database '" + path + "': " + message);
  }
  sqlite3_extended_result_codes(db_, 1);
  sqlite3_busy_timeout(db_, static_cast<int>(options.busy_timeout.count()));
  try {
    if (!options.read_only) {
      // Applies to a new file only (see kBulkPageSize): an existing one keeps its own.
      exec("PRAGMA page_size=" + std::to_string(options.new_file_page_size));
      // Switching to WAL needs a moment of exclusive access; exec() retries while busy.
      exec("PRAGMA journal_mode=WAL");
    }
    exec(
        "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY; "
        "PRAGMA cache_size=" +
        std::to_string(options.cache_size));
    auto& page_size = prepare_cached("PRAGMA page_size");
    if (page_size.step()) page_size_ = static_cast<int>(page_size.int64(0));
    page_size.reset();
    if (options.wal_autocheckpoint > 0) {
      // The option counts 4 KiB pages, whatever this file's page size.
      sqlite3_wal_autocheckpoint(
          db_, std::max(1, static_cast<int>(int64_t{options.wal_autocheckpoint} * 4096 /
                                            std::max(page_size_, 512))));
    } else {
      // Replaces sqlite's checkpointing hook: record the WAL size, checkpoint nothing.
      sqlite3_wal_hook(
          db_,
          [](void* self, sqlite3*, const char*, int pages) {
            static_cast<Connection*>(self)->wal_pages_ = pages;
            return SQLITE_OK;
          },
          this);
    }
  } catch (...) {
    sqlite3_close(db_);
    db_ = nullptr;
    throw;
  }
}

Connection::~Connection() {
  cache_.clear();  // statements must be finalized before the connection closes
  if (db_) sqlite3_close(db_);
}

void Connection::fail(int rc, std::string_view what) const {
  std::string message = std::string(sqlite3_errstr(rc));
  if (db_) {
    const char* detail = sqlite3_errmsg(db_);
    if (detail && message != detail) message = detail;
  }
  std::string text = "database '" + path_ + "': " + message + " (" + std::string(what) + ")";
  int primary = rc & 0xff;
  if (is_busy_error(rc)) throw BusyError(text);
  if (primary == SQLITE_CONSTRAINT) throw conflict(text);
  if (primary == SQLITE_IOERR || primary == SQLITE_CANTOPEN || primary == SQLITE_FULL ||
      primary == SQLITE_READONLY || primary == SQLITE_PROTOCOL)
    throw unavailable(text);
  throw Error(ErrorKind::kInternal, text);
}

Statement& Connection::prepare_cached(std::string_view sql) {
  auto it = cache_.find(sql);
  if (it != cache_.end()) return *it->second;
  auto stmt = std::make_unique<Statement>(*this, sql);
  auto& ref = *stmt;
  cache_.emplace(std::string(sql), std::move(stmt));
  return ref;
}

std::unique_ptr<Statement> Connection::prepare(std::string_view sql) {
  return std::make_unique<Statement>(*this, sql);
}

void Connection::exec(std::string_view sql) {
  std::string text(sql);
  auto deadline = std::chrono::steady_clock::now() + options_.busy_give_up;
  for (int attempt = 0;; ++attempt) {
    char* error = nullptr;
    int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &error);
    sqlite3_free(error);
    if (rc == SQLITE_OK) return;
    if (is_busy_error(rc) && !in_transaction() && detail::backoff(attempt, deadline)) continue;
    fail(rc, "executing: " + text);
  }
}

Connection::Checkpoint Connection::checkpoint() noexcept {
  int wal = 0, copied = 0;
  if (sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_PASSIVE, &wal, &copied) !=
      SQLITE_OK)
    return {};
  if (copied >= wal) wal_pages_ = 0;
  return {int64_t{wal} * page_size_, int64_t{std::max(0, wal - copied)} * page_size_};
}

bool Connection::in_transaction() const { return sqlite3_get_autocommit(db_) == 0; }
int64_t Connection::last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }

uint32_t Connection::data_version() const {
  unsigned int version = 0;
  sqlite3_file_control(db_, "main", SQLITE_FCNTL_DATA_VERSION, &version);
  return version;
}
int Connection::changes() const { return sqlite3_changes(db_); }

void Connection::begin_immediate() {
  auto& begin = prepare_cached("BEGIN IMMEDIATE");
  auto deadline = std::chrono::steady_clock::now() + options_.busy_give_up;
  for (int attempt = 0;; ++attempt) {
    try {
      begin.run();
      return;
    } catch (const BusyError&) {
      if (!detail::backoff(attempt, deadline)) throw;
    }
  }
}

void Connection::commit() {
  auto& commit = prepare_cached("COMMIT");
  auto deadline = std::chrono::steady_clock::now() + options_.busy_give_up;
  for (int attempt = 0;; ++attempt) {
    try {
      commit.run();
      return;
    } catch (const BusyError&) {
      // COMMIT may be retried while the transaction is still open.
      if (!in_transaction() || !detail::backoff(attempt, deadline)) throw;
    }
  }
}

void Connection::rollback() noexcept {
  if (db_ && in_transaction()) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
}

}  // namespace baton::sqlite
