// Federation end to end with real processes: tessera-server on a real PostgreSQL, real
// tessera-agent processes over real gRPC streams, real replicas (tessera-demo-app) answering
// on their ports.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <filesystem>
#include <map>
#include <set>

#include "federation/proto/agent.grpc.pb.h"
#include "federation/protocol.h"
#include "tests/federation/federation_fixture.h"

namespace tessera::testing {
namespace {

namespace json = boost::json;
namespace pb = ::tessera::federation::v1;
using std::chrono::seconds;

TEST_F(FederationTest, AgentsRegisterAndTheirClustersBecomeReady) {
  registerAll();
  for (const auto& d : kDcs) {
    json::value c = cluster(d.cluster);
    EXPECT_EQ(str(c, {"spec", "zone"}), d.zone);
    EXPECT_EQ(str(c, {"spec", "region"}), d.region);
    EXPECT_FALSE(str(c, {"status", "lastHeartbeatTime"}).empty());
    EXPECT_FALSE(str(c, {"status", "allocatable", "cpu"}).empty());
    EXPECT_FALSE(str(c, {"status", "capacity", "memory"}).empty());
    // The credential is in the state directory, private.
    struct stat st {};
    ASSERT_EQ(::stat((stateDir(d) + "/credential").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600);
  }
  // Each cluster got its own agent credential; bootstrap tokens are spent.
  auto tokens = server_->client()
                    .get(std::string(kApi) + "/apitokens?labelSelector=tessera.io%2Fcluster")
                    .json();
  EXPECT_EQ(tokens.at("items").as_array().size(), 3u);
  auto bts = server_->client().get(std::string(kApi) + "/bootstraptokens").json();
  for (const auto& bt : bts.at("items").as_array())
    EXPECT_FALSE(str(bt, {"status", "usedBy"}).empty());
}

TEST_F(FederationTest, BadBootstrapTokensAreRefusedWithAReason) {
  const Dc& a = kDcs[0];
  std::string token = bootstrapToken();
  startAgent(a, token);
  waitReady(a.cluster);
  struct Case {
    Dc dc;
    std::string token;
    std::string reason;
  };
  Dc other = {"cluster-x", "region-1", "dc-x", "rz-x", 34000};
  Dc other2 = {"cluster-y", "region-1", "dc-y", "rz-y", 34100};
  Dc other3 = {"cluster-z", "region-1", "dc-z", "rz-z", 34200};
  Dc other4 = {"cluster-w", "region-1", "dc-w", "rz-w", 34300};
  std::vector<Case> cases = {
      {other, token, "already used by cluster cluster-a"},
      {other2, bootstrapToken("", "2020-01-01T00:00:00Z"), "expired"},
      {other3, bootstrapToken("cluster-q"), "is for cluster cluster-q"},
      {other4, "tsr_0000000000000000000000000000000000000000000", "unknown bootstrap token"},
  };
  for (const auto& c : cases) {
    auto& p = startAgent(c.dc, c.token);
    auto code = p.wait(seconds(30));
    ASSERT_TRUE(code.has_value()) << c.reason;
    EXPECT_EQ(*code, 3) << c.reason;
    EXPECT_NE(readFile(agentLog(c.dc)).find(c.reason), std::string::npos)
        << c.reason << "\n"
        << readFile(agentLog(c.dc));
    EXPECT_EQ(server_->client().get(std::string(kApi) + "/clusters/" + c.dc.cluster).status, 404);
  }
  // A cluster name that exists in another zone is refused too.
  Dc impostor = {"cluster-a", "region-1", "dc-b", "rz-a", 34400};
  auto dirCopy = dir_->path() + "/impostor";
  std::filesystem::create_directories(dirCopy);
  auto p = Process::spawn(
      {TESSERA_AGENT_BIN, "--server", "127.0.0.1:" + std::to_string(server_->agentPort()),
       "--insecure", "--cluster", impostor.cluster, "--region", impostor.region, "--zone",
       impostor.zone, "--state-dir", dirCopy, "--token", bootstrapToken()},
      dirCopy + ".log");
  auto code = p->wait(seconds(30));
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 3);
  EXPECT_NE(readFile(dirCopy + ".log").find("already exists in region region-1, zone dc-a"),
            std::string::npos)
      << readFile(dirCopy + ".log");
  EXPECT_EQ(readyOf("cluster-a"), "True/AgentConnected");
}

TEST_F(FederationTest, WorkIsDeployedReplicasAnswerAndStatusIsAggregated) {
  registerAll();
  createApplicationAndBinding(2, kDcs);
  ASSERT_TRUE(waitFor([&] { return readyReplicas() == 6; }, seconds(60))) << readyReplicas();
  std::set<std::string> seen;
  for (const auto& r : replicas()) {
    std::string endpoint = str(r, {"status", "endpoint"});
    auto colon = endpoint.find(':');
    ASSERT_NE(colon, std::string::npos) << endpoint;
    HttpClient c(Endpoint{"127.0.0.1",
                          static_cast<std::uint16_t>(std::stoi(endpoint.substr(colon + 1))), ""});
    auto res = c.get("/");
    ASSERT_EQ(res.status, 200) << endpoint;
    auto id = res.json();
    EXPECT_EQ(str(id, {"application"}), "demo");
    EXPECT_EQ(str(id, {"revision"}), "demo-r1");
    EXPECT_EQ(str(id, {"cell"}), str(r, {"spec", "cell"}));
    EXPECT_EQ(str(id, {"cluster"}), str(r, {"spec", "cluster"}));
    EXPECT_EQ(str(id, {"datacenter"}), str(r, {"spec", "zone"}));
    seen.insert(str(id, {"replica"}));
  }
  EXPECT_EQ(seen.size(), 6u);
  // Application.status: desired and ready per cell and cluster.
  HttpResult app;
  ASSERT_TRUE(waitFor(
      [&] {
        app = server_->client().get(std::string(kApi) + "/namespaces/pay/applications/demo");
        return str(app.json(), {"status", "readyReplicas"}) == "6";
      },
      seconds(30)))
      << app.body;
  auto st = app.json().at("status");
  EXPECT_EQ(str(st, {"replicas"}), "6");
  ASSERT_EQ(st.at("cells").as_array().size(), 3u);
  for (const auto& cell : st.at("cells").as_array()) {
    EXPECT_EQ(str(cell, {"replicas"}), "2");
    EXPECT_EQ(str(cell, {"readyReplicas"}), "2");
    EXPECT_EQ(cell.at("clusters").as_array().size(), 1u);
  }
  std::string conds = json::serialize(st.at("conditions"));
  EXPECT_NE(conds.find("AllReplicasReady"), std::string::npos) << conds;
  // Replicas are read-only through the API, and logs come through the agent.
  auto first = replicas()[0];
  std::string name = str(first, {"metadata", "name"});
  EXPECT_EQ(server_->client().del(std::string(kApi) + "/namespaces/pay/replicas/" + name).status,
            405);
  auto logs = server_->client().get(std::string(kApi) + "/namespaces/pay/replicas/" + name +
                                    "/log?tailLines=20");
  ASSERT_EQ(logs.status, 200) << logs.body;
  EXPECT_NE(logs.body.find("method=GET path=/ "), std::string::npos) << logs.body;
  EXPECT_EQ(server_->client()
                .get(std::string(kApi) + "/namespaces/pay/replicas/nope.cluster-a/log")
                .status,
            404);
}

TEST_F(FederationTest, ScaleAndRemoveConvergeWithoutOrphans) {
  registerAll();
  createApplicationAndBinding(1, kDcs);
  ASSERT_TRUE(waitFor([&] { return readyReplicas() == 3; }, seconds(60)));
  putBinding(3, {kDcs[0]});  // cluster-a gets 3, b and c lose theirs
  ASSERT_TRUE(waitFor(
      [&] {
        return readyReplicas("tessera.io%2Fcluster%3Dcluster-a") == 3 && replicas().size() == 3;
      },
      seconds(60)))
      << replicas().size();
  auto before = pids();
  putBinding(1, {kDcs[0]});
  ASSERT_TRUE(waitFor([&] { return replicas().size() == 1; }, seconds(60)));
  // The stopped replicas' processes are gone.
  auto after = pids();
  for (const auto& [name, pid] : before) {
    if (after.count(name)) continue;
    EXPECT_TRUE(waitFor([&] { return !alive(pid); }, seconds(20))) << name;
  }
}

TEST_F(FederationTest, KilledReplicaIsRestartedAndReported) {
  registerAll();
  createApplicationAndBinding(1, {kDcs[1]});
  ASSERT_TRUE(waitFor([&] { return readyReplicas() == 1; }, seconds(60)));
  auto r = replicas()[0];
  std::int64_t pid = std::stoll(str(r, {"status", "pid"}));
  ASSERT_TRUE(alive(pid));
  ::kill(static_cast<pid_t>(pid), SIGKILL);
  ASSERT_TRUE(waitFor(
      [&] {
        auto rs = replicas();
        return rs.size() == 1 && str(rs[0], {"status", "restarts"}) == "1" &&
               str(rs[0], {"status", "ready"}) == "true";
      },
      seconds(60)))
      << json::serialize(replicas()[0]);
  EXPECT_NE(str(replicas()[0], {"status", "pid"}), std::to_string(pid));
}

TEST_F(FederationTest, KilledAgentMakesItsClusterNotReadyAndRestartsWithoutDuplicates) {
  registerAll();
  createApplicationAndBinding(2, {kDcs[0]});
  ASSERT_TRUE(waitFor([&] { return readyReplicas() == 2; }, seconds(60)));
  auto before = pids();
  agents_["cluster-a"]->signal(SIGKILL);
  agents_["cluster-a"]->wait(seconds(10));
  ASSERT_TRUE(waitFor([&] { return readyOf("cluster-a").rfind("True", 0) != 0; }, seconds(10)))
      << readyOf("cluster-a");
  EXPECT_EQ(readyOf("cluster-a"), "False/AgentDisconnected");
  // The replicas keep running while their agent is away, but nobody can vouch for them.
  for (const auto& [name, pid] : before) EXPECT_TRUE(alive(pid)) << name;
  EXPECT_TRUE(waitFor(
      [&] {
        auto rs = replicas();
        return rs.size() == 2 && std::all_of(rs.begin(), rs.end(), [](const json::value& r) {
                 return str(r, {"status", "state"}) == "Unknown" &&
                        str(r, {"status", "ready"}) == "false";
               });
      },
      seconds(10)))
      << json::serialize(replicas()[0]);
  startAgent(kDcs[0], "");  // no token: the credential file is reused
  waitReady("cluster-a");
  ASSERT_TRUE(waitFor([&] { return readyReplicas() == 2; }, seconds(30)));
  EXPECT_EQ(pids(), before) << "replicas were replaced instead of re-adopted";
  for (const auto& [name, pid] : before) EXPECT_TRUE(alive(pid)) << name;
}

TEST_F(FederationTest, StoppedAgentStopsItsReplicas) {
  registerAll();
  createApplicationAndBinding(2, {kDcs[2]});
  ASSERT_TRUE(waitFor([&] { return readyReplicas() == 2; }, seconds(60)));
  auto before = pids();
  Process& agent = *agents_["cluster-c"];
  agent.signal(SIGTERM);
  EXPECT_EQ(agent.wait(seconds(30)), 0) << tailFile(agentLog(kDcs[2]));
  for (const auto& [name, pid] : before) EXPECT_FALSE(alive(pid)) << name;
  EXPECT_TRUE(
      waitFor([&] { return readyOf("cluster-c") == "False/AgentDisconnected"; }, seconds(10)))
      << readyOf("cluster-c");
}

TEST_F(FederationTest, SilentAgentTurnsUnknownAndRecovers) {
  registerAll();
  auto& a = *agents_["cluster-b"];
  a.signal(SIGSTOP);  // a partition: the connection stays open, nothing arrives
  EXPECT_TRUE(
      waitFor([&] { return readyOf("cluster-b") == "Unknown/HeartbeatTimeout"; }, seconds(20)))
      << readyOf("cluster-b");
  EXPECT_EQ(readyOf("cluster-a"), "True/AgentConnected");
  a.signal(SIGCONT);
  waitReady("cluster-b");
}

TEST_F(FederationTest, ServerRestartLeavesReplicasAlone) {
  registerAll();
  createApplicationAndBinding(1, kDcs);
  ASSERT_TRUE(waitFor([&] { return readyReplicas() == 3; }, seconds(60)));
  auto before = pids();
  const std::uint16_t agentPort = server_->agentPort();
  const std::string db = server_->database();
  ASSERT_EQ(server_->terminate(), 0);
  server_.reset();
  server_ = startServer(agentPort, db);
  for (const auto& d : kDcs) waitReady(d.cluster);
  ASSERT_TRUE(waitFor([&] { return readyReplicas() == 3; }, seconds(30)));
  EXPECT_EQ(pids(), before);
  for (const auto& [name, pid] : before) EXPECT_TRUE(alive(pid)) << name;
}

// A raw gRPC client speaking the protocol wrongly: refused with a reason, and the server keeps
// serving the real agents.
TEST_F(FederationTest, UnauthenticatedAndMalformedSessionsAreRefused) {
  registerAll();
  std::string credential = readFile(stateDir(kDcs[0]) + "/credential");
  while (!credential.empty() && std::isspace(static_cast<unsigned char>(credential.back()))) {
    credential.pop_back();
  }
  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(server_->agentPort()),
                                     grpc::InsecureChannelCredentials());
  auto stub = pb::AgentService::NewStub(channel);
  auto attempt = [&](const std::string& cred, const pb::AgentMessage& first) {
    grpc::ClientContext ctx;
    if (!cred.empty()) ctx.AddMetadata("authorization", "Bearer " + cred);
    ctx.set_deadline(std::chrono::system_clock::now() + seconds(20));
    auto stream = stub->Connect(&ctx);
    stream->Write(first);
    pb::ServerMessage in;
    while (stream->Read(&in)) {
      if (in.has_welcome()) ctx.TryCancel();
    }
    return stream->Finish();
  };
  pb::AgentMessage hello;
  hello.mutable_hello()->set_cluster("cluster-a");
  hello.mutable_hello()->mutable_version()->set_major(federation::kProtocolMajor);
  hello.mutable_hello()->mutable_version()->set_minor(federation::kProtocolMinor);
  auto s = attempt("", hello);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << s.error_message();
  EXPECT_NE(s.error_message().find("no agent credential"), std::string::npos);
  s = attempt("tsr_0000000000000000000000000000000000000000000", hello);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << s.error_message();
  s = attempt(server_->adminToken(), hello);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
  pb::AgentMessage heartbeat;
  heartbeat.mutable_heartbeat();
  s = attempt(credential, heartbeat);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  EXPECT_NE(s.error_message().find("first message must be Hello"), std::string::npos);
  pb::AgentMessage wrongCluster = hello;
  wrongCluster.mutable_hello()->set_cluster("cluster-b");
  s = attempt(credential, wrongCluster);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
  EXPECT_NE(s.error_message().find("belongs to cluster cluster-a"), std::string::npos);
  pb::AgentMessage future = hello;
  future.mutable_hello()->mutable_version()->set_major(federation::kProtocolMajor + 1);
  s = attempt(credential, future);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
  pb::AgentMessage empty;
  s = attempt(credential, empty);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  // The real agents were not disturbed (the refused attempts with cluster-a's credential never
  // said a valid Hello, so its session was never replaced).
  for (const auto& d : kDcs) EXPECT_EQ(readyOf(d.cluster), "True/AgentConnected") << d.cluster;
  EXPECT_EQ(server_->client().get("/readyz").status, 200);
  auto metrics = server_->client().get("/metrics").body;
  EXPECT_NE(metrics.find("tessera_federation_sessions_refused_total"), std::string::npos);
}

}  // namespace
}  // namespace tessera::testing
