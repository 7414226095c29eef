#include "scheduler/controller.h"

#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <map>
#include <set>
#include <thread>

#include "apiserver/async_event.h"
#include "apiserver/kinds/kinds.h"
#include "common/buckets.h"
#include "common/crypto.h"
#include "common/logging.h"
#include "common/metrics.h"
#include "common/quantity.h"
#include "common/time_util.h"
#include "scheduler/placement.h"

namespace tessera::scheduler {

namespace net = boost::asio;
namespace json = boost::json;
using apiserver::Awaitable;
using apiserver::Outcome;
using apiserver::schemas::at;
using Clock = std::chrono::steady_clock;

namespace {

constexpr const char* kWatched[] = {"Application", "Cluster", "Cell",
                                    "ShardMap",    "Binding", "ResourceQuota"};

std::string text(const json::object& o, std::string_view path) {
  json::value v = at(o, path);
  return v.is_string() ? std::string(v.get_string()) : std::string();
}

std::int64_t integer(const json::value& v, std::int64_t def) {
  if (v.is_int64()) return v.get_int64();
  if (v.is_uint64()) return static_cast<std::int64_t>(v.get_uint64());
  return def;
}

std::string quantityText(const json::value& v) {
  if (v.is_string()) return std::string(v.get_string());
  if (v.is_number()) return json::serialize(v);
  return "";
}

Resources resourcesOf(const json::value& v) {
  Resources r;
  if (!v.is_object()) return r;
  const auto& o = v.get_object();
  if (const auto* cpu = o.if_contains("cpu"))
    r.cpuMillis = parseQuantityMilli(quantityText(*cpu)).value_or(0);
  if (const auto* mem = o.if_contains("memory"))
    r.memoryBytes = parseQuantity(quantityText(*mem)).value_or(0);
  if (const auto* pods = o.if_contains("pods")) r.pods = integer(*pods, 0);
  return r;
}

std::map<std::string, std::string> labelsOf(const json::object& o) {
  std::map<std::string, std::string> out;
  json::value labels = at(o, "metadata.labels");
  if (!labels.is_object()) return out;
  for (const auto& [k, v] : labels.get_object()) {
    if (v.is_string()) out.emplace(std::string(k), std::string(v.get_string()));
  }
  return out;
}

/// The Ready condition of a Cluster: (ready, since when it is not).
struct ClusterHealth {
  bool ready = false;
  std::optional<SystemTime> notReadySince;
};

ClusterHealth healthOf(const json::object& cluster) {
  ClusterHealth h;
  json::value conds = at(cluster, "status.conditions");
  if (!conds.is_array()) return h;
  for (const auto& c : conds.get_array()) {
    if (!c.is_object() || text(c.get_object(), "type") != "Ready") continue;
    h.ready = text(c.get_object(), "status") == "True";
    if (!h.ready) h.notReadySince = parseRfc3339(text(c.get_object(), "lastTransitionTime"));
  }
  return h;
}

/// The revision of an application's template: its name says what it runs.
std::string revisionName(const std::string& app, const json::value& templ) {
  return app + "-" + sha256Hex(json::serialize(templ)).substr(0, 10);
}

/// One application as the controller sees it.
struct AppState {
  json::object object;                  // the Application
  std::optional<json::object> binding;  // its Binding, if any
  AppRequest request;
  int failoverGraceSeconds = 60;
  std::string revision;
};

}  // namespace

struct SchedulerController::Impl {
  Impl(SchedulerOptions o, const apiserver::KindRegistry& k, apiserver::Storage& s,
       apiserver::WatchHub& h, apiserver::Registry& r)
      : options(o), kinds(k), storage(s), hub(h), registry(r), wake(ioc.get_executor()) {}

  SchedulerOptions options;
  const apiserver::KindRegistry& kinds;
  apiserver::Storage& storage;
  apiserver::WatchHub& hub;
  apiserver::Registry& registry;
  std::shared_ptr<spdlog::logger> log = getLogger("scheduler");

  net::io_context ioc;
  net::executor_work_guard<net::io_context::executor_type> work = net::make_work_guard(ioc);
  std::thread thread;
  apiserver::AsyncEvent wake;
  std::vector<std::shared_ptr<apiserver::WatchHub::Subscription>> subs;
  std::atomic<bool> stopping{false};

  // Failover budget: a token bucket of replicas, refilled per minute.
  double failoverTokens = 0;
  Clock::time_point tokensAt = Clock::now();

  prometheus::Counter* passes = nullptr;
  prometheus::Histogram* passSeconds = nullptr;
  prometheus::Counter* bindingsWritten = nullptr;
  prometheus::Counter* failoverReplicas = nullptr;

  static apiserver::RequestContext systemContext() {
    return apiserver::systemContext("system:scheduler");
  }

  const apiserver::KindInfo& kind(const std::string& name) const { return *kinds.byKind(name); }

  Awaitable<std::vector<json::object>> listAll(std::string kindName) {
    std::vector<json::object> out;
    apiserver::ListQuery q;
    q.kind = kindName;
    q.limit = 1000;
    while (true) {
      auto page = co_await storage.list(q);
      if (!page.isOk()) {
        log->warn("list failed kind={} error=\"{}\"", kindName, page.status().message());
        co_return out;
      }
      for (const auto& item : page->items) out.push_back(json::parse(item.json).as_object());
      if (!page->more) break;
      q.afterNs = page->lastNs;
      q.afterName = page->lastName;
    }
    co_return out;
  }

  Awaitable<void> run() {
    auto timer = std::make_shared<net::steady_timer>(ioc);
    while (!stopping) {
      co_await wake.wait(Clock::now() + options.resync);
      if (stopping) break;
      timer->expires_after(options.debounce);
      boost::system::error_code ec;
      co_await timer->async_wait(net::redirect_error(net::use_awaitable, ec));
      if (stopping) break;
      const auto t0 = Clock::now();
      try {
        co_await pass();
      } catch (const std::exception& e) {
        log->error("scheduling pass failed error=\"{}\"", e.what());
      }
      passes->Increment();
      passSeconds->Observe(std::chrono::duration<double>(Clock::now() - t0).count());
    }
  }

  /// What the scheduler reads of each cluster, to tell a relevant change from a heartbeat.
  std::map<std::string, std::string> clusterFingerprints;  // ioc thread only

  bool clusterChanged(const apiserver::WatchEvent& ev) {
    const std::string name = ev.key.name;
    if (ev.type == apiserver::EventType::kDeleted) {
      clusterFingerprints.erase(name);
      return true;
    }
    const ClusterHealth h = healthOf(ev.object);
    std::string fp = json::serialize(at(ev.object, "spec")) + "|" + (h.ready ? "ready" : "not") +
                     "|" + json::serialize(at(ev.object, "status.capacity"));
    auto [it, added] = clusterFingerprints.emplace(name, fp);
    if (added) return true;
    if (it->second == fp) return false;
    it->second = std::move(fp);
    return true;
  }

  bool takeFailoverBudget(int replicas) {
    const auto now = Clock::now();
    const double perMinute = std::max(1, options.failoverReplicasPerMinute);
    failoverTokens = std::min(
        perMinute,
        failoverTokens + perMinute * std::chrono::duration<double>(now - tokensAt).count() / 60.0);
    tokensAt = now;
    if (failoverTokens < replicas) return false;
    failoverTokens -= replicas;
    return true;
  }

  /// Everything a pass needs, read afresh from the storage.
  struct World {
    Topology topology;
    std::map<std::string, ClusterHealth> health;
    std::vector<json::object> cells;
    std::map<std::string, std::string> phases;
    std::map<std::string, json::object> bindingOf;  // "<ns>/<name>"
    std::vector<AppState> states;                   // applications the scheduler manages
    std::set<std::string> appIds;                   // every application
    std::map<std::string, json::object> quotas;     // namespace → its ResourceQuota
  };

  Awaitable<World> readWorld() {
    World w;
    auto clusters = co_await listAll("Cluster");
    auto cells = co_await listAll("Cell");
    auto shardMaps = co_await listAll("ShardMap");
    auto apps = co_await listAll("Application");
    auto bindings = co_await listAll("Binding");
    auto quotas = co_await listAll("ResourceQuota");
    for (auto& q : quotas) {
      // One per namespace counts: the first by name.
      w.quotas.emplace(text(q, "metadata.namespace"), std::move(q));
    }

    Topology& topology = w.topology;
    std::map<std::string, ClusterHealth>& health = w.health;
    std::map<std::string, std::string> zoneOf;
    for (const auto& c : clusters) {
      ClusterInfo info;
      info.name = text(c, "metadata.name");
      info.region = text(c, "spec.region");
      info.zone = text(c, "spec.zone");
      ClusterHealth h = healthOf(c);
      info.ready = h.ready;
      json::value capacity = at(c, "status.capacity");
      info.allocatable = resourcesOf(capacity.is_object() ? capacity : at(c, "spec.capacity"));
      json::value taints = at(c, "spec.taints");
      if (taints.is_array()) {
        for (const auto& t : taints.get_array()) {
          if (!t.is_object()) continue;
          info.taints.push_back(Taint{text(t.get_object(), "key"), text(t.get_object(), "value"),
                                      text(t.get_object(), "effect")});
        }
      }
      health[info.name] = h;
      zoneOf[info.name] = info.zone;
      topology.clusters.push_back(std::move(info));
    }
    std::map<std::string, int> bucketsOf;
    int bucketCount = 0;
    if (!shardMaps.empty()) {
      // "default" if there is one, else the first by name.
      const json::object* sm = &shardMaps.front();
      for (const auto& m : shardMaps) {
        if (text(m, "metadata.name") == "default") sm = &m;
      }
      bucketCount = static_cast<int>(integer(at(*sm, "spec.bucketCount"), 100));
      json::value assignments = at(*sm, "spec.assignments");
      if (assignments.is_array()) {
        for (const auto& a : assignments.get_array()) {
          if (!a.is_object()) continue;
          auto b = parseBuckets(text(a.get_object(), "buckets"), bucketCount);
          if (b.isOk()) bucketsOf[text(a.get_object(), "cell")] += static_cast<int>(b->size());
        }
      }
    }
    w.phases = cellPhases(cells);
    const auto& phases = w.phases;
    for (const auto& c : cells) {
      CellInfo info;
      info.name = text(c, "metadata.name");
      const std::string type = text(c, "spec.type");
      info.type = type == "GZone"   ? CellType::kGZone
                  : type == "CZone" ? CellType::kCZone
                                    : CellType::kRZone;
      info.region = text(c, "spec.region");
      json::value members = at(c, "spec.clusters");
      if (members.is_array()) {
        for (const auto& m : members.get_array()) {
          if (m.is_string()) info.clusters.emplace_back(m.get_string());
        }
      }
      if (!info.clusters.empty()) info.zone = zoneOf[info.clusters.front()];
      info.labels = labelsOf(c);
      info.active = phases.at(info.name) == "Active";
      if (info.type == CellType::kRZone && bucketCount > 0) {
        info.bucketShare = static_cast<double>(bucketsOf[info.name]) / bucketCount;
      }
      topology.cells.push_back(std::move(info));
    }

    // The applications, with their current placement.
    std::map<std::string, json::object>& bindingOf = w.bindingOf;
    for (auto& b : bindings) {
      bindingOf[text(b, "metadata.namespace") + "/" + text(b, "metadata.name")] = std::move(b);
    }
    std::vector<AppState>& states = w.states;
    std::set<std::string>& appIds = w.appIds;
    for (auto& a : apps) {
      AppState st;
      st.request.ns = text(a, "metadata.namespace");
      st.request.name = text(a, "metadata.name");
      const std::string id = st.request.ns + "/" + st.request.name;
      appIds.insert(id);
      if (auto it = bindingOf.find(id); it != bindingOf.end()) {
        if (labelsOf(it->second)[kManagedByLabel] != kManagedByScheduler) continue;  // by hand
        st.binding = it->second;
        json::value places = at(it->second, "spec.placements");
        if (places.is_array()) {
          for (const auto& p : places.get_array()) {
            if (!p.is_object()) continue;
            const auto& po = p.get_object();
            const int n = static_cast<int>(
                integer(po.contains("replicas") ? po.at("replicas") : json::value(), 0));
            if (n > 0) st.request.current[text(po, "cell")][text(po, "cluster")] += n;
          }
        }
      }
      PlacementPolicy& pol = st.request.policy;
      json::value names = at(a, "spec.placement.cells.names");
      if (names.is_array()) {
        for (const auto& n : names.get_array()) {
          if (n.is_string()) pol.cellNames.emplace_back(n.get_string());
        }
      }
      const std::string type = text(a, "spec.placement.cells.type");
      if (type == "RZone") pol.cellType = CellType::kRZone;
      if (type == "GZone") pol.cellType = CellType::kGZone;
      if (type == "CZone") pol.cellType = CellType::kCZone;
      json::value selector = at(a, "spec.placement.cells.selector");
      if (selector.is_object()) {
        for (const auto& [k, v] : selector.get_object()) {
          if (v.is_string()) pol.cellSelector.emplace(std::string(k), std::string(v.get_string()));
        }
      }
      json::value total = at(a, "spec.placement.totalReplicas");
      if (total.is_number()) {
        pol.totalReplicas = static_cast<int>(integer(total, 0));
      } else {
        pol.replicasPerCell = static_cast<int>(integer(at(a, "spec.placement.replicasPerCell"), 1));
      }
      pol.maxSkew = static_cast<int>(integer(at(a, "spec.placement.maxSkew"), 1));
      pol.priority = static_cast<int>(integer(at(a, "spec.placement.priority"), 0));
      pol.requests = resourcesOf(at(a, "spec.template.resources"));
      json::value tolerations = at(a, "spec.placement.tolerations");
      if (tolerations.is_array()) {
        for (const auto& t : tolerations.get_array()) {
          if (!t.is_object()) continue;
          Toleration tol;
          tol.key = text(t.get_object(), "key");
          tol.op =
              text(t.get_object(), "operator").empty() ? "Equal" : text(t.get_object(), "operator");
          tol.value = text(t.get_object(), "value");
          tol.effect = text(t.get_object(), "effect");
          pol.tolerations.push_back(std::move(tol));
        }
      }
      json::value failover = at(a, "spec.placement.failover.enabled");
      pol.failover = failover.is_bool() && failover.get_bool();
      st.failoverGraceSeconds =
          static_cast<int>(integer(at(a, "spec.placement.failover.gracePeriodSeconds"), 60));
      st.revision = revisionName(st.request.name, at(a, "spec.template"));
      st.object = std::move(a);
      states.push_back(std::move(st));
    }
    w.cells = std::move(cells);
    co_return w;
  }

  Awaitable<void> pass() {
    World w = co_await readWorld();
    co_await writeCellPhases(w.cells, w.phases);
    const Topology& topology = w.topology;
    auto& health = w.health;
    auto& states = w.states;
    const auto now = std::chrono::system_clock::now();
    auto base = TopologyIndex::create(topology);
    if (!base.isOk()) {
      log->warn("topology refused error=\"{}\"", base.status().message());
      co_return;
    }

    // Place: every current placement holds its room, then applications by priority.
    std::sort(states.begin(), states.end(), [](const AppState& x, const AppState& y) {
      if (x.request.policy.priority != y.request.policy.priority)
        return x.request.policy.priority > y.request.policy.priority;
      if (x.request.ns != y.request.ns) return x.request.ns < y.request.ns;
      return x.request.name < y.request.name;
    });
    Usage used(*base);
    std::map<std::string, Resources> nsUsed;  // what each namespace's placements request
    auto total = [](const Placement& p, const Resources& footprint) {
      int n = 0;
      for (const auto& [cell, perCluster] : p) {
        for (const auto& [cluster, r] : perCluster) n += std::max(0, r);
      }
      return footprint * n;
    };
    for (const auto& st : states) {
      used.add(*base, st.request.current, replicaFootprint(st.request.policy));
      nsUsed[st.request.ns] += total(st.request.current, replicaFootprint(st.request.policy));
    }
    for (auto& st : states) {
      const Resources footprint = replicaFootprint(st.request.policy);
      used.add(*base, st.request.current, footprint, -1);
      const TopologyIndex* index = &*base;
      std::optional<TopologyIndex> variant;
      if (st.request.policy.failover) {
        // Clusters NotReady past this application's grace period, holding its replicas.
        std::set<std::string> lost;
        int stranded = 0;
        for (const auto& [cell, perCluster] : st.request.current) {
          for (const auto& [cluster, n] : perCluster) {
            const auto& h = health[cluster];
            if (!h.ready && h.notReadySince &&
                now - *h.notReadySince > std::chrono::seconds(st.failoverGraceSeconds)) {
              lost.insert(cluster);
              stranded += n;
            }
          }
        }
        if (stranded > 0) {
          if (takeFailoverBudget(stranded)) {
            Topology t = topology;
            for (auto& c : t.clusters) c.lost = c.lost || lost.count(c.name) > 0;
            auto v = TopologyIndex::create(std::move(t));
            if (v.isOk()) {
              variant = std::move(v).value();
              index = &*variant;
              failoverReplicas->Increment(stranded);
              log->warn("failover application={}/{} replicas={} from={}", st.request.ns,
                        st.request.name, stranded, *lost.begin());
            }
          } else {
            log->info("failover deferred (rate limit) application={}/{} replicas={}", st.request.ns,
                      st.request.name, stranded);
          }
        }
      }
      // The namespace's quota, less what its other applications request.
      std::optional<Resources> quotaLeft;
      if (auto q = w.quotas.find(st.request.ns); q != w.quotas.end()) {
        Resources hard = quotaOf(q->second);
        quotaLeft = hard - (nsUsed[st.request.ns] - total(st.request.current, footprint));
      }
      // Same clusters, same order: `used` serves the variant index too.
      Decision d = schedule(*index, st.request, used, quotaLeft);
      nsUsed[st.request.ns] += total(d.placement, footprint) - total(st.request.current, footprint);
      co_await write(st, d);
    }

    co_await writeQuotaUsage(w.quotas, nsUsed);

    // Bindings of applications that are gone.
    for (const auto& [id, b] : w.bindingOf) {
      if (w.appIds.count(id) || labelsOf(b)[kManagedByLabel] != kManagedByScheduler) continue;
      auto ctx = systemContext();
      co_await registry.remove(kind("Binding"), text(b, "metadata.namespace"),
                               text(b, "metadata.name"), "", ctx, kWrite);
      log->info("binding removed application={} (deleted)", id);
    }
  }

  static inline const apiserver::WriteOptions kWrite{};

  /// spec.hard of a ResourceQuota; a dimension it does not name is unlimited.
  static Resources quotaOf(const json::object& q) {
    json::value hard = at(q, "spec.hard");
    Resources r = resourcesOf(hard);
    const json::object empty;
    const json::object& h = hard.is_object() ? hard.get_object() : empty;
    if (!h.contains("cpu")) r.cpuMillis = kUnlimited;
    if (!h.contains("memory")) r.memoryBytes = kUnlimited;
    if (!h.contains("pods")) r.pods = kUnlimited;
    return r;
  }

  Awaitable<void> writeQuotaUsage(const std::map<std::string, json::object>& quotas,
                                  std::map<std::string, Resources>& nsUsed) {
    apiserver::WriteOptions w;
    w.statusSubresource = true;
    for (const auto& [ns, q] : quotas) {
      const Resources& u = nsUsed[ns];
      json::object used{{"cpu", formatMilli(u.cpuMillis)},
                        {"memory", formatBytes(u.memoryBytes)},
                        {"pods", u.pods}};
      if (at(q, "status.used") == json::value(used)) continue;
      json::object o = q;
      o["status"] = json::object{{"used", std::move(used)}};
      auto ctx = systemContext();
      std::string body = json::serialize(o);
      co_await registry.update(kind("ResourceQuota"), ns, text(q, "metadata.name"), body, ctx, w);
    }
  }

  /// The phase every cell should have. Draining and Down belong to DR and are kept; a GZone
  /// that another GZone names as its standby is Standby (of two naming each other, the one
  /// with the smaller name is Active); every other cell is Active.
  static std::map<std::string, std::string> cellPhases(const std::vector<json::object>& cells) {
    std::map<std::string, std::string> out;
    std::map<std::string, std::string> gzoneStandby;  // GZone → the GZone it names
    for (const auto& c : cells) {
      if (text(c, "spec.type") == "GZone")
        gzoneStandby[text(c, "metadata.name")] = text(c, "spec.standby");
    }
    for (const auto& c : cells) {
      const std::string name = text(c, "metadata.name");
      const std::string current = text(c, "status.phase");
      if (current == "Draining" || current == "Down") {
        out[name] = current;
        continue;
      }
      bool standby = false;
      if (gzoneStandby.count(name)) {
        for (const auto& [other, itsStandby] : gzoneStandby) {
          if (other == name || itsStandby != name) continue;
          const bool mutual = gzoneStandby[name] == other;
          if (!mutual || other < name) standby = true;
        }
      }
      out[name] = standby ? "Standby" : "Active";
    }
    return out;
  }

  Awaitable<void> writeCellPhases(const std::vector<json::object>& cells,
                                  const std::map<std::string, std::string>& phases) {
    apiserver::WriteOptions w;
    w.statusSubresource = true;
    for (const auto& c : cells) {
      const std::string name = text(c, "metadata.name");
      const std::string& phase = phases.at(name);
      if (text(c, "status.phase") == phase) continue;
      json::object o = c;
      json::object status = o.contains("status") && o["status"].is_object()
                                ? o["status"].as_object()
                                : json::object();
      status["phase"] = phase;
      o["status"] = std::move(status);
      auto ctx = systemContext();
      std::string body = json::serialize(o);
      Outcome r = co_await registry.update(kind("Cell"), "", name, body, ctx, w);
      if (r.ok()) log->info("cell phase cell={} phase={}", name, phase);
    }
  }

  /// Writes the Binding (if the placement or revision changed) and the Scheduled condition.
  Awaitable<void> write(const AppState& st, const Decision& d) {
    const bool keep = d.reason == "NoMatchingCells" || d.reason == "InvalidPolicy";
    if (!keep) co_await writeBinding(st, d);
    co_await writeCondition(st, d);
  }

  Awaitable<void> writeBinding(const AppState& st, const Decision& d) {
    json::array placements;
    for (const auto& [cell, perCluster] : d.placement) {
      for (const auto& [cluster, n] : perCluster) {
        if (n <= 0) continue;
        placements.push_back(json::object{
            {"cluster", cluster}, {"cell", cell}, {"revision", st.revision}, {"replicas", n}});
      }
    }
    json::object spec{
        {"application", st.request.name},
        {"revisions", json::array{json::object{{"name", st.revision},
                                               {"template", at(st.object, "spec.template")}}}},
        {"placements", std::move(placements)}};
    const auto& bindingKind = kind("Binding");
    auto ctx = systemContext();
    if (!st.binding) {
      if (spec["placements"].as_array().empty()) co_return;
      json::object b{
          {"apiVersion", apiserver::kApiVersion},
          {"kind", "Binding"},
          {"metadata",
           json::object{{"name", st.request.name},
                        {"namespace", st.request.ns},
                        {"labels", json::object{{kManagedByLabel, kManagedByScheduler}}}}},
          {"spec", std::move(spec)}};
      std::string body = json::serialize(b);
      Outcome r = co_await registry.create(bindingKind, st.request.ns, body, ctx, kWrite);
      if (!r.ok()) {
        log->warn("binding create failed application={}/{} error=\"{}\"", st.request.ns,
                  st.request.name, r.error->message);
        co_return;
      }
      bindingsWritten->Increment();
      co_return;
    }
    json::object b = *st.binding;
    if (b["spec"] == json::value(spec)) co_return;
    b["spec"] = std::move(spec);
    std::string body = json::serialize(b);
    Outcome r =
        co_await registry.update(bindingKind, st.request.ns, st.request.name, body, ctx, kWrite);
    if (!r.ok()) {
      // 409: it changed meanwhile; the change wakes the next pass.
      if (r.error->code != 409) {
        log->warn("binding update failed application={}/{} error=\"{}\"", st.request.ns,
                  st.request.name, r.error->message);
      }
      co_return;
    }
    bindingsWritten->Increment();
    if (d.moved > 0) {
      log->info("placed application={}/{} replicas={} moved={} reason={}", st.request.ns,
                st.request.name, d.placed, d.moved, d.reason);
    }
  }

  Awaitable<void> writeCondition(const AppState& st, const Decision& d) {
    json::object o = st.object;
    json::object status =
        o.contains("status") && o["status"].is_object() ? o["status"].as_object() : json::object();
    const json::object before = status;
    apiserver::schemas::setCondition(status, "Scheduled",
                                     d.reason == "Scheduled" ? "True" : "False", d.reason,
                                     d.message, formatRfc3339(std::chrono::system_clock::now()));
    if (status == before) co_return;
    o["status"] = std::move(status);
    apiserver::WriteOptions w;
    w.statusSubresource = true;
    auto ctx = systemContext();
    std::string body = json::serialize(o);
    // A 409 (the federation wrote the status meanwhile) is retried by the next pass.
    co_await registry.update(kind("Application"), st.request.ns, st.request.name, body, ctx, w);
  }
};

namespace {

json::array placementJson(const Placement& p) {
  json::array out;
  for (const auto& [cell, perCluster] : p) {
    for (const auto& [cluster, n] : perCluster) {
      if (n > 0) out.push_back(json::object{{"cell", cell}, {"cluster", cluster}, {"replicas", n}});
    }
  }
  return out;
}

}  // namespace

Awaitable<Result<json::value>> SchedulerController::review(std::string reviewJson) {
  auto& im = *impl_;
  json::object rv = json::parse(reviewJson).as_object();
  std::set<std::string> lostZones, lostClusters;
  for (const char* field : {"lostZones", "lostClusters"}) {
    json::value list = at(rv, std::string("spec.") + field);
    if (!list.is_array()) continue;
    for (const auto& v : list.get_array()) {
      if (!v.is_string()) continue;
      (std::string(field) == "lostZones" ? lostZones : lostClusters)
          .insert(std::string(v.get_string()));
    }
  }
  json::value failoverFlag = at(rv, "spec.failover");
  const bool forceFailover = !failoverFlag.is_bool() || failoverFlag.get_bool();
  // (namespace/name) → overrides; empty: report every application.
  std::map<std::string, json::object> only;
  json::value apps = at(rv, "spec.applications");
  if (apps.is_array()) {
    for (const auto& a : apps.get_array()) {
      if (a.is_object())
        only[text(a.get_object(), "namespace") + "/" + text(a.get_object(), "name")] =
            a.get_object();
    }
  }

  Impl::World w = co_await im.readWorld();
  for (const auto& z : lostZones) {
    bool known = false;
    for (const auto& c : w.topology.clusters) known = known || c.zone == z;
    if (!known) co_return invalidArgument("no member cluster is in datacenter \"" + z + "\"");
  }
  for (auto& c : w.topology.clusters) {
    if (lostZones.count(c.zone) || lostClusters.count(c.name)) {
      c.ready = false;
      c.lost = true;
    }
  }
  std::vector<AppRequest> requests;
  std::set<std::string> found;
  for (auto& st : w.states) {
    const std::string id = st.request.ns + "/" + st.request.name;
    if (forceFailover) st.request.policy.failover = true;
    if (auto it = only.find(id); it != only.end()) {
      found.insert(id);
      const json::object& o = it->second;
      if (const auto* per = o.if_contains("replicasPerCell"); per && per->is_number()) {
        st.request.policy.replicasPerCell = static_cast<int>(integer(*per, 1));
        st.request.policy.totalReplicas.reset();
      }
      if (const auto* total = o.if_contains("totalReplicas"); total && total->is_number()) {
        st.request.policy.totalReplicas = static_cast<int>(integer(*total, 0));
        st.request.policy.replicasPerCell.reset();
      }
    }
    requests.push_back(st.request);
  }
  for (const auto& [id, o] : only) {
    if (!found.count(id))
      co_return notFound("application " + id + " not found (or not placed by the scheduler)");
  }
  auto index = TopologyIndex::create(w.topology);
  if (!index.isOk()) co_return index.status();
  std::vector<Decision> decisions = scheduleAll(*index, requests);

  json::array out;
  int complete = 0, shortApps = 0, moved = 0;
  for (std::size_t i = 0; i < decisions.size(); ++i) {
    const Decision& d = decisions[i];
    if (!only.empty() && !only.count(d.ns + "/" + d.name)) continue;
    complete += d.complete;
    shortApps += !d.complete;
    moved += d.moved;
    json::array cells;
    for (const auto& e : d.cells) {
      cells.push_back(json::object{{"name", e.cell},
                                   {"desired", e.desired},
                                   {"placed", e.placed},
                                   {"message", e.message()}});
    }
    out.push_back(json::object{{"namespace", d.ns},
                               {"name", d.name},
                               {"reason", d.reason},
                               {"message", d.message},
                               {"desired", d.desired},
                               {"placed", d.placed},
                               {"moved", d.moved},
                               {"current", placementJson(requests[i].current)},
                               {"placement", placementJson(d.placement)},
                               {"cells", std::move(cells)}});
  }
  json::object summary{{"applications", static_cast<std::int64_t>(out.size())},
                       {"complete", complete},
                       {"short", shortApps},
                       {"moved", moved}};
  json::object answer;
  answer["applications"] = std::move(out);
  answer["summary"] = std::move(summary);
  co_return json::value(std::move(answer));
}

Result<std::unique_ptr<SchedulerController>> SchedulerController::create(
    SchedulerOptions options, const apiserver::KindRegistry& kinds, apiserver::Storage& storage,
    apiserver::WatchHub& hub, apiserver::Registry& registry, prometheus::Registry& metrics) {
  for (const char* k : kWatched) {
    if (kinds.byKind(k) == nullptr)
      return internalError(std::string("kind ") + k + " not registered");
  }
  auto impl = std::make_unique<Impl>(options, kinds, storage, hub, registry);
  impl->failoverTokens = std::max(1, options.failoverReplicasPerMinute);
  impl->passes = &prometheus::BuildCounter()
                      .Name("tessera_scheduler_passes_total")
                      .Help("Scheduling passes over every application")
                      .Register(metrics)
                      .Add({});
  impl->passSeconds = &prometheus::BuildHistogram()
                           .Name("tessera_scheduler_pass_seconds")
                           .Help("Duration of a scheduling pass (read, place, write)")
                           .Register(metrics)
                           .Add({}, latencyBuckets());
  impl->bindingsWritten = &prometheus::BuildCounter()
                               .Name("tessera_scheduler_bindings_written_total")
                               .Help("Bindings created or changed by the scheduler")
                               .Register(metrics)
                               .Add({});
  impl->failoverReplicas = &prometheus::BuildCounter()
                                .Name("tessera_scheduler_failover_replicas_total")
                                .Help("Replicas moved off clusters NotReady past their grace")
                                .Register(metrics)
                                .Add({});
  return std::unique_ptr<SchedulerController>(new SchedulerController(std::move(impl)));
}

SchedulerController::SchedulerController(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

SchedulerController::~SchedulerController() {
  shutdown();
}

void SchedulerController::start() {
  auto& im = *impl_;
  for (const char* k : kWatched) {
    // The callback lives in the subscription: it holds the subscription weakly, or the two
    // would keep each other alive past shutdown.
    auto sub = std::make_shared<std::weak_ptr<apiserver::WatchHub::Subscription>>();
    auto notify = im.wake.notifier();
    // Events are only a trigger: every pass reads the world afresh, so the queue is drained
    // and dropped (an overflow changes nothing). A Cluster write that changes only what the
    // scheduler does not read (heartbeat times: a hundred a second with 1,000 agents) wakes
    // nothing.
    const bool clusters = std::string_view(k) == "Cluster";
    auto subscription = im.hub.subscribe(k, [&im, sub, notify, clusters] {
      net::post(im.ioc, [&im, sub, notify, clusters] {
        bool overflowed = false, closed = false;
        auto live = sub->lock();
        if (!live) return;
        auto events = live->drain(overflowed, closed);
        bool relevant = !clusters || overflowed;
        for (const auto& ev : events) {
          if (clusters && im.clusterChanged(*ev)) relevant = true;
        }
        if (relevant) notify();
      });
    });
    *sub = subscription;  // before the first post can run: the loop starts below
    im.subs.push_back(std::move(subscription));
  }
  im.wake.notify();  // the first pass
  net::co_spawn(im.ioc, im.run(), [&im](std::exception_ptr e) {
    if (e) im.log->error("scheduler stopped unexpectedly");
  });
  im.thread = std::thread([&im] { im.ioc.run(); });
  im.log->info("scheduler started resync_ms={} failover_replicas_per_minute={}",
               im.options.resync.count(), im.options.failoverReplicasPerMinute);
}

void SchedulerController::shutdown() {
  auto& im = *impl_;
  if (im.stopping.exchange(true)) return;
  im.wake.notify();
  im.work.reset();
  net::post(im.ioc, [&im] { im.subs.clear(); });
  if (im.thread.joinable()) im.thread.join();
  im.subs.clear();
}

}  // namespace tessera::scheduler
