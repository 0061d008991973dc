// How command groups join the `baton` command line.
//
// Each command group lives in its own file (run_commands.cpp, schedule_commands.cpp, ...) and
// registers an installer with a static BATON_CLI_COMMANDS block. main() calls every installer on
// the root CLI11 app, in `order`, before parsing. The files are compiled straight into the baton
// executable, so their static registrations are never dropped by the linker.
//
// Commands report failure by throwing baton::Error: main() prints "error: <message>" on stderr
// and exits with exit_code(kind) (2 for bad input and unknown ids). A command that has its own
// exit status throws ExitStatus.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <vector>

namespace baton::cli {

using Installer = std::function<void(CLI::App& root)>;

// Thrown by a command that has finished and must exit with a non-zero status without an error
// message (e.g. `flow-run watch` for a run that ended Failed): main() returns `code`.
struct ExitStatus {
  int code;
};

struct Registration {
  Registration(int order, Installer installer);
};

// The installers registered so far, sorted by order.
std::vector<Installer> installers();

}  // namespace baton::cli

#define BATON_CLI_CONCAT_INNER(a, b) a##b
#define BATON_CLI_CONCAT(a, b) BATON_CLI_CONCAT_INNER(a, b)
// Usage: BATON_CLI_COMMANDS(20, [](CLI::App& root) { auto* flow = root.add_subcommand(...); });
#define BATON_CLI_COMMANDS(order, ...)                                                   \
  static ::baton::cli::Registration BATON_CLI_CONCAT(baton_cli_registration_, __LINE__)( \
      order, __VA_ARGS__)
