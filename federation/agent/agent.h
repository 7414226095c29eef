// Agent: the Tessera agent of one member cluster (pull mode).
//
// It registers once (a bootstrap token in exchange for the cluster's credential, kept in a
// file with mode 0600), then keeps one session with the server: it says Hello, applies the
// work the server streams (complete on every connect, changes afterwards) to its Runtime,
// reports what runs whenever that changes, heartbeats, and answers log requests. When the
// server goes away it reconnects with back-off; replicas keep running meanwhile.
//
// Threading: run() blocks on the calling thread and uses a few threads of its own per
// session; stop() may be called from any thread (a signal handler's thread).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>

#include "federation/runtime/runtime.h"

namespace tessera::federation {

struct AgentOptions {
  std::string server;     // host:port of the server's agent endpoint
  std::string caFile;     // PEM CA that signed the server's certificate: TLS
  bool insecure = false;  // plaintext (only for a server on loopback without TLS)
  std::string cluster, region, zone;
  std::string runtimeName = "process";
  std::string credentialFile;  // where the cluster's credential is kept
  std::string bootstrapToken;  // used only while there is no credential
  std::chrono::milliseconds statusCoalesce{200};
  std::chrono::milliseconds reconnectMin{500};
  std::chrono::milliseconds reconnectMax{30000};
};

/// Exit codes of run() (and of tessera-agent).
enum AgentExit : int {
  kAgentStopped = 0,    // stop() was called
  kAgentBadConfig = 2,  // e.g. no credential and no bootstrap token
  kAgentRefused = 3,    // the server refused the credential or the registration
};

class Agent {
 public:
  Agent(AgentOptions options, runtime::Runtime& runtime);
  ~Agent();

  /// Registers if needed, then keeps a session until stop(). Returns an AgentExit.
  int run();
  /// Ends run() soon (the current session is cancelled). Thread-safe.
  void stop();

  /// Whether a session is established (Welcome received). For tests and readiness.
  bool connected() const { return connected_.load(); }

 private:
  struct Session;
  int registerCluster();
  /// One session: returns true when it is worth reconnecting, false when the server refused
  /// us (sets exitCode_).
  bool session();
  bool sleepUnlessStopped(std::chrono::milliseconds d);

  AgentOptions options_;
  runtime::Runtime& runtime_;
  std::string credential_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> connected_{false};
  int exitCode_ = kAgentStopped;
  std::mutex mu_;
  std::condition_variable cv_;
  Session* current_ = nullptr;  // guarded by mu_
};

}  // namespace tessera::federation
