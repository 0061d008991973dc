#include <set>
#include <string>
#include <utility>
#include <vector>

#include "storage/migrations.h"
#include "storage/sqlite/connection.h"

namespace baton::storage {

namespace {
constexpr std::string_view kCreateTable =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)";

bool applies_to_sqlite(const Migration& m) { return m.dialect.empty() || m.dialect == "sqlite"; }
}  // namespace

std::vector<int> applied_migrations(sqlite::Connection& db) {
  db.exec(kCreateTable);
  std::vector<int> out;
  auto& q = db.prepare_cached("SELECT version FROM schema_migrations ORDER BY version");
  q.reset();
  while (q.step()) out.push_back(static_cast<int>(q.int64(0)));
  q.reset();
  return out;
}

namespace {
// The versions recorded in `db` (the table is created when missing), one read on the usual path.
// Builds before 2026-11-24 recorded migrations 0100-0102 as versions 10-12 (a bug of the
// embedding script). A recorded migration is known by its name, so such rows take their file's
// number back first; without this a later migration 0010-0012 would be taken as applied.
std::set<int> recorded_versions(sqlite::Connection& db) {
  db.exec(kCreateTable);
  std::set<int> versions;
  std::vector<std::pair<int, std::string>> off;  // (right version, name)
  auto& q = db.prepare_cached("SELECT version, name FROM schema_migrations");
  q.reset();
  while (q.step()) {
    int version = static_cast<int>(q.int64(0));
    std::string name = q.text(1);
    versions.insert(version);
    for (const auto& m : embedded_migrations())
      if (m.name == name && m.version != version && applies_to_sqlite(m))
        off.emplace_back(m.version, name);
  }
  q.reset();
  if (off.empty()) return versions;
  db.write_transaction([&] {
    for (const auto& [version, name] : off)
      db.prepare_cached(
            "UPDATE schema_migrations SET version = ? WHERE name = ? AND NOT EXISTS "
            "(SELECT 1 FROM schema_migrations WHERE version = ?)")
          .bind(1, version)
          .bind(2, name)
          .bind(3, version)
          .run();
  });
  auto renumbered = applied_migrations(db);
  return {renumbered.begin(), renumbered.end()};
}
}  // namespace

void migrate_sqlite(sqlite::Connection& db) {
  std::set<int> applied = recorded_versions(db);
  for (const auto& m : embedded_migrations()) {
    if (!applies_to_sqlite(m) || applied.count(m.version)) continue;
    // Re-check inside the write lock: another process may have applied it meanwhile.
    db.write_transaction([&] {
      auto& check = db.prepare_cached("SELECT 1 FROM schema_migrations WHERE version = ?");
      bool done = check.bind(1, m.version).step();
      check.reset();
      if (done) return;
      db.exec(m.sql);
      auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
      db.prepare_cached(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)")
          .bind(1, m.version)
          .bind(2, m.name)
          .bind(3, static_cast<int64_t>(micros))
          .run();
    });
    applied.insert(m.version);
  }
}

}  // namespace baton::storage
