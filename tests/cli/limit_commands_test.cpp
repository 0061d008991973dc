// `baton concurrency-limit` and `baton global-concurrency-limit` (alias gcl), run as the real
// executable against the embedded database and against the real server (BATON_API_URL): the same
// commands must give the same results through both transports.
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

class LimitCommands : public testing::CliTransportTest {};

TEST_P(LimitCommands, TagLimitLifecycleShowsAndResetsTheSlotsInUse) {
  EXPECT_NE(ok("concurrency-limit create db 1").find("Tag 'db' may now run 1"), std::string::npos);
  auto listed = ok_json("concurrency-limit ls --json");
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0]["tag"], "db");
  EXPECT_EQ(listed[0]["limit"], 1);

  // A task run takes the tag's only slot, as the SDK does for a task tagged "db".
  auto held = client_->acquire_concurrency_slots({"tag:db"}, 1, 60, new_id());
  ASSERT_EQ(held.status, ConcurrencySlots::Status::kGranted);
  EXPECT_EQ(ok_json("concurrency-limit inspect db --json")["active_slots"], 1);
  EXPECT_NE(ok("concurrency-limit ls").find("1/1"), std::string::npos);
  EXPECT_EQ(client_->acquire_concurrency_slots({"tag:db"}, 1, 60, new_id()).status,
            ConcurrencySlots::Status::kWait);

  EXPECT_NE(ok("concurrency-limit reset db").find("0/1 slots in use"), std::string::npos);
  EXPECT_EQ(ok_json("concurrency-limit inspect db --json")["active_slots"], 0);
  EXPECT_EQ(client_->acquire_concurrency_slots({"tag:db"}, 1, 60, new_id()).status,
            ConcurrencySlots::Status::kGranted);

  // create on an existing tag changes its size (Prefect's create is an upsert too).
  ok("concurrency-limit create db 3");
  auto db = ok_json("concurrency-limit inspect db --json");
  EXPECT_EQ(db["limit"], 3);
  EXPECT_EQ(db["name"], "tag:db");

  ok("concurrency-limit delete db");
  EXPECT_TRUE(ok_json("concurrency-limit ls --json").empty());
  EXPECT_EQ(run_baton("concurrency-limit delete db").exit_code, 2);
}

TEST_P(LimitCommands, GlobalLimitsAreCreatedChangedAndDeleted) {
  ok("gcl create 'nightly batch' --limit 2 --slot-decay-per-second 0.5");
  auto limit = ok_json("global-concurrency-limit inspect 'nightly batch' --json");
  EXPECT_EQ(limit["limit"], 2);
  EXPECT_EQ(limit["slot_decay_per_second"], 0.5);
  EXPECT_EQ(limit["active"], true);
  // By id as well as by name.
  EXPECT_EQ(ok_json("gcl inspect " + limit["id"].get<std::string>() + " --json")["name"],
            "nightly batch");

  ok("gcl update 'nightly batch' --limit 4 --disable");
  limit = ok_json("gcl inspect 'nightly batch' --json");
  EXPECT_EQ(limit["limit"], 4);
  EXPECT_EQ(limit["active"], false);
  ok("gcl enable 'nightly batch'");
  EXPECT_EQ(ok_json("gcl inspect 'nightly batch' --json")["active"], true);

  ok("concurrency-limit create db 1");
  std::string table = ok("gcl ls");
  EXPECT_NE(table.find("nightly batch"), std::string::npos) << table;
  EXPECT_NE(table.find("tag:db"), std::string::npos) << table;

  auto again = run_baton("gcl create 'nightly batch' --limit 1");
  EXPECT_NE(again.exit_code, 0);
  EXPECT_NE(again.err.find("already exists"), std::string::npos) << again.err;

  ok("gcl delete 'nightly batch'");
  EXPECT_EQ(ok_json("gcl ls --json").size(), 1u);
}

TEST_P(LimitCommands, BadInputIsAOneLineErrorWithExitCode2) {
  ok("gcl create api --limit 1");
  expect_bad_input({
      {"gcl create x --limit -1", "--limit"},
      {"gcl create x", "--limit is required"},
      {"gcl create x --limit 1 --slot-decay-per-second -2", "--slot-decay-per-second"},
      {"gcl update api", "nothing to change"},
      {"gcl update api --enable --disable", "excludes"},
      {"gcl update nope --limit 1", "no concurrency limit 'nope'"},
      {"gcl inspect nope", "no concurrency limit 'nope'"},
      {"gcl reset nope", "no concurrency limit 'nope'"},
      {"gcl delete nope", "no concurrency limit 'nope'"},
      {"concurrency-limit inspect nope", "no tag concurrency limit for 'nope'"},
      {"concurrency-limit reset nope", "no tag concurrency limit for 'nope'"},
      {"concurrency-limit create db many", "limit"},
      {"concurrency-limit create '' 1", "tag"},
      {"concurrency-limit", "subcommand"},
  });
  EXPECT_EQ(ok_json("gcl inspect api --json")["limit"], 1);  // nothing changed by the bad calls
}

INSTANTIATE_TEST_SUITE_P(Transports, LimitCommands, testing::kCliTransports,
                         testing::cli_transport_name);

}  // namespace
}  // namespace baton
