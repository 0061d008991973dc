// EventStore over the server's SQLite file (table `event`, migration 0100).
//
// Events arrive with every state change, so writing each in its own transaction would cost one
// commit per transition. Instead append() queues and a writer thread group-commits everything
// queued so far in one transaction; flush() waits until what was queued before it is written,
// and filter() flushes first, so a caller always reads its own events. The destructor flushes.
//
// Errors: a failed batch is logged and reported by the next flush() as baton::Error.
//
// Thread-safety: every method is safe from any thread.
#pragma once

#include <condition_variable>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "server/event_store.h"

namespace baton::sqlite {
class Connection;
}

namespace baton::server {

class SqliteEventStore final : public EventStore {
 public:
  // `path` is the database file; its migrations must already be applied (EmbeddedClient::open
  // applies them).
  explicit SqliteEventStore(const std::string& path);
  ~SqliteEventStore() override;

  void append(const std::vector<nlohmann::json>& events) override;
  std::vector<nlohmann::json> filter(const EventFilter& filter, int limit, int offset) override;
  void flush() override;

 private:
  void run();
  void write(const std::vector<nlohmann::json>& batch);

  std::unique_ptr<sqlite::Connection> writer_db_, reader_db_;
  std::mutex mutex_, reader_mutex_;
  std::condition_variable work_cv_, done_cv_;
  std::vector<nlohmann::json> pending_;
  uint64_t enqueued_ = 0, written_ = 0;
  bool stop_ = false;
  std::exception_ptr error_;
  std::thread thread_;
};

}  // namespace baton::server
