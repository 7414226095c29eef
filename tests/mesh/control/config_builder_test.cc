// The config builder: API objects → the resources of one proxy. Every configuration it builds
// must be one a proxy accepts (ResourceSet from mesh/config applies it type by type, in the
// order the control plane sends them).
#include "mesh/control/config_builder.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "mesh/config/config.h"

namespace tessera::mesh::control {
namespace {

namespace json = boost::json;

json::object parse(std::string_view s) {
  return json::parse(s).as_object();
}

json::object replica(const std::string& name, const std::string& cell, const std::string& zone,
                     bool ready, int httpPort, int adminPort = 0, const std::string& app = "demo") {
  json::array ports;
  if (adminPort) ports.push_back(json::object{{"name", "admin"}, {"port", adminPort}});
  ports.push_back(json::object{{"name", "http"}, {"port", httpPort}});
  return json::object{
      {"metadata", json::object{{"name", name}, {"namespace", "pay"}}},
      {"spec", json::object{{"application", app},
                            {"revision", app + "-r1"},
                            {"cell", cell},
                            {"cluster", "cluster-" + zone.substr(3)},
                            {"zone", zone}}},
      {"status", json::object{{"ready", ready}, {"host", "127.0.0.1"}, {"ports", ports}}}};
}

json::object application(const std::string& name, const std::string& traffic,
                         const std::string& ports = R"([{"name":"http","port":8080}])") {
  std::string s = R"({"metadata":{"name":")" + name +
                  R"(","namespace":"pay"},"spec":{"template":{"command":["x"],"ports":)" + ports +
                  "}";
  if (!traffic.empty()) s += R"(,"traffic":)" + traffic;
  s += "}}";
  return parse(s);
}

/// Three datacenters, one RZone cell each, a ShardMap, gateways.
MeshWorld world(const std::string& traffic = R"({"unitized":true})") {
  MeshWorld w;
  for (const char* x : {"a", "b", "c"}) {
    const std::string cell = std::string("rz-") + x;
    const std::string cluster = std::string("cluster-") + x;
    w.cells[cell] = *cellFromObject(parse(R"({"metadata":{"name":")" + cell +
                                          R"("},"spec":{"clusters":[")" + cluster + R"("]}})"));
    w.clusterZones[cluster] = *clusterZoneFromObject(
        parse(R"({"metadata":{"name":")" + cluster + R"("},"spec":{"zone":"dc-)" + x + R"("}})"));
  }
  w.shardMaps["default"] = *shardMapFromObject(parse(
      R"({"metadata":{"name":"default"},"spec":{"bucketCount":100,"assignments":[
          {"cell":"rz-a","buckets":"0-39"},{"cell":"rz-b","buckets":"40-69"},
          {"cell":"rz-c","buckets":"70-99"}]},"status":{"version":3}})"));
  w.apps["pay/demo"] = *appFromObject(application("demo", traffic));
  for (const auto& r : {replica("demo-1.cluster-a", "rz-a", "dc-a", true, 31001),
                        replica("demo-2.cluster-a", "rz-a", "dc-a", true, 31002),
                        replica("demo-3.cluster-a", "rz-a", "dc-a", false, 31003),
                        replica("demo-1.cluster-b", "rz-b", "dc-b", true, 32001)}) {
    auto info = *replicaFromObject(r);
    w.replicas["pay/" + info.name] = info;
  }
  w.proxies["gw-a"] = {"gw-a", "dc-a", "", "gateway", "127.0.0.1:9001", true};
  w.proxies["gw-b"] = {"gw-b", "dc-b", "", "gateway", "127.0.0.1:9002", true};
  w.proxies["gw-c"] = {"gw-c", "dc-c", "", "gateway", "127.0.0.1:9003", false};
  return w;
}

ProxyView gatewayIn(const std::string& dc, const std::string& listen = "127.0.0.1:9001") {
  return ProxyView{dc, "gateway", "", listen};
}

std::vector<std::string> names(const ResourceList& l) {
  std::vector<std::string> out;
  for (const auto& r : l.resources) out.push_back(r.name);
  return out;
}

json::object resource(const ProxyConfig& c, Type t, const std::string& name) {
  const Resource* r = c.types[static_cast<std::size_t>(t)]->find(name);
  EXPECT_NE(r, nullptr) << name;
  return r ? parse(r->json) : json::object();
}

/// Applies the whole configuration the way a proxy does; returns the first error.
Status applyAll(const ProxyConfig& c, ResourceSet& set) {
  const ResourceType order[] = {ResourceType::kCluster, ResourceType::kShardMap,
                                ResourceType::kRouteTable, ResourceType::kListener};
  for (std::size_t i = 0; i < 4; ++i) {
    std::vector<ResourceSet::Named> named;
    for (const auto& r : c.types[i]->resources) named.push_back({r.name, r.json});
    if (Status s = set.apply(order[i], c.types[i]->version, named); !s.isOk()) return s;
  }
  return Status::ok();
}

TEST(ConfigBuilder, UnitizedGatewayGetsLocalCellsShardMapsAndOtherDatacentersGateways) {
  ProxyConfig c = buildProxyConfig(world(), gatewayIn("dc-a"));
  EXPECT_TRUE(c.problems.empty()) << c.problems.front();
  EXPECT_EQ(names(*c.types[0]),
            (std::vector<std::string>{"gateway.dc-b", "gateway.dc-c", "pay.demo.rz-a"}));
  // Ready replicas of the local cell only, on their http port, labelled.
  json::object local = resource(c, Type::kCluster, "pay.demo.rz-a");
  ASSERT_EQ(local["endpoints"].as_array().size(), 2u);
  EXPECT_EQ(local["endpoints"].as_array()[0],
            json::value(parse(R"({"address":"127.0.0.1","port":31001,"cell":"rz-a",
                "datacenter":"dc-a","revision":"demo-r1","replica":"demo-1.cluster-a"})")));
  // The connected gateway of dc-b; dc-c's is disconnected; never our own datacenter.
  json::object gwB = resource(c, Type::kCluster, "gateway.dc-b");
  ASSERT_EQ(gwB["endpoints"].as_array().size(), 1u);
  EXPECT_EQ(gwB["endpoints"].as_array()[0].at("port"), json::value(9002));
  EXPECT_TRUE(resource(c, Type::kCluster, "gateway.dc-c")["endpoints"].as_array().empty());

  json::object sm = resource(c, Type::kShardMap, "default");
  EXPECT_EQ(sm["version"], json::value(3));
  EXPECT_EQ(sm["cells"], json::value(parse(
                             R"({"rz-a":{"datacenter":"dc-a"},"rz-b":{"datacenter":"dc-b"},
                                 "rz-c":{"datacenter":"dc-c"}})")));

  json::object rt = resource(c, Type::kRouteTable, kRouteTableName);
  ASSERT_EQ(rt["routes"].as_array().size(), 1u);
  json::object route = rt["routes"].as_array()[0].as_object();
  EXPECT_EQ(route["name"], json::value("pay.demo"));
  EXPECT_EQ(route["match"], json::value(parse(R"({"prefix":"/"})")));
  EXPECT_EQ(route["unitized"], json::value(parse(R"({"userId":[{"header":"x-user-id"}],
      "shardMap":"default","cells":{"rz-a":{"cluster":"pay.demo.rz-a"}},
      "gateways":{"dc-b":"gateway.dc-b","dc-c":"gateway.dc-c"},"defaultCell":"local"})")));

  EXPECT_EQ(resource(c, Type::kListener, kListenerName),
            parse(R"({"name":"http","address":"127.0.0.1","port":9001,"routeTable":"tessera"})"));

  ResourceSet set;
  Status s = applyAll(c, set);
  ASSERT_TRUE(s.isOk()) << s.message();
  const Config& cfg = *set.current();
  ASSERT_EQ(cfg.routeTables.size(), 1u);
  EXPECT_EQ(cfg.routeTables[0].routes[0].action.kind, RouteAction::Kind::kUnitized);
  EXPECT_EQ(cfg.findShardMap("default")->owner[45], "rz-b");
}

TEST(ConfigBuilder, SameWorldSameVersionsAndAShardMapChangeTouchesOnlyShardMaps) {
  MeshWorld w = world();
  ProxyConfig a = buildProxyConfig(w, gatewayIn("dc-a"));
  ProxyConfig b = buildProxyConfig(w, gatewayIn("dc-a"));
  EXPECT_EQ(a.version, b.version);
  for (std::size_t i = 0; i < 4; ++i) EXPECT_EQ(a.types[i]->version, b.types[i]->version);

  w.shardMaps["default"].version = 4;
  w.shardMaps["default"].assignments = {{"rz-a", "0-49"}, {"rz-b", "50-69"}, {"rz-c", "70-99"}};
  ProxyConfig c = buildProxyConfig(w, gatewayIn("dc-a"));
  EXPECT_NE(c.version, a.version);
  EXPECT_EQ(c.types[0]->version, a.types[0]->version);
  EXPECT_NE(c.types[1]->version, a.types[1]->version);
  EXPECT_EQ(c.types[2]->version, a.types[2]->version);
  EXPECT_EQ(c.types[3]->version, a.types[3]->version);
  // Each resource carries its own version; the set's version follows them.
  EXPECT_EQ(c.types[1]->resources[0].version, contentHash(c.types[1]->resources[0].json));

  // Another datacenter sees other clusters.
  ProxyConfig inB = buildProxyConfig(w, gatewayIn("dc-b", "127.0.0.1:9002"));
  EXPECT_EQ(names(*inB.types[0]),
            (std::vector<std::string>{"gateway.dc-a", "gateway.dc-c", "pay.demo.rz-b"}));
  ResourceSet set;
  EXPECT_TRUE(applyAll(inB, set).isOk());
}

TEST(ConfigBuilder, PlainApplicationsForwardToLocalCellsOrToAGateway) {
  MeshWorld w = world(R"({"pathPrefix":"/shop","hosts":["shop.example.com","shop.test:8080"]})");
  // A second local cell in dc-a with one ready replica.
  w.cells["rz-a2"] = CellInfo{"rz-a2", {"cluster-a"}};
  auto r = *replicaFromObject(replica("demo-9.cluster-a", "rz-a2", "dc-a", true, 31009));
  w.replicas["pay/" + r.name] = r;
  // An application only in dc-c, and one nowhere.
  w.apps["pay/far"] = *appFromObject(application("far", "{}"));
  auto far = *replicaFromObject(replica("far-1.cluster-c", "rz-c", "dc-c", true, 33001, 0, "far"));
  w.replicas["pay/" + far.name] = far;
  w.apps["pay/none"] = *appFromObject(application("none", R"({"pathPrefix":"/none/deeper"})"));
  w.proxies["gw-c"].connected = true;

  ProxyConfig c = buildProxyConfig(w, gatewayIn("dc-a"));
  json::array routes = resource(c, Type::kRouteTable, kRouteTableName)["routes"].as_array();
  ASSERT_EQ(routes.size(), 4u) << json::serialize(routes);
  std::vector<std::string> order;
  for (const auto& rt : routes) order.push_back(std::string(rt.at("name").as_string()));
  // Host routes first, then the longest prefix.
  EXPECT_EQ(order, (std::vector<std::string>{"pay.demo@shop.example.com", "pay.demo@shop.test:8080",
                                             "pay.none", "pay.far"}));
  EXPECT_EQ(routes[0].at("match"), json::value(parse(R"({"prefix":"/shop","headers":[{"name":"host",
                                  "exact":"shop.example.com"}]})")));
  // Weighted by ready endpoints: 2 in rz-a, 1 in rz-a2.
  EXPECT_EQ(routes[0].at("forward"),
            json::value(parse(R"({"targets":[{"cluster":"pay.demo.rz-a","weight":2},
                                             {"cluster":"pay.demo.rz-a2","weight":1}]})")));
  EXPECT_EQ(routes[2].at("directResponse").at("status"), json::value(503));
  EXPECT_EQ(routes[3].as_object().if_contains("forward") ? routes[3].at("forward") : routes[3],
            json::value(parse(R"({"cluster":"gateway.dc-c"})")));
  ResourceSet set;
  Status s = applyAll(c, set);
  EXPECT_TRUE(s.isOk()) << s.message();
}

TEST(ConfigBuilder, TrafficPortByNameOrTheTemplatesFirst) {
  MeshWorld w = world(R"({"port":"admin"})");
  w.apps["pay/demo"] = *appFromObject(application(
      "demo", R"({"port":"http"})", R"([{"name":"web","port":1},{"name":"http","port":2}])"));
  w.replicas.clear();
  auto r = *replicaFromObject(replica("demo-1.cluster-a", "rz-a", "dc-a", true, 31001, 31500));
  w.replicas["pay/" + r.name] = r;
  ProxyConfig c = buildProxyConfig(w, gatewayIn("dc-a"));
  EXPECT_EQ(resource(c, Type::kCluster, "pay.demo.rz-a")["endpoints"].as_array()[0].at("port"),
            json::value(31001));
  // No port named: the template's first ("admin" here, though "http" sorts first otherwise).
  w.apps["pay/demo"] = *appFromObject(
      application("demo", "{}", R"([{"name":"admin","port":1},{"name":"http","port":2}])"));
  c = buildProxyConfig(w, gatewayIn("dc-a"));
  EXPECT_EQ(resource(c, Type::kCluster, "pay.demo.rz-a")["endpoints"].as_array()[0].at("port"),
            json::value(31500));
}

TEST(ConfigBuilder, ShardMapWithoutDatacentersIsLeftOutAndUnitizedFallsBack) {
  MeshWorld w = world();
  w.shardMaps["default"].assignments = {{"rz-a", "0-49"}, {"rz-x", "50-99"}};
  ProxyConfig c = buildProxyConfig(w, gatewayIn("dc-a"));
  EXPECT_TRUE(c.types[1]->resources.empty());
  ASSERT_EQ(c.problems.size(), 2u);
  EXPECT_NE(c.problems[0].find("rz-x"), std::string::npos) << c.problems[0];
  json::object route =
      resource(c, Type::kRouteTable, kRouteTableName)["routes"].as_array()[0].as_object();
  EXPECT_TRUE(route.contains("forward"));
  ResourceSet set;
  EXPECT_TRUE(applyAll(c, set).isOk());
}

TEST(ConfigBuilder, ObjectsWithoutTrafficAndTrafficDefaults) {
  EXPECT_FALSE(appFromObject(application("plain", "")).has_value());
  auto a = appFromObject(
      application("demo", R"({"unitized":true,"userId":[{"header":"X-User"},{"cookie":"uid"}]})"));
  ASSERT_TRUE(a);
  EXPECT_EQ(a->traffic.pathPrefix, "/");
  EXPECT_EQ(a->traffic.shardMap, "default");
  EXPECT_EQ(a->traffic.defaultCell, "local");
  ASSERT_EQ(a->traffic.userId.size(), 2u);
  EXPECT_EQ(a->traffic.userId[0].name, "x-user");
  EXPECT_EQ(a->traffic.userId[1].kind, "cookie");
  EXPECT_FALSE(replicaFromObject(parse(R"({"metadata":{"name":"x"}})")).has_value());
  auto p = proxyFromObject(parse(R"({"metadata":{"name":"gw"},"spec":{"datacenter":"dc-a",
      "role":"gateway","listenAddress":"10.0.0.1:80"},"status":{"connected":true}})"));
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->connected);
  EXPECT_EQ(p->listenAddress, "10.0.0.1:80");
}

TEST(ConfigBuilder, ListenersAndAddresses) {
  std::vector<std::string> problems;
  auto l = buildListeners("gw.example.com:8443", problems);
  ASSERT_EQ(l->resources.size(), 1u);
  EXPECT_EQ(parse(l->resources[0].json)["address"], json::value("0.0.0.0"));
  EXPECT_EQ(parse(buildListeners("localhost:80", problems)->resources[0].json)["address"],
            json::value("127.0.0.1"));
  EXPECT_EQ(parse(buildListeners("[::1]:80", problems)->resources[0].json)["address"],
            json::value("::1"));
  EXPECT_TRUE(problems.empty());
  EXPECT_TRUE(buildListeners("", problems)->resources.empty());
  EXPECT_TRUE(problems.empty());
  EXPECT_TRUE(buildListeners("nope", problems)->resources.empty());
  EXPECT_EQ(problems.size(), 1u);

  EXPECT_EQ(splitHostPort("127.0.0.1:80"), std::make_pair(std::string("127.0.0.1"), 80));
  EXPECT_EQ(splitHostPort("[fe80::1]:443"), std::make_pair(std::string("fe80::1"), 443));
  EXPECT_FALSE(splitHostPort("fe80::1:443"));
  EXPECT_FALSE(splitHostPort("host:0"));
  EXPECT_FALSE(splitHostPort("host:70000"));
  EXPECT_TRUE(isIpLiteral("10.1.2.3"));
  EXPECT_TRUE(isIpLiteral("localhost"));
  EXPECT_FALSE(isIpLiteral("example.com"));
  // A gateway whose address is a name is left out (endpoints are IP literals), with a reason.
  MeshWorld w = world();
  w.proxies["gw-b"].listenAddress = "gw-b.example.com:9002";
  ProxyConfig c = buildProxyConfig(w, gatewayIn("dc-a"));
  EXPECT_TRUE(resource(c, Type::kCluster, "gateway.dc-b")["endpoints"].as_array().empty());
  ASSERT_EQ(c.problems.size(), 1u);
  EXPECT_NE(c.problems[0].find("gw-b"), std::string::npos);
}

TEST(ConfigBuilder, VersionsAreContentHashes) {
  EXPECT_EQ(contentHash(""), "cbf29ce484222325");
  EXPECT_NE(contentHash("a"), contentHash("b"));
  EXPECT_NE(combinedVersion({"", "", "", ""}), combinedVersion({"x", "", "", ""}));
  ResourceList l;
  l.resources = {{"b", "2", "{}"}, {"a", "1", "{}"}};
  l.seal();
  EXPECT_EQ(names(l), (std::vector<std::string>{"a", "b"}));
  EXPECT_NE(l.find("b"), nullptr);
  EXPECT_EQ(l.find("c"), nullptr);
}

}  // namespace
}  // namespace tessera::mesh::control
