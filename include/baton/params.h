// Typed flow parameters: a plain struct plus one macro.
//
//   struct EtlParams {
//     std::string source = "s3://bucket/raw";
//     std::vector<std::string> customer_ids;
//     int batch_size = 100;
//   };
//   BATON_PARAMS(EtlParams, source, customer_ids, batch_size)   // at namespace scope, after the
//   struct
//
// The macro generates, for the struct:
//   - to_json / from_json (so nlohmann::json converts it both ways);
//   - validation when reading: a field of the wrong JSON type or an unknown field throws
//     baton::Error(kInvalidArgument) whose message and field() name the field
//     ("parameters.batch_size") and the expected type ("expected an integer, got a string"); a
//     missing field keeps the struct's default;
//   - a JSON Schema (baton::params_schema<EtlParams>()) with each field's type and default, which
//     Baton stores with the flow so that a UI can render a form for it.
//
// Up to 63 fields. Fields may be any serialisable type, including other BATON_PARAMS structs.
#pragma once

#include <initializer_list>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "baton/serialization.h"

namespace baton {

// The JSON Schema of a parameter type: an object schema for BATON_PARAMS structs.
template <class T>
nlohmann::json params_schema() {
  return json_schema<T>();
}

namespace detail {
inline std::string params_field_path(const std::string& prefix, const char* name) {
  return prefix.empty() ? std::string(name) : prefix + "." + name;
}

// Rejects keys the struct does not have, so that a misspelt parameter is not silently ignored.
inline void check_known_fields(const nlohmann::json& j, std::initializer_list<const char*> known,
                               const std::string& prefix, const char* type_name) {
  if (!j.is_object())
    throw invalid_argument((prefix.empty() ? std::string(type_name) : prefix) +
                               ": expected an object, got " + json_kind(j),
                           prefix);
  for (auto it = j.begin(); it != j.end(); ++it) {
    bool found = false;
    for (const char* k : known) found = found || it.key() == k;
    if (found) continue;
    std::string expected;
    for (const char* k : known) expected += (expected.empty() ? "" : ", ") + std::string(k);
    throw invalid_argument(params_field_path(prefix, it.key().c_str()) + ": unknown parameter of " +
                               type_name + "; expected one of: " + expected,
                           params_field_path(prefix, it.key().c_str()));
  }
}
}  // namespace detail
}  // namespace baton

#define BATON_PARAMS_DETAIL_NAME(field) #field,
#define BATON_PARAMS_DETAIL_TO_JSON(field) j[#field] = v.field;
#define BATON_PARAMS_DETAIL_FROM_JSON(field)                 \
  if (auto it = j.find(#field); it != j.end())               \
    v.field = ::baton::from_json_checked<decltype(v.field)>( \
        *it, ::baton::detail::params_field_path(prefix, #field));
#define BATON_PARAMS_DETAIL_SCHEMA(field)                      \
  {                                                            \
    auto s = ::baton::json_schema<decltype(defaults.field)>(); \
    s["default"] = defaults.field;                             \
    s["title"] = #field;                                       \
    props[#field] = std::move(s);                              \
  }

#define BATON_PARAMS(Type, ...)                                                                \
  [[maybe_unused]] inline void baton_params_from_json(const nlohmann::json& j, Type& v,        \
                                                      const std::string& prefix) {             \
    ::baton::detail::check_known_fields(                                                       \
        j, {NLOHMANN_JSON_EXPAND(NLOHMANN_JSON_PASTE(BATON_PARAMS_DETAIL_NAME, __VA_ARGS__))}, \
        prefix, #Type);                                                                        \
    NLOHMANN_JSON_EXPAND(NLOHMANN_JSON_PASTE(BATON_PARAMS_DETAIL_FROM_JSON, __VA_ARGS__))      \
  }                                                                                            \
  [[maybe_unused]] inline void to_json(nlohmann::json& j, const Type& v) {                     \
    j = nlohmann::json::object();                                                              \
    NLOHMANN_JSON_EXPAND(NLOHMANN_JSON_PASTE(BATON_PARAMS_DETAIL_TO_JSON, __VA_ARGS__))        \
  }                                                                                            \
  [[maybe_unused]] inline void from_json(const nlohmann::json& j, Type& v) {                   \
    baton_params_from_json(j, v, std::string());                                               \
  }                                                                                            \
  [[maybe_unused]] inline nlohmann::json baton_params_schema(const Type*) {                    \
    const Type defaults{};                                                                     \
    nlohmann::json props = nlohmann::json::object();                                           \
    NLOHMANN_JSON_EXPAND(NLOHMANN_JSON_PASTE(BATON_PARAMS_DETAIL_SCHEMA, __VA_ARGS__))         \
    return {{"title", #Type},                                                                  \
            {"type", "object"},                                                                \
            {"properties", std::move(props)},                                                  \
            {"additionalProperties", false}};                                                  \
  }
