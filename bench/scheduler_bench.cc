// scheduler_bench: the placement solver (scheduler/placement.h) on a large topology
// (docs/benchmarks.md, "Scheduler"; bench/run_scheduler_bench.sh runs it).
//
// The world: --clusters member clusters (default 1,000) in 10 datacenters of 2 regions; each
// datacenter has 10 cells (8 RZone, 1 GZone — one active in the whole world — and 1 CZone) of
// clusters/100 clusters each; every cluster offers 512 cpu, 2 TiB, 3,000 pods. --apps
// applications (default 10,000), a fixed mix: 50 % two replicas per RZone cell (160
// replicas), 20 % 40 replicas in total by bucket share, 15 % two per CZone cell, 10 % three
// in the GZone, 5 % four in each of three named RZone cells; requests 100–500m cpu,
// 128–512 MiB; failover on. About 920,000 replicas in all (the run prints how full it is).
//
// Phases, each beside a baseline measured in the same run:
//   one app   schedule() of one more "2 per RZone cell" application into the full world,
//             --runs times (fresh, then steady: its placement as current): p50/p99/max.
//             Baseline: sorting the 1,000 clusters by free cpu (a trivial pass over the same
//             input: the machine's floor for "look at every cluster once").
//   all apps  scheduleAll() of every application: from nothing; again with nothing changed
//             (steady); after one cluster of every cell is lost (failover re-places within the
//             cells); after datacenter dc-3 is lost (its cells have nowhere to go). Baselines:
//             one cluster sort per application, and copying every application's placement
//             (the cost of just producing 10,000 placements).
// Every phase checks what it measured: no cluster over capacity, steady phases move
// nothing, failover keeps every replica in its cell; a failed check exits with status 3.
// The last line of output is one JSON object with every figure.
//
// Single-threaded (the solver is pure and single-threaded); times are steady_clock.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "scheduler/placement.h"

namespace tessera::scheduler::bench {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::int64_t kGi = std::int64_t{1} << 30;
constexpr std::int64_t kMi = std::int64_t{1} << 20;

struct Options {
  int clusters = 1000;
  int apps = 10000;
  int runs = 2000;
  std::uint32_t seed = 1;
};

double msSince(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

Topology makeTopology(int clusters) {
  Topology t;
  const int perCell = std::max(1, clusters / 100);
  for (int dc = 0; dc < 10; ++dc) {
    const std::string zone = "dc-" + std::to_string(dc);
    const std::string region = dc < 5 ? "region-1" : "region-2";
    for (int k = 0; k < 10; ++k) {
      CellInfo cell;
      char name[32];
      if (k < 8) {
        cell.type = CellType::kRZone;
        std::snprintf(name, sizeof name, "rz-%02d", dc * 8 + k);
        cell.bucketShare = 1.0 / 80;
      } else if (k == 8) {
        cell.type = CellType::kGZone;
        std::snprintf(name, sizeof name, "gz-%d", dc);
        cell.active = dc == 0;
      } else {
        cell.type = CellType::kCZone;
        std::snprintf(name, sizeof name, "cz-%d", dc);
      }
      cell.name = name;
      cell.region = region;
      cell.zone = zone;
      cell.labels["tier"] = k % 2 == 0 ? "core" : "edge";
      for (int c = 0; c < perCell; ++c) {
        ClusterInfo info;
        std::snprintf(name, sizeof name, "%s-mc-%02d", cell.name.c_str(), c);
        info.name = name;
        info.region = region;
        info.zone = zone;
        info.allocatable = {512'000, 2048 * kGi, 3000};
        cell.clusters.push_back(info.name);
        t.clusters.push_back(std::move(info));
      }
      t.cells.push_back(std::move(cell));
    }
  }
  return t;
}

std::vector<AppRequest> makeApps(int n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  auto uniform = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  std::vector<AppRequest> apps(n);
  for (int i = 0; i < n; ++i) {
    AppRequest& a = apps[i];
    a.ns = "ns-" + std::to_string(i % 50);
    a.name = "app-" + std::to_string(i);
    PlacementPolicy& p = a.policy;
    const int kind = i % 20;  // the mix, interleaved
    if (kind < 10) {
      p.cellType = CellType::kRZone;
      p.replicasPerCell = 2;
    } else if (kind < 14) {
      p.cellType = CellType::kRZone;
      p.totalReplicas = 40;
    } else if (kind < 17) {
      p.cellType = CellType::kCZone;
      p.replicasPerCell = 2;
    } else if (kind < 19) {
      p.cellType = CellType::kGZone;
      p.replicasPerCell = 3;
    } else {
      for (int c = 0; c < 3; ++c) {
        char name[16];
        std::snprintf(name, sizeof name, "rz-%02d", uniform(0, 79));
        p.cellNames.push_back(name);
      }
      p.replicasPerCell = 4;
    }
    p.requests = {std::int64_t{100} * uniform(1, 5), 128 * kMi * uniform(1, 4), 1};
    p.priority = uniform(0, 2);
    p.failover = true;
  }
  return apps;
}

struct Percentiles {
  double p50 = 0, p99 = 0, max = 0;
};

Percentiles percentiles(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  auto rank = [&](double q) {
    std::size_t i = static_cast<std::size_t>(std::ceil(q * static_cast<double>(v.size())));
    return v[std::min(v.size() - 1, i == 0 ? 0 : i - 1)];
  };
  return {rank(0.50), rank(0.99), v.back()};
}

/// The baseline pass: the clusters ordered by free cpu (what any scheduler must at least do).
std::int64_t sortByFreeCpu(const TopologyIndex& index, const Usage& used,
                           std::vector<std::pair<std::int64_t, int>>& scratch) {
  scratch.clear();
  for (std::size_t i = 0; i < index.clusters().size(); ++i) {
    scratch.emplace_back(index.clusters()[i].allocatable.cpuMillis - used[int(i)].cpuMillis,
                         static_cast<int>(i));
  }
  std::sort(scratch.begin(), scratch.end(), std::greater<>());
  return scratch.front().first;
}

int failures = 0;
void check(bool ok, const std::string& what) {
  if (!ok && ++failures <= 10) std::fprintf(stderr, "CHECK FAILED: %s\n", what.c_str());
}

/// No cluster that receives replicas is over its allocatable.
void checkCapacity(const TopologyIndex& index, const std::vector<AppRequest>& apps,
                   const std::vector<Decision>& ds, const std::string& phase) {
  Usage used(index);
  for (std::size_t i = 0; i < apps.size(); ++i) {
    used.add(index, ds[i].placement, replicaFootprint(apps[i].policy));
  }
  int over = 0;
  for (std::size_t c = 0; c < index.clusters().size(); ++c) {
    const ClusterInfo& info = index.clusters()[c];
    if (info.ready && !used[int(c)].fits(info.allocatable)) ++over;
  }
  check(over == 0, phase + ": " + std::to_string(over) + " clusters over capacity");
}

struct Summary {
  double ms = 0;
  int moved = 0, unschedulable = 0, replicas = 0;
};

Summary summarize(const std::vector<Decision>& ds, double ms) {
  Summary s;
  s.ms = ms;
  for (const Decision& d : ds) {
    s.moved += d.moved;
    s.replicas += d.placed;
    if (!d.complete) ++s.unschedulable;
  }
  return s;
}

int run(const Options& o) {
  std::printf("scheduler_bench: %d clusters, %d applications, %d single-app runs, seed %u\n",
              o.clusters, o.apps, o.runs, o.seed);
  Topology topology = makeTopology(o.clusters);
  auto t0 = Clock::now();
  auto created = TopologyIndex::create(topology);
  const double indexMs = msSince(t0);
  if (!created.isOk()) {
    std::fprintf(stderr, "topology: %s\n", created.status().toString().c_str());
    return 2;
  }
  const TopologyIndex& index = *created;
  std::vector<AppRequest> apps = makeApps(o.apps, o.seed);

  // ---- all apps: from nothing ----
  t0 = Clock::now();
  std::vector<Decision> initial = scheduleAll(index, apps);
  Summary fresh = summarize(initial, msSince(t0));
  checkCapacity(index, apps, initial, "initial");
  for (std::size_t i = 0; i < apps.size(); ++i) apps[i].current = initial[i].placement;
  initial.clear();
  double cpuUsed = 0, cpuTotal = 0, hottest = 0;
  {
    Usage used(index);
    for (const AppRequest& a : apps) used.add(index, a.current, replicaFootprint(a.policy));
    for (std::size_t c = 0; c < index.clusters().size(); ++c) {
      const double alloc = static_cast<double>(index.clusters()[c].allocatable.cpuMillis);
      cpuUsed += static_cast<double>(used[int(c)].cpuMillis);
      cpuTotal += alloc;
      hottest = std::max(hottest, static_cast<double>(used[int(c)].cpuMillis) / alloc);
    }
  }

  // ---- all apps: nothing changed ----
  t0 = Clock::now();
  std::vector<Decision> again = scheduleAll(index, apps);
  Summary steady = summarize(again, msSince(t0));
  check(steady.moved == 0, "steady pass moved " + std::to_string(steady.moved) + " replicas");
  again.clear();

  // ---- all apps: one cluster of every cell lost ----
  Topology oneLost = topology;
  for (CellInfo& cell : oneLost.cells) {
    for (ClusterInfo& c : oneLost.clusters) {
      if (c.name == cell.clusters.front()) {
        c.lost = true;
        c.ready = false;
      }
    }
  }
  auto oneLostIndex = TopologyIndex::create(oneLost);
  t0 = Clock::now();
  std::vector<Decision> failover = scheduleAll(*oneLostIndex, apps);
  Summary perCell = summarize(failover, msSince(t0));
  checkCapacity(*oneLostIndex, apps, failover, "one cluster per cell lost");
  // Replicas stay in their cell: a cell never gains, and one that lost replicas says why.
  for (std::size_t i = 0; i < apps.size(); ++i) {
    for (const Explanation& e : failover[i].cells) {
      int before = 0;
      if (auto it = apps[i].current.find(e.cell); it != apps[i].current.end()) {
        for (const auto& [c, n] : it->second) before += n;
      }
      check(e.placed <= before && (e.placed == before || (!e.complete() && e.available == 0)),
            apps[i].name + " cell " + e.cell + ": " + std::to_string(before) + " -> " +
                std::to_string(e.placed) + " (" + e.message() + ")");
    }
  }
  failover.clear();

  // ---- all apps: datacenter dc-3 lost ----
  auto dcLostIndex = TopologyIndex::create(withZoneLost(topology, "dc-3"));
  t0 = Clock::now();
  std::vector<Decision> dcLost = scheduleAll(*dcLostIndex, apps);
  Summary zone = summarize(dcLost, msSince(t0));
  checkCapacity(*dcLostIndex, apps, dcLost, "dc-3 lost");
  dcLost.clear();

  // ---- baselines for all apps ----
  Usage full(index);
  for (const AppRequest& a : apps) full.add(index, a.current, replicaFootprint(a.policy));
  std::vector<std::pair<std::int64_t, int>> scratch;
  std::int64_t sink = 0;
  t0 = Clock::now();
  for (std::size_t i = 0; i < apps.size(); ++i) sink += sortByFreeCpu(index, full, scratch);
  const double sortAllMs = msSince(t0);
  t0 = Clock::now();
  std::vector<Placement> copies;
  copies.reserve(apps.size());
  for (const AppRequest& a : apps) copies.push_back(a.current);
  const double copyAllMs = msSince(t0);
  copies.clear();

  // ---- one app into the full world ----
  AppRequest one;
  one.ns = "bench";
  one.name = "one";
  one.policy.cellType = CellType::kRZone;
  one.policy.replicasPerCell = 2;
  one.policy.requests = {250, 256 * kMi, 1};
  one.policy.failover = true;
  std::vector<double> freshMs, steadyMs, sortMs;
  freshMs.reserve(o.runs);
  steadyMs.reserve(o.runs);
  sortMs.reserve(o.runs);
  Decision placed;
  for (int r = 0; r < o.runs; ++r) {
    Usage used = full;
    auto s = Clock::now();
    Decision d = schedule(index, one, used);
    freshMs.push_back(msSince(s));
    if (r == 0) {
      check(d.complete && d.placed == 160, "one app: " + d.message);
      placed = d;
    }
  }
  AppRequest settled = one;
  settled.current = placed.placement;
  for (int r = 0; r < o.runs; ++r) {
    Usage used = full;
    auto s = Clock::now();
    Decision d = schedule(index, settled, used);
    steadyMs.push_back(msSince(s));
    if (r == 0) check(d.moved == 0, "one app, steady: moved " + std::to_string(d.moved));
  }
  for (int r = 0; r < o.runs; ++r) {
    auto s = Clock::now();
    sink += sortByFreeCpu(index, full, scratch);
    sortMs.push_back(msSince(s));
  }
  Percentiles pf = percentiles(freshMs), ps = percentiles(steadyMs), pb = percentiles(sortMs);

  // ---- report ----
  std::printf(
      "\ntopology index: %.2f ms (%zu clusters, %zu cells); placed: %d replicas, cpu "
      "%.0f %% allocated (hottest cluster %.0f %%)\n\n",
      indexMs, index.clusters().size(), index.cells().size(), fresh.replicas,
      100 * cpuUsed / cpuTotal, 100 * hottest);
  std::printf("%-52s %9s %9s %9s\n", "one application (2 per RZone cell = 160 replicas)", "p50 ms",
              "p99 ms", "max ms");
  std::printf("%-52s %9.3f %9.3f %9.3f\n", "  schedule(), new application", pf.p50, pf.p99, pf.max);
  std::printf("%-52s %9.3f %9.3f %9.3f\n", "  schedule(), settled application (moves 0)", ps.p50,
              ps.p99, ps.max);
  std::printf("%-52s %9.3f %9.3f %9.3f\n", "  baseline: sort 1,000 clusters by free cpu", pb.p50,
              pb.p99, pb.max);
  std::printf("  goal: p99 <= 5 ms (Karmada reports ~32 ms); p99 = %.2fx the baseline's p99\n\n",
              pf.p99 / pb.p99);

  std::printf("%-52s %9s %9s %9s %7s\n", "all applications: scheduleAll()", "total ms", "replicas",
              "moved", "short");
  auto row = [](const char* what, const Summary& s) {
    std::printf("%-52s %9.1f %9d %9d %7d\n", what, s.ms, s.replicas, s.moved, s.unschedulable);
  };
  row("  from nothing", fresh);
  row("  nothing changed", steady);
  row("  one cluster of every cell lost (failover)", perCell);
  row("  datacenter dc-3 lost (failover)", zone);
  std::printf("%-52s %9.1f\n", "  baseline: one cluster sort per application", sortAllMs);
  std::printf("%-52s %9.1f\n", "  baseline: copy every application's placement", copyAllMs);
  std::printf("  goal: re-placing all <= 2000 ms; failover pass = %.2fx the sort baseline\n",
              perCell.ms / sortAllMs);
  if (failures > 0) std::printf("\n%d CHECKS FAILED (see stderr)\n", failures);

  std::printf(
      "{\"clusters\":%zu,\"cells\":%zu,\"apps\":%d,\"runs\":%d,\"index_ms\":%.3f,"
      "\"cpu_allocated\":%.3f,\"hottest_cluster_cpu\":%.3f,"
      "\"one_app\":{\"fresh\":{\"p50_ms\":%.4f,\"p99_ms\":%.4f,\"max_ms\":%.4f},"
      "\"steady\":{\"p50_ms\":%.4f,\"p99_ms\":%.4f,\"max_ms\":%.4f},"
      "\"baseline_sort\":{\"p50_ms\":%.4f,\"p99_ms\":%.4f,\"max_ms\":%.4f}},"
      "\"all_apps\":{\"fresh_ms\":%.1f,\"steady_ms\":%.1f,\"one_cluster_per_cell_lost_ms\":%.1f,"
      "\"dc_lost_ms\":%.1f,\"baseline_sort_ms\":%.1f,\"baseline_copy_ms\":%.1f,"
      "\"replicas\":%d,\"failover_moved\":%d,\"dc_lost_short_apps\":%d},"
      "\"checks_failed\":%d,\"sink\":%lld}\n",
      index.clusters().size(), index.cells().size(), o.apps, o.runs, indexMs, cpuUsed / cpuTotal,
      hottest, pf.p50, pf.p99, pf.max, ps.p50, ps.p99, ps.max, pb.p50, pb.p99, pb.max, fresh.ms,
      steady.ms, perCell.ms, zone.ms, sortAllMs, copyAllMs, fresh.replicas, perCell.moved,
      zone.unschedulable, failures, static_cast<long long>(sink % 2));
  return failures > 0 ? 3 : 0;
}

}  // namespace
}  // namespace tessera::scheduler::bench

int main(int argc, char** argv) {
  tessera::scheduler::bench::Options o;
  for (int i = 1; i < argc; ++i) {
    auto value = [&](const char* flag) -> long {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", flag);
        std::exit(2);
      }
      return std::strtol(argv[++i], nullptr, 10);
    };
    if (std::strcmp(argv[i], "--clusters") == 0) {
      o.clusters = static_cast<int>(value("--clusters"));
    } else if (std::strcmp(argv[i], "--apps") == 0) {
      o.apps = static_cast<int>(value("--apps"));
    } else if (std::strcmp(argv[i], "--runs") == 0) {
      o.runs = static_cast<int>(value("--runs"));
    } else if (std::strcmp(argv[i], "--seed") == 0) {
      o.seed = static_cast<std::uint32_t>(value("--seed"));
    } else if (std::strcmp(argv[i], "--quick") == 0) {
      o.apps = 1000;
      o.runs = 200;
    } else {
      std::fprintf(stderr,
                   "usage: scheduler_bench [--quick] [--clusters N (multiple of 100)] "
                   "[--apps N] [--runs N] [--seed N]\n");
      return 2;
    }
  }
  if (o.clusters < 100 || o.apps < 1 || o.runs < 1) {
    std::fprintf(stderr, "need --clusters >= 100, --apps >= 1, --runs >= 1\n");
    return 2;
  }
  return tessera::scheduler::bench::run(o);
}
