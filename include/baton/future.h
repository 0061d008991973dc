// Future<T>: what task.submit() returns; FutureList<T>: what task.map() returns.
//
//   auto f = process.submit("c-1");       // runs on the flow's task runner
//   f.wait();                             // blocks until the run is final
//   State s = f.state();                  // Completed, Failed, Cached, TimedOut, ...
//   std::string v = f.result();           // the value, or rethrows the task's exception
//   auto g = report.submit(f);            // a future as an argument: a recorded dependency
//
// A Future is a cheap handle (one shared_ptr) to the run's shared state; copies refer to the same
// run. Thread-safety: every method may be called from any thread.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "baton/engine.h"
#include "baton/serialization.h"

namespace baton {

namespace detail {
// The part of a typed TaskCall that holds the result, so a Future<T> can read it without knowing
// the call's argument types.
template <class R>
class ResultHolder : public engine::TaskCall {
 public:
  const R& value() const { return *result_; }
  R& value() { return *result_; }
  nlohmann::json result_json() const override {
    if constexpr (JsonSerializable<R>) {
      return nlohmann::json(*result_);
    } else {
      throw invalid_argument("the result type of this task cannot be serialised to JSON", "result");
    }
  }
  void load_result(const nlohmann::json& value) override {
    if constexpr (JsonSerializable<R>) {
      result_.emplace(from_json_checked<R>(value, "result"));
    } else {
      throw invalid_argument("the result type of this task cannot be read from JSON", "result");
    }
  }

 protected:
  std::optional<R> result_;
};

template <>
class ResultHolder<void> : public engine::TaskCall {
 public:
  nlohmann::json result_json() const override { return nullptr; }
  void load_result(const nlohmann::json&) override {}
};
}  // namespace detail

template <class T>
class Future {
 public:
  using value_type = T;

  Future() = default;
  explicit Future(engine::TaskRunPtr run) : run_(std::move(run)) {}

  const std::string& task_run_id() const { return run_->id(); }
  const std::string& task_run_name() const { return run_->name(); }
  bool done() const { return run_->done(); }
  void wait() const { run_->wait(); }
  // Waits at most `timeout`; false when the run is not final yet.
  template <class Rep, class Period>
  bool wait_for(std::chrono::duration<Rep, Period> timeout) const {
    return run_->wait_for(std::chrono::duration_cast<Seconds>(timeout));
  }
  // The run's current state; its final state once done().
  State state() const { return run_->state(); }

  // Waits, then returns the result (a copy) or rethrows the exception that ended the run.
  T result() const {
    run_->wait();
    if (auto e = run_->error()) std::rethrow_exception(e);
    if constexpr (!std::is_void_v<T>)
      return static_cast<detail::ResultHolder<T>&>(run_->call()).value();
  }

  const engine::TaskRunPtr& handle() const { return run_; }
  explicit operator bool() const { return static_cast<bool>(run_); }

 private:
  engine::TaskRunPtr run_;
};

// The futures of one map() call, in input order.
template <class T>
class FutureList : public std::vector<Future<T>> {
 public:
  using std::vector<Future<T>>::vector;

  void wait() const {
    for (const auto& f : *this) f.wait();
  }
  // Every result in order; rethrows the first failure (in input order) after all are final.
  auto results() const {
    wait();
    if constexpr (std::is_void_v<T>) {
      for (const auto& f : *this) f.result();
    } else {
      std::vector<T> out;
      out.reserve(this->size());
      for (const auto& f : *this) out.push_back(f.result());
      return out;
    }
  }
  std::vector<State> states() const {
    std::vector<State> out;
    out.reserve(this->size());
    for (const auto& f : *this) out.push_back(f.state());
    return out;
  }
};

// Waits for every future given (futures or FutureLists).
template <class... Fs>
void wait(const Fs&... futures) {
  (futures.wait(), ...);
}

// Explicit dependencies without passing data: task.submit(baton::wait_for(f1, f2), args...) starts
// only after f1 and f2 are final (and fails as UpstreamFailed if one did not complete).
struct WaitFor {
  std::vector<engine::TaskRunPtr> runs;
};
template <class... Fs>
WaitFor wait_for(const Fs&... futures) {
  WaitFor w;
  auto add = [&w](const auto& f) {
    if constexpr (requires { f.handle(); }) {
      w.runs.push_back(f.handle());
    } else {
      for (const auto& each : f) w.runs.push_back(each.handle());
    }
  };
  (add(futures), ...);
  return w;
}

// A constant argument for map(): passed unchanged to every call instead of being iterated.
template <class T>
struct Unmapped {
  T value;
};
template <class T>
Unmapped<std::decay_t<T>> unmapped(T&& value) {
  return {std::forward<T>(value)};
}

}  // namespace baton
