#include "core/tag_slots.h"

#include <spdlog/spdlog.h>

#include <algorithm>

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

TagSlots acquire_tag_slots(OrchestrationClient& client, const std::vector<std::string>& tags,
                           const std::string& holder, const detail::CancelState* cancel,
                           const std::function<void(const std::string&)>& on_wait) {
  using namespace std::chrono;
  const auto names = tag_limit_names(tags);
  const double lease_s = duration<double>(kTagLeaseDuration).count();
  // Short at first (a slot is often freed within milliseconds), growing to a bound so that many
  // waiting runs do not hammer the database; never past the limit's own retry-after hint.
  duration<double> backoff = milliseconds(10);
  bool waited = false;
  for (;;) {
    if (cancel && cancel->is_cancelled())
      return {TagSlots::Status::kCancelled, {}, "cancelled while waiting for a concurrency slot"};
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
    // Sleep in small steps so a cancellation is noticed promptly.
    auto until = steady_clock::now() + duration_cast<steady_clock::duration>(pause);
    while (steady_clock::now() < until) {
      if (cancel && cancel->is_cancelled()) break;
      std::this_thread::sleep_for(std::min<steady_clock::duration>(
          until - steady_clock::now(), duration_cast<steady_clock::duration>(milliseconds(50))));
    }
    backoff = std::min<duration<double>>(backoff * 2, milliseconds(250));
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
