// Notices flow runs cancelled from outside (a CLI, the server, an automation setting them
// Cancelling) while their body runs, and cancels their token so the body's next
// check_cancelled() throws CancelledError and the run ends Cancelled.
//
// One thread polls the orchestration client for every watched flow run, every `interval`
// (BATON_CANCELLATION_POLL_S, default 1 s): one read per running flow run per interval.
//
// Thread-safety: watch/unwatch may be called from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "core/cancellation.h"

namespace baton::core {

class CancellationWatcher {
 public:
  explicit CancellationWatcher(std::chrono::milliseconds interval);
  ~CancellationWatcher();

  void watch(const std::string& flow_run_id, std::weak_ptr<detail::CancelState> state);
  void unwatch(const std::string& flow_run_id);

 private:
  void loop();

  std::chrono::milliseconds interval_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::map<std::string, std::weak_ptr<detail::CancelState>> runs_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace baton::core
