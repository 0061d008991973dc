#include "services/periodic_service.h"

#include <spdlog/spdlog.h>

#include "baton/error.h"

namespace baton::services {

PeriodicService::PeriodicService(Options options, Step step)
    : options_(std::move(options)), step_(std::move(step)) {
  if (options_.interval.count() <= 0)
    throw invalid_argument(options_.name + ": the interval must be positive", "interval");
  if (options_.first_delay.count() < 0)
    throw invalid_argument(options_.name + ": the first delay must not be negative", "first_delay");
}

PeriodicService::~PeriodicService() { stop(); }

void PeriodicService::start() {
  if (thread_.joinable()) return;
  thread_ = std::jthread([this](std::stop_token stop) { loop(stop); });
}

void PeriodicService::stop() {
  if (!thread_.joinable()) return;
  thread_.request_stop();  // wakes wait_for below through the token's stop callback
  thread_.join();
}

void PeriodicService::run_once() { run_step(std::stop_token()); }

void PeriodicService::run_step(std::stop_token stop) {
  try {
    step_(stop);
  } catch (const std::exception& e) {
    spdlog::error("{}: {}", options_.name, e.what());
  } catch (...) {
    spdlog::error("{}: a pass failed with an unknown exception", options_.name);
  }
  passes_.fetch_add(1);
}

void PeriodicService::loop(std::stop_token stop) {
  auto next = std::chrono::steady_clock::now() + options_.first_delay;
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      // Nothing but a stop request ends this wait before `next`.
      wake_.wait_until(lock, stop, next, [] { return false; });
      if (stop.stop_requested()) return;
    }
    auto began = std::chrono::steady_clock::now();
    run_step(stop);
    if (stop.stop_requested()) return;
    next = began + options_.interval;
  }
}

}  // namespace baton::services
