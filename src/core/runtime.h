// The process-wide pieces the engine shares: the orchestration client, the result store, the
// timeout watchdog, the thread pool for tasks submitted outside flows, and console/log settings.
//
// Created on first use. The client comes from make_client() (embedded SQLite under BATON_HOME, or
// remote with BATON_API_URL) unless a test installed a factory with set_client_factory(), which
// is how the SDK behaviour tests run against each transport.
//
// Thread-safety: all methods are safe from any thread. set_client_factory() must not race with
// running flows.
#pragma once

#include <atomic>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>

#include "client/orchestration_client.h"
#include "core/cancellation.h"
#include "core/cancellation_watcher.h"
#include "core/result_store.h"
#include "core/tag_slots.h"
#include "core/thread_pool.h"

namespace baton::core {

using ClientFactory = std::function<std::unique_ptr<OrchestrationClient>()>;

class Runtime {
 public:
  static Runtime& get();

  OrchestrationClient& client();
  ResultStore& results();
  Watchdog& watchdog();
  ThreadPool& default_runner();
  CancellationWatcher& cancellation_watcher();
  // Renews the task-run tag-limit leases this process holds (started on first use).
  LeaseKeeper& lease_keeper();

  // The lowest log level kept (BATON_LOGGING_LEVEL), and whether to echo logs to stderr
  // (BATON_LOGGING_QUIET=1 turns the echo off).
  int log_level() const { return log_level_; }
  bool echo_logs() const { return echo_logs_; }

  // Replaces the client: flushes and drops the current one; the next client() call uses
  // `factory` (make_client() when empty). Also re-reads BATON_HOME for the result store.
  void set_client_factory(ClientFactory factory);
  // Makes everything recorded so far durable.
  void flush();

  ~Runtime();

 private:
  Runtime();

  std::mutex mutex_;
  ClientFactory factory_;
  std::unique_ptr<OrchestrationClient> client_;
  std::atomic<OrchestrationClient*> client_ptr_{nullptr};
  std::unique_ptr<ResultStore> results_;
  std::unique_ptr<Watchdog> watchdog_;
  std::unique_ptr<ThreadPool> default_runner_;
  std::unique_ptr<CancellationWatcher> watcher_;
  std::unique_ptr<LeaseKeeper> lease_keeper_;
  int log_level_ = 20;
  bool echo_logs_ = true;
};

// $BATON_HOME, or ~/.baton.
std::filesystem::path baton_home();

}  // namespace baton::core
