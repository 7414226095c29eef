// Runtime: how a Tessera agent runs replicas in its member cluster.
//
// The agent turns the work the server streams to it into WorkloadSpecs and hands the complete
// desired set to apply(); the runtime converges on it in the background and reports what it
// observes through status() and onChange(). The protocol between agent and server speaks
// only of workloads and replicas, never of processes or pods, so a Kubernetes runtime
// (Deployments and Services through the Kubernetes API) implements this same interface
// without any change to the protocol: see docs/federation.md.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "common/time_util.h"

namespace tessera::runtime {

struct PortSpec {
  std::string name;    // "http"
  std::uint16_t port;  // the port the application declares it listens on
};

struct ProbeSpec {
  std::string path = "/healthz";  // HTTP GET path
  std::string portName;           // which port to probe; the first port if empty
  int periodSeconds = 5;
  int timeoutSeconds = 1;
};

/// One workload: replicas of one revision of one application in one cell.
struct WorkloadSpec {
  /// Unique within the cluster: "<namespace>/<application>/<revision>/<cell>".
  std::string key;
  std::string ns, application, revision, cell;
  int replicas = 0;
  std::vector<std::string> command;  // executable and fixed arguments
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> env;
  std::vector<PortSpec> ports;
  std::optional<ProbeSpec> readiness;  // none: ready as soon as it runs
  std::int64_t cpuMillis = 0;          // requested per replica
  std::int64_t memoryBytes = 0;
};

enum class ReplicaState {
  kStarting,  // being started, or started and waiting for its first probe
  kRunning,   // running, not (or no longer) ready
  kReady,     // running and passing its readiness probe
  kBackoff,   // exited; waiting to be restarted (exponential back-off)
  kStopping,  // being stopped (no longer desired)
  kFailed,  // cannot be started at all (e.g. the executable does not exist); retried with back-off
};
const char* replicaStateName(ReplicaState s);

struct ReplicaStatus {
  /// Unique within the cluster: "<application>-<revision>-<cell>-<ordinal>".
  std::string name;
  std::string workloadKey;
  int ordinal = 0;
  ReplicaState state = ReplicaState::kStarting;
  bool ready = false;
  int restarts = 0;
  std::optional<int> lastExitCode;             // of the previous run, if it exited
  std::string message;                         // why it is not ready / failed, for humans
  std::string host;                            // where it can be reached, e.g. "127.0.0.1"
  std::map<std::string, std::uint16_t> ports;  // port name → the port it actually listens on
  std::int64_t pid = 0;                        // process runtime only
  std::optional<SystemTime> startedAt;         // of the current run
};

struct WorkloadStatus {
  std::string key;
  int desired = 0;
  int ready = 0;
  int available =
      0;  // ready without interruption for at least the workload's minimum (today: ready)
  int restarts = 0;                     // sum over the replicas
  std::vector<ReplicaStatus> replicas;  // by ordinal
};

struct Capacity {
  std::int64_t cpuMillis = 0;
  std::int64_t memoryBytes = 0;
  std::int64_t pods = 0;
};

class Runtime {
 public:
  virtual ~Runtime() = default;

  /// Makes the runtime run exactly `desired`: starts what is missing, stops what is no
  /// longer desired, scales. Idempotent; returns at once, the work happens in the background.
  /// Until the first apply() after a start, replicas found running (re-adopted) are kept.
  virtual void apply(std::vector<WorkloadSpec> desired) = 0;

  /// What runs now, every workload the runtime knows of (desired or still stopping).
  virtual std::vector<WorkloadStatus> status() = 0;

  /// `callback` runs (on a runtime thread; it must not block) whenever status() changes.
  virtual void onChange(std::function<void()> callback) = 0;

  /// The last `tailLines` lines a replica wrote (stdout and stderr, in order).
  /// kNotFound for an unknown replica.
  virtual Result<std::vector<std::string>> logs(const std::string& replicaName, int tailLines) = 0;

  /// Total and still-free resources of this cluster.
  virtual Capacity capacity() = 0;
  virtual Capacity allocatable() = 0;

  /// Stops every replica: SIGTERM (or the runtime's equivalent), `grace`, then kill. For the
  /// agent's own orderly exit. Blocking.
  virtual void stopAll(std::chrono::seconds grace) = 0;
};

}  // namespace tessera::runtime
