#include "core/logging.h"

#include <cstdio>
#include <iostream>
#include <mutex>
#include <streambuf>

#include "baton/logger.h"
#include "core/run_context.h"
#include "core/runtime.h"
#include "model/log_level.h"
#include "model/records.h"

namespace baton::core {

namespace {
std::string label_for_context(const RunContext* ctx) {
  if (!ctx) return {};
  if (ctx->task_run_name) return "Task run '" + *ctx->task_run_name + "'";
  if (ctx->flow) return "Flow run '" + ctx->flow->name() + "'";
  return {};
}

// One per std stream. Holds no put area, so every character arrives in overflow()/xsputn() and
// per-thread line buffers need no lock.
class DispatchBuf : public std::streambuf {
 public:
  DispatchBuf(std::streambuf* original, int level, int slot)
      : original_(original), level_(level), slot_(slot) {}

  static thread_local std::string pending[3];

 protected:
  int_type overflow(int_type ch) override {
    if (traits_type::eq_int_type(ch, traits_type::eof())) return traits_type::not_eof(ch);
    char c = traits_type::to_char_type(ch);
    capture(&c, 1);
    return original_->sputc(c);
  }
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    capture(s, n);
    return original_->sputn(s, n);
  }
  int sync() override { return original_->pubsync(); }

 private:
  void capture(const char* s, std::streamsize n) {
    const RunContext* ctx = current_context();
    if (!ctx || !ctx->log_prints) return;
    std::string& line = pending[slot_];
    for (std::streamsize i = 0; i < n; ++i) {
      if (s[i] == '\n') {
        emit(ctx, std::move(line));
        line.clear();
      } else {
        line.push_back(s[i]);
      }
    }
  }
  void emit(const RunContext* ctx, std::string line) {
    // Printed already through the original buffer: store without echoing again.
    const std::string& flow_id = ctx->flow ? ctx->flow->id() : std::string();
    const std::string& task_id = ctx->task_run_id ? *ctx->task_run_id : std::string();
    if (flow_id.empty() && task_id.empty()) return;
    LogRecord r;
    r.flow_run_id = flow_id;
    r.task_run_id = task_id;
    r.name = task_id.empty() ? "baton.flow_runs" : "baton.task_runs";
    r.level = level_;
    r.message = std::move(line);
    r.timestamp = now();
    Runtime::get().client().write_logs({std::move(r)});
  }

  std::streambuf* original_;
  int level_;
  int slot_;
};
thread_local std::string DispatchBuf::pending[3];
}  // namespace

void emit_log(int level, const std::string& flow_run_id, const std::string& task_run_id,
              const std::string& label, std::string message) {
  Runtime& rt = Runtime::get();
  if (level < rt.log_level()) return;
  TimePoint t = now();
  if (rt.echo_logs()) {
    std::string ts = format_time(t);  // 2024-03-31T08:00:00.123456Z -> 08:00:00.123
    std::string clock = ts.size() >= 19 ? ts.substr(11, 8) : ts;
    if (ts.size() >= 23 && ts[19] == '.') clock += ts.substr(19, 4);
    std::string line = clock + " | ";
    line += log_level_name(level);
    line.resize(std::max<std::size_t>(line.size(), 23), ' ');
    line += " | " + (label.empty() ? std::string() : label + " - ") + message + "\n";
    std::fwrite(line.data(), 1, line.size(), stderr);
  }
  if (flow_run_id.empty() && task_run_id.empty()) return;
  LogRecord r;
  r.flow_run_id = flow_run_id;
  r.task_run_id = task_run_id;
  r.name = task_run_id.empty() ? "baton.flow_runs" : "baton.task_runs";
  r.level = level;
  r.message = std::move(message);
  r.timestamp = t;
  rt.client().write_logs({std::move(r)});
}

void install_print_capture() {
  static std::once_flag once;
  std::call_once(once, [] {
    // Leaked on purpose: the streams may be used during static destruction.
    std::cout.rdbuf(new DispatchBuf(std::cout.rdbuf(), 20, 0));
    std::cerr.rdbuf(new DispatchBuf(std::cerr.rdbuf(), 40, 1));
    std::clog.rdbuf(new DispatchBuf(std::clog.rdbuf(), 40, 2));
  });
}

void flush_captured_prints() {
  const RunContext* ctx = current_context();
  for (int slot = 0; slot < 3; ++slot) {
    std::string& line = DispatchBuf::pending[slot];
    if (line.empty()) continue;
    std::string text = std::move(line);
    line.clear();
    if (!ctx || !ctx->log_prints) continue;
    const std::string flow_id = ctx->flow ? ctx->flow->id() : std::string();
    const std::string task_id = ctx->task_run_id ? *ctx->task_run_id : std::string();
    if (flow_id.empty() && task_id.empty()) continue;
    LogRecord r;
    r.flow_run_id = flow_id;
    r.task_run_id = task_id;
    r.name = task_id.empty() ? "baton.flow_runs" : "baton.task_runs";
    r.level = slot == 0 ? 20 : 40;
    r.message = std::move(text);
    r.timestamp = now();
    Runtime::get().client().write_logs({std::move(r)});
  }
}

}  // namespace baton::core

namespace baton {

void RunLogger::log(int level, std::string message) const {
  core::emit_log(level, flow_run_id_, task_run_id_, label_, std::move(message));
}

RunLogger get_run_logger() {
  const core::RunContext* ctx = core::current_context();
  if (!ctx) return RunLogger({}, {}, {});
  return RunLogger(ctx->flow ? ctx->flow->id() : std::string(),
                   ctx->task_run_id ? *ctx->task_run_id : std::string(),
                   core::label_for_context(ctx));
}

}  // namespace baton
