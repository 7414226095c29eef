// The spread solver against a brute-force search of every valid result (small cells).
#include "scheduler/spread_solver.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace tessera::scheduler {
namespace {

/// The fewest changes Σ|x − kept| over every x with Σx = min(target, Σcap), 0 ≤ x ≤ cap and
/// the spread rule, by enumeration.
int bruteForceMinimum(const std::vector<int>& kept, const std::vector<int>& cap, int target,
                      int skew) {
  int capSum = 0;
  for (int c : cap) capSum += c;
  const int n = std::min(target, capSum);
  int best = -1;
  std::vector<int> x(kept.size(), 0);
  auto visit = [&](auto&& self, std::size_t i, int sum) -> void {
    if (i == x.size()) {
      if (sum != n || !spreadHolds(x, cap, skew)) return;
      int cost = 0;
      for (std::size_t k = 0; k < x.size(); ++k) cost += std::abs(x[k] - kept[k]);
      if (best < 0 || cost < best) best = cost;
      return;
    }
    for (int v = 0; v <= cap[i] && sum + v <= n; ++v) {
      x[i] = v;
      self(self, i + 1, sum + v);
    }
  };
  visit(visit, 0, 0);
  return best;
}

struct Case {
  std::vector<int> kept, cap;
  int target = 0, skew = 1;
};

std::vector<SpreadSlot> slotsOf(const Case& c, std::vector<std::string>& names) {
  std::vector<SpreadSlot> slots;
  names.resize(c.kept.size());
  for (std::size_t i = 0; i < c.kept.size(); ++i) {
    names[i] = "c" + std::to_string(i);
    slots.push_back(SpreadSlot{c.kept[i], c.cap[i], false, 1000, names[i], 0});
  }
  return slots;
}

TEST(SpreadSolverTest, MatchesBruteForceOnRandomCells) {
  for (std::uint32_t seed = 1; seed <= 3000; ++seed) {
    std::mt19937 rng(seed);
    auto uniform = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
    Case c;
    int n = uniform(1, 5);
    for (int i = 0; i < n; ++i) {
      int kept = uniform(0, 4);
      c.kept.push_back(kept);
      c.cap.push_back(kept + uniform(0, 4));
    }
    c.target = uniform(0, 14);
    c.skew = uniform(1, 3);
    std::vector<std::string> names;
    std::vector<SpreadSlot> slots = slotsOf(c, names);
    int placed = solveSpread(slots, c.target, c.skew, 100);

    std::vector<int> result;
    int cost = 0, sum = 0;
    for (std::size_t i = 0; i < slots.size(); ++i) {
      result.push_back(slots[i].result);
      cost += std::abs(slots[i].result - c.kept[i]);
      sum += slots[i].result;
      ASSERT_GE(slots[i].result, 0) << "seed " << seed;
      ASSERT_LE(slots[i].result, c.cap[i]) << "seed " << seed;
    }
    int capSum = 0;
    for (int k : c.cap) capSum += k;
    ASSERT_EQ(placed, std::min(c.target, capSum)) << "seed " << seed;
    ASSERT_EQ(sum, placed) << "seed " << seed;
    ASSERT_TRUE(spreadHolds(result, c.cap, c.skew)) << "seed " << seed;
    ASSERT_EQ(cost, bruteForceMinimum(c.kept, c.cap, c.target, c.skew)) << "seed " << seed;
  }
}

TEST(SpreadSolverTest, SteadyCellsDoNotMove) {
  std::vector<std::string> names;
  Case c{{2, 1, 2}, {9, 9, 9}, 5, 1};
  std::vector<SpreadSlot> slots = slotsOf(c, names);
  solveSpread(slots, c.target, c.skew, 100);
  for (std::size_t i = 0; i < slots.size(); ++i) EXPECT_EQ(slots[i].result, c.kept[i]);
}

TEST(SpreadSolverTest, DisfavoredSlotsGetOnlyWhatMaxSkewForces) {
  std::vector<std::string> names;
  Case c{{0, 0, 0}, {9, 9, 9}, 5, 2};
  std::vector<SpreadSlot> slots = slotsOf(c, names);
  slots[0].disfavored = true;
  solveSpread(slots, c.target, c.skew, 100);
  EXPECT_EQ(slots[0].result, 1);  // 2/2 on the others, then maxSkew 2 forces one on c0
  EXPECT_EQ(slots[1].result, 2);
  EXPECT_EQ(slots[2].result, 2);
  // Removal takes from the disfavored slot first.
  Case d{{2, 2, 2}, {9, 9, 9}, 5, 1};
  slots = slotsOf(d, names);
  slots[1].disfavored = true;
  solveSpread(slots, d.target, d.skew, 100);
  EXPECT_EQ(slots[1].result, 1);
}

TEST(SpreadSolverTest, FullSlotsDoNotHoldTheOthersBack) {
  std::vector<std::string> names;
  Case c{{0, 0}, {1, 50}, 20, 1};
  std::vector<SpreadSlot> slots = slotsOf(c, names);
  EXPECT_EQ(solveSpread(slots, c.target, c.skew, 100), 20);
  EXPECT_EQ(slots[0].result, 1);
  EXPECT_EQ(slots[1].result, 19);
  EXPECT_TRUE(spreadHolds(std::vector<int>{1, 19}, std::vector<int>{1, 50}, 1));
  EXPECT_FALSE(spreadHolds(std::vector<int>{1, 19}, std::vector<int>{2, 50}, 1));
}

TEST(SpreadSolverTest, LargeCellsStayFast) {
  // 500 slots, 20,000 replicas, half of them kept unevenly: must finish quickly (no timing
  // assertion; a quadratic blow-up would show as a test timeout).
  std::vector<std::string> names(500);
  std::vector<SpreadSlot> slots;
  for (int i = 0; i < 500; ++i) {
    names[i] = "c" + std::to_string(1000 + i);
    slots.push_back(SpreadSlot{i % 7 == 0 ? 60 : 10, 200, i % 11 == 0, 1000 - i, names[i], 0});
  }
  EXPECT_EQ(solveSpread(slots, 20000, 1, 100), 20000);
  std::vector<int> counts, caps;
  for (const SpreadSlot& s : slots) {
    counts.push_back(s.result);
    caps.push_back(s.capacity);
  }
  EXPECT_TRUE(spreadHolds(counts, caps, 1));
}

}  // namespace
}  // namespace tessera::scheduler
