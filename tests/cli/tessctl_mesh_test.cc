// tessctl and the mesh: `shardmap move --wait` and `proxies status` against a real
// tessera-server whose mesh control plane streams to real gRPC ConfigClients standing in for
// tessera-proxy (they ACK what they receive, or NACK shard maps with a reason). What a runbook
// needs: --wait returns when every connected proxy acked, with per-datacenter times, and
// exits 5 with the laggards and their NACK reasons when they do not.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <iostream>

#include "mesh/config/config.h"
#include "mesh/xds/config_client.h"
#include "tests/apiserver/api_test_util.h"
#include "tests/cli/tessctl_util.h"
#include "tests/support/server_instance.h"
#include "tests/support/wait.h"

namespace tessera::testing {
namespace {

namespace json = boost::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

/// A proxy without a data plane: accepts every configuration, except shard maps when told to
/// refuse them.
class FakeProxy {
 public:
  FakeProxy(const ServerInstance& server, const std::string& token, const std::string& id,
            const std::string& dc, bool refuseShardMaps)
      : refuse_(refuseShardMaps) {
    mesh::ConfigClientOptions o;
    o.server = "127.0.0.1:" + std::to_string(server.meshPort());
    o.token = token;
    o.caFile = server.caFile();
    o.identity.id = id;
    o.identity.datacenter = dc;
    o.identity.role = "gateway";
    o.identity.listenAddress = "127.0.0.1:1";
    o.identity.adminAddress = "127.0.0.1:1";
    o.buildVersion = "test";
    o.initialBackoff = milliseconds(50);
    o.maxBackoff = milliseconds(500);
    client_ = mesh::ConfigClient::create(
        o,
        [this](mesh::ResourceType t, const std::string& v,
               const std::vector<mesh::ResourceSet::Named>& r) -> Status {
          if (refuse_ && t == mesh::ResourceType::kShardMap) {
            return invalidArgument("test proxy refuses shard maps");
          }
          return set_.apply(t, v, r);
        });
    client_->start();
  }
  ~FakeProxy() { client_->stop(); }
  bool connected() const { return client_->connected(); }

 private:
  const bool refuse_;
  mesh::ResourceSet set_;  // used by the client's thread only
  std::unique_ptr<mesh::ConfigClient> client_;
};

class TessctlMeshTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerOptions o;
    o.tls = true;
    server_ = ServerInstance::start(sharedPostgres(), o);
    ASSERT_NE(server_->meshPort(), 0) << "the server runs no mesh control plane";
    auto c = server_->client();
    for (const char* x : {"a", "b"}) {
      const std::string cluster = std::string("cluster-") + x;
      ASSERT_EQ(
          c.post(std::string(kApi) + "/clusters", clusterJson(cluster, std::string("dc-") + x))
              .status,
          201);
      json::value cell = json::parse(cellJson(std::string("rz-") + x));
      cell.as_object()["spec"].as_object()["clusters"] = json::array{json::value(cluster)};
      ASSERT_EQ(c.post(std::string(kApi) + "/cells", json::serialize(cell)).status, 201);
    }
    auto r =
        c.post(std::string(kApi) + "/shardmaps",
               R"({"apiVersion":"tessera.io/v1","kind":"ShardMap","metadata":{"name":"default"},)"
               R"("spec":{"bucketCount":100,"assignments":[{"cell":"rz-a","buckets":"0-49"},)"
               R"({"cell":"rz-b","buckets":"50-99"}]}})");
    ASSERT_EQ(r.status, 201) << r.body;
    proxyToken_ = server_->createToken("proxies", "proxy");
  }

  CommandResult tessctl(std::vector<std::string> args) {
    args.insert(args.begin(), TESSCTL_BIN);
    auto r = runCommand(args, {"KUBECONFIG=" + server_->kubeconfigPath()}, seconds(120));
    if (std::getenv("TESSCTL_TEST_ECHO") != nullptr) {
      std::cerr << "$ tessctl ..." << args.back() << "\n"
                << r.out << r.err << "(exit " << r.exitCode << ")\n\n";
    }
    return r;
  }

  /// Waits until the Proxy object of `id` is connected and has acked some ShardMap version
  /// (or, for a refusing proxy, NACKed one).
  void waitForProxy(const std::string& id, bool refusing) {
    ASSERT_TRUE(waitFor(
        [&] {
          auto p = server_->client().get(std::string(kApi) + "/proxies/" + id);
          if (p.status != 200) return false;
          auto v = p.json();
          if (str(v, {"status", "connected"}) != "true") return false;
          return refusing ? !str(v, {"status", "lastNackReason"}).empty()
                          : json::serialize(v).find("\"shardMaps\":[{") != std::string::npos;
        },
        seconds(30)))
        << id;
  }

  std::unique_ptr<ServerInstance> server_;
  std::string proxyToken_;
};

TEST_F(TessctlMeshTest, WaitReturnsWhenEveryConnectedProxyAcked) {
  FakeProxy a(*server_, proxyToken_, "gw-a", "dc-a", false);
  FakeProxy b(*server_, proxyToken_, "gw-b", "dc-b", false);
  waitForProxy("gw-a", false);
  waitForProxy("gw-b", false);
  auto r = tessctl({"shardmap", "move", "40-49", "--to", "rz-b", "--wait", "--timeout", "30s"});
  ASSERT_EQ(r.exitCode, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("rz-a → rz-b: 40-49 (10 buckets)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("rollout of version 2 done: 2/2 proxies acked"), std::string::npos) << r.out;
  // Per datacenter: acked/total and when.
  EXPECT_NE(r.out.find("DATACENTER   ACKED   AT"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("dc-a         1/1     20"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("dc-b         1/1     20"), std::string::npos) << r.out;

  // The rollout is written as soon as the last proxy acks; each Proxy object's own status
  // follows within its write debounce (docs/mesh-control.md), so wait for it with a deadline.
  CommandResult status;
  EXPECT_TRUE(waitFor(
      [&] {
        status = tessctl({"proxies", "status"});
        return status.exitCode == 0 && status.out.find("default=2") != std::string::npos;
      },
      seconds(10), milliseconds(100)));
  ASSERT_EQ(status.exitCode, 0) << status.err;
  EXPECT_EQ(collapseSpaces(firstLine(status.out)),
            "NAME DATACENTER ROLE CELL CONNECTED ACKED DESIRED IN SYNC SHARDMAPS LAST NACK LAST "
            "SEEN");
  EXPECT_NE(status.out.find("gw-a   dc-a         gateway   <none>   yes"), std::string::npos)
      << status.out;
  EXPECT_NE(status.out.find("default=2"), std::string::npos) << status.out;
  auto show = tessctl({"shardmap", "show"});
  EXPECT_NE(show.out.find("Rollout: version 2, 2/2 proxies acked, done"), std::string::npos)
      << show.out;
}

TEST_F(TessctlMeshTest, WaitTimesOutNamingTheProxyThatRefused) {
  FakeProxy a(*server_, proxyToken_, "gw-a", "dc-a", false);
  FakeProxy b(*server_, proxyToken_, "gw-b", "dc-b", true);
  waitForProxy("gw-a", false);
  waitForProxy("gw-b", true);
  auto r = tessctl({"shardmap", "move", "40-49", "--to", "rz-b", "--wait", "--timeout", "2s"});
  EXPECT_EQ(r.exitCode, 5) << r.out << r.err;
  // The change is made; only its rollout is incomplete.
  EXPECT_NE(r.out.find("shardmap/default configured: version 1 → 2"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("timed out after 2s waiting for every reachable proxy to ack version 2"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("dc-b 0/1"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("gw-b (dc-b): has none, last NACK: "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("test proxy refuses shard maps"), std::string::npos) << r.err;
  auto status = tessctl({"proxies", "status"});
  ASSERT_EQ(status.exitCode, 0) << status.err;
  EXPECT_NE(collapseSpaces(status.out).find("gw-b dc-b gateway <none> yes"), std::string::npos)
      << status.out;
  EXPECT_NE(status.out.find("test proxy refuses"), std::string::npos) << status.out;
}

}  // namespace
}  // namespace tessera::testing
