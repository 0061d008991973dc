// Tasks: ordinary C++ callables made into tracked, retryable, cacheable runs.
//
//   auto extract = baton::task("extract_data", [](const std::string& src) { return fetch(src); })
//                      .retries(3).retry_delay(baton::exponential_backoff(2s)).retry_jitter(0.2);
//   std::string raw = extract("s3://bucket");     // direct call: runs now on this thread,
//                                                 // returns the value, throws on final failure
//   baton::Future<std::string> f = extract.submit("s3://bucket");   // on the flow's task runner
//   auto fs = process.map(ids, baton::unmapped(config));            // one run per element
//
// Every call is a task run with a state history (Pending, Running, Completed / Failed / Cached /
// TimedOut, with AwaitingRetry and Retrying in between when it retries), recorded with the flow
// run it belongs to (tasks may also be called outside flows). A Future passed as an argument is a
// dependency: the run starts once it is final, receives its value, and records the link in its
// task_inputs.
//
// Options return a new Task (the original is unchanged), so a task can be specialised with_options
// style: `auto slow = extract.timeout(30s);`. A Task is a cheap handle (one shared_ptr) and is
// thread-safe to call from many threads at once.
//
// Caching (cache(), cache_key_fn(), cache_expiration()) needs the callable's arguments and result
// to be JSON-serialisable and its signature to be known (a function, or a lambda that is not
// generic); otherwise those options do not compile.
#pragma once

#include <cstddef>
#include <exception>
#include <functional>
#include <iterator>
#include <memory>
#include <new>
#include <ranges>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "baton/engine.h"
#include "baton/future.h"
#include "baton/serialization.h"

namespace baton {

namespace detail {

// The signature of a callable whose operator() is not overloaded or templated; empty otherwise.
template <class F>
struct CallableTraits {};
template <class F>
requires requires { &std::remove_cvref_t<F>::operator(); }
struct CallableTraits<F> : CallableTraits<decltype(&std::remove_cvref_t<F>::operator())> {};
template <class R, class... A>
struct CallableTraits<R (*)(A...)> {
  using result = R;
  using args = std::tuple<std::remove_cvref_t<A>...>;
  static constexpr std::size_t arity = sizeof...(A);
};
template <class R, class... A>
struct CallableTraits<R (*)(A...) noexcept> : CallableTraits<R (*)(A...)> {};
template <class R, class... A>
struct CallableTraits<R(A...)> : CallableTraits<R (*)(A...)> {};
#define BATON_DETAIL_MEMBER_TRAITS(qualifiers) \
  template <class C, class R, class... A>      \
  struct CallableTraits<R (C::*)(A...) qualifiers> : CallableTraits<R (*)(A...)> {};
BATON_DETAIL_MEMBER_TRAITS()
BATON_DETAIL_MEMBER_TRAITS(const)
BATON_DETAIL_MEMBER_TRAITS(noexcept)
BATON_DETAIL_MEMBER_TRAITS(const noexcept)
#undef BATON_DETAIL_MEMBER_TRAITS

template <class F>
concept HasKnownSignature = requires {
  typename CallableTraits<F>::result;
};

template <class Tuple>
struct AllSerializable;
template <class... A>
struct AllSerializable<std::tuple<A...>> : std::bool_constant<(JsonSerializable<A> && ...)> {};

// A task can be cached when its signature is known and every argument and the result convert to
// and from JSON.
template <class F>
concept CacheableCallable =
    HasKnownSignature<F> && JsonSerializable<typename CallableTraits<F>::result> &&
    AllSerializable<typename CallableTraits<F>::args>::value;

template <class T>
struct IsFuture : std::false_type {};
template <class T>
struct IsFuture<Future<T>> : std::true_type {
  using value_type = T;
};

template <class T>
struct IsUnmapped : std::false_type {};
template <class T>
struct IsUnmapped<Unmapped<T>> : std::true_type {};

// What the body receives for a stored argument: the upstream value for a future, else the
// argument itself (as an lvalue, so that a retry can call the body again).
template <class S>
decltype(auto) resolve_arg(S& stored) {
  using D = std::remove_cvref_t<S>;
  if constexpr (IsFuture<D>::value) {
    using U = typename IsFuture<D>::value_type;
    static_assert(!std::is_void_v<U>,
                  "a Future<void> cannot be passed as an argument; use baton::wait_for");
    return static_cast<const U&>(static_cast<ResultHolder<U>&>(stored.handle()->call()).value());
  } else {
    return static_cast<S&>(stored);
  }
}
template <class S>
using resolved_t = decltype(resolve_arg(std::declval<S&>()));

template <class F, class... S>
using task_result_t = std::invoke_result_t<const F&, resolved_t<S>...>;

inline std::string arg_name(const std::vector<std::string>& names, std::size_t i) {
  return i < names.size() ? names[i] : std::to_string(i);
}

// A task's definition plus its callable: one allocation shared by the Task handle and its calls.
template <class F>
struct TypedTaskDefinition : engine::TaskDefinition {
  explicit TypedTaskDefinition(F f) : fn(std::move(f)) {}
  F fn;
};

// One call of a typed task. `Stored` are the argument types as kept by the call: values for
// submit/map (copied in), lvalue references for a direct call (the caller's arguments outlive it).
template <class F, class... Stored>
class TypedTaskCall final : public ResultHolder<task_result_t<F, Stored...>> {
 public:
  using Result = task_result_t<F, Stored...>;

  // `def` must outlive the call: the engine's run holds the definition for as long as its call.
  template <class... A>
  TypedTaskCall(const TypedTaskDefinition<F>& def, A&&... args)
      : def_(&def), args_(std::forward<A>(args)...) {}

  // Submitted calls live as long as their run's handle: allocated as the handles are.
  static void* operator new(std::size_t size) { return engine::allocate_call_memory(size); }
  static void operator delete(void* block, std::size_t size) noexcept {
    engine::free_call_memory(block, size);
  }
  // Over-aligned arguments: the ordinary aligned allocation.
  static void* operator new(std::size_t size, std::align_val_t align) {
    return ::operator new(size, align);
  }
  static void operator delete(void* block, std::size_t size, std::align_val_t align) noexcept {
    ::operator delete(block, size, align);
  }

  void run() override {
    std::apply(
        [this](auto&... a) {
          if constexpr (std::is_void_v<Result>) {
            std::invoke(def_->fn, resolve_arg(a)...);
          } else {
            this->result_.emplace(std::invoke(def_->fn, resolve_arg(a)...));
          }
        },
        args_);
  }

  nlohmann::json inputs() const override {
    nlohmann::json out = nlohmann::json::object();
    add_inputs(out, std::index_sequence_for<Stored...>{});
    return out;
  }

 private:
  template <std::size_t... I>
  void add_inputs(nlohmann::json& out, std::index_sequence<I...>) const {
    (add_input(out, arg_name(def_->arg_names, I), std::get<I>(args_)), ...);
  }
  template <class S>
  static void add_input(nlohmann::json& out, const std::string& name, S& stored) {
    using V = std::remove_cvref_t<resolved_t<S>>;
    if constexpr (JsonSerializable<V>) {
      out[name] = nlohmann::json(resolve_arg(stored));
    } else {
      throw invalid_argument(
          "argument '" + name + "' cannot be serialised to JSON (needed for the cache key)",
          "inputs." + name);
    }
  }

  const TypedTaskDefinition<F>* def_;
  mutable std::tuple<Stored...> args_;
};

template <class S>
void add_dependency(std::vector<engine::Dependency>& deps, const std::vector<std::string>& names,
                    std::size_t i, const S& arg) {
  if constexpr (IsFuture<std::remove_cvref_t<S>>::value)
    deps.push_back({arg_name(names, i), arg.handle()});
}

template <class T>
concept MapRange =
    std::ranges::sized_range<const T> && !std::is_convertible_v<const T&, std::string>;

}  // namespace detail

template <class F>
class Task {
 public:
  Task(std::string name, F fn)
      : def_(std::make_shared<detail::TypedTaskDefinition<F>>(std::move(fn))) {
    def_->name = std::move(name);
  }

  const std::string& name() const { return def_->name; }
  const engine::TaskDefinition& definition() const { return *def_; }

  // --- calling ---------------------------------------------------------------------------------

  // Runs now on this thread; returns the result or throws the final exception (after retries).
  template <class... A>
  auto operator()(A&&... args) const {
    using Call = detail::TypedTaskCall<F, std::remove_reference_t<A>&...>;
    using R = typename Call::Result;
    Call call(*def_, args...);
    std::vector<engine::Dependency> deps;
    collect_deps(deps, std::index_sequence_for<A...>{}, args...);
    engine::run_task(def_, call, std::move(deps));
    if constexpr (!std::is_void_v<R>) return std::move(call.value());
  }

  // Queues the call on the current flow run's task runner and returns its future at once.
  template <class... A>
  auto submit(A&&... args) const {
    return submit_impl(WaitFor{}, std::forward<A>(args)...);
  }
  // As submit, starting only after every future in `wait` is final.
  template <class... A>
  auto submit(WaitFor wait, A&&... args) const {
    return submit_impl(std::move(wait), std::forward<A>(args)...);
  }

  // One run per element. Each argument is a sized range (iterated in lockstep; all must have the
  // same length) or baton::unmapped(value) (passed to every call). Ranges of futures work: each
  // run depends on its element's future.
  template <class... A>
  auto map(const A&... args) const {
    static_assert(((detail::MapRange<A> || detail::IsUnmapped<A>::value) && ...),
                  "every map() argument must be a sized range; wrap constants (strings too) in "
                  "baton::unmapped()");
    using R = detail::task_result_t<F, std::remove_cvref_t<decltype(map_element(args, 0))>...>;
    std::size_t n = map_size(args...);
    FutureList<R> out;
    out.reserve(n);
    auto its = std::make_tuple(map_begin(args)...);
    engine::SubmitBatch batch;
    for (std::size_t i = 0; i < n; ++i) {
      std::apply(
          [&](auto&... it) { out.push_back(submit_impl(WaitFor{}, map_deref(args, it)...)); }, its);
      std::apply([](auto&... it) { (map_advance(it), ...); }, its);
    }
    return out;
  }

  // --- options (each returns a new Task) -------------------------------------------------------

  Task version(std::string v) const {
    return with([&](auto& d) { d.version = std::move(v); });
  }
  Task description(std::string v) const {
    return with([&](auto& d) { d.description = std::move(v); });
  }
  Task tags(std::vector<std::string> v) const {
    return with([&](auto& d) { d.tags = std::move(v); });
  }
  // Names for the arguments, used in inputs, cache keys and name templates ("0", "1", ...
  // otherwise).
  Task arg_names(std::vector<std::string> v) const {
    return with([&](auto& d) { d.arg_names = std::move(v); });
  }
  // A template over the arguments, e.g. "fetch-{url}" or "fetch-{0}".
  Task task_run_name(std::string v) const {
    return with([&](auto& d) { d.task_run_name = std::move(v); });
  }
  Task retries(int n) const {
    return with([&](auto& d) { d.retries = n < 0 ? 0 : n; });
  }
  Task retry_delay(RetryDelay v) const {
    return with([&](auto& d) { d.retry_delay = std::move(v); });
  }
  // Each delay is multiplied by a random factor in [1 - j, 1 + j].
  Task retry_jitter(double j) const {
    return with([&](auto& d) { d.retry_jitter_factor = j; });
  }
  // Retry only when `fn(exception)` says so; exceptions not derived from std::exception retry.
  template <class P>
  requires std::is_invocable_r_v<bool, const P&, const std::exception&> Task retry_condition(P fn)
  const {
    return with([&](auto& d) {
      d.retry_condition = [fn = std::move(fn)](std::exception_ptr e) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          return static_cast<bool>(fn(ex));
        } catch (...) {
          return true;
        }
      };
    });
  }
  template <class Rep, class Period>
  Task timeout(std::chrono::duration<Rep, Period> t) const {
    return with([&](auto& d) { d.timeout = std::chrono::duration_cast<Seconds>(t); });
  }
  // Cache results under a key from the task's identity (name, version) and its inputs. A call with
  // a valid cached value ends Cached without running the body, also in a later process.
  Task cache() const requires detail::CacheableCallable<F> {
    return with([](auto& d) { d.cache = true; });
  }
  // Cache under the key `fn(inputs)` computes from the inputs (a JSON object by argument name).
  Task cache_key_fn(std::function<std::string(const nlohmann::json& inputs)> fn)
      const requires detail::CacheableCallable<F> {
    return with([&](auto& d) {
      d.cache = true;
      d.cache_key_fn = std::move(fn);
    });
  }
  template <class Rep, class Period>
  Task cache_expiration(
      std::chrono::duration<Rep, Period> t) const requires detail::CacheableCallable<F> {
    return with([&](auto& d) {
      d.cache = true;
      d.cache_expiration = std::chrono::duration_cast<Seconds>(t);
    });
  }
  // Run the body even when a cached value exists, and overwrite it.
  Task refresh_cache(bool on = true) const requires detail::CacheableCallable<F> {
    return with([&](auto& d) { d.refresh_cache = on; });
  }
  // Ends every cache entry of this task (all inputs, earlier program runs included): the calls
  // from then on run the body and cache anew. Returns how many cache keys ended. To end the entry
  // of one cache key, baton::clear_cache(key).
  int64_t clear_cache() const { return engine::clear_task_cache(def_->task_key()); }
  // Write every result to the result store ($BATON_HOME/storage), referenced from its state.
  Task persist_result(bool on = true) const requires detail::CacheableCallable<F> {
    return with([&](auto& d) { d.persist_result = on; });
  }
  // Lines the body writes to std::cout / std::cerr become log lines of the run (see logger.h).
  Task log_prints(bool on = true) const {
    return with([&](auto& d) { d.log_prints = on; });
  }
  Task on_completion(StateHook h) const {
    return with([&](auto& d) { d.on_completion.push_back(std::move(h)); });
  }
  Task on_failure(StateHook h) const {
    return with([&](auto& d) { d.on_failure.push_back(std::move(h)); });
  }

 private:
  using Def = detail::TypedTaskDefinition<F>;
  explicit Task(std::shared_ptr<Def> def) : def_(std::move(def)) {}

  template <class Edit>
  Task with(Edit&& edit) const {
    auto copy = std::make_shared<Def>(*def_);
    edit(*copy);
    return Task(std::move(copy));
  }

  template <std::size_t... I, class... A>
  void collect_deps(std::vector<engine::Dependency>& deps, std::index_sequence<I...>,
                    const A&... args) const {
    (detail::add_dependency(deps, def_->arg_names, I, args), ...);
  }

  template <class... A>
  auto submit_impl(WaitFor wait, A&&... args) const {
    using Call = detail::TypedTaskCall<F, std::decay_t<A>...>;
    using R = typename Call::Result;
    std::vector<engine::Dependency> deps;
    collect_deps(deps, std::index_sequence_for<A...>{}, args...);
    for (auto& run : wait.runs) deps.push_back({"wait_for", std::move(run)});
    auto call = std::make_unique<Call>(*def_, std::forward<A>(args)...);
    return Future<R>(engine::submit_task(def_, std::move(call), std::move(deps)));
  }

  template <class A>
  static std::size_t map_size_of(const A& a) {
    if constexpr (detail::IsUnmapped<A>::value) {
      return static_cast<std::size_t>(-1);
    } else {
      return static_cast<std::size_t>(std::ranges::size(a));
    }
  }
  template <class... A>
  static std::size_t map_size(const A&... args) {
    std::size_t n = static_cast<std::size_t>(-1);
    bool mismatch = false;
    auto take = [&](std::size_t s) {
      if (s == static_cast<std::size_t>(-1)) return;
      if (n != static_cast<std::size_t>(-1) && n != s) mismatch = true;
      if (n == static_cast<std::size_t>(-1)) n = s;
    };
    (take(map_size_of(args)), ...);
    if (mismatch)
      throw invalid_argument("map(): every iterated argument must have the same length", "map");
    if (n == static_cast<std::size_t>(-1))
      throw invalid_argument(
          "map(): at least one argument must be a range to iterate (all were unmapped)", "map");
    return n;
  }
  template <class A>
  static auto map_begin(const A& a) {
    if constexpr (detail::IsUnmapped<A>::value) {
      return 0;
    } else {
      return std::ranges::begin(a);
    }
  }
  template <class A, class It>
  static decltype(auto) map_deref(const A& a, It& it) {
    if constexpr (detail::IsUnmapped<A>::value) {
      return (a.value);
    } else {
      return *it;
    }
  }
  template <class It>
  static void map_advance(It& it) {
    if constexpr (!std::is_same_v<It, int>) ++it;
  }
  template <class A>
  static decltype(auto) map_element(const A& a, int) {
    if constexpr (detail::IsUnmapped<A>::value) {
      return (a.value);
    } else {
      return *std::ranges::begin(a);
    }
  }

  std::shared_ptr<Def> def_;
};

// Makes `fn` a task named `name`.
template <class F>
Task<std::decay_t<F>> task(std::string name, F&& fn) {
  return Task<std::decay_t<F>>(std::move(name), std::forward<F>(fn));
}

// Ends the cache entry under `cache_key` (as `baton task-run inspect` shows it, or as a
// cache_key_fn makes it): the calls from then on that compute this key run their bodies. Returns
// 1 when the key had an unexpired entry, else 0.
inline int64_t clear_cache(const std::string& cache_key) {
  return engine::clear_cache_key(cache_key);
}

}  // namespace baton
