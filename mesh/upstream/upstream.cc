#include "mesh/upstream/upstream.h"

#include <algorithm>

namespace tessera::mesh {
namespace {

int64_t toNs(SteadyTime t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

int64_t toNs(Millis d) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
}

}  // namespace

// ---- Host ----

bool Host::ejected(SteadyTime now) const {
  return ejectedUntilNs_.load(std::memory_order_acquire) > toNs(now);
}

bool Host::available(SteadyTime now) const {
  return healthy() && !ejected(now);
}

SteadyTime Host::ejectedUntil() const {
  return SteadyTime(std::chrono::duration_cast<SteadyTime::duration>(
      std::chrono::nanoseconds(ejectedUntilNs_.load(std::memory_order_acquire))));
}

void Host::onHealthCheck(bool ok, const HealthCheck& policy) {
  if (ok) {
    checkFailures_.store(0, std::memory_order_relaxed);
    const uint32_t successes = checkSuccesses_.fetch_add(1, std::memory_order_relaxed) + 1;
    if (successes >= policy.healthyThreshold) healthy_.store(true, std::memory_order_relaxed);
  } else {
    checkSuccesses_.store(0, std::memory_order_relaxed);
    const uint32_t failures = checkFailures_.fetch_add(1, std::memory_order_relaxed) + 1;
    if (failures >= policy.unhealthyThreshold) healthy_.store(false, std::memory_order_relaxed);
  }
}

void Host::inheritStateFrom(const Host& other) {
  healthy_.store(other.healthy_.load());
  checkFailures_.store(other.checkFailures_.load());
  checkSuccesses_.store(other.checkSuccesses_.load());
  ejectedUntilNs_.store(other.ejectedUntilNs_.load());
  consecutive5xx_.store(other.consecutive5xx_.load());
  consecutiveConnectFailures_.store(other.consecutiveConnectFailures_.load());
  timesEjected_.store(other.timesEjected_.load());
  ejections.store(other.ejections.load());
}

// ---- OutlierDetector ----

bool OutlierDetector::report(Host& host, TryResult result, const OutlierDetection& policy,
                             std::span<const std::shared_ptr<Host>> all, SteadyTime now) {
  if (!policy.enabled) return false;
  const int64_t nowNs = toNs(now);
  if (result == TryResult::kSuccess) {
    host.consecutive5xx_.store(0, std::memory_order_relaxed);
    host.consecutiveConnectFailures_.store(0, std::memory_order_relaxed);
    // Good behaviour for a while after an ejection lowers the next ejection's length. The
    // ejection end doubles as the "last decay" mark: moving it to `now` keeps it in the past.
    const uint32_t times = host.timesEjected_.load(std::memory_order_relaxed);
    if (times > 0) {
      int64_t until = host.ejectedUntilNs_.load(std::memory_order_acquire);
      const int64_t quiet = toNs(policy.baseEjectionTime) * times;
      if (until <= nowNs && nowNs - until >= quiet &&
          host.ejectedUntilNs_.compare_exchange_strong(until, nowNs)) {
        host.timesEjected_.fetch_sub(1, std::memory_order_relaxed);
      }
    }
    return false;
  }

  bool trip = false;
  if (result == TryResult::kConnectFailure) {
    trip = host.consecutiveConnectFailures_.fetch_add(1, std::memory_order_relaxed) + 1 >=
           policy.consecutiveConnectFailures;
  } else {  // 5xx, reset, timeout: the endpoint took the request and failed it
    trip =
        host.consecutive5xx_.fetch_add(1, std::memory_order_relaxed) + 1 >= policy.consecutive5xx;
  }
  if (!trip) return false;

  int64_t previous = host.ejectedUntilNs_.load(std::memory_order_seq_cst);
  if (previous > nowNs) return false;  // already ejected

  const std::size_t total = all.size();
  std::size_t allowed = total * policy.maxEjectionPercent / 100;
  allowed = std::min(allowed, total == 0 ? 0 : total - 1);  // at least one host stays
  if (allowed == 0) return false;

  const uint32_t times = host.timesEjected_.load(std::memory_order_relaxed) + 1;
  const int64_t base = toNs(policy.baseEjectionTime);
  const int64_t cap = std::max(toNs(policy.maxEjectionTime), base);
  const int64_t duration = base > 0 && times > cap / base ? cap : std::min(base * times, cap);
  if (!host.ejectedUntilNs_.compare_exchange_strong(previous, nowNs + duration)) return false;

  // Count after our own store: if two workers eject two hosts at once, at least one of them
  // sees both (sequentially consistent) and backs out, so the cap is never exceeded.
  std::size_t ejectedCount = 0;
  for (const std::shared_ptr<Host>& h : all) {
    if (h->ejectedUntilNs_.load(std::memory_order_seq_cst) > nowNs) ++ejectedCount;
  }
  if (ejectedCount > allowed) {
    int64_t mine = nowNs + duration;
    host.ejectedUntilNs_.compare_exchange_strong(mine, previous);
    return false;
  }
  host.timesEjected_.store(times, std::memory_order_relaxed);
  host.consecutive5xx_.store(0, std::memory_order_relaxed);
  host.consecutiveConnectFailures_.store(0, std::memory_order_relaxed);
  host.ejections.fetch_add(1, std::memory_order_relaxed);
  return true;
}

// ---- HostSet ----

bool HostSet::retryAllowed() const {
  const RetryBudget& budget = cluster->retryBudget;
  const double active = activeRequests.load(std::memory_order_relaxed);
  const auto byBudget = static_cast<uint64_t>(active * budget.budgetPercent / 100.0);
  const uint64_t limit = std::max<uint64_t>(byBudget, budget.minRetryConcurrency);
  return activeRetries.load(std::memory_order_relaxed) < limit;
}

std::span<const std::shared_ptr<Host>> HostSet::revision(const std::string& name) const {
  if (name.empty()) return hosts;
  auto it = byRevision.find(name);
  if (it == byRevision.end()) return {};
  return it->second;
}

// ---- load balancers ----

namespace {

// splitmix64: tiny, fast, and good enough to pick hosts.
class Random {
 public:
  explicit Random(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  std::size_t below(std::size_t n) { return static_cast<std::size_t>(next() % n); }

 private:
  uint64_t state_;
};

// Preference when the first choice fails: another available host, then `exclude` if it is
// available, then (panic) any host but `exclude`, then `exclude`.
enum class Pass { kAvailable, kAvailableExcluded, kPanic };

class RoundRobin final : public LoadBalancer {
 public:
  explicit RoundRobin(uint64_t seed) : next_(static_cast<std::size_t>(Random(seed).next())) {}

  Host* pick(std::span<const std::shared_ptr<Host>> hosts, SteadyTime now,
             const Host* exclude) override {
    const std::size_t n = hosts.size();
    if (n == 0) return nullptr;
    // Stay on the current host for `weight` picks in a row.
    if (credit_ > 0 && current_ < n) {
      Host* h = hosts[current_].get();
      if (h == lastHost_ && h != exclude && h->available(now)) {
        --credit_;
        return h;
      }
    }
    credit_ = 0;
    for (Pass pass : {Pass::kAvailable, Pass::kAvailableExcluded, Pass::kPanic}) {
      for (std::size_t i = 0; i < n; ++i) {
        const std::size_t index = (next_ + i) % n;
        Host* h = hosts[index].get();
        const bool ok = pass == Pass::kAvailable           ? h != exclude && h->available(now)
                        : pass == Pass::kAvailableExcluded ? h == exclude && h->available(now)
                                                           : h != exclude;
        if (!ok) continue;
        current_ = index;
        next_ = index + 1;
        lastHost_ = h;
        credit_ = pass == Pass::kAvailable ? h->endpoint().weight - 1 : 0;
        return h;
      }
    }
    return hosts[0].get();  // one host, and it is `exclude` and unavailable
  }

 private:
  std::size_t next_;
  std::size_t current_ = 0;
  const Host* lastHost_ = nullptr;  // hosts[current_] when credit_ was given (sets change)
  uint32_t credit_ = 0;
};

class LeastRequest final : public LoadBalancer {
 public:
  explicit LeastRequest(uint64_t seed) : random_(seed) {}

  Host* pick(std::span<const std::shared_ptr<Host>> hosts, SteadyTime now,
             const Host* exclude) override {
    const std::size_t n = hosts.size();
    if (n == 0) return nullptr;
    if (n == 1) return hosts[0].get();
    for (Pass pass : {Pass::kAvailable, Pass::kAvailableExcluded, Pass::kPanic}) {
      auto ok = [&](const Host* h) {
        return pass == Pass::kAvailable           ? h != exclude && h->available(now)
               : pass == Pass::kAvailableExcluded ? h == exclude && h->available(now)
                                                  : h != exclude;
      };
      if (pass == Pass::kAvailableExcluded) {
        if (exclude != nullptr && exclude->available(now)) {
          for (const auto& h : hosts) {
            if (h.get() == exclude) return h.get();
          }
        }
        continue;
      }
      // Two distinct random candidates; the less loaded (per unit of weight) wins.
      Host* first = sample(hosts, ok, nullptr);
      if (first == nullptr) continue;
      Host* second = sample(hosts, ok, first);
      if (second == nullptr) return first;
      return lessLoaded(first, second);
    }
    return hosts[0].get();
  }

 private:
  // A random host passing `ok` other than `other`: a few random probes, then a scan from a
  // random start (so a mostly-ejected set still finds its last good host).
  template <typename Ok>
  Host* sample(std::span<const std::shared_ptr<Host>> hosts, const Ok& ok, const Host* other) {
    const std::size_t n = hosts.size();
    for (int attempt = 0; attempt < 4; ++attempt) {
      Host* h = hosts[random_.below(n)].get();
      if (h != other && ok(h)) return h;
    }
    const std::size_t start = random_.below(n);
    for (std::size_t i = 0; i < n; ++i) {
      Host* h = hosts[(start + i) % n].get();
      if (h != other && ok(h)) return h;
    }
    return nullptr;
  }

  Host* lessLoaded(Host* a, Host* b) {
    // a.active / a.weight < b.active / b.weight, without division.
    const uint64_t loadA = uint64_t{a->activeRequests.load(std::memory_order_relaxed)} *
                           std::max<uint32_t>(b->endpoint().weight, 1);
    const uint64_t loadB = uint64_t{b->activeRequests.load(std::memory_order_relaxed)} *
                           std::max<uint32_t>(a->endpoint().weight, 1);
    if (loadA != loadB) return loadA < loadB ? a : b;
    return (random_.next() & 1) != 0 ? a : b;
  }

  Random random_;
};

}  // namespace

std::unique_ptr<LoadBalancer> LoadBalancer::create(LbPolicy policy, uint64_t seed) {
  if (policy == LbPolicy::kLeastRequest) return std::make_unique<LeastRequest>(seed);
  return std::make_unique<RoundRobin>(seed);
}

// ---- HostRegistry ----

std::shared_ptr<HostSet> HostRegistry::build(const std::shared_ptr<const Cluster>& cluster) {
  auto set = std::make_shared<HostSet>();
  set->cluster = cluster;
  set->hosts.reserve(cluster->endpoints.size());

  std::lock_guard lock(mu_);
  std::map<std::string, std::shared_ptr<Host>>& known = hosts_[cluster->name];
  std::map<std::string, std::shared_ptr<Host>> next;
  for (const Endpoint& e : cluster->endpoints) {
    const std::string key = e.address + "|" + std::to_string(e.port);
    std::shared_ptr<Host> host;
    if (auto it = next.find(key); it != next.end()) {
      host = it->second;  // listed twice (validate() refuses this; stay consistent anyway)
    } else if (auto old = known.find(key); old != known.end() && old->second->endpoint() == e) {
      host = old->second;
    } else {
      host = std::make_shared<Host>(e);
      if (old != known.end()) host->inheritStateFrom(*old->second);
    }
    next[key] = host;
    set->hosts.push_back(host);
    if (!e.revision.empty()) set->byRevision[e.revision].push_back(host);
  }
  set->byRevision[""] = set->hosts;
  known = std::move(next);
  return set;
}

void HostRegistry::retain(const std::vector<std::string>& liveClusters) {
  std::lock_guard lock(mu_);
  for (auto it = hosts_.begin(); it != hosts_.end();) {
    if (std::find(liveClusters.begin(), liveClusters.end(), it->first) == liveClusters.end()) {
      it = hosts_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace tessera::mesh
