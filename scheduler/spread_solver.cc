#include "scheduler/spread_solver.h"

#include <algorithm>
#include <cassert>
#include <limits>
#include <vector>

namespace tessera::scheduler {
namespace {

using Level = std::int64_t;

/// The box of slot `s` at level t: [min(t, cap), min(t + skew, cap)].
Level boxLo(const SpreadSlot& s, Level t) {
  return std::min<Level>(t, s.capacity);
}
Level boxHi(const SpreadSlot& s, Level t, int skew) {
  return std::min<Level>(t + skew, s.capacity);
}
Level clampInto(const SpreadSlot& s, Level t, int skew) {
  return std::clamp<Level>(s.kept, boxLo(s, t), boxHi(s, t, skew));
}

template <typename Count, typename Capacity>
bool holds(std::size_t n, Count count, Capacity capacity, int maxSkew) {
  long long lowestWithRoom = std::numeric_limits<long long>::max();
  long long highest = std::numeric_limits<long long>::min();
  for (std::size_t i = 0; i < n; ++i) {
    if (count(i) < capacity(i)) lowestWithRoom = std::min<long long>(lowestWithRoom, count(i));
    highest = std::max<long long>(highest, count(i));
  }
  return lowestWithRoom == std::numeric_limits<long long>::max() ||
         highest <= lowestWithRoom + maxSkew;
}

/// Smallest t in [lo, hi] with pred(t) true; pred monotone (false…true); hi when none.
template <typename Pred>
Level firstTrue(Level lo, Level hi, Pred pred) {
  while (lo < hi) {
    Level mid = lo + (hi - lo) / 2;
    if (pred(mid)) {
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  return lo;
}

}  // namespace

bool spreadHolds(std::span<const int> counts, std::span<const int> capacities, int maxSkew) {
  assert(counts.size() == capacities.size());
  return holds(
      counts.size(), [&](std::size_t i) { return counts[i]; },
      [&](std::size_t i) { return capacities[i]; }, maxSkew);
}

int solveSpread(std::span<SpreadSlot> slots, int target, int maxSkew, std::int64_t cpuPerReplica) {
  assert(maxSkew >= 1 && target >= 0);
  if (slots.empty()) return 0;
  const int skew = maxSkew;
  Level capacitySum = 0, keptSum = 0, maxCap = 0;
  for (const SpreadSlot& s : slots) {
    assert(0 <= s.kept && s.kept <= s.capacity);
    capacitySum += s.capacity;
    keptSum += s.kept;
    maxCap = std::max<Level>(maxCap, s.capacity);
  }
  const Level n = std::min<Level>(target, capacitySum);

  // Steady: what is kept is already right.
  if (keptSum == n && holds(
                          slots.size(), [&](std::size_t i) { return slots[i].kept; },
                          [&](std::size_t i) { return slots[i].capacity; }, skew)) {
    for (SpreadSlot& s : slots) s.result = s.kept;
    return static_cast<int>(n);
  }

  auto sumOf = [&](auto&& per) {
    Level sum = 0;
    for (const SpreadSlot& s : slots) sum += per(s);
    return sum;
  };
  auto sumLo = [&](Level t) { return sumOf([&](const SpreadSlot& s) { return boxLo(s, t); }); };
  auto sumHi = [&](Level t) {
    return sumOf([&](const SpreadSlot& s) { return boxHi(s, t, skew); });
  };
  auto sumClamp = [&](Level t) {
    return sumOf([&](const SpreadSlot& s) { return clampInto(s, t, skew); });
  };
  // The levels whose boxes can hold n: [tMin, tMax], never empty when skew ≥ 1 (Σhi(t) ≥
  // Σlo(t + 1)). Beyond maxCap every box is [cap, cap].
  const Level tMin = firstTrue(0, maxCap, [&](Level t) { return sumHi(t) >= n; });
  const Level tMax = firstTrue(0, maxCap, [&](Level t) { return sumLo(t + 1) > n; });
  assert(tMin <= tMax);

  // Fresh (nothing kept): every level costs n; the lowest leaves the most choice to the
  // additions below, which spread evenly and put disfavored clusters last.
  Level best = tMin;
  if (keptSum > 0) {
    // Fewest changes at level t: Σ|clamp − kept| + |Σclamp − n|. Piecewise linear between the
    // candidate levels below; ties go to the lower level (more choice left to the additions
    // and removals, which even the spread out and honour preferences).
    std::vector<Level> candidates;
    candidates.reserve(4 * slots.size() + 4);
    auto consider = [&](Level t) {
      if (t >= tMin && t <= tMax) candidates.push_back(t);
    };
    consider(tMin);
    consider(tMax);
    for (const SpreadSlot& s : slots) {
      consider(s.kept);
      consider(s.kept - skew);
      consider(s.capacity);
      consider(s.capacity - skew);
    }
    // Where Σclamp (non-decreasing in t) crosses n.
    Level cross = firstTrue(tMin, tMax, [&](Level t) { return sumClamp(t) > n; });
    consider(cross);
    consider(cross - 1);
    std::sort(candidates.begin(), candidates.end());
    candidates.erase(std::unique(candidates.begin(), candidates.end()), candidates.end());
    Level bestCost = std::numeric_limits<Level>::max();
    for (Level t : candidates) {
      Level cost = 0, sum = 0;
      for (const SpreadSlot& s : slots) {
        Level x = clampInto(s, t, skew);
        cost += x > s.kept ? x - s.kept : s.kept - x;
        sum += x;
      }
      cost += sum > n ? sum - n : n - sum;
      if (cost < bestCost) {
        bestCost = cost;
        best = t;
      }
    }
  }

  Level sum = 0;
  for (SpreadSlot& s : slots) {
    s.result = static_cast<int>(clampInto(s, best, skew));
    sum += s.result;
  }
  auto freeCpu = [&](const SpreadSlot& s) {
    return s.freeCpuMillis - static_cast<std::int64_t>(s.result - s.kept) * cpuPerReplica;
  };
  // Add to the slot with the fewest (favoured first; most free cpu; name ascending).
  while (sum < n) {
    SpreadSlot* pick = nullptr;
    for (SpreadSlot& s : slots) {
      if (s.result >= boxHi(s, best, skew)) continue;
      if (pick == nullptr) {
        pick = &s;
        continue;
      }
      if (s.disfavored != pick->disfavored) {
        if (!s.disfavored) pick = &s;
      } else if (s.result != pick->result) {
        if (s.result < pick->result) pick = &s;
      } else if (freeCpu(s) != freeCpu(*pick)) {
        if (freeCpu(s) > freeCpu(*pick)) pick = &s;
      } else if (s.name < pick->name) {
        pick = &s;
      }
    }
    assert(pick != nullptr);
    ++pick->result;
    ++sum;
  }
  // Remove from the slot with the most (disfavored first; name descending).
  while (sum > n) {
    SpreadSlot* pick = nullptr;
    for (SpreadSlot& s : slots) {
      if (s.result <= boxLo(s, best)) continue;
      if (pick == nullptr) {
        pick = &s;
        continue;
      }
      if (s.disfavored != pick->disfavored) {
        if (s.disfavored) pick = &s;
      } else if (s.result != pick->result) {
        if (s.result > pick->result) pick = &s;
      } else if (s.name > pick->name) {
        pick = &s;
      }
    }
    assert(pick != nullptr);
    --pick->result;
    --sum;
  }
  return static_cast<int>(n);
}

}  // namespace tessera::scheduler
