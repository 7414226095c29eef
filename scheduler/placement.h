// The placement solver of the cell-based scheduler: application × cells × member clusters →
// replicas per member cluster. A pure library: inputs in, placements out. No I/O, no threads,
// no clocks, no globals; every function may be called from any thread on its own inputs.
// The controller that feeds it (informers, rate limits, grace periods, writing Bindings and
// Application.status) lives elsewhere; docs/scheduling.md has the full design.
//
// Rules, in the order they apply to one application:
//
//  1. Cells. The policy selects cells by names, type and labels (all that are given must
//     match). Only active cells receive replicas: a matched standby cell (GZone) gets 0 and
//     says so. A named cell that does not exist is reported, not an error. No active cell
//     matched → reason NoMatchingCells and the current placement is kept as it is (a typo in
//     a selector must not delete an application everywhere; scale to 0 to remove it).
//  2. Replicas per cell. `replicasPerCell` for every selected cell, or `totalReplicas`
//     divided by weights with the largest remainder method (ties: cell name ascending). A
//     selected RZone cell with bucketShare > 0 weighs (p/k) · share / Σshares, any other
//     selected cell (share 0, GZone, CZone) weighs 1/k, where k = selected cells and p = those
//     with a share: all-RZone selections follow the shard map exactly, cells without buckets
//     get an equal part (a new RZone is warm before buckets move to it), no shares at all is an
//     equal split.
//  3. Which clusters. A member cluster of a cell *receives* new replicas when it is Ready, not
//     lost, and every NoSchedule/NoExecute taint is tolerated; an untolerated
//     PreferNoSchedule taint only makes it the last choice. Replicas already on a cluster stay
//     (are *kept*) unless it is *evicted*: lost while the application opted into failover, an
//     untolerated NoExecute taint (an operator's order to drain: evicts with or without
//     failover), the cluster left the cell, or it is not in the topology at all. Kept replicas
//     on a cluster that does not receive (NotReady, lost without failover, NoSchedule) stay
//     counted toward the cell's desired count. Evicted replicas are re-placed in the SAME
//     cell, never in another one. A taint effect the solver does not know counts as NoSchedule.
//  4. Capacity. A replica uses `requests` plus one pod (requests.pods is raised to at least
//     1). Room on a cluster = allocatable − Usage (other applications) − this application's
//     replicas placed so far. Kept replicas on a receiving cluster are trimmed to what fits (the
//     trimmed ones are re-placed); new replicas are only placed where they fit: the solver never
//     takes a cluster over its allocatable in any dimension. Kept replicas on clusters that do
//     not receive are not checked (they cannot be moved anyway).
//  5. Spread (maxSkew). Among the receiving clusters of a cell, every cluster holds at most
//     maxSkew more replicas than any cluster that still has room (a full cluster does not hold
//     the others back, so spread never makes a replica unschedulable). It holds for kept
//     replicas too: a cell whose placement breaks it (a new empty cluster joined, a full one
//     got room) is rebalanced, with the fewest moves (rule 6).
//  6. Stability. Within those constraints the solver changes as few replicas as possible:
//     Σ|new − kept| over the receiving clusters is minimal (exactly, not greedily). Surplus
//     goes first from clusters that do not receive (most replicas, ties name descending), then
//     from receiving clusters (disfavored first, most replicas, ties name descending). New
//     replicas go to the cluster with the fewest replicas of this application in the cell
//     (disfavored last; ties: most free cpu, then name ascending).
//  7. Quota. `quotaLeft` is what the namespace quota leaves for this application's replicas
//     (quota minus every other application of the namespace). The application may hold
//     max(replicas that fit in quotaLeft, replicas it holds now): a quota never removes
//     replicas, it stops growth. Cells take the growth in name order.
//  8. Determinism. Same inputs → same Decision, whatever the order of clusters, cells, apps
//     or map insertion; every tie is broken by name.
//
// Complexity, one application with C selected cells of M clusters and R replicas per cell:
// O(C · M) when nothing changes, O(C · M log R) for a fresh placement, O(C · M²) at worst for
// a rebalance (the exact minimum-change search tries O(M) spread levels), plus O(M) per
// replica added or removed one at a time. TopologyIndex::create is O(N log N); lookups by
// name are hashed.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/status.h"

namespace tessera::scheduler {

/// An amount of cpu, memory and pods. Used for capacity, requests, usage and quota.
struct Resources {
  std::int64_t cpuMillis = 0;    ///< millicores ("250m" = 250)
  std::int64_t memoryBytes = 0;  ///< bytes
  std::int64_t pods = 0;         ///< replicas (each replica is one pod)

  Resources& operator+=(const Resources& o) {
    cpuMillis += o.cpuMillis;
    memoryBytes += o.memoryBytes;
    pods += o.pods;
    return *this;
  }
  Resources& operator-=(const Resources& o) {
    cpuMillis -= o.cpuMillis;
    memoryBytes -= o.memoryBytes;
    pods -= o.pods;
    return *this;
  }
  bool operator==(const Resources&) const = default;

  /// True when every dimension of *this is ≤ the same dimension of `available`.
  bool fits(const Resources& available) const {
    return cpuMillis <= available.cpuMillis && memoryBytes <= available.memoryBytes &&
           pods <= available.pods;
  }
};
inline Resources operator+(Resources a, const Resources& b) {
  return a += b;
}
inline Resources operator-(Resources a, const Resources& b) {
  return a -= b;
}
inline Resources operator*(Resources a, std::int64_t n) {
  a.cpuMillis *= n;
  a.memoryBytes *= n;
  a.pods *= n;
  return a;
}

/// A dimension without a limit in a quota (large, yet far from overflowing when added to).
inline constexpr std::int64_t kUnlimited = std::numeric_limits<std::int64_t>::max() / 4;

/// How many replicas of `footprint` fit in `free`: the minimum over the dimensions where the
/// footprint is > 0 of free / footprint (0 when that is negative). A footprint of all zeros
/// fits kUnlimited times.
inline std::int64_t replicasThatFit(const Resources& free, const Resources& footprint) {
  std::int64_t fit = kUnlimited;
  auto limit = [&fit](std::int64_t have, std::int64_t need) {
    if (need > 0) fit = std::min(fit, have > 0 ? have / need : 0);
  };
  limit(free.cpuMillis, footprint.cpuMillis);
  limit(free.memoryBytes, footprint.memoryBytes);
  limit(free.pods, footprint.pods);
  return fit;
}

// Taint effects, as in Kubernetes.
inline constexpr std::string_view kNoSchedule = "NoSchedule";
inline constexpr std::string_view kPreferNoSchedule = "PreferNoSchedule";
inline constexpr std::string_view kNoExecute = "NoExecute";

/// A mark on a member cluster that repels applications which do not tolerate it.
struct Taint {
  std::string key;
  std::string value;
  std::string effect;  ///< kNoSchedule, kPreferNoSchedule or kNoExecute
};

/// Lets an application onto clusters with a matching taint (Kubernetes semantics).
struct Toleration {
  std::string key;           ///< empty with op Exists: every key
  std::string op = "Equal";  ///< "Equal" (key and value match) or "Exists" (key matches)
  std::string value;         ///< compared with op Equal
  std::string effect;        ///< empty: every effect
};

/// True when the toleration matches the taint.
bool tolerates(const Toleration& toleration, const Taint& taint);
/// True when any of the tolerations matches the taint.
bool tolerates(const std::vector<Toleration>& tolerations, const Taint& taint);

/// A member cluster as the scheduler sees it.
struct ClusterInfo {
  std::string name;    ///< unique in the topology
  std::string region;  ///< informational (what-if by region)
  std::string zone;    ///< the datacenter (what-if: withZoneLost)
  bool ready = true;   ///< may receive new replicas (the Ready condition is True)
  /// NotReady for longer than the controller's grace period: an application that opted into
  /// failover has its replicas here re-placed; lost implies not ready.
  bool lost = false;
  /// The total the cluster offers Tessera workloads, NOT net of placed replicas (Usage is).
  Resources allocatable;
  std::vector<Taint> taints;
};

enum class CellType { kRZone, kGZone, kCZone };
/// "RZone", "GZone", "CZone".
std::string_view cellTypeName(CellType type);

/// A cell (unit): a slice of the business on member clusters of one datacenter.
struct CellInfo {
  std::string name;  ///< unique in the topology
  CellType type = CellType::kRZone;
  std::string region;
  std::string zone;
  std::vector<std::string>
      clusters;  ///< member cluster names (sorted and de-duplicated by the index)
  std::map<std::string, std::string> labels;  ///< matched by PlacementPolicy::cellSelector
  /// Receives replicas. A GZone has one active cell; standby cells (and cells being drained,
  /// per the controller) are inactive and get none.
  bool active = true;
  /// RZone: the fraction of the shard map's buckets this cell owns, 0..1. Others: 0.
  double bucketShare = 0;
};

/// Where an application wants to run (Application.spec.placement plus what the scheduler
/// needs of its template).
struct PlacementPolicy {
  std::vector<std::string> cellNames;               ///< non-empty: only these cells
  std::optional<CellType> cellType;                 ///< set: only cells of this type
  std::map<std::string, std::string> cellSelector;  ///< matchLabels: every pair must match
  /// Exactly one of replicasPerCell / totalReplicas; neither set means replicasPerCell = 1.
  std::optional<int> replicasPerCell;
  std::optional<int> totalReplicas;  ///< divided across the selected cells (rule 2 above)
  int maxSkew = 1;                   ///< ≥ 1; spread within a cell (rule 5)
  Resources requests;                ///< per replica; pods is raised to ≥ 1
  std::vector<Toleration> tolerations;
  int priority = 0;       ///< scheduleAll: higher first (no preemption of placed replicas)
  bool failover = false;  ///< re-place replicas of lost clusters (within their cell)
};

/// cell name → member cluster name → replicas (> 0; zero entries are omitted in outputs and
/// ignored in inputs).
using Placement = std::map<std::string, std::map<std::string, int>>;

/// One application to place.
struct AppRequest {
  std::string ns;
  std::string name;
  PlacementPolicy policy;
  Placement current;  ///< where it runs now (from its Binding); empty for a new application
};

/// Everything the solver knows of the world. Order does not matter.
struct Topology {
  std::vector<ClusterInfo> clusters;
  std::vector<CellInfo> cells;
};

/// A Topology checked and indexed once, so that placing 10,000 applications does not
/// re-index it. Immutable after create(); share it freely (read-only) between threads.
class TopologyIndex {
 public:
  /// Sorts clusters and cells by name and each cell's cluster list by name (duplicates in a
  /// list are dropped). Errors (kInvalidArgument): an empty or duplicate cluster or cell name,
  /// a negative allocatable, a bucketShare outside [0, 1]. A cell may name a cluster that
  /// the topology does not have (reported as NotFound when placing).
  static Result<TopologyIndex> create(Topology topology);

  const std::vector<ClusterInfo>& clusters() const { return clusters_; }  ///< by name
  const std::vector<CellInfo>& cells() const { return cells_; }           ///< by name
  /// For cells()[cell].clusters[k]: its index in clusters(), or -1 when there is no such cluster.
  const std::vector<int>& cellMembers(int cell) const { return members_[cell]; }
  /// Indices into cells() of the cells of one type, in name order.
  const std::vector<int>& cellsOfType(CellType type) const {
    return byType_[static_cast<int>(type)];
  }
  int findCluster(std::string_view name) const;  ///< index into clusters(), or -1
  int findCell(std::string_view name) const;     ///< index into cells(), or -1
  /// Index k into cells()[cell].clusters of a member named `cluster`, or -1.
  int findMember(int cell, std::string_view cluster) const;

 private:
  /// Transparent: looks names up by string_view without building a std::string.
  struct NameHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };

  TopologyIndex() = default;

  std::vector<ClusterInfo> clusters_;
  std::vector<CellInfo> cells_;
  std::vector<std::vector<int>> members_;
  std::array<std::vector<int>, 3> byType_;
  std::unordered_map<std::string, int, NameHash, std::equal_to<>> clusterByName_;
  std::unordered_map<std::string, int, NameHash, std::equal_to<>> cellByName_;
};

/// Resources already placed on each cluster of a TopologyIndex (index-aligned with
/// clusters()). schedule() adds the application's new placement to it, so a caller can place
/// many applications in sequence. Made for one TopologyIndex; REQUIRES: used with that index.
class Usage {
 public:
  explicit Usage(const TopologyIndex& topology);

  const Resources& operator[](int cluster) const { return used_[cluster]; }
  Resources& operator[](int cluster) { return used_[cluster]; }
  std::size_t size() const { return used_.size(); }
  /// The usage of a cluster by name; a zero Resources for a cluster not in the topology.
  Resources of(const TopologyIndex& topology, std::string_view cluster) const;
  /// Adds (sign 1) or removes (sign -1) `footprint` per replica of `placement`; clusters
  /// that are not in the topology are skipped (cells are not looked at).
  void add(const TopologyIndex& topology, const Placement& placement, const Resources& footprint,
           int sign = 1);

 private:
  std::vector<Resources> used_;
};

/// Why a member cluster could not take (more) replicas of an application. (maxSkew is never
/// a reason: a full cluster does not hold the others back, rule 5.)
enum class Reason {
  kNotFound,            ///< the cell names a cluster that the topology does not have
  kLost,                ///< NotReady longer than the grace period
  kNotReady,            ///< NotReady (within the grace period)
  kTainted,             ///< an untolerated NoSchedule or NoExecute taint
  kInsufficientCpu,     ///< less free cpu than one replica requests
  kInsufficientMemory,  ///< less free memory than one replica requests
  kInsufficientPods,    ///< no pod slot left
  kQuotaExceeded,       ///< room, but the namespace quota allows no more replicas
};
inline constexpr int kReasonCount = 8;
/// "NotFound", "Lost", "NotReady", "Tainted", "InsufficientCpu", ... (CamelCase, as in
/// condition reasons).
std::string_view reasonName(Reason reason);

/// Why a cell holds what it holds: what it should hold, what it got, and its member clusters
/// counted by the reason they could not take one more replica (Kubernetes' FailedScheduling
/// style). A cluster short of several resources counts once per resource; otherwise every
/// cluster counts once, as available or under one reason (the first of NotFound, Lost,
/// NotReady, Tainted, then capacity, then QuotaExceeded).
struct Explanation {
  std::string cell;
  int desired = 0;      ///< replicas the policy asks of this cell
  int placed = 0;       ///< replicas in Decision::placement for this cell
  int unavailable = 0;  ///< of placed: kept on clusters that are not Ready (failover off, or
                        ///< not lost yet)
  int clusters = 0;     ///< member clusters of the cell
  int available = 0;    ///< member clusters that could take one more replica
  std::array<int, kReasonCount> reasons{};  ///< clusters per Reason (index = enum value)
  std::string note;  ///< cell-level remark: "standby cell", "cell not found", ...

  int count(Reason r) const { return reasons[static_cast<int>(r)]; }
  bool complete() const { return placed >= desired; }
  /// "0/3 clusters available: 2 insufficient cpu, 1 NotReady" (reasons by count, then enum
  /// order), then "; <note>" when there is a note.
  std::string message() const;
};

/// The outcome for one application.
struct Decision {
  std::string ns;       ///< copied from the AppRequest
  std::string name;     ///< copied from the AppRequest
  Placement placement;  ///< the new placement (zero entries omitted)
  /// One per matched cell (active or standby) and per named cell that does not exist, in
  /// cell name order.
  std::vector<Explanation> cells;
  bool complete = false;  ///< every active matched cell holds its desired replicas
  int desired = 0;        ///< Σ desired over the cells
  int placed = 0;         ///< Σ replicas in placement
  int started = 0;        ///< Σ max(0, new − current) over every (cell, cluster)
  int stopped = 0;        ///< Σ max(0, current − new) over every (cell, cluster)
  /// Replicas changed vs current: started + stopped (a replica moved between clusters counts
  /// 2, a scale by ±1 counts 1).
  int moved = 0;
  /// "Scheduled" | "Unschedulable" (some cell short) | "NoMatchingCells" (current kept) |
  /// "InvalidPolicy" (current kept) — the reason of Application.status.conditions[Scheduled].
  std::string reason;
  std::string message;  ///< for the condition's message: a summary and the short cells
};

/// What one replica of the policy uses: requests with pods raised to at least 1 (negative
/// requests count as 0).
Resources replicaFootprint(const PlacementPolicy& policy);

/// Places one application. `used` holds what OTHER applications use per cluster (not this
/// one's current replicas); on return the new placement has been added to it. `quotaLeft`:
/// what the namespace quota leaves for this application (rule 7; every dimension counts,
/// kUnlimited for none), nullopt = no quota.
/// REQUIRES: `used` was made for `topology`.
Decision schedule(const TopologyIndex& topology, const AppRequest& app, Usage& used,
                  const std::optional<Resources>& quotaLeft = std::nullopt);

/// Places many applications over one topology: returns one Decision per app, in the order of
/// `apps`. First every app's current placement is counted in the usage (existing replicas
/// keep their room); then the apps are placed one by one, by priority (high first), then
/// namespace, then name: new replicas fill the free room in that order, and room an app frees
/// is only seen by apps placed after it (the controller's next pass sees the rest). `quotas`:
/// per namespace, the namespace's total; every dimension counts (kUnlimited for none);
/// namespaces not listed have no quota.
/// REQUIRES: (ns, name) unique in `apps` (else the order between duplicates is input order).
std::vector<Decision> scheduleAll(const TopologyIndex& topology,
                                  const std::vector<AppRequest>& apps,
                                  const std::map<std::string, Resources>& quotas = {});

/// What-if helper: the topology with every cluster of datacenter `zone` lost (not ready).
Topology withZoneLost(Topology topology, std::string_view zone);

}  // namespace tessera::scheduler
