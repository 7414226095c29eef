// The proxy's side of the mesh protocol (mesh/proto/mesh.proto): one StreamResources stream
// to the control plane, reconnecting with jittered backoff, answering every response with an
// ACK or a NACK carrying the reason.
//
// No gRPC types in this header: tessera-proxy's data path never includes gRPC.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "mesh/config/config.h"

namespace tessera::mesh {

struct ProxyIdentity {
  std::string id;
  std::string datacenter;
  std::string cell;
  std::string role = "gateway";  // "gateway" | "sidecar"
  std::string listenAddress;     // host:port
  std::string adminAddress;      // host:port
};

struct ConfigClientOptions {
  std::string server;      // host:port of tessera-server's mesh gRPC listener
  std::string token;       // bearer token (APIToken with the "proxy" role); never logged
  std::string caFile;      // PEM; empty = insecure channel (tests on loopback only)
  std::string serverName;  // TLS name override (default: host of `server`)
  ProxyIdentity identity;
  std::string buildVersion;  // tessera-proxy's version, sent in the Node
  /// Reconnecting waits a random time in [d/2, d], d doubling from initialBackoff up to
  /// maxBackoff; a stream on which the server accepted the proxy resets d.
  std::chrono::milliseconds initialBackoff{200};
  std::chrono::milliseconds maxBackoff{5000};
};

/// Applies one type's complete resource set; returns the NACK reason on failure. Called on the
/// client's own thread, one call at a time. The callee must keep its last good config when it
/// returns an error.
using ApplyFn = std::function<Status(ResourceType type, const std::string& version,
                                     const std::vector<ResourceSet::Named>& resources)>;

class ConfigClient {
 public:
  virtual ~ConfigClient() = default;
  /// Starts the stream on a thread of its own; returns at once.
  virtual void start() = 0;
  /// Stops and joins. Idempotent.
  virtual void stop() = 0;
  /// True while a stream is established (the server accepted the proxy's credential).
  virtual bool connected() const = 0;
  /// Responses answered so far with an ACK / with a NACK. Thread-safe.
  virtual std::uint64_t acks() const = 0;
  virtual std::uint64_t nacks() const = 0;

  static std::unique_ptr<ConfigClient> create(ConfigClientOptions options, ApplyFn apply);
};

}  // namespace tessera::mesh
