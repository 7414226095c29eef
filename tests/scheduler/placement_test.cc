// One test per rule of scheduler/placement.h, on small hand-made topologies.
#include "scheduler/placement.h"

#include <gtest/gtest.h>

#include "tests/scheduler/scheduler_test_util.h"

namespace tessera::scheduler {
namespace {

using testing::at;
using testing::cellTotal;
using testing::kGi;
using testing::kMi;
using testing::makeApp;
using testing::makeCell;
using testing::makeCluster;
using testing::makeIndex;

PlacementPolicy perCell(int replicas, Resources requests = {500, 512 * kMi, 1}) {
  PlacementPolicy p;
  p.cellType = CellType::kRZone;
  p.replicasPerCell = replicas;
  p.requests = requests;
  return p;
}

/// Three RZone cells (rz-a, rz-b, rz-c) of three clusters each, roomy.
Topology threeCells() {
  Topology t;
  for (std::string cell : {"rz-a", "rz-b", "rz-c"}) {
    std::vector<std::string> members;
    for (int i = 1; i <= 3; ++i) {
      members.push_back(cell + "-" + std::to_string(i));
      t.clusters.push_back(makeCluster(members.back()));
    }
    t.cells.push_back(makeCell(cell, members));
  }
  return t;
}

Decision scheduleOne(const Topology& t, const AppRequest& app,
                     const std::optional<Resources>& quota = std::nullopt) {
  TopologyIndex index = makeIndex(t);
  Usage used(index);
  return schedule(index, app, used, quota);
}

TEST(ResourcesTest, ArithmeticAndFit) {
  Resources a{1000, 2 * kGi, 3};
  Resources b{250, kGi, 1};
  EXPECT_EQ(a + b, (Resources{1250, 3 * kGi, 4}));
  EXPECT_EQ(a - b, (Resources{750, kGi, 2}));
  EXPECT_EQ(b * 4, (Resources{1000, 4 * kGi, 4}));
  EXPECT_TRUE(b.fits(a));
  EXPECT_FALSE((b * 5).fits(a));
  EXPECT_EQ(replicasThatFit(a, b), 2);  // memory binds
  EXPECT_EQ(replicasThatFit(a, Resources{0, 0, 1}), 3);
  EXPECT_EQ(replicasThatFit(Resources{-5, kGi, 3}, b), 0);
  EXPECT_EQ(replicasThatFit(a, Resources{}), kUnlimited);
}

TEST(TolerationTest, KubernetesSemantics) {
  Taint gpu{"gpu", "true", "NoSchedule"};
  EXPECT_TRUE(tolerates(Toleration{"gpu", "Equal", "true", ""}, gpu));
  EXPECT_TRUE(tolerates(Toleration{"gpu", "Equal", "true", "NoSchedule"}, gpu));
  EXPECT_FALSE(tolerates(Toleration{"gpu", "Equal", "true", "NoExecute"}, gpu));
  EXPECT_FALSE(tolerates(Toleration{"gpu", "Equal", "false", ""}, gpu));
  EXPECT_TRUE(tolerates(Toleration{"gpu", "Exists", "", ""}, gpu));
  EXPECT_TRUE(tolerates(Toleration{"", "Exists", "", ""}, gpu));  // tolerates everything
  EXPECT_FALSE(tolerates(Toleration{"", "Equal", "", ""}, gpu));
  EXPECT_FALSE(tolerates(std::vector<Toleration>{}, gpu));
  EXPECT_TRUE(
      tolerates({Toleration{"x", "Exists", "", ""}, Toleration{"gpu", "Exists", "", ""}}, gpu));
}

TEST(TopologyIndexTest, SortsAndRejectsBadInput) {
  Topology t;
  t.clusters = {makeCluster("c2"), makeCluster("c1")};
  t.cells = {makeCell("z", {"c2", "c1", "c2", "ghost"}), makeCell("a", {"c1"})};
  TopologyIndex index = makeIndex(t);
  EXPECT_EQ(index.clusters()[0].name, "c1");
  EXPECT_EQ(index.cells()[0].name, "a");
  EXPECT_EQ(index.cells()[1].clusters, (std::vector<std::string>{"c1", "c2", "ghost"}));
  EXPECT_EQ(index.cellMembers(1), (std::vector<int>{0, 1, -1}));
  EXPECT_EQ(index.findCluster("c2"), 1);
  EXPECT_EQ(index.findCluster("nope"), -1);
  EXPECT_EQ(index.findCell("z"), 1);
  EXPECT_EQ(index.findMember(1, "ghost"), 2);
  EXPECT_EQ(index.findMember(0, "c2"), -1);

  Topology dup = t;
  dup.clusters.push_back(makeCluster("c1"));
  EXPECT_EQ(TopologyIndex::create(dup).status().code(), StatusCode::kInvalidArgument);
  Topology dupCell = t;
  dupCell.cells.push_back(makeCell("a", {}));
  EXPECT_FALSE(TopologyIndex::create(dupCell).isOk());
  Topology share = t;
  share.cells[0].bucketShare = 1.5;
  EXPECT_FALSE(TopologyIndex::create(share).isOk());
  Topology negative = t;
  negative.clusters[0].allocatable.cpuMillis = -1;
  EXPECT_FALSE(TopologyIndex::create(negative).isOk());
}

TEST(PlacementTest, ReplicasPerCellSpreadOverEachCell) {
  Decision d = scheduleOne(threeCells(), makeApp("api", perCell(2)));
  EXPECT_TRUE(d.complete);
  EXPECT_EQ(d.reason, "Scheduled");
  EXPECT_EQ(d.message, "placed 6 replicas in 3 cells");
  EXPECT_EQ(d.placed, 6);
  EXPECT_EQ(d.desired, 6);
  EXPECT_EQ(d.started, 6);
  EXPECT_EQ(d.moved, 6);
  ASSERT_EQ(d.cells.size(), 3u);
  for (const char* cell : {"rz-a", "rz-b", "rz-c"}) {
    EXPECT_EQ(cellTotal(d.placement, cell), 2);
    EXPECT_EQ(d.placement.at(cell).size(), 2u) << "two clusters with one each";
  }
  EXPECT_EQ(d.cells[0].message(), "3/3 clusters available");
  // Equal clusters: ties go by name.
  EXPECT_EQ(at(d.placement, "rz-a", "rz-a-1"), 1);
  EXPECT_EQ(at(d.placement, "rz-a", "rz-a-2"), 1);
}

TEST(PlacementTest, NewReplicasGoToTheFewestThenTheMostFreeCpu) {
  Topology t = threeCells();
  TopologyIndex index = makeIndex(t);
  Usage used(index);
  used[index.findCluster("rz-a-1")] = Resources{4000, 0, 0};
  used[index.findCluster("rz-a-2")] = Resources{1000, 0, 0};
  PlacementPolicy p = perCell(4);
  p.cellNames = {"rz-a"};
  Decision d = schedule(index, makeApp("api", p), used);
  // 4 over 3 with maxSkew 1: 2/1/1, the 2 on the cluster with the most free cpu (rz-a-3).
  EXPECT_EQ(at(d.placement, "rz-a", "rz-a-3"), 2);
  EXPECT_EQ(at(d.placement, "rz-a", "rz-a-2"), 1);
  EXPECT_EQ(at(d.placement, "rz-a", "rz-a-1"), 1);
  // The placement was added to the usage.
  EXPECT_EQ(used[index.findCluster("rz-a-3")].cpuMillis, 1000);
  EXPECT_EQ(used[index.findCluster("rz-a-1")].cpuMillis, 4500);
}

TEST(PlacementTest, MaxSkewLetsReplicasPileUpOnlySoFar) {
  Topology t = threeCells();
  // Cluster 1 has room for everything, clusters 2 and 3 for one replica each.
  t.clusters[1].allocatable = {500, 64 * kGi, 110};
  t.clusters[2].allocatable = {500, 64 * kGi, 110};
  PlacementPolicy p = perCell(5);
  p.cellNames = {"rz-a"};
  // Full clusters do not hold the others back: 3/1/1 although maxSkew is 1.
  Decision d = scheduleOne(t, makeApp("api", p));
  EXPECT_TRUE(d.complete);
  EXPECT_EQ(at(d.placement, "rz-a", "rz-a-1"), 3);
  EXPECT_EQ(d.cells[0].count(Reason::kInsufficientCpu), 2);
  EXPECT_EQ(d.cells[0].message(), "1/3 clusters available: 2 insufficient cpu");

  // With room everywhere, maxSkew 2 still spreads evenly: new replicas go to the fewest.
  p.maxSkew = 2;
  d = scheduleOne(threeCells(), makeApp("api", p));
  EXPECT_EQ(at(d.placement, "rz-a", "rz-a-1"), 2);
  EXPECT_EQ(at(d.placement, "rz-a", "rz-a-3"), 1);
}

TEST(PlacementTest, KeepsCurrentReplicasWhereTheyAre) {
  PlacementPolicy p = perCell(2);
  p.cellNames = {"rz-a"};
  Placement current{{"rz-a", {{"rz-a-2", 1}, {"rz-a-3", 1}}}};
  Decision d = scheduleOne(threeCells(), makeApp("api", p, current));
  EXPECT_EQ(d.placement, current);
  EXPECT_EQ(d.moved, 0);

  // Skew 2 > maxSkew 1 is rebalanced with the fewest changes: one replica moves.
  current = {{"rz-a", {{"rz-a-2", 3}}}};
  p.replicasPerCell = 3;
  d = scheduleOne(threeCells(), makeApp("api", p, current));
  EXPECT_EQ(at(d.placement, "rz-a", "rz-a-2"), 1);
  EXPECT_EQ(d.moved, 4);  // two stopped on rz-a-2, one started on each of the others
  EXPECT_EQ(d.stopped, 2);
  EXPECT_EQ(d.started, 2);

  // maxSkew 2 lets 2/1/0 stay... and 3/0/0 become 2/1/0 (one move).
  p.maxSkew = 2;
  d = scheduleOne(threeCells(), makeApp("api", p, current));
  EXPECT_EQ(at(d.placement, "rz-a", "rz-a-2"), 2);
  EXPECT_EQ(at(d.placement, "rz-a", "rz-a-1"), 1) << "equal free cpu: by name";
  EXPECT_EQ(d.moved, 2);
}

TEST(PlacementTest, SurplusGoesFromTheMostThenTheLastName) {
  PlacementPolicy p = perCell(3);
  p.cellNames = {"rz-a"};
  Placement current{{"rz-a", {{"rz-a-1", 2}, {"rz-a-2", 2}, {"rz-a-3", 1}}}};
  Decision d = scheduleOne(threeCells(), makeApp("api", p, current));
  EXPECT_EQ(d.placement, (Placement{{"rz-a", {{"rz-a-1", 1}, {"rz-a-2", 1}, {"rz-a-3", 1}}}}));
  EXPECT_EQ(d.stopped, 2);
  EXPECT_EQ(d.started, 0);

  p.replicasPerCell = 4;
  d = scheduleOne(threeCells(), makeApp("api", p, current));
  EXPECT_EQ(d.placement, (Placement{{"rz-a", {{"rz-a-1", 2}, {"rz-a-2", 1}, {"rz-a-3", 1}}}}));
}

TEST(PlacementTest, CellSelectionByNameTypeAndLabels) {
  Topology t = threeCells();
  t.cells[1].labels = {{"tier", "core"}};
  t.clusters.push_back(makeCluster("g1"));
  t.clusters.push_back(makeCluster("g2"));
  t.cells.push_back(makeCell("gz-1", {"g1"}, CellType::kGZone));
  t.cells.push_back(makeCell("gz-2", {"g2"}, CellType::kGZone));
  t.cells.back().active = false;

  PlacementPolicy p;
  p.cellSelector = {{"tier", "core"}};
  Decision d = scheduleOne(t, makeApp("api", p));
  EXPECT_EQ(d.placement.size(), 1u);
  EXPECT_EQ(cellTotal(d.placement, "rz-b"), 1) << "replicasPerCell defaults to 1";

  p = {};
  p.cellType = CellType::kGZone;
  d = scheduleOne(t, makeApp("global", p));
  EXPECT_EQ(d.placement, (Placement{{"gz-1", {{"g1", 1}}}}));
  ASSERT_EQ(d.cells.size(), 2u);
  EXPECT_EQ(d.cells[1].cell, "gz-2");
  EXPECT_EQ(d.cells[1].desired, 0);
  EXPECT_EQ(d.cells[1].message(), "0/1 clusters available; standby cell: receives no replicas");
  EXPECT_TRUE(d.complete);

  p = {};
  p.cellNames = {"rz-c", "nowhere", "rz-a"};
  d = scheduleOne(t, makeApp("named", p));
  EXPECT_EQ(d.placement.size(), 2u);
  EXPECT_TRUE(d.complete);
  ASSERT_EQ(d.cells.size(), 3u);
  EXPECT_EQ(d.cells[0].cell, "nowhere");
  EXPECT_EQ(d.cells[0].note, "cell not found");
  EXPECT_NE(d.message.find("cells not found: nowhere"), std::string::npos) << d.message;

  // Names, type and labels must all match.
  p.cellType = CellType::kGZone;
  d = scheduleOne(t, makeApp("named", p));
  EXPECT_EQ(d.reason, "NoMatchingCells");
}

TEST(PlacementTest, NoMatchingCellsKeepsTheCurrentPlacement) {
  PlacementPolicy p;
  p.cellSelector = {{"tier", "typo"}};
  Placement current{{"rz-a", {{"rz-a-1", 2}}}};
  TopologyIndex index = makeIndex(threeCells());
  Usage used(index);
  Decision d = schedule(index, makeApp("api", p, current), used);
  EXPECT_EQ(d.reason, "NoMatchingCells");
  EXPECT_FALSE(d.complete);
  EXPECT_EQ(d.placement, current);
  EXPECT_EQ(d.moved, 0);
  EXPECT_EQ(d.message, "no active cell matches the placement; current placement kept");
  EXPECT_EQ(used[index.findCluster("rz-a-1")].pods, 2) << "still counted";
}

TEST(PlacementTest, InvalidPolicyKeepsTheCurrentPlacement) {
  PlacementPolicy p = perCell(1);
  p.totalReplicas = 3;
  Placement current{{"rz-a", {{"rz-a-1", 1}}}};
  Decision d = scheduleOne(threeCells(), makeApp("api", p, current));
  EXPECT_EQ(d.reason, "InvalidPolicy");
  EXPECT_EQ(d.placement, current);
  EXPECT_NE(d.message.find("both set"), std::string::npos);
  p = perCell(1);
  p.maxSkew = 0;
  EXPECT_EQ(scheduleOne(threeCells(), makeApp("api", p)).reason, "InvalidPolicy");
}

TEST(PlacementTest, TotalReplicasFollowBucketShares) {
  Topology t = threeCells();
  t.cells[0].bucketShare = 0.5;
  t.cells[1].bucketShare = 0.3;
  t.cells[2].bucketShare = 0.2;
  PlacementPolicy p;
  p.cellType = CellType::kRZone;
  p.totalReplicas = 10;
  Decision d = scheduleOne(t, makeApp("api", p));
  EXPECT_EQ(cellTotal(d.placement, "rz-a"), 5);
  EXPECT_EQ(cellTotal(d.placement, "rz-b"), 3);
  EXPECT_EQ(cellTotal(d.placement, "rz-c"), 2);
  // 7: quotas 3.5 / 2.1 / 1.4 → 3 / 2 / 1, the one left to the largest remainder (rz-a).
  p.totalReplicas = 7;
  d = scheduleOne(t, makeApp("api", p));
  EXPECT_EQ(cellTotal(d.placement, "rz-a"), 4);
  EXPECT_EQ(cellTotal(d.placement, "rz-b"), 2);
  EXPECT_EQ(cellTotal(d.placement, "rz-c"), 1);
  EXPECT_EQ(d.cells[0].desired, 4);

  // Equal shares: equal remainders go by name.
  for (CellInfo& c : t.cells) c.bucketShare = 1.0 / 3;
  p.totalReplicas = 4;
  d = scheduleOne(t, makeApp("api", p));
  EXPECT_EQ(cellTotal(d.placement, "rz-a"), 2);
  EXPECT_EQ(cellTotal(d.placement, "rz-b"), 1);
  EXPECT_EQ(cellTotal(d.placement, "rz-c"), 1);

  // No shares at all: an equal split.
  for (CellInfo& c : t.cells) c.bucketShare = 0;
  p.totalReplicas = 5;
  d = scheduleOne(t, makeApp("api", p));
  EXPECT_EQ(cellTotal(d.placement, "rz-a"), 2);
  EXPECT_EQ(cellTotal(d.placement, "rz-b"), 2);
  EXPECT_EQ(cellTotal(d.placement, "rz-c"), 1);

  // A cell without buckets gets an equal part (1/k), the others share the rest by buckets.
  t.cells[0].bucketShare = 0.75;
  t.cells[1].bucketShare = 0.25;
  t.cells[2].bucketShare = 0;
  p.totalReplicas = 12;  // rz-c: 12/3 = 4; rz-a, rz-b: 8 by 3:1 → 6 and 2
  d = scheduleOne(t, makeApp("api", p));
  EXPECT_EQ(cellTotal(d.placement, "rz-a"), 6);
  EXPECT_EQ(cellTotal(d.placement, "rz-b"), 2);
  EXPECT_EQ(cellTotal(d.placement, "rz-c"), 4);
}

TEST(PlacementTest, NeverOverCapacityAndExplainsWhy) {
  Topology t = threeCells();
  // rz-a: 1 replica fits on rz-a-1 (cpu), none on rz-a-2 (memory), rz-a-3 NotReady.
  t.clusters[0].allocatable = {700, 64 * kGi, 110};
  t.clusters[1].allocatable = {16000, 256 * kMi, 110};
  t.clusters[2].ready = false;
  PlacementPolicy p = perCell(3);
  p.cellNames = {"rz-a"};
  Decision d = scheduleOne(t, makeApp("api", p));
  EXPECT_FALSE(d.complete);
  EXPECT_EQ(d.reason, "Unschedulable");
  EXPECT_EQ(d.placement, (Placement{{"rz-a", {{"rz-a-1", 1}}}}));
  const Explanation& e = d.cells[0];
  EXPECT_EQ(e.desired, 3);
  EXPECT_EQ(e.placed, 1);
  EXPECT_EQ(e.available, 0);
  EXPECT_EQ(e.count(Reason::kInsufficientCpu), 1);
  EXPECT_EQ(e.count(Reason::kInsufficientMemory), 1);
  EXPECT_EQ(e.count(Reason::kNotReady), 1);
  EXPECT_EQ(e.message(),
            "0/3 clusters available: 1 NotReady, 1 insufficient cpu, 1 insufficient memory");
  EXPECT_EQ(d.message,
            "placed 1/3 replicas; cell rz-a: 1/3 replicas, 0/3 clusters available: 1 NotReady, "
            "1 insufficient cpu, 1 insufficient memory");

  // Pods are a resource too: one pod slot left.
  t = threeCells();
  for (ClusterInfo& c : t.clusters) c.allocatable.pods = 1;
  p.replicasPerCell = 4;
  d = scheduleOne(t, makeApp("api", p));
  EXPECT_EQ(d.placed, 3);
  EXPECT_EQ(d.cells[0].message(), "0/3 clusters available: 3 insufficient pods");
}

TEST(PlacementTest, KeptReplicasAreTrimmedToAShrunkCluster) {
  Topology t = threeCells();
  t.clusters[0].allocatable = {1000, 64 * kGi, 110};  // two replicas of 500m fit
  PlacementPolicy p = perCell(4);
  p.cellNames = {"rz-a"};
  p.maxSkew = 5;
  Placement current{{"rz-a", {{"rz-a-1", 4}}}};
  Decision d = scheduleOne(t, makeApp("api", p, current));
  EXPECT_EQ(at(d.placement, "rz-a", "rz-a-1"), 2);
  EXPECT_EQ(cellTotal(d.placement, "rz-a"), 4);
  EXPECT_EQ(d.stopped, 2);
  EXPECT_EQ(d.started, 2);
}

TEST(PlacementTest, NotReadyClustersKeepTheirReplicasButGetNoNewOnes) {
  Topology t = threeCells();
  t.clusters[0].ready = false;  // rz-a-1
  PlacementPolicy p = perCell(3);
  p.cellNames = {"rz-a"};
  p.failover = true;  // not lost yet: nothing moves
  Placement current{{"rz-a", {{"rz-a-1", 1}, {"rz-a-2", 1}}}};
  Decision d = scheduleOne(t, makeApp("api", p, current));
  EXPECT_EQ(d.placement, (Placement{{"rz-a", {{"rz-a-1", 1}, {"rz-a-2", 1}, {"rz-a-3", 1}}}}));
  EXPECT_EQ(d.cells[0].unavailable, 1);
  EXPECT_EQ(d.cells[0].count(Reason::kNotReady), 1);
  EXPECT_NE(d.message.find("1 replicas kept on clusters that are not Ready (not lost yet)"),
            std::string::npos)
      << d.message;

  // Scaling down takes the surplus from clusters that do not receive first.
  p.replicasPerCell = 1;
  d = scheduleOne(t, makeApp("api", p, current));
  EXPECT_EQ(d.placement, (Placement{{"rz-a", {{"rz-a-2", 1}}}}));
}

TEST(PlacementTest, LostClustersFailOverWithinTheCellOnlyWhenOptedIn) {
  Topology t = threeCells();
  t.clusters[0].ready = false;  // rz-a-1 lost
  t.clusters[0].lost = true;
  PlacementPolicy p = perCell(4);
  p.cellType.reset();
  p.cellNames = {"rz-a", "rz-b"};
  p.maxSkew = 2;
  Placement current{{"rz-a", {{"rz-a-1", 2}, {"rz-a-2", 1}, {"rz-a-3", 1}}},
                    {"rz-b", {{"rz-b-1", 2}, {"rz-b-2", 1}, {"rz-b-3", 1}}}};
  // Without failover the replicas stay counted where they are.
  Decision d = scheduleOne(t, makeApp("api", p, current));
  EXPECT_EQ(d.placement, current);
  EXPECT_EQ(d.cells[0].unavailable, 2);
  EXPECT_EQ(d.cells[0].count(Reason::kLost), 1);
  EXPECT_NE(d.message.find("(failover off)"), std::string::npos);

  p.failover = true;
  d = scheduleOne(t, makeApp("api", p, current));
  EXPECT_EQ(d.placement.at("rz-a"), (std::map<std::string, int>{{"rz-a-2", 2}, {"rz-a-3", 2}}));
  EXPECT_EQ(d.placement.at("rz-b"), current.at("rz-b")) << "other cells untouched";
  EXPECT_EQ(d.moved, 4);

  // The whole cell lost: nowhere to go within the cell, and never to another cell.
  for (int i = 0; i < 3; ++i) t.clusters[i].lost = true, t.clusters[i].ready = false;
  d = scheduleOne(t, makeApp("api", p, current));
  EXPECT_EQ(cellTotal(d.placement, "rz-a"), 0);
  EXPECT_EQ(d.placement.at("rz-b"), current.at("rz-b"));
  EXPECT_EQ(d.reason, "Unschedulable");
  EXPECT_EQ(d.cells[0].message(), "0/3 clusters available: 3 Lost");
}

TEST(PlacementTest, TaintsAndTolerations) {
  Topology t = threeCells();
  t.clusters[0].taints = {{"maintenance", "", "NoSchedule"}};     // rz-a-1
  t.clusters[1].taints = {{"spot", "true", "PreferNoSchedule"}};  // rz-a-2
  PlacementPolicy p = perCell(2);
  p.cellNames = {"rz-a"};
  p.maxSkew = 2;
  // NoSchedule: no new replicas; PreferNoSchedule: last choice.
  Decision d = scheduleOne(t, makeApp("api", p));
  EXPECT_EQ(d.placement, (Placement{{"rz-a", {{"rz-a-3", 2}}}}));
  EXPECT_EQ(d.cells[0].count(Reason::kTainted), 1);
  p.replicasPerCell = 3;
  d = scheduleOne(t, makeApp("api", p));
  EXPECT_EQ(d.placement, (Placement{{"rz-a", {{"rz-a-2", 1}, {"rz-a-3", 2}}}}))
      << "maxSkew 2 forces the third onto the disfavored cluster";
  // NoSchedule keeps what is there.
  Placement current{{"rz-a", {{"rz-a-1", 1}, {"rz-a-3", 2}}}};
  d = scheduleOne(t, makeApp("api", p, current));
  EXPECT_EQ(d.placement, current);
  // Tolerated: a cluster like any other.
  p.tolerations = {{"maintenance", "Exists", "", ""}};
  p.replicasPerCell = 2;
  p.maxSkew = 1;
  d = scheduleOne(t, makeApp("api", p));
  EXPECT_EQ(d.placement, (Placement{{"rz-a", {{"rz-a-1", 1}, {"rz-a-3", 1}}}}));

  // NoExecute evicts, with or without failover.
  t.clusters[0].taints = {{"drain", "", "NoExecute"}};
  p.tolerations.clear();
  p.replicasPerCell = 3;
  d = scheduleOne(t, makeApp("api", p, current));
  EXPECT_EQ(at(d.placement, "rz-a", "rz-a-1"), 0);
  EXPECT_EQ(cellTotal(d.placement, "rz-a"), 3);
  EXPECT_EQ(d.stopped, 1);
}

TEST(PlacementTest, ClustersThatLeftTheCellOrTheTopologyAreReplaced) {
  Topology t = threeCells();
  t.cells[0].clusters.push_back("rz-a-ghost");  // named by the cell, not in the topology
  PlacementPolicy p = perCell(3);
  p.cellNames = {"rz-a"};
  Placement current{{"rz-a", {{"rz-a-ghost", 1}, {"rz-b-1", 1}, {"rz-a-1", 1}}},
                    {"rz-c", {{"rz-c-1", 2}}}};  // rz-c is no longer selected
  Decision d = scheduleOne(t, makeApp("api", p, current));
  EXPECT_EQ(at(d.placement, "rz-a", "rz-a-1"), 1);
  EXPECT_EQ(cellTotal(d.placement, "rz-a"), 3);
  EXPECT_EQ(cellTotal(d.placement, "rz-c"), 0);
  EXPECT_EQ(d.stopped, 4);
  EXPECT_EQ(d.started, 2);
  EXPECT_EQ(d.cells[0].clusters, 4);
  EXPECT_EQ(d.cells[0].count(Reason::kNotFound), 1);
}

TEST(PlacementTest, QuotaStopsGrowthButRemovesNothing) {
  PlacementPolicy p = perCell(2, {1000, kGi, 1});
  Resources quota{3000, kUnlimited, kUnlimited};  // three replicas' worth of cpu
  Decision d = scheduleOne(threeCells(), makeApp("api", p), quota);
  EXPECT_EQ(d.placed, 3);
  EXPECT_FALSE(d.complete);
  EXPECT_EQ(cellTotal(d.placement, "rz-a"), 2) << "cells take the growth in name order";
  EXPECT_EQ(cellTotal(d.placement, "rz-b"), 1);
  EXPECT_EQ(d.cells[1].count(Reason::kQuotaExceeded), 3);
  EXPECT_EQ(d.cells[2].message(), "0/3 clusters available: 3 quota exceeded");

  // Holding more than the quota allows (it was lowered): nothing is removed.
  Placement current{{"rz-a", {{"rz-a-1", 1}, {"rz-a-2", 1}}},
                    {"rz-b", {{"rz-b-1", 1}, {"rz-b-2", 1}}}};
  d = scheduleOne(threeCells(), makeApp("api", p, current),
                  Resources{1000, kUnlimited, kUnlimited});
  EXPECT_EQ(d.placed, 4);
  EXPECT_EQ(d.moved, 0);
  // Failover needs no new quota: the replicas only move.
  Topology t = threeCells();
  t.clusters[0].lost = true;
  t.clusters[0].ready = false;
  p.failover = true;
  d = scheduleOne(t, makeApp("api", p, current), Resources{0, 0, 0});
  EXPECT_EQ(cellTotal(d.placement, "rz-a"), 2);
  EXPECT_EQ(at(d.placement, "rz-a", "rz-a-1"), 0);
}

TEST(PlacementTest, ZeroReplicasIsScheduled) {
  Placement current{{"rz-a", {{"rz-a-1", 1}}}};
  Decision d = scheduleOne(threeCells(), makeApp("api", perCell(0), current));
  EXPECT_TRUE(d.complete);
  EXPECT_TRUE(d.placement.empty());
  EXPECT_EQ(d.stopped, 1);
  EXPECT_EQ(d.reason, "Scheduled");
}

TEST(PlacementTest, AClusterSharedByTwoCellsIsNotOverbooked) {
  Topology t;
  t.clusters = {makeCluster("shared", "dc-a", {2000, 64 * kGi, 110}), makeCluster("own")};
  t.cells = {makeCell("rz-a", {"shared"}), makeCell("rz-b", {"shared", "own"})};
  PlacementPolicy p = perCell(3, {500, kGi, 1});
  p.maxSkew = 3;
  Decision d = scheduleOne(t, makeApp("api", p));
  EXPECT_EQ(at(d.placement, "rz-a", "shared"), 3);
  EXPECT_EQ(at(d.placement, "rz-b", "shared"), 1);
  EXPECT_EQ(at(d.placement, "rz-b", "own"), 2);
}

TEST(ScheduleAllTest, PriorityOrdersNewReplicasButExistingOnesKeepTheirRoom) {
  Topology t;
  t.clusters = {makeCluster("c1", "dc-a", {2000, 64 * kGi, 110})};
  t.cells = {makeCell("rz-a", {"c1"})};
  TopologyIndex index = makeIndex(t);
  PlacementPolicy low = perCell(2, {1000, kGi, 1});
  PlacementPolicy high = low;
  high.priority = 10;
  // Two new apps, room for two replicas: the high-priority one gets it all, whatever the order.
  std::vector<AppRequest> apps{makeApp("a-low", low), makeApp("z-high", high)};
  std::vector<Decision> ds = scheduleAll(index, apps);
  ASSERT_EQ(ds.size(), 2u);
  EXPECT_EQ(ds[0].name, "a-low");
  EXPECT_EQ(ds[0].placed, 0);
  EXPECT_EQ(ds[1].placed, 2);
  EXPECT_EQ(ds[0].cells[0].message(), "0/1 clusters available: 1 insufficient cpu");

  // The low-priority app already runs: a new high-priority app does not displace it.
  apps[0].current = {{"rz-a", {{"c1", 2}}}};
  ds = scheduleAll(index, apps);
  EXPECT_EQ(ds[0].placed, 2);
  EXPECT_EQ(ds[0].moved, 0);
  EXPECT_EQ(ds[1].placed, 0);
  EXPECT_EQ(ds[1].reason, "Unschedulable");
}

TEST(ScheduleAllTest, NamespaceQuotaCountsEveryAppOfTheNamespace) {
  TopologyIndex index = makeIndex(threeCells());
  PlacementPolicy p = perCell(1, {1000, kGi, 1});
  std::vector<AppRequest> apps{makeApp("a", p), makeApp("b", p), makeApp("c", p)};
  apps[2].ns = "other";
  std::map<std::string, Resources> quotas{{"payments", {4000, kUnlimited, kUnlimited}}};
  std::vector<Decision> ds = scheduleAll(index, apps, quotas);
  EXPECT_EQ(ds[0].placed, 3);
  EXPECT_EQ(ds[1].placed, 1);
  EXPECT_EQ(ds[1].cells[1].count(Reason::kQuotaExceeded), 3);
  EXPECT_EQ(ds[2].placed, 3) << "another namespace";
}

TEST(WhatIfTest, LosingADatacenter) {
  Topology t = threeCells();
  t.clusters[1].zone = "dc-b";  // rz-a-2
  Topology lost = withZoneLost(t, "dc-b");
  EXPECT_TRUE(lost.clusters[1].lost);
  EXPECT_FALSE(lost.clusters[1].ready);
  EXPECT_FALSE(lost.clusters[0].lost);

  PlacementPolicy p = perCell(2);
  p.failover = true;
  Decision before = scheduleOne(t, makeApp("api", p));
  Decision after = scheduleOne(lost, makeApp("api", p, before.placement));
  EXPECT_EQ(at(after.placement, "rz-a", "rz-a-2"), 0);
  EXPECT_EQ(cellTotal(after.placement, "rz-a"), 2);
  EXPECT_EQ(after.moved, 2);
}

}  // namespace
}  // namespace tessera::scheduler
