// Dynamic mapping over data only known at run time.
//
// list_files() decides at run time how many items there are; map() then creates one task run per
// item on the flow's thread pool, and summarize() receives all the futures' values. Nothing about
// the fan-out is declared in advance.
#include <iostream>
#include <numeric>
#include <string>
#include <vector>

#include "baton/baton.h"

int main(int argc, char** argv) {
  auto list_files = baton::task("list_files", [](int day) {
    std::vector<std::string> files;
    for (int i = 0; i < 3 + day % 5; ++i)
      files.push_back("day" + std::to_string(day) + "/part-" + std::to_string(i) + ".csv");
    return files;
  });
  auto count_rows = baton::task("count_rows", [](const std::string& file, int rows_per_kb) {
                      return static_cast<int>(file.size()) * rows_per_kb;
                    }).task_run_name("count-{0}");
  auto summarize = baton::task("summarize", [](const std::vector<int>& counts) {
    return std::accumulate(counts.begin(), counts.end(), 0);
  });

  auto pipeline = baton::flow("dynamic_mapping", [&] {
    auto files = list_files(12);  // known only now
    baton::get_run_logger().info("Found {} files; mapping count_rows over them", files.size());
    auto counts = count_rows.map(files, baton::unmapped(10));
    return std::make_pair(files.size(), summarize(counts.results()));
  });

  return baton::main(argc, argv, [&] {
    auto [files, rows] = pipeline();
    std::cout << "Dynamic mapping: " << files
              << " files discovered at run time, one task run each, " << rows
              << " rows in total.\n";
    return 0;
  });
}
