// SchedulerController: keeps every Application placed. On any change of Applications,
// Clusters, Cells, ShardMaps or Bindings (and every `resync` for the passage of time) it
// reads the world, runs the placement solver (scheduler/placement.h) over all applications,
// and writes what changed: one Binding per application (the work the federation streams to
// agents) and the application's `Scheduled` condition, which says why replicas are missing.
//
// Failover: the replicas of an application that opted in move off a cluster NotReady for
// longer than the application's grace period — at most `failoverReplicasPerMinute` replicas
// per minute over all applications, so that a flapping or lost datacenter cannot cause a
// storm. A cluster that comes back before its grace period moves nothing.
//
// A Binding without the label tessera.io/managed-by=scheduler was written by hand: the
// scheduler leaves that application alone.
//
// Threading: one thread of its own; public methods are thread-safe.
#pragma once

#include <boost/json/value.hpp>
#include <chrono>
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

namespace tessera::scheduler {

struct SchedulerOptions {
  /// Changes arriving within this window are handled by one pass.
  std::chrono::milliseconds debounce{100};
  /// A pass runs at least this often (grace periods expire without any change).
  std::chrono::milliseconds resync{5000};
  /// Failover moves at most this many replicas per minute, over all applications.
  int failoverReplicasPerMinute = 60;
};

class SchedulerController {
 public:
  static Result<std::unique_ptr<SchedulerController>> create(
      SchedulerOptions options, const apiserver::KindRegistry& kinds, apiserver::Storage& storage,
      apiserver::WatchHub& hub, apiserver::Registry& registry, prometheus::Registry& metrics);
  ~SchedulerController();
  SchedulerController(const SchedulerController&) = delete;
  SchedulerController& operator=(const SchedulerController&) = delete;

  void start();
  /// Stops after the pass in progress. Idempotent.
  void shutdown();

  /// Answers a PlacementReview (what-if; its object as validated JSON): the placement of
  /// every (or the named) application if the given datacenters or clusters were lost and/or
  /// the named applications had other replica counts. Reads the world, writes nothing; may be
  /// called from any executor.
  apiserver::Awaitable<Result<boost::json::value>> review(std::string reviewJson);

 private:
  struct Impl;
  explicit SchedulerController(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// The label that marks a Binding as the scheduler's.
inline constexpr char kManagedByLabel[] = "tessera.io/managed-by";
inline constexpr char kManagedByScheduler[] = "scheduler";

}  // namespace tessera::scheduler
