#include "core/cancellation.h"

#include "baton/engine.h"
#include "core/run_context.h"

namespace baton {

CancellationToken::CancellationToken() = default;

bool CancellationToken::cancelled() const noexcept { return state_ && state_->is_cancelled(); }

void CancellationToken::throw_if_cancelled() const {
  if (!cancelled()) return;
  if (state_->is_timed_out()) throw TimeoutError(state_->why());
  throw CancelledError(state_->why());
}

std::string CancellationToken::reason() const { return state_ ? state_->why() : std::string(); }

CancellationToken cancellation_token() {
  const auto* ctx = core::current_context();
  if (ctx && ctx->cancel && *ctx->cancel) return CancellationToken(*ctx->cancel);
  return CancellationToken();
}

void check_cancelled() {
  const auto* ctx = core::current_context();
  if (!ctx || !ctx->cancel || !*ctx->cancel || !(*ctx->cancel)->is_cancelled()) return;
  CancellationToken(*ctx->cancel).throw_if_cancelled();
}

}  // namespace baton

namespace baton::core {

Watchdog::Watchdog() : thread_([this] { loop(); }) {}

Watchdog::~Watchdog() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  thread_.join();
}

std::uint64_t Watchdog::arm(Clock::time_point deadline, std::weak_ptr<detail::CancelState> state,
                            std::string reason) {
  std::uint64_t id;
  {
    std::lock_guard lock(mutex_);
    id = next_id_++;
    deadlines_.emplace(deadline, Entry{id, std::move(state), std::move(reason)});
  }
  changed_.notify_all();
  return id;
}

void Watchdog::disarm(std::uint64_t id) {
  std::lock_guard lock(mutex_);
  for (auto it = deadlines_.begin(); it != deadlines_.end(); ++it) {
    if (it->second.id == id) {
      deadlines_.erase(it);
      return;
    }
  }
}

void Watchdog::loop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    if (deadlines_.empty()) {
      changed_.wait(lock);
      continue;
    }
    auto first = deadlines_.begin();
    if (Clock::now() < first->first) {
      changed_.wait_until(lock, first->first);
      continue;
    }
    Entry entry = std::move(first->second);
    deadlines_.erase(first);
    lock.unlock();
    if (auto state = entry.state.lock()) state->cancel(std::move(entry.reason), true);
    lock.lock();
  }
}

}  // namespace baton::core
