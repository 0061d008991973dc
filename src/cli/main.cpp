// The `baton` command line: parses, dispatches to the registered command groups, and turns errors
// into one-line messages with the exit codes of baton::exit_code (2 for bad input). Diagnostics
// logged through spdlog (a remote call being retried, ...) go to stderr: stdout carries the
// commands' output, which --json makes machine-read.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <iostream>
#include <map>

#include "baton/error.h"
#include "baton/version.h"
#include "cli/command_registry.h"

namespace baton::cli {

namespace {
std::multimap<int, Installer>& registry() {
  static std::multimap<int, Installer> r;
  return r;
}
}  // namespace

Registration::Registration(int order, Installer installer) {
  registry().emplace(order, std::move(installer));
}

std::vector<Installer> installers() {
  std::vector<Installer> out;
  for (auto& [order, installer] : registry()) out.push_back(installer);
  return out;
}

BATON_CLI_COMMANDS(0, [](CLI::App& root) {
  auto* version = root.add_subcommand("version", "Print Baton's version");
  version->callback([] { std::cout << "baton " << kVersion << "\n"; });
});

}  // namespace baton::cli

int main(int argc, char** argv) {
  spdlog::set_default_logger(spdlog::stderr_color_mt("baton"));
  CLI::App app{"Baton: workflow orchestration for C++", "baton"};
  app.require_subcommand(1);
  for (const auto& install : baton::cli::installers()) install(app);
  // CLI11 reports an unknown command as "A subcommand is required"; name it instead.
  if (argc > 1 && argv[1][0] != '-') {
    std::string known;
    bool found = false;
    for (const auto* sub : app.get_subcommands([](CLI::App*) { return true; })) {
      found = found || sub->check_name(argv[1]);  // names and aliases
      known += (known.empty() ? "" : ", ") + sub->get_name();
    }
    if (!found) {
      std::cerr << "error: unknown command '" << argv[1] << "'; expected one of: " << known << "\n";
      return 2;
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "error: " << e.what() << " (see 'baton --help')\n";
    return 2;
  } catch (const baton::cli::ExitStatus& e) {
    return e.code;
  } catch (const baton::Error& e) {
    std::cerr << "error: " << e.what();
    if (!e.field().empty()) std::cerr << " [" << e.field() << "]";
    std::cerr << "\n";
    return baton::exit_code(e.kind());
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
