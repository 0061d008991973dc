#include "model/ids.h"

#include <gtest/gtest.h>

#include <set>

namespace baton {
namespace {

TEST(Ids, AreVersion7UuidsInCreationOrder) {
  std::string previous;
  std::set<std::string> seen;
  for (int i = 0; i < 10000; ++i) {
    std::string id = new_id();
    ASSERT_TRUE(is_uuid(id)) << id;
    ASSERT_EQ(id[14], '7') << id;                                    // version
    ASSERT_NE(std::string("89ab").find(id[19]), std::string::npos);  // variant
    ASSERT_LT(previous, id) << "ids must sort in creation order";
    ASSERT_TRUE(seen.insert(id).second);
    previous = id;
  }
}

TEST(Ids, IsUuidRejectsMalformedText) {
  EXPECT_FALSE(is_uuid(""));
  EXPECT_FALSE(is_uuid("not-a-uuid"));
  EXPECT_FALSE(is_uuid("0190a6e2-7c3f-7b41-8d2e-5f3a9c1b2d4g"));
  EXPECT_TRUE(is_uuid("0190a6e2-7c3f-7b41-8d2e-5f3a9c1b2d4e"));
}

}  // namespace
}  // namespace baton
