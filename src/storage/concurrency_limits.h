// Global concurrency limits, rate limits and task-run tag limits, in the SQLite database file.
//
// Storage logic shared by the server (the /api/v2/concurrency_limits routes) and the embedded
// client (the SDK's task-run tag limits: a task run with tags takes one slot of every
// "tag:<tag>" limit before it runs), so both enforce the same limits in the same tables.
//
// A limit has `limit` slots. acquire() takes `slots` of every named limit at once or none:
//  - mode "concurrency": the slots are held by a lease that expires after `lease_seconds` unless
//    renewed (renew()) and are given back by release(); an expired lease frees its slots, so a
//    crashed holder cannot block others forever.
//  - mode "rate": the slots are taken and drain away at the limit's slot_decay_per_second (a
//    limit of 10 with decay 2/s admits bursts of 10 and then 2 per second); no lease.
// Names without a limit, and inactive limits, do not constrain. When any named limit lacks room,
// nothing is taken, its denied count grows, and the caller is told how long to wait (from the
// earliest lease expiry or the decay rate).
//
// Every acquisition that may take a slot is one write transaction (BEGIN IMMEDIATE): concurrent
// callers, in this process or another, never over-commit a limit. Names none of which has an
// active limit are answered from a read, without a write transaction (the common case of a
// tagged task run whose tags carry no limit).
//
// Records: {"id", "name", "limit", "active", "active_slots", "denied_slots",
// "slot_decay_per_second", "created", "updated"}.
//
// Errors: invalid_argument naming the field; conflict for a duplicate name; not_found.
// Thread-safety: every method is safe from any thread.
#pragma once

#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace baton::sqlite {
class Connection;
}

namespace baton::storage {

// The prefix of the global limits that act as task-run tag limits: "tag:db" limits the task
// runs tagged "db".
inline constexpr const char* kTagLimitPrefix = "tag:";

class ConcurrencyLimits {
 public:
  // Opens its own connection to the SQLite file at `path`, migrating it when needed.
  explicit ConcurrencyLimits(const std::string& path);
  ~ConcurrencyLimits();

  nlohmann::json create(const std::string& name, int limit, bool active,
                        double slot_decay_per_second);
  // Creates or changes the limit named `name` (tag limits are set this way).
  nlohmann::json upsert(const std::string& name, int limit);
  nlohmann::json update(const std::string& id_or_name, const nlohmann::json& changes);
  nlohmann::json read(const std::string& id_or_name);
  std::vector<nlohmann::json> list(const std::string& name_prefix, int limit, int offset);
  void remove(const std::string& id_or_name);
  // Frees every slot of the limit: drops its leases and clears its decayed (rate) slots.
  nlohmann::json reset(const std::string& id_or_name);

  struct Acquired {
    bool granted = false;
    std::string lease_id;        // concurrency mode, when granted
    double retry_after_s = 0;    // when not granted
    std::string blocking_limit;  // when not granted: the first limit without room
    std::vector<nlohmann::json> limits;
  };
  // Throws invalid_argument naming "slots" when a limit has fewer slots than asked for in total
  // (a tag limit of 0 can never admit a run), and naming "mode" for a rate acquisition of a
  // limit without decay.
  Acquired acquire(const std::vector<std::string>& names, int slots, const std::string& mode,
                   double lease_seconds, const std::string& holder);
  // False when the lease is unknown or already expired.
  bool renew(const std::string& lease_id, double lease_seconds);
  bool release(const std::string& lease_id);

 private:
  nlohmann::json read_locked(const std::string& id_or_name);
  std::unique_ptr<sqlite::Connection> db_;
  std::mutex mutex_;
};

}  // namespace baton::storage
