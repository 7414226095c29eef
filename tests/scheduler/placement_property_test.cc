// Property tests of the placement solver over random topologies and applications, fixed
// seeds. Every failure names its seed (SCOPED_TRACE); a test stops at the first failing seed.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "scheduler/placement.h"
#include "scheduler/spread_solver.h"
#include "tests/scheduler/scheduler_test_util.h"

namespace tessera::scheduler {
namespace {

using testing::at;
using testing::cellTotal;
using testing::changes;
using testing::kGi;
using testing::kMi;
using testing::makeIndex;
using testing::receives;
using testing::total;

// 300 seeds per property by default; TESSERA_PROPERTY_SEEDS=N runs N (a deeper search).
const std::uint32_t kSeeds = [] {
  const char* env = std::getenv("TESSERA_PROPERTY_SEEDS");
  return env != nullptr ? static_cast<std::uint32_t>(std::strtoul(env, nullptr, 10)) : 300u;
}();

struct World {
  Topology topology;
  std::vector<AppRequest> apps;
  std::map<std::string, Resources> quotas;
};

struct WorldOptions {
  bool healthy = false;         // every cluster Ready, none lost
  bool sharedClusters = true;   // a cluster may belong to two cells
  bool garbageCurrent = false;  // random current placements (also on wrong clusters, too many)
  int maxApps = 12;
};

class Random {
 public:
  explicit Random(std::uint32_t seed) : rng_(seed) {}
  int uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  bool chance(double p) { return std::bernoulli_distribution(p)(rng_); }
  template <typename T>
  const T& pick(const std::vector<T>& v) {
    return v[uniform(0, static_cast<int>(v.size()) - 1)];
  }
  std::string name() {  // random names, so that name order is unrelated to creation order
    std::string s;
    for (int i = 0; i < 4; ++i) s += static_cast<char>('a' + uniform(0, 25));
    return s;
  }
  std::mt19937& engine() { return rng_; }

 private:
  std::mt19937 rng_;
};

World randomWorld(std::uint32_t seed, const WorldOptions& o) {
  Random r(seed);
  World w;
  std::set<std::string> used;
  auto unique = [&](const std::string& prefix) {
    std::string n;
    do n = prefix + r.name();
    while (!used.insert(n).second);
    return n;
  };
  const int zones = r.uniform(1, 3);
  bool gzoneActive = false;
  std::vector<double> shares;
  for (int z = 0; z < zones; ++z) {
    const std::string zone = "dc-" + std::to_string(z);
    std::vector<std::string> zoneClusters;
    const int cells = r.uniform(1, 3);
    for (int k = 0; k < cells; ++k) {
      CellInfo cell;
      int type = r.uniform(0, 9);
      cell.type = type < 7 ? CellType::kRZone : type < 9 ? CellType::kGZone : CellType::kCZone;
      cell.name = unique(cell.type == CellType::kRZone   ? "rz-"
                         : cell.type == CellType::kGZone ? "gz-"
                                                         : "cz-");
      cell.region = z < 2 ? "r1" : "r2";
      cell.zone = zone;
      if (cell.type == CellType::kGZone) {
        cell.active = !gzoneActive;
        gzoneActive = true;
      } else {
        cell.active = !r.chance(0.05);
      }
      cell.labels["tier"] = r.chance(0.5) ? "core" : "edge";
      if (cell.type == CellType::kRZone) {
        cell.bucketShare = r.chance(0.1) ? 0 : r.uniform(1, 10);
        shares.push_back(cell.bucketShare);
      }
      const int members = r.uniform(1, 5);
      for (int m = 0; m < members; ++m) {
        ClusterInfo c;
        c.name = unique("mc-");
        c.region = cell.region;
        c.zone = zone;
        c.allocatable = {std::int64_t{250} * r.uniform(4, 64), kGi * r.uniform(1, 32),
                         r.uniform(3, 40)};
        if (!o.healthy) {
          int health = r.uniform(0, 99);
          c.ready = health >= 15;
          c.lost = health < 5;
          int taint = r.uniform(0, 99);
          if (taint < 10) c.taints.push_back({"maint", "", "NoSchedule"});
          if (taint >= 10 && taint < 18) c.taints.push_back({"spot", "true", "PreferNoSchedule"});
          if (taint >= 18 && taint < 22) c.taints.push_back({"drain", "", "NoExecute"});
        }
        cell.clusters.push_back(c.name);
        zoneClusters.push_back(c.name);
        w.topology.clusters.push_back(std::move(c));
      }
      if (o.sharedClusters && zoneClusters.size() > cell.clusters.size() && r.chance(0.15)) {
        cell.clusters.push_back(r.pick(zoneClusters));  // a cluster of another cell of the zone
      }
      if (r.chance(0.03)) cell.clusters.push_back(unique("ghost-"));
      w.topology.cells.push_back(std::move(cell));
    }
  }
  double shareSum = 0;
  for (double s : shares) shareSum += s;
  for (CellInfo& c : w.topology.cells) {
    if (c.type == CellType::kRZone && shareSum > 0) c.bucketShare /= shareSum;
  }

  const int apps = r.uniform(1, o.maxApps);
  for (int a = 0; a < apps; ++a) {
    AppRequest app;
    app.ns = r.chance(0.6) ? "ns-a" : "ns-b";
    app.name = unique("app-");
    PlacementPolicy& p = app.policy;
    int sel = r.uniform(0, 99);
    if (sel < 50) {
      p.cellType = CellType::kRZone;
    } else if (sel < 65) {
      for (int n = r.uniform(1, 3); n > 0; --n)
        p.cellNames.push_back(r.pick(w.topology.cells).name);
      if (r.chance(0.2)) p.cellNames.push_back("missing-cell");
    } else if (sel < 80) {
      p.cellSelector["tier"] = "core";
      if (r.chance(0.5)) p.cellType = CellType::kRZone;
    } else if (sel < 90) {
      p.cellType = CellType::kGZone;
    }
    if (r.chance(0.7)) {
      p.replicasPerCell = r.uniform(0, 5);
    } else {
      p.totalReplicas = r.uniform(0, 25);
    }
    p.maxSkew = r.uniform(1, 3);
    p.requests = {std::int64_t{100} * r.uniform(1, 20), 64 * kMi * r.uniform(1, 32), 1};
    int tol = r.uniform(0, 99);
    if (tol < 20) p.tolerations.push_back({"maint", "Exists", "", ""});
    if (tol >= 20 && tol < 30) p.tolerations.push_back({"drain", "Exists", "", "NoExecute"});
    if (tol >= 30 && tol < 35) p.tolerations.push_back({"", "Exists", "", ""});
    p.priority = r.uniform(0, 2);
    p.failover = r.chance(0.5);
    if (o.garbageCurrent) {
      for (int n = r.uniform(0, 6); n > 0; --n) {
        const CellInfo& cell = r.pick(w.topology.cells);
        const std::string& cluster =
            r.chance(0.9) ? r.pick(cell.clusters) : r.pick(w.topology.clusters).name;
        app.current[cell.name][cluster] += r.uniform(1, 6);
      }
    }
    w.apps.push_back(std::move(app));
  }
  if (r.chance(0.3))
    w.quotas["ns-a"] = {std::int64_t{1000} * r.uniform(2, 40), kUnlimited, kUnlimited};
  return w;
}

/// The same world in another order: clusters, cells, cell members, apps, names, tolerations.
World shuffled(World w, std::uint32_t seed) {
  std::mt19937 rng(seed ^ 0x9e3779b9u);
  std::shuffle(w.topology.clusters.begin(), w.topology.clusters.end(), rng);
  std::shuffle(w.topology.cells.begin(), w.topology.cells.end(), rng);
  for (CellInfo& c : w.topology.cells) std::shuffle(c.clusters.begin(), c.clusters.end(), rng);
  std::shuffle(w.apps.begin(), w.apps.end(), rng);
  for (AppRequest& a : w.apps) {
    std::shuffle(a.policy.cellNames.begin(), a.policy.cellNames.end(), rng);
    std::shuffle(a.policy.tolerations.begin(), a.policy.tolerations.end(), rng);
  }
  return w;
}

std::string key(const std::string& ns, const std::string& name) {
  return ns + "/" + name;
}

void expectSameDecision(const Decision& a, const Decision& b) {
  EXPECT_EQ(a.ns, b.ns);
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.placement, b.placement) << a.name;
  EXPECT_EQ(a.reason, b.reason) << a.name;
  EXPECT_EQ(a.message, b.message) << a.name;
  EXPECT_EQ(a.complete, b.complete) << a.name;
  EXPECT_EQ(a.moved, b.moved) << a.name;
  ASSERT_EQ(a.cells.size(), b.cells.size()) << a.name;
  for (std::size_t i = 0; i < a.cells.size(); ++i) {
    EXPECT_EQ(a.cells[i].cell, b.cells[i].cell);
    EXPECT_EQ(a.cells[i].desired, b.cells[i].desired);
    EXPECT_EQ(a.cells[i].placed, b.cells[i].placed);
    EXPECT_EQ(a.cells[i].reasons, b.cells[i].reasons);
    EXPECT_EQ(a.cells[i].message(), b.cells[i].message());
  }
}

/// Σ footprint × replicas per cluster over the placements of `apps` (by cluster name).
std::map<std::string, Resources> usageOf(const std::vector<AppRequest>& apps,
                                         const std::vector<Placement>& placements) {
  std::map<std::string, Resources> used;
  for (std::size_t i = 0; i < apps.size(); ++i) {
    for (const auto& [cell, clusters] : placements[i]) {
      for (const auto& [cluster, n] : clusters) {
        used[cluster] += replicaFootprint(apps[i].policy) * n;
      }
    }
  }
  return used;
}

/// Runs scheduleAll with each pass's placements as the next pass's current until nothing
/// moves; returns the passes it took (0 = never settled within `maxPasses`).
int converge(const TopologyIndex& index, World& w, int maxPasses) {
  for (int pass = 1; pass <= maxPasses; ++pass) {
    std::vector<Decision> ds = scheduleAll(index, w.apps, w.quotas);
    bool moved = false;
    for (std::size_t i = 0; i < ds.size(); ++i) {
      moved = moved || ds[i].moved > 0;
      w.apps[i].current = ds[i].placement;
    }
    if (!moved) return pass;
  }
  return 0;
}

bool matches(const PlacementPolicy& p, const CellInfo& c) {
  if (!p.cellNames.empty() &&
      std::find(p.cellNames.begin(), p.cellNames.end(), c.name) == p.cellNames.end()) {
    return false;
  }
  if (p.cellType && *p.cellType != c.type) return false;
  for (const auto& [k, v] : p.cellSelector) {
    auto it = c.labels.find(k);
    if (it == c.labels.end() || it->second != v) return false;
  }
  return true;
}

TEST(PlacementPropertyTest, NeverOverCapacity) {
  for (std::uint32_t seed = 1; seed <= kSeeds; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    World w = randomWorld(seed, {.garbageCurrent = seed % 2 == 0});
    TopologyIndex index = makeIndex(w.topology);
    std::vector<Placement> before, after;
    for (const AppRequest& a : w.apps) before.push_back(a.current);
    for (const Decision& d : scheduleAll(index, w.apps, w.quotas)) after.push_back(d.placement);
    auto initial = usageOf(w.apps, before), final = usageOf(w.apps, after);
    for (const ClusterInfo& c : index.clusters()) {
      const Resources& was = initial[c.name];
      const Resources& now = final[c.name];
      const Resources& cap = c.allocatable;
      // Replicas the solver places never take a cluster over; what was over only shrinks.
      EXPECT_LE(now.cpuMillis, std::max(cap.cpuMillis, was.cpuMillis)) << c.name;
      EXPECT_LE(now.memoryBytes, std::max(cap.memoryBytes, was.memoryBytes)) << c.name;
      EXPECT_LE(now.pods, std::max(cap.pods, was.pods)) << c.name;
      if (was.fits(cap)) {
        EXPECT_TRUE(now.fits(cap)) << c.name;
      }
    }
    if (HasFailure()) break;
  }
}

TEST(PlacementPropertyTest, SpreadRespectedWheneverCapacityAllows) {
  for (std::uint32_t seed = 1; seed <= kSeeds; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    World w = randomWorld(seed, {.sharedClusters = false, .garbageCurrent = seed % 3 == 0});
    TopologyIndex index = makeIndex(w.topology);
    Usage used(index);
    for (const AppRequest& a : w.apps) used.add(index, a.current, replicaFootprint(a.policy));
    for (const AppRequest& a : w.apps) {
      const Resources footprint = replicaFootprint(a.policy);
      used.add(index, a.current, footprint, -1);
      Decision d = schedule(index, a, used, std::nullopt);
      if (d.reason != "Scheduled" && d.reason != "Unschedulable") continue;
      for (const CellInfo& cell : index.cells()) {
        if (!cell.active || !matches(a.policy, cell)) continue;
        std::vector<std::pair<int, bool>> counts;  // (replicas, room for one more)
        for (const std::string& name : cell.clusters) {
          int ci = index.findCluster(name);
          if (ci < 0 || !receives(index.clusters()[ci], a.policy)) continue;
          Resources free = index.clusters()[ci].allocatable - used[ci];
          counts.emplace_back(at(d.placement, cell.name, name), footprint.fits(free));
        }
        for (const auto& [hi, hiRoom] : counts) {
          for (const auto& [lo, loRoom] : counts) {
            if (loRoom) {
              EXPECT_LE(hi, lo + a.policy.maxSkew) << a.name << " in " << cell.name;
            }
          }
        }
      }
    }
    if (HasFailure()) break;
  }
}

TEST(PlacementPropertyTest, DeterministicWhateverTheInputOrder) {
  for (std::uint32_t seed = 1; seed <= kSeeds; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    World w = randomWorld(seed, {.garbageCurrent = seed % 2 == 1});
    World s = shuffled(w, seed);
    std::vector<Decision> a = scheduleAll(makeIndex(w.topology), w.apps, w.quotas);
    std::vector<Decision> b = scheduleAll(makeIndex(s.topology), s.apps, s.quotas);
    std::map<std::string, const Decision*> byName;
    for (const Decision& d : b) byName[key(d.ns, d.name)] = &d;
    ASSERT_EQ(a.size(), b.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
      EXPECT_EQ(a[i].name, w.apps[i].name) << "decisions come in the order of the apps";
      expectSameDecision(a[i], *byName.at(key(a[i].ns, a[i].name)));
    }
    // And again: same input, same output.
    std::vector<Decision> again = scheduleAll(makeIndex(w.topology), w.apps, w.quotas);
    for (std::size_t i = 0; i < a.size(); ++i) expectSameDecision(a[i], again[i]);
    if (HasFailure()) break;
  }
}

TEST(PlacementPropertyTest, SettlesAndThenMovesNothing) {
  int passesHistogram[8] = {};
  for (std::uint32_t seed = 1; seed <= kSeeds; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    World w = randomWorld(seed, {.garbageCurrent = seed % 2 == 0});
    TopologyIndex index = makeIndex(w.topology);
    int passes = converge(index, w, 6);
    ASSERT_GT(passes, 0) << "did not settle in 6 passes";
    ++passesHistogram[passes];
    // Settled: a new empty cluster outside every cell changes nothing.
    Topology more = w.topology;
    more.clusters.push_back(testing::makeCluster("zz-new"));
    std::vector<Decision> ds = scheduleAll(makeIndex(more), w.apps, w.quotas);
    for (std::size_t i = 0; i < ds.size(); ++i) {
      EXPECT_EQ(ds[i].moved, 0) << ds[i].name;
      EXPECT_EQ(ds[i].placement, w.apps[i].current) << ds[i].name;
    }
    if (HasFailure()) break;
  }
  std::string histogram;
  for (int p = 1; p < 8; ++p) histogram += " " + std::to_string(passesHistogram[p]);
  RecordProperty("passes_histogram", histogram);
}

/// One app on one cell of roomy or tight clusters: adding an empty cluster to the cell moves
/// exactly the fewest replicas that the rules require (found by brute force).
TEST(PlacementPropertyTest, AddingAClusterMovesTheMinimum) {
  for (std::uint32_t seed = 1; seed <= kSeeds; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    Random r(seed);
    Topology t;
    CellInfo cell = testing::makeCell("rz-a", {});
    const Resources footprint{500, 256 * kMi, 1};
    std::map<std::string, int> fits;  // replicas that fit on each cluster
    for (int m = r.uniform(1, 4); m > 0; --m) {
      std::string name = "mc-" + r.name();
      if (fits.count(name)) continue;
      fits[name] = r.chance(0.5) ? r.uniform(1, 8) : 128;  // tight or plenty (cpu)
      t.clusters.push_back(
          testing::makeCluster(name, "dc-a", {std::int64_t{500} * fits[name], 64 * kGi, 110}));
      cell.clusters.push_back(name);
    }
    t.cells.push_back(cell);
    PlacementPolicy p;
    p.replicasPerCell = r.uniform(1, 9);
    p.maxSkew = r.uniform(1, 3);
    p.requests = footprint;
    // Start from a random current state within capacity, then settle it.
    AppRequest app = testing::makeApp("api", p);
    for (const std::string& name : cell.clusters) {
      int n = r.uniform(0, std::min(fits[name], 6));
      if (n > 0) app.current["rz-a"][name] = n;
    }
    {
      TopologyIndex index = makeIndex(t);
      Usage used(index);
      app.current = schedule(index, app, used).placement;
    }
    // The new cluster.
    Resources newCap{r.chance(0.5) ? 500 * r.uniform(1, 4) : 64000, 64 * kGi, 110};
    t.clusters.push_back(testing::makeCluster("mc-new", "dc-a", newCap));
    t.cells[0].clusters.push_back("mc-new");
    TopologyIndex index = makeIndex(t);
    Usage used(index);
    Decision d = schedule(index, app, used);

    // Brute force over the same slots: kept = current, capacity = kept + room (≤ target).
    std::vector<int> kept, capacity;
    for (const std::string& name : index.cells()[0].clusters) {
      int ci = index.findCluster(name);
      int k = at(app.current, "rz-a", name);
      int room = static_cast<int>(
          replicasThatFit(index.clusters()[ci].allocatable - footprint * k, footprint));
      kept.push_back(k);
      capacity.push_back(k + std::min(room, *p.replicasPerCell));
    }
    int capSum = 0;
    for (int c : capacity) capSum += c;
    const int n = std::min(*p.replicasPerCell, capSum);
    int best = -1;
    std::vector<int> x(kept.size());
    auto visit = [&](auto&& self, std::size_t i, int sum) -> void {
      if (i == x.size()) {
        if (sum != n || !spreadHolds(x, capacity, p.maxSkew)) return;
        int cost = 0;
        for (std::size_t k = 0; k < x.size(); ++k) cost += std::abs(x[k] - kept[k]);
        if (best < 0 || cost < best) best = cost;
        return;
      }
      for (int v = 0; v <= capacity[i] && sum + v <= n; ++v) {
        x[i] = v;
        self(self, i + 1, sum + v);
      }
    };
    visit(visit, 0, 0);
    EXPECT_EQ(d.moved, best);
    if (HasFailure()) break;
  }
}

/// Changing one app's replicasPerCell by ±1 changes one replica per cell, never relocates.
/// (Not with a cluster shared by two cells: one cell's scale-down can free room there, and
/// the other cell's spread may then rebalance onto it, as the rules require.)
TEST(PlacementPropertyTest, PlusOrMinusOneReplicaMovesOnePerCell) {
  for (std::uint32_t seed = 1; seed <= kSeeds; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    World w = randomWorld(seed, {.sharedClusters = false});
    w.quotas.clear();  // the app is placed alone below, without its namespace's quota
    for (AppRequest& a : w.apps) {
      if (a.policy.totalReplicas) {
        a.policy.totalReplicas.reset();
        a.policy.replicasPerCell = 2;
      }
    }
    TopologyIndex index = makeIndex(w.topology);
    ASSERT_GT(converge(index, w, 6), 0);
    Random r(seed);
    const std::size_t which = static_cast<std::size_t>(r.uniform(0, int(w.apps.size()) - 1));
    Usage others(index);
    for (std::size_t i = 0; i < w.apps.size(); ++i) {
      if (i != which) {
        others.add(index, w.apps[i].current, replicaFootprint(w.apps[i].policy));
      }
    }
    for (int delta : {+1, -1}) {
      AppRequest app = w.apps[which];
      Usage used = others;
      Decision steady = schedule(index, app, used);
      if (steady.reason != "Scheduled" && steady.reason != "Unschedulable") continue;
      ASSERT_EQ(steady.moved, 0) << "settled apps stay put";
      app.policy.replicasPerCell = std::max(0, *app.policy.replicasPerCell + delta);
      used = others;
      Decision d = schedule(index, app, used);
      int cellChanges = 0;
      for (const Explanation& e : d.cells) {
        int was = cellTotal(app.current, e.cell);
        EXPECT_LE(std::abs(e.placed - was), 1) << e.cell;
        cellChanges += std::abs(e.placed - was);
      }
      EXPECT_EQ(d.moved, cellChanges) << app.name << " delta " << delta;
    }
    if (HasFailure()) break;
  }
}

TEST(PlacementPropertyTest, ExplanationsPresentAndConsistent) {
  for (std::uint32_t seed = 1; seed <= kSeeds; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    World w = randomWorld(seed, {.garbageCurrent = seed % 2 == 0});
    TopologyIndex index = makeIndex(w.topology);
    std::vector<Decision> ds = scheduleAll(index, w.apps, w.quotas);
    for (std::size_t i = 0; i < ds.size(); ++i) {
      const Decision& d = ds[i];
      const AppRequest& a = w.apps[i];
      SCOPED_TRACE(a.name + ": " + d.message);
      EXPECT_FALSE(d.message.empty());
      EXPECT_EQ(d.placed, total(d.placement));
      EXPECT_EQ(d.moved, changes(a.current, d.placement));
      EXPECT_EQ(d.started - d.stopped, d.placed - total(a.current));
      EXPECT_EQ(d.complete, d.reason == "Scheduled");
      for (const auto& [cell, clusters] : d.placement) {
        for (const auto& [cluster, n] : clusters) EXPECT_GT(n, 0) << cell << "/" << cluster;
      }
      // One explanation per matched cell (active or not), in name order.
      std::vector<std::string> expected;
      for (const CellInfo& c : index.cells()) {
        if (matches(a.policy, c)) expected.push_back(c.name);
      }
      for (const std::string& n : a.policy.cellNames) {
        if (index.findCell(n) < 0) expected.push_back(n);
      }
      std::sort(expected.begin(), expected.end());
      expected.erase(std::unique(expected.begin(), expected.end()), expected.end());
      std::vector<std::string> got;
      for (const Explanation& e : d.cells) got.push_back(e.cell);
      EXPECT_EQ(got, expected);
      const bool anyActive =
          std::any_of(index.cells().begin(), index.cells().end(),
                      [&](const CellInfo& c) { return c.active && matches(a.policy, c); });
      if (!anyActive) {
        EXPECT_EQ(d.reason, "NoMatchingCells");
        EXPECT_EQ(d.moved, 0);
        continue;
      }
      ASSERT_TRUE(d.reason == "Scheduled" || d.reason == "Unschedulable") << d.reason;
      int desired = 0;
      for (const Explanation& e : d.cells) {
        const int ci = index.findCell(e.cell);
        if (ci < 0 || !index.cells()[ci].active) {
          EXPECT_EQ(e.desired, 0);
          EXPECT_FALSE(e.note.empty());
          EXPECT_EQ(cellTotal(d.placement, e.cell), 0);
          continue;
        }
        const CellInfo& cell = index.cells()[ci];
        desired += e.desired;
        EXPECT_EQ(e.placed, cellTotal(d.placement, e.cell));
        EXPECT_EQ(e.clusters, static_cast<int>(cell.clusters.size()));
        // The state reasons, counted independently.
        int notFound = 0, lost = 0, notReady = 0, tainted = 0;
        for (const std::string& n : cell.clusters) {
          int c = index.findCluster(n);
          if (c < 0) {
            ++notFound;
            EXPECT_EQ(at(d.placement, e.cell, n), 0);
            continue;
          }
          const ClusterInfo& info = index.clusters()[c];
          if (info.lost) {
            ++lost;
          } else if (!info.ready) {
            ++notReady;
          } else if (!receives(info, a.policy)) {
            ++tainted;
          }
        }
        EXPECT_EQ(e.count(Reason::kNotFound), notFound) << e.cell;
        EXPECT_EQ(e.count(Reason::kLost), lost) << e.cell;
        EXPECT_EQ(e.count(Reason::kNotReady), notReady) << e.cell;
        EXPECT_EQ(e.count(Reason::kTainted), tainted) << e.cell;
        int reasons = 0;
        for (int n : e.reasons) reasons += n;
        EXPECT_GE(e.available + reasons, e.clusters) << e.cell << ": every cluster accounted";
        EXPECT_LE(e.available + notFound + lost + notReady + tainted, e.clusters);
        const std::string prefix =
            std::to_string(e.available) + "/" + std::to_string(e.clusters) + " clusters available";
        EXPECT_EQ(e.message().rfind(prefix, 0), 0u) << e.message();
        if (!e.complete()) {
          EXPECT_EQ(e.available, 0) << e.cell << " is short, yet a cluster had room";
          EXPECT_NE(d.message.find("clusters available"), std::string::npos);
        }
        EXPECT_LE(e.placed, e.desired);
      }
      EXPECT_EQ(d.desired, desired);
      if (a.policy.totalReplicas) {
        EXPECT_EQ(desired, *a.policy.totalReplicas);
      }
    }
    if (HasFailure()) break;
  }
}

TEST(PlacementPropertyTest, FailoverMovesOnlyLostReplicasWithinTheirCell) {
  for (std::uint32_t seed = 1; seed <= kSeeds; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    World w = randomWorld(seed, {.healthy = seed % 2 == 0});
    // Without quotas: replicas that cannot move out of a lost cell free their namespace quota,
    // which may let a quota-short cell of the same app grow (docs/scheduling.md).
    w.quotas.clear();
    {
      TopologyIndex index = makeIndex(w.topology);
      ASSERT_GT(converge(index, w, 6), 0);
    }
    // Lose some clusters (and with them, for seed % 4 == 1, a whole datacenter).
    Random r(seed);
    Topology t = seed % 4 == 1 ? withZoneLost(w.topology, "dc-0") : w.topology;
    std::set<std::string> lost;
    for (ClusterInfo& c : t.clusters) {
      if (!c.lost && r.chance(0.15)) {
        c.lost = true;
        c.ready = false;
      }
      if (c.lost) lost.insert(c.name);
    }
    TopologyIndex index = makeIndex(t);
    std::vector<Decision> ds = scheduleAll(index, w.apps, w.quotas);
    for (std::size_t i = 0; i < ds.size(); ++i) {
      const AppRequest& a = w.apps[i];
      const Decision& d = ds[i];
      if (!a.policy.failover) {
        EXPECT_EQ(d.placement, a.current) << a.name << ": failover off, nothing moves";
        continue;
      }
      for (const auto& [cell, clusters] : a.current) {
        bool cellLost = false;
        for (const auto& [cluster, n] : clusters) {
          if (lost.count(cluster)) {
            cellLost = true;
            EXPECT_EQ(at(d.placement, cell, cluster), 0) << a.name << " " << cluster;
          } else {
            EXPECT_GE(at(d.placement, cell, cluster), n) << a.name << " " << cluster;
          }
        }
        if (!cellLost) {
          const std::map<std::string, int> none;
          auto now = d.placement.find(cell);
          EXPECT_EQ(now == d.placement.end() ? none : now->second, clusters)
              << a.name << ": a cell without lost clusters is untouched";
        }
        EXPECT_LE(cellTotal(d.placement, cell), cellTotal(a.current, cell))
            << a.name << ": replicas never go to another cell";
      }
      for (const auto& [cell, clusters] : d.placement) {
        EXPECT_TRUE(a.current.count(cell))
            << a.name << " gained cell " << cell << ": " << d.message;
      }
    }
    if (HasFailure()) break;
  }
}

}  // namespace
}  // namespace tessera::scheduler
