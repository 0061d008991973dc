// The fake GitHub API as a process, for tests: prints "listening on <port>" and serves until its
// standard input closes (or for at most 120 s).
#include <chrono>
#include <cstdio>
#include <future>
#include <iostream>

#include "fake_github.h"

int main() {
  examples::FakeGithub server(0);
  std::printf("listening on %u\n", static_cast<unsigned>(server.port()));
  std::fflush(stdout);
  auto stdin_closed = std::async(std::launch::async, [] {
    while (std::getchar() != EOF) {
    }
  });
  stdin_closed.wait_for(std::chrono::seconds(120));
  std::_Exit(0);  // the reader thread may still block on stdin
}
