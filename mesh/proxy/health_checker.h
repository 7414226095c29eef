// Active HTTP health checks for the hosts of clusters that have a `healthCheck` policy.
//
// Every checked host gets `GET <policy.path>` (HTTP/1.1, `Host: address:port`,
// `Connection: close`, a new connection per check) every policy.interval plus a jitter of up to
// Options::jitterPercent of the interval; the first check comes within that jitter after the
// host is first seen. A 2xx answer within policy.timeout (connect + request + response) is a
// success; anything else — refused, reset, timeout, non-2xx, malformed or oversized response —
// is a failure. Each result goes to Host::onHealthCheck(ok, policy), which flips the host's
// health after unhealthyThreshold failures / healthyThreshold successes in a row.
//
// State is keyed by endpoint (cluster, address, port): update() with a new snapshot keeps the
// schedule of endpoints already checked (reporting to the snapshot's Host object for it: the
// registry may hand out a successor Host when labels change), starts new ones, and stops
// endpoints that are gone (an in-flight check of a removed endpoint is cancelled; its result is
// dropped). A host whose cluster loses its healthCheck policy stops being checked and
// is marked healthy again (so it is not stuck unhealthy with nothing to revive it).
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "mesh/upstream/upstream.h"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace tessera::mesh::proxy {

/// Counters for /stats; relaxed atomics, readable from any thread.
struct HealthCheckerStats {
  std::atomic<uint64_t> checks{0};  // checks completed (success or failure)
  std::atomic<uint64_t> successes{0};
  std::atomic<uint64_t> failures{0};      // all failures, timeouts included
  std::atomic<uint64_t> timeouts{0};      // failures because policy.timeout passed
  std::atomic<uint64_t> hostsChecked{0};  // gauge: hosts currently scheduled
};

class HealthChecker {
 public:
  struct Options {
    uint32_t jitterPercent = 10;               // of the interval, added at random to each wait
    std::size_t maxResponseBytes = 64 * 1024;  // header + body limit of a check response
    uint64_t seed = 0;                         // 0: random
  };

  /// `ioc` runs every check (the proxy's admin/control thread); it must outlive this object.
  HealthChecker(boost::asio::io_context& ioc, Options options);
  /// Stops all checks: may be called from any thread. Running checks are cancelled on the ioc
  /// thread and end without reporting to any host; they finish when the ioc runs next, or are
  /// destroyed with it.
  ~HealthChecker();

  HealthChecker(const HealthChecker&) = delete;
  HealthChecker& operator=(const HealthChecker&) = delete;

  /// Replaces the set of checked clusters (call it on every config swap with every HostSet of
  /// the new snapshot; sets without a healthCheck policy are ignored). Thread-safe: may be
  /// called from any thread; the change is applied on the ioc thread (posted), in call order.
  /// From a vector<shared_ptr<HostSet>> v: update({v.begin(), v.end()}).
  void update(std::vector<std::shared_ptr<const HostSet>> sets);

  /// Stops every check (as update({}) but without marking hosts healthy). Thread-safe (posted).
  void stop();

  const HealthCheckerStats& stats() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;  // shared with the running checks, which outlive us briefly
};

}  // namespace tessera::mesh::proxy
