// `baton events stream` against the real server: the CLI runs as a child process, subscribes over
// the websocket, and prints the events of state changes caused over HTTP while it runs. Every
// wait is bounded and ends as soon as the awaited output appears.
#include <gtest/gtest.h>
#include <signal.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "client/http_client.h"
#include "server_process.h"

namespace baton {
namespace {
using nlohmann::json;
using testing::BatonChild;
using testing::ServerProcess;

constexpr int kBoundMs = 20'000;
// Printed on stderr once the server confirmed the subscription: events from then on are seen.
constexpr const char* kSubscribed = "Streaming events from";

class EventsStreamCli : public ::testing::Test {
 protected:
  ServerProcess server_;
  HttpClient http_{server_.url(), ""};
  std::map<std::string, std::string> env_{{"BATON_API_URL", server_.url()},
                                          {"BATON_HOME", server_.home()}};

  std::string create_flow_run() {
    auto r = http_.request("POST", "/flow_runs/", json{{"flow_name", "etl"}}.dump());
    EXPECT_EQ(r.status, 201) << r.body;
    return json::parse(r.body)["id"];
  }
  void set_state(const std::string& id, const std::string& type) {
    auto r = http_.request("POST", "/flow_runs/" + id + "/set_state",
                           json{{"state", {{"type", type}}}}.dump());
    EXPECT_EQ(r.status, 201) << r.body;
  }
};

std::vector<json> json_lines(const std::string& text) {
  std::vector<json> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(json::parse(line, nullptr, false));
  return out;
}

TEST_F(EventsStreamCli, PrintsAStateChangeAsItHappens) {
  BatonChild stream({"events", "stream", "--event", "baton.flow-run."}, env_);
  ASSERT_TRUE(stream.wait_for(kSubscribed, true, kBoundMs)) << stream.err();
  std::string id = create_flow_run();
  set_state(id, "RUNNING");
  ASSERT_TRUE(stream.wait_for("baton.flow-run.Running", false, kBoundMs)) << stream.out();
  // One human line per event: time, event name, resource id.
  EXPECT_NE(stream.out().find("baton.flow-run.Pending  baton.flow-run." + id), std::string::npos)
      << stream.out();
  EXPECT_NE(stream.out().find("baton.flow-run.Running  baton.flow-run." + id), std::string::npos)
      << stream.out();
  EXPECT_EQ(stream.stop(SIGINT), 128 + SIGINT);
}

TEST_F(EventsStreamCli, FilterAndLimitSelectEventsAndEndTheStream) {
  std::string before = create_flow_run();  // happened before the stream: not replayed
  BatonChild stream(
      {"events", "stream", "--json", "--limit", "2", "--filter",
       R"({"event": {"name": ["baton.flow-run.Running", "baton.flow-run.Completed"]}})"},
      env_);
  ASSERT_TRUE(stream.wait_for(kSubscribed, true, kBoundMs)) << stream.err();
  std::string id = create_flow_run();  // Pending: filtered out
  set_state(id, "RUNNING");
  set_state(id, "COMPLETED");
  // --limit 2: the CLI exits by itself after the second event.
  EXPECT_EQ(stream.wait_exit(kBoundMs), 0) << stream.err();
  auto events = json_lines(stream.out());
  ASSERT_EQ(events.size(), 2u) << stream.out();
  EXPECT_EQ(events[0]["event"], "baton.flow-run.Running");
  EXPECT_EQ(events[1]["event"], "baton.flow-run.Completed");
  for (const auto& e : events) {
    EXPECT_EQ(e["resource"]["baton.resource.id"], "baton.flow-run." + id);
    EXPECT_TRUE(e["payload"]["validated_state"].is_object());
  }
  EXPECT_NE(before, id);
}

struct BadStream {
  const char* name;
  std::vector<std::string> args;
  const char* says;  // in the one-line error
};

// gtest names a case by its name instead of printing its bytes.
void PrintTo(const BadStream& c, std::ostream* os) { *os << c.name; }

class EventsStreamCliBad : public EventsStreamCli,
                           public ::testing::WithParamInterface<BadStream> {};

TEST_P(EventsStreamCliBad, ExitsWithCodeTwoAndAClearError) {
  const auto& c = GetParam();
  std::vector<std::string> args{"events", "stream"};
  args.insert(args.end(), c.args.begin(), c.args.end());
  BatonChild stream(args, env_);
  EXPECT_EQ(stream.wait_exit(kBoundMs), 2) << stream.err();
  EXPECT_NE(stream.err().find(c.says), std::string::npos) << stream.err();
  EXPECT_TRUE(stream.out().empty()) << stream.out();
}

INSTANTIATE_TEST_SUITE_P(
    Cases, EventsStreamCliBad,
    ::testing::Values(
        BadStream{"filter_not_json", {"--filter", "{nope"}, "--filter"},
        BadStream{"filter_not_object", {"--filter", "[1]"}, "--filter"},
        BadStream{"filter_refused_by_server", {"--filter", R"({"colour": "red"})"}, "colour"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(EventsStreamCliNoServer, SaysTheServerIsUnreachable) {
  // A port nothing listens on: the server just stopped frees its port.
  std::string url;
  {
    ServerProcess gone;
    url = gone.url();
  }
  BatonChild stream({"events", "stream"}, {{"BATON_API_URL", url}});
  EXPECT_EQ(stream.wait_exit(kBoundMs), 1) << stream.err();  // unavailable
  EXPECT_EQ(stream.err().rfind("error: ", 0), 0u) << stream.err();
}

}  // namespace
}  // namespace baton
