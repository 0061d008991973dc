#include "storage/migrations.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <thread>

#include "model/ids.h"
#include "storage/sqlite/connection.h"
#include "storage/sqlite/sqlite_storage.h"
#include "storage_test_util.h"

namespace baton::storage {
namespace {

using baton::testing::fresh_db;

std::vector<int> sqlite_versions() {
  std::vector<int> out;
  for (const auto& m : embedded_migrations())
    if (m.dialect.empty() || m.dialect == "sqlite") out.push_back(m.version);
  return out;
}

TEST(Migrations, EmbeddedFilesAreOrderedAndUniquePerDialect) {
  const auto& all = embedded_migrations();
  ASSERT_FALSE(all.empty());
  EXPECT_EQ(all.front().version, 1);
  EXPECT_EQ(all.front().name, "core");
  for (size_t i = 1; i < all.size(); ++i) EXPECT_LE(all[i - 1].version, all[i].version);
  auto versions = sqlite_versions();
  EXPECT_EQ(std::set<int>(versions.begin(), versions.end()).size(), versions.size());
  for (const auto& m : all) {
    EXPECT_TRUE(m.dialect.empty() || m.dialect == "sqlite" || m.dialect == "postgres") << m.name;
    EXPECT_FALSE(m.sql.empty()) << m.name;
  }
}

TEST(Migrations, ApplyOnceAndRecordEachVersion) {
  sqlite::Connection db(fresh_db());
  migrate_sqlite(db);
  EXPECT_EQ(applied_migrations(db), sqlite_versions());
  migrate_sqlite(db);  // a second run changes nothing
  EXPECT_EQ(applied_migrations(db), sqlite_versions());
  for (const char* table : {"flow", "flow_run", "flow_run_state", "task_run", "log"}) {
    auto& q =
        db.prepare_cached("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?");
    q.bind(1, table);
    ASSERT_TRUE(q.step());
    EXPECT_EQ(q.int64(0), 1) << table;
    q.reset();
  }
}

// Each migration's version is its file's number: 0100_events is 100, not 10 (the embedding once
// stripped one zero too many, so a future 0010 would have been taken as applied).
TEST(Migrations, VersionsAreTheFileNumbers) {
  std::map<std::string, int> by_name;
  for (const auto& m : embedded_migrations()) by_name[std::string(m.name)] = m.version;
  EXPECT_EQ(by_name.at("core"), 1);
  EXPECT_EQ(by_name.at("events"), 100);
  EXPECT_EQ(by_name.at("variables_artifacts"), 101);
  EXPECT_EQ(by_name.at("concurrency_limits"), 102);
}

// A database migrated by a build with that bug recorded 0100-0102 as 10-12: opening it renumbers
// the rows by name and applies nothing twice.
TEST(Migrations, VersionsRecordedByTheOldNumberingAreRenumbered) {
  auto path = fresh_db();
  {
    sqlite::Connection db(path);
    migrate_sqlite(db);
    db.exec("UPDATE schema_migrations SET version = version - 90 WHERE version >= 100");
  }
  sqlite::Connection db(path);
  migrate_sqlite(db);
  EXPECT_EQ(applied_migrations(db), sqlite_versions());
  auto& q = db.prepare_cached("SELECT COUNT(*) FROM schema_migrations");
  ASSERT_TRUE(q.step());
  EXPECT_EQ(static_cast<size_t>(q.int64(0)), sqlite_versions().size());
  q.reset();
}

TEST(Migrations, ConcurrentOpenersMigrateExactlyOnce) {
  auto path = fresh_db();
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      try {
        SqliteStorage storage(path);
      } catch (const std::exception&) {
        ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  sqlite::Connection db(path);
  EXPECT_EQ(applied_migrations(db), sqlite_versions());
}

// A database written by the first release (only 0001 applied) keeps its rows through 0002's
// table rebuilds.
TEST(Migrations, UpgradeFromVersionOneKeepsRows) {
  auto path = fresh_db();
  std::string run_id = new_id(), task_id = new_id(), state_id = new_id();
  {
    sqlite::Connection db(path);
    applied_migrations(db);  // creates schema_migrations
    db.exec(embedded_migrations().front().sql);
    db.exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES (1, 'core', 0)");
    db.prepare_cached(
          "INSERT INTO task_run (id, flow_run_id, task_key, name, state_id, state_type, "
          "state_name, "
          "state_timestamp, run_count, created, updated) VALUES (?, ?, 'k', 'old-task', ?, "
          "'COMPLETED', 'Completed', 5, 1, 1, 1)")
        .bind(1, task_id)
        .bind(2, run_id)
        .bind(3, state_id)
        .run();
    db.prepare_cached(
          "INSERT INTO task_run_state (id, task_run_id, type, name, timestamp) VALUES "
          "(?, ?, 'COMPLETED', 'Completed', 5)")
        .bind(1, state_id)
        .bind(2, task_id)
        .run();
  }
  SqliteStorage storage(path);
  auto task = storage.read_task_run(task_id);
  ASSERT_TRUE(task.has_value());
  EXPECT_EQ(task->name, "old-task");
  EXPECT_EQ(task->state.type, StateType::kCompleted);
  EXPECT_EQ(storage.read_states(task_id).size(), 1u);
}

// 0007 rebuilds flow_run to replace its table-level UNIQUE (flow_id, idempotency_key) by a
// partial unique index: every row and column survives, keys still deduplicate, keyless runs still
// coexist, and the old constraint's index is gone.
TEST(Migrations, UpgradeToPartialIdempotencyIndexKeepsRunsAndKeys) {
  auto path = fresh_db();
  std::string keyed = new_id(), plain = new_id(), flow_id = new_id();
  {
    sqlite::Connection db(path);
    applied_migrations(db);
    for (const auto& m : embedded_migrations()) {
      if (m.version > 6 || m.dialect == "postgres") continue;
      db.exec(m.sql);
      db.prepare_cached(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, 0)")
          .bind(1, m.version)
          .bind(2, m.name)
          .run();
    }
    db.prepare_cached("INSERT INTO flow (id, name, created, updated) VALUES (?, 'etl', 1, 1)")
        .bind(1, flow_id)
        .run();
    auto& run = db.prepare_cached(
        "INSERT INTO flow_run (id, flow_id, flow_name, name, idempotency_key, parameters, "
        "state_type, state_name, state_timestamp, run_count, created, updated, "
        "expected_start_time, start_time, infrastructure_pid, heartbeat) "
        "VALUES (?, ?, 'etl', ?, ?, '{\"x\":1}', 'RUNNING', 'Running', 5, 2, 1, 2, 3, 4, "
        "'h:1:2', 6)");
    run.bind(1, keyed).bind(2, flow_id).bind(3, "keyed-run").bind(4, "key-1").run();
    run.bind(1, plain).bind(2, flow_id).bind(3, "plain-run").bind(4, nullptr).run();
  }
  SqliteStorage storage(path);
  for (const auto& [id, name] : {std::pair{keyed, "keyed-run"}, std::pair{plain, "plain-run"}}) {
    auto r = storage.read_flow_run(id);
    ASSERT_TRUE(r.has_value()) << name;
    EXPECT_EQ(r->name, name);
    EXPECT_EQ(r->parameters, nlohmann::json({{"x", 1}}));
    EXPECT_EQ(r->run_count, 2);
    EXPECT_EQ(r->start_time, TimePoint(std::chrono::microseconds(4)));
    EXPECT_EQ(r->infrastructure_pid, "h:1:2");
  }
  EXPECT_EQ(storage.read_flow_run(keyed)->idempotency_key, "key-1");

  FlowRunRecord again;
  again.id = new_id();
  again.flow_id = flow_id;
  again.flow_name = "etl";
  again.name = "again";
  again.idempotency_key = "key-1";
  again.created = again.updated = now();
  auto found = storage.insert_flow_run(again);
  EXPECT_FALSE(found.inserted);
  EXPECT_EQ(found.run.id, keyed);
  for (int i = 0; i < 2; ++i) {
    FlowRunRecord keyless = again;
    keyless.id = new_id();
    keyless.idempotency_key.clear();
    EXPECT_TRUE(storage.insert_flow_run(keyless).inserted) << i;
  }
  EXPECT_EQ(storage.count_flow_runs({}), 4);

  sqlite::Connection db(path);
  auto& q =
      db.prepare_cached("SELECT name FROM sqlite_master WHERE tbl_name = 'flow_run' ORDER BY 1");
  std::set<std::string> indexes;
  while (q.step()) indexes.insert(q.text(0));
  q.reset();
  EXPECT_TRUE(indexes.count("ux_flow_run_idempotency_key"));
  EXPECT_FALSE(indexes.count("sqlite_autoindex_flow_run_2"));
  for (const char* kept : {"ix_flow_run_flow_name", "ix_flow_run_expected_start_time",
                           "ix_flow_run_start_time", "ix_flow_run_next_scheduled",
                           "ix_flow_run_parent_task_run_id", "ix_flow_run_deployment_id"})
    EXPECT_TRUE(indexes.count(kept)) << kept;
}

// Applies every migration but the `skipped` versions, as an older build left the database.
void migrate_before(sqlite::Connection& db, const std::set<int>& skipped) {
  applied_migrations(db);
  for (const auto& m : embedded_migrations()) {
    if (skipped.count(m.version) || m.dialect == "postgres") continue;
    db.exec(m.sql);
    db.prepare_cached("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, 0)")
        .bind(1, m.version)
        .bind(2, m.name)
        .run();
  }
}

std::set<std::string> index_names(sqlite::Connection& db, const std::string& table) {
  auto& q = db.prepare_cached(
      "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ? ORDER BY 1");
  q.bind(1, table);
  std::set<std::string> out;
  while (q.step()) out.insert(q.text(0));
  q.reset();
  return out;
}

// 0009 makes ix_flow_run_start_time partial (started runs only) and 0104 drops ix_event_name and
// widens ix_event_occurred with the name: runs and events written before both stay readable,
// start-time filters and sorts still find every run, and events are still there by name.
TEST(Migrations, UpgradeToNarrowerRunAndEventIndexesKeepsRowsReadable) {
  auto path = fresh_db();
  std::string flow_id = new_id(), started = new_id(), waiting = new_id(), event_id = new_id();
  {
    sqlite::Connection db(path);
    migrate_before(db, {9, 104});
    ASSERT_TRUE(index_names(db, "event").count("ix_event_name"));
    db.prepare_cached("INSERT INTO flow (id, name, created, updated) VALUES (?, 'etl', 1, 1)")
        .bind(1, flow_id)
        .run();
    auto& run = db.prepare_cached(
        "INSERT INTO flow_run (id, flow_id, flow_name, name, state_type, state_name, "
        "state_timestamp, created, updated, expected_start_time, start_time) "
        "VALUES (?, ?, 'etl', ?, ?, ?, 5, 1, 2, 3, ?)");
    run.bind(1, started).bind(2, flow_id).bind(3, "started").bind(4, "RUNNING");
    run.bind(5, "Running").bind(6, int64_t{4}).run();
    run.bind(1, waiting).bind(2, flow_id).bind(3, "waiting").bind(4, "SCHEDULED");
    run.bind(5, "Scheduled").bind(6, nullptr).run();
    db.prepare_cached(
          "INSERT INTO event (id, occurred, event, resource_id, resource, related, payload, "
          "received) VALUES (?, 7, 'baton.flow-run.Running', ?, '{}', '[]', '{}', 8)")
        .bind(1, event_id)
        .bind(2, "baton.flow-run." + started)
        .run();
  }
  SqliteStorage storage(path);
  FlowRunFilter after;
  after.start_time_after = TimePoint(std::chrono::microseconds(4));
  auto found = storage.filter_flow_runs(after);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].id, started);
  FlowRunFilter by_start;
  by_start.sort = "START_TIME_DESC";
  auto sorted = storage.filter_flow_runs(by_start);
  ASSERT_EQ(sorted.size(), 2u);
  EXPECT_EQ(sorted[0].id, started);  // NULLS LAST: the run that has not started comes after
  EXPECT_EQ(sorted[1].id, waiting);
  EXPECT_EQ(sorted[1].name, "waiting");

  sqlite::Connection db(path);
  auto& q = db.prepare_cached(
      "SELECT id, resource_id FROM event WHERE event IN ('baton.flow-run.Running') "
      "ORDER BY occurred, id");
  ASSERT_TRUE(q.step());
  EXPECT_EQ(q.text(0), event_id);
  EXPECT_EQ(q.text(1), "baton.flow-run." + started);
  EXPECT_FALSE(q.step());
  q.reset();
  EXPECT_EQ(index_names(db, "event"),
            (std::set<std::string>{"ix_event_occurred", "ix_event_resource",
                                   "sqlite_autoindex_event_1"}));
  EXPECT_TRUE(index_names(db, "flow_run").count("ix_flow_run_start_time"));
}

// Every filter the API serves on flow_run and event reads an index, not the whole table (the rows
// are the WHERE/ORDER BY shapes that SqliteStorage::filter_flow_runs and
// server::SqliteEventStore::filter build). Indexes are dropped to save writes only while this
// holds.
TEST(Migrations, FiltersOnRunsAndEventsUseAnIndex) {
  sqlite::Connection db(fresh_db());
  migrate_sqlite(db);
  struct Case {
    const char* sql;
    const char* index;
  };
  const Case cases[] = {
      {"SELECT id FROM flow_run r WHERE r.start_time >= 1 ORDER BY r.start_time DESC NULLS LAST, "
       "r.id DESC LIMIT 10",
       "ix_flow_run_start_time"},
      // The started part of a START_TIME sort (SqliteStorage::filter_flow_runs).
      {"SELECT id FROM flow_run r WHERE r.start_time IS NOT NULL ORDER BY r.start_time DESC, "
       "r.id DESC LIMIT 10",
       "ix_flow_run_start_time"},
      {"SELECT id FROM flow_run r WHERE r.start_time <= 1 ORDER BY r.expected_start_time DESC "
       "NULLS LAST, r.id DESC LIMIT 10",
       "ix_flow_run_start_time"},
      {"SELECT id FROM flow_run r ORDER BY r.expected_start_time DESC NULLS LAST, r.id DESC "
       "LIMIT 10",
       "ix_flow_run_expected_start_time"},
      {"SELECT id FROM flow_run r WHERE r.state_type IN ('RUNNING', 'CANCELLING') LIMIT 10",
       "ix_flow_run_next_scheduled"},
      {"SELECT id FROM flow_run r WHERE r.state_type IN ('SCHEDULED') AND "
       "r.next_scheduled_start_time <= 5 LIMIT 10",
       "ix_flow_run_next_scheduled"},
      {"SELECT id FROM flow_run r WHERE r.flow_name IN ('etl') LIMIT 10", "ix_flow_run_flow_name"},
      {"SELECT id FROM event WHERE 1=1 AND event IN ('a', 'b') ORDER BY occurred, id LIMIT 10",
       "ix_event_occurred"},
      {"SELECT id FROM event WHERE 1=1 AND event IN ('a') AND occurred >= 5 ORDER BY occurred, "
       "id LIMIT 10",
       "ix_event_occurred"},
      {"SELECT id FROM event WHERE 1=1 AND resource_id IN ('x') ORDER BY occurred, id LIMIT 10",
       "ix_event_resource"},
      {"SELECT id FROM event WHERE 1=1 AND occurred >= 5 AND occurred <= 9 ORDER BY occurred, id "
       "LIMIT 10",
       "ix_event_occurred"},
  };
  for (const auto& c : cases) {
    auto plan = db.prepare(std::string("EXPLAIN QUERY PLAN ") + c.sql);
    std::string detail;
    while (plan->step()) detail += plan->text(3) + "\n";
    EXPECT_NE(detail.find(c.index), std::string::npos) << c.sql << "\n" << detail;
  }
}
}  // namespace
}  // namespace baton::storage
