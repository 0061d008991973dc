// JSON Schema (a small subset) used twice from one definition: to validate request bodies and to
// describe them in /api/openapi.json.
//
// Supported keywords: type (a name or a list of names, "null" included), properties, required,
// additionalProperties (false only), items, enum, minimum, maximum, minLength, maxLength,
// minItems, maxItems, format ("uuid", "date-time"), default and description (documentation only),
// and $ref to "#/components/schemas/<Name>" resolved through a SchemaRegistry.
//
// validate() throws baton::Error (invalid_argument → HTTP 422) whose field names the offending
// member as a dotted path ("state.type", "tags.2") and whose message says what was expected.
//
// Thread-safety: a registry is built once at start-up and only read afterwards; reads are safe
// from any thread.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>

namespace baton::server {

class SchemaRegistry {
 public:
  // Registers a named schema; returns {"$ref": "#/components/schemas/<name>"} to use in others.
  nlohmann::json add(const std::string& name, nlohmann::json schema);
  const nlohmann::json* find(std::string_view name) const;
  // {"<name>": schema, ...} for OpenAPI's components.schemas.
  nlohmann::json components() const;

  // Throws invalid_argument naming the first member of `value` that does not fit `schema`.
  // `field` is the path of `value` itself ("" for a whole body).
  void validate(const nlohmann::json& value, const nlohmann::json& schema,
                const std::string& field = {}) const;

 private:
  std::map<std::string, nlohmann::json, std::less<>> schemas_;
};

// Schema-building shorthands, so route tables read as declarations.
namespace schema {
nlohmann::json string(std::string description = {});
nlohmann::json uuid(std::string description = {});
nlohmann::json date_time(std::string description = {});
nlohmann::json integer(std::optional<long long> minimum = std::nullopt,
                       std::optional<long long> maximum = std::nullopt);
nlohmann::json number();
nlohmann::json boolean();
nlohmann::json any(std::string description = {});
nlohmann::json object_any(std::string description = {});
nlohmann::json array(nlohmann::json items);
nlohmann::json enumeration(std::vector<std::string> values, std::string description = {});
// Makes `s` also accept null.
nlohmann::json nullable(nlohmann::json s);
// An object with these properties; `required` lists the mandatory ones. Unknown members are
// rejected when `strict` (Prefect's action schemas forbid extra fields).
nlohmann::json object(nlohmann::json properties, std::vector<std::string> required = {},
                      bool strict = false);
}  // namespace schema

}  // namespace baton::server
