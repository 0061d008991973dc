// Flows: C++ callables that call tasks and other flows, each call a tracked flow run.
//
//   struct EtlParams { std::string source; std::vector<std::string> customer_ids; };
//   BATON_PARAMS(EtlParams, source, customer_ids)
//
//   auto etl = baton::flow("etl_pipeline", [](const EtlParams& p) {
//     auto raw = extract(p.source);            // a task run of this flow run
//     return process.map(p.customer_ids).results();
//   }).retries(1).timeout(10min).flow_run_name("etl-{source}");
//
//   auto out = etl(EtlParams{"s3://bucket", {"c1", "c2"}});   // runs now; throws on failure
//
// A flow takes no arguments or one parameter struct (anything serialisable; BATON_PARAMS structs
// also get validation and a JSON Schema). A flow called inside another flow is a subflow: a child
// run linked to its parent through a task run of the parent (parent_task_run_id). Submitted tasks
// run on the flow run's own thread pool (task_runner), which the flow drains before it finishes.
//
// Flow-run transitions are decided by the orchestration rules (set synchronously through the
// orchestration client): a rejected start (e.g. the run was cancelled) does not run the body; a
// failure with retries left comes back AwaitingRetry and the body runs again, as Retrying.
//
// Creating a flow registers it by name (later definitions with the same name replace earlier ones)
// so that baton::main() can run a flow run created elsewhere. Thread-safety: a Flow may be called
// from several threads at once; each call is its own run.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "baton/engine.h"
#include "baton/params.h"
#include "baton/serialization.h"
#include "baton/task.h"

namespace baton {

// The default task runner: a thread pool per flow run. max_workers 0 means one per core.
struct ThreadPoolTaskRunner {
  int max_workers = 0;
};

namespace detail {

template <class F, std::size_t Arity = CallableTraits<F>::arity>
struct FlowParams {
  static_assert(Arity <= 1, "a flow takes no arguments or one parameter struct");
};
template <class F>
struct FlowParams<F, 0> {
  using type = void;
};
template <class F>
struct FlowParams<F, 1> {
  using type = std::tuple_element_t<0, typename CallableTraits<F>::args>;
};

template <class F>
struct TypedFlowDefinition : engine::FlowDefinition {
  explicit TypedFlowDefinition(F f) : fn(std::move(f)) {}
  F fn;
};

template <class F>
using flow_result_t = typename CallableTraits<F>::result;

// What both TypedFlowCall forms share: the definition, calling it, and holding its result.
template <class F>
class TypedFlowCallBase : public engine::FlowCall {
 public:
  using R = flow_result_t<F>;

  nlohmann::json result_json() const override {
    if constexpr (std::is_void_v<R>) {
      return nullptr;
    } else if constexpr (JsonSerializable<R>) {
      return nlohmann::json(*result_);
    } else {
      throw invalid_argument("the flow's result cannot be serialised to JSON", "result");
    }
  }
  R take_result() {
    if constexpr (!std::is_void_v<R>) return std::move(*result_);
  }

 protected:
  explicit TypedFlowCallBase(std::shared_ptr<const TypedFlowDefinition<F>> def)
      : def_(std::move(def)) {}

  // Runs the flow's function with `args`, keeping what it returns.
  template <class... A>
  void invoke(A&... args) {
    if constexpr (std::is_void_v<R>) {
      def_->fn(args...);
    } else {
      result_.emplace(def_->fn(args...));
    }
  }

  std::shared_ptr<const TypedFlowDefinition<F>> def_;

 private:
  std::conditional_t<std::is_void_v<R>, int, std::optional<R>> result_{};
};

template <class F, class P>
class TypedFlowCall final : public TypedFlowCallBase<F> {
 public:
  explicit TypedFlowCall(std::shared_ptr<const TypedFlowDefinition<F>> def)
      : TypedFlowCallBase<F>(std::move(def)) {}
  TypedFlowCall(std::shared_ptr<const TypedFlowDefinition<F>> def, P params)
      : TypedFlowCallBase<F>(std::move(def)), params_(std::move(params)) {}

  nlohmann::json parameters() const override {
    nlohmann::json j = *params_;
    if (!j.is_object()) return {{"value", std::move(j)}};
    return j;
  }
  void set_parameters(const nlohmann::json& params) override {
    if constexpr (requires(const P* p) { baton_params_schema(p); }) {
      params_.emplace(from_json_checked<P>(params, "parameters"));
    } else {
      auto it = params.find("value");
      params_.emplace(from_json_checked<P>(params.is_object() && it != params.end() ? *it : params,
                                           "parameters"));
    }
  }
  void run() override { this->invoke(*params_); }

 private:
  std::optional<P> params_;
};

template <class F>
class TypedFlowCall<F, void> final : public TypedFlowCallBase<F> {
 public:
  explicit TypedFlowCall(std::shared_ptr<const TypedFlowDefinition<F>> def)
      : TypedFlowCallBase<F>(std::move(def)) {}

  nlohmann::json parameters() const override { return nlohmann::json::object(); }
  void set_parameters(const nlohmann::json& params) override {
    if (!params.is_null() && !(params.is_object() && params.empty()))
      throw invalid_argument(
          "parameters: flow '" + this->def_->name + "' takes no parameters, got " + params.dump(),
          "parameters");
  }
  void run() override { this->invoke(); }
};

}  // namespace detail

template <class F>
class Flow {
 public:
  static_assert(detail::HasKnownSignature<F>, "a flow must be a function or a non-generic lambda");
  using Params = std::remove_cvref_t<typename detail::FlowParams<F>::type>;
  using Result = detail::flow_result_t<F>;
  static_assert(std::is_void_v<Params> || JsonSerializable<Params>,
                "a flow's parameter type must convert to and from JSON (use BATON_PARAMS)");

  Flow(std::string name, F fn) : def_(std::make_shared<Def>(std::move(fn))) {
    def_->name = std::move(name);
    if constexpr (!std::is_void_v<Params>) def_->parameter_schema = params_schema<Params>();
    register_self();
  }

  const std::string& name() const { return def_->name; }
  const engine::FlowDefinition& definition() const { return *def_; }
  // The JSON Schema of the parameters (an empty object schema for a flow without parameters).
  const nlohmann::json& parameter_schema() const { return def_->parameter_schema; }

  // Runs the flow now on this thread (a subflow when called inside a flow). Returns the body's
  // result, or throws its exception when the run ends Failed / TimedOut / Cancelled / Crashed.
  template <class... P>
  requires(sizeof...(P) == (std::is_void_v<Params> ? 0 : 1)) Result operator()(
      P&&... params) const {
    if constexpr (std::is_void_v<Params>) {
      detail::TypedFlowCall<F, void> call(def_);
      engine::run_flow(def_, call);
      return call.take_result();
    } else {
      detail::TypedFlowCall<F, Params> call(def_, Params(std::forward<P>(params)...));
      engine::run_flow(def_, call);
      return call.take_result();
    }
  }

  // As operator(), but returns the run's final state instead of throwing; `result` (when not
  // null) receives the result of a completed run.
  template <class... P>
  requires(sizeof...(P) == (std::is_void_v<Params> ? 0 : 1)) State run_state(P&&... params)
  const {
    if constexpr (std::is_void_v<Params>) {
      detail::TypedFlowCall<F, void> call(def_);
      return engine::run_flow(def_, call, {}, false);
    } else {
      detail::TypedFlowCall<F, Params> call(def_, Params(std::forward<P>(params)...));
      return engine::run_flow(def_, call, {}, false);
    }
  }

  // --- options (each returns a new Flow, registered under the same name) -----------------------

  Flow version(std::string v) const {
    return with([&](auto& d) { d.version = std::move(v); });
  }
  Flow description(std::string v) const {
    return with([&](auto& d) { d.description = std::move(v); });
  }
  Flow tags(std::vector<std::string> v) const {
    return with([&](auto& d) { d.tags = std::move(v); });
  }
  // A template over the parameters, e.g. "etl-{source}"; default: a generated "adjective-animal".
  Flow flow_run_name(std::string v) const {
    return with([&](auto& d) { d.flow_run_name = std::move(v); });
  }
  Flow retries(int n) const {
    return with([&](auto& d) { d.retries = n < 0 ? 0 : n; });
  }
  template <class Rep, class Period>
  Flow retry_delay(std::chrono::duration<Rep, Period> t) const {
    return with([&](auto& d) { d.retry_delay = std::chrono::duration_cast<Seconds>(t); });
  }
  template <class Rep, class Period>
  Flow timeout(std::chrono::duration<Rep, Period> t) const {
    return with([&](auto& d) { d.timeout = std::chrono::duration_cast<Seconds>(t); });
  }
  Flow task_runner(ThreadPoolTaskRunner r) const {
    return with([&](auto& d) { d.task_runner_threads = r.max_workers; });
  }
  Flow log_prints(bool on = true) const {
    return with([&](auto& d) { d.log_prints = on; });
  }
  Flow persist_result(bool on = true) const requires JsonSerializable<Result> {
    return with([&](auto& d) { d.persist_result = on; });
  }
  Flow on_completion(StateHook h) const {
    return with([&](auto& d) { d.on_completion.push_back(std::move(h)); });
  }
  Flow on_failure(StateHook h) const {
    return with([&](auto& d) { d.on_failure.push_back(std::move(h)); });
  }
  Flow on_crashed(StateHook h) const {
    return with([&](auto& d) { d.on_crashed.push_back(std::move(h)); });
  }
  Flow on_cancellation(StateHook h) const {
    return with([&](auto& d) { d.on_cancellation.push_back(std::move(h)); });
  }
  Flow on_running(StateHook h) const {
    return with([&](auto& d) { d.on_running.push_back(std::move(h)); });
  }

 private:
  using Def = detail::TypedFlowDefinition<F>;
  explicit Flow(std::shared_ptr<Def> def) : def_(std::move(def)) { register_self(); }

  template <class Edit>
  Flow with(Edit&& edit) const {
    auto copy = std::make_shared<Def>(*def_);
    edit(*copy);
    return Flow(std::move(copy));
  }

  void register_self() const {
    std::shared_ptr<const Def> def = def_;
    engine::register_flow(def, [def]() -> std::unique_ptr<engine::FlowCall> {
      return std::make_unique<detail::TypedFlowCall<F, Params>>(def);
    });
  }

  std::shared_ptr<Def> def_;
};

// Makes `fn` a flow named `name` and registers it under that name.
template <class F>
Flow<std::decay_t<F>> flow(std::string name, F&& fn) {
  return Flow<std::decay_t<F>>(std::move(name), std::forward<F>(fn));
}

}  // namespace baton
