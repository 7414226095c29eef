// The mesh control plane's pure half: API objects → the world as the mesh sees it (MeshWorld)
// → the resources one proxy should hold (docs/mesh-control.md, docs/mesh-config.md).
//
// No I/O, no threads, no clock: the same inputs give the same resources, byte for byte, and so
// the same versions (content hashes). Safe to call from any thread on distinct objects.
#pragma once

#include <array>
#include <boost/json/fwd.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace tessera::mesh::control {

// ---------------------------------------------------------------------------------------------
// The world, as extracted from API objects. Each from*() returns nullopt for an object that
// does not matter to the mesh (e.g. an Application without spec.traffic).

struct UserIdSourceSpec {
  std::string kind;  // "header" | "cookie" | "query"
  std::string name;
  friend bool operator==(const UserIdSourceSpec&, const UserIdSourceSpec&) = default;
};

/// Application.spec.traffic, with its defaults.
struct TrafficSpec {
  std::string port;  // template port name; "" = the first port
  std::string pathPrefix = "/";
  std::vector<std::string> hosts;
  bool unitized = false;
  std::vector<UserIdSourceSpec> userId;  // empty = header x-user-id
  std::string defaultCell = "local";
  std::string shardMap = "default";
  friend bool operator==(const TrafficSpec&, const TrafficSpec&) = default;
};

struct AppInfo {
  std::string ns, name;
  TrafficSpec traffic;
  std::vector<std::string> portNames;  // spec.template.ports, in order
  std::vector<std::string> cells;      // status.cells[].name: where it is placed
  friend bool operator==(const AppInfo&, const AppInfo&) = default;
};

struct ReplicaInfo {
  std::string ns, application, name, cell, datacenter, revision;
  bool ready = false;
  std::string host;
  std::map<std::string, int> ports;  // status.ports: name → port
  friend bool operator==(const ReplicaInfo&, const ReplicaInfo&) = default;
};

struct ShardMapInfo {
  std::string name;
  std::int64_t version = 0;  // status.version
  int bucketCount = 100;
  std::vector<std::pair<std::string, std::string>> assignments;  // (cell, bucket ranges)
  friend bool operator==(const ShardMapInfo&, const ShardMapInfo&) = default;
};

struct CellInfo {
  std::string name;
  std::vector<std::string> clusters;  // spec.clusters
  friend bool operator==(const CellInfo&, const CellInfo&) = default;
};

/// A proxy as the control plane knows it (its Node, or its Proxy object).
struct ProxyInfo {
  std::string id, datacenter, cell, role, listenAddress;
  bool connected = false;
  friend bool operator==(const ProxyInfo&, const ProxyInfo&) = default;
};

std::optional<AppInfo> appFromObject(const boost::json::object& application);
std::optional<ReplicaInfo> replicaFromObject(const boost::json::object& replica);
std::optional<ShardMapInfo> shardMapFromObject(const boost::json::object& shardMap);
std::optional<CellInfo> cellFromObject(const boost::json::object& cell);
/// A Cluster's datacenter (spec.zone); nullopt without one.
std::optional<std::string> clusterZoneFromObject(const boost::json::object& cluster);
std::optional<ProxyInfo> proxyFromObject(const boost::json::object& proxy);

/// Everything the builder reads. Keys: "<ns>/<name>" for namespaced objects, names otherwise.
struct MeshWorld {
  std::map<std::string, AppInfo> apps;
  std::map<std::string, ReplicaInfo> replicas;
  std::map<std::string, ShardMapInfo> shardMaps;
  std::map<std::string, CellInfo> cells;
  std::map<std::string, std::string> clusterZones;  // member cluster → datacenter
  std::map<std::string, ProxyInfo> proxies;         // by node id

  /// cell → datacenter: the zone of the cell's first member cluster that has one, else the
  /// zone its replicas report.
  std::map<std::string, std::string> cellDatacenters() const;
};

// ---------------------------------------------------------------------------------------------
// Resources.

enum class Type { kCluster = 0, kShardMap = 1, kRouteTable = 2, kListener = 3 };
inline constexpr std::array<Type, 4> kTypes = {Type::kCluster, Type::kShardMap, Type::kRouteTable,
                                               Type::kListener};
const char* typeUrlOf(Type t);      // "tessera.io/mesh/Cluster", ...
const char* typeFieldName(Type t);  // "cluster", "shardMap", "routeTable", "listener"

struct Resource {
  std::string name;
  std::string version;  // content hash of json
  std::string json;     // one object of docs/mesh-config.md
  friend bool operator==(const Resource&, const Resource&) = default;
};

/// One type's complete set, sorted by name; `version` is a hash of the names and versions.
struct ResourceList {
  std::vector<Resource> resources;
  std::string version;
  /// Recomputes `version` (after editing `resources`; keeps them sorted by name).
  void seal();
  const Resource* find(const std::string& name) const;
};

/// 16 hex digits of FNV-1a-64: the versions' hash.
std::string contentHash(std::string_view text);
/// The version of a whole configuration: a hash of the four type versions ("" for each type a
/// proxy holds nothing of yet still hashes, so "never acked" differs from "acked empty").
std::string combinedVersion(const std::array<std::string, 4>& typeVersions);

/// What a proxy is, for the builder: everything its resources depend on.
struct ProxyView {
  std::string datacenter, role, cell, listenAddress;
};

/// The resources of one proxy. Clusters, shard maps and route tables depend only on
/// (datacenter, role, cell), the listener also on listenAddress.
struct ProxyConfig {
  std::array<std::shared_ptr<const ResourceList>, 4> types;
  std::string version;                // combinedVersion of the four
  std::vector<std::string> problems;  // what was left out and why (for the log)
};

inline constexpr char kRouteTableName[] = "tessera";
inline constexpr char kListenerName[] = "http";

/// Clusters, shard maps and the route table for proxies of `view` (listenAddress unused).
struct SharedConfig {
  std::shared_ptr<const ResourceList> clusters, shardMaps, routeTables;
  std::vector<std::string> problems;
};
SharedConfig buildShared(const MeshWorld& world, const ProxyView& view);

/// The proxy's listener: HTTP on its listenAddress's port (bound to its host when that is an
/// IP literal, else 0.0.0.0), serving kRouteTableName. Empty without a usable address.
std::shared_ptr<const ResourceList> buildListeners(const std::string& listenAddress,
                                                   std::vector<std::string>& problems);

/// Both of the above.
ProxyConfig buildProxyConfig(const MeshWorld& world, const ProxyView& view);

/// Cluster names: "<ns>.<app>.<cell>" and "gateway.<datacenter>".
std::string appClusterName(const std::string& ns, const std::string& app, const std::string& cell);
std::string gatewayClusterName(const std::string& datacenter);

/// Whether `host` is an IPv4/IPv6 literal or "localhost".
bool isIpLiteral(const std::string& host);
/// "host:port" / "[v6]:port" → (host, port); nullopt when malformed.
std::optional<std::pair<std::string, int>> splitHostPort(const std::string& address);

}  // namespace tessera::mesh::control
