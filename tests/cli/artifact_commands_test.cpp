// `baton artifact` and `baton variable`, run as the real executable against the embedded database
// and against the real server (BATON_API_URL): the same commands must give the same results
// through both transports.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/cli_transport_test.h"
#include "client/orchestration_client.h"
#include "model/ids.h"

namespace baton {
namespace {

using nlohmann::json;
using testing::run_baton;

class ArtifactCommands : public testing::CliTransportTest {
 protected:
  std::string artifact(const std::string& key, const std::string& type, const json& data) {
    json a{{"type", type}, {"data", data}};
    if (!key.empty()) a["key"] = key;
    return client_->create_artifact(a).at("id").get<std::string>();
  }
};

TEST_P(ArtifactCommands, ListInspectAndDeleteArtifacts) {
  std::string v1 = artifact("report", "markdown", "# first");
  std::string v2 = artifact("report", "markdown", "# second");
  std::string rows = artifact("rows", "table", json::array({{{"a", 1}}}));
  std::string loose = artifact("", "link", "https://example.org");
  std::string progress = artifact("load", "progress", 40);

  // By default, the newest version of each key; unkeyed artifacts only with --all-versions.
  auto latest = ok_json("artifact ls --json");
  ASSERT_EQ(latest.size(), 3u);
  std::vector<std::string> ids;
  for (const auto& a : latest) ids.push_back(a["id"]);
  EXPECT_NE(std::find(ids.begin(), ids.end(), v2), ids.end());
  EXPECT_EQ(std::find(ids.begin(), ids.end(), v1), ids.end());
  EXPECT_EQ(ok_json("artifact ls --all-versions --json").size(), 5u);
  EXPECT_EQ(ok_json("artifact ls --all-versions --limit 2 --json").size(), 2u);
  auto report = ok_json("artifact ls --key report --all-versions --json");
  ASSERT_EQ(report.size(), 2u);
  std::string table = ok("artifact ls");
  EXPECT_NE(table.find("rows"), std::string::npos) << table;
  EXPECT_NE(table.find("table"), std::string::npos) << table;
  EXPECT_EQ(table.find(loose), std::string::npos) << table;

  // inspect: every version, newest first.
  auto versions = ok_json("artifact inspect report --json");
  ASSERT_EQ(versions.size(), 2u);
  EXPECT_EQ(versions[0]["id"], v2);
  EXPECT_EQ(versions[1]["id"], v1);
  std::string text = ok("artifact inspect report");
  EXPECT_LT(text.find("# second"), text.find("# first")) << text;
  EXPECT_NE(ok("artifact inspect load").find("40%"), std::string::npos);

  // delete by id removes one version; by key, every version.
  EXPECT_NE(ok("artifact delete " + v2).find(v2), std::string::npos);
  EXPECT_EQ(ok_json("artifact inspect report --json").size(), 1u);
  ok("artifact delete " + loose);
  EXPECT_EQ(ok_json("artifact ls --all-versions --json").size(), 3u);
  artifact("report", "markdown", "# third");
  EXPECT_NE(ok("artifact delete report").find("2 version(s)"), std::string::npos);
  EXPECT_EQ(run_baton("artifact inspect report").exit_code, 2);
  EXPECT_FALSE(client_->read_artifact(v1));
  EXPECT_TRUE(client_->read_artifact(progress));
}

TEST_P(ArtifactCommands, VariablesAreSetReadAndUnset) {
  EXPECT_NE(ok("variable set batch_size 100").find("100"), std::string::npos);
  ok("variable set greeting hello --tag a --tag b");
  ok(R"(variable set limits '{"low": 1, "high": [2, 3]}')");
  ok("variable set quoted '\"7\"'");

  // A VALUE that parses as JSON is stored as that JSON; anything else as a string.
  EXPECT_EQ(client_->read_variable("batch_size")->at("value"), 100);
  EXPECT_EQ(client_->read_variable("greeting")->at("value"), "hello");
  EXPECT_EQ(client_->read_variable("limits")->at("value")["high"][1], 3);
  EXPECT_EQ(client_->read_variable("quoted")->at("value"), "7");
  EXPECT_EQ(ok("variable get greeting"), "hello\n");
  EXPECT_EQ(ok("variable get batch_size"), "100\n");

  auto inspected = ok_json("variable inspect greeting --json");
  EXPECT_EQ(inspected["tags"], json::array({"a", "b"}));
  EXPECT_NE(ok("variable inspect greeting").find("[\"a\",\"b\"]"), std::string::npos);

  auto listed = ok_json("variable ls --json");
  ASSERT_EQ(listed.size(), 4u);
  EXPECT_EQ(listed[0]["name"], "batch_size");  // by name
  std::string table = ok("variable ls");
  EXPECT_NE(table.find("greeting"), std::string::npos) << table;
  EXPECT_NE(table.find("a,b"), std::string::npos) << table;

  // A name in use needs --overwrite; the refused set changes nothing.
  auto taken = run_baton("variable set batch_size 5");
  EXPECT_NE(taken.exit_code, 0);
  EXPECT_NE(taken.err.find("already exists"), std::string::npos) << taken.err;
  EXPECT_EQ(ok("variable get batch_size"), "100\n");
  ok("variable set batch_size 5 --overwrite");
  EXPECT_EQ(ok("variable get batch_size"), "5\n");

  EXPECT_NE(ok("variable unset greeting").find("greeting"), std::string::npos);
  EXPECT_FALSE(client_->read_variable("greeting"));
  EXPECT_EQ(ok_json("variable ls --json").size(), 3u);
}

TEST_P(ArtifactCommands, BadInputIsAOneLineErrorWithExitCode2) {
  ok("variable set kept 1");
  artifact("kept", "markdown", "x");
  expect_bad_input({
      {"artifact", "subcommand"},
      {"artifact ls --limit 0", "--limit"},
      {"artifact ls --key 'Bad Key'", "not a valid artifact key"},
      {"artifact inspect nope", "no artifact with key 'nope'"},
      {"artifact inspect 'Bad Key'", "not a valid artifact key"},
      {"artifact inspect", "key is required"},
      {"artifact delete 0190a6e2-7c3f-7b41-8d2e-5f3a9c1b2d4e", "no artifact with id"},
      {"artifact delete nope", "no artifact with key 'nope'"},
      {"artifact delete 'Not A Key'", "not a valid artifact key"},
      {"variable", "subcommand"},
      {"variable get nope", "no variable named 'nope'"},
      {"variable get 'Bad Name'", "not a valid variable name"},
      {"variable inspect nope", "no variable named 'nope'"},
      {"variable unset nope", "no variable named 'nope'"},
      {"variable set 'Bad Name' 1", "not a valid variable name"},
      {"variable set big " + std::string(6000, 'x'), "at most 5000 characters"},
      {"variable set onlyname", "value is required"},
  });
  // Nothing changed by the bad calls.
  EXPECT_EQ(ok("variable get kept"), "1\n");
  EXPECT_EQ(ok_json("variable ls --json").size(), 1u);
  EXPECT_EQ(ok_json("artifact ls --all-versions --json").size(), 1u);
}

INSTANTIATE_TEST_SUITE_P(Transports, ArtifactCommands, testing::kCliTransports,
                         testing::cli_transport_name);

}  // namespace
}  // namespace baton
