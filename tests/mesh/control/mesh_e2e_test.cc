// The mesh end to end: tessera-server on a real PostgreSQL, three real agents (one per
// datacenter) running tessera-demo-app replicas, and a real tessera-proxy gateway per
// datacenter programmed by the control plane. A request with a user id lands in the cell that
// owns the user's bucket through any gateway; after a ShardMap change it lands in the new
// owner within a second of the rollout being done.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/json.hpp>

#include "tests/federation/federation_fixture.h"
#include "tests/mesh/control/shard_map_util.h"

#ifndef TESSERA_PROXY_BIN
#error "TESSERA_PROXY_BIN must be defined by the build"
#endif

namespace tessera::testing {
namespace {

namespace json = boost::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

/// A port free right now on 127.0.0.1 (bound to 0, read back, released).
std::uint16_t freePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

class MeshE2eTest : public FederationTest {
 protected:
  void TearDown() override {
    for (auto& p : proxies_) {
      if (p && p->running()) {
        p->signal(SIGTERM);
        p->wait(seconds(20));
      }
    }
    FederationTest::TearDown();
  }

  void createWorld() {
    auto c = server_->client();
    for (const auto& d : kDcs) {
      json::value cell = json::parse(cellJson(d.cell, d.region));
      cell.as_object()["spec"].as_object()["clusters"] = json::array{json::value(d.cluster)};
      auto r = c.post(std::string(kApi) + "/cells", json::serialize(cell));
      ASSERT_EQ(r.status, 201) << r.body;
    }
    putShardMap(server_->client(), 40);
    // The scheduler places it: one replica of tessera-demo-app per RZone cell.
    json::object templ{
        {"command", json::array{TESSERA_DEMO_APP_BIN}},
        {"ports", json::array{json::object{{"name", "http"}, {"port", 8080}}}},
        {"resources", json::object{{"cpu", "100m"}, {"memory", "32Mi"}}},
        {"readinessProbe",
         json::object{{"httpGet", json::object{{"path", "/healthz"}}}, {"periodSeconds", 1}}}};
    json::object app{
        {"apiVersion", "tessera.io/v1"},
        {"kind", "Application"},
        {"metadata", json::object{{"name", "demo"}, {"namespace", "pay"}}},
        {"spec", json::object{{"template", templ},
                              {"placement", json::object{{"cells", json::object{{"type", "RZone"}}},
                                                         {"replicasPerCell", 1}}},
                              {"traffic", json::object{{"unitized", true}}}}}};
    auto r = c.post(std::string(kApi) + "/namespaces/pay/applications", json::serialize(app));
    ASSERT_EQ(r.status, 201) << r.body;
  }

  std::string token() {
    json::object o{{"apiVersion", "tessera.io/v1"},
                   {"kind", "APIToken"},
                   {"metadata", json::object{{"generateName", "proxies-"}}},
                   {"spec", json::object{{"user", "gateways"}, {"role", "proxy"}}}};
    auto r = server_->client().post(std::string(kApi) + "/apitokens", json::serialize(o));
    EXPECT_EQ(r.status, 201) << r.body;
    return str(r.json(), {"status", "token"});
  }

  /// A gateway for `d`; returns the port it takes traffic on.
  std::uint16_t startGateway(const Dc& d, const std::string& tokenFile) {
    const std::uint16_t port = freePort();
    const std::string id = "gw-" + d.zone;
    proxies_.push_back(Process::spawn(
        {TESSERA_PROXY_BIN, "--control-plane", "127.0.0.1:" + std::to_string(server_->meshPort()),
         "--token-file", tokenFile, "--id", id, "--datacenter", d.zone, "--role", "gateway",
         "--advertise", "127.0.0.1:" + std::to_string(port), "--admin", "127.0.0.1:0", "--workers",
         "1"},
        dir_->path() + "/" + id + ".log"));
    return port;
  }

  bool inSync(const std::string& id) {
    auto r = server_->client().get(std::string(kApi) + "/proxies/" + id);
    if (r.status != 200) return false;
    json::value p = r.json();
    return str(p, {"status", "connected"}) == "true" &&
           str(p, {"status", "ackedVersion"}) == str(p, {"status", "desiredVersion"});
  }

  /// The cell that answered a request for `user` through the gateway on `port` ("" on error).
  std::string cellFor(std::uint16_t port, const std::string& user) {
    HttpClient c(Endpoint{"127.0.0.1", port, ""});
    auto r = c.request("GET", "/", "", {{"x-user-id", user}});
    if (r.status != 200) return "status " + std::to_string(r.status) + " " + r.body;
    return str(r.json(), {"cell"});
  }

  std::vector<std::unique_ptr<Process>> proxies_;
};

TEST_F(MeshE2eTest, AUserLandsInItsCellThroughAnyGatewayAndFollowsAShardMapChange) {
  registerAll();
  createWorld();
  ASSERT_TRUE(waitFor([&] { return readyReplicas() == 3; }, seconds(60))) << readyReplicas();

  const std::string tokenFile = dir_->path() + "/proxy.token";
  writeFile(tokenFile, token() + "\n");
  std::vector<std::uint16_t> ports;
  for (const auto& d : kDcs) ports.push_back(startGateway(d, tokenFile));
  for (const auto& d : kDcs) {
    ASSERT_TRUE(waitFor([&] { return inSync("gw-" + d.zone); }, seconds(30)))
        << "gw-" << d.zone << "\n"
        << tailFile(dir_->path() + "/gw-" + d.zone + ".log");
  }

  // User 45: bucket 45, owned by rz-b (dc-b). Every gateway sends it there; gateways of other
  // datacenters forward it once to dc-b's.
  for (std::uint16_t port : ports) {
    std::string cell;
    ASSERT_TRUE(waitFor(
        [&] {
          cell = cellFor(port, "user-45");
          return cell == "rz-b";
        },
        seconds(20)))
        << "port " << port << ": " << cell;
  }
  EXPECT_EQ(cellFor(ports[1], "user-07"), "rz-a");
  EXPECT_EQ(cellFor(ports[1], "user-99"), "rz-c");

  // Move buckets 40-49 to rz-a; once the rollout is done, user 45 lands in rz-a at once.
  const std::int64_t version = putShardMap(server_->client(), 50);
  json::value sm;
  ASSERT_TRUE(waitForRollout(server_->client(), version, sm)) << json::serialize(sm);
  EXPECT_EQ(str(sm, {"status", "rollout", "proxiesTotal"}), "3");
  for (std::uint16_t port : ports) {
    std::string cell;
    EXPECT_TRUE(waitFor(
        [&] {
          cell = cellFor(port, "user-45");
          return cell == "rz-a";
        },
        seconds(1)))
        << "port " << port << ": " << cell;
  }
}

}  // namespace
}  // namespace tessera::testing
