// The pauses between attempts of a request to a server that is briefly away: exponential backoff
// (100 ms doubling to 5 s) with ±20% jitter, within a time budget.
//
//   RetryBackoff backoff(std::chrono::seconds(30));      // the budget starts now
//   while (!try_once())
//     if (!backoff.wait()) throw unavailable("gave up after " ... backoff.elapsed() ...);
//
// The jitter spreads the retries of many clients that lost the same server at the same moment
// (a restart), so that they do not come back in lockstep. The last pause is cut short so that the
// last attempt happens when the budget ends; a server's Retry-After replaces the backoff's pause,
// capped the same way. Used by RemoteClient's synchronous calls and by its background sender.
//
// Thread-safety: one object per retried request, used by one thread.
#pragma once

#include <chrono>
#include <optional>
#include <random>
#include <string>

namespace baton {

class RetryBackoff {
 public:
  using Clock = std::chrono::steady_clock;
  using Duration = std::chrono::milliseconds;
  static constexpr Duration kFirstDelay{100};
  static constexpr Duration kMaxDelay{5000};
  static constexpr double kJitter = 0.2;  // each pause is the nominal one times [0.8, 1.2]

  explicit RetryBackoff(Duration budget, Clock::time_point start = Clock::now());

  // The pause before the next attempt as of `now` (the server's `asked` Retry-After instead of
  // the backoff's when given), capped by what is left of the budget; nullopt once the budget is
  // spent. Advances the backoff.
  std::optional<Duration> next_delay(Clock::time_point now,
                                     std::optional<Duration> asked = std::nullopt);
  // next_delay(now) slept; false, at once, when the budget is spent.
  bool wait(std::optional<Duration> asked = std::nullopt);

  Duration budget() const { return budget_; }
  Duration elapsed(Clock::time_point now = Clock::now()) const;

 private:
  Duration budget_;
  Clock::time_point start_;
  Duration nominal_ = kFirstDelay;
  std::minstd_rand random_;
};

// The pause an HTTP Retry-After header asks for when it holds seconds ("2", "0.5"; capped at a
// day); nullopt when it holds an HTTP date or anything else (the backoff's own pause then).
std::optional<std::chrono::milliseconds> retry_after_delay(const std::string& value);

// "1.5 s": a duration as seconds with one decimal, for messages.
std::string seconds_text(std::chrono::milliseconds d);

}  // namespace baton
