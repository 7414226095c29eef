// The admin endpoint: /stats (Prometheus text), /config_dump (JSON), /ready, POST /drain.
// Runs on a thread and io_context of its own, never on a worker.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/status.h"

namespace tessera::mesh::proxy {

class ProxyServer;

class AdminServer {
 public:
  /// Listens on `address:port` (port 0: any). `onDrain` runs (on the admin thread) when
  /// POST /drain is received, after the response is sent.
  static Result<std::unique_ptr<AdminServer>> create(ProxyServer& proxy, const std::string& address,
                                                     uint16_t port, std::function<void()> onDrain);
  ~AdminServer();
  uint16_t port() const;
  /// Starts the admin thread.
  void start();
  /// Stops and joins. Idempotent.
  void stop();

 private:
  struct Impl;
  explicit AdminServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tessera::mesh::proxy
