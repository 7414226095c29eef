// The mesh configuration: what a tessera-proxy serves. One schema for the standalone --config
// file and for the resources the control plane streams (docs/mesh-config.md).
//
// This header is pure data plus parse/validate/serialise: no I/O, no threads, no Asio. A parsed
// and validated Config is immutable; the proxy compiles it into its runtime snapshot.
#pragma once

#include <boost/json/fwd.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace tessera::mesh {

using Millis = std::chrono::milliseconds;

// ---- clusters (upstreams) ----

/// One upstream address. `address` is an IPv4 or IPv6 literal ("localhost" is accepted and
/// means 127.0.0.1); labels say where it runs and which revision it serves.
struct Endpoint {
  std::string address;
  uint16_t port = 0;
  uint32_t weight = 1;
  std::string cell;
  std::string datacenter;
  std::string revision;
  std::string replica;  // the Replica object it came from (informational)

  friend bool operator==(const Endpoint&, const Endpoint&) = default;
};

struct HealthCheck {
  std::string path = "/healthz";
  Millis interval{1000};
  Millis timeout{1000};
  uint32_t unhealthyThreshold = 2;  // consecutive failures before marked unhealthy
  uint32_t healthyThreshold = 1;    // consecutive successes before healthy again

  friend bool operator==(const HealthCheck&, const HealthCheck&) = default;
};

/// Passive outlier detection: an endpoint that fails in a row is ejected for
/// baseEjectionTime × (times ejected before), capped at maxEjectionTime; never more than
/// maxEjectionPercent of a cluster's endpoints at once.
struct OutlierDetection {
  bool enabled = true;
  uint32_t consecutive5xx = 5;
  uint32_t consecutiveConnectFailures = 3;
  Millis baseEjectionTime{5000};
  Millis maxEjectionTime{300000};
  uint32_t maxEjectionPercent = 50;

  friend bool operator==(const OutlierDetection&, const OutlierDetection&) = default;
};

/// Retries in flight may be at most budgetPercent of requests in flight, or
/// minRetryConcurrency, whichever is larger.
struct RetryBudget {
  double budgetPercent = 20.0;
  uint32_t minRetryConcurrency = 3;

  friend bool operator==(const RetryBudget&, const RetryBudget&) = default;
};

enum class LbPolicy { kRoundRobin, kLeastRequest };  // least request: power of two choices
enum class Protocol { kHttp, kTcp };

struct Cluster {
  std::string name;
  Protocol protocol = Protocol::kHttp;
  LbPolicy lbPolicy = LbPolicy::kRoundRobin;
  Millis connectTimeout{1000};
  Millis idleTimeout{60000};                  // pooled upstream connection idle limit
  uint32_t maxConnectionsPerEndpoint = 1024;  // per worker
  std::optional<HealthCheck> healthCheck;
  OutlierDetection outlierDetection;
  RetryBudget retryBudget;
  std::vector<Endpoint> endpoints;

  friend bool operator==(const Cluster&, const Cluster&) = default;
};

// ---- shard maps (unitized routing) ----

/// User-id bucket → owning cell, and cell → datacenter. A user id's bucket: with
/// bucketCount 100 and a user id ending in two decimal digits, those two digits; otherwise
/// FNV-1a-64 of the user id modulo bucketCount (bucketOf()).
struct ShardMap {
  std::string name;
  uint64_t version = 0;  // the ShardMap object's status.version
  uint32_t bucketCount = 100;
  std::vector<std::string> owner;                     // owner[bucket] = cell; size bucketCount
  std::map<std::string, std::string> cellDatacenter;  // cell → datacenter

  friend bool operator==(const ShardMap&, const ShardMap&) = default;
};

uint32_t bucketOf(std::string_view userId, uint32_t bucketCount);

// ---- route tables ----

struct HeaderMatch {
  std::string name;                  // lower-case
  std::optional<std::string> exact;  // unset: the header must be present

  friend bool operator==(const HeaderMatch&, const HeaderMatch&) = default;
};

struct RouteMatch {
  // Exactly one of prefix and path is set (validate() checks; the parser defaults to "/").
  std::string prefix;  // path prefix ("/" matches all)
  std::string path;    // exact path
  std::vector<HeaderMatch> headers;
  std::vector<std::string> methods;  // upper-case; empty: any

  friend bool operator==(const RouteMatch&, const RouteMatch&) = default;
};

struct UserIdSource {
  enum class Kind { kHeader, kCookie, kQuery } kind = Kind::kHeader;
  std::string name;  // header names lower-case

  friend bool operator==(const UserIdSource&, const UserIdSource&) = default;
};

/// Where a forward goes: one cluster, or a weighted split between revisions (each a cluster,
/// optionally only its endpoints labelled with `revision`).
struct WeightedTarget {
  std::string cluster;
  std::string revision;  // "" = every endpoint of the cluster; also the revision's name
  uint32_t weight = 1;

  friend bool operator==(const WeightedTarget&, const WeightedTarget&) = default;
};
struct Target {
  std::vector<WeightedTarget> targets;  // one element: plain forward
  bool stickyByUserId = false;          // the same user id always gets the same revision
  std::string revisionHeader = "x-tessera-revision";  // forces a revision by name (previews)

  friend bool operator==(const Target&, const Target&) = default;
};

/// Unitized routing: user id → bucket → owning cell. If that cell is in this proxy's
/// datacenter, forward to `cells[cell]`; otherwise forward once to the owning datacenter's
/// gateway (`gateways[datacenter]`, a cluster) with the hop header set. A request that already
/// carries the hop header is never forwarded to another datacenter again (it is served
/// locally if the cell is here, else answered 502 with the reason).
struct UnitizedAction {
  std::vector<UserIdSource> userId;             // tried in order
  std::string shardMap;                         // a ShardMap resource name
  std::map<std::string, Target> cells;          // cell → local target
  std::map<std::string, std::string> gateways;  // datacenter → gateway cluster
  /// No user id: "local" (the cell of `cells` in this datacenter, first by name) or a cell.
  std::string defaultCell = "local";
  std::string hopHeader = "x-tessera-hop";

  friend bool operator==(const UnitizedAction&, const UnitizedAction&) = default;
};

struct DirectResponse {
  uint16_t status = 200;
  std::string body;
  std::string contentType = "text/plain";

  friend bool operator==(const DirectResponse&, const DirectResponse&) = default;
};

struct Redirect {
  std::string location;
  uint16_t status = 302;

  friend bool operator==(const Redirect&, const Redirect&) = default;
};

struct RetryPolicy {
  uint32_t maxRetries = 1;  // attempts beyond the first
  Millis perTryTimeout{0};  // 0: the route timeout
  bool on5xx = true;        // retry a 502/503/504 — only for idempotent methods

  friend bool operator==(const RetryPolicy&, const RetryPolicy&) = default;
};

struct RateLimit {
  double requestsPerSecond = 0;  // per worker's token bucket × workers = per proxy
  uint32_t burst = 0;

  friend bool operator==(const RateLimit&, const RateLimit&) = default;
};

/// Drills: delay and/or abort a share of requests.
struct Fault {
  double delayPercent = 0;
  Millis delay{0};
  double abortPercent = 0;
  uint16_t abortStatus = 503;

  friend bool operator==(const Fault&, const Fault&) = default;
};

struct RouteAction {
  enum class Kind { kForward, kUnitized, kDirectResponse, kRedirect } kind = Kind::kForward;
  Target forward;
  UnitizedAction unitized;
  DirectResponse directResponse;
  Redirect redirect;
  Millis timeout{15000};  // whole request, all tries
  RetryPolicy retry;
  std::optional<RateLimit> rateLimit;
  std::optional<Fault> fault;

  friend bool operator==(const RouteAction&, const RouteAction&) = default;
};

struct Route {
  std::string name;  // unique within its table; the stats label
  RouteMatch match;
  RouteAction action;

  friend bool operator==(const Route&, const Route&) = default;
};

struct RouteTable {
  std::string name;
  std::vector<Route> routes;  // first match wins; no match → 404

  friend bool operator==(const RouteTable&, const RouteTable&) = default;
};

// ---- listeners ----

struct Listener {
  std::string name;
  std::string address = "0.0.0.0";
  uint16_t port = 0;
  Protocol protocol = Protocol::kHttp;
  std::string routeTable;  // kHttp
  std::string cluster;     // kTcp
  Millis idleTimeout{60000};
  Millis requestHeadersTimeout{10000};
  uint32_t maxConnections = 100000;  // per proxy

  friend bool operator==(const Listener&, const Listener&) = default;
};

// ---- the whole configuration ----

struct Config {
  std::string version;
  std::vector<Listener> listeners;
  std::vector<RouteTable> routeTables;
  std::vector<Cluster> clusters;
  std::vector<ShardMap> shardMaps;

  const Cluster* findCluster(std::string_view name) const;
  const RouteTable* findRouteTable(std::string_view name) const;
  const ShardMap* findShardMap(std::string_view name) const;

  friend bool operator==(const Config&, const Config&) = default;
};

/// The resource types of the stream, in the order they are applied on (re)connect.
enum class ResourceType { kCluster, kShardMap, kRouteTable, kListener };
std::string_view typeUrl(ResourceType type);  // "tessera.io/mesh/Cluster", ...
std::optional<ResourceType> resourceTypeFromUrl(std::string_view url);

/// Parses a whole configuration document (the --config file): an object with "version",
/// "listeners", "routeTables", "clusters", "shardMaps". `text` is YAML or JSON. Errors name the
/// resource and field: `clusters[2] "api": endpoints[0].port: must be 1..65535`.
/// Both also run validate(): a Config they return is ready to serve.
Result<Config> parseConfigText(std::string_view text);
Result<Config> parseConfig(const boost::json::value& doc);

/// YAML (or JSON, which is YAML) text → JSON value: quoted scalars stay strings; plain scalars
/// become null, true/false, integers or doubles when they look like one. One document only.
Result<boost::json::value> parseYamlOrJson(std::string_view text);

/// "250ms", "5s", "1m", "1h" (a non-negative integer and a unit) → milliseconds.
Result<Millis> parseDuration(std::string_view text);
/// The shortest exact form of `d` in parseDuration's syntax: 300000 → "5m", 1500 → "1500ms".
std::string formatDuration(Millis d);

/// Cross-reference checks: unique names per type; every route's clusters and shard maps
/// exist; every HTTP listener's route table and TCP listener's cluster exist; no two listeners
/// on one address:port. Errors name what refers to what.
Status validate(const Config& config);

/// The document form of a Config (for /config_dump and tests); parseConfig(toJson(c)) == c.
boost::json::value toJson(const Config& config);

/// Parses one streamed resource (a JSON object) of its type and checks its own fields (not the
/// references to other resources: that is validate()'s). Errors start with the resource:
/// `cluster "shop": endpoints[0].port: must be 1..65535`. ResourceSet::apply also checks that
/// the name inside equals the resource's name on the stream.
Result<Cluster> parseCluster(std::string_view json);
Result<ShardMap> parseShardMap(std::string_view json);
Result<RouteTable> parseRouteTable(std::string_view json);
Result<Listener> parseListener(std::string_view json);

/// The state-of-the-world sets a proxy holds, per type, and the Config they make together.
/// apply() replaces one type's whole set: it parses every resource, builds the candidate
/// Config, validates it and only then commits; on any error nothing changes and the Status
/// says which resource and why (the proxy NACKs with that message).
///
/// Not thread-safe: one owner (the proxy's config client) calls apply(); readers take current()
/// (an immutable snapshot) from that owner.
class ResourceSet {
 public:
  struct Named {
    std::string name;
    std::string json;
  };
  Status apply(ResourceType type, const std::string& version, const std::vector<Named>& resources);

  /// The current Config (version = "<cluster version>/<shardmap>/<routes>/<listeners>").
  std::shared_ptr<const Config> current() const { return current_; }
  /// Last applied version per type ("" before the first apply).
  const std::string& version(ResourceType type) const;

 private:
  std::shared_ptr<const Config> current_ = std::make_shared<const Config>();
  std::string versions_[4];
};

}  // namespace tessera::mesh
