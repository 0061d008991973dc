// `baton events stream` and `baton events emit` against the real server: the CLI runs as a child
// process, subscribes over the websocket, and prints the events of state changes caused over HTTP
// while it runs. Every wait is bounded and ends as soon as the awaited output appears.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <sstream>

#include "client/http_client.h"
#include "baton/state.h"
#include "model/ids.h"
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

// `baton events emit`: one event posted to the server, stored and streamed like any other.
class EventsEmitCli : public EventsStreamCli {
 protected:
  json stored(const std::string& resource_id) {
    auto r = http_.request("POST", "/events/filter",
                           json{{"filter", {{"resource", {{"id", {resource_id}}}}}}}.dump());
    EXPECT_EQ(r.status, 200) << r.body;
    return json::parse(r.body)["events"];
  }
};

TEST_F(EventsEmitCli, PostsTheEventWhichIsStoredAndStreamed) {
  BatonChild stream({"events", "stream", "--json", "--limit", "1", "--event", "acme."}, env_);
  ASSERT_TRUE(stream.wait_for(kSubscribed, true, kBoundMs)) << stream.err();
  const json related =
      json::array({{{"baton.resource.id", "acme.table.users"}, {"baton.resource.role", "target"}}});
  auto emitted =
      testing::run_baton({"events", "emit", "acme.model.trained", "--resource-id",
                          "acme.model.churn", "--resource", R"({"baton.resource.name": "churn"})",
                          "--payload", R"({"rows": 42, "auc": 0.91})", "--related", related.dump()},
                         env_);
  ASSERT_EQ(emitted.exit_code, 0) << emitted.err;
  // The event's id, alone on its line.
  ASSERT_EQ(emitted.out.size(), 37u) << emitted.out;
  std::string id = emitted.out.substr(0, 36);
  EXPECT_TRUE(is_uuid(id)) << emitted.out;

  EXPECT_EQ(stream.wait_exit(kBoundMs), 0) << stream.err();
  auto live = json_lines(stream.out());
  ASSERT_EQ(live.size(), 1u) << stream.out();
  auto events = stored("acme.model.churn");
  ASSERT_EQ(events.size(), 1u) << events.dump();
  for (const json& e : {live[0], events[0]}) {
    EXPECT_EQ(e["id"], id);
    EXPECT_EQ(e["event"], "acme.model.trained");
    EXPECT_EQ(e["resource"],
              json({{"baton.resource.id", "acme.model.churn"}, {"baton.resource.name", "churn"}}));
    EXPECT_EQ(e["payload"], json({{"rows", 42}, {"auc", 0.91}}));
    EXPECT_EQ(e["related"], related);
    EXPECT_NO_THROW(parse_time(e["occurred"].get<std::string>()));
  }
}

TEST_F(EventsEmitCli, JsonPrintsTheStoredEvent) {
  // One related object is taken as a list of one; no payload is an empty one.
  auto emitted = testing::run_baton(
      {"events", "emit", "acme.backup.done", "--resource-id", "acme.host.db1", "--related",
       R"({"baton.resource.id": "acme.disk.7", "baton.resource.role": "source"})", "--json"},
      env_);
  ASSERT_EQ(emitted.exit_code, 0) << emitted.err;
  json printed = json::parse(emitted.out);
  auto events = stored("acme.host.db1");
  ASSERT_EQ(events.size(), 1u) << events.dump();
  EXPECT_EQ(printed, events[0]);
  EXPECT_EQ(printed["event"], "acme.backup.done");
  EXPECT_EQ(printed["payload"], json::object());
  ASSERT_EQ(printed["related"].size(), 1u);
  EXPECT_EQ(printed["related"][0]["baton.resource.role"], "source");
}

struct BadEmit {
  const char* name;
  std::vector<std::string> args;  // after `events emit`
  const char* says;               // in the one-line error
};
void PrintTo(const BadEmit& c, std::ostream* os) { *os << c.name; }

class EventsEmitCliBad : public EventsEmitCli, public ::testing::WithParamInterface<BadEmit> {};

TEST_P(EventsEmitCliBad, ExitsWithCodeTwoNamingTheOptionAndStoresNothing) {
  const auto& c = GetParam();
  std::vector<std::string> args{"events", "emit"};
  args.insert(args.end(), c.args.begin(), c.args.end());
  auto r = testing::run_baton(args, env_);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find(c.says), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_TRUE(stored("r").empty());
}

INSTANTIATE_TEST_SUITE_P(
    Cases, EventsEmitCliBad,
    ::testing::Values(
        BadEmit{"payload_not_json",
                {"e.x", "--resource-id", "r", "--payload", "{rows: 1"},
                "--payload must be a JSON object"},
        BadEmit{"payload_not_object",
                {"e.x", "--resource-id", "r", "--payload", "[1]"},
                "--payload must be a JSON object"},
        BadEmit{"resource_not_json",
                {"e.x", "--resource-id", "r", "--resource", "nope"},
                "--resource must be a JSON object"},
        BadEmit{"resource_other_id",
                {"e.x", "--resource-id", "r", "--resource", R"({"baton.resource.id": "s"})"},
                "--resource-id names 'r'"},
        BadEmit{"related_not_json",
                {"e.x", "--resource-id", "r", "--related", "[{"},
                "--related must be a JSON array"},
        BadEmit{"related_not_objects",
                {"e.x", "--resource-id", "r", "--related", "[1, 2]"},
                "--related must hold objects"},
        BadEmit{"related_a_string",
                {"e.x", "--resource-id", "r", "--related", R"("db")"},
                "--related must be a JSON array"},
        BadEmit{"no_resource_id", {"e.x"}, "--resource-id is required"},
        BadEmit{"empty_resource_id", {"e.x", "--resource-id", ""}, "the resource id is empty"},
        BadEmit{"empty_event", {"", "--resource-id", "r"}, "the event name is empty"},
        BadEmit{"no_event", {"--resource-id", "r"}, "event"},
        BadEmit{"unknown_option", {"e.x", "--resource-id", "r", "--colour", "red"}, "--colour"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(EventsEmitCliNoServer, SaysTheServerIsUnreachable) {
  std::string url;
  {
    ServerProcess gone;
    url = gone.url();
  }
  auto r =
      testing::run_baton({"events", "emit", "e.x", "--resource-id", "r"}, {{"BATON_API_URL", url}});
  EXPECT_EQ(r.exit_code, 1) << r.err;  // unavailable
  EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find(url), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
}

}  // namespace
}  // namespace baton
