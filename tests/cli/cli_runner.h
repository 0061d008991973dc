// Runs the real `baton` executable from the build tree and captures what it printed, for tests of
// the command line. The child inherits the test's environment (BATON_HOME included).
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace baton::testing {

struct CliResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

inline std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// `args` is appended to the binary's path as shell words; quote them as a shell would.
inline CliResult run_baton(const std::string& args) {
  static int counter = 0;
  auto dir = std::filesystem::temp_directory_path() /
             ("baton-cli-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
  std::filesystem::create_directories(dir);
  std::string cmd = std::string(BATON_BINARY_DIR) + "/src/cli/baton " + args + " >" +
                    (dir / "out").string() + " 2>" + (dir / "err").string() + " </dev/null";
  int status = std::system(cmd.c_str());
  CliResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = read_file(dir / "out");
  r.err = read_file(dir / "err");
  std::filesystem::remove_all(dir);
  return r;
}

}  // namespace baton::testing
