// Upstream decisions with injected time: outlier ejection and its backoff, health checks, load
// balancing (round robin, power of two choices, panic, retry exclusion), the retry budget, the
// host registry across config snapshots, and concurrent use from several workers.
#include "mesh/upstream/upstream.h"

#include <gtest/gtest.h>

#include <map>
#include <thread>

namespace tessera::mesh {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const SteadyTime kT0 = SteadyTime() + std::chrono::hours(1000);

std::shared_ptr<const Cluster> makeCluster(int hosts, std::vector<uint32_t> weights = {},
                                           std::string name = "web") {
  auto c = std::make_shared<Cluster>();
  c->name = std::move(name);
  for (int i = 0; i < hosts; ++i) {
    Endpoint e;
    e.address = "10.0.0." + std::to_string(i + 1);
    e.port = 8080;
    if (!weights.empty()) e.weight = weights[static_cast<std::size_t>(i)];
    c->endpoints.push_back(e);
  }
  return c;
}

struct Fixture {
  explicit Fixture(int hosts, std::vector<uint32_t> weights = {})
      : set(registry.build(makeCluster(hosts, std::move(weights)))) {}
  HostRegistry registry;
  std::shared_ptr<HostSet> set;
  OutlierDetection policy;  // defaults: 5 × 5xx, 3 connect failures, 5s base, 5m max, 50%

  Host& host(std::size_t i) { return *set->hosts[i]; }
  bool report(std::size_t i, TryResult r, SteadyTime now) {
    return OutlierDetector::report(host(i), r, policy, set->hosts, now);
  }
  // Reports `n` of `r`; true if one of them ejected the host.
  bool reportN(std::size_t i, TryResult r, int n, SteadyTime now) {
    bool ejected = false;
    for (int k = 0; k < n; ++k) ejected = report(i, r, now) || ejected;
    return ejected;
  }
  std::size_t ejectedCount(SteadyTime now) {
    std::size_t n = 0;
    for (const auto& h : set->hosts) n += h->ejected(now) ? 1 : 0;
    return n;
  }
};

TEST(OutlierDetectorTest, ConsecutiveFailuresEject) {
  Fixture f(4);
  EXPECT_FALSE(f.reportN(0, TryResult::kHttp5xx, 4, kT0));
  EXPECT_TRUE(f.host(0).available(kT0));
  EXPECT_TRUE(f.report(0, TryResult::kHttp5xx, kT0));
  EXPECT_TRUE(f.host(0).ejected(kT0));
  EXPECT_FALSE(f.host(0).available(kT0));
  EXPECT_TRUE(f.host(0).healthy()) << "ejection is not health";
  EXPECT_EQ(f.host(0).ejections.load(), 1u);
  EXPECT_EQ(f.host(0).ejectedUntil(), kT0 + seconds(5));

  // A success in between starts the count again.
  EXPECT_FALSE(f.reportN(1, TryResult::kHttp5xx, 4, kT0));
  EXPECT_FALSE(f.report(1, TryResult::kSuccess, kT0));
  EXPECT_FALSE(f.reportN(1, TryResult::kHttp5xx, 4, kT0));
  EXPECT_FALSE(f.host(1).ejected(kT0));

  // Connect failures have their own, lower threshold.
  EXPECT_FALSE(f.reportN(2, TryResult::kConnectFailure, 2, kT0));
  EXPECT_TRUE(f.report(2, TryResult::kConnectFailure, kT0));
  EXPECT_TRUE(f.host(2).ejected(kT0));

  // Resets and timeouts count as 5xx.
  Fixture g(4);
  EXPECT_FALSE(g.reportN(0, TryResult::kReset, 2, kT0));
  EXPECT_FALSE(g.reportN(0, TryResult::kTimeout, 2, kT0));
  EXPECT_TRUE(g.report(0, TryResult::kHttp5xx, kT0));

  // Disabled: never.
  Fixture off(4);
  off.policy.enabled = false;
  EXPECT_FALSE(off.reportN(0, TryResult::kHttp5xx, 100, kT0));
  EXPECT_FALSE(off.host(0).ejected(kT0));
}

TEST(OutlierDetectorTest, EjectionTimeGrowsAndIsCapped) {
  Fixture f(2);
  f.policy.baseEjectionTime = seconds(5);
  f.policy.maxEjectionTime = seconds(12);
  SteadyTime now = kT0;
  ASSERT_TRUE(f.reportN(0, TryResult::kHttp5xx, 5, now));
  EXPECT_EQ(f.host(0).ejectedUntil(), now + seconds(5));
  EXPECT_TRUE(f.host(0).ejected(now + milliseconds(4999)));
  EXPECT_FALSE(f.host(0).ejected(now + seconds(5)));  // back at the end of the ejection
  EXPECT_TRUE(f.host(0).available(now + seconds(5)));

  // While ejected, more failures do not extend it.
  EXPECT_FALSE(f.reportN(0, TryResult::kHttp5xx, 10, now + seconds(1)));
  EXPECT_EQ(f.host(0).ejectedUntil(), now + seconds(5));

  now += seconds(5);
  ASSERT_TRUE(f.reportN(0, TryResult::kHttp5xx, 5, now));
  EXPECT_EQ(f.host(0).ejectedUntil(), now + seconds(10));  // 2 × base
  EXPECT_EQ(f.host(0).timesEjected(), 2u);
  now += seconds(10);
  ASSERT_TRUE(f.reportN(0, TryResult::kHttp5xx, 5, now));
  EXPECT_EQ(f.host(0).ejectedUntil(), now + seconds(12));  // 3 × base, capped
  now += seconds(12);
  ASSERT_TRUE(f.reportN(0, TryResult::kHttp5xx, 5, now));
  EXPECT_EQ(f.host(0).ejectedUntil(), now + seconds(12));
  EXPECT_EQ(f.host(0).ejections.load(), 4u);
}

TEST(OutlierDetectorTest, GoodBehaviourShortensTheNextEjection) {
  Fixture f(2);
  SteadyTime now = kT0;
  ASSERT_TRUE(f.reportN(0, TryResult::kHttp5xx, 5, now));  // 5s, times 1
  now += seconds(5);
  ASSERT_TRUE(f.reportN(0, TryResult::kHttp5xx, 5, now));  // 10s, times 2
  now += seconds(10);
  EXPECT_EQ(f.host(0).timesEjected(), 2u);
  // Successes right after it returns do not count as a quiet period yet.
  f.report(0, TryResult::kSuccess, now + seconds(1));
  EXPECT_EQ(f.host(0).timesEjected(), 2u);
  // base × times (10s) of good behaviour: one step down; another base × 1 (5s): back to 0.
  f.report(0, TryResult::kSuccess, now + seconds(10));
  EXPECT_EQ(f.host(0).timesEjected(), 1u);
  EXPECT_TRUE(f.host(0).available(now + seconds(10)));
  f.report(0, TryResult::kSuccess, now + seconds(14));
  EXPECT_EQ(f.host(0).timesEjected(), 1u);
  f.report(0, TryResult::kSuccess, now + seconds(15));
  EXPECT_EQ(f.host(0).timesEjected(), 0u);
  now += seconds(20);
  ASSERT_TRUE(f.reportN(0, TryResult::kHttp5xx, 5, now));
  EXPECT_EQ(f.host(0).ejectedUntil(), now + seconds(5)) << "back to the base time";
}

TEST(OutlierDetectorTest, NeverMoreThanMaxEjectionPercent) {
  Fixture f(4);  // 50% of 4: two at most
  EXPECT_TRUE(f.reportN(0, TryResult::kHttp5xx, 5, kT0));
  EXPECT_TRUE(f.reportN(1, TryResult::kHttp5xx, 5, kT0));
  EXPECT_FALSE(f.reportN(2, TryResult::kHttp5xx, 5, kT0));
  EXPECT_FALSE(f.reportN(3, TryResult::kConnectFailure, 5, kT0));
  EXPECT_EQ(f.ejectedCount(kT0), 2u);
  // Once the first two are back, the next failure of host 2 ejects it (its count kept going).
  const SteadyTime later = kT0 + seconds(5);
  EXPECT_EQ(f.ejectedCount(later), 0u);
  EXPECT_TRUE(f.report(2, TryResult::kHttp5xx, later));

  // 100% still leaves one host.
  Fixture all(3);
  all.policy.maxEjectionPercent = 100;
  EXPECT_TRUE(all.reportN(0, TryResult::kHttp5xx, 5, kT0));
  EXPECT_TRUE(all.reportN(1, TryResult::kHttp5xx, 5, kT0));
  EXPECT_FALSE(all.reportN(2, TryResult::kHttp5xx, 50, kT0));
  EXPECT_EQ(all.ejectedCount(kT0), 2u);

  Fixture one(1);
  one.policy.maxEjectionPercent = 100;
  EXPECT_FALSE(one.reportN(0, TryResult::kHttp5xx, 50, kT0));

  Fixture none(4);
  none.policy.maxEjectionPercent = 0;
  EXPECT_FALSE(none.reportN(0, TryResult::kHttp5xx, 50, kT0));

  Fixture three(3);  // 50% of 3 rounds down: one
  EXPECT_TRUE(three.reportN(0, TryResult::kHttp5xx, 5, kT0));
  EXPECT_FALSE(three.reportN(1, TryResult::kHttp5xx, 5, kT0));
}

TEST(HostTest, HealthCheckThresholds) {
  Fixture f(1);
  Host& h = f.host(0);
  HealthCheck policy;  // 2 failures → unhealthy, 1 success → healthy
  EXPECT_TRUE(h.healthy());
  h.onHealthCheck(false, policy);
  EXPECT_TRUE(h.healthy());
  h.onHealthCheck(true, policy);
  h.onHealthCheck(false, policy);
  EXPECT_TRUE(h.healthy()) << "failures must be consecutive";
  h.onHealthCheck(false, policy);
  EXPECT_FALSE(h.healthy());
  EXPECT_FALSE(h.available(kT0));
  h.onHealthCheck(true, policy);
  EXPECT_TRUE(h.healthy());
  EXPECT_TRUE(h.available(kT0));

  policy.healthyThreshold = 3;
  policy.unhealthyThreshold = 1;
  h.onHealthCheck(false, policy);
  EXPECT_FALSE(h.healthy());
  h.onHealthCheck(true, policy);
  h.onHealthCheck(true, policy);
  h.onHealthCheck(false, policy);
  h.onHealthCheck(true, policy);
  h.onHealthCheck(true, policy);
  EXPECT_FALSE(h.healthy()) << "successes must be consecutive";
  h.onHealthCheck(true, policy);
  EXPECT_TRUE(h.healthy());
}

std::map<const Host*, int> countPicks(LoadBalancer& lb, const HostSet& set, int n, SteadyTime now,
                                      const Host* exclude = nullptr) {
  std::map<const Host*, int> picks;
  for (int i = 0; i < n; ++i) {
    Host* h = lb.pick(set.hosts, now, exclude);
    EXPECT_NE(h, nullptr);
    ++picks[h];
  }
  return picks;
}

TEST(LoadBalancerTest, RoundRobinIsFairAndSkipsUnavailableHosts) {
  Fixture f(3);
  auto lb = LoadBalancer::create(LbPolicy::kRoundRobin, 7);
  auto picks = countPicks(*lb, *f.set, 300, kT0);
  ASSERT_EQ(picks.size(), 3u);
  for (const auto& [host, n] : picks) EXPECT_EQ(n, 100);

  ASSERT_TRUE(f.reportN(1, TryResult::kHttp5xx, 5, kT0));
  picks = countPicks(*lb, *f.set, 300, kT0);
  EXPECT_EQ(picks.count(&f.host(1)), 0u);
  EXPECT_EQ(picks[&f.host(0)], 150);
  EXPECT_EQ(picks[&f.host(2)], 150);

  HealthCheck hc;
  hc.unhealthyThreshold = 1;
  f.host(2).onHealthCheck(false, hc);
  picks = countPicks(*lb, *f.set, 10, kT0);
  EXPECT_EQ(picks[&f.host(0)], 10);

  // Weights: each host `weight` times in a row.
  Fixture w(2, {1, 3});
  auto wlb = LoadBalancer::create(LbPolicy::kRoundRobin, 1);
  picks = countPicks(*wlb, *w.set, 400, kT0);
  EXPECT_EQ(picks[&w.host(0)], 100);
  EXPECT_EQ(picks[&w.host(1)], 300);

  Fixture empty(0);
  EXPECT_EQ(lb->pick(empty.set->hosts, kT0), nullptr);
}

TEST(LoadBalancerTest, LeastRequestPrefersTheLessLoaded) {
  Fixture f(2);
  auto lb = LoadBalancer::create(LbPolicy::kLeastRequest, 42);
  f.host(0).activeRequests = 10;
  auto picks = countPicks(*lb, *f.set, 200, kT0);
  EXPECT_EQ(picks[&f.host(1)], 200);

  // Among many hosts, a loaded one is never chosen over an idle one; the rest share evenly.
  Fixture many(10);
  many.host(3).activeRequests = 50;
  picks = countPicks(*lb, *many.set, 9000, kT0);
  EXPECT_EQ(picks.count(&many.host(3)), 0u);
  for (std::size_t i = 0; i < 10; ++i) {
    if (i == 3) continue;
    EXPECT_GT(picks[&many.host(i)], 700) << i;
    EXPECT_LT(picks[&many.host(i)], 1300) << i;
  }

  // Weights: 4 in flight on a weight-4 host is as loaded as 1 on a weight-1 host.
  Fixture w(2, {1, 4});
  w.host(0).activeRequests = 1;
  w.host(1).activeRequests = 3;
  picks = countPicks(*lb, *w.set, 100, kT0);
  EXPECT_EQ(picks[&w.host(1)], 100);

  // Unavailable hosts are skipped.
  Fixture u(3);
  ASSERT_TRUE(u.reportN(0, TryResult::kHttp5xx, 5, kT0));
  picks = countPicks(*lb, *u.set, 300, kT0);
  EXPECT_EQ(picks.count(&u.host(0)), 0u);
  EXPECT_GT(picks[&u.host(1)], 100);
  EXPECT_GT(picks[&u.host(2)], 100);

  // The last available host of a large, mostly ejected set is still found.
  Fixture big(20);
  big.policy.maxEjectionPercent = 100;
  for (std::size_t i = 0; i < 19; ++i) ASSERT_TRUE(big.reportN(i, TryResult::kHttp5xx, 5, kT0));
  picks = countPicks(*lb, *big.set, 100, kT0);
  EXPECT_EQ(picks[&big.host(19)], 100);
}

TEST(LoadBalancerTest, PanicWhenNoHostIsAvailable) {
  for (LbPolicy policy : {LbPolicy::kRoundRobin, LbPolicy::kLeastRequest}) {
    Fixture f(3);
    HealthCheck hc;
    hc.unhealthyThreshold = 1;
    for (std::size_t i = 0; i < 3; ++i) f.host(i).onHealthCheck(false, hc);
    auto lb = LoadBalancer::create(policy, 3);
    auto picks = countPicks(*lb, *f.set, 300, kT0);
    EXPECT_EQ(picks.size(), 3u) << "panic spreads over every host";
    for (const auto& [host, n] : picks) EXPECT_GT(n, 50);

    // One healthy host again: it takes everything.
    f.host(1).onHealthCheck(true, hc);
    picks = countPicks(*lb, *f.set, 50, kT0);
    EXPECT_EQ(picks[&f.host(1)], 50);
  }
}

TEST(LoadBalancerTest, ARetryAvoidsTheHostItLeft) {
  for (LbPolicy policy : {LbPolicy::kRoundRobin, LbPolicy::kLeastRequest}) {
    Fixture f(2);
    auto lb = LoadBalancer::create(policy, 5);
    auto picks = countPicks(*lb, *f.set, 50, kT0, &f.host(0));
    EXPECT_EQ(picks[&f.host(1)], 50);

    // The other host is unavailable: the excluded one, if available, beats an ejected one.
    ASSERT_TRUE(f.reportN(1, TryResult::kHttp5xx, 5, kT0));
    picks = countPicks(*lb, *f.set, 10, kT0, &f.host(0));
    EXPECT_EQ(picks[&f.host(0)], 10);

    // Nothing available: panic, still away from the excluded host.
    HealthCheck hc;
    hc.unhealthyThreshold = 1;
    f.host(0).onHealthCheck(false, hc);
    picks = countPicks(*lb, *f.set, 10, kT0, &f.host(0));
    EXPECT_EQ(picks[&f.host(1)], 10);

    // A single host is returned even when excluded.
    Fixture one(1);
    EXPECT_EQ(lb->pick(one.set->hosts, kT0, &one.host(0)), &one.host(0));
  }
}

TEST(HostSetTest, RetryBudget) {
  auto cluster = std::make_shared<Cluster>();
  cluster->name = "web";
  cluster->retryBudget.budgetPercent = 20;
  cluster->retryBudget.minRetryConcurrency = 3;
  HostRegistry registry;
  auto set = registry.build(cluster);

  // Few requests in flight: the minimum applies.
  set->activeRequests = 5;
  set->activeRetries = 2;
  EXPECT_TRUE(set->retryAllowed());
  set->activeRetries = 3;
  EXPECT_FALSE(set->retryAllowed());
  // 100 in flight: 20% = 20 retries.
  set->activeRequests = 100;
  set->activeRetries = 19;
  EXPECT_TRUE(set->retryAllowed());
  set->activeRetries = 20;
  EXPECT_FALSE(set->retryAllowed());
  // 99 in flight: 19.8 rounds down.
  set->activeRequests = 99;
  set->activeRetries = 19;
  EXPECT_FALSE(set->retryAllowed());

  cluster->retryBudget.minRetryConcurrency = 0;
  cluster->retryBudget.budgetPercent = 0;
  set->activeRequests = 1000;
  set->activeRetries = 0;
  EXPECT_FALSE(set->retryAllowed()) << "a zero budget allows no retries";
}

TEST(HostRegistryTest, HostsSurviveConfigChanges) {
  HostRegistry registry;
  auto v1 = std::make_shared<Cluster>(*makeCluster(3));
  v1->endpoints[0].revision = "v1";
  v1->endpoints[1].revision = "v2";
  auto first = registry.build(v1);
  ASSERT_EQ(first->hosts.size(), 3u);
  EXPECT_EQ(first->cluster, v1);
  EXPECT_EQ(first->revision("v1").size(), 1u);
  EXPECT_EQ(first->revision("v1")[0], first->hosts[0]);
  EXPECT_EQ(first->revision("v2")[0], first->hosts[1]);
  EXPECT_EQ(first->revision("").size(), 3u);
  EXPECT_EQ(first->byRevision.at("").size(), 3u);
  EXPECT_TRUE(first->revision("v3").empty());

  OutlierDetection policy;
  ASSERT_TRUE(OutlierDetector::report(*first->hosts[2], TryResult::kConnectFailure, policy,
                                      first->hosts, kT0) ||
              OutlierDetector::report(*first->hosts[2], TryResult::kConnectFailure, policy,
                                      first->hosts, kT0) ||
              OutlierDetector::report(*first->hosts[2], TryResult::kConnectFailure, policy,
                                      first->hosts, kT0));
  first->hosts[0]->activeRequests = 4;

  // Same endpoints: the same Host objects, with their state.
  auto second = registry.build(std::make_shared<Cluster>(*v1));
  EXPECT_EQ(second->hosts[0], first->hosts[0]);
  EXPECT_EQ(second->hosts[2], first->hosts[2]);
  EXPECT_TRUE(second->hosts[2]->ejected(kT0));
  EXPECT_EQ(second->hosts[0]->activeRequests.load(), 4u);

  // Host 2's labels change: a new Host that keeps the ejection; host 1 is removed; a new one
  // is added.
  auto v3 = std::make_shared<Cluster>(*v1);
  v3->endpoints[2].revision = "v2";
  v3->endpoints.erase(v3->endpoints.begin() + 1);
  Endpoint added;
  added.address = "10.0.0.9";
  added.port = 8080;
  v3->endpoints.push_back(added);
  auto third = registry.build(v3);
  ASSERT_EQ(third->hosts.size(), 3u);
  EXPECT_EQ(third->hosts[0], first->hosts[0]);
  EXPECT_NE(third->hosts[1], first->hosts[2]);
  EXPECT_EQ(third->hosts[1]->endpoint().revision, "v2");
  EXPECT_TRUE(third->hosts[1]->ejected(kT0)) << "the new Host inherits the ejection";
  EXPECT_EQ(third->hosts[1]->ejections.load(), 1u);
  EXPECT_EQ(first->hosts[2]->endpoint().revision, "") << "the old snapshot's Host is unchanged";
  EXPECT_EQ(third->revision("v2").size(), 1u);

  // Host 1 was forgotten: coming back, it starts fresh.
  auto fourth = registry.build(v1);
  EXPECT_NE(fourth->hosts[1], first->hosts[1]);

  // Clusters are separate namespaces, and retain() forgets dropped clusters.
  auto other = registry.build(makeCluster(1, {}, "other"));
  EXPECT_NE(other->hosts[0], fourth->hosts[0]);
  registry.retain({"web"});
  auto otherAgain = registry.build(makeCluster(1, {}, "other"));
  EXPECT_NE(otherAgain->hosts[0], other->hosts[0]);
  EXPECT_EQ(registry.build(v1)->hosts[0], fourth->hosts[0]);
}

// Several workers pick, count in-flight requests and report at once, as the proxy's workers
// do: the counters balance, and a burst of failures from every worker at one instant never
// ejects more than the cap. Bounded in count.
TEST(UpstreamConcurrencyTest, WorkersShareHostSets) {
  Fixture f(8);
  f.policy.maxEjectionPercent = 50;
  constexpr int kThreads = 4;
  constexpr int kIterations = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto lb = LoadBalancer::create(t % 2 == 0 ? LbPolicy::kLeastRequest : LbPolicy::kRoundRobin,
                                     static_cast<uint64_t>(t));
      SteadyTime now = kT0;
      for (int i = 0; i < kIterations; ++i) {
        now += milliseconds(1);
        Host* h = lb->pick(f.set->hosts, now, nullptr);
        if (h == nullptr) continue;
        h->activeRequests.fetch_add(1);
        f.set->activeRequests.fetch_add(1);
        // Hosts 0-5 fail most of the time; 6 and 7 never.
        const bool bad = h != &f.host(6) && h != &f.host(7) && i % 50 != 0;
        OutlierDetector::report(*h, bad ? TryResult::kHttp5xx : TryResult::kSuccess, f.policy,
                                f.set->hosts, now);
        if (f.set->retryAllowed()) {
          f.set->activeRetries.fetch_add(1);
          f.set->activeRetries.fetch_sub(1);
        }
        f.set->activeRequests.fetch_sub(1);
        h->activeRequests.fetch_sub(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  uint64_t ejections = 0;
  for (const auto& h : f.set->hosts) ejections += h->ejections.load();
  EXPECT_GT(ejections, 0u) << "the failing hosts were ejected at times";
  EXPECT_EQ(f.set->activeRequests.load(), 0u);
  EXPECT_EQ(f.set->activeRetries.load(), 0u);
  for (const auto& h : f.set->hosts) EXPECT_EQ(h->activeRequests.load(), 0u);

  // A burst of failures on every host at one instant from every thread: at most half ejected.
  Fixture burst(6);
  std::vector<std::thread> burstThreads;
  for (int t = 0; t < kThreads; ++t) {
    burstThreads.emplace_back([&] {
      for (int round = 0; round < 200; ++round) {
        for (std::size_t i = 0; i < 6; ++i) burst.report(i, TryResult::kConnectFailure, kT0);
      }
    });
  }
  for (auto& t : burstThreads) t.join();
  EXPECT_LE(burst.ejectedCount(kT0), 3u);
  EXPECT_GE(burst.ejectedCount(kT0), 1u);
}

}  // namespace
}  // namespace tessera::mesh
