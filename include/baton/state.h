// Run states: the same vocabulary as Prefect, so its users feel at home.
//
// A State is a type (one of nine, which the orchestration rules reason about) plus a name (what a
// person reads: "Late", "AwaitingRetry", "Cached", "TimedOut", ...), a message, a timestamp and
// optional details. Every run keeps its full state history.
//
// Thread-safety: plain values; copy freely.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace baton {

using Clock = std::chrono::system_clock;
using TimePoint = std::chrono::time_point<Clock, std::chrono::microseconds>;

inline TimePoint now() {
  return std::chrono::time_point_cast<std::chrono::microseconds>(Clock::now());
}

// "2024-03-31T08:00:00.123456Z" (UTC, microseconds; fraction omitted when zero).
std::string format_time(TimePoint t);
// Accepts ISO-8601 / RFC 3339 with "Z" or a numeric offset; throws baton::Error (invalid argument,
// naming `field`) otherwise.
TimePoint parse_time(std::string_view text, std::string_view field = "time");

enum class StateType {
  kScheduled,
  kPending,
  kRunning,
  kCompleted,
  kFailed,
  kCancelled,
  kCrashed,
  kPaused,
  kCancelling,
};

// "SCHEDULED", "PENDING", ... (Prefect's spelling).
std::string_view to_string(StateType type) noexcept;
std::optional<StateType> state_type_from_string(std::string_view text) noexcept;
// COMPLETED, FAILED, CANCELLED and CRASHED are terminal: a run there is finished.
bool is_terminal(StateType type) noexcept;
// The name a state of this type gets when none is given: "Scheduled", "Pending", "Running", ...
std::string_view default_name(StateType type) noexcept;

struct State {
  StateType type = StateType::kPending;
  std::string name;     // e.g. "AwaitingRetry"; defaults to default_name(type)
  std::string message;  // e.g. the exception text of a failure
  TimePoint timestamp{};
  // When a SCHEDULED state (Scheduled, Late, AwaitingRetry) is due to start.
  std::optional<TimePoint> scheduled_time;
  // The run's result: the value as JSON when small enough to keep inline, or a reference
  // {"storage_key": "..."} to the result store. Null when there is none.
  nlohmann::json result;
  // The cache key this state was stored under (COMPLETED) or looked up with (Cached).
  std::string cache_key;
  std::optional<TimePoint> cache_expiration;
  // Client-asserted: whether a FAILED state may be retried (a task's retry condition).
  bool retriable = true;

  bool is_terminal() const noexcept { return baton::is_terminal(type); }
  bool is_final_failure() const noexcept {
    return type == StateType::kFailed || type == StateType::kCrashed;
  }

  // Factories: the canonical state names. `timestamp` is now().
  static State scheduled(TimePoint at, std::string name = "Scheduled");
  static State late(TimePoint at) { return scheduled(at, "Late"); }
  static State awaiting_retry(TimePoint at) { return scheduled(at, "AwaitingRetry"); }
  // The no-argument forms are the ones every task run takes; they build no temporary strings.
  static State pending();
  static State pending(std::string name);
  static State running();
  static State running(std::string name);
  static State retrying() { return running("Retrying"); }
  static State completed();
  static State completed(nlohmann::json result, std::string name = "Completed");
  static State cached(nlohmann::json result) { return completed(std::move(result), "Cached"); }
  static State failed(std::string message, std::string name = "Failed");
  static State timed_out(std::string message) { return failed(std::move(message), "TimedOut"); }
  static State crashed(std::string message);
  static State cancelling(std::string message = {});
  static State cancelled(std::string message = {});
  static State paused(std::string name = "Paused");
};

// JSON in Prefect's shape: {"type": "COMPLETED", "name": "Completed", "message": "...",
// "timestamp": "...", "state_details": {...}, "data": ...}. from_json throws baton::Error naming
// the offending field.
void to_json(nlohmann::json& j, const State& s);
void from_json(const nlohmann::json& j, State& s);

}  // namespace baton
