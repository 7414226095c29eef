#include "mesh/proxy/snapshot.h"

#include <boost/asio/ip/address.hpp>

#include "mesh/proxy/http_parser.h"

namespace tessera::mesh::proxy {
namespace {

/// The revision label of a target's stats: its own, or, for a whole-cluster target, the
/// revision every endpoint of the cluster carries (the usual case before a release splits
/// traffic), so that traffic per revision is visible without per-host counters.
std::string statsRevision(const WeightedTarget& wt, const Cluster& cluster) {
  if (!wt.revision.empty() || cluster.endpoints.empty()) return wt.revision;
  const std::string& first = cluster.endpoints.front().revision;
  for (const auto& e : cluster.endpoints) {
    if (e.revision != first) return wt.revision;
  }
  return first;
}

Result<CompiledTarget> compileTarget(
    const Target& target, const std::map<std::string, const CompiledCluster*, std::less<>>& byName,
    StatsRegistry& stats, std::string_view where) {
  CompiledTarget out;
  out.sticky = target.stickyByUserId;
  out.revisionHeader = target.revisionHeader;
  for (const auto& wt : target.targets) {
    auto it = byName.find(wt.cluster);
    if (it == byName.end()) {
      return invalidArgument(std::string(where) + ": cluster \"" + wt.cluster +
                             "\" does not exist");
    }
    CompiledWeightedTarget t;
    t.cluster = it->second;
    t.revision = wt.revision;
    t.name = wt.revision.empty() ? wt.cluster : wt.revision;
    t.weight = wt.weight;
    if (wt.revision.empty()) {
      t.hosts = &it->second->hostSet->hosts;
    } else {
      auto r = it->second->hostSet->byRevision.find(wt.revision);
      if (r != it->second->hostSet->byRevision.end()) {
        t.hosts = &r->second;
      } else {
        static const std::vector<std::shared_ptr<Host>> kNone;
        t.hosts = &kNone;
      }
    }
    t.stats = stats.upstream(wt.cluster, statsRevision(wt, *it->second->config));
    out.totalWeight += wt.weight;
    out.targets.push_back(std::move(t));
  }
  return out;
}

}  // namespace

std::string socketKey(std::string_view address, uint16_t port) {
  std::string a(address == "localhost" ? "127.0.0.1" : address);
  if (a.find(':') != std::string::npos) a = "[" + a + "]";
  return a + ":" + std::to_string(port);
}

Result<std::shared_ptr<const Snapshot>> Snapshot::compile(std::shared_ptr<const Config> config,
                                                          HostRegistry& hosts, StatsRegistry& stats,
                                                          size_t workers, uint64_t seed) {
  auto snap = std::shared_ptr<Snapshot>(new Snapshot());
  snap->config_ = std::move(config);
  const Config& cfg = *snap->config_;

  std::map<std::string, const CompiledCluster*, std::less<>> clusterByName;
  for (const auto& cluster : cfg.clusters) {
    for (const auto& ep : cluster.endpoints) {
      boost::system::error_code ec;
      std::string addr = ep.address == "localhost" ? "127.0.0.1" : ep.address;
      boost::asio::ip::make_address(addr, ec);
      if (ec) {
        return invalidArgument("cluster \"" + cluster.name + "\": endpoint address \"" +
                               ep.address + "\" is not an IP address");
      }
    }
    auto cc = std::make_unique<CompiledCluster>();
    cc->config = &cluster;
    // The HostSet keeps its own copy of the cluster config (shared with the snapshot's).
    auto shared = std::shared_ptr<const Cluster>(snap->config_, &cluster);
    cc->hostSet = hosts.build(shared);
    for (size_t w = 0; w < workers; ++w) {
      cc->lbPerWorker.push_back(LoadBalancer::create(cluster.lbPolicy, seed + w * 7919));
    }
    cc->stats = stats.cluster(cluster.name);
    clusterByName[cluster.name] = cc.get();
    snap->clusters_.push_back(std::move(cc));
  }

  std::map<std::string, const CompiledRouteTable*, std::less<>> tableByName;
  for (const auto& table : cfg.routeTables) {
    auto ct = std::make_unique<CompiledRouteTable>();
    ct->name = table.name;
    ct->noRouteStats = stats.route(table.name, "");
    for (const auto& route : table.routes) {
      CompiledRoute cr;
      cr.config = &route;
      cr.stats = stats.route(table.name, route.name);
      const std::string where = "routeTables \"" + table.name + "\" route \"" + route.name + "\"";
      const RouteAction& a = route.action;
      if (a.kind == RouteAction::Kind::kForward) {
        auto t = compileTarget(a.forward, clusterByName, stats, where);
        if (!t.isOk()) return t.status();
        cr.forward = std::move(*t);
      } else if (a.kind == RouteAction::Kind::kUnitized) {
        const UnitizedAction& u = a.unitized;
        cr.unitized.config = &u;
        cr.unitized.shardMap = cfg.findShardMap(u.shardMap);
        if (cr.unitized.shardMap == nullptr) {
          return invalidArgument(where + ": shard map \"" + u.shardMap + "\" does not exist");
        }
        for (const auto& [cell, target] : u.cells) {
          auto t = compileTarget(target, clusterByName, stats, where + " cell \"" + cell + "\"");
          if (!t.isOk()) return t.status();
          cr.unitized.cells.emplace(cell, std::move(*t));
        }
        for (const auto& [dc, cluster] : u.gateways) {
          Target gw;
          gw.targets.push_back(WeightedTarget{cluster, "", 1});
          auto t = compileTarget(gw, clusterByName, stats, where + " gateway \"" + dc + "\"");
          if (!t.isOk()) return t.status();
          cr.unitized.gateways.emplace(dc, std::move(*t));
        }
        if (u.defaultCell == "local" || u.defaultCell.empty()) {
          cr.unitized.defaultCell = u.cells.empty() ? "" : u.cells.begin()->first;
        } else {
          cr.unitized.defaultCell = u.defaultCell;
        }
      }
      ct->routes.push_back(std::move(cr));
    }
    tableByName[table.name] = ct.get();
    snap->tables_.push_back(std::move(ct));
  }

  for (const auto& listener : cfg.listeners) {
    auto cl = std::make_unique<CompiledListener>();
    cl->config = &listener;
    boost::system::error_code ec;
    std::string addr = listener.address == "localhost" ? "127.0.0.1" : listener.address;
    boost::asio::ip::make_address(addr, ec);
    if (ec) {
      return invalidArgument("listener \"" + listener.name + "\": address \"" + listener.address +
                             "\" is not an IP address");
    }
    cl->socketKey = socketKey(addr, listener.port);
    if (listener.protocol == Protocol::kHttp) {
      auto it = tableByName.find(listener.routeTable);
      if (it == tableByName.end()) {
        return invalidArgument("listener \"" + listener.name + "\": route table \"" +
                               listener.routeTable + "\" does not exist");
      }
      cl->routeTable = it->second;
    } else {
      auto it = clusterByName.find(listener.cluster);
      if (it == clusterByName.end()) {
        return invalidArgument("listener \"" + listener.name + "\": cluster \"" + listener.cluster +
                               "\" does not exist");
      }
      cl->cluster = it->second;
    }
    cl->stats = stats.listener(listener.name);
    if (listener.protocol == Protocol::kTcp) cl->tcpStats = stats.tcp(listener.name);
    snap->listeners_.push_back(std::move(cl));
  }
  return std::shared_ptr<const Snapshot>(std::move(snap));
}

void Snapshot::collectStats(std::unordered_set<const void*>& out) const {
  auto addTarget = [&out](const CompiledTarget& t) {
    for (const auto& wt : t.targets) out.insert(wt.stats);
  };
  for (const auto& c : clusters_) out.insert(c->stats);
  for (const auto& table : tables_) {
    out.insert(table->noRouteStats);
    for (const auto& route : table->routes) {
      out.insert(route.stats);
      addTarget(route.forward);
      for (const auto& [cell, t] : route.unitized.cells) addTarget(t);
      for (const auto& [dc, t] : route.unitized.gateways) addTarget(t);
    }
  }
  for (const auto& l : listeners_) {
    out.insert(l->stats);
    out.insert(l->tcpStats);
  }
  out.erase(nullptr);
}

const CompiledListener* Snapshot::findListener(std::string_view key) const {
  for (const auto& l : listeners_) {
    if (l->socketKey == key) return l.get();
  }
  return nullptr;
}

const CompiledRoute* matchRoute(const CompiledRouteTable& table, const RequestHead& head) {
  for (const auto& route : table.routes) {
    const RouteMatch& m = route.config->match;
    if (!m.path.empty()) {
      if (head.path != m.path) continue;
    } else if (!m.prefix.empty() && head.path.substr(0, m.prefix.size()) != m.prefix) {
      continue;
    }
    if (!m.methods.empty()) {
      bool ok = false;
      for (const auto& method : m.methods) {
        if (head.method == method) {
          ok = true;
          break;
        }
      }
      if (!ok) continue;
    }
    bool headersOk = true;
    for (const auto& h : m.headers) {
      bool found = false;
      std::string_view v = head.find(h.name, &found);
      if (!found || (h.exact && v != *h.exact)) {
        headersOk = false;
        break;
      }
    }
    if (!headersOk) continue;
    return &route;
  }
  return nullptr;
}

}  // namespace tessera::mesh::proxy
