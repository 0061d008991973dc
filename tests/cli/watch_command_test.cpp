// `baton flow-run watch`, run as the real executable in the background against the embedded
// database and against the real server (BATON_API_URL), while this test drives the run through the
// orchestration client. Every wait is bounded and ends as soon as the awaited output appears.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "cli/cli_transport_test.h"
#include "client/orchestration_client.h"
#include "model/ids.h"
#include "server_process.h"

namespace baton {
namespace {

using nlohmann::json;
using testing::BatonChild;

constexpr int kBoundMs = 20'000;

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// The state name a human line shows: "<time>  <name>[  <message>]".
std::string state_of(const std::string& line) {
  auto start = line.find("  ");
  if (start == std::string::npos) return "";
  auto end = line.find("  ", start + 2);
  return line.substr(start + 2, end == std::string::npos ? std::string::npos : end - start - 2);
}

class WatchCommand : public testing::CliTransportTest {
 protected:
  std::string create_run() {
    auto flow = client_->ensure_flow("etl", {});
    FlowRunRecord run;
    run.flow_id = flow.id;
    run.flow_name = flow.name;
    run.name = "etl-run";
    return client_->create_flow_run(run).id;
  }
  void set_state(const std::string& id, const State& s, bool force = false) {
    auto result = client_->set_flow_run_state(id, s, force);
    ASSERT_EQ(result.status, SetStateStatus::kAccept) << result.reason;
  }
  // A watch started on `id`, once it has printed the run's current state `current` (against a
  // server it has subscribed by then: it subscribes before its first read). Against a server it
  // re-reads the run only when an event says so: the waits below are bounded well before its
  // hourly re-read, so the run's events must be what it reports.
  std::unique_ptr<BatonChild> watch(const std::string& id, const std::string& current,
                                    std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"flow-run", "watch", id};
    if (GetParam() == "remote") args.insert(args.end(), {"--poll-interval", "3600"});
    args.insert(args.end(), extra.begin(), extra.end());
    auto child = std::make_unique<BatonChild>(args, std::map<std::string, std::string>{});
    EXPECT_TRUE(child->wait_for(current, false, kBoundMs)) << child->out() << child->err();
    return child;
  }
};

TEST_P(WatchCommand, PrintsEachStateUntilTheRunCompletesAndExitsZero) {
  std::string id = create_run();
  auto w = watch(id, "Pending");
  set_state(id, State::running());
  ASSERT_TRUE(w->wait_for("Running", false, kBoundMs)) << w->out() << w->err();
  set_state(id, State::completed());
  EXPECT_EQ(w->wait_exit(kBoundMs), 0) << w->out() << w->err();
  auto lines = lines_of(w->out());
  ASSERT_EQ(lines.size(), 3u) << w->out();
  EXPECT_EQ(state_of(lines[0]), "Pending");
  EXPECT_EQ(state_of(lines[1]), "Running");
  EXPECT_EQ(state_of(lines[2]), "Completed");
  for (const auto& line : lines) EXPECT_NO_THROW(parse_time(line.substr(0, line.find(' '))));
  EXPECT_EQ(w->err(), "");
}

TEST_P(WatchCommand, PrintsEveryStateOnceEvenWhenTheyComeInABurst) {
  std::string id = create_run();
  auto w = watch(id, "PENDING", {"--json"});
  set_state(id, State::running());
  set_state(id, State::cancelling("stop"));
  set_state(id, State::cancelled("stopped by test"));
  EXPECT_EQ(w->wait_exit(kBoundMs), 1) << w->out() << w->err();
  std::vector<std::string> names;
  for (const auto& line : lines_of(w->out())) names.push_back(json::parse(line).at("name"));
  EXPECT_EQ(names, (std::vector<std::string>{"Pending", "Running", "Cancelling", "Cancelled"}))
      << w->out();
  EXPECT_EQ(json::parse(lines_of(w->out()).back())["message"], "stopped by test");
}

TEST_P(WatchCommand, ARunThatFailsExitsOne) {
  std::string id = create_run();
  set_state(id, State::running());
  auto w = watch(id, "Running");
  set_state(id, State::failed("disk full"));
  EXPECT_EQ(w->wait_exit(kBoundMs), 1) << w->out() << w->err();
  auto lines = lines_of(w->out());
  ASSERT_EQ(lines.size(), 2u) << w->out();
  EXPECT_EQ(state_of(lines[0]), "Running");
  EXPECT_EQ(state_of(lines[1]), "Failed");
  EXPECT_NE(lines[1].find("  disk full"), std::string::npos) << lines[1];
  EXPECT_EQ(w->err(), "");
}

struct FinalRow {
  State state;
  std::string name;
  int exit_code;
};

TEST_P(WatchCommand, AnAlreadyFinalRunPrintsItsStateAndExitsAtOnce) {
  const FinalRow rows[] = {
      {State::completed(), "Completed", 0},          {State::failed("boom"), "Failed", 1},
      {State::timed_out("too slow"), "TimedOut", 1}, {State::crashed("killed"), "Crashed", 1},
      {State::cancelled(), "Cancelled", 1},
  };
  for (const auto& row : rows) {
    std::string id = create_run();
    set_state(id, State::running());
    set_state(id, row.state, /*force=*/true);
    BatonChild w({"flow-run", "watch", id}, {});
    EXPECT_EQ(w.wait_exit(kBoundMs), row.exit_code) << row.name << "\n" << w.out() << w.err();
    auto lines = lines_of(w.out());
    ASSERT_EQ(lines.size(), 1u) << row.name << "\n" << w.out();
    EXPECT_EQ(state_of(lines[0]), row.name);
    EXPECT_EQ(w.err(), "") << row.name;
  }
}

TEST_P(WatchCommand, TimeoutExitsOneSayingSo) {
  std::string id = create_run();
  set_state(id, State::running());
  BatonChild w({"flow-run", "watch", id, "--timeout", "0.3"}, {});
  EXPECT_EQ(w.wait_exit(kBoundMs), 1) << w.out() << w.err();
  EXPECT_EQ(lines_of(w.out()).size(), 1u) << w.out();
  EXPECT_EQ(state_of(lines_of(w.out()).at(0)), "Running");
  EXPECT_NE(w.err().find("error: flow run " + id + " is still Running after 0.3 s (--timeout)"),
            std::string::npos)
      << w.err();
}

TEST_P(WatchCommand, UnknownOrMalformedIdsAndBadTimeoutsExitWithCodeTwo) {
  const std::string unknown = new_id();
  const std::string id = create_run();
  expect_bad_input({
      {"flow-run watch " + unknown, "no flow run with id " + unknown},
      {"flow-run watch " + unknown + " --timeout 1", "no flow run with id " + unknown},
      {"flow-run watch not-a-uuid", "'not-a-uuid' is not a flow run id"},
      {"flow-run watch " + id + " --timeout 0", "--timeout"},
      {"flow-run watch " + id + " --timeout -5", "--timeout"},
      {"flow-run watch " + id + " --timeout soon", "--timeout"},
      {"flow-run watch " + id + " --poll-interval 0", "--poll-interval"},
      {"flow-run watch", "id"},
  });
}

INSTANTIATE_TEST_SUITE_P(Transports, WatchCommand, testing::kCliTransports,
                         testing::cli_transport_name);

}  // namespace
}  // namespace baton
