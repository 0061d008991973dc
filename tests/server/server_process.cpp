#include "server_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

extern char** environ;

namespace baton::testing {

namespace {
std::vector<std::string> environment(const std::map<std::string, std::string>& extra) {
  std::map<std::string, std::string> all;
  for (char** e = environ; *e; ++e) {
    std::string kv(*e);
    auto eq = kv.find('=');
    if (eq != std::string::npos) all[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  for (const auto& [k, v] : extra) {
    if (v.empty())
      all.erase(k);
    else
      all[k] = v;
  }
  std::vector<std::string> out;
  for (const auto& [k, v] : all) out.push_back(k + "=" + v);
  return out;
}

std::vector<char*> pointers(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

pid_t spawn(std::vector<std::string> args, const std::map<std::string, std::string>& env,
            int out_fd, int err_fd) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out_fd, 1);
  if (err_fd >= 0) posix_spawn_file_actions_adddup2(&actions, err_fd, 2);
  auto envs = environment(env);
  auto argv = pointers(args);
  auto envp = pointers(envs);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error("cannot start " + args[0]);
  return pid;
}

std::string drain(int fd) {
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}
}  // namespace

std::string baton_binary() {
  // Another build of the same program, for comparing two builds with one benchmark binary.
  if (const char* other = std::getenv("BATON_TEST_BINARY")) return other;
  return std::string(BATON_BINARY_DIR) + "/src/cli/baton";
}

std::string fresh_dir(const std::string& prefix) {
  static std::atomic<int> counter{0};
  const char* base = std::getenv("BATON_HOME");
  std::string dir = std::string(base ? base : "/tmp") + "/" + prefix + "-" +
                    std::to_string(getpid()) + "-" + std::to_string(counter++);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

FreshDir::~FreshDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

ServerProcess::ServerProcess(Options options) {
  owns_home_ = options.home.empty();
  home_ = owns_home_ ? fresh_dir("server") : options.home;
  std::vector<std::string> args{baton_binary(), "server", "start", "--host", "127.0.0.1"};
  args.push_back("--port");
  args.push_back(std::to_string(options.port));
  for (auto& a : options.args) args.push_back(a);
  auto env = options.env;
  env["BATON_HOME"] = home_;
  env.emplace("BATON_API_URL", "");  // the server never talks to another server
  int fds[2];
  if (pipe(fds) != 0) throw std::runtime_error("pipe failed");
  pid_ = spawn(args, env, fds[1], -1);
  close(fds[1]);
  out_fd_ = fds[0];
  // Wait (bounded) for the line that names the port.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{out_fd_, POLLIN, 0};
    if (poll(&p, 1, 100) > 0) {
      char buf[1024];
      ssize_t n = read(out_fd_, buf, sizeof buf);
      if (n <= 0) break;
      output_.append(buf, static_cast<size_t>(n));
      auto at = output_.find("listening on ");
      auto eol = output_.find('\n', at == std::string::npos ? 0 : at);
      if (at != std::string::npos && eol != std::string::npos) {
        url_ = output_.substr(at + 13, eol - at - 13);
        return;
      }
    }
  }
  stop();
  throw std::runtime_error("the server did not start; it printed: " + output_);
}

ServerProcess::~ServerProcess() {
  stop();
  if (owns_home_) {
    std::error_code ignored;
    std::filesystem::remove_all(home_, ignored);
  }
}

int ServerProcess::stop(int signal) {
  if (pid_ > 0) {
    kill(pid_, signal);
    int status = 0;
    waitpid(pid_, &status, 0);
    status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    pid_ = -1;
    output_ += drain(out_fd_);
    close(out_fd_);
    out_fd_ = -1;
  }
  return status_;
}

std::unique_ptr<ServerProcess> start_below_ephemeral_ports(ServerProcess::Options options) {
  std::mt19937 random(std::random_device{}());
  std::uniform_int_distribution<int> ports(20000, 32000);
  // A port another program holds fails the start; try another.
  for (int attempt = 1;; ++attempt) {
    try {
      options.port = static_cast<uint16_t>(ports(random));
      return std::make_unique<ServerProcess>(options);
    } catch (const std::runtime_error&) {
      if (attempt == 20) throw;
    }
  }
}

uint16_t port_of(const std::string& url) {
  auto colon = url.rfind(':');
  return static_cast<uint16_t>(std::stoi(url.substr(colon + 1)));
}

std::string ServerProcess::output() {
  if (out_fd_ >= 0) {
    int flags = fcntl(out_fd_, F_GETFL);
    fcntl(out_fd_, F_SETFL, flags | O_NONBLOCK);
    output_ += drain(out_fd_);
    fcntl(out_fd_, F_SETFL, flags);
  }
  return output_;
}

BatonChild::BatonChild(const std::vector<std::string>& args,
                       const std::map<std::string, std::string>& env) {
  std::vector<std::string> argv{baton_binary()};
  argv.insert(argv.end(), args.begin(), args.end());
  int out[2], err[2];
  if (pipe(out) != 0 || pipe(err) != 0) throw std::runtime_error("pipe failed");
  pid_ = spawn(argv, env, out[1], err[1]);
  close(out[1]);
  close(err[1]);
  out_fd_ = out[0];
  err_fd_ = err[0];
}

BatonChild::~BatonChild() {
  if (pid_ > 0) stop(SIGTERM);
  if (out_fd_ >= 0) close(out_fd_);
  if (err_fd_ >= 0) close(err_fd_);
}

void BatonChild::read_available(int timeout_ms) {
  pollfd fds[2] = {{out_fd_, POLLIN, 0}, {err_fd_, POLLIN, 0}};
  if (poll(fds, 2, timeout_ms) <= 0) return;
  char buf[4096];
  for (int i = 0; i < 2; ++i) {
    if (!(fds[i].revents & (POLLIN | POLLHUP))) continue;
    ssize_t n = read(fds[i].fd, buf, sizeof buf);
    if (n > 0) (i == 0 ? out_ : err_).append(buf, static_cast<size_t>(n));
  }
}

bool BatonChild::wait_for(const std::string& needle, bool on_stderr, int bound_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(bound_ms);
  const std::string& text = on_stderr ? err_ : out_;
  while (text.find(needle) == std::string::npos) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    if (pid_ > 0 && waitpid(pid_, &status_, WNOHANG) == pid_) {
      status_ = WIFEXITED(status_) ? WEXITSTATUS(status_) : 128 + WTERMSIG(status_);
      pid_ = -1;
      read_available(100);
      read_available(100);
      return text.find(needle) != std::string::npos;
    }
    read_available(50);
  }
  return true;
}

int BatonChild::wait_exit(int bound_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(bound_ms);
  while (pid_ > 0) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      pid_ = -1;
      break;
    }
    if (std::chrono::steady_clock::now() >= deadline) return -1;
    read_available(20);
  }
  read_available(0);
  return status_;
}

int BatonChild::stop(int signal) {
  if (pid_ > 0) {
    kill(pid_, signal);
    int status = 0;
    waitpid(pid_, &status, 0);
    status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    pid_ = -1;
  }
  read_available(0);
  return status_;
}

CommandResult run_baton(const std::vector<std::string>& args,
                        const std::map<std::string, std::string>& env) {
  std::vector<std::string> argv{baton_binary()};
  argv.insert(argv.end(), args.begin(), args.end());
  std::string dir = fresh_dir("cmd");
  std::string out_path = dir + "/out", err_path = dir + "/err";
  int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid = spawn(argv, env, out, err);
  close(out);
  close(err);
  int status = 0;
  waitpid(pid, &status, 0);
  CommandResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  auto slurp = [](const std::string& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
  r.out = slurp(out_path);
  r.err = slurp(err_path);
  std::filesystem::remove_all(dir);
  return r;
}

Answer call(HttpClient& http, const std::string& method, const std::string& target,
            const nlohmann::json& body) {
  auto r = http.request(method, target, body.is_null() ? std::string() : body.dump());
  return {r.status,
          r.body.empty() ? nlohmann::json(nullptr) : nlohmann::json::parse(r.body, nullptr, false)};
}

}  // namespace baton::testing
