// Refusals: every error names the resource and the field, in words an operator can act on
// (they are the proxy's log lines and NACK reasons).
#include <gtest/gtest.h>

#include "mesh/config/config.h"

namespace tessera::mesh {
namespace {

std::string parseError(std::string_view text) {
  Result<Config> c = parseConfigText(text);
  EXPECT_FALSE(c.isOk()) << "expected an error for:\n" << text;
  return c.isOk() ? "" : c.status().message();
}

// A web cluster, a tcp cluster, a shard map m (cells a/dc-a, b/dc-b) and `routes` in table
// "main" served on port 10000.
std::string withRoutes(std::string_view routes) {
  return std::string(R"(
clusters:
- {name: web, endpoints: [{address: 10.0.0.1, port: 80}]}
- {name: raw, protocol: tcp}
shardMaps:
- name: m
  bucketCount: 10
  assignments: [{cell: a, buckets: "0-4"}, {cell: b, buckets: "5-9"}]
  cells: {a: {datacenter: dc-a}, b: {datacenter: dc-b}}
listeners:
- {name: public, port: 10000, routeTable: main}
routeTables:
- name: main
  routes:
)") + std::string(routes);
}

TEST(MeshConfigErrorTest, ClusterFields) {
  EXPECT_EQ(parseError("clusters: [{name: shop, endpoints: [{address: 10.0.0.1, port: 0}]}]"),
            "clusters[0] \"shop\": endpoints[0].port: must be 1..65535");
  EXPECT_EQ(parseError("clusters: [{name: a}, {name: shop, endpoints: [{address: 10.0.0.1, "
                       "port: 70000}]}]"),
            "clusters[1] \"shop\": endpoints[0].port: must be 1..65535");
  EXPECT_EQ(parseError("clusters: [{name: shop, endpoints: [{address: 10.0.0.1, port: \"80\"}]}]"),
            "clusters[0] \"shop\": endpoints[0].port: must be an integer");
  EXPECT_EQ(parseError("clusters: [{name: shop, endpoints: [{address: 10.0.0.1}]}]"),
            "clusters[0] \"shop\": endpoints[0].port: is required");
  EXPECT_EQ(parseError("clusters: [{name: shop, endpoints: [{address: 10.0.0.1, port: 1, "
                       "prot: 2}]}]"),
            "clusters[0] \"shop\": endpoints[0]: unknown field \"prot\"");
  EXPECT_EQ(parseError("clusters: [{name: shop, endpoints: [{address: example.com, port: 1}]}]"),
            "clusters[0] \"shop\": endpoints[0].address: \"example.com\" is not an IP address "
            "(or localhost)");
  EXPECT_EQ(parseError("clusters: [{name: shop, endpoints: [{address: 10.0.0.1, port: 80}, "
                       "{address: 10.0.0.1, port: 80}]}]"),
            "clusters[0] \"shop\": endpoints[1]: 10.0.0.1:80 is also endpoints[0]");
  EXPECT_EQ(parseError("clusters: [{name: shop, endpoints: [{address: 10.0.0.1, port: 80, "
                       "weight: 0}]}]"),
            "clusters[0] \"shop\": endpoints[0].weight: must be 1..10000");
  EXPECT_EQ(parseError("clusters: [{endpoints: []}]"), "clusters[0]: name: is required");
  EXPECT_EQ(parseError("clusters: [{name: 123}]"),
            "clusters[0]: name: must be a string (in YAML, quote numbers: \"123\")");
  EXPECT_EQ(parseError("clusters: [{name: \"a b\"}]"),
            "clusters[0] \"a b\": name: must not contain spaces, quotes or control characters");
  EXPECT_EQ(parseError("clusters: [{name: shop, protocol: udp}]"),
            "clusters[0] \"shop\": protocol: must be http or tcp");
  EXPECT_EQ(parseError("clusters: [{name: shop, lbPolicy: random}]"),
            "clusters[0] \"shop\": lbPolicy: must be roundRobin or leastRequest");
  EXPECT_TRUE(parseConfigText("clusters: [{name: shop, connectTimeout: 5}]").isOk())
      << "an integer duration is milliseconds";
  EXPECT_EQ(parseError("clusters: [{name: shop, connectTimeout: 5x}]"),
            "clusters[0] \"shop\": connectTimeout: must be a duration: an integer and a unit, "
            "\"250ms\", \"5s\", \"1m\" or \"1h\"");
  EXPECT_EQ(parseError("clusters: [{name: shop, connectTimeout: -5}]"),
            "clusters[0] \"shop\": connectTimeout: must not be negative");
  EXPECT_EQ(parseError("clusters: [{name: shop, connectTimeout: 0s}]"),
            "clusters[0] \"shop\": connectTimeout: must be more than 0");
  EXPECT_EQ(parseError("clusters: [{name: shop, outlierDetection: {maxEjectionPercent: 101}}]"),
            "clusters[0] \"shop\": outlierDetection.maxEjectionPercent: must be 0..100");
  EXPECT_EQ(parseError("clusters: [{name: shop, outlierDetection: {baseEjectionTime: 1m, "
                       "maxEjectionTime: 10s}}]"),
            "clusters[0] \"shop\": outlierDetection.maxEjectionTime: must not be less than "
            "baseEjectionTime");
  EXPECT_EQ(parseError("clusters: [{name: shop, outlierDetection: {enabled: yes}}]"),
            "clusters[0] \"shop\": outlierDetection.enabled: must be true or false");
  EXPECT_EQ(parseError("clusters: [{name: shop, retryBudget: {budgetPercent: 100.5}}]"),
            "clusters[0] \"shop\": retryBudget.budgetPercent: must be 0..100");
  EXPECT_EQ(parseError("clusters: [{name: shop, healthCheck: {path: healthz}}]"),
            "clusters[0] \"shop\": healthCheck.path: must start with \"/\"");
  EXPECT_EQ(parseError("clusters: [{name: shop, healthCheck: {unhealthyThreshold: 0}}]"),
            "clusters[0] \"shop\": healthCheck.unhealthyThreshold: must be 1..1000");
  EXPECT_EQ(parseError("clusters: [{name: shop, endpoints: {}}]"),
            "clusters[0] \"shop\": endpoints: must be a list");
  EXPECT_EQ(parseError("clusters: [5]"), "clusters[0]: must be an object");
  EXPECT_EQ(parseError("clusters: [{name: a}, {name: a}]"),
            "clusters[1] \"a\": the name is used twice (also clusters[0])");
}

TEST(MeshConfigErrorTest, DocumentShape) {
  EXPECT_EQ(parseError("- a\n"),
            "the document must be an object with listeners, routeTables, clusters and "
            "shardMaps");
  EXPECT_EQ(parseError("listener: []\n"), "unknown field \"listener\"");
  EXPECT_EQ(parseError("clusters: {}\n"), "clusters: must be a list");
  EXPECT_EQ(parseError(""), "the document is empty");
}

TEST(MeshConfigErrorTest, ShardMapFields) {
  auto map = [](std::string_view body) {
    return parseError("shardMaps:\n- name: m\n  bucketCount: 10\n" + std::string(body));
  };
  EXPECT_EQ(map("  assignments: [{cell: a, buckets: \"0-5\"}, {cell: b, buckets: \"5-9\"}]\n"
                "  cells: {a: {datacenter: x}, b: {datacenter: y}}\n"),
            "shardMaps[0] \"m\": assignments[1].buckets: bucket 5 is already assigned to cell "
            "\"a\"");
  EXPECT_EQ(map("  assignments: [{cell: a, buckets: \"0-3,9\"}]\n"
                "  cells: {a: {datacenter: x}}\n"),
            "shardMaps[0] \"m\": assignments: buckets 4-8 have no owner (every bucket needs one "
            "cell)");
  EXPECT_EQ(map("  assignments: [{cell: a, buckets: \"0-4\"}, {cell: b, buckets: \"5-9\"}]\n"
                "  cells: {a: {datacenter: x}}\n"),
            "shardMaps[0] \"m\": cells: cell \"b\" owns buckets but has no datacenter");
  EXPECT_EQ(map("  assignments: [{cell: a, buckets: \"7-3\"}]\n"),
            "shardMaps[0] \"m\": assignments[0].buckets: \"7-3\": a range must go upwards");
  EXPECT_EQ(map("  assignments: [{cell: a, buckets: \"0-10\"}]\n"),
            "shardMaps[0] \"m\": assignments[0].buckets: \"0-10\": buckets are 0 to 9");
  EXPECT_EQ(map("  assignments: [{cell: a}]\n"),
            "shardMaps[0] \"m\": assignments[0].buckets: is required");
  // A misspelt field is named as unknown rather than the field it should have been as missing.
  EXPECT_EQ(map("  cells: {a: {dc: x}}\n"), "shardMaps[0] \"m\": cells.a: unknown field \"dc\"");
  EXPECT_EQ(parseError("shardMaps: [{nmae: m, assignments: []}]"),
            "shardMaps[0]: unknown field \"nmae\"");
  EXPECT_EQ(parseError("shardMaps: [{assignments: []}]"), "shardMaps[0]: name: is required");
  EXPECT_EQ(parseError("shardMaps: [{name: m, bucketCount: 0}]"),
            "shardMaps[0] \"m\": bucketCount: must be 1..100000");
  EXPECT_EQ(parseError("shardMaps: [{name: m, version: -1}]"),
            "shardMaps[0] \"m\": version: must be 0..18446744073709551615");
}

TEST(MeshConfigErrorTest, RouteFields) {
  EXPECT_EQ(parseError(withRoutes("  - {name: api, forward: {cluster: web}, redirect: "
                                  "{location: /x}}\n")),
            "routeTables[0] \"main\": routes[0] \"api\": set exactly one of forward, unitized, "
            "directResponse, redirect (found forward and redirect)");
  EXPECT_EQ(parseError(withRoutes("  - {name: api}\n")),
            "routeTables[0] \"main\": routes[0] \"api\": set exactly one of forward, unitized, "
            "directResponse, redirect (found none)");
  EXPECT_EQ(parseError(withRoutes("  - {name: api, match: {prefix: /a, path: /b}, forward: "
                                  "{cluster: web}}\n")),
            "routeTables[0] \"main\": routes[0] \"api\": match.path: set either prefix or path");
  EXPECT_EQ(parseError(withRoutes("  - {name: api, match: {prefix: a}, forward: "
                                  "{cluster: web}}\n")),
            "routeTables[0] \"main\": routes[0] \"api\": match.prefix: must start with \"/\"");
  EXPECT_EQ(parseError(withRoutes("  - {name: api, match: {methods: [\"GE T\"]}, forward: "
                                  "{cluster: web}}\n")),
            "routeTables[0] \"main\": routes[0] \"api\": match.methods[0]: must be an "
            "upper-case HTTP method");
  EXPECT_EQ(parseError(withRoutes("  - {name: api, match: {headers: [{exact: x}]}, forward: "
                                  "{cluster: web}}\n")),
            "routeTables[0] \"main\": routes[0] \"api\": match.headers[0].name: is required");
  EXPECT_EQ(parseError(withRoutes("  - {name: a, forward: {cluster: web}}\n"
                                  "  - {name: a, forward: {cluster: web}}\n")),
            "routeTables[0] \"main\": routes[1] \"a\": the name is also used by routes[0]");
  EXPECT_EQ(parseError(withRoutes("  - {forward: {cluster: web}}\n")),
            "routeTables[0] \"main\": routes[0]: name: is required");
  EXPECT_EQ(parseError(withRoutes("  - {name: r, forward: {cluster: web, targets: []}}\n")),
            "routeTables[0] \"main\": routes[0] \"r\": forward.targets: set either cluster (one "
            "target) or targets (a weighted split)");
  EXPECT_EQ(parseError(withRoutes("  - {name: r, foward: {cluster: web}}\n")),
            "routeTables[0] \"main\": routes[0] \"r\": unknown field \"foward\"");
  EXPECT_EQ(parseError(withRoutes("  - {name: r, forward: {clustr: web}}\n")),
            "routeTables[0] \"main\": routes[0] \"r\": forward: unknown field \"clustr\"");
  EXPECT_EQ(parseError(withRoutes("  - {name: r, forward: {}}\n")),
            "routeTables[0] \"main\": routes[0] \"r\": forward.cluster: is required (or "
            "targets, for a weighted split)");
  EXPECT_EQ(parseError(withRoutes("  - {name: r, forward: {targets: [{cluster: web, weight: 0}"
                                  "]}}\n")),
            "routeTables[0] \"main\": routes[0] \"r\": forward.targets: the weights must not "
            "all be 0");
  EXPECT_EQ(parseError(withRoutes("  - {name: r, forward: {targets: [{cluster: web, revision: "
                                  "v1}, {cluster: web, revision: v1}]}}\n")),
            "routeTables[0] \"main\": routes[0] \"r\": forward.targets[1].revision: revision "
            "\"v1\" is also targets[0]");
  EXPECT_EQ(parseError(withRoutes("  - {name: r, forward: {targets: [{cluster: web, weight: "
                                  "-1}]}}\n")),
            "routeTables[0] \"main\": routes[0] \"r\": forward.targets[0].weight: must be "
            "0..1000000");
  EXPECT_EQ(parseError(withRoutes("  - {name: r, redirect: {location: /x, status: 305}}\n")),
            "routeTables[0] \"main\": routes[0] \"r\": redirect.status: must be 301, 302, 303, "
            "307 or 308");
  EXPECT_EQ(parseError(withRoutes("  - {name: r, redirect: {location: /x, status: 200}}\n")),
            "routeTables[0] \"main\": routes[0] \"r\": redirect.status: must be 300..399");
  EXPECT_EQ(parseError(withRoutes("  - {name: r, redirect: {status: 301}}\n")),
            "routeTables[0] \"main\": routes[0] \"r\": redirect.location: is required");
  EXPECT_EQ(parseError(withRoutes("  - {name: r, directResponse: {status: 600}}\n")),
            "routeTables[0] \"main\": routes[0] \"r\": directResponse.status: must be 100..599");
  EXPECT_EQ(parseError(withRoutes("  - {name: r, forward: {cluster: web}, fault: "
                                  "{abortPercent: 100.5}}\n")),
            "routeTables[0] \"main\": routes[0] \"r\": fault.abortPercent: must be 0..100");
  EXPECT_EQ(parseError(withRoutes("  - {name: r, forward: {cluster: web}, rateLimit: "
                                  "{burst: 5}}\n")),
            "routeTables[0] \"main\": routes[0] \"r\": rateLimit.requestsPerSecond: is required");
  EXPECT_EQ(parseError(withRoutes("  - {name: r, forward: {cluster: web}, retry: "
                                  "{maxRetries: 11}}\n")),
            "routeTables[0] \"main\": routes[0] \"r\": retry.maxRetries: must be 0..10");
  EXPECT_EQ(parseError(withRoutes("  - {name: r, forward: {cluster: web}, timeout: 0ms}\n")),
            "routeTables[0] \"main\": routes[0] \"r\": timeout: must be more than 0");
  EXPECT_EQ(parseError(withRoutes("  - {name: r, forward: {cluster: web}, retries: 3}\n")),
            "routeTables[0] \"main\": routes[0] \"r\": unknown field \"retries\"");
  EXPECT_EQ(parseError(withRoutes("  - {name: u, unitized: {shardMap: m, userId: [{header: a, "
                                  "cookie: b}]}}\n")),
            "routeTables[0] \"main\": routes[0] \"u\": unitized.userId[0]: must be one of "
            "{header: NAME}, {cookie: NAME}, {query: NAME}");
  EXPECT_EQ(parseError(withRoutes("  - {name: u, unitized: {shardMap: m, userId: []}}\n")),
            "routeTables[0] \"main\": routes[0] \"u\": unitized.userId: must name at least one "
            "source");
  EXPECT_EQ(parseError(withRoutes("  - {name: u, unitized: {shardMap: m, gateways: {dc-b: 5}}}"
                                  "\n")),
            "routeTables[0] \"main\": routes[0] \"u\": unitized.gateways.dc-b: must be a string "
            "(a cluster name)");
  EXPECT_EQ(parseError(withRoutes("  - {name: u, unitized: {}}\n")),
            "routeTables[0] \"main\": routes[0] \"u\": unitized.shardMap: is required");
}

TEST(MeshConfigErrorTest, CrossReferences) {
  EXPECT_EQ(parseError(withRoutes("  - {name: api, forward: {cluster: shop-v3}}\n")),
            "routeTables[0] \"main\": routes[0] \"api\": forward.cluster: cluster \"shop-v3\" "
            "does not exist");
  EXPECT_EQ(parseError(withRoutes("  - {name: api, forward: {targets: [{cluster: web, weight: "
                                  "9}, {cluster: web-v2, weight: 1}]}}\n")),
            "routeTables[0] \"main\": routes[0] \"api\": forward.targets[1].cluster: cluster "
            "\"web-v2\" does not exist");
  EXPECT_EQ(parseError(withRoutes("  - {name: api, forward: {cluster: raw}}\n")),
            "routeTables[0] \"main\": routes[0] \"api\": forward.cluster: cluster \"raw\" is a "
            "tcp cluster; routes need http clusters");
  EXPECT_EQ(parseError(withRoutes("  - {name: u, unitized: {shardMap: nope}}\n")),
            "routeTables[0] \"main\": routes[0] \"u\": unitized.shardMap: shard map \"nope\" "
            "does not exist");
  EXPECT_EQ(parseError(withRoutes("  - {name: u, unitized: {shardMap: m, cells: {a: {cluster: "
                                  "web-a}}}}\n")),
            "routeTables[0] \"main\": routes[0] \"u\": unitized.cells.a.cluster: cluster "
            "\"web-a\" does not exist");
  EXPECT_EQ(parseError(withRoutes("  - {name: u, unitized: {shardMap: m, gateways: {dc-b: "
                                  "gw}}}\n")),
            "routeTables[0] \"main\": routes[0] \"u\": unitized.gateways.dc-b: cluster \"gw\" "
            "does not exist");
  EXPECT_EQ(parseError(withRoutes("  - {name: u, unitized: {shardMap: m, defaultCell: zz}}\n")),
            "routeTables[0] \"main\": routes[0] \"u\": unitized.defaultCell: must be \"local\" "
            "or a cell of shard map \"m\"; \"zz\" is not");
  EXPECT_TRUE(parseConfigText(withRoutes("  - {name: u, unitized: {shardMap: m, defaultCell: "
                                         "b}}\n"))
                  .isOk());

  const std::string listeners = R"(
clusters:
- {name: web}
- {name: raw, protocol: tcp}
routeTables: [{name: main, routes: []}]
listeners:
)";
  EXPECT_EQ(parseError(listeners + "- {name: public, port: 80, routeTable: nope}\n"),
            "listeners[0] \"public\": routeTable: route table \"nope\" does not exist");
  EXPECT_EQ(parseError(listeners + "- {name: public, port: 80}\n"),
            "listeners[0] \"public\": routeTable: is required for an http listener");
  EXPECT_EQ(parseError(listeners + "- {name: public, port: 80, routeTable: main, cluster: web}\n"),
            "listeners[0] \"public\": cluster: is for tcp listeners (an http listener routes "
            "with routeTable)");
  EXPECT_EQ(parseError(listeners + "- {name: db, port: 5432, protocol: tcp, cluster: web}\n"),
            "listeners[0] \"db\": cluster: cluster \"web\" is an http cluster; a tcp listener "
            "needs a tcp cluster");
  EXPECT_EQ(parseError(listeners + "- {name: db, port: 5432, protocol: tcp, cluster: pg}\n"),
            "listeners[0] \"db\": cluster: cluster \"pg\" does not exist");
  EXPECT_EQ(parseError(listeners + "- {name: db, port: 5432, protocol: tcp}\n"),
            "listeners[0] \"db\": cluster: is required for a tcp listener");
  EXPECT_EQ(parseError(listeners + "- {name: a, address: 127.0.0.1, port: 80, routeTable: main}\n"
                                   "- {name: b, port: 80, routeTable: main}\n"),
            "listeners[1] \"b\": port: 0.0.0.0:80 overlaps listener \"a\" on 127.0.0.1:80");
  EXPECT_EQ(parseError(listeners + "- {name: a, address: 127.0.0.1, port: 80, routeTable: main}\n"
                                   "- {name: b, address: 127.0.0.1, port: 80, routeTable: main}\n"),
            "listeners[1] \"b\": port: 127.0.0.1:80 overlaps listener \"a\" on 127.0.0.1:80");
  EXPECT_TRUE(parseConfigText(listeners +
                              "- {name: a, address: 127.0.0.1, port: 80, routeTable: main}\n"
                              "- {name: b, address: 127.0.0.2, port: 80, routeTable: main}\n"
                              "- {name: c, address: 127.0.0.1, port: 81, routeTable: main}\n")
                  .isOk());
  EXPECT_EQ(parseError(listeners + "- {name: a, address: my-host, port: 80, routeTable: main}\n"),
            "listeners[0] \"a\": address: \"my-host\" is not an IP address (or localhost)");
  EXPECT_EQ(parseError(listeners + "- {name: a, port: 0, routeTable: main}\n"),
            "listeners[0] \"a\": port: must be 1..65535");
  EXPECT_EQ(parseError(listeners + "- {name: a, port: 80, routeTable: main}\n"
                                   "- {name: a, port: 81, routeTable: main}\n"),
            "listeners[1] \"a\": the name is used twice (also listeners[0])");
}

// Configs built in code go through the same checks.
TEST(MeshConfigValidateTest, CodeBuiltConfigs) {
  Config c;
  Cluster web;
  web.name = "web";
  Endpoint endpoint;
  endpoint.address = "10.0.0.1";
  endpoint.port = 80;
  web.endpoints.push_back(endpoint);
  c.clusters.push_back(web);
  Route route;
  route.name = "r";
  route.match.prefix = "/";
  WeightedTarget target;
  target.cluster = "web";
  route.action.forward.targets = {target};
  RouteTable table;
  table.name = "main";
  table.routes = {route};
  c.routeTables.push_back(table);
  Listener listener;
  listener.name = "l";
  listener.port = 8080;
  listener.routeTable = "main";
  c.listeners.push_back(listener);
  EXPECT_TRUE(validate(c).isOk()) << validate(c).message();

  Config noMatch = c;
  noMatch.routeTables[0].routes[0].match.prefix.clear();
  EXPECT_EQ(validate(noMatch).message(),
            "routeTables[0] \"main\": routes[0] \"r\": match: set exactly one of prefix and path");

  Config badPort = c;
  badPort.clusters[0].endpoints[0].port = 0;
  EXPECT_EQ(validate(badPort).message(),
            "clusters[0] \"web\": endpoints[0].port: must be 1..65535");

  Config missing = c;
  missing.clusters.clear();
  EXPECT_EQ(validate(missing).message(),
            "routeTables[0] \"main\": routes[0] \"r\": forward.cluster: cluster \"web\" does not "
            "exist");

  Config noTargets = c;
  noTargets.routeTables[0].routes[0].action.forward.targets.clear();
  EXPECT_EQ(validate(noTargets).message(),
            "routeTables[0] \"main\": routes[0] \"r\": forward.targets: must not be empty");

  Config badMap = c;
  ShardMap map;
  map.name = "m";
  map.bucketCount = 4;
  map.owner = {"a", "a"};
  badMap.shardMaps.push_back(map);
  EXPECT_EQ(validate(badMap).message(),
            "shardMaps[0] \"m\": assignments: must assign 4 buckets, not 2");
  badMap.shardMaps[0].owner = {"a", "a", "b", "b"};
  badMap.shardMaps[0].cellDatacenter = {{"a", "dc-a"}, {"b", ""}};
  EXPECT_EQ(validate(badMap).message(),
            "shardMaps[0] \"m\": cells: cell \"b\" owns buckets but has no datacenter");
  badMap.shardMaps[0].cellDatacenter["b"] = "dc-b";
  EXPECT_TRUE(validate(badMap).isOk());

  Config upperHeader = c;
  HeaderMatch header;
  header.name = "X-A";
  upperHeader.routeTables[0].routes[0].match.headers.push_back(header);
  EXPECT_EQ(validate(upperHeader).message(),
            "routeTables[0] \"main\": routes[0] \"r\": match.headers[0].name: must be a "
            "lower-case header name");
}

TEST(MeshConfigStreamTest, OneResourceAtATime) {
  Result<Cluster> c = parseCluster(
      R"({"name": "shop", "endpoints": [{"address": "10.0.0.1", "port": 8080, "revision": "v2"}]})");
  ASSERT_TRUE(c.isOk()) << c.status().message();
  EXPECT_EQ(c->endpoints[0].revision, "v2");
  EXPECT_EQ(parseCluster(R"({"name": "shop", "endpoints": [{"address": "10.0.0.1", "port": 0}]})")
                .status()
                .message(),
            "cluster \"shop\": endpoints[0].port: must be 1..65535");
  EXPECT_EQ(parseCluster(R"({"name": "shop", "connectTimeout": "0s"})").status().message(),
            "cluster \"shop\": connectTimeout: must be more than 0");
  EXPECT_TRUE(parseCluster("{").status().message().starts_with("cluster: not valid JSON: "));
  EXPECT_EQ(parseCluster("[]").status().message(), "cluster: must be an object");
  EXPECT_EQ(parseCluster("name: shop").status().message().substr(0, 24),
            "cluster: not valid JSON:");

  Result<ShardMap> m = parseShardMap(
      R"({"name": "default", "version": 7, "bucketCount": 2,
          "assignments": [{"cell": "a", "buckets": "0-1"}], "cells": {"a": {"datacenter": "d"}}})");
  ASSERT_TRUE(m.isOk()) << m.status().message();
  EXPECT_EQ(m->owner, (std::vector<std::string>{"a", "a"}));
  EXPECT_EQ(parseShardMap(R"({"name": "default", "bucketCount": 2,
                              "assignments": [{"cell": "a", "buckets": "0"}],
                              "cells": {"a": {"datacenter": "d"}}})")
                .status()
                .message(),
            "shardMap \"default\": assignments: bucket 1 has no owner (every bucket needs one "
            "cell)");

  // A route table on its own may name clusters that are not here: that is validate()'s job.
  Result<RouteTable> t = parseRouteTable(
      R"({"name": "main", "routes": [{"name": "r", "forward": {"cluster": "elsewhere"}}]})");
  ASSERT_TRUE(t.isOk()) << t.status().message();
  EXPECT_EQ(parseRouteTable(R"({"name": "main", "routes": [{"name": "r"}]})").status().message(),
            "routeTable \"main\": routes[0] \"r\": set exactly one of forward, unitized, "
            "directResponse, redirect (found none)");

  Result<Listener> l = parseListener(R"({"name": "l", "port": 80, "routeTable": "main"})");
  ASSERT_TRUE(l.isOk()) << l.status().message();
  EXPECT_EQ(parseListener(R"({"name": "l", "port": 80})").status().message(),
            "listener \"l\": routeTable: is required for an http listener");
  EXPECT_EQ(parseListener(R"({"port": 80})").status().message(), "listener: name: is required");
}

}  // namespace
}  // namespace tessera::mesh
