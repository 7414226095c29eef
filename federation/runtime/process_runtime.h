// ProcessRuntime: runs every replica as a child process of the agent, on this host. The
// embedded default, and the way to run on plain hosts and VMs.
//
// Each replica is its own process group, started from the workload's command in
// <stateDir>/replicas/<name>/, with its output appended to <stateDir>/logs/<name>.log. It gets
// host ports from a range (PORT, PORT_<NAME>) and its identity (TESSERA_APPLICATION, ...) in
// its environment. Replicas are restarted whenever they exit, with exponential back-off, and
// probed for readiness over HTTP.
//
// Replicas outlive the agent: the destructor leaves them running, and the next
// ProcessRuntime::create() on the same stateDir re-adopts them from <stateDir>/replicas.json
// (matched by pid and process start time), so that an agent restart never runs a replica
// twice. Only stopAll() stops everything.
//
// Threading: one supervisor thread owns the processes, timers and probes; every public method
// may be called from any thread except that supervisor thread (stopAll() blocks on it), and
// onChange callbacks run on it.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "federation/runtime/runtime.h"

namespace tessera::runtime {

struct ProcessRuntimeOptions {
  /// Required: where replicas.json, logs/ and replicas/<name>/ live. Created if missing.
  std::string stateDir;
  /// The address replicas are reached on (status host, probes, the free-port check).
  std::string host = "127.0.0.1";
  /// Host ports are allocated from [first, last], each one checked free by binding it.
  std::pair<std::uint16_t, std::uint16_t> portRange{20000, 29999};
  /// SIGTERM, then this long, then SIGKILL, when a replica is no longer desired.
  std::chrono::milliseconds stopGrace{std::chrono::seconds(10)};
  /// Restart back-off: initial, doubled on each consecutive exit, capped at max; a run that
  /// lasted backoffReset starts the sequence again.
  std::chrono::milliseconds backoffInitial{std::chrono::seconds(1)};
  std::chrono::milliseconds backoffMax{std::chrono::seconds(60)};
  std::chrono::milliseconds backoffReset{std::chrono::seconds(60)};
  /// A replica's log is copied to <name>.log.1 and truncated when it grows past this, checked
  /// every logCheckInterval.
  std::uint64_t logMaxBytes = 10 * 1024 * 1024;
  std::chrono::milliseconds logCheckInterval{std::chrono::seconds(1)};
  /// The "pods" capacity.
  int maxReplicas = 110;
  /// Added to every replica's environment (e.g. TESSERA_CLUSTER, TESSERA_DATACENTER,
  /// TESSERA_REGION); the workload's own env and the runtime's variables take precedence.
  std::vector<std::pair<std::string, std::string>> extraEnv;
  /// Replaces the measured capacity (CPUs, MemTotal, maxReplicas) when set.
  std::optional<Capacity> capacityOverride;
};

class ProcessRuntime final : public Runtime {
 public:
  /// Creates the state directory if needed, re-adopts the replicas recorded in
  /// <stateDir>/replicas.json that still run (same pid and start time; anything else there
  /// is forgotten) and starts the supervisor thread. kInvalidArgument for bad options,
  /// kUnavailable when the state directory cannot be used.
  static Result<std::unique_ptr<ProcessRuntime>> create(ProcessRuntimeOptions options);

  /// Stops the supervisor thread; leaves every replica running (see stopAll()), to be
  /// re-adopted by the next create() on the same stateDir.
  ~ProcessRuntime() override;
  ProcessRuntime(const ProcessRuntime&) = delete;
  ProcessRuntime& operator=(const ProcessRuntime&) = delete;

  /// Replicas of a workload are named "<application>-<revision>-<cell>-<ordinal>". Those that
  /// match a desired workload (same name and same spec apart from `replicas`) keep running;
  /// those whose spec changed are stopped and then started anew; the others are stopped.
  /// Ignored after stopAll(). A workload whose replica names collide with an earlier one's,
  /// or contain characters other than [A-Za-z0-9._-], is left out (and logged).
  void apply(std::vector<WorkloadSpec> desired) override;
  std::vector<WorkloadStatus> status() override;
  /// Sets the one callback (replacing the previous one; an empty function removes it). Runs on
  /// the supervisor thread, once for any number of changes made before it gets to run. When
  /// onChange() returns, the previous callback is not running and will not run again (unless
  /// it was called from inside that callback).
  void onChange(std::function<void()> callback) override;
  /// Reads <name>.log (and <name>.log.1 when more lines are wanted). Works for a replica
  /// known now, or one that left its log behind on this host.
  Result<std::vector<std::string>> logs(const std::string& replicaName, int tailLines) override;
  Capacity capacity() override;
  Capacity allocatable() override;
  /// Stops every replica (SIGTERM to its process group, `grace`, SIGKILL) and returns once
  /// they are all gone. Afterwards apply() is ignored: this is the agent's orderly exit.
  /// Must not be called on the supervisor thread (i.e. not from an onChange callback).
  void stopAll(std::chrono::seconds grace) override;

 private:
  struct Impl;
  explicit ProcessRuntime(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tessera::runtime
