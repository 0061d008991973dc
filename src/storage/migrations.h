// Versioned schema migrations, embedded into the library at build time.
//
// Each file src/storage/migrations/NNNN_name.sql (all dialects) or NNNN_name.<dialect>.sql (one
// dialect: "sqlite" or "postgres") is one migration; NNNN is its version. Versions are applied in
// ascending order, each in its own transaction, and recorded in the schema_migrations table, so a
// database opened by a newer build is brought up to date and one opened by several processes at
// once is migrated exactly once. Adding a migration is adding a file: the build picks it up.
//
// Version ranges, so that layers add their tables without touching each other's files:
//   0001-0099  core: flows, flow runs, task runs, states, logs (storage layer)
//   0100-0199  server resources: artifacts, variables, concurrency limits, events, ...
//   0200-0299  deployments, work pools, schedules, workers
//
// Thread-safety: embedded_migrations() returns an immutable list.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace baton::sqlite {
class Connection;
}

namespace baton::storage {

struct Migration {
  int version;
  std::string_view name;     // from the file name, e.g. "core"
  std::string_view dialect;  // "" for every dialect, else "sqlite" / "postgres"
  std::string_view sql;
};

// Every migration file, ordered by version (then by file name).
const std::vector<Migration>& embedded_migrations();

// Applies to `db` every embedded migration for the "sqlite" dialect that it has not recorded
// yet. Safe to call from several processes at once. Throws baton::Error when a migration fails
// (the failed one is rolled back; earlier ones stay applied).
void migrate_sqlite(sqlite::Connection& db);

// Versions recorded in db's schema_migrations table, ascending.
std::vector<int> applied_migrations(sqlite::Connection& db);

}  // namespace baton::storage
