#include "server/artifact_store.h"

#include "baton/error.h"
#include "baton/state.h"
#include "model/ids.h"
#include "storage/sqlite/connection.h"

namespace baton::server {

namespace {
using nlohmann::json;

std::string text_or_empty(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

void check_key(const std::string& key) {
  if (key.size() > 255)
    throw invalid_argument("an artifact key may have at most 255 characters", "key");
  for (char c : key)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
      throw invalid_argument(
          "'" + key + "' is not a valid artifact key: use lowercase letters, digits and '-'",
          "key");
}

std::string placeholders(size_t n) {
  std::string s;
  for (size_t i = 0; i < n; ++i) s += i ? ", ?" : "?";
  return s;
}
}  // namespace

ArtifactStore::ArtifactStore(const std::string& path)
    : db_(std::make_unique<sqlite::Connection>(path)) {}
ArtifactStore::~ArtifactStore() = default;

void ArtifactStore::check_data(const std::string& type, const json& data) {
  if (type == "markdown" || type == "link") {
    if (!data.is_string())
      throw invalid_argument("a " + type + " artifact's data must be a string", "data");
    return;
  }
  if (type == "table") {
    if (data.is_array()) {
      for (size_t i = 0; i < data.size(); ++i)
        if (!data[i].is_object() && !data[i].is_array())
          throw invalid_argument("each table row must be an object or a list",
                                 "data." + std::to_string(i));
      return;
    }
    if (data.is_object()) {
      std::optional<size_t> rows;
      for (const auto& [column, values] : data.items()) {
        if (!values.is_array())
          throw invalid_argument("each table column must be a list", "data." + column);
        if (rows && *rows != values.size())
          throw invalid_argument("table columns must have the same length", "data." + column);
        rows = values.size();
      }
      return;
    }
    throw invalid_argument("a table's data must be a list of rows or an object of columns", "data");
  }
  throw invalid_argument("unknown artifact type '" + type + "'; expected markdown, table or link",
                         "type");
}

json ArtifactStore::create(const json& a) {
  std::string type = a.at("type").get<std::string>();
  check_data(type, a.at("data"));
  std::string key = text_or_empty(a, "key");
  check_key(key);
  json record{{"id", new_id()},
              {"key", key.empty() ? json(nullptr) : json(key)},
              {"type", type},
              {"description", a.contains("description") ? a["description"] : json(nullptr)},
              {"data", a["data"]},
              {"flow_run_id", a.contains("flow_run_id") ? a["flow_run_id"] : json(nullptr)},
              {"task_run_id", a.contains("task_run_id") ? a["task_run_id"] : json(nullptr)},
              {"created", format_time(now())}};
  std::lock_guard lock(mutex_);
  db_->write_transaction([&] {
    auto& insert = db_->prepare_cached(
        "INSERT INTO artifact (id, key, type, description, data, flow_run_id, task_run_id, "
        "created) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
    insert.bind(1, record["id"].get<std::string>()).bind_text_or_null(2, key).bind(3, type);
    insert.bind_text_or_null(4, text_or_empty(record, "description"));
    insert.bind(5, record["data"].dump());
    insert.bind_text_or_null(6, text_or_empty(record, "flow_run_id"));
    insert.bind_text_or_null(7, text_or_empty(record, "task_run_id"));
    insert.bind(8, parse_time(record["created"].get<std::string>()).time_since_epoch().count());
    insert.run();
  });
  return record;
}

std::vector<json> ArtifactStore::query(const std::string& where,
                                       const std::vector<std::string>& args,
                                       const std::string& order, int limit, int offset) {
  std::lock_guard lock(mutex_);
  auto q = db_->prepare(
      "SELECT id, key, type, description, data, flow_run_id, task_run_id, created FROM artifact "
      "a " +
      where + " ORDER BY " + order + " LIMIT ? OFFSET ?");
  int i = 1;
  for (const auto& arg : args) q->bind(i++, arg);
  q->bind(i, limit);
  q->bind(i + 1, offset);
  std::vector<json> out;
  auto opt = [&](int col) { return q->is_null(col) ? json(nullptr) : json(q->text(col)); };
  while (q->step())
    out.push_back({{"id", q->text(0)},
                   {"key", opt(1)},
                   {"type", q->text(2)},
                   {"description", opt(3)},
                   {"data", json::parse(q->text(4))},
                   {"flow_run_id", opt(5)},
                   {"task_run_id", opt(6)},
                   {"created", format_time(TimePoint(std::chrono::microseconds(q->int64(7))))}});
  return out;
}

json ArtifactStore::read(const std::string& id) {
  auto rows = query("WHERE id = ?", {id}, "created", 1, 0);
  if (rows.empty()) throw not_found("no artifact with id " + id);
  return rows.front();
}

json ArtifactStore::latest(const std::string& key) {
  auto rows = query("WHERE key = ?", {key}, "created DESC, id DESC", 1, 0);
  if (rows.empty()) throw not_found("no artifact with key '" + key + "'");
  return rows.front();
}

std::vector<json> ArtifactStore::filter(const ArtifactFilter& f) {
  std::string where = "WHERE 1=1";
  std::vector<std::string> args;
  auto in = [&](const char* column, const std::vector<std::string>& values) {
    if (values.empty()) return;
    where += std::string(" AND a.") + column + " IN (" + placeholders(values.size()) + ")";
    args.insert(args.end(), values.begin(), values.end());
  };
  in("key", f.keys);
  in("type", f.types);
  in("flow_run_id", f.flow_run_ids);
  in("task_run_id", f.task_run_ids);
  if (f.latest_only)
    where +=
        " AND a.key IS NOT NULL AND a.id = (SELECT b.id FROM artifact b WHERE b.key = a.key "
        "ORDER BY b.created DESC, b.id DESC LIMIT 1)";
  std::string order = f.sort == "CREATED_ASC" ? "a.created ASC, a.id ASC"
                      : f.sort == "KEY_ASC"   ? "a.key ASC, a.created DESC"
                                              : "a.created DESC, a.id DESC";
  return query(where, args, order, f.limit, f.offset);
}

void ArtifactStore::remove(const std::string& id) {
  std::lock_guard lock(mutex_);
  db_->write_transaction([&] {
    db_->prepare_cached("DELETE FROM artifact WHERE id = ?").bind(1, id).run();
    if (db_->changes() == 0) throw not_found("no artifact with id " + id);
  });
}

}  // namespace baton::server
