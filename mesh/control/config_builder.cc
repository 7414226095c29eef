#include "mesh/control/config_builder.h"

#include <arpa/inet.h>

#include <algorithm>
#include <boost/json.hpp>
#include <set>

namespace tessera::mesh::control {
namespace json = boost::json;

namespace {

const json::value* find(const json::object& o, std::string_view path) {
  const json::object* cur = &o;
  while (true) {
    auto dot = path.find('.');
    const json::value* v = cur->if_contains(path.substr(0, dot));
    if (!v || dot == std::string_view::npos) return v;
    if (!v->is_object()) return nullptr;
    cur = &v->get_object();
    path = path.substr(dot + 1);
  }
}

std::string text(const json::object& o, std::string_view path) {
  const json::value* v = find(o, path);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

std::int64_t integer(const json::object& o, std::string_view path, std::int64_t def) {
  const json::value* v = find(o, path);
  if (v && v->is_int64()) return v->get_int64();
  if (v && v->is_uint64()) return static_cast<std::int64_t>(v->get_uint64());
  return def;
}

const json::array* array(const json::object& o, std::string_view path) {
  const json::value* v = find(o, path);
  return v && v->is_array() ? &v->get_array() : nullptr;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

Resource makeResource(std::string name, const json::object& body) {
  Resource r;
  r.name = std::move(name);
  r.json = json::serialize(body);
  r.version = contentHash(r.json);
  return r;
}

std::shared_ptr<const ResourceList> seal(ResourceList list) {
  list.seal();
  return std::make_shared<const ResourceList>(std::move(list));
}

/// The port a replica takes the application's traffic on, or 0.
int trafficPort(const AppInfo& app, const ReplicaInfo& r) {
  std::string name = app.traffic.port;
  if (name.empty() && !app.portNames.empty()) name = app.portNames.front();
  auto it = r.ports.find(name);
  return it == r.ports.end() ? 0 : it->second;
}

json::object endpointJson(const std::string& address, int port, const std::string& cell,
                          const std::string& dc, const std::string& revision,
                          const std::string& replica) {
  json::object e{{"address", address}, {"port", port}};
  if (!cell.empty()) e["cell"] = cell;
  if (!dc.empty()) e["datacenter"] = dc;
  if (!revision.empty()) e["revision"] = revision;
  if (!replica.empty()) e["replica"] = replica;
  return e;
}

struct Endpoint {
  std::string address;
  int port = 0;
  std::string cell, dc, revision, replica;
  bool operator<(const Endpoint& o) const {
    return std::tie(address, port, replica) < std::tie(o.address, o.port, o.replica);
  }
};

json::object clusterJson(const std::string& name, std::vector<Endpoint> endpoints) {
  std::sort(endpoints.begin(), endpoints.end());
  json::array eps;
  for (const auto& e : endpoints)
    eps.push_back(endpointJson(e.address, e.port, e.cell, e.dc, e.revision, e.replica));
  return json::object{{"name", name}, {"endpoints", std::move(eps)}};
}

/// A route's match: the application's prefix, and a Host header when it names one.
json::object matchJson(const std::string& prefix, const std::string& host) {
  json::object m{{"prefix", prefix}};
  if (!host.empty()) {
    m["headers"] = json::array{json::object{{"name", "host"}, {"exact", host}}};
  }
  return m;
}

json::object targetJson(const std::vector<std::pair<std::string, int>>& weighted) {
  if (weighted.size() == 1) return json::object{{"cluster", weighted.front().first}};
  json::array targets;
  for (const auto& [cluster, weight] : weighted) {
    targets.push_back(json::object{{"cluster", cluster}, {"weight", weight}});
  }
  return json::object{{"targets", std::move(targets)}};
}

struct RouteEntry {
  bool hasHost = false;
  std::size_t prefixLength = 0;
  std::string name;
  json::object body;
};

}  // namespace

// ---------------------------------------------------------------------------------------------

std::optional<AppInfo> appFromObject(const json::object& o) {
  const json::value* t = find(o, "spec.traffic");
  if (!t || !t->is_object()) return std::nullopt;
  const json::object& to = t->get_object();
  AppInfo a;
  a.ns = text(o, "metadata.namespace");
  a.name = text(o, "metadata.name");
  a.traffic.port = text(to, "port");
  if (std::string p = text(to, "pathPrefix"); !p.empty()) a.traffic.pathPrefix = p;
  if (const auto* hosts = array(to, "hosts")) {
    for (const auto& h : *hosts) {
      if (h.is_string()) a.traffic.hosts.push_back(lower(std::string(h.get_string())));
    }
  }
  if (const json::value* u = find(to, "unitized"); u && u->is_bool()) {
    a.traffic.unitized = u->get_bool();
  }
  if (const auto* ids = array(to, "userId")) {
    for (const auto& s : *ids) {
      if (!s.is_object()) continue;
      for (const char* kind : {"header", "cookie", "query"}) {
        std::string name = text(s.get_object(), kind);
        if (name.empty()) continue;
        a.traffic.userId.push_back({kind, std::string(kind) == "header" ? lower(name) : name});
      }
    }
  }
  if (std::string d = text(to, "defaultCell"); !d.empty()) a.traffic.defaultCell = d;
  if (std::string s = text(to, "shardMap"); !s.empty()) a.traffic.shardMap = s;
  if (const auto* ports = array(o, "spec.template.ports")) {
    for (const auto& p : *ports) {
      if (p.is_object()) a.portNames.push_back(text(p.get_object(), "name"));
    }
  }
  if (const auto* cells = array(o, "status.cells")) {
    for (const auto& c : *cells) {
      if (c.is_object()) a.cells.push_back(text(c.get_object(), "name"));
    }
  }
  return a;
}

std::optional<ReplicaInfo> replicaFromObject(const json::object& o) {
  ReplicaInfo r;
  r.ns = text(o, "metadata.namespace");
  r.name = text(o, "metadata.name");
  r.application = text(o, "spec.application");
  r.cell = text(o, "spec.cell");
  r.datacenter = text(o, "spec.zone");
  r.revision = text(o, "spec.revision");
  if (r.application.empty() || r.cell.empty()) return std::nullopt;
  const json::value* ready = find(o, "status.ready");
  r.ready = ready && ready->is_bool() && ready->get_bool();
  r.host = text(o, "status.host");
  if (const auto* ports = array(o, "status.ports")) {
    for (const auto& p : *ports) {
      if (!p.is_object()) continue;
      const std::int64_t port = integer(p.get_object(), "port", 0);
      if (port > 0 && port < 65536) r.ports[text(p.get_object(), "name")] = static_cast<int>(port);
    }
  }
  return r;
}

std::optional<ShardMapInfo> shardMapFromObject(const json::object& o) {
  ShardMapInfo s;
  s.name = text(o, "metadata.name");
  s.version = integer(o, "status.version", 0);
  s.bucketCount = static_cast<int>(integer(o, "spec.bucketCount", 100));
  if (const auto* as = array(o, "spec.assignments")) {
    for (const auto& a : *as) {
      if (!a.is_object()) continue;
      s.assignments.emplace_back(text(a.get_object(), "cell"), text(a.get_object(), "buckets"));
    }
  }
  if (s.name.empty()) return std::nullopt;
  return s;
}

std::optional<CellInfo> cellFromObject(const json::object& o) {
  CellInfo c;
  c.name = text(o, "metadata.name");
  if (const auto* cl = array(o, "spec.clusters")) {
    for (const auto& v : *cl) {
      if (v.is_string()) c.clusters.emplace_back(v.get_string());
    }
  }
  if (c.name.empty()) return std::nullopt;
  return c;
}

std::optional<std::string> clusterZoneFromObject(const json::object& o) {
  std::string zone = text(o, "spec.zone");
  if (zone.empty()) return std::nullopt;
  return zone;
}

std::optional<ProxyInfo> proxyFromObject(const json::object& o) {
  ProxyInfo p;
  p.id = text(o, "metadata.name");
  p.datacenter = text(o, "spec.datacenter");
  p.cell = text(o, "spec.cell");
  p.role = text(o, "spec.role");
  p.listenAddress = text(o, "spec.listenAddress");
  const json::value* c = find(o, "status.connected");
  p.connected = c && c->is_bool() && c->get_bool();
  if (p.id.empty()) return std::nullopt;
  return p;
}

std::map<std::string, std::string> MeshWorld::cellDatacenters() const {
  std::map<std::string, std::string> out;
  for (const auto& [name, cell] : cells) {
    for (const auto& member : cell.clusters) {
      auto z = clusterZones.find(member);
      if (z != clusterZones.end()) {
        out[name] = z->second;
        break;
      }
    }
  }
  for (const auto& [key, r] : replicas) {
    if (!r.datacenter.empty()) out.emplace(r.cell, r.datacenter);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

const char* typeUrlOf(Type t) {
  switch (t) {
    case Type::kCluster:
      return "tessera.io/mesh/Cluster";
    case Type::kShardMap:
      return "tessera.io/mesh/ShardMap";
    case Type::kRouteTable:
      return "tessera.io/mesh/RouteTable";
    case Type::kListener:
      return "tessera.io/mesh/Listener";
  }
  return "";
}

const char* typeFieldName(Type t) {
  switch (t) {
    case Type::kCluster:
      return "cluster";
    case Type::kShardMap:
      return "shardMap";
    case Type::kRouteTable:
      return "routeTable";
    case Type::kListener:
      return "listener";
  }
  return "";
}

std::string contentHash(std::string_view text) {
  std::uint64_t h = 14695981039346656037ULL;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  static const char* kHex = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i) {
    out[static_cast<std::size_t>(i)] = kHex[h & 0xf];
    h >>= 4;
  }
  return out;
}

std::string combinedVersion(const std::array<std::string, 4>& v) {
  return contentHash(v[0] + "/" + v[1] + "/" + v[2] + "/" + v[3]);
}

void ResourceList::seal() {
  std::sort(resources.begin(), resources.end(),
            [](const Resource& a, const Resource& b) { return a.name < b.name; });
  std::string all;
  for (const auto& r : resources) {
    all += r.name;
    all += '\0';
    all += r.version;
    all += '\n';
  }
  version = contentHash(all);
}

const Resource* ResourceList::find(const std::string& name) const {
  auto it = std::lower_bound(resources.begin(), resources.end(), name,
                             [](const Resource& r, const std::string& n) { return r.name < n; });
  return it != resources.end() && it->name == name ? &*it : nullptr;
}

std::string appClusterName(const std::string& ns, const std::string& app, const std::string& cell) {
  return ns + "." + app + "." + cell;
}

std::string gatewayClusterName(const std::string& datacenter) {
  return "gateway." + datacenter;
}

bool isIpLiteral(const std::string& host) {
  if (host == "localhost") return true;
  unsigned char buf[16];
  return ::inet_pton(AF_INET, host.c_str(), buf) == 1 ||
         ::inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

std::optional<std::pair<std::string, int>> splitHostPort(const std::string& address) {
  auto colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 >= address.size()) return std::nullopt;
  std::string host = address.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string::npos) {
    return std::nullopt;  // an IPv6 literal needs brackets
  }
  int port = 0;
  for (std::size_t i = colon + 1; i < address.size(); ++i) {
    if (!std::isdigit(static_cast<unsigned char>(address[i]))) return std::nullopt;
    port = port * 10 + (address[i] - '0');
    if (port > 65535) return std::nullopt;
  }
  if (port == 0) return std::nullopt;
  return std::make_pair(host, port);
}

// ---------------------------------------------------------------------------------------------

SharedConfig buildShared(const MeshWorld& world, const ProxyView& view) {
  SharedConfig out;
  const auto cellDc = world.cellDatacenters();
  ResourceList clusters, shardMaps, routeTables;

  // Shard maps: every one whose cells all have a datacenter.
  std::set<std::string> validShardMaps;
  std::set<std::string> datacenters;
  for (const auto& [cell, dc] : cellDc) datacenters.insert(dc);
  for (const auto& [name, sm] : world.shardMaps) {
    json::array assignments;
    json::object cells;
    std::string missing;
    for (const auto& [cell, buckets] : sm.assignments) {
      assignments.push_back(json::object{{"cell", cell}, {"buckets", buckets}});
      auto dc = cellDc.find(cell);
      if (dc == cellDc.end()) {
        missing += (missing.empty() ? "" : ", ") + cell;
        continue;
      }
      cells[cell] = json::object{{"datacenter", dc->second}};
    }
    if (!missing.empty()) {
      out.problems.push_back("shard map " + name +
                             " left out: no datacenter is known for cell(s) " + missing +
                             " (a Cell with member clusters, or replicas, tells it)");
      continue;
    }
    json::object body{{"name", name},
                      {"version", sm.version},
                      {"bucketCount", sm.bucketCount},
                      {"assignments", std::move(assignments)},
                      {"cells", std::move(cells)}};
    shardMaps.resources.push_back(makeResource(name, body));
    validShardMaps.insert(name);
  }

  // Gateway clusters: one per other datacenter, with its connected gateways.
  for (const auto& [id, p] : world.proxies) {
    if (p.role == "gateway" && !p.datacenter.empty()) datacenters.insert(p.datacenter);
  }
  std::map<std::string, std::vector<Endpoint>> gatewayEndpoints;
  for (const auto& dc : datacenters) {
    if (dc != view.datacenter) gatewayEndpoints[dc];
  }
  for (const auto& [id, p] : world.proxies) {
    if (!p.connected || p.role != "gateway" || p.datacenter == view.datacenter) continue;
    auto hp = splitHostPort(p.listenAddress);
    if (!hp || !isIpLiteral(hp->first)) {
      out.problems.push_back("gateway " + id + " left out of " + gatewayClusterName(p.datacenter) +
                             ": its listen address \"" + p.listenAddress +
                             "\" is not an IP literal with a port");
      continue;
    }
    gatewayEndpoints[p.datacenter].push_back({hp->first, hp->second, "", p.datacenter, "", id});
  }
  for (const auto& [dc, eps] : gatewayEndpoints) {
    const std::string name = gatewayClusterName(dc);
    clusters.resources.push_back(makeResource(name, clusterJson(name, eps)));  // eps read below
  }

  // Applications: a cluster per local cell, a route (per host).
  std::map<std::string, std::vector<const ReplicaInfo*>> replicasOf;  // "<ns>/<app>"
  for (const auto& [key, r] : world.replicas) {
    replicasOf[r.ns + "/" + r.application].push_back(&r);
  }
  std::vector<RouteEntry> routes;
  for (const auto& [key, app] : world.apps) {
    const auto& reps = replicasOf[key];
    std::set<std::string> appCells(app.cells.begin(), app.cells.end());
    for (const ReplicaInfo* r : reps) appCells.insert(r->cell);
    std::map<std::string, std::vector<Endpoint>> local;  // local cell → ready endpoints
    std::set<std::string> remoteDcs;
    for (const auto& cell : appCells) {
      auto dc = cellDc.find(cell);
      if (dc == cellDc.end()) continue;
      if (dc->second == view.datacenter) {
        local[cell];
      } else {
        remoteDcs.insert(dc->second);
      }
    }
    for (const ReplicaInfo* r : reps) {
      auto it = local.find(r->cell);
      if (it == local.end() || !r->ready) continue;
      const int port = trafficPort(app, *r);
      if (port == 0 || !isIpLiteral(r->host)) {
        out.problems.push_back(
            "replica " + r->ns + "/" + r->name + " left out: " +
            (port == 0 ? "no traffic port" : "host \"" + r->host + "\" is not an IP literal"));
        continue;
      }
      it->second.push_back({r->host, port, r->cell, r->datacenter, r->revision, r->name});
    }
    std::vector<std::pair<std::string, int>> weighted;  // local cluster → ready endpoints
    json::object cellTargets;
    for (auto& [cell, eps] : local) {
      const std::string name = appClusterName(app.ns, app.name, cell);
      weighted.emplace_back(name, static_cast<int>(eps.size()));
      cellTargets[cell] = json::object{{"cluster", name}};
      clusters.resources.push_back(makeResource(name, clusterJson(name, std::move(eps))));
    }
    // Forwarding to the local cells, by their ready endpoints (all alike when none is ready).
    bool anyReady = false;
    for (const auto& w : weighted) anyReady = anyReady || w.second > 0;
    for (auto& w : weighted) w.second = anyReady ? w.second : 1;
    std::erase_if(weighted, [](const auto& w) { return w.second == 0; });

    json::object action;
    bool unitized = app.traffic.unitized;
    if (unitized && !validShardMaps.count(app.traffic.shardMap)) {
      out.problems.push_back("application " + key + ": shard map \"" + app.traffic.shardMap +
                             "\" is not available; routing to the local cells instead");
      unitized = false;
    }
    if (unitized) {
      json::array userId;
      for (const auto& s : app.traffic.userId) userId.push_back(json::object{{s.kind, s.name}});
      if (userId.empty()) userId.push_back(json::object{{"header", "x-user-id"}});
      json::object gateways;
      for (const auto& [dc, eps] : gatewayEndpoints) gateways[dc] = gatewayClusterName(dc);
      action["unitized"] = json::object{{"userId", std::move(userId)},
                                        {"shardMap", app.traffic.shardMap},
                                        {"cells", std::move(cellTargets)},
                                        {"gateways", std::move(gateways)},
                                        {"defaultCell", app.traffic.defaultCell}};
    } else if (!weighted.empty()) {
      action["forward"] = targetJson(weighted);
    } else {
      // Nothing here: the gateways of the datacenters that run it.
      std::vector<std::pair<std::string, int>> remote;
      for (const auto& dc : remoteDcs) {
        if (gatewayEndpoints.count(dc) && !gatewayEndpoints[dc].empty()) {
          remote.emplace_back(gatewayClusterName(dc), 1);
        }
      }
      if (!remote.empty()) {
        action["forward"] = targetJson(remote);
      } else {
        action["directResponse"] =
            json::object{{"status", 503}, {"body", "no replica of " + key + " is in reach\n"}};
      }
    }
    const std::string base = app.ns + "." + app.name;
    std::vector<std::string> hosts = app.traffic.hosts;
    if (hosts.empty()) hosts.push_back("");
    for (const auto& host : hosts) {
      RouteEntry e;
      e.hasHost = !host.empty();
      e.prefixLength = app.traffic.pathPrefix.size();
      e.name = app.traffic.hosts.size() > 1 ? base + "@" + host : base;
      e.body = json::object{{"name", e.name}, {"match", matchJson(app.traffic.pathPrefix, host)}};
      for (const auto& [k, v] : action) e.body[k] = v;
      routes.push_back(std::move(e));
    }
  }
  // Most specific first: with a host before without, longer prefixes first.
  std::sort(routes.begin(), routes.end(), [](const RouteEntry& a, const RouteEntry& b) {
    if (a.hasHost != b.hasHost) return a.hasHost;
    if (a.prefixLength != b.prefixLength) return a.prefixLength > b.prefixLength;
    return a.name < b.name;
  });
  json::array routeArray;
  for (auto& r : routes) routeArray.push_back(std::move(r.body));
  routeTables.resources.push_back(makeResource(
      kRouteTableName, json::object{{"name", kRouteTableName}, {"routes", std::move(routeArray)}}));

  out.clusters = seal(std::move(clusters));
  out.shardMaps = seal(std::move(shardMaps));
  out.routeTables = seal(std::move(routeTables));
  return out;
}

std::shared_ptr<const ResourceList> buildListeners(const std::string& listenAddress,
                                                   std::vector<std::string>& problems) {
  ResourceList list;
  auto hp = splitHostPort(listenAddress);
  if (!hp) {
    if (!listenAddress.empty())
      problems.push_back("no listener: the listen address \"" + listenAddress +
                         "\" is not host:port");
  } else {
    std::string bind = hp->first == "localhost" ? "127.0.0.1" : hp->first;
    if (!isIpLiteral(bind)) bind = "0.0.0.0";
    list.resources.push_back(
        makeResource(kListenerName, json::object{{"name", kListenerName},
                                                 {"address", bind},
                                                 {"port", hp->second},
                                                 {"routeTable", kRouteTableName}}));
  }
  return seal(std::move(list));
}

ProxyConfig buildProxyConfig(const MeshWorld& world, const ProxyView& view) {
  ProxyConfig c;
  SharedConfig shared = buildShared(world, view);
  c.problems = std::move(shared.problems);
  c.types[0] = shared.clusters;
  c.types[1] = shared.shardMaps;
  c.types[2] = shared.routeTables;
  c.types[3] = buildListeners(view.listenAddress, c.problems);
  c.version = combinedVersion(
      {c.types[0]->version, c.types[1]->version, c.types[2]->version, c.types[3]->version});
  return c;
}

}  // namespace tessera::mesh::control
