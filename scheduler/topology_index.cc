// Resources, tolerations, TopologyIndex and Usage (scheduler/placement.h).
#include <algorithm>
#include <utility>

#include "scheduler/placement.h"

namespace tessera::scheduler {

bool tolerates(const Toleration& toleration, const Taint& taint) {
  if (!toleration.effect.empty() && toleration.effect != taint.effect) return false;
  if (toleration.op == "Exists") return toleration.key.empty() || toleration.key == taint.key;
  // "Equal" (Kubernetes' default when the operator is empty).
  return toleration.key == taint.key && toleration.value == taint.value;
}

bool tolerates(const std::vector<Toleration>& tolerations, const Taint& taint) {
  return std::any_of(tolerations.begin(), tolerations.end(),
                     [&](const Toleration& t) { return tolerates(t, taint); });
}

std::string_view cellTypeName(CellType type) {
  switch (type) {
    case CellType::kRZone:
      return "RZone";
    case CellType::kGZone:
      return "GZone";
    case CellType::kCZone:
      return "CZone";
  }
  return "Unknown";
}

Result<TopologyIndex> TopologyIndex::create(Topology topology) {
  TopologyIndex index;
  index.clusters_ = std::move(topology.clusters);
  index.cells_ = std::move(topology.cells);
  auto byName = [](const auto& a, const auto& b) { return a.name < b.name; };
  std::sort(index.clusters_.begin(), index.clusters_.end(), byName);
  std::sort(index.cells_.begin(), index.cells_.end(), byName);

  for (std::size_t i = 0; i < index.clusters_.size(); ++i) {
    const ClusterInfo& c = index.clusters_[i];
    if (c.name.empty()) return invalidArgument("a cluster has no name");
    if (i > 0 && index.clusters_[i - 1].name == c.name) {
      return invalidArgument("duplicate cluster \"" + c.name + "\"");
    }
    if (c.allocatable.cpuMillis < 0 || c.allocatable.memoryBytes < 0 || c.allocatable.pods < 0) {
      return invalidArgument("cluster \"" + c.name + "\" has a negative allocatable");
    }
    index.clusterByName_.emplace(c.name, static_cast<int>(i));
  }
  index.members_.resize(index.cells_.size());
  for (std::size_t i = 0; i < index.cells_.size(); ++i) {
    CellInfo& cell = index.cells_[i];
    if (cell.name.empty()) return invalidArgument("a cell has no name");
    if (i > 0 && index.cells_[i - 1].name == cell.name) {
      return invalidArgument("duplicate cell \"" + cell.name + "\"");
    }
    if (!(cell.bucketShare >= 0 && cell.bucketShare <= 1)) {  // also refuses NaN
      return invalidArgument("cell \"" + cell.name + "\" has a bucketShare outside [0, 1]");
    }
    index.cellByName_.emplace(cell.name, static_cast<int>(i));
    std::sort(cell.clusters.begin(), cell.clusters.end());
    cell.clusters.erase(std::unique(cell.clusters.begin(), cell.clusters.end()),
                        cell.clusters.end());
    std::vector<int>& members = index.members_[i];
    members.reserve(cell.clusters.size());
    for (const std::string& name : cell.clusters) members.push_back(index.findCluster(name));
    index.byType_[static_cast<int>(cell.type)].push_back(static_cast<int>(i));
  }
  return index;
}

int TopologyIndex::findCluster(std::string_view name) const {
  auto it = clusterByName_.find(name);
  return it == clusterByName_.end() ? -1 : it->second;
}

int TopologyIndex::findCell(std::string_view name) const {
  auto it = cellByName_.find(name);
  return it == cellByName_.end() ? -1 : it->second;
}

int TopologyIndex::findMember(int cell, std::string_view cluster) const {
  const std::vector<std::string>& names = cells_[cell].clusters;
  auto it = std::lower_bound(names.begin(), names.end(), cluster);
  return it != names.end() && *it == cluster ? static_cast<int>(it - names.begin()) : -1;
}

Usage::Usage(const TopologyIndex& topology) : used_(topology.clusters().size()) {}

Resources Usage::of(const TopologyIndex& topology, std::string_view cluster) const {
  int i = topology.findCluster(cluster);
  return i < 0 ? Resources{} : used_[i];
}

void Usage::add(const TopologyIndex& topology, const Placement& placement,
                const Resources& footprint, int sign) {
  for (const auto& [cell, clusters] : placement) {
    for (const auto& [cluster, replicas] : clusters) {
      int i = topology.findCluster(cluster);
      if (i >= 0 && replicas > 0)
        used_[i] += footprint * (static_cast<std::int64_t>(replicas) * sign);
    }
  }
}

Topology withZoneLost(Topology topology, std::string_view zone) {
  for (ClusterInfo& c : topology.clusters) {
    if (c.zone == zone) {
      c.ready = false;
      c.lost = true;
    }
  }
  return topology;
}

}  // namespace tessera::scheduler
