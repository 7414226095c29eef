// The proxy's counters: per worker, single writer, summed on scrape.
//
// Every block (route, upstream cluster×revision, cluster, listener) holds one cache-line
// aligned slot per worker. A worker only ever writes its own slot (plain load + store, no
// read-modify-write), the admin thread reads every slot with relaxed loads. Blocks are created
// by config compilation (not on the data path) and live as long as the registry (connection
// pools and in-flight requests hold raw pointers to them), so counters survive config changes
// and stay monotonic; /stats shows only the blocks the current config uses.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_set>
#include <utility>

namespace tessera::mesh::proxy {

struct TcpProxyStats;  // tcp_proxy.h

/// A counter with one writer thread.
struct Counter {
  std::atomic<uint64_t> v{0};
  void add(uint64_t d = 1) {
    v.store(v.load(std::memory_order_relaxed) + d, std::memory_order_relaxed);
  }
  uint64_t get() const { return v.load(std::memory_order_relaxed); }
};

/// A gauge with one writer thread (the per-worker part of a sum).
struct Gauge {
  std::atomic<int64_t> v{0};
  void add(int64_t d) { v.store(v.load(std::memory_order_relaxed) + d, std::memory_order_relaxed); }
  int64_t get() const { return v.load(std::memory_order_relaxed); }
};

/// Latency bucket bounds in seconds.
inline constexpr std::array<double, 14> kLatencyBounds = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

struct LatencyHistogram {
  Counter buckets[kLatencyBounds.size() + 1];  // last: +Inf
  Counter sumMicros;
  void observe(int64_t micros) {
    double s = static_cast<double>(micros) / 1e6;
    size_t i = 0;
    while (i < kLatencyBounds.size() && s > kLatencyBounds[i]) ++i;
    buckets[i].add();
    sumMicros.add(static_cast<uint64_t>(micros < 0 ? 0 : micros));
  }
};

/// Index of a status code's class: 1 for 1xx ... 5 for 5xx, 0 otherwise.
inline size_t codeClass(int status) {
  int c = status / 100;
  return (c >= 1 && c <= 5) ? static_cast<size_t>(c) : 0;
}

/// Per route (table, route): responses sent downstream, and the route's token bucket.
struct alignas(64) RouteWorkerStats {
  Counter responses[6];
  LatencyHistogram latency;
  Counter rateLimited;
  Counter faultAborts;
  Counter faultDelays;
  Counter crossDatacenterForwards;  // unitized: forwarded to another datacenter's gateway
  Counter hopRefused;               // unitized: 502 because the request already hopped
  // Local rate limiting state (this worker's token bucket); not a statistic.
  double tokens = -1;  // -1: not initialised
  int64_t lastRefillNs = 0;
};

/// Per upstream (cluster, revision): tries sent to the cluster's endpoints.
struct alignas(64) UpstreamWorkerStats {
  Counter responses[6];  // by the upstream response's class; 0: no response (failure)
  LatencyHistogram latency;
};

/// Per cluster: connections and failure kinds.
struct alignas(64) ClusterWorkerStats {
  Counter retries;
  Counter connectFailures;
  Counter timeouts;
  Counter resets;
  Counter overflows;  // maxConnectionsPerEndpoint reached
  Counter cxTotal;
  Gauge cxActive;
  Counter noHealthyHost;
};

/// Per listener: downstream connections.
struct alignas(64) ListenerWorkerStats {
  Counter cxTotal;
  Gauge cxActive;
  Counter cxOverflow;  // closed at once because maxConnections was reached
  Counter requests;
};

template <typename W>
class StatsBlock {
 public:
  StatsBlock(size_t workers, std::map<std::string, std::string> labels)
      : labels_(std::move(labels)), workers_(workers), slots_(new W[workers]) {}
  W& at(size_t worker) { return slots_[worker]; }
  const W& at(size_t worker) const { return slots_[worker]; }
  size_t workers() const { return workers_; }
  const std::map<std::string, std::string>& labels() const { return labels_; }

 private:
  std::map<std::string, std::string> labels_;
  size_t workers_;
  std::unique_ptr<W[]> slots_;
};

using RouteStats = StatsBlock<RouteWorkerStats>;
using UpstreamStats = StatsBlock<UpstreamWorkerStats>;
using ClusterStats = StatsBlock<ClusterWorkerStats>;
using ListenerStats = StatsBlock<ListenerWorkerStats>;

/// Owns every stats block. Lookups create on first use and are thread-safe (a mutex: config
/// compilation and scrapes only). Returned pointers stay valid for the registry's lifetime.
class StatsRegistry {
 public:
  explicit StatsRegistry(size_t workers);
  ~StatsRegistry();
  size_t workers() const { return workers_; }

  RouteStats* route(const std::string& table, const std::string& route);
  UpstreamStats* upstream(const std::string& cluster, const std::string& revision);
  ClusterStats* cluster(const std::string& name);
  ListenerStats* listener(const std::string& name);
  /// TCP listeners' counters (shared by the workers: relaxed atomics, see tcp_proxy.h).
  TcpProxyStats* tcp(const std::string& listener);

  /// Prometheus text (per-worker slots summed) of the blocks in `live` — those the config
  /// being served uses (Snapshot::collectStats) — or of every block when `live` is null. A
  /// block left out keeps its counts: if its route or cluster comes back, they resume.
  std::string render(const std::unordered_set<const void*>* live = nullptr) const;

 private:
  size_t workers_;
  mutable std::mutex mu_;
  std::map<std::pair<std::string, std::string>, std::unique_ptr<RouteStats>> routes_;
  std::map<std::pair<std::string, std::string>, std::unique_ptr<UpstreamStats>> upstreams_;
  std::map<std::string, std::unique_ptr<ClusterStats>> clusters_;
  std::map<std::string, std::unique_ptr<ListenerStats>> listeners_;
  std::map<std::string, std::unique_ptr<TcpProxyStats>> tcp_;
};

/// Appends `name{labels} value\n` in Prometheus text format (label values escaped).
void appendSample(std::string& out, std::string_view name,
                  const std::map<std::string, std::string>& labels, double value);

}  // namespace tessera::mesh::proxy
