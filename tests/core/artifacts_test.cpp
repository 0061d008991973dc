// Artifacts and variables from the SDK, against both transports: flows and tasks create every
// artifact type linked to their runs, keyed artifacts keep versions, progress advances, and
// variables are read, set, overwritten and unset.
#include <string>
#include <vector>

#include "model/ids.h"
#include "sdk_fixture.h"

namespace baton::testing {
namespace {

using nlohmann::json;

class SdkArtifacts : public SdkTest {
 protected:
  // Names unique to the test: the database (and the remote server) outlive a single test.
  static std::string unique(const std::string& base) { return base + "-" + new_id().substr(24); }

  json artifact(const std::string& id) {
    auto a = client().read_artifact(id);
    EXPECT_TRUE(a.has_value()) << id;
    return a.value_or(json::object());
  }
  std::vector<json> versions(const std::string& key) {
    ArtifactFilter f;
    f.keys = {key};
    return client().filter_artifacts(f);
  }
};

TEST_P(SdkArtifacts, AFlowAndItsTaskCreateEveryTypeLinkedToTheirRuns) {
  const std::string key = unique("report");
  std::string flow_run_id, task_run_id, table_id, link_id, progress_id;
  auto summarise = baton::task("summarise", [&](int rows) {
    task_run_id = engine::current_task_run_id();
    table_id = baton::create_table_artifact(json::array({{{"rows", rows}, {"ok", true}}}),
                                            key + "-table", "Rows by source");
    link_id = baton::create_link_artifact("https://example.org/data", "the data");
    return rows;
  });
  std::string markdown_id, image_id;
  auto f = baton::flow("artifact_flow", [&] {
    flow_run_id = engine::current_flow_run_id();
    progress_id = baton::create_progress_artifact(0, key + "-progress");
    int rows = summarise(3);
    baton::update_progress_artifact(progress_id, 50, "half way");
    markdown_id = baton::create_markdown_artifact("# Report\n" + std::to_string(rows) + " rows",
                                                  key, "Nightly report");
    image_id = baton::create_image_artifact("https://example.org/chart.png");
    baton::update_progress_artifact(progress_id, 100);
    return rows;
  });
  EXPECT_EQ(f(), 3);
  ASSERT_FALSE(flow_run_id.empty());
  ASSERT_FALSE(task_run_id.empty());

  auto md = artifact(markdown_id);
  EXPECT_EQ(md["type"], "markdown");
  EXPECT_EQ(md["data"], "# Report\n3 rows");
  EXPECT_EQ(md["key"], key);
  EXPECT_EQ(md["description"], "Nightly report");
  EXPECT_EQ(md["flow_run_id"], flow_run_id);
  EXPECT_EQ(md["task_run_id"], nullptr);  // created by the flow itself, not a task

  auto table = artifact(table_id);
  EXPECT_EQ(table["type"], "table");
  EXPECT_EQ(table["data"][0]["rows"], 3);
  EXPECT_EQ(table["flow_run_id"], flow_run_id);
  EXPECT_EQ(table["task_run_id"], task_run_id);

  auto link = artifact(link_id);
  EXPECT_EQ(link["type"], "link");
  EXPECT_EQ(link["data"], "[the data](https://example.org/data)");
  EXPECT_EQ(link["key"], nullptr);
  EXPECT_EQ(link["task_run_id"], task_run_id);

  auto image = artifact(image_id);
  EXPECT_EQ(image["type"], "image");
  EXPECT_EQ(image["data"], "https://example.org/chart.png");

  auto progress = artifact(progress_id);
  EXPECT_EQ(progress["type"], "progress");
  EXPECT_EQ(progress["data"], 100.0);
  EXPECT_EQ(progress["description"], "half way");     // kept when an update gives none
  EXPECT_EQ(versions(key + "-progress").size(), 1u);  // updated in place, not versioned

  // Every artifact of the run, found by its flow run id.
  ArtifactFilter by_run;
  by_run.flow_run_ids = {flow_run_id};
  EXPECT_EQ(client().filter_artifacts(by_run).size(), 5u);
  ArtifactFilter by_task;
  by_task.task_run_ids = {task_run_id};
  EXPECT_EQ(client().filter_artifacts(by_task).size(), 2u);
}

TEST_P(SdkArtifacts, AKeyKeepsEveryVersionNewestFirst) {
  const std::string key = unique("daily");
  auto f = baton::flow("versioned_flow", [&](int day) {
    return baton::create_markdown_artifact("day " + std::to_string(day), key);
  });
  std::string first = f(1), second = f(2), third = f(3);
  auto all = versions(key);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0]["id"], third);
  EXPECT_EQ(all[1]["id"], second);
  EXPECT_EQ(all[2]["id"], first);
  EXPECT_NE(all[0]["flow_run_id"], all[2]["flow_run_id"]);  // one run each
  auto latest = client().read_latest_artifact(key);
  ASSERT_TRUE(latest);
  EXPECT_EQ((*latest)["data"], "day 3");

  ArtifactFilter latest_only;
  latest_only.keys = {key};
  latest_only.latest_only = true;
  auto newest = client().filter_artifacts(latest_only);
  ASSERT_EQ(newest.size(), 1u);
  EXPECT_EQ(newest[0]["id"], third);

  EXPECT_TRUE(client().delete_artifact(third));
  EXPECT_FALSE(client().delete_artifact(third));
  EXPECT_EQ((*client().read_latest_artifact(key))["id"], second);
}

TEST_P(SdkArtifacts, OutsideARunAnArtifactStandsAlone) {
  auto id = baton::create_markdown_artifact("standalone");
  auto a = artifact(id);
  EXPECT_EQ(a["flow_run_id"], nullptr);
  EXPECT_EQ(a["task_run_id"], nullptr);
}

struct BadArtifact {
  const char* name;
  std::function<void()> call;
  const char* field;
};

TEST_P(SdkArtifacts, BadInputNamesTheField) {
  const std::string markdown_id = baton::create_markdown_artifact("not progress");
  const BadArtifact rows[] = {
      {"bad key", [] { baton::create_markdown_artifact("x", "Bad Key"); }, "key"},
      {"table of numbers",
       [] {
         baton::create_table_artifact(json::array({1, 2}));
       },
       "data.0"},
      {"table not rows", [] { baton::create_table_artifact(json("text")); }, "data"},
      {"ragged columns",
       [] {
         baton::create_table_artifact(json{{"a", {1}}, {"b", {1, 2}}});
       },
       "data.b"},
      {"progress over 100", [] { baton::create_progress_artifact(101); }, "data"},
      {"progress below 0", [] { baton::create_progress_artifact(-1); }, "data"},
      {"empty link", [] { baton::create_link_artifact(""); }, "data"},
      {"empty image", [] { baton::create_image_artifact(""); }, "data"},
      {"update not an id", [] { baton::update_progress_artifact("nope", 1); }, "id"},
      {"update markdown", [&] { baton::update_progress_artifact(markdown_id, 1); }, "id"},
  };
  for (const auto& row : rows) {
    try {
      row.call();
      ADD_FAILURE() << row.name << ": no error";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument) << row.name << ": " << e.what();
      EXPECT_EQ(e.field(), row.field) << row.name << ": " << e.what();
    }
  }
  try {
    baton::update_progress_artifact(new_id(), 1);
    ADD_FAILURE() << "unknown id: no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kNotFound) << e.what();
  }
  auto progress = baton::create_progress_artifact(10);
  EXPECT_THROW(baton::update_progress_artifact(progress, 100.5), Error);
  EXPECT_EQ(artifact(progress)["data"], 10.0);  // a rejected update changes nothing
}

TEST_P(SdkArtifacts, VariablesAreSetReadOverwrittenAndUnset) {
  const std::string name = "threshold_" + new_id().substr(24);
  EXPECT_FALSE(baton::variables::get(name));
  EXPECT_EQ(baton::variables::get(name, 7), 7);
  EXPECT_EQ(baton::variables::get(name, "fallback"), "fallback");

  auto made = baton::variables::set(name, 42, {.tags = {"prod"}});
  EXPECT_EQ(made["value"], 42);
  EXPECT_EQ(made["tags"], json::array({"prod"}));
  EXPECT_EQ(baton::variables::get(name), json(42));
  EXPECT_EQ(baton::variables::get(name, 7), 42);
  EXPECT_DOUBLE_EQ(baton::variables::get(name, 0.5), 42.0);

  // Setting a name in use needs overwrite; without it nothing changes.
  try {
    baton::variables::set(name, 1);
    ADD_FAILURE() << "no conflict";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kConflict) << e.what();
    EXPECT_NE(std::string(e.what()).find("overwrite"), std::string::npos) << e.what();
  }
  EXPECT_EQ(baton::variables::get(name, 0), 42);
  auto replaced = baton::variables::set(name, json{{"low", 1}, {"high", 9}}, {.overwrite = true});
  EXPECT_EQ(replaced["value"]["high"], 9);
  EXPECT_EQ(replaced["tags"], json::array({"prod"}));  // kept: no tags given
  EXPECT_EQ(replaced["id"], made["id"]);
  auto as_map = baton::variables::get(name, std::map<std::string, int>{});
  EXPECT_EQ(as_map.at("low"), 1);
  EXPECT_EQ(baton::variables::set(name, "s", {.overwrite = true, .tags = {"a", "b"}})["tags"],
            json::array({"a", "b"}));

  // A value of the wrong type for the typed get names the variable.
  try {
    baton::variables::get(name, 5);
    ADD_FAILURE() << "no type error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    EXPECT_EQ(e.field(), "variables." + name);
  }

  // Readable inside a run, like anywhere else.
  auto f =
      baton::flow("variable_flow", [&] { return baton::variables::get<std::string>(name, ""); });
  EXPECT_EQ(f(), "s");

  EXPECT_TRUE(baton::variables::unset(name));
  EXPECT_FALSE(baton::variables::unset(name));
  EXPECT_FALSE(baton::variables::get(name));
}

TEST_P(SdkArtifacts, BadVariableInputNamesTheField) {
  const std::pair<const char*, std::function<void()>> rows[] = {
      {"name", [] { baton::variables::get("Not Valid"); }},
      {"name", [] { baton::variables::get(""); }},
      {"name", [] { baton::variables::set("has space", 1); }},
      {"name", [] { baton::variables::unset("UPPER"); }},
      {"value",
       [] { baton::variables::set("too_big_" + new_id().substr(24), std::string(6000, 'x')); }},
  };
  for (const auto& [field, call] : rows) {
    try {
      call();
      ADD_FAILURE() << field << ": no error";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument) << e.what();
      EXPECT_EQ(e.field(), field) << e.what();
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Transports, SdkArtifacts, ::testing::ValuesIn(sdk_transports()),
                         transport_name);

}  // namespace
}  // namespace baton::testing
