// Builders and independent checks for the scheduler tests.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "scheduler/placement.h"

namespace tessera::scheduler::testing {

inline constexpr std::int64_t kGi = std::int64_t{1} << 30;
inline constexpr std::int64_t kMi = std::int64_t{1} << 20;

inline ClusterInfo makeCluster(std::string name, std::string zone = "dc-a",
                               Resources allocatable = {16000, 64 * kGi, 110}) {
  ClusterInfo c;
  c.name = std::move(name);
  c.region = "region-1";
  c.zone = std::move(zone);
  c.allocatable = allocatable;
  return c;
}

inline CellInfo makeCell(std::string name, std::vector<std::string> clusters,
                         CellType type = CellType::kRZone, double bucketShare = 0) {
  CellInfo c;
  c.name = std::move(name);
  c.type = type;
  c.region = "region-1";
  c.zone = "dc-a";
  c.clusters = std::move(clusters);
  c.bucketShare = bucketShare;
  return c;
}

inline TopologyIndex makeIndex(Topology topology) {
  auto index = TopologyIndex::create(std::move(topology));
  EXPECT_TRUE(index.isOk()) << index.status().toString();
  return std::move(index).value();
}

inline AppRequest makeApp(std::string name, PlacementPolicy policy, Placement current = {}) {
  AppRequest app;
  app.ns = "payments";
  app.name = std::move(name);
  app.policy = std::move(policy);
  app.current = std::move(current);
  return app;
}

inline int cellTotal(const Placement& p, const std::string& cell) {
  auto it = p.find(cell);
  if (it == p.end()) return 0;
  int total = 0;
  for (const auto& [cluster, n] : it->second) total += n;
  return total;
}

inline int at(const Placement& p, const std::string& cell, const std::string& cluster) {
  auto it = p.find(cell);
  if (it == p.end()) return 0;
  auto c = it->second.find(cluster);
  return c == it->second.end() ? 0 : c->second;
}

inline int total(const Placement& p) {
  int t = 0;
  for (const auto& [cell, clusters] : p) {
    for (const auto& [cluster, n] : clusters) t += n;
  }
  return t;
}

/// Σ |a − b| over every (cell, cluster): the replica changes between two placements.
inline int changes(const Placement& a, const Placement& b) {
  int sum = 0;
  for (const auto& [cell, clusters] : a) {
    for (const auto& [cluster, n] : clusters) sum += std::abs(n - at(b, cell, cluster));
  }
  for (const auto& [cell, clusters] : b) {
    for (const auto& [cluster, n] : clusters) {
      if (at(a, cell, cluster) == 0) sum += n;
    }
  }
  return sum;
}

/// The test's own reading of rule 3: may `c` receive new replicas of `policy`?
inline bool receives(const ClusterInfo& c, const PlacementPolicy& policy) {
  if (!c.ready || c.lost) return false;
  return std::all_of(c.taints.begin(), c.taints.end(), [&](const Taint& t) {
    return t.effect == kPreferNoSchedule || tolerates(policy.tolerations, t);
  });
}

}  // namespace tessera::scheduler::testing
