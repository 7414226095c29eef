// ProxyServer: the proxy's control side. Owns the workers, the listening sockets, the host
// registry and the stats; turns each accepted Config into a Snapshot and publishes it to every
// worker; answers the admin endpoint's questions.
//
// Threads: apply(), reject(), drain() and the read-only accessors may be called from any thread
// (apply() calls are serialised by a mutex). Nothing here runs on a worker's thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"
#include "mesh/config/config.h"
#include "mesh/proxy/health_checker.h"
#include "mesh/proxy/stats.h"
#include "mesh/proxy/worker.h"
#include "mesh/upstream/upstream.h"

namespace tessera::mesh::proxy {

struct ProxyOptions {
  size_t workers = 1;
  WorkerSettings settings;
};

class ProxyServer {
 public:
  explicit ProxyServer(ProxyOptions options);
  ~ProxyServer();
  ProxyServer(const ProxyServer&) = delete;
  ProxyServer& operator=(const ProxyServer&) = delete;

  /// Starts the worker threads (serving nothing until the first apply()).
  void start();
  /// Stops the workers (connections dropped) and closes the listening sockets. Idempotent.
  void stop();

  /// Compiles `config` (validated by the caller), opens the listening sockets it adds and
  /// publishes it to every worker; closes the sockets it removes. On error nothing changes and
  /// the Status says why (the caller records it with reject()).
  Status apply(std::shared_ptr<const Config> config);
  /// Records a refused config: lastError and the rejection counter.
  void reject(const Status& why);

  /// A listening socket as handed between processes (hot restart).
  struct InheritedSocket {
    std::string listener;
    std::string address;
    uint16_t port = 0;
    int fd = -1;  // owned by whoever holds the struct
  };
  /// Listening sockets handed over by a previous process (hot restart). They are used instead
  /// of opening new sockets for their address:port; the ones no listener of the first config
  /// uses are closed by that apply(). Takes ownership of the fds. Call before the first apply().
  void adoptListenerSockets(std::vector<InheritedSocket> sockets);
  /// Duplicates of every listening socket now open (the caller owns the fds), for a hot
  /// restart handing them to a new process. Thread-safe.
  std::vector<InheritedSocket> duplicateListenerSockets() const;

  /// Stops accepting (closing the listening sockets unless `keepSockets`), makes keep-alive
  /// connections close after their request, and turns ready() off.
  void drain(bool keepSockets = false);
  bool draining() const { return draining_.load(); }
  /// A config is applied and the proxy is not draining.
  bool ready() const { return applied_.load() && !draining_.load(); }
  /// Requests in flight on every worker.
  uint64_t inFlight() const;
  /// Open downstream connections on every worker.
  uint64_t connections() const;

  /// Prometheus text of every proxy metric.
  std::string renderStats() const;
  /// The current config as JSON, with its version, lastError and counters.
  std::string configDump() const;
  /// The snapshot now published (nullptr before the first apply()).
  std::shared_ptr<const Snapshot> current() const;

  size_t workers() const { return workers_.size(); }
  StatsRegistry& stats() { return stats_; }

 private:
  struct SocketGroup {
    std::string listener;
    std::string address;
    uint16_t port = 0;
    std::vector<int> fds;  // at least one per worker
  };
  Result<SocketGroup> openSockets(const std::string& key, const Listener& listener);
  void startHealthChecks();

  ProxyOptions options_;
  StatsRegistry stats_;
  HostRegistry hosts_;
  std::vector<std::unique_ptr<Worker>> workers_;
  bool started_ = false;

  mutable std::mutex mu_;  // guards everything below
  std::shared_ptr<const Snapshot> current_;
  std::map<std::string, SocketGroup> sockets_;  // by socketKey
  std::map<std::string, SocketGroup> adopted_;  // inherited, not yet used by a config
  std::string lastError_;
  std::chrono::system_clock::time_point lastApplied_{};
  uint64_t applies_ = 0;
  uint64_t rejections_ = 0;
  uint64_t seed_;

  // Active health checks run on a thread of their own.
  std::unique_ptr<boost::asio::io_context> checkIo_;
  std::unique_ptr<HealthChecker> healthChecker_;
  std::thread checkThread_;

  std::atomic<bool> applied_{false};
  std::atomic<bool> draining_{false};
};

}  // namespace tessera::mesh::proxy
