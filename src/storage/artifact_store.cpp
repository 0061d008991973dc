#include "storage/artifact_store.h"

#include <cmath>

#include "baton/error.h"
#include "baton/state.h"
#include "model/ids.h"
#include "storage/migrations.h"
#include "storage/sqlite/connection.h"

namespace baton::storage {

namespace {
using nlohmann::json;

int64_t micros(TimePoint t) { return t.time_since_epoch().count(); }
std::string time_text(int64_t us) { return format_time(TimePoint(std::chrono::microseconds(us))); }

std::string text_or_empty(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// An optional text field of a request: absent or null, else a string.
void check_optional_text(const json& j, const char* key) {
  auto it = j.find(key);
  if (it != j.end() && !it->is_null() && !it->is_string())
    throw invalid_argument(std::string("an artifact's ") + key + " must be a string", key);
}

std::string placeholders(size_t n) {
  std::string s;
  for (size_t i = 0; i < n; ++i) s += i ? ", ?" : "?";
  return s;
}

constexpr const char* kColumns =
    "SELECT id, key, type, description, data, flow_run_id, task_run_id, created, updated FROM "
    "artifact a ";
}  // namespace

ArtifactStore::ArtifactStore(const std::string& path)
    : db_(std::make_unique<sqlite::Connection>(path)) {
  migrate_sqlite(*db_);  // a no-op read when the file's owner (SqliteStorage) has migrated it
}
ArtifactStore::~ArtifactStore() = default;

void ArtifactStore::check_key(const std::string& key) {
  if (key.size() > 255)
    throw invalid_argument("an artifact key may have at most 255 characters", "key");
  for (char c : key)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
      throw invalid_argument(
          "'" + key + "' is not a valid artifact key: use lowercase letters, digits and '-'",
          "key");
}

void ArtifactStore::check_id(const std::string& id) {
  if (!is_uuid(id)) throw invalid_argument("'" + id + "' is not an artifact id (a UUID)", "id");
}

void ArtifactStore::check_data(const std::string& type, const json& data) {
  if (type == "markdown" || type == "link" || type == "image") {
    if (!data.is_string())
      throw invalid_argument("a " + type + " artifact's data must be a string", "data");
    if (type == "image" && data.get_ref<const std::string&>().empty())
      throw invalid_argument("an image artifact's data must be the image's URL", "data");
    return;
  }
  if (type == "progress") {
    if (!data.is_number() || !std::isfinite(data.get<double>()) || data.get<double>() < 0 ||
        data.get<double>() > 100)
      throw invalid_argument("a progress artifact's data must be a number from 0 to 100", "data");
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
  throw invalid_argument(
      "unknown artifact type '" + type + "'; expected markdown, table, link, image or progress",
      "type");
}

json ArtifactStore::create(const json& a) {
  if (!a.is_object()) throw invalid_argument("an artifact must be a JSON object", "artifact");
  auto type_it = a.find("type");
  if (type_it == a.end() || !type_it->is_string())
    throw invalid_argument("an artifact needs a type (a string)", "type");
  if (!a.contains("data")) throw invalid_argument("an artifact needs data", "data");
  std::string type = type_it->get<std::string>();
  check_data(type, a.at("data"));
  for (const char* field : {"key", "description", "flow_run_id", "task_run_id"})
    check_optional_text(a, field);
  std::string key = text_or_empty(a, "key");
  check_key(key);
  int64_t created = micros(now());
  json record{{"id", new_id()},
              {"key", key.empty() ? json(nullptr) : json(key)},
              {"type", type},
              {"description", a.contains("description") ? a["description"] : json(nullptr)},
              {"data", a["data"]},
              {"flow_run_id", a.contains("flow_run_id") ? a["flow_run_id"] : json(nullptr)},
              {"task_run_id", a.contains("task_run_id") ? a["task_run_id"] : json(nullptr)},
              {"created", time_text(created)},
              {"updated", time_text(created)}};
  std::lock_guard lock(mutex_);
  db_->write_transaction([&] {
    auto& insert = db_->prepare_cached(
        "INSERT INTO artifact (id, key, type, description, data, flow_run_id, task_run_id, "
        "created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
    insert.bind(1, record["id"].get<std::string>()).bind_text_or_null(2, key).bind(3, type);
    insert.bind_text_or_null(4, text_or_empty(record, "description"));
    insert.bind(5, record["data"].dump());
    insert.bind_text_or_null(6, text_or_empty(record, "flow_run_id"));
    insert.bind_text_or_null(7, text_or_empty(record, "task_run_id"));
    insert.bind(8, created);
    insert.run();
  });
  return record;
}

std::vector<json> ArtifactStore::query(const std::string& where,
                                       const std::vector<std::string>& args,
                                       const std::string& order, int limit, int offset) {
  std::lock_guard lock(mutex_);
  auto q = db_->prepare(kColumns + where + " ORDER BY " + order + " LIMIT ? OFFSET ?");
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
                   {"created", time_text(q->int64(7))},
                   {"updated", time_text(q->is_null(8) ? q->int64(7) : q->int64(8))}});
  return out;
}

json ArtifactStore::read(const std::string& id) {
  check_id(id);
  auto rows = query("WHERE id = ?", {id}, "created", 1, 0);
  if (rows.empty()) throw not_found("no artifact with id " + id);
  return rows.front();
}

json ArtifactStore::latest(const std::string& key) {
  check_key(key);
  auto rows = query("WHERE key = ?", {key}, "created DESC, id DESC", 1, 0);
  if (rows.empty()) throw not_found("no artifact with key '" + key + "'");
  return rows.front();
}

std::vector<json> ArtifactStore::filter(const ArtifactFilter& f) {
  if (f.limit < 0) throw invalid_argument("limit must not be negative", "limit");
  if (f.offset < 0) throw invalid_argument("offset must not be negative", "offset");
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
                      : f.sort == "KEY_ASC"   ? "a.key ASC, a.created DESC, a.id DESC"
                                              : "a.created DESC, a.id DESC";
  return query(where, args, order, f.limit, f.offset);
}

json ArtifactStore::update(const std::string& id, const json& changes) {
  if (!changes.is_object()) throw invalid_argument("changes must be a JSON object", "body");
  for (const auto& [field, value] : changes.items())
    if (field != "data" && field != "description")
      throw invalid_argument(
          "an artifact's " + field + " cannot be changed; only data and " + "description can",
          field);
  check_optional_text(changes, "description");
  json record = read(id);
  if (changes.contains("data")) {
    check_data(record["type"].get<std::string>(), changes["data"]);
    record["data"] = changes["data"];
  }
  if (changes.contains("description")) record["description"] = changes["description"];
  int64_t updated = micros(now());
  record["updated"] = time_text(updated);
  std::lock_guard lock(mutex_);
  db_->write_transaction([&] {
    auto& u = db_->prepare_cached(
        "UPDATE artifact SET data = ?, description = ?, updated = ? WHERE id = ?");
    u.bind(1, record["data"].dump()).bind_text_or_null(2, text_or_empty(record, "description"));
    u.bind(3, updated).bind(4, id);
    u.run();
    if (db_->changes() == 0) throw not_found("no artifact with id " + id);
  });
  return record;
}

void ArtifactStore::remove(const std::string& id) {
  check_id(id);
  std::lock_guard lock(mutex_);
  db_->write_transaction([&] {
    db_->prepare_cached("DELETE FROM artifact WHERE id = ?").bind(1, id).run();
    if (db_->changes() == 0) throw not_found("no artifact with id " + id);
  });
}

}  // namespace baton::storage
