// Task-run tag concurrency limits, enforced by the SDK as Prefect 3 does client-side.
//
// Before a task run with tags enters Running, it takes one slot of every "tag:<tag>" limit that
// exists (OrchestrationClient::acquire_concurrency_slots: all at once or none, held by a lease).
// While a limit is full the run records Pending/AwaitingConcurrencySlot once and asks again when
// a run of this process gives slots back (at once: waiters are woken), or after a backoff for slots
// freed by other processes; tags without a limit do not constrain, and an untagged run asks
// nothing. The slots are given back when the attempt ends however it ends (TaskRunImpl releases
// them in finish() and before waiting to retry). A lease expires unless renewed, so slots of a
// killed process come free; LeaseKeeper renews the leases this process holds while their runs are
// alive.
//
// Thread-safety: every function and LeaseKeeper method is safe from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "client/orchestration_client.h"
#include "core/cancellation.h"

namespace baton::core {

// How long a tag-slot lease lives without renewal, and how often LeaseKeeper renews it.
inline constexpr std::chrono::seconds kTagLeaseDuration{60};
inline constexpr std::chrono::seconds kTagLeaseRenewEvery{20};

// "db" -> "tag:db": the global limit that limits task runs tagged "db".
std::vector<std::string> tag_limit_names(const std::vector<std::string>& tags);

struct TagSlots {
  enum class Status {
    kHeld,       // `lease_id` holds the slots (empty: no tag had a limit)
    kAborted,    // a tag limit can never admit the run (a limit of 0); `reason` says which
    kCancelled,  // the flow run was cancelled while waiting
  };
  Status status = Status::kHeld;
  std::string lease_id;
  std::string reason;
};

// How often a refused run asks again when no release in this process wakes it first: after
// `first_backoff`, doubling up to `max_backoff` (never past the limit's own retry-after hint).
struct TagSlotBackoff {
  std::chrono::milliseconds first_backoff{10};
  std::chrono::milliseconds max_backoff{250};
};

// Blocks until the run holds a slot of every limit of its `tags`, the limits abort it, or
// `cancel` is cancelled. `on_wait(reason)` is called once, on the first refusal, so the caller
// can record the waiting state. A LeaseKeeper::release in this process wakes every waiter to ask
// again at once. Errors of the client (an unreachable server) propagate.
TagSlots acquire_tag_slots(OrchestrationClient& client, const std::vector<std::string>& tags,
                           const std::string& holder, const detail::CancelState* cancel,
                           const std::function<void(const std::string&)>& on_wait,
                           TagSlotBackoff backoff = {});

// Renews the leases this process holds every kTagLeaseRenewEvery, from one background thread
// started on the first hold(). Owned by Runtime; the destructor stops and joins the thread.
class LeaseKeeper {
 public:
  explicit LeaseKeeper(std::function<OrchestrationClient&()> client);
  ~LeaseKeeper();
  LeaseKeeper(const LeaseKeeper&) = delete;
  LeaseKeeper& operator=(const LeaseKeeper&) = delete;

  void hold(const std::string& lease_id);
  // Stops renewing, gives the slots back and wakes the runs of this process waiting for slots.
  // Never throws: a failed release is logged and the lease then expires by itself.
  void release(const std::string& lease_id);

 private:
  void run();

  std::function<OrchestrationClient&()> client_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::set<std::string> leases_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace baton::core
