// schedule() and scheduleAll(): the rules are in scheduler/placement.h, the design in
// docs/scheduling.md.
#include "scheduler/placement.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <numeric>
#include <utility>

#include "scheduler/spread_solver.h"

namespace tessera::scheduler {
namespace {

constexpr int kMaxShortCellsInMessage = 3;

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) {
    if (!out.empty()) out += ", ";
    out += n;
  }
  return out;
}

/// What becomes of one member cluster's replicas for one application (rule 3).
enum class SlotState : std::uint8_t {
  kReceiving,  // may receive new replicas; kept ones are trimmed to capacity
  kFixed,      // receives none; kept replicas stay counted
  kEvict,      // receives none; replicas there are re-placed in the cell
};

/// One member cluster of one selected cell, for the application being placed.
struct Slot {
  int cluster = -1;  // index into topology.clusters(); -1: not in the topology
  int member = 0;    // index into the cell's clusters list
  int current = 0;   // replicas there now
  int kept = 0;      // of current: those that stay before the cell is solved
  int result = 0;    // replicas there after
  SlotState state = SlotState::kReceiving;
  std::int8_t reason = -1;   // Reason why it receives nothing (state != kReceiving)
  bool disfavored = false;   // untolerated PreferNoSchedule
  bool unavailable = false;  // not Ready: replicas kept here are not serving
};

/// One selected, active cell.
struct CellWork {
  int cell = 0;     // index into topology.cells()
  int desired = 0;  // rule 2
  int slotBegin = 0, slotEnd = 0;
  int kept = 0;         // Σ slot.kept
  int base = 0;         // min(desired, kept): what the cell holds without needing quota
  int explanation = 0;  // index into Decision::cells
};

/// Places one application at a time; holds scratch buffers so that scheduleAll() does not
/// allocate them per application.
class Solver {
 public:
  explicit Solver(const TopologyIndex& topology)
      : topology_(topology), cellToWork_(topology.cells().size(), -1) {}

  Decision run(const AppRequest& app, Usage& used, const std::optional<Resources>& quotaLeft);

 private:
  bool selects(const PlacementPolicy& policy, const CellInfo& cell) const;
  void classify(const PlacementPolicy& policy, Slot& slot) const;
  void splitTotal(int total);
  void solveCell(CellWork& work, std::int64_t& growth, Decision& decision, Usage& used);
  Decision keepCurrent(const AppRequest& app, Usage& used, std::string reason, std::string message);

  const TopologyIndex& topology_;
  Resources footprint_;
  int maxSkew_ = 1;
  std::vector<int> cellToWork_;  // topology cell → index into work_, or -1
  std::vector<CellWork> work_;
  std::vector<Slot> slots_;
  std::vector<SpreadSlot> spread_;
  std::vector<int> spreadSlot_;  // spread_[i] ↔ slots_[spreadSlot_[i]]
};

std::string validate(const PlacementPolicy& p) {
  if (p.replicasPerCell && p.totalReplicas) return "replicasPerCell and totalReplicas are both set";
  if (p.replicasPerCell && *p.replicasPerCell < 0) return "replicasPerCell is negative";
  if (p.totalReplicas && *p.totalReplicas < 0) return "totalReplicas is negative";
  if (p.maxSkew < 1) return "maxSkew must be at least 1";
  if (p.requests.cpuMillis < 0 || p.requests.memoryBytes < 0 || p.requests.pods < 0) {
    return "requests are negative";
  }
  return {};
}

int placementTotal(const Placement& placement) {
  int total = 0;
  for (const auto& [cell, clusters] : placement) {
    for (const auto& [cluster, replicas] : clusters) total += std::max(replicas, 0);
  }
  return total;
}

Decision Solver::keepCurrent(const AppRequest& app, Usage& used, std::string reason,
                             std::string message) {
  Decision d;
  for (const auto& [cell, clusters] : app.current) {
    for (const auto& [cluster, replicas] : clusters) {
      if (replicas > 0) d.placement[cell][cluster] = replicas;
    }
  }
  used.add(topology_, d.placement, footprint_);
  d.placed = placementTotal(d.placement);
  d.reason = std::move(reason);
  d.message = std::move(message) + "; current placement kept";
  return d;
}

bool Solver::selects(const PlacementPolicy& policy, const CellInfo& cell) const {
  if (policy.cellType && cell.type != *policy.cellType) return false;
  for (const auto& [key, value] : policy.cellSelector) {
    auto it = cell.labels.find(key);
    if (it == cell.labels.end() || it->second != value) return false;
  }
  return true;
}

void Solver::classify(const PlacementPolicy& policy, Slot& slot) const {
  auto set = [&slot](SlotState state, Reason reason) {
    slot.state = state;
    slot.reason = static_cast<std::int8_t>(reason);
  };
  if (slot.cluster < 0) {
    set(SlotState::kEvict, Reason::kNotFound);
    return;
  }
  const ClusterInfo& c = topology_.clusters()[slot.cluster];
  bool noExecute = false, noSchedule = false;
  for (const Taint& taint : c.taints) {
    if (tolerates(policy.tolerations, taint)) continue;
    if (taint.effect == kNoExecute) {
      noExecute = true;
    } else if (taint.effect == kPreferNoSchedule) {
      slot.disfavored = true;
    } else {
      noSchedule = true;  // NoSchedule, and any effect we do not know
    }
  }
  slot.unavailable = c.lost || !c.ready;
  if (c.lost) {
    set(policy.failover || noExecute ? SlotState::kEvict : SlotState::kFixed, Reason::kLost);
  } else if (!c.ready) {
    set(noExecute ? SlotState::kEvict : SlotState::kFixed, Reason::kNotReady);
  } else if (noExecute) {
    set(SlotState::kEvict, Reason::kTainted);
  } else if (noSchedule) {
    set(SlotState::kFixed, Reason::kTainted);
  }
}

// Rule 2: weights (p/k)·share/Σshare for RZone cells with a share, 1/k for the others;
// largest remainder, ties by cell name (work_ is in name order).
void Solver::splitTotal(int total) {
  const std::size_t k = work_.size();
  double shareSum = 0;
  std::size_t withShare = 0;
  auto hasShare = [&](const CellWork& w) {
    const CellInfo& c = topology_.cells()[w.cell];
    return c.type == CellType::kRZone && c.bucketShare > 0;
  };
  for (const CellWork& w : work_) {
    if (hasShare(w)) {
      shareSum += topology_.cells()[w.cell].bucketShare;
      ++withShare;
    }
  }
  // (remainder in units of 1e-9, so that nearly equal remainders tie exactly; index)
  std::vector<std::pair<std::int64_t, std::size_t>> remainders;
  remainders.reserve(k);
  int assigned = 0;
  for (std::size_t i = 0; i < k; ++i) {
    double weight = hasShare(work_[i]) ? static_cast<double>(withShare) / static_cast<double>(k) *
                                             topology_.cells()[work_[i].cell].bucketShare / shareSum
                                       : 1.0 / static_cast<double>(k);
    double quota = total * weight;
    double whole = std::floor(quota + 1e-9);
    work_[i].desired = static_cast<int>(whole);
    assigned += work_[i].desired;
    remainders.emplace_back(std::llround((quota - whole) * 1e9), i);
  }
  std::sort(remainders.begin(), remainders.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;  // ties: by name
  });
  for (std::size_t r = 0; assigned < total && r < remainders.size(); ++r, ++assigned) {
    ++work_[remainders[r].second].desired;
  }
}

void Solver::solveCell(CellWork& work, std::int64_t& growth, Decision& decision, Usage& used) {
  const std::vector<ClusterInfo>& clusters = topology_.clusters();
  const int target =
      work.base + static_cast<int>(std::min<std::int64_t>(work.desired - work.base, growth));
  auto firstSlot = slots_.begin() + work.slotBegin, endSlot = slots_.begin() + work.slotEnd;

  // Clusters that receive nothing keep their replicas, but the cell's surplus goes from them
  // first (most replicas, ties name descending): replicas on healthy clusters stay longest.
  int fixedSum = 0;
  for (auto s = firstSlot; s != endSlot; ++s) {
    s->result = s->state == SlotState::kFixed ? s->kept : 0;
    fixedSum += s->result;
  }
  for (int surplus = work.kept - target; surplus > 0 && fixedSum > 0; --surplus, --fixedSum) {
    Slot* pick = nullptr;
    for (auto s = firstSlot; s != endSlot; ++s) {
      if (s->result > 0 && (pick == nullptr || s->result >= pick->result)) pick = &*s;
    }
    --pick->result;  // slots are in name order: ">=" picks the last name among equals
    used[pick->cluster] -= footprint_;
  }

  // Receiving clusters: the fewest changes that satisfy capacity and spread.
  const int n = target - fixedSum;
  spread_.clear();
  spreadSlot_.clear();
  for (auto s = firstSlot; s != endSlot; ++s) {
    if (s->state != SlotState::kReceiving) continue;
    const ClusterInfo& c = clusters[s->cluster];
    Resources free = c.allocatable - used[s->cluster];
    std::int64_t room = std::min<std::int64_t>(replicasThatFit(free, footprint_), n);
    spread_.push_back(SpreadSlot{s->kept, s->kept + static_cast<int>(room), s->disfavored,
                                 free.cpuMillis, topology_.cells()[work.cell].clusters[s->member],
                                 0});
    spreadSlot_.push_back(static_cast<int>(s - slots_.begin()));
  }
  solveSpread(spread_, n, maxSkew_, footprint_.cpuMillis);
  for (std::size_t i = 0; i < spread_.size(); ++i) {
    Slot& s = slots_[spreadSlot_[i]];
    s.result = spread_[i].result;
    used[s.cluster] += footprint_ * (s.result - s.kept);
  }

  // The account of the cell.
  Explanation& e = decision.cells[work.explanation];
  e.desired = work.desired;
  e.clusters = work.slotEnd - work.slotBegin;
  const bool quotaShort = target < work.desired;
  for (auto s = firstSlot; s != endSlot; ++s) {
    e.placed += s->result;
    if (s->unavailable) e.unavailable += s->result;
    decision.started += std::max(0, s->result - s->current);
    decision.stopped += std::max(0, s->current - s->result);
    if (s->state != SlotState::kReceiving) {
      ++e.reasons[s->reason];
      continue;
    }
    Resources free = clusters[s->cluster].allocatable - used[s->cluster];
    if (!footprint_.fits(free)) {
      if (footprint_.cpuMillis > free.cpuMillis) ++e.reasons[int(Reason::kInsufficientCpu)];
      if (footprint_.memoryBytes > free.memoryBytes) {
        ++e.reasons[int(Reason::kInsufficientMemory)];
      }
      if (footprint_.pods > free.pods) ++e.reasons[int(Reason::kInsufficientPods)];
    } else if (quotaShort) {
      ++e.reasons[int(Reason::kQuotaExceeded)];
    } else {
      ++e.available;
    }
  }
  growth -= e.placed - work.base;
}

Decision Solver::run(const AppRequest& app, Usage& used,
                     const std::optional<Resources>& quotaLeft) {
  assert(used.size() == topology_.clusters().size());
  const PlacementPolicy& policy = app.policy;
  footprint_ = replicaFootprint(policy);
  maxSkew_ = policy.maxSkew;
  if (std::string invalid = validate(policy); !invalid.empty()) {
    Decision d = keepCurrent(app, used, "InvalidPolicy", invalid);
    d.ns = app.ns;
    d.name = app.name;
    return d;
  }

  Decision decision;
  decision.ns = app.ns;
  decision.name = app.name;

  // Rule 1: the cells.
  const std::vector<CellInfo>& cells = topology_.cells();
  std::vector<std::string> missing;
  work_.clear();
  decision.cells.reserve(!policy.cellNames.empty() ? policy.cellNames.size()
                         : policy.cellType         ? topology_.cellsOfType(*policy.cellType).size()
                                                   : cells.size());
  auto consider = [&](int cell) {
    if (!selects(policy, cells[cell])) return;
    Explanation& e = decision.cells.emplace_back();
    e.cell = cells[cell].name;
    if (!cells[cell].active) {
      e.clusters = static_cast<int>(cells[cell].clusters.size());
      e.note = "standby cell: receives no replicas";
      return;
    }
    CellWork& w = work_.emplace_back();
    w.cell = cell;
    w.explanation = static_cast<int>(decision.cells.size() - 1);
  };
  if (!policy.cellNames.empty()) {
    std::vector<std::string> names = policy.cellNames;
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
    for (const std::string& name : names) {
      if (int cell = topology_.findCell(name); cell >= 0) {
        consider(cell);
      } else {
        missing.push_back(name);
      }
    }
  } else if (policy.cellType) {
    for (int cell : topology_.cellsOfType(*policy.cellType)) consider(cell);
  } else {
    for (int cell = 0; cell < static_cast<int>(cells.size()); ++cell) consider(cell);
  }
  auto addMissing = [&] {
    for (const std::string& name : missing) {
      Explanation& e = decision.cells.emplace_back();
      e.cell = name;
      e.note = "cell not found";
    }
    if (!missing.empty()) {
      std::sort(decision.cells.begin(), decision.cells.end(),
                [](const Explanation& a, const Explanation& b) { return a.cell < b.cell; });
    }
  };
  if (work_.empty()) {
    std::string what = "no active cell matches the placement";
    if (!missing.empty()) what += " (not found: " + joined(missing) + ")";
    Decision kept = keepCurrent(app, used, "NoMatchingCells", what);
    kept.ns = std::move(decision.ns);
    kept.name = std::move(decision.name);
    kept.cells = std::move(decision.cells);
    decision = std::move(kept);
    addMissing();
    return decision;
  }

  // Rule 2: replicas per cell.
  if (policy.totalReplicas) {
    splitTotal(*policy.totalReplicas);
  } else {
    for (CellWork& w : work_) w.desired = policy.replicasPerCell.value_or(1);
  }

  // Rule 3: every member cluster of every selected cell, and what becomes of its replicas.
  slots_.clear();
  for (std::size_t i = 0; i < work_.size(); ++i) {
    CellWork& w = work_[i];
    cellToWork_[w.cell] = static_cast<int>(i);
    w.slotBegin = static_cast<int>(slots_.size());
    const std::vector<int>& members = topology_.cellMembers(w.cell);
    for (std::size_t m = 0; m < members.size(); ++m) {
      Slot& s = slots_.emplace_back();
      s.cluster = members[m];
      s.member = static_cast<int>(m);
      classify(policy, s);
    }
    w.slotEnd = static_cast<int>(slots_.size());
  }
  std::int64_t currentTotal = 0;
  for (const auto& [cellName, clusters] : app.current) {
    int cell = topology_.findCell(cellName);
    int wi = cell >= 0 ? cellToWork_[cell] : -1;
    for (const auto& [clusterName, replicas] : clusters) {
      if (replicas <= 0) continue;
      currentTotal += replicas;
      int member = wi >= 0 ? topology_.findMember(cell, clusterName) : -1;
      if (member < 0) {
        decision.stopped += replicas;  // a cell no longer selected, or a cluster not in it
      } else {
        slots_[work_[wi].slotBegin + member].current = replicas;
      }
    }
  }
  for (const CellWork& w : work_) cellToWork_[w.cell] = -1;

  // Rule 4: kept replicas take their room first (trimmed to capacity where new ones could go).
  std::int64_t baseTotal = 0;
  for (CellWork& w : work_) {
    for (int i = w.slotBegin; i < w.slotEnd; ++i) {
      Slot& s = slots_[i];
      if (s.current == 0 || s.state == SlotState::kEvict) continue;
      s.kept = s.current;
      if (s.state == SlotState::kReceiving) {
        Resources free = topology_.clusters()[s.cluster].allocatable - used[s.cluster];
        s.kept =
            static_cast<int>(std::min<std::int64_t>(s.current, replicasThatFit(free, footprint_)));
      }
      used[s.cluster] += footprint_ * s.kept;
      w.kept += s.kept;
    }
    w.base = std::min(w.desired, w.kept);
    baseTotal += w.base;
  }

  // Rule 7: growth allowed by the quota.
  std::int64_t growth = kUnlimited;
  if (quotaLeft) {
    std::int64_t allowed = std::max(replicasThatFit(*quotaLeft, footprint_), currentTotal);
    growth = std::max<std::int64_t>(0, allowed - baseTotal);
  }

  // Rules 5 and 6, cell by cell in name order.
  for (CellWork& w : work_) solveCell(w, growth, decision, used);

  // The outcome.
  std::vector<const Explanation*> shortCells;
  for (const CellWork& w : work_) {
    const Explanation& e = decision.cells[w.explanation];
    decision.desired += e.desired;
    decision.placed += e.placed;
    if (!e.complete()) shortCells.push_back(&e);
    if (e.placed == 0) continue;
    const std::vector<std::string>& names = cells[w.cell].clusters;
    auto& inCell = decision.placement
                       .emplace_hint(decision.placement.end(), cells[w.cell].name,
                                     std::map<std::string, int>{})
                       ->second;
    for (int i = w.slotBegin; i < w.slotEnd; ++i) {
      if (slots_[i].result > 0) {
        inCell.emplace_hint(inCell.end(), names[slots_[i].member], slots_[i].result);
      }
    }
  }
  decision.moved = decision.started + decision.stopped;
  decision.complete = shortCells.empty();
  int unavailable = 0;
  for (const Explanation& e : decision.cells) unavailable += e.unavailable;
  if (decision.complete) {
    decision.reason = "Scheduled";
    decision.message = "placed " + std::to_string(decision.placed) + " replicas in " +
                       std::to_string(work_.size()) + (work_.size() == 1 ? " cell" : " cells");
  } else {
    decision.reason = "Unschedulable";
    decision.message = "placed " + std::to_string(decision.placed) + "/" +
                       std::to_string(decision.desired) + " replicas";
    int shown = 0;
    for (const Explanation* e : shortCells) {
      if (shown++ == kMaxShortCellsInMessage) {
        decision.message += "; and " + std::to_string(shortCells.size() - kMaxShortCellsInMessage) +
                            " more short cells";
        break;
      }
      decision.message += "; cell " + e->cell + ": " + std::to_string(e->placed) + "/" +
                          std::to_string(e->desired) + " replicas, " + e->message();
    }
  }
  if (unavailable > 0) {
    decision.message += "; " + std::to_string(unavailable) +
                        " replicas kept on clusters that are not Ready" +
                        (policy.failover ? " (not lost yet)" : " (failover off)");
  }
  if (!missing.empty()) decision.message += "; cells not found: " + joined(missing);
  addMissing();
  return decision;
}

}  // namespace

std::string_view reasonName(Reason reason) {
  switch (reason) {
    case Reason::kNotFound:
      return "NotFound";
    case Reason::kLost:
      return "Lost";
    case Reason::kNotReady:
      return "NotReady";
    case Reason::kTainted:
      return "Tainted";
    case Reason::kInsufficientCpu:
      return "InsufficientCpu";
    case Reason::kInsufficientMemory:
      return "InsufficientMemory";
    case Reason::kInsufficientPods:
      return "InsufficientPods";
    case Reason::kQuotaExceeded:
      return "QuotaExceeded";
  }
  return "Unknown";
}

std::string Explanation::message() const {
  static constexpr std::array<std::string_view, kReasonCount> kLabels = {
      "not found",         "Lost",
      "NotReady",          "untolerated taint",
      "insufficient cpu",  "insufficient memory",
      "insufficient pods", "quota exceeded"};
  std::array<int, kReasonCount> order{};
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [this](int a, int b) { return reasons[a] > reasons[b]; });
  std::string out =
      std::to_string(available) + "/" + std::to_string(clusters) + " clusters available";
  bool first = true;
  for (int r : order) {
    if (reasons[r] == 0) break;
    out += first ? ": " : ", ";
    first = false;
    out += std::to_string(reasons[r]);
    out += ' ';
    out += kLabels[r];
  }
  if (!note.empty()) out += "; " + note;
  return out;
}

Resources replicaFootprint(const PlacementPolicy& policy) {
  return Resources{std::max<std::int64_t>(policy.requests.cpuMillis, 0),
                   std::max<std::int64_t>(policy.requests.memoryBytes, 0),
                   std::max<std::int64_t>(policy.requests.pods, 1)};
}

Decision schedule(const TopologyIndex& topology, const AppRequest& app, Usage& used,
                  const std::optional<Resources>& quotaLeft) {
  return Solver(topology).run(app, used, quotaLeft);
}

std::vector<Decision> scheduleAll(const TopologyIndex& topology,
                                  const std::vector<AppRequest>& apps,
                                  const std::map<std::string, Resources>& quotas) {
  // Existing replicas first: every app's current placement is counted, in the cluster usage
  // and in its namespace's quota usage.
  Usage used(topology);
  std::map<std::string, Resources, std::less<>> namespaceUsed;
  std::vector<Resources> footprints(apps.size());
  std::vector<int> currentTotals(apps.size());
  std::vector<std::vector<std::pair<int, int>>> currentByCluster(apps.size());  // (cluster, n)
  for (std::size_t i = 0; i < apps.size(); ++i) {
    footprints[i] = replicaFootprint(apps[i].policy);
    for (const auto& [cell, clusters] : apps[i].current) {
      for (const auto& [cluster, replicas] : clusters) {
        if (replicas <= 0) continue;
        currentTotals[i] += replicas;
        if (int c = topology.findCluster(cluster); c >= 0) {
          currentByCluster[i].emplace_back(c, replicas);
          used[c] += footprints[i] * replicas;
        }
      }
    }
    namespaceUsed[apps[i].ns] += footprints[i] * currentTotals[i];
  }
  std::vector<std::size_t> order(apps.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    const AppRequest &x = apps[a], &y = apps[b];
    if (x.policy.priority != y.policy.priority) return x.policy.priority > y.policy.priority;
    if (x.ns != y.ns) return x.ns < y.ns;
    return x.name < y.name;
  });

  std::vector<Decision> decisions(apps.size());
  Solver solver(topology);
  for (std::size_t i : order) {
    const AppRequest& app = apps[i];
    for (auto [c, replicas] : currentByCluster[i]) {
      used[c] -= footprints[i] * replicas;  // placed again below
    }
    Resources& nsUsed = namespaceUsed[app.ns];
    std::optional<Resources> quotaLeft;
    if (auto q = quotas.find(app.ns); q != quotas.end()) {
      quotaLeft = q->second - (nsUsed - footprints[i] * currentTotals[i]);
    }
    decisions[i] = solver.run(app, used, quotaLeft);
    nsUsed += footprints[i] * (decisions[i].placed - currentTotals[i]);
  }
  return decisions;
}

}  // namespace tessera::scheduler
