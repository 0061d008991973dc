#include "storage/variable_store.h"

#include "baton/error.h"
#include "baton/state.h"
#include "model/ids.h"
#include "storage/migrations.h"
#include "storage/sqlite/connection.h"

namespace baton::storage {

namespace {
using nlohmann::json;
constexpr size_t kMaxValueChars = 5000;

int64_t micros(TimePoint t) { return t.time_since_epoch().count(); }
std::string time_text(int64_t us) { return format_time(TimePoint(std::chrono::microseconds(us))); }

std::string checked_value(const json& value) {
  std::string text = value.dump();
  if (text.size() > kMaxValueChars)
    throw invalid_argument("a variable's value may be at most " + std::to_string(kMaxValueChars) +
                               " characters as JSON; this one has " + std::to_string(text.size()),
                           "value");
  return text;
}
}  // namespace

VariableStore::VariableStore(const std::string& path)
    : db_(std::make_unique<sqlite::Connection>(path)) {
  migrate_sqlite(*db_);  // a no-op read when the file's owner (SqliteStorage) has migrated it
}
VariableStore::~VariableStore() = default;

void VariableStore::check_name(const std::string& name, const std::string& field) {
  if (name.empty() || name.size() > 255)
    throw invalid_argument("a variable name must have 1 to 255 characters", field);
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
      throw invalid_argument(
          "'" + name + "' is not a valid variable name: use lowercase letters, digits, '_' and '-'",
          field);
}

json VariableStore::create(const std::string& name, const json& value,
                           const std::vector<std::string>& tags) {
  check_name(name);
  std::string text = checked_value(value);
  std::string id = new_id();
  int64_t t = micros(now());
  std::lock_guard lock(mutex_);
  db_->write_transaction([&] {
    if (name_taken(name)) throw conflict("a variable named '" + name + "' already exists");
    insert_row(id, name, text, json(tags).dump(), t);
  });
  return {{"id", id},
          {"name", name},
          {"value", value},
          {"tags", tags},
          {"created", time_text(t)},
          {"updated", time_text(t)}};
}

bool VariableStore::name_taken(const std::string& name) {
  auto& exists = db_->prepare_cached("SELECT 1 FROM variable WHERE name = ?");
  exists.bind(1, name);
  bool taken = exists.step();
  exists.reset();
  return taken;
}

void VariableStore::insert_row(const std::string& id, const std::string& name,
                               const std::string& value_text, const std::string& tags_text,
                               int64_t at) {
  db_->prepare_cached(
         "INSERT INTO variable (id, name, value, tags, created, updated) VALUES (?, ?, ?, ?, ?, ?)")
      .bind(1, id)
      .bind(2, name)
      .bind(3, value_text)
      .bind(4, tags_text)
      .bind(5, at)
      .bind(6, at)
      .run();
}

json VariableStore::read_where(const char* column, const std::string& value) {
  std::lock_guard lock(mutex_);
  auto q = db_->prepare(
      std::string("SELECT id, name, value, tags, created, updated FROM variable WHERE ") + column +
      " = ?");
  q->bind(1, value);
  if (!q->step()) return nullptr;
  return {{"id", q->text(0)},
          {"name", q->text(1)},
          {"value", json::parse(q->text(2))},
          {"tags", json::parse(q->text(3))},
          {"created", time_text(q->int64(4))},
          {"updated", time_text(q->int64(5))}};
}

json VariableStore::read_by_name(const std::string& name) {
  json v = read_where("name", name);
  if (v.is_null()) throw not_found("no variable named '" + name + "'");
  return v;
}

json VariableStore::read_by_id(const std::string& id) {
  json v = read_where("id", id);
  if (v.is_null()) throw not_found("no variable with id " + id);
  return v;
}

void VariableStore::update(const std::string& name, const json* value,
                           const std::vector<std::string>* tags) {
  std::string text = value ? checked_value(*value) : std::string();
  std::lock_guard lock(mutex_);
  db_->write_transaction([&] {
    auto& u = db_->prepare_cached(
        "UPDATE variable SET value = COALESCE(?, value), tags = COALESCE(?, tags), updated = ? "
        "WHERE name = ?");
    if (value)
      u.bind(1, text);
    else
      u.bind(1, nullptr);
    if (tags)
      u.bind(2, json(*tags).dump());
    else
      u.bind(2, nullptr);
    u.bind(3, micros(now())).bind(4, name);
    u.run();
    if (db_->changes() == 0) throw not_found("no variable named '" + name + "'");
  });
}

json VariableStore::set(const std::string& name, const json& value,
                        const std::vector<std::string>* tags, bool overwrite) {
  check_name(name);
  std::string text = checked_value(value);
  const std::vector<std::string> no_tags;
  {
    std::lock_guard lock(mutex_);
    db_->write_transaction([&] {
      int64_t t = micros(now());
      if (name_taken(name)) {
        if (!overwrite)
          throw conflict("a variable named '" + name +
                         "' already exists; set it with overwrite to replace its value");
        auto& u = db_->prepare_cached(
            "UPDATE variable SET value = ?, tags = COALESCE(?, tags), updated = ? WHERE name = ?");
        u.bind(1, text);
        if (tags)
          u.bind(2, json(*tags).dump());
        else
          u.bind(2, nullptr);
        u.bind(3, t).bind(4, name).run();
        return;
      }
      insert_row(new_id(), name, text, json(tags ? *tags : no_tags).dump(), t);
    });
  }
  return read_by_name(name);
}

void VariableStore::remove(const std::string& name) {
  std::lock_guard lock(mutex_);
  db_->write_transaction([&] {
    db_->prepare_cached("DELETE FROM variable WHERE name = ?").bind(1, name).run();
    if (db_->changes() == 0) throw not_found("no variable named '" + name + "'");
  });
}

std::vector<json> VariableStore::list(const std::vector<std::string>& names,
                                      const std::string& name_like, int limit, int offset) {
  std::string sql = "SELECT name FROM variable WHERE 1=1";
  if (!names.empty()) {
    sql += " AND name IN (";
    for (size_t i = 0; i < names.size(); ++i) sql += i ? ", ?" : "?";
    sql += ")";
  }
  if (!name_like.empty()) sql += " AND instr(name, ?) > 0";
  sql += " ORDER BY name LIMIT ? OFFSET ?";
  std::vector<std::string> found;
  {
    std::lock_guard lock(mutex_);
    auto q = db_->prepare(sql);
    int i = 1;
    for (const auto& n : names) q->bind(i++, n);
    if (!name_like.empty()) q->bind(i++, name_like);
    q->bind(i, limit);
    q->bind(i + 1, offset);
    while (q->step()) found.push_back(q->text(0));
  }
  std::vector<json> out;
  for (const auto& n : found) out.push_back(read_where("name", n));
  return out;
}

}  // namespace baton::storage
