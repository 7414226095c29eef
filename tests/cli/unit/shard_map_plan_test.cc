#include "cli/shard_map_plan.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "cli/output.h"

namespace tessera::cli {
namespace {

namespace json = boost::json;

json::value shardMap(const char* assignments, int count = 100) {
  return json::parse(R"({"apiVersion":"tessera.io/v1","kind":"ShardMap",)"
                     R"("metadata":{"name":"default","resourceVersion":"7"},)"
                     R"("spec":{"bucketCount":)" +
                     std::to_string(count) + R"(,"assignments":)" + assignments +
                     R"(,"reason":"old"},"status":{"version":3}})");
}

std::string assignmentsOf(const json::value& v) {
  return json::serialize(*at(v, "spec.assignments"));
}

TEST(ShardMapPlanTest, MovesFromEveryOwnerAndKeepsTheRest) {
  auto plan = planMove(shardMap(R"([{"cell":"rz-a","buckets":"0-49"},
                                    {"cell":"rz-b","buckets":"50-89"},
                                    {"cell":"rz-c","buckets":"90-99"}])"),
                       {45, 46, 47, 48, 49, 55, 95}, "rz-c", "drill");
  ASSERT_TRUE(plan.isOk()) << plan.status().toString();
  ASSERT_EQ(plan->moves.size(), 2u);
  EXPECT_EQ(plan->moves[0].from, "rz-a");
  EXPECT_EQ(plan->moves[0].buckets, (std::vector<int>{45, 46, 47, 48, 49}));
  EXPECT_EQ(plan->moves[1].from, "rz-b");
  EXPECT_EQ(plan->moves[1].buckets, (std::vector<int>{55}));
  EXPECT_EQ(plan->alreadyOwned, (std::vector<int>{95}));
  EXPECT_EQ(plan->moved(), 6);
  EXPECT_EQ(assignmentsOf(plan->updated),
            R"([{"cell":"rz-a","buckets":"0-44"},{"cell":"rz-b","buckets":"50-54,56-89"},)"
            R"({"cell":"rz-c","buckets":"45-49,55,90-99"}])");
  EXPECT_EQ(text(plan->updated, "spec.reason"), "drill");
  // The metadata (resourceVersion: the update's precondition) is kept.
  EXPECT_EQ(text(plan->updated, "metadata.resourceVersion"), "7");
}

TEST(ShardMapPlanTest, ANewOwnerGetsAnAssignmentAndAnEmptiedOneIsDropped) {
  auto plan = planMove(shardMap(R"([{"cell":"rz-a","buckets":"0-9"},
                                    {"cell":"rz-b","buckets":"10-19"}])",
                                20),
                       {10, 11, 12, 13, 14, 15, 16, 17, 18, 19}, "rz-new", "");
  ASSERT_TRUE(plan.isOk()) << plan.status().toString();
  EXPECT_EQ(assignmentsOf(plan->updated),
            R"([{"cell":"rz-a","buckets":"0-9"},{"cell":"rz-new","buckets":"10-19"}])");
  // Without --reason the change explains itself (not the previous change's reason).
  EXPECT_EQ(text(plan->updated, "spec.reason"), "tessctl shardmap move: 10-19 rz-b → rz-new");
}

TEST(ShardMapPlanTest, NothingToMoveWhenTheTargetOwnsThemAlready) {
  auto plan = planMove(shardMap(R"([{"cell":"rz-a","buckets":"0-99"}])"), {1, 2}, "rz-a", "");
  ASSERT_TRUE(plan.isOk());
  EXPECT_EQ(plan->moved(), 0);
  EXPECT_EQ(plan->alreadyOwned, (std::vector<int>{1, 2}));
}

TEST(ShardMapPlanTest, BucketsBeyondTheMapAreRefused) {
  auto plan =
      planMove(shardMap(R"([{"cell":"rz-a","buckets":"0-9"}])", 10), {5, 10, 11}, "rz-b", "");
  ASSERT_FALSE(plan.isOk());
  EXPECT_EQ(plan.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(plan.status().message(),
            "buckets 10-11 do not exist: the ShardMap has 10 buckets (0-9)");
}

TEST(ShardMapPlanTest, UnownedBucketsAreMovedFromNobody) {
  auto plan = planMove(shardMap(R"([{"cell":"rz-a","buckets":"0-4"}])", 10), {7}, "rz-a", "");
  ASSERT_TRUE(plan.isOk());
  ASSERT_EQ(plan->moves.size(), 1u);
  EXPECT_EQ(plan->moves[0].from, "");
  EXPECT_EQ(assignmentsOf(plan->updated), R"([{"cell":"rz-a","buckets":"0-4,7"}])");
}

}  // namespace
}  // namespace tessera::cli

namespace tessera::cli {
namespace {

TEST(RolloutTest, DatacentersAndProxyVersionsInEitherShape) {
  auto asArray = boost::json::parse(
      R"({"version":4,"datacenters":[{"name":"dc-a","acked":1,"total":2},
                                     {"name":"dc-b","acked":1,"total":1,"time":"2026-11-27T10:00:00Z"}]})");
  auto ds = rolloutDatacenters(asArray);
  ASSERT_EQ(ds.size(), 2u);
  EXPECT_EQ(ds[0].name + " " + ds[0].acked + "/" + ds[0].total + " " + ds[0].time, "dc-a 1/2 ");
  EXPECT_EQ(ds[1].time, "2026-11-27T10:00:00Z");
  auto asMap = boost::json::parse(R"({"datacenters":{"dc-c":{"acked":0,"total":3}}})");
  ASSERT_EQ(rolloutDatacenters(asMap).size(), 1u);
  EXPECT_EQ(rolloutDatacenters(asMap)[0].name, "dc-c");
  EXPECT_TRUE(rolloutDatacenters(boost::json::parse("{}")).empty());

  auto p1 = boost::json::parse(R"({"status":{"shardMaps":[{"name":"default","version":7}]}})");
  EXPECT_EQ(proxyShardMapVersion(p1, "default"), 7);
  EXPECT_EQ(proxyShardMapVersion(p1, "other"), -1);
  auto p2 = boost::json::parse(R"({"status":{"shardMaps":{"default":3}}})");
  EXPECT_EQ(proxyShardMapVersion(p2, "default"), 3);
  EXPECT_EQ(proxyShardMapVersion(boost::json::parse("{}"), "default"), -1);
}

}  // namespace
}  // namespace tessera::cli
