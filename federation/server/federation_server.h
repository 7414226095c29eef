// FederationServer: the server's side of the agent protocol (gRPC, pull mode).
//
// - Registration: single-use BootstrapTokens become a Cluster object and the cluster's own
//   credential (an APIToken with role "agent").
// - Sessions: one Connect stream per cluster; a newer connection of the same cluster replaces
//   the older one.
// - Work: Binding objects are indexed into per-cluster workloads; each cluster gets its
//   complete work when it connects and the changes afterwards, versioned and acknowledged.
// - Health: heartbeats keep Cluster.status (Ready condition, lastHeartbeatTime, capacity and
//   allocatable) current; a closed stream makes the cluster NotReady at once, silence for
//   `heartbeatMisses` intervals makes it Unknown.
// - Status: what agents report becomes Replica objects, and each Application's status
//   (desired and ready replicas per cell and cluster).
// - Logs: a replica's recent lines, fetched on demand through its agent's stream.
//
// Threading: all federation state lives on one thread of its own (an io_context); gRPC's
// threads only hand messages to it. Public methods are thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "apiserver/kind.h"
#include "apiserver/registry.h"
#include "apiserver/storage.h"
#include "apiserver/watch_hub.h"
#include "common/status.h"

namespace prometheus {
class Registry;
}

namespace tessera::federation {

struct FederationOptions {
  /// host:port for agents (port 0: any free port, see port()).
  std::string listen = "127.0.0.1:8444";
  /// PEM files: TLS for agents. Without them only a loopback address is allowed, unless
  /// allowInsecure.
  std::string tlsCertFile, tlsKeyFile;
  bool allowInsecure = false;
  /// Agents send a heartbeat this often (told in Welcome).
  std::chrono::milliseconds heartbeatInterval{10000};
  /// This many intervals without a heartbeat make the cluster's Ready condition Unknown.
  int heartbeatMisses = 3;
  /// lastHeartbeatTime is written at most this often (the Ready condition at once).
  std::chrono::milliseconds heartbeatPersistInterval{10000};
  /// Replica changes are folded into Application.status at most this often per application.
  std::chrono::milliseconds statusDebounce{300};
  /// A log request waits this long for the agent.
  std::chrono::seconds logTimeout{10};
};

class FederationServer {
 public:
  static Result<std::unique_ptr<FederationServer>> create(
      FederationOptions options, const apiserver::KindRegistry& kinds, apiserver::Storage& storage,
      apiserver::WatchHub& hub, apiserver::Registry& registry, prometheus::Registry& metrics);
  ~FederationServer();
  FederationServer(const FederationServer&) = delete;
  FederationServer& operator=(const FederationServer&) = delete;

  /// Indexes the existing Bindings, then listens for agents. Blocking until ready.
  Status start();
  /// Ends every agent session and stops. Idempotent.
  void shutdown();

  /// The port agents connect to (after start()).
  std::uint16_t port() const;

  /// The last `tailLines` lines of a replica (`ns`/`name` of its Replica object), fetched from
  /// its cluster's agent. kUnavailable when the agent is not connected to this server or does
  /// not answer in time; kNotFound for an unknown replica.
  apiserver::Awaitable<Result<std::string>> fetchLogs(std::string ns, std::string name,
                                                      int tailLines);

 private:
  struct Impl;
  explicit FederationServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tessera::federation
