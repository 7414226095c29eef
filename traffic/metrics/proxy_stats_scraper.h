// ProxyStatsScraper: live traffic for the console (and, later, release analysis), from the
// proxies' own counters.
//
// Every `interval` it lists the Proxy objects (written by the mesh control plane), and for each
// connected one fetches `http://<spec.adminAddress>/stats` (Prometheus text; one HTTP/1.1 GET,
// at most `timeout` from connect to the last byte, at most `maxResponseBytes`), all proxies in
// parallel. The counters go into a TrafficHistory (traffic_history.h), which keeps `retention`
// of points per (datacenter, cell, revision, application).
//
// Threads: one of its own (an io_context) for listing and scraping; never the API server's. The
// admin address must be an IP literal or "localhost" (no DNS lookups without a deadline); an
// unspecified address (0.0.0.0, ::) is reached at the host of the proxy's listenAddress, else
// on loopback.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "apiserver/storage.h"

namespace prometheus {
class Registry;
}

namespace tessera::traffic {

struct ProxyStatsScraperOptions {
  std::chrono::milliseconds interval{2000};
  std::chrono::milliseconds timeout{1000};
  std::chrono::seconds retention{600};
  std::size_t maxResponseBytes = 16 * 1024 * 1024;
};

class ProxyStatsScraper {
 public:
  /// Registers its metrics (tessera_traffic_*). Nothing runs until start().
  ProxyStatsScraper(ProxyStatsScraperOptions options, apiserver::Storage& storage,
                    prometheus::Registry& metrics);
  ~ProxyStatsScraper();  // shutdown()

  /// Starts the thread; the first round runs at once.
  void start();
  /// Stops and joins (a round in flight ends within `timeout`). Idempotent; call before the
  /// storage stops.
  void shutdown();

  /// The TrafficStats JSON of the last `window` (see docs/api.md). Thread-safe; holds a mutex
  /// only while it copies out the points: fine to call from an I/O thread.
  std::string statsJson(std::chrono::seconds window) const;

  /// Rounds completed so far (tests). Thread-safe.
  std::size_t rounds() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tessera::traffic
