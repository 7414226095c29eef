// Spreading one cell's replicas over its receiving member clusters with the fewest changes
// (rules 5 and 6 of scheduler/placement.h). Internal to the scheduler; tests use it directly
// to compare it with a brute-force search.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace tessera::scheduler {

/// One receiving member cluster of a cell, for one application.
struct SpreadSlot {
  int kept = 0;             ///< replicas already there that may stay; 0 ≤ kept ≤ capacity
  int capacity = 0;         ///< the most replicas of this application it may hold (kept + room)
  bool disfavored = false;  ///< untolerated PreferNoSchedule: added to last, removed first
  std::int64_t freeCpuMillis = 0;  ///< free cpu before the solve (tie-break for additions)
  std::string_view name;           ///< last tie-break; REQUIRES: unique among the slots
  int result = 0;                  ///< out: the replicas it holds after the solve
};

/// Sets every slot's `result` so that
///   - Σ result = min(target, Σ capacity) and 0 ≤ result ≤ capacity;
///   - spread holds: result_i ≤ result_j + maxSkew for every j that still has room
///     (result_j < capacity_j);
///   - Σ |result − kept| is the least possible under the two rules above.
/// Replicas are added one at a time to the slot with the fewest (not disfavored first; ties:
/// most free cpu, name ascending) and removed from the one with the most (disfavored first;
/// ties: name descending), so the spread comes out even and a disfavored slot only gets what
/// maxSkew forces on it. Returns Σ result.
///
/// How: a valid result lies, for some level t, in the boxes
/// [min(t, cap_i), min(t + skew, cap_i)]. For a fixed t the fewest changes are the kept counts
/// clamped into the boxes, then topped up or trimmed one at a time. That cost is piecewise
/// linear in t, with breakpoints at kept_i, kept_i − skew, cap_i, cap_i − skew and where the
/// clamped sum crosses the target, so trying those O(n) levels finds the exact minimum (the
/// lowest of the cheapest levels is taken): O(n²) for n slots, plus O(n) per replica added
/// or removed. Steady cells (kept already valid) take O(n), fresh ones (nothing kept)
/// O(n log target).
/// REQUIRES: maxSkew ≥ 1, target ≥ 0, 0 ≤ kept ≤ capacity for every slot.
int solveSpread(std::span<SpreadSlot> slots, int target, int maxSkew, std::int64_t cpuPerReplica);

/// True when `counts` satisfy the spread rule above for `capacities` (same length).
bool spreadHolds(std::span<const int> counts, std::span<const int> capacities, int maxSkew);

}  // namespace tessera::scheduler
