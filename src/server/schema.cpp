#include "server/schema.h"

#include <algorithm>
#include <optional>

#include "baton/error.h"
#include "baton/state.h"
#include "model/ids.h"

namespace baton::server {

namespace {
using nlohmann::json;

constexpr std::string_view kRefPrefix = "#/components/schemas/";

std::string join(const std::string& field, const std::string& member) {
  return field.empty() ? member : field + "." + member;
}

std::string type_name(const json& v) {
  switch (v.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::boolean:
      return "boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
      return "integer";
    case json::value_t::number_float:
      return "number";
    case json::value_t::string:
      return "string";
    case json::value_t::array:
      return "array";
    case json::value_t::object:
      return "object";
    default:
      return "value";
  }
}

bool has_type(const json& v, std::string_view t) {
  if (t == "null") return v.is_null();
  if (t == "boolean") return v.is_boolean();
  if (t == "integer")
    return v.is_number_integer() ||
           (v.is_number_float() && v.get<double>() == static_cast<long long>(v.get<double>()));
  if (t == "number") return v.is_number();
  if (t == "string") return v.is_string();
  if (t == "array") return v.is_array();
  if (t == "object") return v.is_object();
  return false;
}

std::string describe_types(const json& types) {
  if (types.is_string()) return types.get<std::string>();
  std::string out;
  for (size_t i = 0; i < types.size(); ++i) {
    if (i) out += i + 1 == types.size() ? " or " : ", ";
    out += types[i].get<std::string>();
  }
  return out;
}
}  // namespace

json SchemaRegistry::add(const std::string& name, json schema) {
  schemas_[name] = std::move(schema);
  return json{{"$ref", std::string(kRefPrefix) + name}};
}

const json* SchemaRegistry::find(std::string_view name) const {
  auto it = schemas_.find(name);
  return it == schemas_.end() ? nullptr : &it->second;
}

json SchemaRegistry::components() const {
  json out = json::object();
  for (const auto& [name, s] : schemas_) out[name] = s;
  return out;
}

void SchemaRegistry::validate(const json& value, const json& s, const std::string& field) const {
  if (!s.is_object()) return;
  if (auto ref = s.find("$ref"); ref != s.end()) {
    std::string_view target = ref->get_ref<const std::string&>();
    const json* resolved = find(target.substr(std::min(target.size(), kRefPrefix.size())));
    if (!resolved)
      throw Error(ErrorKind::kInternal,
                  "schema reference " + std::string(target) + " is not registered");
    validate(value, *resolved, field);
    return;
  }
  if (auto any_of = s.find("anyOf"); any_of != s.end()) {
    // nullable(): a null is checked without throwing through the first alternative.
    if (value.is_null())
      for (const auto& alternative : *any_of)
        if (auto t = alternative.find("type"); t != alternative.end() && *t == "null") return;
    std::optional<Error> first;
    for (const auto& alternative : *any_of) {
      try {
        validate(value, alternative, field);
        return;
      } catch (const Error& e) {
        if (!first) first = e;
      }
    }
    if (first) throw *first;
  }
  // Written only for an error message: valid bodies, the common case, allocate nothing here.
  auto where = [&field] { return field.empty() ? std::string("the body") : "'" + field + "'"; };
  if (auto t = s.find("type"); t != s.end()) {
    bool ok = false;
    if (t->is_string())
      ok = has_type(value, t->get_ref<const std::string&>());
    else
      for (const auto& one : *t) ok = ok || has_type(value, one.get_ref<const std::string&>());
    if (!ok)
      throw invalid_argument(
          where() + " must be " + describe_types(*t) + ", got " + type_name(value), field);
  }
  if (value.is_null()) return;
  if (auto e = s.find("enum"); e != s.end()) {
    if (std::find(e->begin(), e->end(), value) == e->end()) {
      std::string allowed;
      for (const auto& v : *e) allowed += (allowed.empty() ? "" : ", ") + v.dump();
      throw invalid_argument(where() + " is " + value.dump() + "; expected one of " + allowed,
                             field);
    }
  }
  if (value.is_number()) {
    if (auto m = s.find("minimum"); m != s.end() && value.get<double>() < m->get<double>())
      throw invalid_argument(where() + " must be at least " + m->dump(), field);
    if (auto m = s.find("maximum"); m != s.end() && value.get<double>() > m->get<double>())
      throw invalid_argument(where() + " must be at most " + m->dump(), field);
  }
  if (value.is_string()) {
    const auto& text = value.get_ref<const std::string&>();
    if (auto m = s.find("minLength"); m != s.end() && text.size() < m->get<size_t>())
      throw invalid_argument(where() + " must have at least " + m->dump() + " characters", field);
    if (auto m = s.find("maxLength"); m != s.end() && text.size() > m->get<size_t>())
      throw invalid_argument(where() + " must have at most " + m->dump() + " characters", field);
    if (auto f = s.find("format"); f != s.end()) {
      if (*f == "uuid" && !is_uuid(text))
        throw invalid_argument(where() + " is '" + text + "', not a UUID", field);
      if (*f == "date-time") parse_time(text, field);
    }
  }
  if (value.is_array()) {
    if (auto m = s.find("minItems"); m != s.end() && value.size() < m->get<size_t>())
      throw invalid_argument(where() + " must have at least " + m->dump() + " items", field);
    if (auto m = s.find("maxItems"); m != s.end() && value.size() > m->get<size_t>())
      throw invalid_argument(where() + " must have at most " + m->dump() + " items", field);
    if (auto items = s.find("items"); items != s.end())
      for (size_t i = 0; i < value.size(); ++i)
        validate(value[i], *items, join(field, std::to_string(i)));
  }
  if (value.is_object()) {
    if (auto req = s.find("required"); req != s.end())
      for (const auto& name : *req)
        if (!value.contains(name.get_ref<const std::string&>()))
          throw invalid_argument("missing required member '" + name.get<std::string>() + "'",
                                 join(field, name.get<std::string>()));
    auto props = s.find("properties");
    for (const auto& [name, member] : value.items()) {
      if (props != s.end()) {
        if (auto p = props->find(name); p != props->end()) {
          validate(member, *p, join(field, name));
          continue;
        }
      }
      if (auto extra = s.find("additionalProperties");
          extra != s.end() && extra->is_boolean() && !extra->get<bool>())
        throw invalid_argument("unknown member '" + name + "'", join(field, name));
    }
  }
}

namespace schema {
namespace {
json with_description(json s, const std::string& description) {
  if (!description.empty()) s["description"] = description;
  return s;
}
}  // namespace

json string(std::string description) { return with_description({{"type", "string"}}, description); }
json uuid(std::string description) {
  return with_description({{"type", "string"}, {"format", "uuid"}}, description);
}
json date_time(std::string description) {
  return with_description({{"type", "string"}, {"format", "date-time"}}, description);
}
json integer(std::optional<long long> minimum, std::optional<long long> maximum) {
  json s{{"type", "integer"}};
  if (minimum) s["minimum"] = *minimum;
  if (maximum) s["maximum"] = *maximum;
  return s;
}
json number() { return {{"type", "number"}}; }
json boolean() { return {{"type", "boolean"}}; }
json any(std::string description) { return with_description(json::object(), description); }
json object_any(std::string description) {
  return with_description({{"type", "object"}}, description);
}
json array(json items) { return {{"type", "array"}, {"items", std::move(items)}}; }
json enumeration(std::vector<std::string> values, std::string description) {
  return with_description({{"type", "string"}, {"enum", values}}, description);
}
json nullable(json s) {
  if (s.contains("$ref"))
    return json{{"anyOf", json::array({s, {{"type", "null"}}})}, {"nullable", true}};
  auto t = s.find("type");
  if (t == s.end()) return s;
  if (t->is_string())
    *t = json::array({t->get<std::string>(), "null"});
  else if (std::find(t->begin(), t->end(), "null") == t->end())
    t->push_back("null");
  if (auto e = s.find("enum"); e != s.end()) e->push_back(nullptr);
  return s;
}
json object(json properties, std::vector<std::string> required, bool strict) {
  json s{{"type", "object"}, {"properties", std::move(properties)}};
  if (!required.empty()) s["required"] = required;
  if (strict) s["additionalProperties"] = false;
  return s;
}
}  // namespace schema

}  // namespace baton::server
