// Upstream state and decisions, without I/O: the hosts of a cluster, their health and
// ejection state, load balancing, and the retry budget.
//
// Threads: one HostSet is shared by every worker of the proxy; all per-host and per-cluster
// counters are atomics, and every method here may be called from any worker concurrently.
// Nothing here blocks or allocates on the pick/report path.
//
// Lifetime: a config snapshot holds shared_ptr<HostSet>; HostRegistry hands out the SAME Host
// objects for an endpoint (cluster, address, port) across snapshots, so health, ejections and
// in-flight counts survive a config change. (When an endpoint's labels or weight change, it gets
// a new Host that starts with the old one's health and ejection state: Endpoint is plain data,
// and another worker may be reading it.)
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "mesh/config/config.h"

namespace tessera::mesh {

using SteadyTime = std::chrono::steady_clock::time_point;

/// One endpoint of one cluster.
class Host {
 public:
  explicit Host(Endpoint endpoint) : endpoint_(std::move(endpoint)) {}
  const Endpoint& endpoint() const { return endpoint_; }

  /// Healthy per active health checks (true until a check says otherwise) and not ejected.
  bool available(SteadyTime now) const;
  bool healthy() const { return healthy_.load(std::memory_order_relaxed); }
  bool ejected(SteadyTime now) const;

  /// In-flight requests (least-request LB): the caller increments when it starts a request
  /// on this host and decrements when the request ends.
  std::atomic<uint32_t> activeRequests{0};

  // Active health checking (the proxy's checker calls these). `unhealthyThreshold` failures
  // in a row mark the host unhealthy, `healthyThreshold` successes in a row healthy again.
  void onHealthCheck(bool ok, const HealthCheck& policy);

  /// When the current (or last) ejection ends; the epoch if it was never ejected.
  SteadyTime ejectedUntil() const;
  /// How many times in a row it was ejected (the backoff multiplier; decays when it behaves).
  uint32_t timesEjected() const { return timesEjected_.load(std::memory_order_relaxed); }

  // Counters read by /stats.
  std::atomic<uint64_t> ejections{0};

 private:
  friend class OutlierDetector;
  friend class HostRegistry;
  /// Takes `other`'s health and ejection state (not its in-flight count).
  void inheritStateFrom(const Host& other);

  Endpoint endpoint_;
  std::atomic<bool> healthy_{true};
  std::atomic<uint32_t> checkFailures_{0};
  std::atomic<uint32_t> checkSuccesses_{0};
  std::atomic<int64_t> ejectedUntilNs_{0};  // steady_clock ns since epoch; 0 = not ejected
  std::atomic<uint32_t> consecutive5xx_{0};
  std::atomic<uint32_t> consecutiveConnectFailures_{0};
  std::atomic<uint32_t> timesEjected_{0};
};

/// The result of one try against a host, as the outlier detector sees it.
enum class TryResult { kSuccess, kHttp5xx, kConnectFailure, kReset, kTimeout };

/// Passive outlier detection per OutlierDetection: consecutive 5xx (resets and timeouts count
/// as 5xx) / connect failures → ejection for baseEjectionTime × timesEjected (capped at
/// maxEjectionTime), never more than maxEjectionPercent of the set's hosts ejected at once (at
/// least one host always stays). A success resets the consecutive counts; a success more than
/// baseEjectionTime × timesEjected after the last ejection ended lowers timesEjected by one.
/// `all` is the host's cluster (every host, not a revision subset).
class OutlierDetector {
 public:
  /// Returns true when this report ejected the host.
  static bool report(Host& host, TryResult result, const OutlierDetection& policy,
                     std::span<const std::shared_ptr<Host>> all, SteadyTime now);
};

/// A cluster's hosts in one snapshot.
struct HostSet {
  std::shared_ptr<const Cluster> cluster;    // the config it was built from
  std::vector<std::shared_ptr<Host>> hosts;  // in config order
  /// hosts by revision label ("" → all), for revision targets.
  std::map<std::string, std::vector<std::shared_ptr<Host>>> byRevision;

  // Retry budget: tries and retries in flight for this cluster (all workers).
  std::atomic<uint32_t> activeRequests{0};
  std::atomic<uint32_t> activeRetries{0};
  /// True if one more retry fits the cluster's RetryBudget now: activeRetries below
  /// max(minRetryConcurrency, budgetPercent% of activeRequests).
  bool retryAllowed() const;
  /// The hosts of a revision ("" = all); an empty span if no host has that revision.
  std::span<const std::shared_ptr<Host>> revision(const std::string& name) const;
};

/// Per-worker load balancer state (round-robin cursor, random generator): NOT thread-safe,
/// one per worker per cluster, or one per worker passed a HostSet.
class LoadBalancer {
 public:
  virtual ~LoadBalancer() = default;
  /// Picks an available host from `hosts` (skipping `exclude`, e.g. the host a retry left;
  /// `exclude` itself only if no other host is available). If every host is ejected or
  /// unhealthy ("panic"), picks among all of them rather than failing every request. nullptr
  /// only when `hosts` is empty. Round robin takes each host `weight` times in a row; least
  /// request compares two random hosts' activeRequests / weight.
  virtual Host* pick(std::span<const std::shared_ptr<Host>> hosts, SteadyTime now,
                     const Host* exclude = nullptr) = 0;

  static std::unique_ptr<LoadBalancer> create(LbPolicy policy, uint64_t seed);
};

/// Keeps Host objects alive across config snapshots. build() is called on config apply (not
/// on the data path); it reuses the Host for an endpoint already known (same cluster, address,
/// port, and identical labels and weight — otherwise a new Host inheriting the old one's health
/// and ejection state) and forgets hosts that are no longer in their cluster. Thread-safe.
class HostRegistry {
 public:
  std::shared_ptr<HostSet> build(const std::shared_ptr<const Cluster>& cluster);
  /// Drops hosts of clusters not in `live` (call after a snapshot swap).
  void retain(const std::vector<std::string>& liveClusters);

 private:
  std::mutex mu_;
  std::map<std::string, std::map<std::string, std::shared_ptr<Host>>> hosts_;  // cluster → key
};

}  // namespace tessera::mesh
