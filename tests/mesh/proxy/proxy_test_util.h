// Test helpers for tessera-proxy: the real proxy as a child process, in-test HTTP backends
// that count what reaches them and misbehave on request, and a strict keep-alive client that
// never retries (so a failed request through the proxy is always seen).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/http_client.h"
#include "tests/support/process.h"

namespace tessera::testing {

/// A free TCP port on 127.0.0.1 (bound to 0, read back, released).
uint16_t freePort();

/// A YAML flow list of endpoints on 127.0.0.1: "[{address: 127.0.0.1, port: P}, ...]".
std::string endpointList(const std::vector<uint16_t>& ports);

/// A standalone config (version "1"): one HTTP listener `main` on 127.0.0.1:`port` whose one
/// route sends every path to cluster `cluster`, with endpoints on 127.0.0.1 at `endpointPorts`.
/// `routeExtra` adds keys to the route (", retry: {maxRetries: 0}"), `clusterExtra` lines to
/// the cluster ("  healthCheck: {...}\n").
std::string forwardAllConfig(uint16_t port, const std::string& cluster,
                             const std::vector<uint16_t>& endpointPorts,
                             const std::string& routeExtra = "",
                             const std::string& clusterExtra = "");

/// What a TestBackend does with one request.
struct BackendReply {
  enum class Action { kRespond, kClose, kHang } action = Action::kRespond;
  int status = 200;
  std::string body;
  std::map<std::string, std::string> headers;
  std::chrono::milliseconds delay{0};
  bool chunked = false;  // send the body with chunked transfer coding
  /// Answer as keep-alive, then close the connection at once (a server whose idle timeout
  /// ran out).
  bool closeAfterResponse = false;
};

struct BackendRequest {
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};

/// An HTTP/1.1 server on 127.0.0.1:0 with its own thread. By default answers 200 with its
/// name as the body and header x-backend: <name>.
class TestBackend {
 public:
  using Handler = std::function<BackendReply(const BackendRequest&)>;
  explicit TestBackend(std::string name);
  ~TestBackend();

  uint16_t port() const { return port_; }
  const std::string& name() const { return name_; }
  /// Replaces the handler (thread-safe).
  void setHandler(Handler h);

  uint64_t connectionsAccepted() const { return accepted_.load(); }
  uint64_t requests() const { return requests_.load(); }
  uint64_t requests(const std::string& method) const;
  std::optional<BackendRequest> lastRequest() const;
  void resetCounters();

 private:
  struct Impl;
  std::string name_;
  uint16_t port_ = 0;
  std::atomic<uint64_t> accepted_{0};
  std::atomic<uint64_t> requests_{0};
  mutable std::mutex mu_;
  std::map<std::string, uint64_t> byMethod_;
  std::optional<BackendRequest> last_;
  Handler handler_;
  std::unique_ptr<Impl> impl_;
  friend struct Impl;
};

/// One HTTP/1.1 keep-alive connection; no retries, no hidden reconnects except after a
/// response that closed the connection. status 0 = transport failure (error says what).
class StrictClient {
 public:
  StrictClient(std::string host, uint16_t port);
  ~StrictClient();
  HttpResult request(const std::string& method, const std::string& target,
                     const std::string& body = "",
                     const std::map<std::string, std::string>& headers = {});
  HttpResult get(const std::string& target,
                 const std::map<std::string, std::string>& headers = {}) {
    return request("GET", target, "", headers);
  }
  /// Connections opened so far.
  int connects() const { return connects_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int connects_ = 0;
};

/// A tessera-proxy child process serving a config file.
class ProxyProcess {
 public:
  /// Starts the proxy with `configYaml`; waits until /ready answers 200. Returns nullptr (and
  /// records a test failure) if it does not come up.
  static std::unique_ptr<ProxyProcess> start(const std::string& configYaml,
                                             std::vector<std::string> extraArgs = {},
                                             int workers = 2);
  ~ProxyProcess();

  /// Rewrites the config file and sends SIGHUP.
  void reload(const std::string& configYaml);
  void writeConfig(const std::string& configYaml);
  void signal(int sig) { process_->signal(sig); }
  Process& process() { return *process_; }
  uint16_t adminPort() const { return adminPort_; }
  HttpResult admin(const std::string& method, const std::string& target);
  /// The value of one sample of /stats (exact name and label set, labels in any order);
  /// nullopt when absent.
  std::optional<double> stat(const std::string& name,
                             const std::map<std::string, std::string>& labels = {});
  /// /config_dump as JSON text.
  std::string configDump();
  std::string logTail(int lines = 60) const { return tailFile(log_, lines); }
  const std::string& configPath() const { return configPath_; }

 private:
  std::unique_ptr<TempDir> dir_;
  std::string log_;
  std::string configPath_;
  std::unique_ptr<Process> process_;
  uint16_t adminPort_ = 0;
};

/// Path of the tessera-proxy binary under test.
const char* proxyBinary();

}  // namespace tessera::testing
