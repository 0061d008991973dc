// ETL pipeline with retries and exponential backoff.
//
// extract() talks to a flaky source that fails twice before it answers; the task retries with
// exponential backoff (0.1 s, then 0.2 s, with jitter), so the flow still completes. Each retry is
// recorded: the task run's states read Pending, Running, AwaitingRetry, Retrying, AwaitingRetry,
// Retrying, Completed. Then the customers are processed in parallel with map().
//
//   ./example_etl_retries            # then: baton flow-run ls, baton task-run ls --flow-run <id>
#include <atomic>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "baton/baton.h"

using namespace std::chrono_literals;

struct EtlParams {
  std::string source = "warehouse://sales/customers";
  std::vector<std::string> customer_ids = {"c-101", "c-102", "c-103", "c-104"};
};
BATON_PARAMS(EtlParams, source, customer_ids)

namespace {
std::atomic<int> attempts{0};

// Stands in for a network call that times out now and then.
std::string fetch(const std::string& source) {
  if (++attempts <= 2) throw std::runtime_error("connection to " + source + " timed out");
  return "4 customer rows from " + source;
}
}  // namespace

int main(int argc, char** argv) {
  auto extract =
      baton::task("extract_data", [](const std::string& source) { return fetch(source); })
          .retries(3)
          .retry_delay(baton::exponential_backoff(100ms))
          .retry_jitter(0.2);
  auto process =
      baton::task("process_customer", [](const std::string& id) { return "Processed " + id; });
  auto load = baton::task("load_results", [](const std::vector<std::string>& rows) {
    baton::get_run_logger().info("Loaded {} rows into the warehouse", rows.size());
    return static_cast<int>(rows.size());
  });

  auto etl = baton::flow("etl_pipeline", [&](const EtlParams& p) {
               auto raw = extract(p.source);  // direct call: retries happen inside
               baton::get_run_logger().info("Extracted: {}", raw);
               auto processed = process.map(p.customer_ids).results();
               return load(processed);
             }).flow_run_name("etl-{source}");

  return baton::main(argc, argv, [&] {
    int loaded = etl(EtlParams{});
    std::cout << "ETL pipeline finished: extract needed " << attempts.load()
              << " attempts (2 failures retried with "
              << "exponential backoff), " << loaded << " customers processed and loaded.\n";
    return 0;
  });
}
