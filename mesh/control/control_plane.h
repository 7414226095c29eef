// MeshControlPlane: the server's side of the mesh protocol (mesh/proto/mesh.proto), in
// tessera-server (docs/mesh-control.md).
//
// - Watches Applications (with spec.traffic), Replicas, Cells, Clusters, ShardMaps and Proxies
//   through the WatchHub and keeps the mesh's view of them in memory (an informer).
// - Each proxy holds one stream, authenticated with an APIToken of role "proxy". For each
//   connected proxy the config builder (config_builder.h) computes the resources it should
//   hold; changes are debounced (a burst within `debounce` is one change, never delayed more
//   than `maxDelay`).
// - Updates go out in an order that never leaves a route pointing at a cluster or shard map the
//   proxy has not acknowledged: clusters and shard maps (added to what the proxy holds) → route
//   tables → listeners → then removals (route tables, then clusters and shard maps). A NACKed
//   version is recorded and retried only after a growing delay, or replaced by a new one.
// - What proxies acknowledge becomes Proxy objects (created on first connect; status on push,
//   ACK, NACK, disconnect, and lastSeenTime at most every `lastSeenInterval`) and each
//   ShardMap's status.rollout (how many reachable proxies hold its version, per datacenter).
//   These writes go through the Registry on a thread of their own, coalesced per object and
//   with a bounded number in flight, so that 1,000 proxies cost bounded PostgreSQL writes.
//
// Threading: protocol state and the world live on one thread (an io_context); status writes on
// a second; gRPC's threads only hand messages over. Public methods are thread-safe.
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

namespace tessera::mesh::control {

struct MeshControlOptions {
  /// host:port for proxies (port 0: any free port, see port()).
  std::string listen = "127.0.0.1:8445";
  /// PEM files: TLS for proxies. Without them only a loopback address is allowed, unless
  /// allowInsecure.
  std::string tlsCertFile, tlsKeyFile;
  bool allowInsecure = false;
  /// Changes within this window are built and pushed together ...
  std::chrono::milliseconds debounce{20};
  /// ... but the first of them waits at most this long.
  std::chrono::milliseconds maxDelay{50};
  /// A connected proxy's lastSeenTime is written at most this often.
  std::chrono::milliseconds lastSeenInterval{30000};
  /// A NACKed version is sent again after this, doubling up to 5 minutes (a new version is sent
  /// at once).
  std::chrono::milliseconds nackRetry{5000};
  /// ShardMap status.rollout is written at most this often per ShardMap.
  std::chrono::milliseconds rolloutInterval{100};
  /// Proxy and ShardMap status writes in flight at once.
  int statusWriters = 4;
  /// A Proxy's status is written this long after its first unwritten change (later changes
  /// join the same write): a push and its ACK cost one write.
  std::chrono::milliseconds statusDelay{250};
  /// Token lookups are cached this long (APIToken changes clear the cache at once).
  std::chrono::seconds authCacheTtl{10};
};

class MeshControlPlane {
 public:
  static Result<std::unique_ptr<MeshControlPlane>> create(
      MeshControlOptions options, const apiserver::KindRegistry& kinds, apiserver::Storage& storage,
      apiserver::WatchHub& hub, apiserver::Registry& registry, prometheus::Registry& metrics);
  ~MeshControlPlane();
  MeshControlPlane(const MeshControlPlane&) = delete;
  MeshControlPlane& operator=(const MeshControlPlane&) = delete;

  /// Loads the world, then listens for proxies. Blocking until ready.
  Status start();
  /// Ends every proxy stream and stops. Idempotent.
  void shutdown();

  /// The port proxies connect to (after start()).
  std::uint16_t port() const;

 private:
  struct Impl;
  explicit MeshControlPlane(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tessera::mesh::control
