// Test fixture: the real `baton server start` binary on a free loopback port, over a fresh
// database in its own folder. Reads the "listening on" line to learn the port (the server binds
// port 0 unless Options::port names one, as a restart on the port a client already uses does),
// and on destruction sends SIGTERM and checks that the server exited cleanly.
#pragma once

#include <sys/types.h>

#include <csignal>
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "client/http_client.h"

namespace baton::testing {

class ServerProcess {
 public:
  struct Options {
    std::map<std::string, std::string> env;  // extra environment, e.g. BATON_SERVER_API_KEY
    std::vector<std::string> args;           // extra arguments to `baton server start`
    std::string home;                        // BATON_HOME to reuse; fresh when empty
    uint16_t port = 0;                       // 0: a free port (see url())
  };
  ServerProcess() : ServerProcess(Options{}) {}
  explicit ServerProcess(Options options);
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  const std::string& url() const { return url_; }  // "http://127.0.0.1:PORT/api"
  const std::string& home() const { return home_; }
  pid_t pid() const { return pid_; }
  // `signal` (SIGTERM unless said) and wait; returns the exit status (0 for a clean stop).
  // Idempotent.
  int stop(int signal = SIGTERM);
  // Everything the server printed on stdout so far (after stop(): all of it).
  std::string output();

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  int status_ = -1;
  std::string url_, home_, output_;
  bool owns_home_ = false;  // a fresh home, removed by the destructor
};

// A server on a free port below Linux's ephemeral range (32768-60999 by default), for tests that
// stop it and start it again on the same port (the port of its url(), see port_of()): while it is
// down, no outgoing connection of a test running beside this one can be given its port and keep
// the restart from binding it. `options.port` is chosen here.
std::unique_ptr<ServerProcess> start_below_ephemeral_ports(ServerProcess::Options options);
// The port of "http://127.0.0.1:PORT/api".
uint16_t port_of(const std::string& url);

// The `baton` executable under test (BATON_TEST_BINARY overrides it, to compare two builds).
std::string baton_binary();
// A fresh empty folder under the test's BATON_HOME (or /tmp); the caller removes it, or holds it
// in a FreshDir.
std::string fresh_dir(const std::string& prefix);

// A fresh_dir() removed with everything in it when this goes out of scope.
class FreshDir {
 public:
  explicit FreshDir(const std::string& prefix) : path_(fresh_dir(prefix)) {}
  ~FreshDir();
  FreshDir(const FreshDir&) = delete;
  FreshDir& operator=(const FreshDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

struct CommandResult {
  int exit_code = -1;
  std::string out, err;
};
// `baton args...` running in the background (e.g. `baton events stream`), its stdout and stderr
// read through pipes. The destructor stops it (SIGTERM) if it still runs.
class BatonChild {
 public:
  BatonChild(const std::vector<std::string>& args, const std::map<std::string, std::string>& env);
  ~BatonChild();
  BatonChild(const BatonChild&) = delete;
  BatonChild& operator=(const BatonChild&) = delete;

  // Reads until `needle` appears on stdout (or stderr), the child exits, or `bound_ms` passes.
  bool wait_for(const std::string& needle, bool on_stderr, int bound_ms);
  // Waits up to `bound_ms` for the child to exit by itself; its exit status, or -1 if it did not
  // (it is then left running).
  int wait_exit(int bound_ms);
  // Sends `signal` and waits; the exit status (128 + signal when it died of it).
  int stop(int signal);
  const std::string& out() const { return out_; }
  const std::string& err() const { return err_; }

 private:
  void read_available(int timeout_ms);
  pid_t pid_ = -1;
  int out_fd_ = -1, err_fd_ = -1;
  int status_ = -1;
  std::string out_, err_;
};

// Runs `baton args...` with extra environment and returns its exit code and output.
CommandResult run_baton(const std::vector<std::string>& args,
                        const std::map<std::string, std::string>& env = {});

// An HTTP answer with its body parsed (null when empty, discarded when not JSON).
struct Answer {
  int status;
  nlohmann::json body;
};
// `method target` with `body` as JSON (none when null), through `http`.
Answer call(HttpClient& http, const std::string& method, const std::string& target,
            const nlohmann::json& body = nullptr);

}  // namespace baton::testing
