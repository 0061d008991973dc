#include "core/runtime.h"

#include <cstdlib>
#include <string>

#include "model/log_level.h"
#include "storage/storage.h"

namespace baton::core {

std::filesystem::path baton_home() { return storage::baton_home(); }

namespace {
int level_from_env() {
  const char* v = std::getenv("BATON_LOGGING_LEVEL");
  if (!v) return 20;
  return log_level_from_name(v).value_or(20);
}
}  // namespace

Runtime& Runtime::get() {
  static Runtime runtime;
  return runtime;
}

Runtime::Runtime()
    : results_(std::make_unique<ResultStore>(baton_home() / "storage")),
      log_level_(level_from_env()),
      echo_logs_(std::getenv("BATON_LOGGING_QUIET") == nullptr ||
                 std::string(std::getenv("BATON_LOGGING_QUIET")) == "0") {}

Runtime::~Runtime() {
  watcher_.reset();
  default_runner_.reset();
  lease_keeper_.reset();
  try {
    if (client_) client_->flush();
  } catch (...) {
    // Nothing sensible to do at exit; the client's destructor retries its own flush.
  }
}

OrchestrationClient& Runtime::client() {
  if (auto* c = client_ptr_.load(std::memory_order_acquire)) return *c;
  std::lock_guard lock(mutex_);
  if (!client_) {
    client_ = factory_ ? factory_() : make_client();
    client_ptr_.store(client_.get(), std::memory_order_release);
  }
  return *client_;
}

ResultStore& Runtime::results() { return *results_; }

Watchdog& Runtime::watchdog() {
  std::lock_guard lock(mutex_);
  if (!watchdog_) watchdog_ = std::make_unique<Watchdog>();
  return *watchdog_;
}

LeaseKeeper& Runtime::lease_keeper() {
  std::lock_guard lock(mutex_);
  if (!lease_keeper_)
    lease_keeper_ =
        std::make_unique<LeaseKeeper>([this]() -> OrchestrationClient& { return client(); });
  return *lease_keeper_;
}

ThreadPool& Runtime::default_runner() {
  std::lock_guard lock(mutex_);
  if (!default_runner_) default_runner_ = std::make_unique<ThreadPool>(0);
  return *default_runner_;
}

CancellationWatcher& Runtime::cancellation_watcher() {
  std::lock_guard lock(mutex_);
  if (!watcher_) {
    double seconds = 1.0;
    if (const char* v = std::getenv("BATON_CANCELLATION_POLL_S"); v && *v)
      seconds = std::max(0.01, std::atof(v));
    watcher_ = std::make_unique<CancellationWatcher>(
        std::chrono::milliseconds(static_cast<long long>(seconds * 1000)));
  }
  return *watcher_;
}

void Runtime::set_client_factory(ClientFactory factory) {
  std::lock_guard lock(mutex_);
  if (client_) client_->flush();
  client_ptr_.store(nullptr, std::memory_order_release);
  client_.reset();
  factory_ = std::move(factory);
  results_ = std::make_unique<ResultStore>(baton_home() / "storage");
}

void Runtime::flush() {
  if (auto* c = client_ptr_.load(std::memory_order_acquire)) c->flush();
}

}  // namespace baton::core
