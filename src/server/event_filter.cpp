#include "server/event_filter.h"

#include "baton/error.h"
#include "server/schema.h"

namespace baton::server {

namespace {
using nlohmann::json;

std::vector<std::string> list(const json& j, const char* outer, const char* inner,
                              const std::string& field) {
  auto o = j.find(outer);
  if (o == j.end() || o->is_null()) return {};
  if (!o->is_object()) throw invalid_argument("expected an object", field + "." + outer);
  auto i = o->find(inner);
  if (i == o->end() || i->is_null()) return {};
  std::string where = field + "." + outer + "." + inner;
  if (!i->is_array()) throw invalid_argument("expected a list of strings", where);
  std::vector<std::string> out;
  for (const auto& v : *i) {
    if (!v.is_string()) throw invalid_argument("expected a list of strings", where);
    out.push_back(v.get<std::string>());
  }
  return out;
}

bool any_prefix(const std::string& text, const std::vector<std::string>& prefixes) {
  for (const auto& p : prefixes)
    if (text.compare(0, p.size(), p) == 0) return true;
  return false;
}
bool any_equal(const std::string& text, const std::vector<std::string>& values) {
  return std::find(values.begin(), values.end(), text) != values.end();
}
}  // namespace

EventFilter EventFilter::from_json(const json& j, const std::string& field) {
  EventFilter f;
  if (j.is_null()) return f;
  if (!j.is_object()) throw invalid_argument("an event filter must be an object", field);
  for (const auto& [key, value] : j.items())
    if (key != "event" && key != "resource" && key != "occurred")
      throw invalid_argument("unknown member '" + key + "'; expected event, resource or occurred",
                             field + "." + key);
  f.name_prefixes = list(j, "event", "prefix", field);
  f.names = list(j, "event", "name", field);
  f.resource_ids = list(j, "resource", "id", field);
  f.resource_id_prefixes = list(j, "resource", "id_prefix", field);
  if (auto o = j.find("occurred"); o != j.end() && o->is_object()) {
    if (auto s = o->find("since"); s != o->end() && s->is_string())
      f.since = parse_time(s->get<std::string>(), field + ".occurred.since");
    if (auto u = o->find("until"); u != o->end() && u->is_string())
      f.until = parse_time(u->get<std::string>(), field + ".occurred.until");
  }
  return f;
}

json EventFilter::schema() {
  namespace s = schema;
  auto strings = s::nullable(s::array(s::string()));
  return s::object(
      {{"event", s::nullable(s::object({{"prefix", strings}, {"name", strings}}, {}, true))},
       {"resource", s::nullable(s::object({{"id", strings}, {"id_prefix", strings}}, {}, true))},
       {"occurred", s::nullable(s::object({{"since", s::nullable(s::date_time())},
                                           {"until", s::nullable(s::date_time())}},
                                          {}, true))}},
      {}, true);
}

bool EventFilter::matches(const json& event) const {
  const std::string& name = event.at("event").get_ref<const std::string&>();
  if (!name_prefixes.empty() && !any_prefix(name, name_prefixes)) return false;
  if (!names.empty() && !any_equal(name, names)) return false;
  if (!resource_ids.empty() || !resource_id_prefixes.empty()) {
    std::string rid = event.at("resource").value("baton.resource.id", std::string());
    if (!resource_ids.empty() && !any_equal(rid, resource_ids)) return false;
    if (!resource_id_prefixes.empty() && !any_prefix(rid, resource_id_prefixes)) return false;
  }
  if (since || until) {
    TimePoint occurred = parse_time(event.at("occurred").get<std::string>(), "occurred");
    if (since && occurred < *since) return false;
    if (until && occurred > *until) return false;
  }
  return true;
}

}  // namespace baton::server
