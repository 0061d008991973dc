#include "client/retry_backoff.h"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <string>
#include <thread>

namespace baton {

RetryBackoff::RetryBackoff(Duration budget, Clock::time_point start)
    // Seeded per object: clients restarted together must not draw the same pauses.
    : budget_(std::max(budget, Duration::zero())), start_(start), random_(std::random_device{}()) {}

RetryBackoff::Duration RetryBackoff::elapsed(Clock::time_point now) const {
  return std::chrono::duration_cast<Duration>(now - start_);
}

std::optional<RetryBackoff::Duration> RetryBackoff::next_delay(Clock::time_point now,
                                                               std::optional<Duration> asked) {
  const Duration left = budget_ - elapsed(now);
  if (left <= Duration::zero()) return std::nullopt;
  Duration delay;
  if (asked) {
    delay = std::max(*asked, Duration::zero());
  } else {
    std::uniform_real_distribution<double> factor(1 - kJitter, 1 + kJitter);
    delay = Duration(static_cast<Duration::rep>(nominal_.count() * factor(random_)));
    nominal_ = std::min(nominal_ * 2, kMaxDelay);
  }
  return std::min(delay, left);
}

bool RetryBackoff::wait(std::optional<Duration> asked) {
  auto delay = next_delay(Clock::now(), asked);
  if (!delay) return false;
  std::this_thread::sleep_for(*delay);
  return true;
}

std::optional<std::chrono::milliseconds> retry_after_delay(const std::string& value) {
  double seconds = -1;
  const char* end = value.data() + value.size();
  auto [stop, ec] = std::from_chars(value.data(), end, seconds);
  if (ec != std::errc() || stop != end || !(seconds >= 0)) return std::nullopt;
  return std::chrono::milliseconds(static_cast<int64_t>(std::min(seconds, 86400.0) * 1000));
}

std::string seconds_text(std::chrono::milliseconds d) {
  return std::to_string(d.count() / 1000) + "." + std::to_string(d.count() % 1000 / 100) + " s";
}

}  // namespace baton
