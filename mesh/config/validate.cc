// Checks: each resource's own fields, then the references between resources.
#include <arpa/inet.h>

#include <map>
#include <set>

#include "common/buckets.h"
#include "mesh/config/config.h"
#include "mesh/config/config_internal.h"
#include "mesh/config/json_reader.h"

namespace tessera::mesh {
namespace detail {
namespace {

// Collects the first error, with paths relative to the resource being checked.
class Checker {
 public:
  bool ok() const { return status_.isOk(); }
  Status status() const { return status_; }
  /// Records "<path>: message" if `bad` and no error yet. Returns !bad.
  bool require(bool good, std::string_view path, std::string_view message) {
    if (!good && ok()) {
      status_ = invalidArgument(path.empty() ? std::string(message)
                                             : std::string(path) + ": " + std::string(message));
    }
    return good;
  }
  void take(Status s) {
    if (ok() && !s.isOk()) status_ = std::move(s);
  }

 private:
  Status status_;
};

bool isTokenChar(char c) {
  // RFC 9110 tchar.
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool isToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!isTokenChar(c)) return false;
  }
  return true;
}

bool isLowerToken(std::string_view s) {
  if (!isToken(s)) return false;
  for (char c : s) {
    if (c >= 'A' && c <= 'Z') return false;
  }
  return true;
}

// Names appear in logs, stats labels and error messages: no spaces, quotes or control bytes.
void checkName(Checker& c, std::string_view path, std::string_view name) {
  if (!c.require(!name.empty(), path, "is required")) return;
  if (!c.require(name.size() <= 253, path, "must be at most 253 characters")) return;
  for (char ch : name) {
    const auto u = static_cast<unsigned char>(ch);
    if (!c.require(u > 0x20 && u != 0x7f && ch != '"' && ch != '\\', path,
                   "must not contain spaces, quotes or control characters")) {
      return;
    }
  }
}

void checkPositive(Checker& c, std::string_view path, Millis d) {
  c.require(d.count() > 0, path, "must be more than 0");
}

void checkTarget(Checker& c, const std::string& path, const Target& t) {
  if (!c.require(!t.targets.empty(), joinPath(path, "targets"), "must not be empty")) return;
  uint64_t total = 0;
  std::map<std::string, std::size_t> revisions;
  for (std::size_t i = 0; i < t.targets.size(); ++i) {
    const WeightedTarget& w = t.targets[i];
    const std::string p =
        t.targets.size() == 1 && w.weight == 1 ? path : indexPath(joinPath(path, "targets"), i);
    checkName(c, joinPath(p, "cluster"), w.cluster);
    c.require(w.weight <= 1'000'000, joinPath(p, "weight"), "must be 0..1000000");
    total += w.weight;
    if (!w.revision.empty()) {
      auto [it, inserted] = revisions.emplace(w.revision, i);
      c.require(
          inserted, joinPath(p, "revision"),
          "revision \"" + w.revision + "\" is also targets[" + std::to_string(it->second) + "]");
    }
  }
  c.require(total > 0, joinPath(path, "targets"), "the weights must not all be 0");
  c.require(t.revisionHeader.empty() || isLowerToken(t.revisionHeader),
            joinPath(path, "revisionHeader"), "must be a lower-case header name");
}

void checkRoute(Checker& c, const Route& r) {
  checkName(c, "name", r.name);
  const RouteMatch& m = r.match;
  if (c.require(m.prefix.empty() != m.path.empty(), "match",
                "set exactly one of prefix and path")) {
    const std::string& p = m.prefix.empty() ? m.path : m.prefix;
    c.require(p.front() == '/', m.prefix.empty() ? "match.path" : "match.prefix",
              "must start with \"/\"");
  }
  for (std::size_t i = 0; i < m.headers.size(); ++i) {
    c.require(isLowerToken(m.headers[i].name), indexPath("match.headers", i) + ".name",
              "must be a lower-case header name");
  }
  for (std::size_t i = 0; i < m.methods.size(); ++i) {
    c.require(
        isToken(m.methods[i]) &&
            m.methods[i] ==
                [&] {
                  std::string u = m.methods[i];
                  for (char& ch : u)
                    ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
                  return u;
                }(),
        indexPath("match.methods", i), "must be an upper-case HTTP method");
  }
  const RouteAction& a = r.action;
  switch (a.kind) {
    case RouteAction::Kind::kForward:
      checkTarget(c, "forward", a.forward);
      break;
    case RouteAction::Kind::kUnitized: {
      const UnitizedAction& u = a.unitized;
      c.require(!u.userId.empty(), "unitized.userId", "must name at least one source");
      for (std::size_t i = 0; i < u.userId.size(); ++i) {
        const UserIdSource& s = u.userId[i];
        const std::string p = indexPath("unitized.userId", i);
        if (s.kind == UserIdSource::Kind::kHeader) {
          c.require(isLowerToken(s.name), p + ".header", "must be a lower-case header name");
        } else {
          c.require(!s.name.empty(),
                    p + (s.kind == UserIdSource::Kind::kCookie ? ".cookie" : ".query"),
                    "must not be empty");
        }
      }
      checkName(c, "unitized.shardMap", u.shardMap);
      for (const auto& [cell, target] : u.cells) {
        checkName(c, "unitized.cells", cell);
        checkTarget(c, "unitized.cells." + cell, target);
      }
      for (const auto& [dc, cluster] : u.gateways) {
        checkName(c, "unitized.gateways", dc);
        checkName(c, "unitized.gateways." + dc, cluster);
      }
      checkName(c, "unitized.defaultCell", u.defaultCell);
      c.require(isLowerToken(u.hopHeader), "unitized.hopHeader",
                "must be a lower-case header name");
      break;
    }
    case RouteAction::Kind::kDirectResponse:
      c.require(a.directResponse.status >= 100 && a.directResponse.status <= 599,
                "directResponse.status", "must be 100..599");
      break;
    case RouteAction::Kind::kRedirect: {
      c.require(!a.redirect.location.empty(), "redirect.location", "is required");
      const uint16_t s = a.redirect.status;
      c.require(s == 301 || s == 302 || s == 303 || s == 307 || s == 308, "redirect.status",
                "must be 301, 302, 303, 307 or 308");
      break;
    }
  }
  checkPositive(c, "timeout", a.timeout);
  c.require(a.retry.maxRetries <= 10, "retry.maxRetries", "must be 0..10");
  if (a.rateLimit) {
    c.require(a.rateLimit->requestsPerSecond > 0, "rateLimit.requestsPerSecond",
              "must be more than 0");
    c.require(a.rateLimit->burst >= 1, "rateLimit.burst", "must be at least 1");
  }
  if (a.fault) {
    c.require(a.fault->delayPercent >= 0 && a.fault->delayPercent <= 100, "fault.delayPercent",
              "must be 0..100");
    c.require(a.fault->abortPercent >= 0 && a.fault->abortPercent <= 100, "fault.abortPercent",
              "must be 0..100");
    c.require(a.fault->abortStatus >= 100 && a.fault->abortStatus <= 599, "fault.abortStatus",
              "must be 100..599");
  }
}

}  // namespace

std::string normalizeAddress(std::string address) {
  return address == "localhost" ? "127.0.0.1" : address;
}

bool isIpLiteral(const std::string& address) {
  unsigned char buffer[sizeof(struct in6_addr)];
  return inet_pton(AF_INET, address.c_str(), buffer) == 1 ||
         inet_pton(AF_INET6, address.c_str(), buffer) == 1;
}

Status checkCluster(const Cluster& cl) {
  Checker c;
  checkName(c, "name", cl.name);
  checkPositive(c, "connectTimeout", cl.connectTimeout);
  checkPositive(c, "idleTimeout", cl.idleTimeout);
  c.require(cl.maxConnectionsPerEndpoint >= 1, "maxConnectionsPerEndpoint", "must be at least 1");
  if (cl.healthCheck) {
    const HealthCheck& h = *cl.healthCheck;
    c.require(!h.path.empty() && h.path.front() == '/', "healthCheck.path",
              "must start with \"/\"");
    checkPositive(c, "healthCheck.interval", h.interval);
    checkPositive(c, "healthCheck.timeout", h.timeout);
    c.require(h.unhealthyThreshold >= 1, "healthCheck.unhealthyThreshold", "must be at least 1");
    c.require(h.healthyThreshold >= 1, "healthCheck.healthyThreshold", "must be at least 1");
  }
  const OutlierDetection& od = cl.outlierDetection;
  c.require(od.consecutive5xx >= 1, "outlierDetection.consecutive5xx", "must be at least 1");
  c.require(od.consecutiveConnectFailures >= 1, "outlierDetection.consecutiveConnectFailures",
            "must be at least 1");
  checkPositive(c, "outlierDetection.baseEjectionTime", od.baseEjectionTime);
  c.require(od.maxEjectionTime >= od.baseEjectionTime, "outlierDetection.maxEjectionTime",
            "must not be less than baseEjectionTime");
  c.require(od.maxEjectionPercent <= 100, "outlierDetection.maxEjectionPercent", "must be 0..100");
  c.require(cl.retryBudget.budgetPercent >= 0 && cl.retryBudget.budgetPercent <= 100,
            "retryBudget.budgetPercent", "must be 0..100");
  std::map<std::pair<std::string, uint16_t>, std::size_t> seen;
  for (std::size_t i = 0; i < cl.endpoints.size() && c.ok(); ++i) {
    const Endpoint& e = cl.endpoints[i];
    const std::string p = indexPath("endpoints", i);
    c.require(isIpLiteral(e.address), p + ".address",
              "\"" + e.address + "\" is not an IP address (or localhost)");
    c.require(e.port >= 1, p + ".port", "must be 1..65535");
    c.require(e.weight >= 1 && e.weight <= 10000, p + ".weight", "must be 1..10000");
    auto [it, inserted] = seen.emplace(std::pair{e.address, e.port}, i);
    c.require(inserted, p,
              e.address + ":" + std::to_string(e.port) + " is also endpoints[" +
                  std::to_string(it->second) + "]");
  }
  return c.status();
}

Status checkShardMap(const ShardMap& m) {
  Checker c;
  checkName(c, "name", m.name);
  if (!c.require(m.bucketCount >= 1 && m.bucketCount <= 100'000, "bucketCount",
                 "must be 1..100000")) {
    return c.status();
  }
  if (!c.require(m.owner.size() == m.bucketCount, "assignments",
                 "must assign " + std::to_string(m.bucketCount) + " buckets, not " +
                     std::to_string(m.owner.size()))) {
    return c.status();
  }
  std::vector<int> unowned;
  std::set<std::string> owners;
  for (std::size_t b = 0; b < m.owner.size(); ++b) {
    if (m.owner[b].empty()) {
      unowned.push_back(static_cast<int>(b));
    } else {
      owners.insert(m.owner[b]);
    }
  }
  c.require(unowned.empty(), "assignments",
            (unowned.size() == 1 ? "bucket " + formatBuckets(unowned) + " has"
                                 : "buckets " + formatBuckets(unowned) + " have") +
                " no owner (every bucket needs one cell)");
  for (const std::string& cell : owners) {
    checkName(c, "assignments", cell);
    auto it = m.cellDatacenter.find(cell);
    c.require(it != m.cellDatacenter.end() && !it->second.empty(), "cells",
              "cell \"" + cell + "\" owns buckets but has no datacenter");
  }
  for (const auto& [cell, dc] : m.cellDatacenter) {
    checkName(c, "cells", cell);
    checkName(c, "cells." + cell + ".datacenter", dc);
  }
  return c.status();
}

Status checkRouteTable(const RouteTable& t) {
  Checker c;
  checkName(c, "name", t.name);
  std::map<std::string, std::size_t> names;
  for (std::size_t i = 0; i < t.routes.size() && c.ok(); ++i) {
    const Route& r = t.routes[i];
    std::string label = indexPath("routes", i);
    if (!r.name.empty()) label += " \"" + r.name + "\"";
    Checker rc;
    checkRoute(rc, r);
    c.take(prefixed(label, rc.status()));
    auto [it, inserted] = names.emplace(r.name, i);
    c.require(inserted, label,
              "the name is also used by routes[" + std::to_string(it->second) + "]");
  }
  return c.status();
}

Status checkListener(const Listener& l) {
  Checker c;
  checkName(c, "name", l.name);
  c.require(isIpLiteral(l.address), "address",
            "\"" + l.address + "\" is not an IP address (or localhost)");
  c.require(l.port >= 1, "port", "must be 1..65535");
  if (l.protocol == Protocol::kHttp) {
    c.require(!l.routeTable.empty(), "routeTable", "is required for an http listener");
    c.require(l.cluster.empty(), "cluster",
              "is for tcp listeners (an http listener routes with routeTable)");
  } else {
    c.require(!l.cluster.empty(), "cluster", "is required for a tcp listener");
    c.require(l.routeTable.empty(), "routeTable", "is for http listeners");
  }
  checkPositive(c, "idleTimeout", l.idleTimeout);
  checkPositive(c, "requestHeadersTimeout", l.requestHeadersTimeout);
  c.require(l.maxConnections >= 1, "maxConnections", "must be at least 1");
  return c.status();
}

namespace {

// Checks one type's resources on their own and that their names are unique; fills `byName`.
template <typename T>
Status checkAll(const std::vector<T>& items, ResourceType type, bool indexed,
                Status (*check)(const T&), std::map<std::string_view, const T*>& byName) {
  std::map<std::string_view, std::size_t> index;
  for (std::size_t i = 0; i < items.size(); ++i) {
    const std::string label = resourceLabel(type, i, items[i].name, indexed);
    if (Status s = check(items[i]); !s.isOk()) return prefixed(label, s);
    auto [it, inserted] = index.emplace(items[i].name, i);
    if (!inserted) {
      return invalidArgument(
          label + ": the name is used twice" +
          (indexed ? " (also " + resourceLabel(type, it->second, "", true) + ")" : std::string()));
    }
    byName.emplace(items[i].name, &items[i]);
  }
  return Status::ok();
}

}  // namespace

Status validateConfig(const Config& config, bool indexed) {
  std::map<std::string_view, const Cluster*> clusters;
  std::map<std::string_view, const ShardMap*> shardMaps;
  std::map<std::string_view, const RouteTable*> routeTables;
  std::map<std::string_view, const Listener*> listeners;
  if (Status s =
          checkAll(config.clusters, ResourceType::kCluster, indexed, &checkCluster, clusters);
      !s.isOk()) {
    return s;
  }
  if (Status s =
          checkAll(config.shardMaps, ResourceType::kShardMap, indexed, &checkShardMap, shardMaps);
      !s.isOk()) {
    return s;
  }
  if (Status s = checkAll(config.routeTables, ResourceType::kRouteTable, indexed, &checkRouteTable,
                          routeTables);
      !s.isOk()) {
    return s;
  }
  if (Status s =
          checkAll(config.listeners, ResourceType::kListener, indexed, &checkListener, listeners);
      !s.isOk()) {
    return s;
  }

  // A route's clusters: they exist and speak HTTP.
  auto httpCluster = [&](Checker& c, const std::string& path, const std::string& name) {
    auto it = clusters.find(name);
    if (!c.require(it != clusters.end(), path, "cluster \"" + name + "\" does not exist")) return;
    c.require(it->second->protocol == Protocol::kHttp, path,
              "cluster \"" + name + "\" is a tcp cluster; routes need http clusters");
  };
  auto target = [&](Checker& c, const std::string& path, const Target& t) {
    for (std::size_t i = 0; i < t.targets.size(); ++i) {
      const std::string p = t.targets.size() == 1 && t.targets[i].weight == 1
                                ? path
                                : indexPath(joinPath(path, "targets"), i);
      httpCluster(c, joinPath(p, "cluster"), t.targets[i].cluster);
    }
  };
  for (std::size_t ti = 0; ti < config.routeTables.size(); ++ti) {
    const RouteTable& table = config.routeTables[ti];
    for (std::size_t ri = 0; ri < table.routes.size(); ++ri) {
      const Route& route = table.routes[ri];
      Checker c;
      const RouteAction& a = route.action;
      if (a.kind == RouteAction::Kind::kForward) {
        target(c, "forward", a.forward);
      } else if (a.kind == RouteAction::Kind::kUnitized) {
        const UnitizedAction& u = a.unitized;
        auto map = shardMaps.find(u.shardMap);
        if (c.require(map != shardMaps.end(), "unitized.shardMap",
                      "shard map \"" + u.shardMap + "\" does not exist") &&
            u.defaultCell != "local") {
          c.require(map->second->cellDatacenter.contains(u.defaultCell), "unitized.defaultCell",
                    "must be \"local\" or a cell of shard map \"" + u.shardMap + "\"; \"" +
                        u.defaultCell + "\" is not");
        }
        for (const auto& [cell, t] : u.cells) target(c, "unitized.cells." + cell, t);
        for (const auto& [dc, cluster] : u.gateways) {
          httpCluster(c, "unitized.gateways." + dc, cluster);
        }
      }
      if (!c.ok()) {
        return prefixed(resourceLabel(ResourceType::kRouteTable, ti, table.name, indexed) + ": " +
                            indexPath("routes", ri) + " \"" + route.name + "\"",
                        c.status());
      }
    }
  }

  std::map<uint16_t, std::vector<std::pair<std::string, std::size_t>>> ports;
  for (std::size_t i = 0; i < config.listeners.size(); ++i) {
    const Listener& l = config.listeners[i];
    const std::string label = resourceLabel(ResourceType::kListener, i, l.name, indexed);
    Checker c;
    if (l.protocol == Protocol::kHttp) {
      c.require(routeTables.contains(l.routeTable), "routeTable",
                "route table \"" + l.routeTable + "\" does not exist");
    } else {
      auto it = clusters.find(l.cluster);
      if (c.require(it != clusters.end(), "cluster",
                    "cluster \"" + l.cluster + "\" does not exist")) {
        c.require(it->second->protocol == Protocol::kTcp, "cluster",
                  "cluster \"" + l.cluster +
                      "\" is an http cluster; a tcp listener needs a "
                      "tcp cluster");
      }
    }
    // One owner per address:port; a wildcard address takes the port on every address.
    for (const auto& [address, other] : ports[l.port]) {
      const bool wildcard =
          address == "0.0.0.0" || address == "::" || l.address == "0.0.0.0" || l.address == "::";
      c.require(!(address == l.address || wildcard), "port",
                l.address + ":" + std::to_string(l.port) + " overlaps listener \"" +
                    config.listeners[other].name + "\" on " + address + ":" +
                    std::to_string(l.port));
    }
    ports[l.port].emplace_back(l.address, i);
    if (!c.ok()) return prefixed(label, c.status());
  }
  return Status::ok();
}

}  // namespace detail

Status validate(const Config& config) {
  return detail::validateConfig(config, true);
}

}  // namespace tessera::mesh
