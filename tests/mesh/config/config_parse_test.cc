// Parsing the mesh configuration: the documented examples, every default, YAML scalar rules,
// the round trip through toJson, durations and buckets.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fstream>
#include <sstream>

#include "mesh/config/config.h"

namespace tessera::mesh {
namespace {

namespace json = boost::json;

std::string readSourceFile(const std::string& relative) {
  std::ifstream in(std::string(TESSERA_SOURCE_DIR) + "/" + relative);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The ```yaml blocks of a Markdown file.
std::vector<std::string> yamlBlocks(const std::string& markdown) {
  std::vector<std::string> out;
  std::size_t at = 0;
  while ((at = markdown.find("```yaml\n", at)) != std::string::npos) {
    at += 8;
    const std::size_t end = markdown.find("```", at);
    out.push_back(markdown.substr(at, end - at));
    at = end + 3;
  }
  return out;
}

Config parseOk(std::string_view text) {
  Result<Config> c = parseConfigText(text);
  EXPECT_TRUE(c.isOk()) << c.status().message();
  return c.isOk() ? *c : Config{};
}

std::string parseError(std::string_view text) {
  Result<Config> c = parseConfigText(text);
  EXPECT_FALSE(c.isOk()) << "expected an error for:\n" << text;
  return c.isOk() ? "" : c.status().message();
}

// A small valid document that tests extend.
constexpr std::string_view kBase = R"(
clusters:
- name: web
  endpoints: [{address: 127.0.0.1, port: 8080}]
routeTables:
- name: main
  routes:
  - name: all
    forward: {cluster: web}
listeners:
- {name: public, port: 10000, routeTable: main}
)";

TEST(MeshConfigParseTest, StandaloneExampleParses) {
  const std::string text = readSourceFile("docs/examples/proxy-standalone.yaml");
  ASSERT_FALSE(text.empty());
  Config c = parseOk(text);
  EXPECT_EQ(c.version, "2024-06-01.1");
  ASSERT_EQ(c.listeners.size(), 1u);
  EXPECT_EQ(c.listeners[0].address, "127.0.0.1");
  EXPECT_EQ(c.listeners[0].port, 10000);
  EXPECT_EQ(c.listeners[0].routeTable, "main");

  const RouteTable* main = c.findRouteTable("main");
  ASSERT_NE(main, nullptr);
  ASSERT_EQ(main->routes.size(), 5u);
  const Route& ping = main->routes[0];
  EXPECT_EQ(ping.match.path, "/ping");
  EXPECT_EQ(ping.match.prefix, "");
  EXPECT_EQ(ping.action.kind, RouteAction::Kind::kDirectResponse);
  EXPECT_EQ(ping.action.directResponse.body, "pong\n");

  const Route& old = main->routes[1];
  EXPECT_EQ(old.action.kind, RouteAction::Kind::kRedirect);
  EXPECT_EQ(old.action.redirect.status, 301);
  EXPECT_EQ(old.action.redirect.location, "https://shop.example.com/v1/");

  const Route& checkout = main->routes[2];
  EXPECT_EQ(checkout.action.kind, RouteAction::Kind::kForward);
  EXPECT_EQ(checkout.match.methods, (std::vector<std::string>{"GET", "POST"}));
  ASSERT_EQ(checkout.action.forward.targets.size(), 2u);
  EXPECT_EQ(checkout.action.forward.targets[0].cluster, "shop-stable");
  EXPECT_EQ(checkout.action.forward.targets[0].revision, "v1");
  EXPECT_EQ(checkout.action.forward.targets[0].weight, 90u);
  EXPECT_EQ(checkout.action.forward.targets[1].weight, 10u);
  EXPECT_TRUE(checkout.action.forward.stickyByUserId);
  EXPECT_EQ(checkout.action.timeout, Millis(5000));
  EXPECT_EQ(checkout.action.retry.maxRetries, 2u);
  EXPECT_EQ(checkout.action.retry.perTryTimeout, Millis(1000));

  const Route& orders = main->routes[3];
  ASSERT_EQ(orders.action.kind, RouteAction::Kind::kUnitized);
  const UnitizedAction& u = orders.action.unitized;
  ASSERT_EQ(u.userId.size(), 3u);
  EXPECT_EQ(u.userId[1].kind, UserIdSource::Kind::kCookie);
  EXPECT_EQ(u.userId[1].name, "uid");
  EXPECT_EQ(u.userId[2].kind, UserIdSource::Kind::kQuery);
  EXPECT_EQ(u.shardMap, "default");
  EXPECT_EQ(u.cells.at("rz-a").targets.at(0).cluster, "orders.rz-a");
  EXPECT_EQ(u.gateways.at("dc-b"), "gateway.dc-b");
  ASSERT_TRUE(orders.action.rateLimit.has_value());
  EXPECT_EQ(orders.action.rateLimit->burst, 1000u);

  const Cluster* stable = c.findCluster("shop-stable");
  ASSERT_NE(stable, nullptr);
  EXPECT_EQ(stable->lbPolicy, LbPolicy::kLeastRequest);
  ASSERT_TRUE(stable->healthCheck.has_value());
  EXPECT_EQ(stable->healthCheck->interval, Millis(2000));
  EXPECT_EQ(stable->healthCheck->timeout, Millis(1000));  // default
  EXPECT_EQ(stable->healthCheck->unhealthyThreshold, 3u);
  EXPECT_EQ(c.findCluster("orders.rz-a")->outlierDetection.consecutive5xx, 3u);
  EXPECT_EQ(c.findCluster("orders.rz-a")->outlierDetection.maxEjectionPercent, 50u);
  EXPECT_EQ(c.findCluster("gateway.dc-b")->connectTimeout, Millis(500));

  const ShardMap* map = c.findShardMap("default");
  ASSERT_NE(map, nullptr);
  EXPECT_EQ(map->version, 7u);
  ASSERT_EQ(map->owner.size(), 100u);
  EXPECT_EQ(map->owner[49], "rz-a");
  EXPECT_EQ(map->owner[50], "rz-b");
  EXPECT_EQ(map->cellDatacenter.at("rz-b"), "dc-b");
  EXPECT_EQ(c.findCluster("nope"), nullptr);
}

TEST(MeshConfigParseTest, TheDocumentsSnippetsParse) {
  const std::vector<std::string> blocks = yamlBlocks(readSourceFile("docs/mesh-config.md"));
  std::string forward;
  std::string unitized;
  std::string shardMap;
  for (const std::string& b : blocks) {
    if (b.starts_with("forward:")) forward = b;
    if (b.starts_with("unitized:")) unitized = b;
    if (b.starts_with("name: default")) shardMap = b;
  }
  ASSERT_FALSE(forward.empty());
  ASSERT_FALSE(unitized.empty());
  ASSERT_FALSE(shardMap.empty());

  // Indent each snippet into one document that defines what the snippets refer to.
  auto indent = [](const std::string& text, const std::string& by) {
    std::string out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) out += by + line + "\n";
    return out;
  };
  const std::string doc =
      "clusters:\n"
      "- {name: shop-stable, endpoints: []}\n"
      "- {name: shop-canary, endpoints: []}\n"
      "- {name: demo.rz-a, endpoints: []}\n"
      "- {name: gateway.dc-b, endpoints: []}\n"
      "- {name: gateway.dc-c, endpoints: []}\n"
      "shardMaps:\n"
      "- " +
      indent(shardMap, "  ").substr(2) +
      "routeTables:\n"
      "- name: main\n"
      "  routes:\n"
      "  - name: canary\n" +
      indent(forward, "    ") + "  - name: unitized\n" + indent(unitized, "    ");
  Config c = parseOk(doc);
  ASSERT_EQ(c.routeTables.size(), 1u);
  const Route& canary = c.routeTables[0].routes[0];
  EXPECT_EQ(canary.action.forward.targets.size(), 2u);
  EXPECT_EQ(canary.action.forward.revisionHeader, "x-tessera-revision");
  const UnitizedAction& u = c.routeTables[0].routes[1].action.unitized;
  EXPECT_EQ(u.userId.size(), 3u);
  EXPECT_EQ(u.gateways.size(), 2u);
  EXPECT_EQ(u.defaultCell, "local");
  EXPECT_EQ(u.hopHeader, "x-tessera-hop");
  EXPECT_EQ(c.shardMaps[0].owner[39], "rz-a");
  EXPECT_EQ(c.shardMaps[0].owner[40], "rz-b");
}

TEST(MeshConfigParseTest, JsonParsesLikeYaml) {
  const Config fromYaml = parseOk(kBase);
  const std::string jsonText = R"({
    "clusters": [{"name": "web", "endpoints": [{"address": "127.0.0.1", "port": 8080}]}],
    "routeTables": [{"name": "main", "routes": [{"name": "all", "forward": {"cluster": "web"}}]}],
    "listeners": [{"name": "public", "port": 10000, "routeTable": "main"}]
  })";
  EXPECT_EQ(parseOk(jsonText), fromYaml);
  // Whatever toJson makes reads back the same.
  EXPECT_EQ(parseOk(json::serialize(toJson(fromYaml))), fromYaml);
}

TEST(MeshConfigParseTest, EveryDefault) {
  Config c = parseOk(R"(
clusters:
- name: web
  healthCheck: {}
  endpoints: [{address: localhost, port: 8080}]
- {name: raw, protocol: tcp}
shardMaps:
- name: m
  assignments: [{cell: a, buckets: "0-99"}]
  cells: {a: {datacenter: dc}}
routeTables:
- name: main
  routes:
  - name: fwd
    forward: {cluster: web}
    rateLimit: {requestsPerSecond: 2.5}
    fault: {}
  - name: unit
    unitized: {shardMap: m}
  - name: direct
    directResponse: {}
  - name: moved
    redirect: {location: /new}
listeners:
- {name: public, port: 10000, routeTable: main}
- {name: db, port: 5432, protocol: tcp, cluster: raw}
)");
  EXPECT_EQ(c.version, "");
  const Listener& l = c.listeners[0];
  EXPECT_EQ(l.address, "0.0.0.0");
  EXPECT_EQ(l.protocol, Protocol::kHttp);
  EXPECT_EQ(l.idleTimeout, Millis(60000));
  EXPECT_EQ(l.requestHeadersTimeout, Millis(10000));
  EXPECT_EQ(l.maxConnections, 100000u);
  EXPECT_EQ(c.listeners[1].protocol, Protocol::kTcp);

  const Cluster& web = c.clusters[0];
  EXPECT_EQ(web.protocol, Protocol::kHttp);
  EXPECT_EQ(web.lbPolicy, LbPolicy::kRoundRobin);
  EXPECT_EQ(web.connectTimeout, Millis(1000));
  EXPECT_EQ(web.idleTimeout, Millis(60000));
  EXPECT_EQ(web.maxConnectionsPerEndpoint, 1024u);
  ASSERT_TRUE(web.healthCheck.has_value());
  EXPECT_EQ(*web.healthCheck, HealthCheck{});
  EXPECT_EQ(web.healthCheck->path, "/healthz");
  EXPECT_EQ(web.healthCheck->interval, Millis(1000));
  EXPECT_EQ(web.healthCheck->timeout, Millis(1000));
  EXPECT_EQ(web.healthCheck->unhealthyThreshold, 2u);
  EXPECT_EQ(web.healthCheck->healthyThreshold, 1u);
  const OutlierDetection& od = web.outlierDetection;
  EXPECT_TRUE(od.enabled);
  EXPECT_EQ(od.consecutive5xx, 5u);
  EXPECT_EQ(od.consecutiveConnectFailures, 3u);
  EXPECT_EQ(od.baseEjectionTime, Millis(5000));
  EXPECT_EQ(od.maxEjectionTime, Millis(300000));
  EXPECT_EQ(od.maxEjectionPercent, 50u);
  EXPECT_EQ(web.retryBudget.budgetPercent, 20.0);
  EXPECT_EQ(web.retryBudget.minRetryConcurrency, 3u);
  ASSERT_EQ(web.endpoints.size(), 1u);
  const Endpoint& e = web.endpoints[0];
  EXPECT_EQ(e.address, "127.0.0.1");  // localhost
  EXPECT_EQ(e.weight, 1u);
  EXPECT_EQ(e.cell, "");
  EXPECT_EQ(e.revision, "");
  EXPECT_FALSE(c.clusters[1].healthCheck.has_value());
  EXPECT_TRUE(c.clusters[1].endpoints.empty());

  EXPECT_EQ(c.shardMaps[0].bucketCount, 100u);
  EXPECT_EQ(c.shardMaps[0].version, 0u);

  const auto& routes = c.routeTables[0].routes;
  const Route& fwd = routes[0];
  EXPECT_EQ(fwd.match.prefix, "/");
  EXPECT_EQ(fwd.match.path, "");
  EXPECT_TRUE(fwd.match.headers.empty());
  EXPECT_TRUE(fwd.match.methods.empty());
  ASSERT_EQ(fwd.action.forward.targets.size(), 1u);
  EXPECT_EQ(fwd.action.forward.targets[0].weight, 1u);
  EXPECT_EQ(fwd.action.forward.targets[0].revision, "");
  EXPECT_FALSE(fwd.action.forward.stickyByUserId);
  EXPECT_EQ(fwd.action.forward.revisionHeader, "x-tessera-revision");
  EXPECT_EQ(fwd.action.timeout, Millis(15000));
  EXPECT_EQ(fwd.action.retry, RetryPolicy{});
  EXPECT_EQ(fwd.action.retry.maxRetries, 1u);
  EXPECT_EQ(fwd.action.retry.perTryTimeout, Millis(0));
  EXPECT_TRUE(fwd.action.retry.on5xx);
  ASSERT_TRUE(fwd.action.rateLimit.has_value());
  EXPECT_EQ(fwd.action.rateLimit->burst, 3u);  // ceil(requestsPerSecond)
  ASSERT_TRUE(fwd.action.fault.has_value());
  EXPECT_EQ(*fwd.action.fault, Fault{});
  EXPECT_EQ(fwd.action.fault->abortStatus, 503);
  EXPECT_FALSE(routes[1].action.rateLimit.has_value());
  EXPECT_FALSE(routes[1].action.fault.has_value());

  const UnitizedAction& u = routes[1].action.unitized;
  ASSERT_EQ(u.userId.size(), 1u);
  EXPECT_EQ(u.userId[0].kind, UserIdSource::Kind::kHeader);
  EXPECT_EQ(u.userId[0].name, "x-user-id");
  EXPECT_EQ(u.defaultCell, "local");
  EXPECT_EQ(u.hopHeader, "x-tessera-hop");
  EXPECT_TRUE(u.cells.empty());

  EXPECT_EQ(routes[2].action.directResponse, DirectResponse{});
  EXPECT_EQ(routes[2].action.directResponse.status, 200);
  EXPECT_EQ(routes[2].action.directResponse.contentType, "text/plain");
  EXPECT_EQ(routes[3].action.redirect.status, 302);
  EXPECT_EQ(routes[3].action.redirect.location, "/new");

  // An empty lists document is a valid (empty) config.
  Config empty;
  empty.version = "x";
  EXPECT_EQ(parseOk("version: x\n"), empty);
}

TEST(MeshConfigParseTest, NamesAreNormalised) {
  Config c = parseOk(R"(
clusters: [{name: web}]
routeTables:
- name: main
  routes:
  - name: r
    match:
      headers: [{name: X-Debug}, {name: X-Env, exact: Prod}]
      methods: [get]
    forward: {cluster: web, revisionHeader: X-Rev}
  - name: u
    unitized:
      userId: [{header: X-User}, {cookie: UID}]
      shardMap: m
      hopHeader: X-Hop
shardMaps: [{name: m, bucketCount: 1, assignments: [{cell: a, buckets: 0}], cells: {a: {datacenter: d}}}]
)");
  const Route& r = c.routeTables[0].routes[0];
  EXPECT_EQ(r.match.headers[0].name, "x-debug");
  EXPECT_FALSE(r.match.headers[0].exact.has_value());
  EXPECT_EQ(r.match.headers[1].exact, "Prod");  // values keep their case
  EXPECT_EQ(r.match.methods[0], "GET");
  EXPECT_EQ(r.action.forward.revisionHeader, "x-rev");
  const UnitizedAction& u = c.routeTables[0].routes[1].action.unitized;
  EXPECT_EQ(u.userId[0].name, "x-user");
  EXPECT_EQ(u.userId[1].name, "UID");  // a cookie name is case-sensitive
  EXPECT_EQ(u.hopHeader, "x-hop");
  EXPECT_EQ(c.shardMaps[0].owner, std::vector<std::string>{"a"});
}

TEST(MeshConfigParseTest, YamlScalars) {
  Result<json::value> v = parseYamlOrJson(R"(
quoted: "123"
single: '0-39'
int: 123
negative: -7
big: 18446744073709551615
float: 2.5
exp: 1e3
yes: yes
no: no
on: off
t: true
f: False
n: null
tilde: ~
empty:
range: 0-39
version: 1.22
ip: 10.0.0.1
literal: |
  two
  lines
list: [1, "1", a]
)");
  ASSERT_TRUE(v.isOk()) << v.status().message();
  const json::object& o = v->as_object();
  EXPECT_EQ(o.at("quoted"), json::value("123"));
  EXPECT_EQ(o.at("single"), json::value("0-39"));
  EXPECT_EQ(o.at("int"), json::value(123));
  EXPECT_EQ(o.at("negative"), json::value(-7));
  EXPECT_TRUE(o.at("big").is_uint64());
  EXPECT_EQ(o.at("float"), json::value(2.5));
  EXPECT_EQ(o.at("exp"), json::value(1000.0));
  EXPECT_EQ(o.at("yes"), json::value("yes"));  // YAML 1.2: yes/no/on/off are text
  EXPECT_EQ(o.at("no"), json::value("no"));
  EXPECT_EQ(o.at("on"), json::value("off"));
  EXPECT_EQ(o.at("t"), json::value(true));
  EXPECT_EQ(o.at("f"), json::value(false));
  EXPECT_TRUE(o.at("n").is_null());
  EXPECT_TRUE(o.at("tilde").is_null());
  EXPECT_TRUE(o.at("empty").is_null());
  EXPECT_EQ(o.at("range"), json::value("0-39"));
  EXPECT_EQ(o.at("version"), json::value(1.22));
  EXPECT_EQ(o.at("ip"), json::value("10.0.0.1"));
  EXPECT_EQ(o.at("literal"), json::value("two\nlines\n"));
  EXPECT_EQ(o.at("list"), (json::array{1, "1", "a"}));

  EXPECT_EQ(parseYamlOrJson("a: 1\na: 2\n").status().message(),
            "line 2, column 1: \"a\" is given twice");
  EXPECT_EQ(parseYamlOrJson("a: 1\n---\nb: 2\n").status().message(),
            "expected one YAML document, found 2");
  EXPECT_EQ(parseYamlOrJson("").status().message(), "the document is empty");
  const std::string bad = parseYamlOrJson("a: [1, 2\nb: 3\n").status().message();
  EXPECT_TRUE(bad.starts_with("not valid YAML or JSON: line ")) << bad;
  EXPECT_EQ(parseYamlOrJson("a: !!int x\n").status().message(),
            "line 1, column 4: unsupported tag tag:yaml.org,2002:int on \"x\"");
  EXPECT_EQ(*parseYamlOrJson("a: !!str 5\n"), (json::object{{"a", "5"}}));
  // JSON goes through Boost.JSON; a JSON-looking YAML flow mapping still works.
  EXPECT_EQ(*parseYamlOrJson(R"({"a": [1, 2.5, "x", null, true]})"),
            (json::object{{"a", json::array{1, 2.5, "x", nullptr, true}}}));
  EXPECT_EQ(*parseYamlOrJson("{a: 1, b: x}"), (json::object{{"a", 1}, {"b", "x"}}));
}

TEST(MeshConfigParseTest, VersionMayBeANumber) {
  EXPECT_EQ(parseOk("version: 3\n").version, "3");
  EXPECT_EQ(parseOk("version: \"3\"\n").version, "3");
  EXPECT_EQ(parseError("version: [3]\n"), "version: must be a string");
}

TEST(MeshConfigParseTest, RoundTrip) {
  const Config example = parseOk(readSourceFile("docs/examples/proxy-standalone.yaml"));
  const json::value dumped = toJson(example);
  Result<Config> back = parseConfig(dumped);
  ASSERT_TRUE(back.isOk()) << back.status().message();
  EXPECT_EQ(*back, example);
  // And the dump is stable.
  EXPECT_EQ(toJson(*back), dumped);

  // Everything optional set, and non-default values everywhere.
  const Config full = parseOk(R"(
version: v9
clusters:
- name: web
  protocol: http
  lbPolicy: leastRequest
  connectTimeout: 250ms
  idleTimeout: 90s
  maxConnectionsPerEndpoint: 7
  healthCheck: {path: /hc, interval: 1500ms, timeout: 2h, unhealthyThreshold: 4, healthyThreshold: 3}
  outlierDetection: {enabled: false, consecutive5xx: 9, consecutiveConnectFailures: 8,
                     baseEjectionTime: 1m, maxEjectionTime: 1h, maxEjectionPercent: 100}
  retryBudget: {budgetPercent: 12.5, minRetryConcurrency: 0}
  endpoints:
  - {address: "::1", port: 1, weight: 3, cell: c, datacenter: d, revision: v2, replica: r-1}
  - {address: 10.0.0.2, port: 65535}
- {name: raw, protocol: tcp, endpoints: [{address: 10.0.0.3, port: 5432}]}
shardMaps:
- name: m
  version: 18446744073709551615
  bucketCount: 10
  assignments: [{cell: a, buckets: "0-2,7"}, {cell: b, buckets: "3-6,8-9"}]
  cells: {a: {datacenter: d1}, b: {datacenter: d2}, spare: {datacenter: d3}}
routeTables:
- name: main
  routes:
  - name: r1
    match: {path: /exact, headers: [{name: x-a}, {name: x-b, exact: ""}], methods: [PUT]}
    forward:
      targets: [{cluster: web, revision: v1, weight: 0}, {cluster: web, revision: v2, weight: 5}]
      stickyByUserId: true
      revisionHeader: ""
    timeout: 1h
    retry: {maxRetries: 0, perTryTimeout: 100ms, on5xx: false}
    rateLimit: {requestsPerSecond: 0.5, burst: 2}
    fault: {delayPercent: 0.1, delay: 3s, abortPercent: 99.9, abortStatus: 418}
  - name: r2
    match: {prefix: /x/}
    forward: {targets: [{cluster: web, weight: 3}]}
  - name: r3
    unitized:
      userId: [{query: u}, {cookie: c}, {header: h}]
      shardMap: m
      cells: {a: {cluster: web, revision: v2}, b: {targets: [{cluster: web, weight: 2}]}}
      gateways: {d2: web}
      defaultCell: b
      hopHeader: x-hop
  - name: r4
    directResponse: {status: 503, body: "{}", contentType: application/json}
  - name: r5
    redirect: {location: "https://x/", status: 308}
listeners:
- name: public
  address: "::"
  port: 80
  routeTable: main
  idleTimeout: 1s
  requestHeadersTimeout: 2s
  maxConnections: 5
- {name: db, address: 127.0.0.1, port: 5432, protocol: tcp, cluster: raw}
)");
  Result<Config> fullBack = parseConfigText(json::serialize(toJson(full)));
  ASSERT_TRUE(fullBack.isOk()) << fullBack.status().message();
  EXPECT_EQ(*fullBack, full);
  EXPECT_EQ(full.routeTables[0].routes[1].action.forward.targets[0].weight, 3u);
  EXPECT_EQ(full.shardMaps[0].version, UINT64_MAX);
}

TEST(MeshConfigParseTest, Durations) {
  EXPECT_EQ(*parseDuration("250ms"), Millis(250));
  EXPECT_EQ(*parseDuration("5s"), Millis(5000));
  EXPECT_EQ(*parseDuration("1m"), Millis(60000));
  EXPECT_EQ(*parseDuration("1h"), Millis(3600000));
  EXPECT_EQ(*parseDuration("0s"), Millis(0));
  EXPECT_EQ(*parseDuration("168h"), Millis(7LL * 24 * 3600000));
  for (const char* bad : {"", "5", "s", "1.5s", "5 s", "5S", "1d", " 5s", "-5s"}) {
    EXPECT_FALSE(parseDuration(bad).isOk()) << bad;
  }
  EXPECT_EQ(parseDuration("169h").status().message(), "must be at most 168h");
  EXPECT_EQ(parseDuration("99999999999999999999999ms").status().message(), "must be at most 168h");
  EXPECT_EQ(parseDuration("-5s").status().message(), "must not be negative");

  EXPECT_EQ(formatDuration(Millis(250)), "250ms");
  EXPECT_EQ(formatDuration(Millis(1500)), "1500ms");
  EXPECT_EQ(formatDuration(Millis(5000)), "5s");
  EXPECT_EQ(formatDuration(Millis(300000)), "5m");
  EXPECT_EQ(formatDuration(Millis(7200000)), "2h");
  EXPECT_EQ(formatDuration(Millis(0)), "0s");
  for (int64_t ms : {0LL, 1LL, 999LL, 1000LL, 61000LL, 3600000LL, 3660000LL}) {
    EXPECT_EQ(*parseDuration(formatDuration(Millis(ms))), Millis(ms));
  }

  // In a document: an integer is milliseconds.
  Config c = parseOk(R"(clusters: [{name: a, connectTimeout: 1500, idleTimeout: "2m"}])");
  EXPECT_EQ(c.clusters[0].connectTimeout, Millis(1500));
  EXPECT_EQ(c.clusters[0].idleTimeout, Millis(120000));
}

TEST(MeshConfigParseTest, BucketOf) {
  // 100 buckets and two trailing digits: those digits.
  EXPECT_EQ(bucketOf("user-42", 100), 42u);
  EXPECT_EQ(bucketOf("00", 100), 0u);
  EXPECT_EQ(bucketOf("1099", 100), 99u);
  EXPECT_EQ(bucketOf("alice07", 100), 7u);
  // Otherwise FNV-1a 64 modulo the count. FNV-1a-64("a") = 0xaf63dc4c8601ec8c,
  // FNV-1a-64("") = 0xcbf29ce484222325 (the offset basis).
  EXPECT_EQ(bucketOf("a", 1000), 0xaf63dc4c8601ec8cULL % 1000);
  EXPECT_EQ(bucketOf("a", 100), 0xaf63dc4c8601ec8cULL % 100);
  EXPECT_EQ(bucketOf("", 100), 0xcbf29ce484222325ULL % 100);
  EXPECT_EQ(bucketOf("7", 100), 0xaf63aa4c86019796ULL % 100) << "one digit is hashed";
  EXPECT_EQ(bucketOf("user-42", 10), bucketOf("user-42", 10));
  EXPECT_LT(bucketOf("user-42", 10), 10u);
  EXPECT_EQ(bucketOf("anything", 1), 0u);
  EXPECT_EQ(bucketOf("x", 0), 0u);
  // Hashing spreads: 1,000 ids over 16 buckets touch every bucket.
  std::vector<int> seen(16);
  for (int i = 0; i < 1000; ++i) ++seen[bucketOf("u" + std::to_string(i) + "x", 16)];
  for (int n : seen) EXPECT_GT(n, 20);
}

TEST(MeshConfigParseTest, TypeUrls) {
  for (ResourceType t : {ResourceType::kCluster, ResourceType::kShardMap, ResourceType::kRouteTable,
                         ResourceType::kListener}) {
    EXPECT_EQ(resourceTypeFromUrl(typeUrl(t)), t);
  }
  EXPECT_EQ(typeUrl(ResourceType::kCluster), "tessera.io/mesh/Cluster");
  EXPECT_EQ(typeUrl(ResourceType::kShardMap), "tessera.io/mesh/ShardMap");
  EXPECT_EQ(typeUrl(ResourceType::kRouteTable), "tessera.io/mesh/RouteTable");
  EXPECT_EQ(typeUrl(ResourceType::kListener), "tessera.io/mesh/Listener");
  EXPECT_EQ(resourceTypeFromUrl("tessera.io/mesh/Secret"), std::nullopt);
}

}  // namespace
}  // namespace tessera::mesh
