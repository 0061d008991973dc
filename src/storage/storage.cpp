#include "storage/storage.h"

#include <cstdlib>
#include <filesystem>

#include "baton/error.h"
#include "storage/sqlite/sqlite_storage.h"

namespace baton::storage {

std::string baton_home() {
  namespace fs = std::filesystem;
  fs::path home;
  if (const char* env = std::getenv("BATON_HOME"); env && *env) {
    home = env;
  } else if (const char* user_home = std::getenv("HOME"); user_home && *user_home) {
    home = fs::path(user_home) / ".baton";
  } else {
    throw unavailable("cannot locate Baton's home: neither BATON_HOME nor HOME is set");
  }
  std::error_code ec;
  fs::create_directories(home, ec);
  if (ec || !fs::is_directory(home))
    throw unavailable("cannot create BATON_HOME '" + home.string() + "': " + ec.message());
  return home.string();
}

std::string default_database_path() {
  return (std::filesystem::path(baton_home()) / "baton.db").string();
}

std::unique_ptr<Storage> open_sqlite_storage(const std::string& path, int new_file_page_size) {
  sqlite::ConnectionOptions options;
  if (new_file_page_size > 0) options.new_file_page_size = new_file_page_size;
  return std::make_unique<SqliteStorage>(path, options);
}

std::vector<bool> Storage::update_flow_runs(const std::vector<FlowRunUpdate>& updates) {
  std::vector<FlowRunOp> ops(updates.size());
  for (size_t i = 0; i < updates.size(); ++i) {
    ops[i].id = updates[i].id;
    ops[i].decide = updates[i].decide;
  }
  std::vector<bool> found;
  found.reserve(updates.size());
  for (const auto& result : write_flow_runs(ops)) found.push_back(result.found);
  return found;
}

void Storage::write_batch(const std::vector<TaskRunRecord>& task_runs,
                          const std::vector<LogRecord>& logs) {
  write_batch_with_events(task_runs, logs, {});
}

void Storage::write_batch_with_events(const std::vector<TaskRunRecord>& task_runs,
                                      const std::vector<LogRecord>& logs,
                                      const std::vector<EventView>& events,
                                      const std::vector<std::string>& request_keys) {
  // Several snapshots of one run (Pending, Running, Completed of a quick task) coalesce into one
  // row: the run costs one row write.
  TaskRunRows rows;
  for (const auto& run : task_runs) rows.add(run);
  write_task_runs(rows, logs, events, request_keys);
}

}  // namespace baton::storage
