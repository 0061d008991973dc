#include "services/retention_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "baton/error.h"
#include "model/duration.h"

namespace baton::services {

namespace {
using Clock = std::chrono::steady_clock;

std::chrono::milliseconds since(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t);
}

void check(const RetentionPolicy& p) {
  if (p.events_per_step < 1)
    throw invalid_argument("retention: events_per_step must be at least 1", "events_per_step");
  if (p.runs_per_step < 1)
    throw invalid_argument("retention: runs_per_step must be at least 1", "runs_per_step");
  if (p.run_rows_per_step < 1)
    throw invalid_argument("retention: run_rows_per_step must be at least 1", "run_rows_per_step");
}
}  // namespace

RetentionPass apply_retention(storage::Storage& storage, const RetentionPolicy& policy,
                              TimePoint now, std::stop_token stop, const PauseFn& pause) {
  check(policy);
  const auto began = Clock::now();
  RetentionPass pass;
  // Runs the steps of one kind until `step` says there is no more; false when stopped.
  auto steps = [&](auto&& step) {
    for (;;) {
      if (stop.stop_requested()) {
        pass.stopped = true;
        return false;
      }
      auto t = Clock::now();
      bool more = step();
      ++pass.steps;
      if (!more) return true;
      if (pause) pause(Clock::now() - t, stop);
    }
  };
  // Each kind on its own: a failing step ends its kind for this pass, not the other kind.
  auto guarded = [&](auto&& kind) {
    try {
      return kind();
    } catch (...) {
      if (!pass.error) pass.error = std::current_exception();
      return true;
    }
  };
  bool go_on = true;
  if (policy.events) {
    const TimePoint cutoff = now - *policy.events;
    go_on = guarded([&] {
      return steps([&] {
        int64_t n = storage.delete_events_before(cutoff, policy.events_per_step);
        pass.events += n;
        return n >= policy.events_per_step;
      });
    });
  }
  if (go_on && policy.runs) {
    const TimePoint cutoff = now - *policy.runs;
    storage::Storage::ExpiredRunCursor cursor;
    guarded([&] {
      return steps([&] {
        auto step = storage.delete_expired_flow_runs(cutoff, policy.runs_per_step,
                                                     policy.run_rows_per_step, cursor);
        pass.flow_runs += step.flow_runs;
        pass.run_rows += step.rows;
        return step.more;
      });
    });
  }
  pass.took = since(began);
  return pass;
}

std::string describe(const RetentionPass& pass, const RetentionPolicy& policy) {
  std::string out = "deleted";
  if (policy.events)
    out +=
        " " + std::to_string(pass.events) + " events older than " + format_duration(*policy.events);
  if (policy.runs) {
    if (policy.events) out += " and";
    out += " " + std::to_string(pass.flow_runs) + " flow runs (" + std::to_string(pass.run_rows) +
           " rows) that ended more than " + format_duration(*policy.runs) + " ago";
  }
  if (policy.keeps_everything()) out += " nothing (retention is off)";
  out += " in " + std::to_string(pass.took.count()) + " ms";
  if (pass.stopped) out += ", stopped before the end";
  return out;
}

RetentionService::RetentionService(storage::Storage& storage, Options options)
    : storage_(storage),
      options_(std::move(options)),
      loop_({.name = "retention",
             .interval = options_.interval,
             .first_delay = std::min(options_.first_delay, options_.interval)},
            [this](std::stop_token stop) { run_pass(stop); }) {
  check(options_.policy);
}

RetentionService::~RetentionService() { stop(); }

void RetentionService::start() {
  const auto& p = options_.policy;
  if (p.keeps_everything()) {
    spdlog::info("retention: off (events and flow runs are kept for ever)");
    return;
  }
  auto kept = [](const std::optional<std::chrono::seconds>& d) {
    return d ? format_duration(*d) : std::string("for ever");
  };
  spdlog::info(
      "retention: events kept {}, final flow runs kept {}; a pass every {}", kept(p.events),
      kept(p.runs),
      format_duration(std::chrono::duration_cast<std::chrono::seconds>(options_.interval)));
  loop_.start();
}

void RetentionService::stop() { loop_.stop(); }

void RetentionService::pause(Clock::duration d, std::stop_token stop) {
  std::unique_lock lock(pause_mutex_);
  pause_cv_.wait_for(lock, stop, d, [] { return false; });
}

RetentionPass RetentionService::run_pass(std::stop_token stop) {
  auto pass = apply_retention(storage_, options_.policy, options_.clock(), stop,
                              [this](Clock::duration d, std::stop_token s) { pause(d, s); });
  if (pass.events > 0 || pass.flow_runs > 0 || pass.run_rows > 0)
    spdlog::info("retention: {}", describe(pass, options_.policy));
  else if (!pass.error)
    spdlog::debug("retention: nothing to delete ({} ms)", pass.took.count());
  if (pass.error) {
    try {
      std::rethrow_exception(pass.error);
    } catch (const std::exception& e) {
      spdlog::error("retention: a pass failed (the next one tries again): {}", e.what());
    } catch (...) {
      spdlog::error("retention: a pass failed with an unknown exception");
    }
  }
  return pass;
}

}  // namespace baton::services
