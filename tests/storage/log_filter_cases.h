// One set of log lines and a table of LogFilters over it with the exact lines each must select, in
// order. The storage test runs the table against SqliteStorage; the client suite runs it through
// both transports (embedded, and the real server over HTTP), so every layer that maps a LogFilter
// is held to the same answers.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "baton/state.h"
#include "model/ids.h"
#include "model/records.h"

namespace baton::testing {

struct LogFilterCase {
  std::string name;
  LogFilter filter;
  std::vector<int> expected;  // line numbers ("line N"), in the order they must come
};

// Three flow runs A, B, C; task runs a1, a2 of A and b1 of B. Line i is "line i", one second
// after line i-1:
//   0 A  -   10      3 B  -   40      6 A  a1  40
//   1 A  a1  20      4 B  b1  50      7 B  b1  10
//   2 A  a2  30      5 C  -   20
struct LogFilterData {
  std::string a = new_id(), b = new_id(), c = new_id();
  std::string a1 = new_id(), a2 = new_id(), b1 = new_id();
  TimePoint t0 = parse_time("2024-03-31T08:00:00Z");

  TimePoint at(int line) const { return t0 + std::chrono::seconds(line); }

  std::vector<LogRecord> lines() const {
    struct Row {
      const std::string& flow_run;
      std::string task_run;
      int level;
    };
    const Row rows[] = {{a, "", 10}, {a, a1, 20}, {a, a2, 30}, {b, "", 40},
                        {b, b1, 50}, {c, "", 20}, {a, a1, 40}, {b, b1, 10}};
    std::vector<LogRecord> out;
    for (int i = 0; i < 8; ++i)
      out.push_back(LogRecord{{},
                              rows[i].flow_run,
                              rows[i].task_run,
                              rows[i].task_run.empty() ? "baton.flow_runs" : "baton.task_runs",
                              rows[i].level,
                              "line " + std::to_string(i),
                              at(i)});
    return out;
  }

  std::vector<LogFilterCase> cases() const {
    std::vector<LogFilterCase> out;
    auto add = [&](std::string name, std::vector<int> expected, auto&& set) {
      LogFilter f;
      set(f);
      out.push_back({std::move(name), std::move(f), std::move(expected)});
    };
    using us = std::chrono::microseconds;
    add("everything", {0, 1, 2, 3, 4, 5, 6, 7}, [](LogFilter&) {});
    add("one_flow_run", {0, 1, 2, 6}, [&](LogFilter& f) { f.flow_run_ids = {a}; });
    add("two_flow_runs", {0, 1, 2, 3, 4, 6, 7}, [&](LogFilter& f) { f.flow_run_ids = {a, b}; });
    add("two_task_runs_of_two_flows", {1, 4, 6, 7}, [&](LogFilter& f) {
      f.task_run_ids = {a1, b1};
    });
    add("two_task_runs_of_one_flow", {1, 2, 6}, [&](LogFilter& f) { f.task_run_ids = {a1, a2}; });
    add("flow_runs_and_task_runs", {1, 6}, [&](LogFilter& f) {
      f.flow_run_ids = {a, c};
      f.task_run_ids = {a1, b1};
    });
    add("no_task_run", {0, 3, 5}, [](LogFilter& f) { f.task_run_is_null = true; });
    add("some_task_run", {1, 2, 4, 6, 7}, [](LogFilter& f) { f.task_run_is_null = false; });
    add("flow_runs_own_lines", {0, 3}, [&](LogFilter& f) {
      f.flow_run_ids = {a, b};
      f.task_run_is_null = true;
    });
    add("flow_runs_task_lines", {4, 7}, [&](LogFilter& f) {
      f.flow_run_ids = {b};
      f.task_run_is_null = false;
    });
    add("task_runs_and_is_null_match_nothing", {}, [&](LogFilter& f) {
      f.task_run_ids = {a1};
      f.task_run_is_null = true;
    });
    add("level_ge", {2, 3, 4, 6}, [](LogFilter& f) { f.min_level = 30; });
    add("level_le", {0, 1, 5, 7}, [](LogFilter& f) { f.max_level = 20; });
    add("level_between", {1, 2, 3, 5, 6}, [](LogFilter& f) {
      f.min_level = 20;
      f.max_level = 40;
    });
    add("level_ge_and_le_equal", {3, 6}, [](LogFilter& f) {
      f.min_level = 40;
      f.max_level = 40;
    });
    add("level_empty_range", {}, [](LogFilter& f) {
      f.min_level = 40;
      f.max_level = 30;
    });
    add("after_is_inclusive", {3, 4, 5, 6, 7}, [&](LogFilter& f) { f.timestamp_after = at(3); });
    add("after_one_microsecond_later", {4, 5, 6, 7},
        [&](LogFilter& f) { f.timestamp_after = at(3) + us(1); });
    add("before_is_inclusive", {0, 1, 2}, [&](LogFilter& f) { f.timestamp_before = at(2); });
    add("before_one_microsecond_earlier", {0, 1},
        [&](LogFilter& f) { f.timestamp_before = at(2) - us(1); });
    add("after_equals_before", {4},
        [&](LogFilter& f) { f.timestamp_after = f.timestamp_before = at(4); });
    add("combined", {1, 2, 4, 6}, [&](LogFilter& f) {
      f.flow_run_ids = {a, b};
      f.task_run_is_null = false;
      f.min_level = 20;
      f.timestamp_after = at(1);
      f.timestamp_before = at(7);
    });
    add("newest_first", {6, 2, 1, 0}, [&](LogFilter& f) {
      f.flow_run_ids = {a};
      f.sort = "TIMESTAMP_DESC";
    });
    add("task_runs_newest_first", {7, 6, 4, 1}, [&](LogFilter& f) {
      f.task_run_ids = {b1, a1};
      f.sort = "TIMESTAMP_DESC";
    });
    add("page_oldest_first", {2, 3, 4}, [&](LogFilter& f) {
      f.flow_run_ids = {a, b};
      f.limit = 3;
      f.offset = 2;
    });
    add("page_newest_first", {6, 5}, [](LogFilter& f) {
      f.sort = "TIMESTAMP_DESC";
      f.limit = 2;
      f.offset = 1;
    });
    add("page_of_combined_newest_first", {3, 2}, [&](LogFilter& f) {
      f.min_level = 30;
      f.timestamp_before = at(5);
      f.sort = "TIMESTAMP_DESC";
      f.limit = 2;
      f.offset = 1;
    });
    add("page_past_the_end", {}, [&](LogFilter& f) {
      f.flow_run_ids = {a};
      f.offset = 4;
    });
    add("unknown_run", {}, [](LogFilter& f) { f.flow_run_ids = {new_id()}; });
    return out;
  }
};

// The line numbers of `lines` ("line 7" → 7), in their order.
inline std::vector<int> line_numbers(const std::vector<LogRecord>& lines) {
  std::vector<int> out;
  for (const auto& l : lines) out.push_back(std::stoi(l.message.substr(5)));
  return out;
}

}  // namespace baton::testing
