// The shared state behind CancellationToken, and the watchdog that cancels runs at their deadline.
//
// A run with a timeout arms the watchdog with its token's state; at the deadline the watchdog
// marks it cancelled (timed out). The body notices cooperatively (check_cancelled()); the engine
// notices when the body returns and ends the run TimedOut. A task's state points at its flow
// run's, so cancelling a flow run cancels its tasks.
//
// Thread-safety: CancelState and Watchdog are safe to use from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace baton::detail {

struct CancelState {
  explicit CancelState(std::shared_ptr<CancelState> parent_state = nullptr)
      : parent(std::move(parent_state)) {}

  bool is_cancelled() const noexcept {
    return cancelled.load(std::memory_order_acquire) || (parent && parent->is_cancelled());
  }
  bool is_timed_out() const noexcept {
    if (cancelled.load(std::memory_order_acquire)) return timed_out.load(std::memory_order_acquire);
    return parent && parent->is_timed_out();
  }
  void cancel(std::string why, bool because_of_timeout) {
    {
      std::lock_guard lock(mutex);
      if (cancelled.load()) return;
      reason = std::move(why);
      timed_out.store(because_of_timeout, std::memory_order_release);
    }
    cancelled.store(true, std::memory_order_release);
  }
  std::string why() const {
    if (cancelled.load(std::memory_order_acquire)) {
      std::lock_guard lock(mutex);
      return reason;
    }
    return parent ? parent->why() : std::string();
  }

  std::shared_ptr<CancelState> parent;
  std::atomic<bool> cancelled{false};
  std::atomic<bool> timed_out{false};
  mutable std::mutex mutex;
  std::string reason;
};

}  // namespace baton::detail

namespace baton::core {

class Watchdog {
 public:
  using Clock = std::chrono::steady_clock;

  Watchdog();
  ~Watchdog();

  // Cancels `state` (as timed out, with `reason`) at `deadline` unless disarmed first.
  std::uint64_t arm(Clock::time_point deadline, std::weak_ptr<detail::CancelState> state,
                    std::string reason);
  void disarm(std::uint64_t id);

 private:
  struct Entry {
    std::uint64_t id;
    std::weak_ptr<detail::CancelState> state;
    std::string reason;
  };
  void loop();

  std::mutex mutex_;
  std::condition_variable changed_;
  std::multimap<Clock::time_point, Entry> deadlines_;
  std::uint64_t next_id_ = 1;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace baton::core
