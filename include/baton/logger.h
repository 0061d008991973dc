// Run logging: lines stored with the run they belong to.
//
//   auto log = baton::get_run_logger();
//   log.info("Extracted {} rows from {}", rows, source);
//
// Inside a flow or task, each line is stored with the flow run (and task run) through the
// orchestration client (batched, like task states) and echoed to stderr as
// "12:00:00.123 | INFO    | Task run 'extract-0' - Extracted 3 rows from s3://x". Outside any run,
// lines are only echoed. BATON_LOGGING_LEVEL (DEBUG, INFO, WARNING, ERROR, CRITICAL; default INFO)
// sets the lowest level kept.
//
// log_prints (an option of tasks and flows) also turns what the body writes to std::cout and
// std::cerr into INFO / ERROR lines of the run, one per line of text, while still printing it.
// What is captured: writes through std::cout, std::cerr (and std::clog) from the thread running
// the body. What is not: printf/puts/write(2) (they bypass C++ streams), and output from threads
// the body starts itself (they are not the run's thread).
//
// Thread-safety: a RunLogger is a small value bound to one run; use it from any thread.
#pragma once

#include <fmt/format.h>

#include <string>

namespace baton {

class RunLogger {
 public:
  enum Level { kDebug = 10, kInfo = 20, kWarning = 30, kError = 40, kCritical = 50 };

  RunLogger(std::string flow_run_id, std::string task_run_id, std::string label)
      : flow_run_id_(std::move(flow_run_id)),
        task_run_id_(std::move(task_run_id)),
        label_(std::move(label)) {}

  void log(int level, std::string message) const;

  template <class... A>
  void debug(fmt::format_string<A...> f, A&&... a) const {
    log(kDebug, fmt::format(f, std::forward<A>(a)...));
  }
  template <class... A>
  void info(fmt::format_string<A...> f, A&&... a) const {
    log(kInfo, fmt::format(f, std::forward<A>(a)...));
  }
  template <class... A>
  void warning(fmt::format_string<A...> f, A&&... a) const {
    log(kWarning, fmt::format(f, std::forward<A>(a)...));
  }
  template <class... A>
  void error(fmt::format_string<A...> f, A&&... a) const {
    log(kError, fmt::format(f, std::forward<A>(a)...));
  }
  template <class... A>
  void critical(fmt::format_string<A...> f, A&&... a) const {
    log(kCritical, fmt::format(f, std::forward<A>(a)...));
  }

  const std::string& flow_run_id() const { return flow_run_id_; }
  const std::string& task_run_id() const { return task_run_id_; }

 private:
  std::string flow_run_id_, task_run_id_;
  std::string label_;  // "Flow run 'brave-otter'" / "Task run 'extract-0'"
};

// The logger of the run executing on this thread (the task run inside a task, else the flow run).
RunLogger get_run_logger();

}  // namespace baton
