// The scheduler end to end: real agents in four member clusters over three datacenters, cells
// over them, and an Application placed by the scheduler (no hand-written Binding): replicas
// answer in every cell; a lost cluster's replicas move within their cell after the grace
// period; a flapping cluster moves nothing.
#include <gtest/gtest.h>

#include "tests/federation/federation_fixture.h"

namespace tessera::testing {
namespace {

class SchedulingTest : public FederationTest {
 protected:
  void SetUp() override {
    // dc-a has two member clusters, so that its cell can fail over inside the datacenter.
    dcs_ = {{"cluster-a1", "region-1", "dc-a", "rz-a", 34000},
            {"cluster-a2", "region-1", "dc-a", "rz-a", 35000},
            {"cluster-b", "region-1", "dc-b", "rz-b", 36000},
            {"cluster-c", "region-2", "dc-c", "rz-c", 37000}};
    FederationTest::SetUp();
  }
  std::vector<std::string> serverArgs() const override {
    auto args = FederationTest::serverArgs();
    args.insert(args.end(), {"--scheduler-resync", "1s"});
    return args;
  }

  void createCells() {
    auto c = server_->client();
    const std::vector<std::pair<std::string, std::string>> cells = {
        {"rz-a", R"(["cluster-a1","cluster-a2"])"},
        {"rz-b", R"(["cluster-b"])"},
        {"rz-c", R"(["cluster-c"])"}};
    for (const auto& [name, clusters] : cells) {
      auto r = c.post(std::string(kApi) + "/cells",
                      R"({"apiVersion":"tessera.io/v1","kind":"Cell","metadata":{"name":")" + name +
                          R"("},"spec":{"type":"RZone","region":"region-1","clusters":)" +
                          clusters + "}}");
      ASSERT_EQ(r.status, 201) << r.body;
    }
    auto sm =
        c.post(std::string(kApi) + "/shardmaps",
               R"({"apiVersion":"tessera.io/v1","kind":"ShardMap","metadata":{"name":"default"},)"
               R"("spec":{"assignments":[{"cell":"rz-a","buckets":"0-49"},)"
               R"({"cell":"rz-b","buckets":"50-79"},{"cell":"rz-c","buckets":"80-99"}]}})");
    ASSERT_EQ(sm.status, 201) << sm.body;
  }

  void createApplication(const std::string& placement, const std::string& name = "shop",
                         const std::string& cpu = "100m") {
    const std::string app =
        R"({"apiVersion":"tessera.io/v1","kind":"Application","metadata":{"name":")" + name +
        R"(","namespace":"pay"},"spec":{"template":{"command":[")" TESSERA_DEMO_APP_BIN R"("],)"
        R"("ports":[{"name":"http","port":8080}],"resources":{"cpu":")" +
        cpu +
        R"(","memory":"32Mi"},)"
        R"("readinessProbe":{"httpGet":{"path":"/healthz"},"periodSeconds":1}},)"
        R"("placement":)" +
        placement + "}}";
    auto r = server_->client().post(std::string(kApi) + "/namespaces/pay/applications", app);
    ASSERT_EQ(r.status, 201) << r.body;
  }

  /// cluster → replicas, from the scheduler's Binding.
  std::map<std::string, int> placements() {
    std::map<std::string, int> out;
    auto r = server_->client().get(std::string(kApi) + "/namespaces/pay/bindings/shop");
    if (r.status != 200) return out;
    const json::value b = r.json();
    const auto* places = b.find_pointer("/spec/placements", ec_);
    if (places == nullptr || !places->is_array()) return out;
    for (const auto& p : places->as_array()) {
      out[str(p, {"cluster"})] += std::stoi(str(p, {"replicas"}));
    }
    return out;
  }
  std::string bindingVersion() {
    auto r = server_->client().get(std::string(kApi) + "/namespaces/pay/bindings/shop");
    return r.status == 200 ? str(r.json(), {"metadata", "resourceVersion"}) : "";
  }
  std::string scheduledCondition(const std::string& app = "shop") {
    auto r = server_->client().get(std::string(kApi) + "/namespaces/pay/applications/" + app);
    if (r.status != 200) return "";
    const json::value a = r.json();
    const auto* conds = a.find_pointer("/status/conditions", ec_);
    if (conds == nullptr || !conds->is_array()) return "";
    for (const auto& c : conds->as_array()) {
      if (str(c, {"type"}) == "Scheduled") {
        return str(c, {"status"}) + "/" + str(c, {"reason"}) + ": " + str(c, {"message"});
      }
    }
    return "";
  }
  double metric(const std::string& name) {
    const std::string body = server_->client().get("/metrics").body;
    auto at = body.find("\n" + name + " ");
    return at == std::string::npos ? -1 : std::atof(body.c_str() + at + name.size() + 2);
  }
};

TEST_F(SchedulingTest, PlacesIntoEveryCellAndExplainsWhatItCannotPlace) {
  registerAll();
  createCells();
  createApplication(R"({"cells":{"type":"RZone"},"replicasPerCell":2})");
  const std::map<std::string, int> spread = {
      {"cluster-a1", 1}, {"cluster-a2", 1}, {"cluster-b", 2}, {"cluster-c", 2}};
  ASSERT_TRUE(waitFor([&] { return placements() == spread; }, seconds(30)))
      << json::serialize(json::value_from(placements()));
  ASSERT_TRUE(waitFor([&] { return readyReplicas() == 6; }, seconds(60))) << readyReplicas();
  EXPECT_TRUE(
      waitFor([&] { return scheduledCondition().rfind("True/Scheduled", 0) == 0; }, seconds(30)))
      << scheduledCondition();
  for (const auto& r : replicas()) {
    HttpClient c(Endpoint{
        "127.0.0.1",
        static_cast<std::uint16_t>(std::stoi(str(r, {"status", "endpoint"}).substr(10))), ""});
    auto res = c.get("/");
    ASSERT_EQ(res.status, 200);
    EXPECT_EQ(str(res.json(), {"cell"}), str(r, {"spec", "cell"}));
  }

  // An application no cluster can hold is not placed, and says why.
  createApplication(R"({"cells":{"type":"RZone"},"replicasPerCell":1})", "big", "64");
  ASSERT_TRUE(waitFor(
      [&] { return scheduledCondition("big").rfind("False/Unschedulable", 0) == 0; }, seconds(30)))
      << scheduledCondition("big");
  EXPECT_NE(scheduledCondition("big").find("insufficient cpu"), std::string::npos)
      << scheduledCondition("big");
  EXPECT_EQ(server_->client().get(std::string(kApi) + "/namespaces/pay/bindings/big").status, 404);
  EXPECT_EQ(placements(), spread);  // the first application is undisturbed
}

TEST_F(SchedulingTest, WhatIfAnswersWithoutChangingAnything) {
  registerAll();
  createCells();
  createApplication(R"({"cells":{"type":"RZone"},"replicasPerCell":2})");
  const std::map<std::string, int> spread = {
      {"cluster-a1", 1}, {"cluster-a2", 1}, {"cluster-b", 2}, {"cluster-c", 2}};
  ASSERT_TRUE(waitFor([&] { return placements() == spread; }, seconds(30)));
  const std::string version = bindingVersion();
  auto c = server_->client();
  auto review = [&](const std::string& spec) {
    return c.post(std::string(kApi) + "/placementreviews",
                  R"({"apiVersion":"tessera.io/v1","kind":"PlacementReview","spec":)" + spec + "}");
  };

  // If dc-a were lost: rz-a has nowhere to go (a cell lives in one datacenter).
  auto lost = review(R"({"lostZones":["dc-a"]})");
  ASSERT_EQ(lost.status, 201) << lost.body;
  const json::value answer = lost.json();
  EXPECT_EQ(str(answer, {"status", "summary", "short"}), "1") << lost.body;
  const auto& app = answer.at("status").at("applications").at(0);
  EXPECT_EQ(str(app, {"name"}), "shop");
  EXPECT_EQ(str(app, {"desired"}), "6");
  EXPECT_EQ(str(app, {"placed"}), "4");
  EXPECT_EQ(str(app, {"reason"}), "Unschedulable");
  bool explained = false;
  for (const auto& cell : app.at("cells").as_array()) {
    if (str(cell, {"name"}) == "rz-a") {
      explained = str(cell, {"message"}).find("2 Lost") != std::string::npos;
    }
  }
  EXPECT_TRUE(explained) << lost.body;

  // If the application had 3 replicas per cell.
  auto bigger =
      review(R"({"applications":[{"namespace":"pay","name":"shop","replicasPerCell":3}]})");
  ASSERT_EQ(bigger.status, 201) << bigger.body;
  EXPECT_EQ(str(bigger.json().at("status").at("applications").at(0), {"placed"}), "9")
      << bigger.body;

  // Bad questions get clear answers; nothing was written by any of them.
  auto unknown = review(R"({"lostZones":["dc-x"]})");
  EXPECT_EQ(unknown.status, 422) << unknown.body;
  EXPECT_NE(str(unknown.json(), {"message"}).find("no member cluster is in datacenter \"dc-x\""),
            std::string::npos)
      << unknown.body;
  EXPECT_EQ(review(R"({"applications":[{"namespace":"pay","name":"nope"}]})").status, 404);
  EXPECT_EQ(c.get(std::string(kApi) + "/placementreviews").status, 405);
  EXPECT_EQ(bindingVersion(), version);
  EXPECT_EQ(placements(), spread);
}

TEST_F(SchedulingTest, NamespaceQuotaStopsGrowth) {
  registerAll();
  createCells();
  auto c = server_->client();
  auto quota = c.post(std::string(kApi) + "/namespaces/pay/resourcequotas",
                      R"({"apiVersion":"tessera.io/v1","kind":"ResourceQuota",)"
                      R"("metadata":{"name":"pay","namespace":"pay"},"spec":{"hard":{"pods":4}}})");
  ASSERT_EQ(quota.status, 201) << quota.body;
  createApplication(R"({"cells":{"type":"RZone"},"replicasPerCell":2})");
  auto placed = [&] {
    int n = 0;
    for (const auto& [cluster, r] : placements()) n += r;
    return n;
  };
  ASSERT_TRUE(waitFor([&] { return placed() == 4; }, seconds(30))) << placed();
  ASSERT_TRUE(waitFor([&] { return scheduledCondition().rfind("False/Unschedulable", 0) == 0; },
                      seconds(30)))
      << scheduledCondition();
  EXPECT_NE(scheduledCondition().find("quota"), std::string::npos) << scheduledCondition();
  ASSERT_TRUE(waitFor(
      [&] {
        return str(c.get(std::string(kApi) + "/namespaces/pay/resourcequotas/pay").json(),
                   {"status", "used", "pods"}) == "4";
      },
      seconds(30)));
  // Raising the quota lets the application grow to what it asks.
  auto q = c.get(std::string(kApi) + "/namespaces/pay/resourcequotas/pay").json();
  q.as_object()["spec"] = json::parse(R"({"hard":{"pods":10}})");
  ASSERT_EQ(
      c.put(std::string(kApi) + "/namespaces/pay/resourcequotas/pay", json::serialize(q)).status,
      200);
  ASSERT_TRUE(waitFor([&] { return placed() == 6; }, seconds(30))) << placed();
  EXPECT_TRUE(
      waitFor([&] { return scheduledCondition().rfind("True/Scheduled", 0) == 0; }, seconds(30)))
      << scheduledCondition();
}

TEST_F(SchedulingTest, OneGZoneIsActiveTheOthersStandBy) {
  registerAll();
  auto c = server_->client();
  auto gzone = [](const std::string& name, const std::string& cluster, const std::string& standby) {
    return R"({"apiVersion":"tessera.io/v1","kind":"Cell","metadata":{"name":")" + name +
           R"("},"spec":{"type":"GZone","region":"region-1","clusters":[")" + cluster +
           R"("],"standby":")" + standby + "\"}}";
  };
  ASSERT_EQ(c.post(std::string(kApi) + "/cells", gzone("gz-a", "cluster-a1", "gz-b")).status, 201);
  ASSERT_EQ(c.post(std::string(kApi) + "/cells", gzone("gz-b", "cluster-b", "gz-a")).status, 201);
  auto phase = [&](const std::string& cell) {
    return str(c.get(std::string(kApi) + "/cells/" + cell).json(), {"status", "phase"});
  };
  ASSERT_TRUE(
      waitFor([&] { return phase("gz-a") == "Active" && phase("gz-b") == "Standby"; }, seconds(30)))
      << phase("gz-a") << " " << phase("gz-b");
  createApplication(R"({"cells":{"type":"GZone"},"replicasPerCell":1})");
  const std::map<std::string, int> activeOnly = {{"cluster-a1", 1}};
  ASSERT_TRUE(waitFor([&] { return placements() == activeOnly; }, seconds(30)))
      << json::serialize(json::value_from(placements()));
  EXPECT_TRUE(
      waitFor([&] { return scheduledCondition().rfind("True/Scheduled", 0) == 0; }, seconds(30)))
      << scheduledCondition();
}

TEST_F(SchedulingTest, LostClusterIsReplacedInItsCellAfterTheGracePeriodAndFlappingMovesNothing) {
  registerAll();
  createCells();
  createApplication(R"({"cells":{"names":["rz-a"]},"replicasPerCell":2,)"
                    R"("failover":{"enabled":true,"gracePeriodSeconds":10}})");
  const std::map<std::string, int> spread = {{"cluster-a1", 1}, {"cluster-a2", 1}};
  ASSERT_TRUE(waitFor([&] { return placements() == spread; }, seconds(30)));
  ASSERT_TRUE(waitFor([&] { return readyReplicas() == 2; }, seconds(60)));
  const std::string version = bindingVersion();

  // Flapping: cluster-a2 falls silent (Unknown) and comes back, twice, within the grace.
  Process& a2 = *agents_["cluster-a2"];
  for (int i = 0; i < 2; ++i) {
    a2.signal(SIGSTOP);
    ASSERT_TRUE(
        waitFor([&] { return readyOf("cluster-a2").rfind("Unknown", 0) == 0; }, seconds(10)));
    a2.signal(SIGCONT);
    waitReady("cluster-a2");
  }
  // Two resyncs later nothing has moved.
  const double passes = metric("tessera_scheduler_passes_total");
  ASSERT_TRUE(
      waitFor([&] { return metric("tessera_scheduler_passes_total") >= passes + 2; }, seconds(10)));
  EXPECT_EQ(bindingVersion(), version);
  EXPECT_EQ(metric("tessera_scheduler_failover_replicas_total"), 0);

  // Lost: cluster-a2's agent dies; after the grace period its replica moves to cluster-a1,
  // never to another cell.
  a2.signal(SIGKILL);
  a2.wait(seconds(10));
  const auto lostAt = std::chrono::steady_clock::now();
  const std::map<std::string, int> failedOver = {{"cluster-a1", 2}};
  ASSERT_TRUE(waitFor([&] { return placements() == failedOver; }, seconds(40)))
      << json::serialize(json::value_from(placements()));
  EXPECT_GE(std::chrono::steady_clock::now() - lostAt, seconds(9));  // not before the grace
  EXPECT_EQ(metric("tessera_scheduler_failover_replicas_total"), 1);
  ASSERT_TRUE(waitFor([&] { return readyReplicas("tessera.io%2Fcluster%3Dcluster-a1") == 2; },
                      seconds(60)));

  // The agent comes back: the cell is spread over both clusters again (one move back, since
  // cluster-a2 receives replicas again), and nothing runs twice: its stranded replica is
  // re-adopted or replaced, never doubled.
  startAgent(dcs_[1], "");
  waitReady("cluster-a2");
  ASSERT_TRUE(waitFor([&] { return placements() == spread; }, seconds(30)))
      << json::serialize(json::value_from(placements()));
  // Until cluster-a2's replica runs, cluster-a1's two (the failed-over state) are also "two
  // ready of two": wait for the spread itself.
  const std::string onA2 = "tessera.io%2Fcluster%3Dcluster-a2";
  ASSERT_TRUE(waitFor(
      [&] { return replicas(onA2).size() == 1 && readyReplicas() == 2 && replicas().size() == 2; },
      seconds(60)))
      << readyReplicas() << " ready of " << replicas().size() << ", " << replicas(onA2).size()
      << " on cluster-a2\n"
      << tailFile(agentLog(dcs_[1]), 30);
  EXPECT_EQ(metric("tessera_scheduler_failover_replicas_total"), 1);
}

}  // namespace
}  // namespace tessera::testing
