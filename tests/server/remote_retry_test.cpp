// RemoteClient's synchronous calls against a server that goes away and comes back: the real
// `baton server start` binary, stopped with SIGTERM (or frozen with SIGSTOP) and started again on
// the same port over the same database. What src/client/remote_client.h promises:
// - a call the server never received (no connection) is retried until the server is back, and is
//   then applied once; a whole flow run survives a restart between its tasks;
// - a call still failing when `retry_for` is spent throws kUnavailable naming the URL, the time
//   spent retrying and the last error, after one warning;
// - a 503 without Retry-After is a lasting condition: it fails at once;
// - after the request was sent, a GET is repeated; another method is not, and says so;
// - the CLI: BATON_CLIENT_RETRY_SECONDS is checked, retries warn on stderr, `baton server status`
//   does not wait.
#include <gtest/gtest.h>
#include <signal.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>

#include <chrono>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "baton/baton.h"
#include "baton/error.h"
#include "client/remote_client.h"
#include "core/runtime.h"
#include "server_process.h"

namespace baton::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Nobody listens on the discard port of the loopback: connections are refused.
const std::string kNowhere = "http://127.0.0.1:9/api";
// What the first retry of a call logs.
const std::string kRetrying = "retrying for up to";

// The messages logged through spdlog's default logger while this lives. Install it before any
// client exists (spdlog's default logger is not to be swapped under a logging thread).
class CapturedLog {
 public:
  CapturedLog() : sink_(std::make_shared<Sink>()), previous_(spdlog::default_logger()) {
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("captured", sink_));
  }
  ~CapturedLog() { spdlog::set_default_logger(previous_); }

  // Whether a message containing `text` was logged within `bound`.
  bool wait_for(const std::string& text, std::chrono::milliseconds bound) {
    std::unique_lock lock(sink_->lines_mutex);
    return sink_->logged.wait_for(lock, bound, [&] { return count_locked(text) > 0; });
  }
  int count(const std::string& text) {
    std::lock_guard lock(sink_->lines_mutex);
    return count_locked(text);
  }

 private:
  struct Sink : spdlog::sinks::base_sink<std::mutex> {
    std::mutex lines_mutex;
    std::condition_variable logged;
    std::vector<std::string> lines;
    void sink_it_(const spdlog::details::log_msg& msg) override {
      {
        std::lock_guard lock(lines_mutex);
        lines.emplace_back(msg.payload.data(), msg.payload.size());
      }
      logged.notify_all();
    }
    void flush_() override {}
  };
  int count_locked(const std::string& text) {
    int n = 0;
    for (const auto& line : sink_->lines) n += line.find(text) != std::string::npos;
    return n;
  }
  std::shared_ptr<Sink> sink_;
  std::shared_ptr<spdlog::logger> previous_;
};

FlowRunRecord new_flow_run(OrchestrationClient& client, const std::string& flow_name) {
  FlowRunRecord run;
  run.flow_name = flow_name;
  return client.create_flow_run(run);
}

std::vector<FlowRunRecord> runs_of(OrchestrationClient& client, const std::string& flow_name) {
  FlowRunFilter filter;
  filter.flow_names = {flow_name};
  return client.filter_flow_runs(filter);
}

std::string what_of(const std::function<void()>& call, ErrorKind expected) {
  try {
    call();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), expected) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "no error";
  return {};
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// A server the test stops and starts again on the same port over the same database.
class RemoteRetry : public ::testing::Test {
 protected:
  void restart() {
    server_ = std::make_unique<ServerProcess>(
        ServerProcess::Options{.home = home_.path(), .port = port_of(url_)});
    ASSERT_EQ(server_->url(), url_);
  }
  // Stops the server, runs `call` on another thread, starts the server again once the call has
  // found it gone (its retry's warning; as a restart would, whatever the call does meanwhile),
  // and returns what the call returned.
  template <class Call>
  auto across_a_restart(Call call) {
    EXPECT_EQ(server_->stop(), 0);
    auto result = std::async(std::launch::async, call);
    EXPECT_TRUE(log_.wait_for(kRetrying, 20s)) << "the call did not retry";
    restart();
    return result.get();
  }

  CapturedLog log_;
  FreshDir home_{"remote-retry"};
  std::unique_ptr<ServerProcess> server_ = start_below_ephemeral_ports({.home = home_.path()});
  const std::string url_ = server_->url();
};

TEST_F(RemoteRetry, AFlowRunCreatedWhileTheServerIsDownIsStoredOnceItIsBack) {
  RemoteClient client(url_, "");  // the default budget, 30 s
  // A first call leaves a kept-alive connection, which the stopping server closes: the retried
  // call must not mistake it for a request that reached the server.
  new_flow_run(client, "before-outage");
  FlowRunRecord run = across_a_restart([&] { return new_flow_run(client, "created-in-outage"); });

  RemoteClient reader(url_, "");
  auto stored = runs_of(reader, "created-in-outage");
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(stored[0].id, run.id);
  EXPECT_EQ(log_.count(kRetrying), 1);  // one warning for the call, not one per attempt
}

TEST_F(RemoteRetry, AStateSetWhileTheServerIsDownIsRecordedOnceItIsBack) {
  RemoteClient client(url_, "");
  FlowRunRecord run = new_flow_run(client, "set-in-outage");
  auto result = across_a_restart(
      [&] { return client.set_flow_run_state(run.id, State::running("after the restart")); });
  EXPECT_EQ(result.status, SetStateStatus::kAccept) << result.reason;

  RemoteClient reader(url_, "");
  auto states = reader.read_states(run.id);
  int running = 0;
  for (const auto& s : states) running += s.type == StateType::kRunning;
  EXPECT_EQ(running, 1);
  EXPECT_EQ(reader.read_flow_run(run.id)->state.type, StateType::kRunning);
}

TEST_F(RemoteRetry, AFlowRunSurvivesAServerRestartBetweenItsTasks) {
  setenv("BATON_LOGGING_QUIET", "1", 0);
  const std::string url = url_;
  core::Runtime::get().set_client_factory([url] {
    return std::unique_ptr<OrchestrationClient>(std::make_unique<RemoteClient>(url, ""));
  });
  auto extract = baton::task("extract", [] { return 20; });
  auto load = baton::task("load", [](int x) { return x + 1; });
  std::string flow_run_id;
  std::thread restarter;
  auto etl = baton::flow("restarted_etl", [&] {
    flow_run_id = engine::current_flow_run_id();
    int x = extract();
    EXPECT_EQ(server_->stop(), 0);
    // Back once the flow has found it gone, as a restarting server would be.
    restarter = std::thread([&] {
      EXPECT_TRUE(log_.wait_for(kRetrying, 20s)) << "the flow did not retry";
      restart();
    });
    return load(x);
  });
  int result = -1;
  try {
    result = etl();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "the flow failed: " << e.what();
  }
  if (restarter.joinable()) restarter.join();
  core::Runtime::get().set_client_factory({});
  EXPECT_EQ(result, 21);

  RemoteClient reader(url_, "");
  auto run = reader.read_flow_run(flow_run_id);
  ASSERT_TRUE(run);
  EXPECT_EQ(run->state.type, StateType::kCompleted) << run->state.message;
  std::vector<std::string> names;
  for (const auto& s : reader.read_states(flow_run_id)) names.push_back(s.name);
  EXPECT_EQ(names, (std::vector<std::string>{"Pending", "Running", "Completed"}));
  TaskRunFilter tasks;
  tasks.flow_run_id = flow_run_id;
  auto task_runs = reader.filter_task_runs(tasks);
  ASSERT_EQ(task_runs.size(), 2u);
  for (const auto& t : task_runs) EXPECT_EQ(t.state.type, StateType::kCompleted) << t.name;
}

TEST_F(RemoteRetry, AfterTheRequestWasSentOnlyAGetIsRepeated) {
  FlowRunRecord run = new_flow_run(*std::make_unique<RemoteClient>(url_, ""), "frozen");
  // A frozen server accepts connections (the kernel does) but answers nothing: every request
  // times out after it was sent.
  RemoteClient client(url_, "", {.request_timeout = 1s});
  const pid_t pid = server_->pid();
  ASSERT_EQ(kill(pid, SIGSTOP), 0);
  struct Thaw {
    pid_t pid;
    ~Thaw() { kill(pid, SIGCONT); }
  } thaw{pid};
  // The stop takes effect once one of its threads has handled the signal, which on a busy machine
  // may be after an already running thread answered a request: wait until every thread stopped.
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, WUNTRACED), pid);
  ASSERT_TRUE(WIFSTOPPED(status));

  std::string what = what_of([&] { client.set_flow_run_state(run.id, State::running()); },
                             ErrorKind::kUnavailable);
  EXPECT_TRUE(contains(what, "may or may not have been applied")) << what;
  EXPECT_TRUE(contains(what, url_)) << what;
  EXPECT_EQ(log_.count(kRetrying), 0) << "a POST that reached the server was repeated";

  auto read = std::async(std::launch::async, [&] { return client.read_flow_run(run.id); });
  EXPECT_TRUE(log_.wait_for(kRetrying, 20s)) << "the GET was not repeated";
  ASSERT_EQ(kill(pid, SIGCONT), 0);
  auto got = read.get();
  ASSERT_TRUE(got);
  EXPECT_EQ(got->id, run.id);
}

TEST(RemoteRetryBudget, GivingUpNamesTheUrlTheTimeSpentAndTheLastError) {
  CapturedLog log;
  RemoteClient client(kNowhere, "", {.retry_for = 300ms});
  const auto started = Clock::now();
  std::string what = what_of([&] { new_flow_run(client, "nowhere"); }, ErrorKind::kUnavailable);
  const auto took = Clock::now() - started;
  EXPECT_TRUE(contains(what, "gave up on POST " + kNowhere + "/flow_runs/")) << what;
  EXPECT_TRUE(contains(what, "after retrying for 0.")) << what;
  EXPECT_TRUE(contains(what, "last error: cannot reach the Baton server")) << what;
  EXPECT_GE(took, 80ms) << "it did not wait even the first pause";
  EXPECT_EQ(log.count(kRetrying + " 0.3 s"), 1);
}

TEST(RemoteRetryBudget, WithNoBudgetACallFailsAtOnceWithTheFirstError) {
  CapturedLog log;
  RemoteClient client(kNowhere, "", {.retry_for = 0ms});
  std::string what = what_of([&] { client.list_flows(); }, ErrorKind::kUnavailable);
  EXPECT_TRUE(contains(what, "cannot reach the Baton server at " + kNowhere)) << what;
  EXPECT_FALSE(contains(what, "gave up")) << what;
  EXPECT_EQ(log.count(kRetrying), 0);
}

TEST(RemoteRetryBudget, A503WithoutRetryAfterFailsAtOnce) {
  CapturedLog log;
  ServerProcess server({.args = {"--no-event-store"}});
  RemoteClient client(server.url(), "", {.retry_for = 60s});
  std::string what =
      what_of([&] { client.call("POST", "/events/filter", nlohmann::json::object()); },
              ErrorKind::kUnavailable);
  EXPECT_TRUE(contains(what, "this server does not store events")) << what;
  EXPECT_FALSE(contains(what, "gave up")) << what;
  EXPECT_EQ(log.count(kRetrying), 0) << "a lasting 503 was retried";
}

TEST(RetryCli, AnInvalidRetryBudgetIsBadInputNamingTheVariable) {
  for (const char* value : {"abc", "-1", "1s", "30 ", "nan", "inf", "1e9"}) {
    auto r = run_baton({"flow-run", "ls"},
                       {{"BATON_API_URL", kNowhere}, {"BATON_CLIENT_RETRY_SECONDS", value}});
    EXPECT_EQ(r.exit_code, 2) << value << "\n" << r.err;
    EXPECT_TRUE(contains(r.err, "BATON_CLIENT_RETRY_SECONDS is '" + std::string(value) + "'"))
        << r.err;
    EXPECT_FALSE(contains(r.err, "cannot reach")) << "checked only after connecting: " << r.err;
  }
}

TEST(RetryCli, ACommandRetriesForTheBudgetWarningOnStderr) {
  auto r = run_baton({"flow-run", "ls"},
                     {{"BATON_API_URL", kNowhere}, {"BATON_CLIENT_RETRY_SECONDS", "0.3"}});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_TRUE(contains(r.err, kRetrying + " 0.3 s")) << r.err;
  EXPECT_TRUE(contains(r.err, "gave up on POST " + kNowhere)) << r.err;
  EXPECT_TRUE(r.out.empty()) << "diagnostics on stdout: " << r.out;

  auto at_once = run_baton({"flow-run", "ls"},
                           {{"BATON_API_URL", kNowhere}, {"BATON_CLIENT_RETRY_SECONDS", "0"}});
  EXPECT_EQ(at_once.exit_code, 1) << at_once.err;
  EXPECT_TRUE(contains(at_once.err, "cannot reach")) << at_once.err;
  EXPECT_FALSE(contains(at_once.err, kRetrying)) << at_once.err;
}

TEST(RetryCli, ServerStatusAnswersAtOnceWhenNoServerRuns) {
  // It tells whether a server runs: it must not wait out the default 30 s budget.
  const auto started = Clock::now();
  auto r = run_baton({"server", "status"}, {{"BATON_API_URL", kNowhere}});
  EXPECT_LT(Clock::now() - started, 5s);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_TRUE(contains(r.err, "cannot reach")) << r.err;
  EXPECT_FALSE(contains(r.err, kRetrying)) << r.err;
}

}  // namespace
}  // namespace baton::testing
