// DemoServer: the HTTP service of tessera-demo-app, a small application that the process
// runtime, the local federation, tests, benchmarks and the web console run as replicas.
//
// It answers every request with who it is (application, revision, cell, replica, ...), can be
// told to fail a share of its requests, to answer slowly or to report itself unhealthy, and
// logs one line per request to stdout.
//
// Beast stays in demo_server.cc; this header only shows the options and the life cycle.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "common/status.h"

namespace tessera::demo {

/// Who this replica is; echoed in every answer. Empty strings are echoed as "".
struct DemoIdentity {
  std::string application, ns, revision, cell, datacenter, cluster, replica;
};

/// Faults injected into ordinary requests (not into /healthz or /admin/faults).
struct DemoFaults {
  int failPercent = 0;  // 0-100: this share of requests answers 500
  int latencyMs = 0;    // 0-60000: every request waits this long before answering
  bool healthy = true;  // false: /healthz answers 503
};

constexpr int kMaxFailPercent = 100;
constexpr int kMaxLatencyMs = 60000;

/// Applies a JSON update of the faults (any subset of "failPercent", "latencyMs", "healthy")
/// to `current`. kInvalidArgument, with a message for the client, when the body is not such
/// an object or a value is out of range; nothing is applied then.
Result<DemoFaults> applyFaultsUpdate(const std::string& body, DemoFaults current);

struct DemoServerOptions {
  std::string address = "127.0.0.1";
  std::uint16_t port = 0;  // 0: any free port (see DemoServer::port())
  DemoIdentity identity;
  DemoFaults faults;
  std::size_t maxBodyBytes = 64 * 1024;             // larger bodies get 413
  std::chrono::milliseconds headerTimeout{10'000};  // first request's header
  std::chrono::milliseconds idleTimeout{60'000};    // between kept-alive requests
  std::chrono::milliseconds bodyTimeout{30'000};    // a request's body
  std::chrono::milliseconds writeTimeout{30'000};   // a response
  std::chrono::milliseconds shutdownGrace{30'000};  // requests in flight at SIGTERM
};

class DemoServer {
 public:
  /// Listens on options.address:options.port and installs the SIGTERM/SIGINT handling.
  /// kInvalidArgument for a bad address, kUnavailable when the port cannot be bound.
  static Result<std::unique_ptr<DemoServer>> create(DemoServerOptions options);
  ~DemoServer();
  DemoServer(const DemoServer&) = delete;
  DemoServer& operator=(const DemoServer&) = delete;

  /// The port actually bound (useful with port 0).
  std::uint16_t port() const;

  /// Serves on the calling thread (the only I/O thread) until SIGTERM or SIGINT; then stops
  /// accepting, closes idle connections, lets requests in flight finish (at most
  /// shutdownGrace) and returns.
  void run();

 private:
  struct Impl;
  explicit DemoServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tessera::demo
