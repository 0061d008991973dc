#include "core/tag_slots.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdint>

#include "storage/concurrency_limits.h"

namespace baton::core {

std::vector<std::string> tag_limit_names(const std::vector<std::string>& tags) {
  std::vector<std::string> names;
  names.reserve(tags.size());
  for (const auto& tag : tags) names.push_back(std::string(storage::kTagLimitPrefix) + tag);
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

namespace {

// Counts the releases of this process, so that a waiting run sleeps until the next one instead of
// a fixed backoff (Prefect's waiters poll, so a freed slot sits idle until someone asks). Never
// destroyed: runs may still release while the program exits.
struct ReleaseSignal {
  std::mutex mutex;
  std::condition_variable released;
  uint64_t count = 0;
};

ReleaseSignal& release_signal() {
  static auto* signal = new ReleaseSignal;
  return *signal;
}

uint64_t releases_so_far() {
  auto& s = release_signal();
  std::lock_guard lock(s.mutex);
  return s.count;
}

void notify_released() {
  auto& s = release_signal();
  {
    std::lock_guard lock(s.mutex);
    ++s.count;
  }
  s.released.notify_all();
}

// Waits until `until`, a release after the `seen`-th, or a cancellation (checked every 50 ms).
void wait_for_release(std::chrono::steady_clock::time_point until, uint64_t seen,
                      const detail::CancelState* cancel) {
  auto& s = release_signal();
  std::unique_lock lock(s.mutex);
  while (s.count == seen && std::chrono::steady_clock::now() < until) {
    if (cancel && cancel->is_cancelled()) return;
    s.released.wait_until(
        lock, std::min(until, std::chrono::steady_clock::now() + std::chrono::milliseconds(50)));
  }
}

}  // namespace

TagSlots acquire_tag_slots(OrchestrationClient& client, const std::vector<std::string>& tags,
                           const std::string& holder, const detail::CancelState* cancel,
                           const std::function<void(const std::string&)>& on_wait,
                           TagSlotBackoff backoff_bounds) {
  using namespace std::chrono;
  const auto names = tag_limit_names(tags);
  const double lease_s = duration<double>(kTagLeaseDuration).count();
  // Releases elsewhere are not signalled: ask again after a backoff, short at first (a slot is
  // often freed within milliseconds), growing to a bound so that many waiting runs do not hammer
  // the database; never past the limit's own retry-after hint.
  duration<double> backoff = backoff_bounds.first_backoff;
  bool waited = false;
  for (;;) {
    if (cancel && cancel->is_cancelled())
      return {TagSlots::Status::kCancelled, {}, "cancelled while waiting for a concurrency slot"};
    // Read before asking, so a release between the refusal and the wait is not missed.
    const uint64_t seen = releases_so_far();
    auto got = client.acquire_concurrency_slots(names, 1, lease_s, holder);
    switch (got.status) {
      case ConcurrencySlots::Status::kGranted:
        return {TagSlots::Status::kHeld, got.lease_id, {}};
      case ConcurrencySlots::Status::kAbort:
        return {TagSlots::Status::kAborted, {}, got.reason};
      case ConcurrencySlots::Status::kWait:
        break;
    }
    if (!waited && on_wait) on_wait(got.reason);
    waited = true;
    auto pause = std::min(backoff, duration<double>(std::max(got.retry_after_s, 0.001)));
    wait_for_release(steady_clock::now() + duration_cast<steady_clock::duration>(pause), seen,
                     cancel);
    backoff = std::min<duration<double>>(backoff * 2, backoff_bounds.max_backoff);
  }
}

LeaseKeeper::LeaseKeeper(std::function<OrchestrationClient&()> client)
    : client_(std::move(client)) {}

LeaseKeeper::~LeaseKeeper() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void LeaseKeeper::hold(const std::string& lease_id) {
  std::lock_guard lock(mutex_);
  leases_.insert(lease_id);
  if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
}

void LeaseKeeper::release(const std::string& lease_id) {
  {
    std::lock_guard lock(mutex_);
    leases_.erase(lease_id);
  }
  try {
    client_().release_concurrency_slots(lease_id);
  } catch (const std::exception& e) {
    spdlog::warn("Could not release concurrency lease {} (it expires by itself): {}", lease_id,
                 e.what());
  }
  notify_released();
}

void LeaseKeeper::run() {
  const double lease_s = std::chrono::duration<double>(kTagLeaseDuration).count();
  std::unique_lock lock(mutex_);
  for (;;) {
    cv_.wait_for(lock, kTagLeaseRenewEvery, [this] { return stop_; });
    if (stop_) return;
    std::vector<std::string> leases(leases_.begin(), leases_.end());
    lock.unlock();
    for (const auto& id : leases) {
      try {
        if (!client_().renew_concurrency_lease(id, lease_s))
          spdlog::warn("Concurrency lease {} expired before it could be renewed", id);
      } catch (const std::exception& e) {
        spdlog::warn("Could not renew concurrency lease {}: {}", id, e.what());
      }
    }
    lock.lock();
  }
}

}  // namespace baton::core
