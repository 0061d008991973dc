// Several real processes writing one backend at once: every row must arrive, none may fail with
// "database is locked"; a killed process leaves runs that mark_crashed_runs() finds.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sstream>
#include <thread>

#include "client_suite.h"
#include "model/ids.h"

extern char** environ;

namespace baton::testing {
namespace {

struct Child {
  pid_t pid = -1;
  int stdout_fd = -1;
};

// Starts the helper with `args`, the parent's environment plus `env` (which wins).
Child spawn_helper(const std::vector<std::string>& args, const std::vector<std::string>& env) {
  std::vector<std::string> argv_s{BATON_CLIENT_HELPER};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);

  std::vector<std::string> env_s;
  for (char** e = environ; *e; ++e) {
    std::string var = *e;
    bool overridden = false;
    for (const auto& mine : env)
      if (var.substr(0, var.find('=') + 1) == mine.substr(0, mine.find('=') + 1)) overridden = true;
    if (!overridden) env_s.push_back(var);
  }
  env_s.insert(env_s.end(), env.begin(), env.end());
  std::vector<char*> envp;
  for (auto& e : env_s) envp.push_back(e.data());
  envp.push_back(nullptr);

  int fds[2];
  if (pipe(fds) != 0) throw std::runtime_error("pipe failed");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, fds[0]);
  Child child;
  int rc = posix_spawn(&child.pid, argv[0], &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  if (rc != 0) {
    close(fds[0]);
    throw std::runtime_error("cannot start " + argv_s[0]);
  }
  child.stdout_fd = fds[0];
  return child;
}

std::string read_all(int fd) {
  std::string out;
  char buf[256];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  close(fd);
  return out;
}

int wait_status(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

TEST_P(MultiProcessSuite, ConcurrentProcessesAndThreadsLoseNoRow) {
  constexpr int kProcesses = 4, kRuns = 10, kTasks = 40;
  auto env = transport_->child_environment(home_);
  std::vector<Child> children;
  for (int p = 0; p < kProcesses; ++p)
    children.push_back(spawn_helper(
        {"write", "proc-" + std::to_string(p), std::to_string(kRuns), std::to_string(kTasks)},
        env));
  // Meanwhile this process writes too, from two threads with their own clients.
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      auto own = transport_->connect(home_);
      for (int r = 0; r < kRuns; ++r) {
        FlowRunRecord run;
        run.flow_name = "thread-" + std::to_string(t);
        run = own->create_flow_run(run);
        own->set_flow_run_state(run.id, State::running());
        for (int i = 0; i < kTasks; ++i) {
          TaskRunRecord task;
          task.id = new_id();
          task.flow_run_id = run.id;
          task.task_key = "k";
          task.name = "t";
          task.state = State::completed();
          own->record_task_run(task);
        }
        own->flush();
        own->set_flow_run_state(run.id, State::completed());
      }
    });
  }
  for (auto& c : children) {
    std::string out = read_all(c.stdout_fd);
    int status = wait_status(c.pid);
    ASSERT_TRUE(WIFEXITED(status)) << "helper died: " << out;
    EXPECT_EQ(WEXITSTATUS(status), 0) << out;
  }
  for (auto& t : threads) t.join();

  std::vector<std::string> flows;
  for (int p = 0; p < kProcesses; ++p) flows.push_back("proc-" + std::to_string(p));
  for (int t = 0; t < 2; ++t) flows.push_back("thread-" + std::to_string(t));
  for (const auto& flow : flows) {
    FlowRunFilter f;
    f.flow_names = {flow};
    auto runs = client().filter_flow_runs(f);
    ASSERT_EQ(runs.size(), static_cast<size_t>(kRuns)) << flow;
    for (const auto& run : runs) {
      EXPECT_EQ(run.state.type, StateType::kCompleted) << flow;
      TaskRunFilter tf;
      tf.flow_run_id = run.id;
      tf.limit = 1000;
      auto tasks = client().filter_task_runs(tf);
      ASSERT_EQ(tasks.size(), static_cast<size_t>(kTasks)) << flow;
      for (const auto& task : tasks) EXPECT_EQ(task.state.type, StateType::kCompleted);
      if (flow.rfind("proc-", 0) == 0) {
        EXPECT_EQ(client().read_states(tasks.front().id).size(), 3u);
        LogFilter lf;
        lf.flow_run_ids = {run.id};
        lf.limit = 1000;
        EXPECT_EQ(client().read_logs(lf).size(), static_cast<size_t>(kTasks));
      }
    }
  }
}

TEST_P(MultiProcessSuite, KilledProcessLeavesRunsThatAreMarkedCrashed) {
  auto child = spawn_helper({"crash", "doomed"}, transport_->child_environment(home_));
  std::string out = read_all(child.stdout_fd);
  int status = wait_status(child.pid);
  ASSERT_TRUE(WIFSIGNALED(status)) << out;
  std::istringstream in(out);
  std::string flow_run_id, task_run_id;
  in >> flow_run_id >> task_run_id;
  ASSERT_TRUE(is_uuid(flow_run_id)) << out;

  auto before = client().read_flow_run(flow_run_id);
  ASSERT_TRUE(before);
  EXPECT_EQ(before->state.type, StateType::kRunning);  // what a killed program leaves behind
  auto marked = client().mark_crashed_runs();
  EXPECT_EQ(marked, std::vector<std::string>{flow_run_id});
  auto after = client().read_flow_run(flow_run_id);
  EXPECT_EQ(after->state.type, StateType::kCrashed);
  EXPECT_TRUE(after->end_time.has_value());
  auto task = client().read_task_run(task_run_id);
  ASSERT_TRUE(task);
  EXPECT_EQ(task->state.type, StateType::kCrashed);
  EXPECT_TRUE(client().mark_crashed_runs().empty());  // idempotent
}

}  // namespace
}  // namespace baton::testing
