// The proxy's runtime configuration: a validated Config compiled into what the data path
// reads — listeners by socket address, route tables with their targets resolved to HostSets,
// per-worker load balancers, stats blocks.
//
// A Snapshot is immutable once built (the load balancers inside are per worker and only
// touched by their own worker). Workers hold it through a shared_ptr for as long as any
// request started under it is in flight, so a config change never pulls anything from under
// a request.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "common/status.h"
#include "mesh/config/config.h"
#include "mesh/proxy/stats.h"
#include "mesh/upstream/upstream.h"

namespace tessera::mesh::proxy {

struct CompiledCluster {
  const Cluster* config = nullptr;
  std::shared_ptr<HostSet> hostSet;
  /// One load balancer per worker (index = worker id); each is touched by its worker only.
  std::vector<std::unique_ptr<LoadBalancer>> lbPerWorker;
  ClusterStats* stats = nullptr;
};

struct CompiledWeightedTarget {
  const CompiledCluster* cluster = nullptr;
  std::string revision;  // "" = every endpoint
  std::string name;      // the revision's name, or the cluster's when revision is ""
  uint32_t weight = 1;
  /// The hosts this target uses: the cluster's, or those labelled `revision`.
  const std::vector<std::shared_ptr<Host>>* hosts = nullptr;
  UpstreamStats* stats = nullptr;
};

struct CompiledTarget {
  std::vector<CompiledWeightedTarget> targets;
  uint64_t totalWeight = 0;
  bool sticky = false;
  std::string revisionHeader;
};

struct CompiledUnitized {
  const UnitizedAction* config = nullptr;
  const ShardMap* shardMap = nullptr;
  std::map<std::string, CompiledTarget, std::less<>> cells;     // local cells
  std::map<std::string, CompiledTarget, std::less<>> gateways;  // datacenter → gateway
  std::string defaultCell;  // resolved: a cell name ("" when "local" and no local cell)
};

struct CompiledRoute {
  const Route* config = nullptr;
  RouteStats* stats = nullptr;
  CompiledTarget forward;     // kForward
  CompiledUnitized unitized;  // kUnitized
};

struct CompiledRouteTable {
  std::string name;
  std::vector<CompiledRoute> routes;
  RouteStats* noRouteStats = nullptr;  // requests that matched no route (route label "")
};

struct CompiledListener {
  const Listener* config = nullptr;
  std::string socketKey;  // "address:port", the identity of the listening socket
  const CompiledRouteTable* routeTable = nullptr;  // kHttp
  const CompiledCluster* cluster = nullptr;        // kTcp
  ListenerStats* stats = nullptr;
  TcpProxyStats* tcpStats = nullptr;  // kTcp
};

class Snapshot {
 public:
  /// Compiles `config` (already validated). Fails only on what validate() cannot know (an
  /// address that is not an IP literal).
  static Result<std::shared_ptr<const Snapshot>> compile(std::shared_ptr<const Config> config,
                                                         HostRegistry& hosts, StatsRegistry& stats,
                                                         size_t workers, uint64_t seed);

  const Config& config() const { return *config_; }
  const std::shared_ptr<const Config>& configPtr() const { return config_; }
  const std::string& version() const { return config_->version; }
  const std::vector<std::unique_ptr<CompiledListener>>& listeners() const { return listeners_; }
  const CompiledListener* findListener(std::string_view socketKey) const;
  const std::vector<std::unique_ptr<CompiledCluster>>& clusters() const { return clusters_; }
  /// Adds every stats block this snapshot counts into (StatsRegistry::render's `live`).
  void collectStats(std::unordered_set<const void*>& out) const;

 private:
  std::shared_ptr<const Config> config_;
  std::vector<std::unique_ptr<CompiledCluster>> clusters_;
  std::vector<std::unique_ptr<CompiledRouteTable>> tables_;
  std::vector<std::unique_ptr<CompiledListener>> listeners_;
};

/// "address:port" as the proxy names a listening socket ("0.0.0.0:8080", "[::1]:8080").
std::string socketKey(std::string_view address, uint16_t port);

/// Route selection (pure; used by the HTTP session). Matches path, method and headers.
struct RequestHead;
const CompiledRoute* matchRoute(const CompiledRouteTable& table, const RequestHead& head);

}  // namespace tessera::mesh::proxy
