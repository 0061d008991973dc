// The remote transport: the orchestration client speaking HTTP to a Baton server.
//
//   export BATON_API_URL=http://127.0.0.1:4200/api   # make_client() then returns a RemoteClient
//   export BATON_API_KEY=...                          # sent as "Authorization: Bearer ..."
//   export BATON_CLIENT_RETRY_SECONDS=30              # Options::retry_for (0: no retries)
//
// Flow-run calls (and every other read or write but task runs and logs) are synchronous requests:
// the server applies the orchestration rules and answers with the outcome. So that a server
// restart does not fail the flows running meanwhile, a synchronous call is repeated, with the
// backoff of retry_backoff.h (100 ms doubling to 5 s, ±20% jitter), for up to `retry_for` after
// its first failure, when the server certainly did not apply it:
// - no connection could be established (refused, unreachable, connect timed out): any method;
// - the server answered 429, or 503 with a Retry-After header ("not now"): any method, waiting
//   what Retry-After says (seconds) when it says, capped by what is left of the budget. A 503
//   without Retry-After is a lasting condition ("this server does not store events") and fails
//   at once;
// - the connection failed after the request was sent (reset, closed, timed out): GET only, which
//   changes nothing. Another method may have been applied: it is not repeated, and the error says
//   it may or may not have been applied (the caller knows whether reading back is worth it).
// The first retry of a call logs a warning naming the URL and the budget; a call still failing
// when the budget is spent throws kUnavailable naming the URL, the time spent retrying and the
// last error. With retry_for 0 a call fails at once with the first error, as before retries.
//
// Task-run snapshots and log lines are queued and sent in batches by one background sender thread
// (POST /api/task_runs/batch, POST /api/logs/), in the order they were recorded, each batch with
// an Idempotency-Key header that its retries repeat, so that a batch the server committed but
// could not answer is not recorded twice. Hence the sender retries every failure to get an
// answer, before or after sending, and every 429, 503 and 5xx answer, with the same backoff, for
// up to `give_up_after`; then it drops that batch, logs an error saying how many records were
// lost and why, and the next flush() throws kUnavailable with the same message (when several
// batches were dropped since the previous flush, the first one's, with the total lost). A batch
// the server rejects as invalid (another 4xx) is dropped and reported likewise.
// flush() waits until everything recorded before it has been accepted by the server (durable
// there); reads of task runs, logs and cached states flush first, so a process reads its writes.
// The destructor flushes (logging, not throwing, a failure) and joins the sender.
//
// Errors: the server's JSON error body becomes a baton::Error of the same kind, message and field;
// an unreachable server is kUnavailable naming the URL (a ConnectionError when not retried).
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "baton/error.h"
#include "client/http_client.h"
#include "client/orchestration_client.h"

namespace baton {

class RemoteClient final : public OrchestrationClient {
 public:
  struct Options {
    std::chrono::milliseconds request_timeout{30'000};
    std::chrono::milliseconds give_up_after{60'000};  // how long the sender keeps retrying a batch
    size_t max_batch = 2'000;                         // records per request
    // How long a synchronous call keeps retrying after its first failure (see above); 0: never.
    std::chrono::milliseconds retry_for{30'000};
  };

  RemoteClient(const std::string& api_url, const std::string& api_key)
      : RemoteClient(api_url, api_key, Options{}) {}
  RemoteClient(const std::string& api_url, const std::string& api_key, Options options);
  ~RemoteClient() override;

  FlowRecord ensure_flow(const std::string& name, const std::vector<std::string>& tags) override;
  std::vector<FlowRecord> list_flows(int limit = 200, int offset = 0) override;
  FlowRunRecord create_flow_run(FlowRunRecord run) override;
  SetStateResult set_flow_run_state(const std::string& flow_run_id, const State& proposed,
                                    bool force = false) override;
  std::optional<FlowRunRecord> read_flow_run(const std::string& id) override;
  std::vector<FlowRunRecord> filter_flow_runs(const FlowRunFilter& filter) override;
  bool delete_flow_run(const std::string& id) override;
  std::vector<State> read_states(const std::string& run_id) override;
  void record_task_run(const TaskRunRecord& run) override;
  std::optional<TaskRunRecord> read_task_run(const std::string& id) override;
  std::vector<TaskRunRecord> filter_task_runs(const TaskRunFilter& filter) override;
  void write_logs(std::vector<LogRecord> logs) override;
  std::vector<LogRecord> read_logs(const LogFilter& filter) override;
  void flush() override;
  std::optional<State> find_cached_state(const std::string& cache_key, TimePoint now) override;
  int64_t expire_cache(const CacheSelector& which, TimePoint at) override;
  std::vector<std::string> mark_crashed_runs() override;
  ConcurrencySlots acquire_concurrency_slots(const std::vector<std::string>& names, int slots,
                                             double lease_seconds,
                                             const std::string& holder) override;
  bool renew_concurrency_lease(const std::string& lease_id, double lease_seconds) override;
  bool release_concurrency_slots(const std::string& lease_id) override;
  nlohmann::json create_concurrency_limit(const std::string& name, int limit, bool active,
                                          double slot_decay_per_second) override;
  nlohmann::json set_concurrency_limit(const std::string& name, int limit) override;
  nlohmann::json update_concurrency_limit(const std::string& id_or_name,
                                          const nlohmann::json& changes) override;
  std::optional<nlohmann::json> read_concurrency_limit(const std::string& id_or_name) override;
  std::vector<nlohmann::json> list_concurrency_limits(const std::string& name_prefix) override;
  bool delete_concurrency_limit(const std::string& id_or_name) override;
  nlohmann::json reset_concurrency_limit(const std::string& id_or_name) override;
  nlohmann::json create_artifact(const nlohmann::json& artifact) override;
  std::optional<nlohmann::json> read_artifact(const std::string& id) override;
  std::optional<nlohmann::json> read_latest_artifact(const std::string& key) override;
  std::vector<nlohmann::json> filter_artifacts(const ArtifactFilter& filter) override;
  nlohmann::json update_artifact(const std::string& id, const nlohmann::json& changes) override;
  bool delete_artifact(const std::string& id) override;
  std::optional<nlohmann::json> read_variable(const std::string& name) override;
  nlohmann::json set_variable(const std::string& name, const nlohmann::json& value,
                              const std::optional<std::vector<std::string>>& tags,
                              bool overwrite) override;
  bool delete_variable(const std::string& name) override;
  std::vector<nlohmann::json> list_variables() override;

  // Sends a request and returns the parsed JSON body of a 2xx answer; throws the server's error
  // otherwise. `target` is relative to the API URL ("/flow_runs/filter"). For CLI commands that
  // reach routes the interface does not cover (events, cancel, ...).
  nlohmann::json call(const std::string& method, const std::string& target,
                      const nlohmann::json& body = nullptr);
  const HttpUrl& url() const { return http_.url(); }

 private:
  struct Outbox {
    std::vector<TaskRunRecord> task_runs;
    std::vector<LogRecord> logs;
  };
  // `method target` through http_, retried as the header comment says; the first answer that is
  // not "try later", whatever its status.
  HttpResult request(const std::string& method, const std::string& target, const std::string& body);
  void run_sender();
  // Posts `body` (JSON text), retrying with back-off while the server is unavailable.
  void send_with_retry(const std::string& target, const std::string& body, size_t records);
  // The response of `call` when 404 should be a value, not an error.
  std::optional<nlohmann::json> call_or_missing(const std::string& method,
                                                const std::string& target,
                                                const nlohmann::json& body = nullptr);

  Options options_;
  HttpClient http_;
  std::mutex mutex_;
  std::condition_variable work_cv_, done_cv_;
  Outbox pending_;
  uint64_t enqueued_ = 0, sent_ = 0;
  bool stop_ = false;
  // The first batch dropped since the last flush(), how many records it held, and how many
  // records every batch dropped since then held in all (reported by the next flush()).
  std::exception_ptr error_;
  uint64_t first_error_records_ = 0, lost_records_ = 0;
  std::thread sender_;
};

// Turns a server's error answer into the matching baton::Error.
Error error_from_response(int status, const std::string& body);

}  // namespace baton
