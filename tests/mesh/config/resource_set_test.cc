// ResourceSet: a type's whole set is replaced at once, only when the Config it makes is valid;
// otherwise nothing changes and the error (the NACK reason) names the resource.
#include <gtest/gtest.h>

#include "mesh/config/config.h"

namespace tessera::mesh {
namespace {

ResourceSet::Named cluster(const std::string& name, int port = 80) {
  return {name, R"({"name": ")" + name + R"(", "endpoints": [{"address": "10.0.0.1", "port": )" +
                    std::to_string(port) + "}]}"};
}

ResourceSet::Named routes(const std::string& name, const std::string& clusterName) {
  return {name, R"({"name": ")" + name +
                    R"(", "routes": [{"name": "api", "forward": {"cluster": ")" + clusterName +
                    R"("}}]})"};
}

TEST(ResourceSetTest, AppliesInStreamOrder) {
  ResourceSet set;
  EXPECT_EQ(set.version(ResourceType::kCluster), "");
  EXPECT_TRUE(set.current()->clusters.empty());

  ASSERT_TRUE(set.apply(ResourceType::kCluster, "c1", {cluster("shop"), cluster("web")}).isOk());
  ASSERT_TRUE(set.apply(ResourceType::kShardMap, "s1", {{"m", R"({"name": "m", "bucketCount": 1,
                                   "assignments": [{"cell": "a", "buckets": "0"}],
                                   "cells": {"a": {"datacenter": "d"}}})"}})
                  .isOk());
  ASSERT_TRUE(set.apply(ResourceType::kRouteTable, "r1", {routes("main", "shop")}).isOk());
  ASSERT_TRUE(set.apply(ResourceType::kListener, "l1",
                        {{"public", R"({"name": "public", "port": 10000, "routeTable": "main"})"}})
                  .isOk());
  std::shared_ptr<const Config> c = set.current();
  EXPECT_EQ(c->version, "c1/s1/r1/l1");
  EXPECT_EQ(c->clusters.size(), 2u);
  EXPECT_NE(c->findShardMap("m"), nullptr);
  EXPECT_EQ(c->routeTables[0].routes[0].action.forward.targets[0].cluster, "shop");
  EXPECT_EQ(c->listeners[0].port, 10000);
  EXPECT_EQ(set.version(ResourceType::kCluster), "c1");
  EXPECT_EQ(set.version(ResourceType::kShardMap), "s1");
  EXPECT_EQ(set.version(ResourceType::kRouteTable), "r1");
  EXPECT_EQ(set.version(ResourceType::kListener), "l1");
  EXPECT_TRUE(validate(*c).isOk());

  // A new set replaces the old one entirely: "web" is gone, "shop" changed.
  ASSERT_TRUE(set.apply(ResourceType::kCluster, "c2", {cluster("shop", 81)}).isOk());
  EXPECT_EQ(set.current()->clusters.size(), 1u);
  EXPECT_EQ(set.current()->clusters[0].endpoints[0].port, 81);
  EXPECT_EQ(set.current()->version, "c2/s1/r1/l1");
  // The old snapshot is untouched: in-flight requests keep what they started with.
  EXPECT_EQ(c->clusters.size(), 2u);
  EXPECT_EQ(c->clusters[0].endpoints[0].port, 80);
}

TEST(ResourceSetTest, BadUpdatesKeepTheLastGood) {
  ResourceSet set;
  ASSERT_TRUE(set.apply(ResourceType::kCluster, "1", {cluster("shop")}).isOk());
  ASSERT_TRUE(set.apply(ResourceType::kRouteTable, "1", {routes("main", "shop")}).isOk());
  const std::shared_ptr<const Config> good = set.current();

  auto expectRefused = [&](ResourceType type, const std::vector<ResourceSet::Named>& resources,
                           const std::string& message) {
    const std::string version = set.version(type);
    Status s = set.apply(type, "bad", resources);
    EXPECT_FALSE(s.isOk());
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(s.message(), message);
    EXPECT_EQ(set.current(), good) << "nothing may change on a refused update";
    EXPECT_EQ(set.version(type), version);
  };

  // A route to a cluster the proxy does not have.
  expectRefused(ResourceType::kRouteTable, {routes("main", "shop-v3")},
                "routeTable \"main\": routes[0] \"api\": forward.cluster: cluster \"shop-v3\" "
                "does not exist");
  // Removing a cluster a route still uses.
  expectRefused(ResourceType::kCluster, {cluster("web")},
                "routeTable \"main\": routes[0] \"api\": forward.cluster: cluster \"shop\" does "
                "not exist");
  // One bad resource among good ones refuses the whole set.
  expectRefused(ResourceType::kCluster,
                {cluster("shop"), {"api", R"({"name": "api", "endpoints": [{"address": "10.0.0.1",
                                                                 "port": 0}]})"}},
                "cluster \"api\": endpoints[0].port: must be 1..65535");
  expectRefused(ResourceType::kCluster, {{"a", R"({"name": "b"})"}},
                "cluster \"a\": name: is \"b\" inside, but the resource is named \"a\"");
  expectRefused(ResourceType::kCluster, {cluster("shop"), cluster("shop")},
                "cluster \"shop\": sent twice in one update");
  EXPECT_TRUE(set.apply(ResourceType::kCluster, "bad", {{"shop", "{not json"}})
                  .message()
                  .starts_with("cluster: not valid JSON: "));
  EXPECT_EQ(set.current(), good);
  expectRefused(ResourceType::kListener,
                {{"l", R"({"name": "l", "port": 80, "routeTable": "nope"})"}},
                "listener \"l\": routeTable: route table \"nope\" does not exist");

  // A good update after the refusals applies.
  ASSERT_TRUE(set.apply(ResourceType::kCluster, "2", {cluster("shop"), cluster("web")}).isOk());
  EXPECT_EQ(set.current()->clusters.size(), 2u);
  EXPECT_EQ(set.version(ResourceType::kCluster), "2");
}

TEST(ResourceSetTest, EmptySetsAreValid) {
  ResourceSet set;
  ASSERT_TRUE(set.apply(ResourceType::kCluster, "1", {cluster("shop")}).isOk());
  ASSERT_TRUE(set.apply(ResourceType::kCluster, "2", {}).isOk());
  EXPECT_TRUE(set.current()->clusters.empty());
  EXPECT_EQ(set.current()->version, "2///");
}

}  // namespace
}  // namespace tessera::mesh
