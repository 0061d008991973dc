// What Baton can store: values that convert to and from JSON.
//
// Task inputs and results, flow parameters and cached values cross process boundaries as JSON
// (nlohmann::json). A type is serialisable when nlohmann can convert it both ways: the built-in
// types, standard containers of them, and your own types with to_json/from_json (for example
// through NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE or BATON_PARAMS).
//
// This header also describes C++ types as JSON Schema (for a UI to render a flow's parameters) and
// validates a JSON value against the type it must become, with an error that names the field and
// the expected type:
//
//   validate_json<int>(nlohmann::json("abc"), "parameters.count");
//   // throws baton::Error(kInvalidArgument, "parameters.count: expected an integer, got a string",
//   //                     field "parameters.count")
//
// Thread-safety: stateless functions.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "baton/error.h"

// nlohmann-json before 3.11.3 does not convert std::optional; null stands for "no value".
#if NLOHMANN_JSON_VERSION_MAJOR == 3 &&  \
    (NLOHMANN_JSON_VERSION_MINOR < 11 || \
     (NLOHMANN_JSON_VERSION_MINOR == 11 && NLOHMANN_JSON_VERSION_PATCH < 3))
namespace nlohmann {
template <class T>
struct adl_serializer<std::optional<T>> {
  static void to_json(json& j, const std::optional<T>& v) {
    if (v) {
      j = *v;
    } else {
      j = nullptr;
    }
  }
  static void from_json(const json& j, std::optional<T>& v) {
    if (j.is_null()) {
      v.reset();
    } else {
      v = j.get<T>();
    }
  }
};
}  // namespace nlohmann
#endif

namespace baton {

// True when T converts to JSON and back. Caching and result persistence require it; the task
// options that need it are constrained on it, so a non-serialisable type fails at compile time.
template <class T>
concept JsonSerializable = std::is_void_v<T> ||
    (std::is_constructible_v<nlohmann::json, const std::remove_cvref_t<T>&>&&
         nlohmann::detail::has_from_json<nlohmann::json, std::remove_cvref_t<T>>::value);

namespace detail {
template <class T>
struct IsVector : std::false_type {};
template <class T, class A>
struct IsVector<std::vector<T, A>> : std::true_type {
  using value_type = T;
};
template <class T>
struct IsOptional : std::false_type {};
template <class T>
struct IsOptional<std::optional<T>> : std::true_type {
  using value_type = T;
};
template <class T>
struct IsStringMap : std::false_type {};
template <class V, class C, class A>
struct IsStringMap<std::map<std::string, V, C, A>> : std::true_type {
  using value_type = V;
};
template <class V, class H, class E, class A>
struct IsStringMap<std::unordered_map<std::string, V, H, E, A>> : std::true_type {
  using value_type = V;
};

// A BATON_PARAMS struct provides baton_params_schema(const T*) found by argument-dependent lookup.
template <class T>
concept HasParamsSchema = requires(const T* p) {
  { baton_params_schema(p) } -> std::convertible_to<nlohmann::json>;
};

inline std::string json_kind(const nlohmann::json& j) {
  switch (j.type()) {
    case nlohmann::json::value_t::null:
      return "null";
    case nlohmann::json::value_t::boolean:
      return "a boolean";
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned:
      return "an integer";
    case nlohmann::json::value_t::number_float:
      return "a number";
    case nlohmann::json::value_t::string:
      return "a string";
    case nlohmann::json::value_t::array:
      return "an array";
    case nlohmann::json::value_t::object:
      return "an object";
    default:
      return "a binary value";
  }
}
}  // namespace detail

// "integer", "string", "array of string", "object", ...: the JSON kind T expects, as a noun.
template <class T>
std::string json_type_noun() {
  using U = std::remove_cvref_t<T>;
  if constexpr (std::is_same_v<U, bool>) {
    return "boolean";
  } else if constexpr (std::is_integral_v<U>) {
    return "integer";
  } else if constexpr (std::is_floating_point_v<U>) {
    return "number";
  } else if constexpr (std::is_convertible_v<U, std::string> &&
                       std::is_constructible_v<U, std::string>) {
    return "string";
  } else if constexpr (detail::IsOptional<U>::value) {
    return json_type_noun<typename detail::IsOptional<U>::value_type>() + " or null";
  } else if constexpr (detail::IsVector<U>::value) {
    return "array of " + json_type_noun<typename detail::IsVector<U>::value_type>() + "s";
  } else if constexpr (detail::IsStringMap<U>::value) {
    return "object of " + json_type_noun<typename detail::IsStringMap<U>::value_type>() + "s";
  } else {
    return "object";
  }
}

// "an integer", "a string", "an array of strings", ...: how error messages name what T expects.
template <class T>
std::string json_type_name() {
  std::string noun = json_type_noun<T>();
  bool vowel = noun[0] == 'a' || noun[0] == 'i' || noun[0] == 'o';
  return (vowel ? "an " : "a ") + noun;
}

// A JSON Schema (draft 2020-12 subset) for T: what a UI needs to render a form for it.
template <class T>
nlohmann::json json_schema() {
  using U = std::remove_cvref_t<T>;
  if constexpr (std::is_same_v<U, bool>) {
    return {{"type", "boolean"}};
  } else if constexpr (std::is_integral_v<U>) {
    return {{"type", "integer"}};
  } else if constexpr (std::is_floating_point_v<U>) {
    return {{"type", "number"}};
  } else if constexpr (std::is_convertible_v<U, std::string> &&
                       std::is_constructible_v<U, std::string>) {
    return {{"type", "string"}};
  } else if constexpr (detail::IsOptional<U>::value) {
    return {
        {"anyOf", {json_schema<typename detail::IsOptional<U>::value_type>(), {{"type", "null"}}}}};
  } else if constexpr (detail::IsVector<U>::value) {
    return {{"type", "array"}, {"items", json_schema<typename detail::IsVector<U>::value_type>()}};
  } else if constexpr (detail::IsStringMap<U>::value) {
    return {{"type", "object"},
            {"additionalProperties", json_schema<typename detail::IsStringMap<U>::value_type>()}};
  } else if constexpr (detail::HasParamsSchema<U>) {
    return baton_params_schema(static_cast<const U*>(nullptr));
  } else {
    return {{"type", "object"}};
  }
}

// Checks that `j` has the JSON shape T needs (recursively, through containers), then converts.
// Throws baton::Error(kInvalidArgument) naming `field` and the expected type.
template <class T>
T from_json_checked(const nlohmann::json& j, const std::string& field);

template <class T>
void validate_json(const nlohmann::json& j, const std::string& field) {
  using U = std::remove_cvref_t<T>;
  auto fail = [&] {
    throw invalid_argument(field + ": expected " + json_type_name<U>() + ", got " +
                               detail::json_kind(j) +
                               (j.is_primitive() && !j.is_null() ? " (" + j.dump() + ")" : ""),
                           field);
  };
  if constexpr (std::is_same_v<U, bool>) {
    if (!j.is_boolean()) fail();
  } else if constexpr (std::is_integral_v<U>) {
    if (!j.is_number_integer()) {
      // 3.0 is an integer to a person filling in a form.
      if (!(j.is_number_float() &&
            j.get<double>() == static_cast<double>(static_cast<long long>(j.get<double>()))))
        fail();
    }
    if constexpr (std::is_unsigned_v<U>) {
      if (j.is_number_integer() && !j.is_number_unsigned() && j.get<long long>() < 0)
        throw invalid_argument(field + ": expected a non-negative integer, got " + j.dump(), field);
    }
  } else if constexpr (std::is_floating_point_v<U>) {
    if (!j.is_number()) fail();
  } else if constexpr (std::is_convertible_v<U, std::string> &&
                       std::is_constructible_v<U, std::string>) {
    if (!j.is_string()) fail();
  } else if constexpr (detail::IsOptional<U>::value) {
    if (j.is_null()) return;
    try {
      validate_json<typename detail::IsOptional<U>::value_type>(j, field);
    } catch (const Error& e) {
      if (e.field() == field) fail();  // name the optional type, not just the inner one
      throw;
    }
  } else if constexpr (detail::IsVector<U>::value) {
    if (!j.is_array()) fail();
    for (std::size_t i = 0; i < j.size(); ++i)
      validate_json<typename detail::IsVector<U>::value_type>(
          j[i], field + "[" + std::to_string(i) + "]");
  } else if constexpr (detail::IsStringMap<U>::value) {
    if (!j.is_object()) fail();
    for (auto it = j.begin(); it != j.end(); ++it)
      validate_json<typename detail::IsStringMap<U>::value_type>(it.value(),
                                                                 field + "." + it.key());
  } else if constexpr (detail::HasParamsSchema<U>) {
    if (!j.is_object()) fail();  // the struct's from_json checks each field
  }
}

template <class T>
T from_json_checked(const nlohmann::json& j, const std::string& field) {
  validate_json<T>(j, field);
  try {
    if constexpr (detail::HasParamsSchema<std::remove_cvref_t<T>>) {
      std::remove_cvref_t<T> value{};
      baton_params_from_json(j, value, field);
      return value;
    } else {
      return j.get<std::remove_cvref_t<T>>();
    }
  } catch (const nlohmann::json::exception& e) {
    throw invalid_argument(field + ": expected " + json_type_name<T>() + " (" + e.what() + ")",
                           field);
  }
}

}  // namespace baton
