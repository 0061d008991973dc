// Run log lines: stored through the orchestration client with their run, echoed to stderr.
//
// print_capture (log_prints) swaps the buffers of std::cout, std::cerr and std::clog, once, for a
// dispatching buffer: on a thread whose current run has log_prints on, each completed line also
// becomes a log line of that run (INFO for cout, ERROR for cerr/clog); every character still
// reaches the original buffer, so output looks the same. Other threads pass straight through.
//
// Thread-safety: all functions are safe from any thread.
#pragma once

#include <string>

namespace baton::core {

// Stores (when the run ids are known) and echoes one log line. `label` is "Flow run 'x'" /
// "Task run 'y'" / empty.
void emit_log(int level, const std::string& flow_run_id, const std::string& task_run_id,
              const std::string& label, std::string message);

// Installs the dispatching stream buffers (idempotent).
void install_print_capture();
// Emits what the current thread captured but did not end with a newline yet.
void flush_captured_prints();

}  // namespace baton::core
