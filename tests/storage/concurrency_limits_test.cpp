// ConcurrencyLimits in the storage layer: the limits the server's routes and the embedded
// client's task-run tag limits share. Several instances over one SQLite file (the server and an
// embedded program) must never over-commit a limit between them.
#include "storage/concurrency_limits.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "baton/error.h"
#include "storage_test_util.h"

namespace baton::storage {
namespace {

TEST(ConcurrencyLimits, AcquiresEveryNamedLimitOrNone) {
  std::string db = testing::fresh_db();
  ConcurrencyLimits limits(db);
  limits.upsert("tag:db", 1);
  limits.upsert("tag:api", 2);
  auto first = limits.acquire({"tag:db", "tag:api"}, 1, "concurrency", 60, "run-1");
  ASSERT_TRUE(first.granted);
  EXPECT_FALSE(first.lease_id.empty());
  // tag:db is full: nothing is taken from tag:api either.
  auto second = limits.acquire({"tag:api", "tag:db"}, 1, "concurrency", 60, "run-2");
  EXPECT_FALSE(second.granted);
  EXPECT_EQ(second.blocking_limit, "tag:db");
  EXPECT_GT(second.retry_after_s, 0);
  EXPECT_EQ(limits.read("tag:api")["active_slots"], 1);
  EXPECT_EQ(limits.read("tag:db")["denied_slots"], 1);
  EXPECT_TRUE(limits.release(first.lease_id));
  EXPECT_FALSE(limits.release(first.lease_id));  // already given back
  EXPECT_EQ(limits.read("tag:db")["active_slots"], 0);
  EXPECT_TRUE(limits.acquire({"tag:api", "tag:db"}, 1, "concurrency", 60, "run-2").granted);
}

TEST(ConcurrencyLimits, NamesWithoutAnActiveLimitDoNotConstrain) {
  ConcurrencyLimits limits(testing::fresh_db());
  auto none = limits.acquire({"tag:nothing", "tag:else"}, 5, "concurrency", 60, "");
  EXPECT_TRUE(none.granted);
  EXPECT_TRUE(none.lease_id.empty());  // nothing to give back
  limits.create("tag:off", 0, /*active=*/false, 0);
  EXPECT_TRUE(limits.acquire({"tag:off"}, 1, "concurrency", 60, "").granted);
}

TEST(ConcurrencyLimits, ALimitSmallerThanTheAskIsAnErrorNamingSlots) {
  ConcurrencyLimits limits(testing::fresh_db());
  limits.upsert(std::string(kTagLimitPrefix) + "never", 0);
  try {
    limits.acquire({"tag:never"}, 1, "concurrency", 60, "");
    ADD_FAILURE() << "expected invalid_argument";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    EXPECT_EQ(e.field(), "slots");
    EXPECT_NE(std::string(e.what()).find("tag:never"), std::string::npos);
  }
}

TEST(ConcurrencyLimits, InstancesSharingTheFileNeverOverCommit) {
  std::string db = testing::fresh_db();
  ConcurrencyLimits server(db), program(db);
  server.upsert("tag:db", 2);
  std::atomic<int> held{0}, most{0}, granted{0};
  auto worker = [&](ConcurrencyLimits& limits) {
    for (int i = 0; i < 40; ++i) {
      auto got = limits.acquire({"tag:db"}, 1, "concurrency", 60, "");
      if (!got.granted) continue;
      int now = ++held;
      int seen = most.load();
      while (now > seen && !most.compare_exchange_weak(seen, now)) {
      }
      ++granted;
      --held;
      limits.release(got.lease_id);
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back(worker, std::ref(server));
    threads.emplace_back(worker, std::ref(program));
  }
  for (auto& t : threads) t.join();
  EXPECT_LE(most.load(), 2);
  EXPECT_GT(granted.load(), 0);
  EXPECT_EQ(server.read("tag:db")["active_slots"], 0);
}

}  // namespace
}  // namespace baton::storage
