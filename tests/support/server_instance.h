// A real tessera-server process for integration tests, on a database of a PostgresInstance.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/http_client.h"
#include "tests/support/postgres_instance.h"
#include "tests/support/process.h"

namespace tessera::testing {

struct ServerOptions {
  static ServerOptions withArgs(std::vector<std::string> args) {
    ServerOptions o;
    o.extraArgs = std::move(args);
    return o;
  }
  static ServerOptions onDatabase(std::string db) {
    ServerOptions o;
    o.database = std::move(db);
    return o;
  }

  bool tls = false;                    // serve HTTPS with a certificate from a fresh test CA
  std::vector<std::string> extraArgs;  // e.g. {"--history-retention", "1s"}
  std::string database;                // default: a fresh database
  std::uint16_t agentPort = 0;         // where agents connect; default: any free port
};

class ServerInstance {
 public:
  /// Starts the server and waits until it serves; throws with the log tail on failure.
  static std::unique_ptr<ServerInstance> start(PostgresInstance& pg, ServerOptions options = {});
  ~ServerInstance();  // SIGKILL if still running; prints the log tail if the test failed

  Endpoint endpoint() const;
  std::uint16_t port() const { return port_; }
  /// The port agents connect to (gRPC).
  std::uint16_t agentPort() const { return agentPort_; }
  /// The port mesh proxies connect to (gRPC); 0 when the server runs without the mesh.
  std::uint16_t meshPort() const { return meshPort_; }
  /// The CA of the server's certificate ("" without TLS).
  const std::string& caFile() const { return caFile_; }
  const std::string& database() const { return database_; }
  const std::string& adminToken() const { return adminToken_; }
  const std::string& kubeconfigPath() const { return kubeconfig_; }
  const std::string& logPath() const { return log_; }
  /// A client authenticated as the admin (or with `token`).
  HttpClient client() const { return HttpClient(endpoint(), adminToken_); }
  HttpClient client(const std::string& token) const { return HttpClient(endpoint(), token); }

  /// Creates an APIToken for `user` with `role` and returns its secret.
  std::string createToken(const std::string& user, const std::string& role);

  /// SIGTERM and wait for exit; returns the exit code (or -1 on timeout).
  int terminate(std::chrono::seconds timeout = std::chrono::seconds(30));
  Process& process() { return *process_; }

 private:
  ServerInstance() = default;
  std::unique_ptr<TempDir> dir_;
  std::unique_ptr<Process> process_;
  std::string database_, kubeconfig_, log_, caFile_, adminToken_;
  std::uint16_t port_ = 0;
  std::uint16_t agentPort_ = 0;
  std::uint16_t meshPort_ = 0;
  int tokens_ = 0;
};

/// Path of the tessera-server binary under test.
const std::string& serverBinary();

/// A CA and a server certificate for 127.0.0.1 in `dir` (ca.crt, server.crt, server.key).
void makeTestCertificates(const std::string& dir);

}  // namespace tessera::testing
