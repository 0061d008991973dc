#include "storage/concurrency_limits.h"

#include <algorithm>
#include <cmath>

#include "baton/error.h"
#include "baton/state.h"
#include "model/ids.h"
#include "storage/migrations.h"
#include "storage/sqlite/connection.h"

namespace baton::storage {

namespace {
using nlohmann::json;

int64_t now_us() { return now().time_since_epoch().count(); }
std::string time_text(int64_t us) { return format_time(TimePoint(std::chrono::microseconds(us))); }

struct Row {
  std::string id, name;
  int limit = 0;
  bool active = true;
  double decay = 0, decayed_slots = 0;
  int64_t decayed_at = 0;
  int denied = 0;
  int64_t created = 0, updated = 0;
};

constexpr const char* kSelect =
    "SELECT id, name, slot_limit, active, slot_decay_per_second, decayed_slots, decayed_at, "
    "denied_slots, created, "
    "updated FROM concurrency_limit ";

// Reads the current result row of a statement that selects kSelect's columns.
Row read_row(sqlite::Statement& q) {
  return Row{q.text(0), q.text(1),  static_cast<int>(q.int64(2)), q.int64(3) != 0, q.real(4),
             q.real(5), q.int64(6), static_cast<int>(q.int64(7)), q.int64(8),      q.int64(9)};
}

std::optional<Row> select_row(sqlite::Connection& db, const std::string& id_or_name) {
  auto& q = db.prepare_cached(std::string(kSelect) + "WHERE id = ? OR name = ?");
  q.bind(1, id_or_name).bind(2, id_or_name);
  if (!q.step()) return std::nullopt;
  Row r = read_row(q);
  q.reset();
  return r;
}

double decayed(const Row& r, int64_t at) {
  if (r.decay <= 0) return r.decayed_slots;
  return std::max(0.0, r.decayed_slots - r.decay * static_cast<double>(at - r.decayed_at) / 1e6);
}

int leased(sqlite::Connection& db, const std::string& limit_id, int64_t at) {
  auto& q = db.prepare_cached(
      "SELECT COALESCE(SUM(slots), 0) FROM concurrency_lease WHERE limit_id = ? AND expires > ?");
  q.bind(1, limit_id).bind(2, at);
  q.step();
  int n = static_cast<int>(q.int64(0));
  q.reset();
  return n;
}

double active_slots(sqlite::Connection& db, const Row& r, int64_t at) {
  return leased(db, r.id, at) + decayed(r, at);
}

json to_json(sqlite::Connection& db, const Row& r) {
  double active = active_slots(db, r, now_us());
  return {{"id", r.id},
          {"name", r.name},
          {"limit", r.limit},
          {"active", r.active},
          {"active_slots", static_cast<int>(std::ceil(active - 1e-9))},
          {"denied_slots", r.denied},
          {"slot_decay_per_second", r.decay},
          {"created", time_text(r.created)},
          {"updated", time_text(r.updated)}};
}

Row insert_row(sqlite::Connection& db, const std::string& name, int limit, bool active,
               double decay) {
  int64_t t = now_us();
  Row r{new_id(), name, limit, active, decay, 0, t, 0, t, t};
  db.prepare_cached(
        "INSERT INTO concurrency_limit (id, name, slot_limit, active, slot_decay_per_second, "
        "decayed_at, created, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
      .bind(1, r.id)
      .bind(2, name)
      .bind(3, limit)
      .bind(4, active)
      .bind(5, decay)
      .bind(6, t)
      .bind(7, t)
      .bind(8, t)
      .run();
  return r;
}

void check_name(const std::string& name) {
  if (name.empty() || name.size() > 255)
    throw invalid_argument("a limit name must have 1 to 255 characters", "name");
}
}  // namespace

ConcurrencyLimits::ConcurrencyLimits(const std::string& path)
    : db_(std::make_unique<sqlite::Connection>(path)) {
  migrate_sqlite(*db_);  // a no-op read when the file's owner (SqliteStorage) has migrated it
}
ConcurrencyLimits::~ConcurrencyLimits() = default;

json ConcurrencyLimits::create(const std::string& name, int limit, bool active, double decay) {
  check_name(name);
  std::lock_guard lock(mutex_);
  return db_->write_transaction([&] {
    if (select_row(*db_, name))
      throw conflict("a concurrency limit named '" + name + "' already exists");
    return to_json(*db_, insert_row(*db_, name, limit, active, decay));
  });
}

// One write transaction, so two processes upserting the same new name cannot both insert it.
json ConcurrencyLimits::upsert(const std::string& name, int limit) {
  check_name(name);
  std::lock_guard lock(mutex_);
  return db_->write_transaction([&] {
    auto row = select_row(*db_, name);
    if (!row) return to_json(*db_, insert_row(*db_, name, limit, true, 0));
    row->limit = limit;
    row->updated = now_us();
    db_->prepare_cached("UPDATE concurrency_limit SET slot_limit = ?, updated = ? WHERE id = ?")
        .bind(1, limit)
        .bind(2, row->updated)
        .bind(3, row->id)
        .run();
    return to_json(*db_, *row);
  });
}

json ConcurrencyLimits::update(const std::string& id_or_name, const json& changes) {
  std::lock_guard lock(mutex_);
  db_->write_transaction([&] {
    auto row = select_row(*db_, id_or_name);
    if (!row) throw not_found("no concurrency limit '" + id_or_name + "'");
    if (changes.contains("limit")) row->limit = changes["limit"].get<int>();
    if (changes.contains("active")) row->active = changes["active"].get<bool>();
    if (changes.contains("slot_decay_per_second"))
      row->decay = changes["slot_decay_per_second"].get<double>();
    if (changes.contains("name")) {
      std::string name = changes["name"].get<std::string>();
      check_name(name);
      if (name != row->name && select_row(*db_, name))
        throw conflict("a concurrency limit named '" + name + "' already exists");
      row->name = name;
    }
    db_->prepare_cached(
           "UPDATE concurrency_limit SET name = ?, slot_limit = ?, active = ?, "
           "slot_decay_per_second = ?, updated = ? "
           "WHERE id = ?")
        .bind(1, row->name)
        .bind(2, row->limit)
        .bind(3, row->active)
        .bind(4, row->decay)
        .bind(5, now_us())
        .bind(6, row->id)
        .run();
  });
  return read_locked(changes.contains("name") ? changes["name"].get<std::string>() : id_or_name);
}

json ConcurrencyLimits::read_locked(const std::string& id_or_name) {
  auto row = select_row(*db_, id_or_name);
  if (!row) throw not_found("no concurrency limit '" + id_or_name + "'");
  return to_json(*db_, *row);
}

json ConcurrencyLimits::read(const std::string& id_or_name) {
  std::lock_guard lock(mutex_);
  return read_locked(id_or_name);
}

std::vector<json> ConcurrencyLimits::list(const std::string& name_prefix, int limit, int offset) {
  std::lock_guard lock(mutex_);
  auto q = db_->prepare(std::string(kSelect) +
                        "WHERE substr(name, 1, length(?)) = ? ORDER BY name LIMIT ? OFFSET ?");
  q->bind(1, name_prefix).bind(2, name_prefix).bind(3, limit).bind(4, offset);
  std::vector<Row> rows;
  while (q->step()) rows.push_back(read_row(*q));
  std::vector<json> out;
  for (const auto& r : rows) out.push_back(to_json(*db_, r));
  return out;
}

void ConcurrencyLimits::remove(const std::string& id_or_name) {
  std::lock_guard lock(mutex_);
  db_->write_transaction([&] {
    auto row = select_row(*db_, id_or_name);
    if (!row) throw not_found("no concurrency limit '" + id_or_name + "'");
    db_->prepare_cached("DELETE FROM concurrency_lease WHERE limit_id = ?").bind(1, row->id).run();
    db_->prepare_cached("DELETE FROM concurrency_limit WHERE id = ?").bind(1, row->id).run();
  });
}

json ConcurrencyLimits::reset(const std::string& id_or_name) {
  std::lock_guard lock(mutex_);
  return db_->write_transaction([&] {
    auto row = select_row(*db_, id_or_name);
    if (!row) throw not_found("no concurrency limit '" + id_or_name + "'");
    row->decayed_slots = 0;
    row->decayed_at = now_us();
    db_->prepare_cached("DELETE FROM concurrency_lease WHERE limit_id = ?").bind(1, row->id).run();
    db_->prepare_cached(
           "UPDATE concurrency_limit SET decayed_slots = 0, decayed_at = ? WHERE id = ?")
        .bind(1, row->decayed_at)
        .bind(2, row->id)
        .run();
    return to_json(*db_, *row);
  });
}

ConcurrencyLimits::Acquired ConcurrencyLimits::acquire(const std::vector<std::string>& names,
                                                       int slots, const std::string& mode,
                                                       double lease_seconds,
                                                       const std::string& holder) {
  std::lock_guard lock(mutex_);
  bool any_limit = false;
  for (const auto& name : names) {
    auto row = select_row(*db_, name);
    if (row && row->active) {
      any_limit = true;
      break;
    }
  }
  // Nothing constrains these names: granted without a lease and without a write transaction.
  if (!any_limit) return Acquired{.granted = true};
  return db_->write_transaction([&] {
    Acquired out;
    int64_t t = now_us();
    db_->prepare_cached("DELETE FROM concurrency_lease WHERE expires <= ?").bind(1, t).run();
    std::vector<Row> rows;
    for (const auto& name : names) {
      auto row = select_row(*db_, name);
      if (!row || !row->active) continue;
      if (slots > row->limit)
        throw invalid_argument("asks for " + std::to_string(slots) + " slots but limit '" +
                                   row->name + "' has only " + std::to_string(row->limit),
                               "slots");
      if (mode == "rate" && row->decay <= 0)
        throw invalid_argument("limit '" + row->name +
                                   "' has no slot_decay_per_second, so it cannot be used as a rate "
                                   "limit",
                               "mode");
      rows.push_back(*row);
    }
    for (const auto& r : rows) {
      double active = active_slots(*db_, r, t);
      if (active + slots <= r.limit + 1e-9) continue;
      // No room: nothing is taken; say how long until there may be.
      double wait = 0;
      if (r.decay > 0) wait = (active + slots - r.limit) / r.decay;
      auto& q = db_->prepare_cached(
          "SELECT MIN(expires) FROM concurrency_lease WHERE limit_id = ? AND expires > ?");
      q.bind(1, r.id).bind(2, t);
      if (q.step() && !q.is_null(0)) {
        double lease_wait = static_cast<double>(q.int64(0) - t) / 1e6;
        wait = r.decay > 0 ? std::min(wait, lease_wait) : lease_wait;
      }
      q.reset();
      db_->prepare_cached(
             "UPDATE concurrency_limit SET denied_slots = denied_slots + ? WHERE id = ?")
          .bind(1, slots)
          .bind(2, r.id)
          .run();
      out.retry_after_s = std::max(0.05, wait);
      out.blocking_limit = r.name;
      return out;
    }
    out.granted = true;
    if (mode == "concurrency" && !rows.empty()) out.lease_id = new_id();
    for (auto& r : rows) {
      if (mode == "rate") {
        double now_decayed = decayed(r, t) + slots;
        db_->prepare_cached(
               "UPDATE concurrency_limit SET decayed_slots = ?, decayed_at = ? WHERE id = ?")
            .bind(1, now_decayed)
            .bind(2, t)
            .bind(3, r.id)
            .run();
        r.decayed_slots = now_decayed;
        r.decayed_at = t;
      } else {
        db_->prepare_cached(
               "INSERT INTO concurrency_lease (id, limit_id, slots, expires, holder) VALUES (?, ?, "
               "?, ?, ?)")
            .bind(1, out.lease_id)
            .bind(2, r.id)
            .bind(3, slots)
            .bind(4, t + static_cast<int64_t>(lease_seconds * 1e6))
            .bind_text_or_null(5, holder)
            .run();
      }
      out.limits.push_back(to_json(*db_, r));
    }
    return out;
  });
}

bool ConcurrencyLimits::renew(const std::string& lease_id, double lease_seconds) {
  std::lock_guard lock(mutex_);
  return db_->write_transaction([&] {
    int64_t t = now_us();
    db_->prepare_cached("UPDATE concurrency_lease SET expires = ? WHERE id = ? AND expires > ?")
        .bind(1, t + static_cast<int64_t>(lease_seconds * 1e6))
        .bind(2, lease_id)
        .bind(3, t)
        .run();
    return db_->changes() > 0;
  });
}

bool ConcurrencyLimits::release(const std::string& lease_id) {
  std::lock_guard lock(mutex_);
  return db_->write_transaction([&] {
    db_->prepare_cached("DELETE FROM concurrency_lease WHERE id = ? AND expires > ?")
        .bind(1, lease_id)
        .bind(2, now_us())
        .run();
    bool released = db_->changes() > 0;
    db_->prepare_cached("DELETE FROM concurrency_lease WHERE id = ?").bind(1, lease_id).run();
    return released;
  });
}

}  // namespace baton::storage
