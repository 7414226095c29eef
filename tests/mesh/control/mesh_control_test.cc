// The mesh control plane end to end: a real tessera-server on a real PostgreSQL, real gRPC
// streams from ConfigClients that apply what they get with the proxy's own ResourceSet (so a
// configuration a proxy would refuse is refused here too), and the API objects it writes.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <mutex>
#include <set>

#include "mesh/config/config.h"
#include "mesh/proto/mesh.grpc.pb.h"
#include "mesh/xds/config_client.h"
#include "tests/apiserver/api_test_util.h"
#include "tests/mesh/control/shard_map_util.h"
#include "tests/support/server_instance.h"
#include "tests/support/wait.h"

namespace tessera::testing {
namespace {

namespace json = boost::json;
using mesh::ResourceSet;
using mesh::ResourceType;
using std::chrono::milliseconds;
using std::chrono::seconds;

const char* typeName(ResourceType t) {
  switch (t) {
    case ResourceType::kCluster:
      return "Cluster";
    case ResourceType::kShardMap:
      return "ShardMap";
    case ResourceType::kRouteTable:
      return "RouteTable";
    case ResourceType::kListener:
      return "Listener";
  }
  return "?";
}

/// A proxy without a data plane: a ConfigClient whose apply is the proxy's ResourceSet, with
/// everything it saw recorded.
class FakeProxy {
 public:
  FakeProxy(const ServerInstance& server, const std::string& token, mesh::ProxyIdentity id) {
    mesh::ConfigClientOptions o;
    o.server = "127.0.0.1:" + std::to_string(server.meshPort());
    o.token = token;
    o.caFile = server.caFile();
    o.identity = std::move(id);
    o.buildVersion = "test";
    o.initialBackoff = milliseconds(50);
    o.maxBackoff = milliseconds(500);
    client_ = mesh::ConfigClient::create(
        o, [this](ResourceType t, const std::string& v, const std::vector<ResourceSet::Named>& r) {
          return apply(t, v, r);
        });
  }
  ~FakeProxy() { client_->stop(); }

  void start() { client_->start(); }
  void stop() { client_->stop(); }
  bool connected() const { return client_->connected(); }
  std::uint64_t nacks() const { return client_->nacks(); }

  /// Fail the next apply of `type` with `reason`.
  void failNext(ResourceType type, std::string reason) {
    std::lock_guard lock(mu_);
    failType_ = type;
    failReason_ = std::move(reason);
  }
  std::vector<std::string> received() const {
    std::lock_guard lock(mu_);
    return received_;
  }
  std::vector<std::string> violations() const {
    std::lock_guard lock(mu_);
    return violations_;
  }
  std::shared_ptr<const mesh::Config> config() const {
    std::lock_guard lock(mu_);
    return set_.current();
  }
  /// The version of shard map `name` the proxy holds (0: none).
  std::uint64_t shardMapVersion(const std::string& name) const {
    auto c = config();
    const auto* sm = c->findShardMap(name);
    return sm ? sm->version : 0;
  }

 private:
  Status apply(ResourceType t, const std::string& version,
               const std::vector<ResourceSet::Named>& resources) {
    std::lock_guard lock(mu_);
    received_.push_back(typeName(t));
    if (failType_ && *failType_ == t) {
      failType_.reset();
      return invalidArgument(failReason_);
    }
    Status s = set_.apply(t, version, resources);
    if (!s.isOk()) {
      violations_.push_back(std::string("refused ") + typeName(t) + ": " + s.message());
      return s;
    }
    // Every cluster a route names is one the proxy holds (ResourceSet checks it too; this says
    // so in the test's own words).
    const auto& cfg = *set_.current();
    for (const auto& table : cfg.routeTables) {
      for (const auto& route : table.routes) {
        std::vector<std::string> named;
        for (const auto& w : route.action.forward.targets) named.push_back(w.cluster);
        for (const auto& [cell, target] : route.action.unitized.cells) {
          for (const auto& w : target.targets) named.push_back(w.cluster);
        }
        for (const auto& [dc, cluster] : route.action.unitized.gateways) named.push_back(cluster);
        for (const auto& c : named) {
          if (!cfg.findCluster(c)) {
            violations_.push_back("route " + route.name + " names missing cluster " + c);
          }
        }
      }
    }
    return s;
  }

  mutable std::mutex mu_;
  ResourceSet set_;
  std::vector<std::string> received_;
  std::vector<std::string> violations_;
  std::optional<ResourceType> failType_;
  std::string failReason_;
  std::unique_ptr<mesh::ConfigClient> client_;
};

class MeshControlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = ServerInstance::start(sharedPostgres());
    auto c = server_->client();
    for (const char* x : {"a", "b", "c"}) {
      const std::string cluster = std::string("cluster-") + x;
      ASSERT_EQ(
          c.post(std::string(kApi) + "/clusters", clusterJson(cluster, std::string("dc-") + x))
              .status,
          201);
      json::value cell = json::parse(cellJson(std::string("rz-") + x));
      cell.as_object()["spec"].as_object()["clusters"] = json::array{json::value(cluster)};
      ASSERT_EQ(c.post(std::string(kApi) + "/cells", json::serialize(cell)).status, 201);
    }
    ASSERT_GT(putShardMap(server_->client(), 40), 0);
    std::string app = appJson("pay", "demo");
    json::value a = json::parse(app);
    a.as_object()["spec"].as_object()["traffic"] = json::object{{"unitized", true}};
    auto r = c.post(std::string(kApi) + "/namespaces/pay/applications", json::serialize(a));
    ASSERT_EQ(r.status, 201) << r.body;
    token_ = token("system:mesh-test", "proxy");
  }

  /// A new APIToken's secret (user names with ':' are fine; object names are generated).
  std::string token(const std::string& user, const std::string& role) {
    json::object o{{"apiVersion", "tessera.io/v1"},
                   {"kind", "APIToken"},
                   {"metadata", json::object{{"generateName", "t-"}}},
                   {"spec", json::object{{"user", user}, {"role", role}}}};
    auto r = server_->client().post(std::string(kApi) + "/apitokens", json::serialize(o));
    EXPECT_EQ(r.status, 201) << r.body;
    return r.status == 201 ? str(r.json(), {"status", "token"}) : std::string();
  }

  /// A gateway in datacenter `dc`, streaming from `server` (default: the test's server).
  std::unique_ptr<FakeProxy> proxy(const std::string& id, const std::string& dc,
                                   const std::string& listen,
                                   const ServerInstance* server = nullptr) {
    mesh::ProxyIdentity who;
    who.id = id;
    who.datacenter = dc;
    who.role = "gateway";
    who.listenAddress = listen;
    who.adminAddress = "127.0.0.1:1";
    auto p = std::make_unique<FakeProxy>(server ? *server : *server_, token_, who);
    p->start();
    return p;
  }

  json::value proxyObject(const std::string& id) {
    auto r = server_->client().get(std::string(kApi) + "/proxies/" + id);
    return r.status == 200 ? r.json() : json::value();
  }

  std::string inSync(const json::value& p) {
    if (!p.is_object()) return "";
    boost::system::error_code ec;
    const auto* conds = p.find_pointer("/status/conditions", ec);
    if (!conds || !conds->is_array()) return "";
    for (const auto& c : conds->as_array()) {
      if (str(c, {"type"}) == "InSync") return str(c, {"status"}) + "/" + str(c, {"reason"});
    }
    return "";
  }

  bool synced(const std::string& id) {
    json::value p = proxyObject(id);
    return inSync(p) == "True/Acked" &&
           str(p, {"status", "ackedVersion"}) == str(p, {"status", "desiredVersion"}) &&
           str(p, {"status", "connected"}) == "true";
  }

  std::unique_ptr<ServerInstance> server_;
  std::string token_;
};

TEST_F(MeshControlTest, ProxyGetsClustersBeforeRoutesAndItsObjectShowsItInSync) {
  auto p = proxy("gw-a", "dc-a", "127.0.0.1:18001");
  ASSERT_TRUE(waitFor([&] { return p->connected(); }, seconds(20)));
  ASSERT_TRUE(waitFor([&] { return synced("gw-a"); }, seconds(20)))
      << json::serialize(proxyObject("gw-a"));

  // The order of the first updates: clusters and shard maps, then routes, then listeners.
  auto got = p->received();
  ASSERT_GE(got.size(), 4u);
  std::set<std::string> first(got.begin(), got.begin() + 2);
  EXPECT_EQ(first, (std::set<std::string>{"Cluster", "ShardMap"}));
  EXPECT_EQ(got[2], "RouteTable");
  EXPECT_EQ(got[3], "Listener");
  EXPECT_TRUE(p->violations().empty()) << p->violations().front();
  EXPECT_EQ(p->nacks(), 0u);

  // What it holds: gateway clusters for the other datacenters, the shard map, a unitized route
  // and a listener on its own port.
  auto cfg = p->config();
  EXPECT_NE(cfg->findCluster("gateway.dc-b"), nullptr);
  EXPECT_NE(cfg->findCluster("gateway.dc-c"), nullptr);
  EXPECT_EQ(cfg->findCluster("gateway.dc-a"), nullptr);
  ASSERT_NE(cfg->findShardMap("default"), nullptr);
  EXPECT_EQ(cfg->findShardMap("default")->owner[45], "rz-b");
  ASSERT_EQ(cfg->listeners.size(), 1u);
  EXPECT_EQ(cfg->listeners[0].port, 18001);

  // The Proxy object: what kubectl shows.
  json::value o = proxyObject("gw-a");
  EXPECT_EQ(str(o, {"spec", "datacenter"}), "dc-a");
  EXPECT_EQ(str(o, {"spec", "role"}), "gateway");
  EXPECT_EQ(str(o, {"spec", "listenAddress"}), "127.0.0.1:18001");
  EXPECT_EQ(str(o, {"spec", "buildVersion"}), "test");
  EXPECT_FALSE(str(o, {"status", "lastSeenTime"}).empty());
  EXPECT_FALSE(str(o, {"status", "acked", "cluster"}).empty());
  EXPECT_EQ(str(o, {"status", "shardMaps"}), R"([{"name":"default","version":1}])");
  auto table =
      server_->client().request("GET", std::string(kApi) + "/proxies", "",
                                {{"Accept", "application/json;as=Table;v=v1;g=meta.k8s.io"}});
  ASSERT_EQ(table.status, 200) << table.body;
  for (const char* column :
       {"Datacenter", "Role", "Cell", "Acked", "In-Sync", "Last-NACK", "Last-Seen"}) {
    EXPECT_NE(table.body.find(std::string("\"") + column + "\""), std::string::npos) << column;
  }
  EXPECT_NE(table.body.find(str(o, {"status", "ackedVersion"})), std::string::npos);
  // Read-only: nobody writes proxies through the API.
  EXPECT_EQ(server_->client().del(std::string(kApi) + "/proxies/gw-a").status, 405);
  // The proxy's credential is for the mesh stream only.
  EXPECT_EQ(server_->client(token_).get(std::string(kApi) + "/proxies").status, 403);
}

TEST_F(MeshControlTest, ANackIsRecordedWithItsReasonAndTheNextGoodVersionRecovers) {
  auto p = proxy("gw-a", "dc-a", "127.0.0.1:18001");
  ASSERT_TRUE(waitFor([&] { return synced("gw-a"); }, seconds(20)));
  p->failNext(ResourceType::kShardMap, "shardMaps \"default\": injected failure");
  const auto v2 = putShardMap(server_->client(), 45);
  json::value o;
  ASSERT_TRUE(waitFor(
      [&] {
        o = proxyObject("gw-a");
        return inSync(o) == "False/Nacked";
      },
      seconds(20)))
      << json::serialize(o);
  EXPECT_NE(str(o, {"status", "lastNackReason"}).find("injected failure"), std::string::npos)
      << json::serialize(o);
  EXPECT_FALSE(str(o, {"status", "lastNackTime"}).empty());
  EXPECT_NE(str(o, {"status", "ackedVersion"}), str(o, {"status", "desiredVersion"}));
  EXPECT_EQ(p->shardMapVersion("default"), 1u);  // kept the last good one
  EXPECT_EQ(p->nacks(), 1u);
  const auto sentBefore = p->received().size();

  // A new version goes out at once and is taken.
  const auto v3 = putShardMap(server_->client(), 50);
  EXPECT_GT(v3, v2);
  ASSERT_TRUE(
      waitFor([&] { return p->shardMapVersion("default") == static_cast<std::uint64_t>(v3); },
              seconds(20)));
  ASSERT_TRUE(waitFor([&] { return synced("gw-a"); }, seconds(20)))
      << json::serialize(proxyObject("gw-a"));
  // The rejected version was not sent again in a loop (a retry waits 5 s).
  EXPECT_LE(p->received().size(), sentBefore + 2);
  EXPECT_TRUE(p->violations().empty()) << p->violations().front();
}

TEST_F(MeshControlTest, AShardMapChangeReachesEveryProxyAndItsRolloutIsDone) {
  auto a = proxy("gw-a", "dc-a", "127.0.0.1:18001");
  auto b = proxy("gw-b", "dc-b", "127.0.0.1:18002");
  auto c = proxy("gw-c", "dc-c", "127.0.0.1:18003");
  for (const char* id : {"gw-a", "gw-b", "gw-c"}) {
    ASSERT_TRUE(waitFor([&] { return synced(id); }, seconds(20))) << id;
  }
  // Each gateway knows the others as its way into their datacenters.
  ASSERT_TRUE(waitFor(
      [&] {
        const auto* gw = a->config()->findCluster("gateway.dc-b");
        return gw && gw->endpoints.size() == 1 && gw->endpoints[0].port == 18002;
      },
      seconds(20)));

  const auto version = putShardMap(server_->client(), 30);
  for (auto* p : {a.get(), b.get(), c.get()}) {
    ASSERT_TRUE(waitFor(
        [&] { return p->shardMapVersion("default") == static_cast<std::uint64_t>(version); },
        seconds(20)));
    EXPECT_EQ(p->config()->findShardMap("default")->owner[35], "rz-b");
  }
  json::value sm;
  ASSERT_TRUE(waitForRollout(server_->client(), version, sm)) << json::serialize(sm);
  EXPECT_EQ(str(sm, {"status", "rollout", "proxiesAcked"}), "3");
  EXPECT_EQ(str(sm, {"status", "rollout", "proxiesTotal"}), "3");
  const auto& dcs = sm.at("status").at("rollout").at("datacenters").as_array();
  ASSERT_EQ(dcs.size(), 3u);
  for (const auto& dc : dcs) {
    EXPECT_EQ(str(dc, {"acked"}), "1") << json::serialize(dc);
    EXPECT_FALSE(str(dc, {"time"}).empty()) << json::serialize(dc);
  }
  for (auto* p : {a.get(), b.get(), c.get()}) {
    EXPECT_TRUE(p->violations().empty()) << p->violations().front();
  }
  for (const char* id : {"gw-a", "gw-b", "gw-c"}) {
    ASSERT_TRUE(waitFor([&] { return synced(id); }, seconds(20))) << id;
  }
}

// Two servers on one database, a proxy on each: both servers' rollouts count both proxies. A
// version the other server's proxy rejected is not done; the next one, taken by both, is.
TEST_F(MeshControlTest, ARolloutCountsTheProxiesOfEveryServer) {
  auto second =
      ServerInstance::start(sharedPostgres(), ServerOptions::onDatabase(server_->database()));
  auto a = proxy("gw-a", "dc-a", "127.0.0.1:18001");
  auto b = proxy("gw-b", "dc-b", "127.0.0.1:18002", second.get());
  for (const char* id : {"gw-a", "gw-b"}) {
    ASSERT_TRUE(waitFor([&] { return synced(id); }, seconds(20))) << id;
  }
  b->failNext(ResourceType::kShardMap, "shardMaps \"default\": injected failure");
  const auto rejected = putShardMap(server_->client(), 30);
  json::value sm;
  ASSERT_TRUE(waitFor(
      [&] {
        sm = server_->client().get(std::string(kApi) + "/shardmaps/default").json();
        return str(sm, {"status", "rollout", "version"}) == std::to_string(rejected) &&
               str(sm, {"status", "rollout", "proxiesAcked"}) == "1" &&
               str(sm, {"status", "rollout", "proxiesTotal"}) == "2";
      },
      seconds(20)))
      << json::serialize(sm);
  EXPECT_EQ(str(sm, {"status", "rollout", "done"}), "false") << json::serialize(sm);
  ASSERT_EQ(b->nacks(), 1u);

  const auto taken = putShardMap(server_->client(), 35);
  ASSERT_TRUE(waitForRollout(server_->client(), taken, sm)) << json::serialize(sm);
  EXPECT_EQ(str(sm, {"status", "rollout", "proxiesAcked"}), "2");
  EXPECT_EQ(str(sm, {"status", "rollout", "proxiesTotal"}), "2");
  const auto& dcs = sm.at("status").at("rollout").at("datacenters").as_array();
  ASSERT_EQ(dcs.size(), 2u) << json::serialize(sm);
  for (const auto& dc : dcs) {
    EXPECT_EQ(str(dc, {"acked"}), "1") << json::serialize(dc);
    EXPECT_FALSE(str(dc, {"time"}).empty()) << json::serialize(dc);
  }
}

TEST_F(MeshControlTest, RoutesChangeBeforeTheClustersTheyStopUsingAreRemoved) {
  auto p = proxy("gw-a", "dc-a", "127.0.0.1:18001");
  ASSERT_TRUE(waitFor([&] { return synced("gw-a"); }, seconds(20)));
  auto c = server_->client();
  // A fourth datacenter: a new gateway cluster, and the route that names it.
  ASSERT_EQ(c.post(std::string(kApi) + "/clusters", clusterJson("cluster-d", "dc-d")).status, 201);
  json::value cell = json::parse(cellJson("rz-d"));
  cell.as_object()["spec"].as_object()["clusters"] = json::array{json::value("cluster-d")};
  ASSERT_EQ(c.post(std::string(kApi) + "/cells", json::serialize(cell)).status, 201);
  ASSERT_TRUE(
      waitFor([&] { return p->config()->findCluster("gateway.dc-d") != nullptr; }, seconds(20)));
  const auto before = p->received().size();
  // ... and away again: the route first, the cluster last.
  ASSERT_EQ(c.del(std::string(kApi) + "/cells/rz-d").status, 200);
  ASSERT_EQ(c.del(std::string(kApi) + "/clusters/cluster-d").status, 200);
  ASSERT_TRUE(
      waitFor([&] { return p->config()->findCluster("gateway.dc-d") == nullptr; }, seconds(20)));
  auto got = p->received();
  std::vector<std::string> after(got.begin() + static_cast<long>(before), got.end());
  ASSERT_FALSE(after.empty());
  EXPECT_EQ(after.back(), "Cluster");
  auto route = std::find(after.begin(), after.end(), "RouteTable");
  EXPECT_NE(route, after.end()) << "the route table changed before the cluster went";
  EXPECT_TRUE(p->violations().empty()) << p->violations().front();
  EXPECT_EQ(p->nacks(), 0u);
}

TEST_F(MeshControlTest, ADisconnectedProxyIsShownDisconnected) {
  auto a = proxy("gw-a", "dc-a", "127.0.0.1:18001");
  auto b = proxy("gw-b", "dc-b", "127.0.0.1:18002");
  ASSERT_TRUE(waitFor([&] { return synced("gw-a") && synced("gw-b"); }, seconds(20)));
  b->stop();
  json::value o;
  ASSERT_TRUE(waitFor(
      [&] {
        o = proxyObject("gw-b");
        return str(o, {"status", "connected"}) == "false";
      },
      seconds(20)))
      << json::serialize(o);
  EXPECT_EQ(inSync(o), "False/Disconnected");
  // The other gateway no longer sends dc-b's users to it.
  ASSERT_TRUE(waitFor(
      [&] {
        const auto* gw = a->config()->findCluster("gateway.dc-b");
        return gw && gw->endpoints.empty();
      },
      seconds(20)));
  // The rollout counts only reachable proxies.
  ASSERT_TRUE(waitFor(
      [&] {
        auto sm = server_->client().get(std::string(kApi) + "/shardmaps/default").json();
        return str(sm, {"status", "rollout", "proxiesTotal"}) == "1" &&
               str(sm, {"status", "rollout", "done"}) == "true";
      },
      seconds(20)));
}

TEST_F(MeshControlTest, OnlyProxyCredentialsMayStream) {
  namespace pb = ::tessera::mesh::v1;
  auto stream = [&](const std::string& token) {
    auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(server_->meshPort()),
                                       grpc::InsecureChannelCredentials());
    auto stub = pb::MeshDiscovery::NewStub(channel);
    grpc::ClientContext ctx;
    if (!token.empty()) ctx.AddMetadata("authorization", "Bearer " + token);
    ctx.set_deadline(std::chrono::system_clock::now() + seconds(20));
    auto s = stub->StreamResources(&ctx);
    pb::DiscoveryRequest r;
    r.mutable_node()->set_id("x");
    r.mutable_node()->set_datacenter("dc-a");
    r.mutable_node()->set_role("gateway");
    r.set_type_url("tessera.io/mesh/Cluster");
    s->Write(r);
    s->WritesDone();
    pb::DiscoveryResponse resp;
    while (s->Read(&resp)) {
    }
    return s->Finish();
  };
  EXPECT_EQ(stream("").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(stream(token("vera", "viewer")).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(stream(server_->adminToken()).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  // A credential bound to one proxy cannot speak for another.
  auto bound = stream(token("system:proxy:gw-z", "proxy"));
  EXPECT_EQ(bound.error_code(), grpc::StatusCode::PERMISSION_DENIED) << bound.error_message();
  EXPECT_NE(bound.error_message().find("belongs to proxy gw-z"), std::string::npos);
  // A Node that is not one.
  grpc::Status bad;
  {
    auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(server_->meshPort()),
                                       grpc::InsecureChannelCredentials());
    auto stub = pb::MeshDiscovery::NewStub(channel);
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", "Bearer " + token_);
    auto s = stub->StreamResources(&ctx);
    pb::DiscoveryRequest r;
    r.mutable_node()->set_id("Bad_Name");
    r.mutable_node()->set_datacenter("dc-a");
    r.mutable_node()->set_role("gateway");
    r.set_type_url("tessera.io/mesh/Cluster");
    s->Write(r);
    s->WritesDone();
    pb::DiscoveryResponse resp;
    while (s->Read(&resp)) {
    }
    bad = s->Finish();
  }
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(bad.error_message().find("Bad_Name"), std::string::npos) << bad.error_message();
}

TEST_F(MeshControlTest, TrafficIsValidatedAtTheApi) {
  auto c = server_->client();
  json::value a = json::parse(appJson("pay", "bad"));
  a.as_object()["spec"].as_object()["traffic"] =
      json::object{{"port", "grpc"},
                   {"pathPrefix", "shop"},
                   {"userId", json::array{json::object{{"header", "x-user"}, {"cookie", "uid"}}}},
                   {"hosts", json::array{"Shop.Example.com"}}};
  auto r = c.post(std::string(kApi) + "/namespaces/pay/applications", json::serialize(a));
  ASSERT_EQ(r.status, 422) << r.body;
  const std::string msg = str(r.json(), {"message"});
  for (const char* part :
       {"spec.traffic.pathPrefix", "spec.traffic.userId[0]", "spec.traffic.hosts[0]"}) {
    EXPECT_NE(msg.find(part), std::string::npos) << part << ": " << msg;
  }
  a.as_object()["spec"].as_object()["traffic"] = json::object{{"port", "grpc"}};
  r = c.post(std::string(kApi) + "/namespaces/pay/applications", json::serialize(a));
  ASSERT_EQ(r.status, 422) << r.body;
  EXPECT_NE(str(r.json(), {"message"}).find("spec.traffic.port"), std::string::npos) << r.body;
  // Defaults are filled in.
  auto demo = c.get(std::string(kApi) + "/namespaces/pay/applications/demo").json();
  EXPECT_EQ(str(demo, {"spec", "traffic", "pathPrefix"}), "/");
  EXPECT_EQ(str(demo, {"spec", "traffic", "shardMap"}), "default");
  EXPECT_EQ(str(demo, {"spec", "traffic", "defaultCell"}), "local");
}

}  // namespace
}  // namespace tessera::testing
