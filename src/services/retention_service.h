// Retention: the server deletes old events and, when asked to, old flow runs, so that its
// database stops growing without bound (Prefect's db_vacuum service; see docs/server.md,
// "Retention").
//
//   RetentionPolicy policy;                       // events kept 7 days, runs kept forever
//   policy.runs = std::chrono::days(90);
//   RetentionService retention(storage, {.policy = policy});
//   retention.start();                            // a pass shortly after start, then hourly
//   ...
//   retention.stop();                             // returns within one step of the deletes
//
// A pass deletes in steps, each one short transaction (Storage::delete_events_before,
// Storage::delete_expired_flow_runs), and after each step waits as long as the step took before
// the next: the server's writers wait for at most one step and get the database at least half of
// the time while a pass runs. A pass that deleted something is logged at INFO (how many, how
// long); a failed step is logged at ERROR and ends its kind (events or runs) for that pass; the
// next pass tries again.
//
// Thread-safety: start() and stop() from one controlling thread; run_pass() from any thread, but
// not twice at once.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>

#include "baton/state.h"
#include "services/periodic_service.h"
#include "storage/storage.h"

namespace baton::services {

// What is kept, and for how long. nullopt: kept forever.
struct RetentionPolicy {
  static constexpr std::chrono::seconds kDefaultEvents{7 * 86400};  // Prefect's default
  std::optional<std::chrono::seconds> events = kDefaultEvents;
  // Opt-in, as in Prefect (whose db_vacuum keeps flow runs 90 days once enabled).
  std::optional<std::chrono::seconds> runs;
  int events_per_step = 5000;
  int runs_per_step = 200;  // runs examined per step, Prefect's batch
  // Rows (runs, states, task runs, logs, artifacts) deleted per step at most, about: a run with
  // many task runs is emptied over several steps.
  int64_t run_rows_per_step = 20000;

  bool keeps_everything() const noexcept { return !events && !runs; }
};

// What one pass did.
struct RetentionPass {
  int64_t events = 0;     // events deleted
  int64_t flow_runs = 0;  // flow runs deleted (subflow runs included)
  int64_t run_rows = 0;   // rows deleted with those runs (the runs themselves included)
  int steps = 0;          // transactions
  std::chrono::milliseconds took{0};
  bool stopped = false;      // stop was requested before the pass was done
  std::exception_ptr error;  // the first failed step's error (the pass went on with the other kind)
};

// One pass over `storage` as of `now`: every event older than policy.events, then every expired
// flow run (see Storage::delete_expired_flow_runs), step by step; between steps, a pause as long
// as the step (`pause` waits it, ending early on a stop; none when null). Stops between steps
// when `stop` is requested. A failing step ends its kind (events, runs) for this pass but not the
// other kind; the first error is returned in RetentionPass::error, not thrown (what was deleted
// stays deleted). Throws invalid_argument for a policy with a batch below 1. For `baton server
// vacuum` and the service.
using PauseFn = std::function<void(std::chrono::steady_clock::duration, std::stop_token)>;
RetentionPass apply_retention(storage::Storage& storage, const RetentionPolicy& policy,
                              TimePoint now, std::stop_token stop = {},
                              const PauseFn& pause = nullptr);

// "deleted 12000 events older than 7d and 3 flow runs (41 rows) ended more than 90d ago in 85 ms"
std::string describe(const RetentionPass& pass, const RetentionPolicy& policy);

class RetentionService {
 public:
  struct Options {
    RetentionPolicy policy;
    std::chrono::milliseconds interval{std::chrono::hours(1)};
    // The first pass comes this long after start(), or after `interval` when that is shorter.
    std::chrono::milliseconds first_delay{std::chrono::seconds(10)};
    std::function<TimePoint()> clock = [] { return now(); };
  };

  // `storage` must outlive the service. Throws invalid_argument for a non-positive interval or
  // batch size.
  RetentionService(storage::Storage& storage, Options options);
  ~RetentionService();

  // Logs the policy at INFO and starts the loop; a policy that keeps everything starts nothing.
  void start();
  void stop();
  // One pass now, on the calling thread, logged as the service logs its passes (an error at
  // ERROR, and in the result, not thrown).
  RetentionPass run_pass(std::stop_token stop = {});
  // Passes finished by the service's loop (failed ones included).
  uint64_t passes() const noexcept { return loop_.passes(); }

 private:
  void pause(std::chrono::steady_clock::duration d, std::stop_token stop);

  storage::Storage& storage_;
  Options options_;
  std::mutex pause_mutex_;
  std::condition_variable_any pause_cv_;
  PeriodicService loop_;
};

}  // namespace baton::services
