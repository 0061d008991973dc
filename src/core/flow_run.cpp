// Runs flows: creates (or adopts) the flow run, drives its transitions through the orchestration
// client (synchronously; the rules decide), runs the body with a FlowRunContext, and mirrors a
// subflow's states on its parent's task run.
#include <map>
#include <mutex>
#include <thread>

#include "baton/error.h"
#include "baton/logger.h"
#include "core/exceptions.h"
#include "core/logging.h"
#include "core/names.h"
#include "core/run_context.h"
#include "core/runtime.h"
#include "core/task_run.h"
#include "model/ids.h"
#include "orchestration/rules.h"

namespace baton::core {
namespace {

void sleep_until(TimePoint at) {
  while (now() < at)
    std::this_thread::sleep_for(
        std::min<std::chrono::microseconds>(at - now(), std::chrono::milliseconds(200)));
}

std::string describe(const State& s) {
  return s.message.empty() ? s.name : s.name + "('" + s.message + "')";
}

// Flows are upserted by name once per process (and definition tags).
FlowRecord ensure_flow(const engine::FlowDefinition& def) {
  static std::mutex mutex;
  static std::map<std::string, FlowRecord> known;
  std::lock_guard lock(mutex);
  auto it = known.find(def.name);
  if (it != known.end() && it->second.tags == def.tags) return it->second;
  FlowRecord f = Runtime::get().client().ensure_flow(def.name, def.tags);
  f.tags = def.tags;
  known[def.name] = f;
  return f;
}

void run_hooks(const std::vector<StateHook>& hooks, const RunInfo& info, const State& state,
               const std::string& label) {
  for (const auto& hook : hooks) {
    try {
      hook(info, state);
    } catch (const std::exception& e) {
      emit_log(40, info.id, {}, label, std::string("A state hook failed: ") + e.what());
    } catch (...) {
      emit_log(40, info.id, {}, label, "A state hook failed");
    }
  }
}

// The task run that stands for a subflow in its parent flow run.
struct ParentTaskRun {
  TaskRunRecord record;
  bool has_state = false;
};

}  // namespace
}  // namespace baton::core

namespace baton::engine {

State run_flow(const std::shared_ptr<const FlowDefinition>& flow, FlowCall& call,
               const std::string& flow_run_id, bool rethrow) {
  using namespace baton::core;
  const FlowDefinition& def = *flow;
  auto& rt = Runtime::get();
  auto& client = rt.client();
  RunContext* parent = current_context();
  std::optional<ParentTaskRun> parent_task;

  FlowRunRecord run;
  if (!flow_run_id.empty()) {
    auto existing = client.read_flow_run(flow_run_id);
    if (!existing) throw not_found("flow run '" + flow_run_id + "' not found");
    run = std::move(*existing);
    if (!run.flow_name.empty() && run.flow_name != def.name)
      throw invalid_argument("flow run '" + flow_run_id + "' belongs to flow '" + run.flow_name +
                                 "', not '" + def.name + "'",
                             "flow_run_id");
    try {
      call.set_parameters(run.parameters);
    } catch (const std::exception& e) {
      std::string msg = std::string("Validation of flow parameters failed: ") + e.what();
      client.set_flow_run_state(run.id, State::failed(msg));
      emit_log(40, run.id, {}, "Flow run '" + run.name + "'", "Finished in state Failed: " + msg);
      client.flush();
      throw;
    }
  } else {
    FlowRecord f = ensure_flow(def);
    run.flow_id = f.id;
    run.flow_name = def.name;
    run.parameters = call.parameters();
    run.name = def.flow_run_name.empty()
                   ? random_run_name()
                   : render_name(def.flow_run_name, run.parameters, "flow_run_name");
    run.tags = def.tags;
    run.empirical_policy.retries = def.retries;
    if (def.retries > 0) run.empirical_policy.retry_delays_s = {def.retry_delay.count()};
    if (parent && parent->flow) {
      parent_task.emplace();
      auto& pt = parent_task->record;
      pt.id = new_id();
      pt.flow_run_id = parent->flow->id();
      pt.task_key = def.name;
      pt.dynamic_key = std::to_string(parent->flow->next_task_index(def.name));
      pt.name = def.name + "-" + pt.dynamic_key;
      pt.tags = def.tags;
      pt.created = now();
      propose_task_state(pt, parent_task->has_state, State::pending());
      run.parent_task_run_id = pt.id;
    }
    run.state = State::pending();
    run = client.create_flow_run(std::move(run));
  }

  const std::string label = "Flow run '" + run.name + "'";
  RunInfo info{run.id, run.name, def.name, run.id, 0, run.parameters};
  emit_log(20, run.id, {}, label,
           "Beginning flow run '" + run.name + "' for flow '" + def.name + "'");
  if (def.log_prints) install_print_capture();

  State final_state = run.state;
  std::exception_ptr error;
  for (;;) {
    SetStateResult r = client.set_flow_run_state(run.id, State::running());
    if (r.status == SetStateStatus::kWait) {
      emit_log(20, run.id, {}, label, "Waiting " + std::to_string(r.wait_s) + " s: " + r.reason);
      std::this_thread::sleep_for(Seconds(std::max(0.01, r.wait_s)));
      continue;
    }
    if (r.status == SetStateStatus::kReject && r.state.type == StateType::kScheduled &&
        r.state.scheduled_time) {
      sleep_until(*r.state.scheduled_time);
      continue;
    }
    if (r.status != SetStateStatus::kAccept) {
      final_state = r.state;
      std::string why =
          "Flow run could not start: " + (r.reason.empty() ? final_state.name : r.reason);
      if (final_state.type == StateType::kCancelled || final_state.type == StateType::kCancelling)
        error = std::make_exception_ptr(CancelledError(why));
      else
        error = std::make_exception_ptr(std::runtime_error(why));
      break;
    }
    info.run_count++;
    if (parent_task && parent_task->record.state.type != StateType::kRunning)
      propose_task_state(parent_task->record, parent_task->has_state, State::running());
    run_hooks(def.on_running, info, r.state, label);

    // One cancellation state per attempt: a timed-out attempt must not cancel the retry.
    auto cancel = std::make_shared<baton::detail::CancelState>(
        parent && parent->cancel ? *parent->cancel : nullptr);
    std::uint64_t alarm = 0;
    if (def.timeout) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%g", def.timeout->count());
      alarm = rt.watchdog().arm(
          std::chrono::steady_clock::now() +
              std::chrono::duration_cast<std::chrono::steady_clock::duration>(*def.timeout),
          cancel, label + " exceeded its timeout of " + buf + "s");
    }
    rt.cancellation_watcher().watch(run.id, cancel);
    error = nullptr;
    {
      FlowRunContext fctx(run.id, run.name, def.name, def.task_runner_threads, def.log_prints,
                          cancel);
      RunContext ctx;
      ctx.flow = &fctx;
      ctx.cancel = &cancel;
      ctx.log_prints = def.log_prints;
      ScopedContext scope(&ctx);
      try {
        call.run();
      } catch (...) {
        error = std::current_exception();
      }
      if (def.log_prints) flush_captured_prints();
      fctx.drain();  // submitted task runs finish before the flow run does
    }
    if (alarm) rt.watchdog().disarm(alarm);
    rt.cancellation_watcher().unwatch(run.id);
    bool timed_out = cancel->is_timed_out();
    if (timed_out && (!error || holds<TimeoutError>(error) || holds<CancelledError>(error)))
      error = std::make_exception_ptr(TimeoutError(cancel->why()));

    State proposed;
    if (!error) {
      proposed = State::completed();
      try {
        nlohmann::json result = call.result_json();
        if (def.persist_result) {
          rt.results().write(run.id, result, std::nullopt);
          proposed.result = {{"storage_key", run.id}};
        } else if (!result.is_null() && result.dump().size() <= 2048) {
          proposed.result = std::move(result);  // small results stay inline, readable by `inspect`
        }
      } catch (const Error&) {
        // A result that cannot be serialised is simply not recorded.
      }
    } else if (timed_out) {
      proposed = State::timed_out(exception_message(error));
    } else if (holds<CancelledError>(error)) {
      proposed = State::cancelled(exception_message(error));
    } else if (holds<std::exception>(error)) {
      proposed = State::failed(exception_message(error));
    } else {
      proposed = State::crashed("The flow body threw an exception not derived from std::exception");
    }
    r = client.set_flow_run_state(run.id, proposed);
    if (r.status == SetStateStatus::kReject && r.state.type == StateType::kCancelling) {
      // Cancelled from outside while running: Cancelling may only become Cancelled.
      r = client.set_flow_run_state(run.id,
                                    State::cancelled("The flow run was cancelled while running"));
      if (!error || !holds<CancelledError>(error))
        error = std::make_exception_ptr(CancelledError(r.state.message));
    }
    final_state = r.state;
    if (r.state.type == StateType::kScheduled && r.state.name == "AwaitingRetry" &&
        r.state.scheduled_time) {
      emit_log(30, run.id, {}, label,
               "Flow run failed: " + exception_message(error) + " - " + r.reason);
      sleep_until(*r.state.scheduled_time);
      continue;
    }
    break;
  }
  client.flush();

  const int level = final_state.type == StateType::kCompleted ? 20 : 40;
  emit_log(level, run.id, {}, label, "Finished in state " + describe(final_state));
  switch (final_state.type) {
    case StateType::kCompleted:
      run_hooks(def.on_completion, info, final_state, label);
      break;
    case StateType::kFailed:
      run_hooks(def.on_failure, info, final_state, label);
      break;
    case StateType::kCrashed:
      run_hooks(def.on_crashed, info, final_state, label);
      break;
    case StateType::kCancelled:
    case StateType::kCancelling:
      run_hooks(def.on_cancellation, info, final_state, label);
      break;
    default:
      break;
  }
  if (parent_task) {
    State mirror = final_state;
    mirror.timestamp = now();
    mirror.cache_key.clear();
    if (mirror.type == StateType::kCompleted) mirror.result = {{"flow_run_id", run.id}};
    if (parent_task->record.state.type != StateType::kRunning &&
        mirror.type != StateType::kCompleted)
      propose_task_state(parent_task->record, parent_task->has_state, State::running());
    propose_task_state(parent_task->record, parent_task->has_state, std::move(mirror));
  }
  if (rethrow) {
    if (error) std::rethrow_exception(error);
    if (final_state.type != StateType::kCompleted)
      throw std::runtime_error("flow run '" + run.name + "' ended in state " +
                               describe(final_state));
  }
  return final_state;
}

namespace {
std::mutex& registry_mutex() {
  static std::mutex m;
  return m;
}
std::map<std::string, RegisteredFlow>& registry() {
  static std::map<std::string, RegisteredFlow> flows;
  return flows;
}
}  // namespace

void register_flow(std::shared_ptr<const FlowDefinition> flow, FlowFactory factory) {
  std::lock_guard lock(registry_mutex());
  std::string name = flow->name;
  registry()[name] = RegisteredFlow{std::move(flow), std::move(factory)};
}

std::optional<RegisteredFlow> find_flow(const std::string& name) {
  std::lock_guard lock(registry_mutex());
  auto it = registry().find(name);
  if (it == registry().end()) return std::nullopt;
  return it->second;
}

std::vector<RegisteredFlow> registered_flows() {
  std::lock_guard lock(registry_mutex());
  std::vector<RegisteredFlow> out;
  for (const auto& [name, f] : registry()) out.push_back(f);
  return out;
}

}  // namespace baton::engine

namespace baton {

RetryDelay exponential_backoff(Seconds backoff_factor) {
  double factor = backoff_factor.count();
  return RetryDelay(std::function<std::vector<double>(int)>([factor](int retries) {
    return orchestration::exponential_backoff(factor, std::max(1, retries));
  }));
}

}  // namespace baton
