#include "server/sqlite_event_store.h"

#include <spdlog/spdlog.h>

#include "storage/sqlite/connection.h"

namespace baton::server {

namespace {
using nlohmann::json;

int64_t micros(TimePoint t) { return t.time_since_epoch().count(); }
}  // namespace

SqliteEventStore::SqliteEventStore(const std::string& path)
    : writer_db_(std::make_unique<sqlite::Connection>(path)),
      reader_db_(std::make_unique<sqlite::Connection>(path)) {
  thread_ = std::thread([this] { run(); });
}

SqliteEventStore::~SqliteEventStore() {
  try {
    flush();
  } catch (const std::exception& e) {
    spdlog::error("events not stored: {}", e.what());
  }
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  work_cv_.notify_all();
  thread_.join();
}

void SqliteEventStore::append(const std::vector<json>& events) {
  {
    std::lock_guard lock(mutex_);
    for (const auto& e : events) pending_.push_back(e);
    enqueued_ += events.size();
  }
  work_cv_.notify_one();
}

void SqliteEventStore::flush() {
  std::unique_lock lock(mutex_);
  uint64_t target = enqueued_;
  done_cv_.wait(lock, [&] { return written_ >= target; });
  if (error_) {
    auto e = error_;
    error_ = nullptr;
    std::rethrow_exception(e);
  }
}

void SqliteEventStore::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    work_cv_.wait(lock, [&] { return stop_ || !pending_.empty(); });
    if (pending_.empty()) return;
    std::vector<json> batch = std::move(pending_);
    pending_.clear();
    lock.unlock();
    std::exception_ptr failure;
    try {
      write(batch);
    } catch (const std::exception& e) {
      spdlog::error("could not store {} event(s): {}", batch.size(), e.what());
      failure = std::current_exception();
    }
    lock.lock();
    written_ += batch.size();
    if (failure && !error_) error_ = failure;
    done_cv_.notify_all();
  }
}

void SqliteEventStore::write(const std::vector<json>& batch) {
  writer_db_->write_transaction([&] {
    auto& insert = writer_db_->prepare_cached(
        "INSERT INTO event (id, occurred, event, resource_id, resource, related, payload, "
        "received) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING");
    int64_t received = micros(now());
    for (const auto& e : batch) {
      insert.bind(1, e.at("id").get<std::string>())
          .bind(2, micros(parse_time(e.at("occurred").get<std::string>(), "occurred")))
          .bind(3, e.at("event").get<std::string>())
          .bind(4, e.at("resource").value("baton.resource.id", std::string()))
          .bind(5, e.at("resource").dump())
          .bind(6, e.value("related", json::array()).dump())
          .bind(7, e.value("payload", json::object()).dump())
          .bind(8, received);
      insert.run();
    }
  });
}

std::vector<json> SqliteEventStore::filter(const EventFilter& f, int limit, int offset) {
  flush();
  std::string sql = "SELECT id, occurred, event, resource, related, payload FROM event WHERE 1=1";
  std::vector<std::string> texts;
  auto in_list = [&](const char* column, const std::vector<std::string>& values) {
    if (values.empty()) return;
    sql += std::string(" AND ") + column + " IN (";
    for (size_t i = 0; i < values.size(); ++i) {
      sql += i ? ", ?" : "?";
      texts.push_back(values[i]);
    }
    sql += ")";
  };
  auto prefixes = [&](const char* column, const std::vector<std::string>& values) {
    if (values.empty()) return;
    sql += " AND (";
    for (size_t i = 0; i < values.size(); ++i) {
      // substr() rather than LIKE: prefixes may contain % and _.
      sql += std::string(i ? " OR " : "") + "substr(" + column + ", 1, length(?)) = ?";
      texts.push_back(values[i]);
      texts.push_back(values[i]);
    }
    sql += ")";
  };
  in_list("event", f.names);
  prefixes("event", f.name_prefixes);
  in_list("resource_id", f.resource_ids);
  prefixes("resource_id", f.resource_id_prefixes);
  if (f.since) sql += " AND occurred >= " + std::to_string(micros(*f.since));
  if (f.until) sql += " AND occurred <= " + std::to_string(micros(*f.until));
  sql += " ORDER BY occurred, id LIMIT ? OFFSET ?";
  std::lock_guard lock(reader_mutex_);
  auto q = reader_db_->prepare(sql);
  int index = 1;
  for (const auto& t : texts) q->bind(index++, t);
  q->bind(index, limit);
  q->bind(index + 1, offset);
  std::vector<json> out;
  while (q->step()) {
    out.push_back({{"id", q->text(0)},
                   {"occurred", format_time(TimePoint(std::chrono::microseconds(q->int64(1))))},
                   {"event", q->text(2)},
                   {"resource", json::parse(q->text(3))},
                   {"related", json::parse(q->text(4))},
                   {"payload", json::parse(q->text(5))}});
  }
  return out;
}

}  // namespace baton::server
