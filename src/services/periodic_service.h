// A background loop of the server: one step run on a thread of its own, shortly after start()
// and then every `interval`, until stop(). The shape of every service the server runs (retention
// now; the scheduler, late runs and the like later), as userver's PeriodicTask and Prefect's
// LoopService:
//
//   PeriodicService loop({.name = "retention", .interval = std::chrono::hours(1)},
//                        [&](std::stop_token stop) { retention.run_pass(stop); });
//   loop.start();   // first step after first_delay, then one per interval
//   ...
//   loop.stop();    // asks the step in progress to end (its stop_token), waits for it
//
// A step that throws is logged at ERROR with the service's name and the loop goes on: one bad
// pass (a locked database, a full disk) must not end a service for the rest of the server's life.
// A step that takes longer than `interval` is followed by the next at once (no catching up).
// A long step should look at its stop_token between units of work: stop() waits for it.
//
// Thread-safety: start() and stop() from one controlling thread; passes() and run_once() from
// any. The destructor stops.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>

namespace baton::services {

class PeriodicService {
 public:
  using Step = std::function<void(std::stop_token stop)>;
  struct Options {
    std::string name;  // in log lines: "retention: ..."
    std::chrono::milliseconds interval{std::chrono::hours(1)};
    // From start() to the first step: "shortly after start-up", so that the first pass does not
    // compete with the clients reconnecting to a server that has just started.
    std::chrono::milliseconds first_delay{0};
  };

  // Throws invalid_argument when the interval is not positive or the delay negative.
  PeriodicService(Options options, Step step);
  ~PeriodicService();
  PeriodicService(const PeriodicService&) = delete;
  PeriodicService& operator=(const PeriodicService&) = delete;

  // Starts the thread. Once only.
  void start();
  // Requests stop (the step in progress sees it on its stop_token; a wait between steps ends at
  // once) and joins. Idempotent; a service never started just returns.
  void stop();
  // Runs one step on the calling thread, as the loop would (errors logged, not thrown), with a
  // token that is never stopped. For tests and on-demand passes; not while the loop runs a step.
  void run_once();
  // Steps finished so far, by the loop or run_once(), failed ones included.
  uint64_t passes() const noexcept { return passes_.load(); }
  const Options& options() const noexcept { return options_; }

 private:
  void loop(std::stop_token stop);
  void run_step(std::stop_token stop);

  Options options_;
  Step step_;
  std::atomic<uint64_t> passes_{0};
  std::mutex mutex_;
  std::condition_variable_any wake_;
  std::jthread thread_;
};

}  // namespace baton::services
