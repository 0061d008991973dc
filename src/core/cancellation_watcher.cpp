#include "core/cancellation_watcher.h"

#include <vector>

#include "core/runtime.h"

namespace baton::core {

CancellationWatcher::CancellationWatcher(std::chrono::milliseconds interval)
    : interval_(interval), thread_([this] { loop(); }) {}

CancellationWatcher::~CancellationWatcher() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  thread_.join();
}

void CancellationWatcher::watch(const std::string& flow_run_id,
                                std::weak_ptr<detail::CancelState> state) {
  std::lock_guard lock(mutex_);
  runs_[flow_run_id] = std::move(state);
}

void CancellationWatcher::unwatch(const std::string& flow_run_id) {
  std::lock_guard lock(mutex_);
  runs_.erase(flow_run_id);
}

void CancellationWatcher::loop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    changed_.wait_for(lock, interval_, [this] { return stopping_; });
    if (stopping_ || runs_.empty()) continue;
    std::vector<std::pair<std::string, std::weak_ptr<detail::CancelState>>> runs(runs_.begin(),
                                                                                 runs_.end());
    lock.unlock();
    for (auto& [id, weak] : runs) {
      auto state = weak.lock();
      if (!state || state->is_cancelled()) continue;
      try {
        auto run = Runtime::get().client().read_flow_run(id);
        if (run &&
            (run->state.type == StateType::kCancelling || run->state.type == StateType::kCancelled))
          state->cancel("Flow run '" + run->name + "' was cancelled", false);
      } catch (...) {
        // The client is unavailable for now: try again next interval.
      }
    }
    lock.lock();
  }
}

}  // namespace baton::core
