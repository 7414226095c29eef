// WorkIndex: Bindings in, per-cluster work and exact deltas out.
#include "federation/server/work_index.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "federation/protocol.h"

namespace tessera::federation {
namespace {

namespace json = boost::json;

struct Place {
  std::string cluster, cell, revision;
  int replicas;
};

json::object binding(const std::string& name, const std::vector<Place>& places,
                     const std::string& greeting = "hi", const std::string& cpu = "100m") {
  json::object templ{
      {"command", json::array{"/bin/demo"}},
      {"args", json::array{"--verbose"}},
      {"env", json::array{json::object{{"name", "GREETING"}, {"value", greeting}}}},
      {"ports", json::array{json::object{{"name", "http"}, {"port", 8080}}}},
      {"resources", json::object{{"cpu", cpu}, {"memory", "64Mi"}}},
      {"readinessProbe",
       json::object{{"httpGet", json::object{{"path", "/healthz"}}}, {"periodSeconds", 2}}}};
  json::array placements;
  for (const auto& p : places) {
    placements.push_back(json::object{{"cluster", p.cluster},
                                      {"cell", p.cell},
                                      {"revision", p.revision},
                                      {"replicas", p.replicas}});
  }
  return json::object{
      {"metadata", json::object{{"name", name}, {"namespace", "pay"}}},
      {"spec",
       json::object{{"application", "demo"},
                    {"revisions", json::array{json::object{{"name", "r1"}, {"template", templ}},
                                              json::object{{"name", "r2"}, {"template", templ}}}},
                    {"placements", placements}}}};
}

std::vector<std::string> keys(const std::vector<pb::Workload>& ws) {
  std::vector<std::string> out;
  for (const auto& w : ws) out.push_back(w.key());
  return out;
}

TEST(WorkIndexTest, ABindingBecomesWorkPerCluster) {
  WorkIndex idx;
  std::vector<std::string> warnings;
  auto changes =
      idx.upsert(binding("demo", {{"a", "rz1", "r1", 2}, {"b", "rz2", "r1", 1}}), warnings);
  EXPECT_TRUE(warnings.empty());
  ASSERT_EQ(changes.size(), 2u);
  ASSERT_EQ(changes["a"].upserts.size(), 1u);
  const pb::Workload& w = changes["a"].upserts[0];
  EXPECT_EQ(w.key(), "pay/demo/r1/rz1");
  EXPECT_EQ(w.namespace_(), "pay");
  EXPECT_EQ(w.application(), "demo");
  EXPECT_EQ(w.revision(), "r1");
  EXPECT_EQ(w.cell(), "rz1");
  EXPECT_EQ(w.replicas(), 2);
  EXPECT_EQ(w.template_().command(0), "/bin/demo");
  EXPECT_EQ(w.template_().args(0), "--verbose");
  EXPECT_EQ(w.template_().env(0).value(), "hi");
  EXPECT_EQ(w.template_().ports(0).port(), 8080u);
  EXPECT_EQ(w.template_().cpu_millis(), 100);
  EXPECT_EQ(w.template_().memory_bytes(), 64 << 20);
  EXPECT_EQ(w.template_().readiness().path(), "/healthz");
  EXPECT_EQ(w.template_().readiness().period_seconds(), 2);
  EXPECT_EQ(keys(idx.workloadsOf("a")), std::vector<std::string>{"pay/demo/r1/rz1"});
  EXPECT_EQ(keys(idx.workloadsOf("b")), std::vector<std::string>{"pay/demo/r1/rz2"});
  EXPECT_TRUE(idx.workloadsOf("c").empty());
  EXPECT_EQ(idx.clusterCount(), 2u);
  auto desired = idx.desiredOf("pay", "demo");
  EXPECT_EQ((desired[{"rz1", "a"}]), 2);
  EXPECT_EQ((desired[{"rz2", "b"}]), 1);
  EXPECT_EQ(idx.applicationOf("pay", "demo"),
            std::make_pair(std::string("pay"), std::string("demo")));
}

TEST(WorkIndexTest, OnlyWhatChangedIsSent) {
  WorkIndex idx;
  std::vector<std::string> warnings;
  idx.upsert(binding("demo", {{"a", "rz1", "r1", 2}, {"b", "rz2", "r1", 1}}), warnings);
  // The same Binding again: nothing to send.
  EXPECT_TRUE(idx.upsert(binding("demo", {{"a", "rz1", "r1", 2}, {"b", "rz2", "r1", 1}}), warnings)
                  .empty());
  // Scale on a only.
  auto changes =
      idx.upsert(binding("demo", {{"a", "rz1", "r1", 3}, {"b", "rz2", "r1", 1}}), warnings);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes["a"].upserts.at(0).replicas(), 3);
  EXPECT_TRUE(changes["a"].removals.empty());
  // b moves to revision r2: the r1 workload goes, the r2 one comes, in one delta.
  changes = idx.upsert(binding("demo", {{"a", "rz1", "r1", 3}, {"b", "rz2", "r2", 1}}), warnings);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(keys(changes["b"].upserts), std::vector<std::string>{"pay/demo/r2/rz2"});
  EXPECT_EQ(changes["b"].removals, std::vector<std::string>{"pay/demo/r1/rz2"});
  // A template change reaches every cluster.
  changes = idx.upsert(binding("demo", {{"a", "rz1", "r1", 3}, {"b", "rz2", "r2", 1}}, "hello"),
                       warnings);
  EXPECT_EQ(changes.size(), 2u);
  // Deleting the Binding removes everything it placed, and only that.
  changes = idx.remove("pay", "demo");
  EXPECT_EQ(changes["a"].removals, std::vector<std::string>{"pay/demo/r1/rz1"});
  EXPECT_EQ(changes["b"].removals, std::vector<std::string>{"pay/demo/r2/rz2"});
  EXPECT_TRUE(idx.workloadsOf("a").empty());
  EXPECT_EQ(idx.clusterCount(), 0u);
  EXPECT_TRUE(idx.remove("pay", "demo").empty());  // idempotent
  EXPECT_TRUE(warnings.empty());
}

TEST(WorkIndexTest, ZeroReplicasAndUnknownRevisionsPlaceNothing) {
  WorkIndex idx;
  std::vector<std::string> warnings;
  auto changes =
      idx.upsert(binding("demo", {{"a", "rz1", "r1", 0}, {"b", "rz2", "r9", 1}}), warnings);
  EXPECT_TRUE(changes.empty());
  EXPECT_EQ(idx.clusterCount(), 0u);
}

TEST(WorkIndexTest, AWorkloadHasOneOwner) {
  WorkIndex idx;
  std::vector<std::string> warnings;
  idx.upsert(binding("first", {{"a", "rz1", "r1", 1}}), warnings);
  auto changes =
      idx.upsert(binding("second", {{"a", "rz1", "r1", 5}, {"b", "rz1", "r1", 1}}), warnings);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("already placed by binding pay/first"), std::string::npos)
      << warnings[0];
  EXPECT_EQ(changes.size(), 1u);  // only b
  EXPECT_EQ(idx.workloadsOf("a").at(0).replicas(), 1);
  // Removing the loser leaves the owner's workload alone.
  changes = idx.remove("pay", "second");
  EXPECT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes["b"].removals.size(), 1u);
  EXPECT_EQ(idx.workloadsOf("a").size(), 1u);
}

TEST(WorkIndexTest, BadQuantitiesAreWarnedAboutNotSent) {
  WorkIndex idx;
  std::vector<std::string> warnings;
  auto changes = idx.upsert(binding("demo", {{"a", "rz1", "r1", 1}}, "hi", "lots"), warnings);
  EXPECT_TRUE(changes.empty());
  ASSERT_EQ(warnings.size(), 2u);  // both revisions carry the bad template
  EXPECT_NE(warnings[0].find("unparseable cpu quantity \"lots\""), std::string::npos)
      << warnings[0];
  warnings.clear();
  EXPECT_TRUE(idx.upsert(json::object{{"metadata", json::object{}}}, warnings).empty());
  EXPECT_EQ(warnings.size(), 1u);
}

TEST(ProtocolTest, AgentsOfTheSameMajorAndAtMostOneMinorOlderAreAccepted) {
  EXPECT_TRUE(compatibleAgentVersion(kProtocolMajor, kProtocolMinor));
  if (kProtocolMinor > 0) {
    EXPECT_TRUE(compatibleAgentVersion(kProtocolMajor, kProtocolMinor - 1));
  }
  if (kProtocolMinor > 1) {
    EXPECT_FALSE(compatibleAgentVersion(kProtocolMajor, kProtocolMinor - 2));
  }
  EXPECT_FALSE(compatibleAgentVersion(kProtocolMajor + 1, kProtocolMinor));
  EXPECT_FALSE(compatibleAgentVersion(kProtocolMajor - 1, kProtocolMinor));
}

TEST(ProtocolTest, NamesAreBuiltOneWay) {
  EXPECT_EQ(workloadKey("pay", "demo", "r1", "rz1"), "pay/demo/r1/rz1");
  EXPECT_EQ(replicaObjectName("demo-r1-rz1-0", "cluster-a"), "demo-r1-rz1-0.cluster-a");
  EXPECT_EQ(clusterUser("cluster-a"), "system:cluster:cluster-a");
}

}  // namespace
}  // namespace tessera::federation
