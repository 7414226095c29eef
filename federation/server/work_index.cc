#include "federation/server/work_index.h"

#include <boost/json.hpp>

#include "common/quantity.h"
#include "federation/protocol.h"

namespace tessera::federation {
namespace json = boost::json;

namespace {

std::string str(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

const json::object* obj(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v && v->is_object() ? &v->get_object() : nullptr;
}

const json::array* arr(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v && v->is_array() ? &v->get_array() : nullptr;
}

std::int64_t integer(const json::object& o, std::string_view key, std::int64_t def) {
  const auto* v = o.if_contains(key);
  if (!v) return def;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64()) return static_cast<std::int64_t>(v->get_uint64());
  if (v->is_double()) return static_cast<std::int64_t>(v->get_double());
  return def;
}

bool same(const pb::Workload& a, const pb::Workload& b) {
  return a.SerializeAsString() == b.SerializeAsString();
}

}  // namespace

std::string convertTemplate(const json::object& t, pb::Template& out) {
  out.Clear();
  if (const auto* c = arr(t, "command")) {
    for (const auto& v : *c) {
      if (v.is_string()) out.add_command(std::string(v.get_string()));
    }
  }
  if (const auto* a = arr(t, "args")) {
    for (const auto& v : *a) {
      if (v.is_string()) out.add_args(std::string(v.get_string()));
    }
  }
  if (const auto* env = arr(t, "env")) {
    for (const auto& e : *env) {
      if (!e.is_object()) continue;
      auto* var = out.add_env();
      var->set_name(str(e.get_object(), "name"));
      var->set_value(str(e.get_object(), "value"));
    }
  }
  if (const auto* ports = arr(t, "ports")) {
    for (const auto& p : *ports) {
      if (!p.is_object()) continue;
      auto* port = out.add_ports();
      port->set_name(str(p.get_object(), "name"));
      port->set_port(static_cast<std::uint32_t>(integer(p.get_object(), "port", 0)));
    }
  }
  if (const auto* res = obj(t, "resources")) {
    for (const char* key : {"cpu", "memory"}) {
      const auto* v = res->if_contains(key);
      if (!v) continue;
      std::string q = v->is_string() ? std::string(v->get_string()) : json::serialize(*v);
      auto parsed = std::string(key) == "cpu" ? parseQuantityMilli(q) : parseQuantity(q);
      if (!parsed) return std::string("unparseable ") + key + " quantity \"" + q + "\"";
      if (std::string(key) == "cpu")
        out.set_cpu_millis(*parsed);
      else
        out.set_memory_bytes(*parsed);
    }
  }
  if (const auto* probe = obj(t, "readinessProbe")) {
    auto* r = out.mutable_readiness();
    if (const auto* get = obj(*probe, "httpGet")) {
      r->set_path(str(*get, "path"));
      r->set_port(str(*get, "port"));
    }
    r->set_period_seconds(static_cast<std::int32_t>(integer(*probe, "periodSeconds", 5)));
    r->set_timeout_seconds(static_cast<std::int32_t>(integer(*probe, "timeoutSeconds", 1)));
  }
  return {};
}

WorkIndex::Changes WorkIndex::upsert(const json::object& binding,
                                     std::vector<std::string>& warnings) {
  const json::object* meta = obj(binding, "metadata");
  const json::object* spec = obj(binding, "spec");
  if (!meta || !spec) {
    warnings.push_back("a Binding without metadata or spec");
    return {};
  }
  const std::string ns = str(*meta, "namespace");
  const std::string name = str(*meta, "name");
  Binding next;
  next.ns = ns;
  next.application = str(*spec, "application");
  std::map<std::string, pb::Template> templates;
  if (const auto* revs = arr(*spec, "revisions")) {
    for (const auto& r : *revs) {
      if (!r.is_object()) continue;
      const json::object* t = obj(r.get_object(), "template");
      if (!t) continue;
      pb::Template converted;
      std::string err = convertTemplate(*t, converted);
      if (!err.empty()) {
        warnings.push_back("binding " + ns + "/" + name + " revision " +
                           str(r.get_object(), "name") + ": " + err);
        continue;
      }
      templates[str(r.get_object(), "name")] = std::move(converted);
    }
  }
  if (const auto* places = arr(*spec, "placements")) {
    for (const auto& p : *places) {
      if (!p.is_object()) continue;
      const auto& po = p.get_object();
      const std::string cluster = str(po, "cluster");
      const std::string cell = str(po, "cell");
      const std::string revision = str(po, "revision");
      const auto replicas = integer(po, "replicas", 0);
      auto t = templates.find(revision);
      if (cluster.empty() || replicas <= 0 || t == templates.end()) continue;
      pb::Workload w;
      w.set_key(workloadKey(ns, next.application, revision, cell));
      w.set_namespace_(ns);
      w.set_application(next.application);
      w.set_revision(revision);
      w.set_cell(cell);
      w.set_replicas(static_cast<std::int32_t>(replicas));
      *w.mutable_template_() = t->second;
      next.byCluster[cluster][w.key()] = std::move(w);
    }
  }
  const std::string id = ns + "/" + name;
  // Another Binding may already place the same workload on a cluster: the first one keeps it.
  for (auto& [cluster, workloads] : next.byCluster) {
    for (auto it = workloads.begin(); it != workloads.end();) {
      auto o = owner_.find(cluster + "|" + it->first);
      if (o != owner_.end() && o->second != id) {
        warnings.push_back("binding " + id + ": workload " + it->first + " on " + cluster +
                           " is already placed by binding " + o->second);
        it = workloads.erase(it);
      } else {
        ++it;
      }
    }
  }
  return replace(id, std::move(next));
}

WorkIndex::Changes WorkIndex::remove(const std::string& ns, const std::string& name) {
  const std::string id = ns + "/" + name;
  if (!bindings_.count(id)) return {};
  return replace(id, Binding{});
}

WorkIndex::Changes WorkIndex::replace(const std::string& id, Binding next) {
  Changes changes;
  Binding previous;
  if (auto it = bindings_.find(id); it != bindings_.end()) previous = std::move(it->second);
  // Removed or changed workloads.
  for (auto& [cluster, workloads] : previous.byCluster) {
    auto nc = next.byCluster.find(cluster);
    for (auto& [key, w] : workloads) {
      bool kept = nc != next.byCluster.end() && nc->second.count(key);
      if (!kept) {
        changes[cluster].removals.push_back(key);
        clusters_[cluster].erase(key);
        owner_.erase(cluster + "|" + key);
      }
    }
    if (clusters_[cluster].empty()) clusters_.erase(cluster);
  }
  // Added or changed workloads.
  for (auto& [cluster, workloads] : next.byCluster) {
    auto pc = previous.byCluster.find(cluster);
    for (auto& [key, w] : workloads) {
      bool unchanged =
          pc != previous.byCluster.end() && pc->second.count(key) && same(pc->second.at(key), w);
      if (!unchanged) changes[cluster].upserts.push_back(w);
      clusters_[cluster][key] = w;
      owner_[cluster + "|" + key] = id;
    }
  }
  if (next.byCluster.empty() && next.application.empty())
    bindings_.erase(id);
  else
    bindings_[id] = std::move(next);
  for (auto it = changes.begin(); it != changes.end();) {
    if (it->second.upserts.empty() && it->second.removals.empty())
      it = changes.erase(it);
    else
      ++it;
  }
  return changes;
}

void WorkIndex::clear() {
  bindings_.clear();
  clusters_.clear();
  owner_.clear();
}

std::vector<pb::Workload> WorkIndex::workloadsOf(const std::string& cluster) const {
  std::vector<pb::Workload> out;
  auto it = clusters_.find(cluster);
  if (it == clusters_.end()) return out;
  out.reserve(it->second.size());
  for (const auto& [key, w] : it->second) out.push_back(w);
  return out;
}

std::map<std::pair<std::string, std::string>, int> WorkIndex::desiredOf(
    const std::string& ns, const std::string& application) const {
  std::map<std::pair<std::string, std::string>, int> out;
  for (const auto& [id, b] : bindings_) {
    if (b.ns != ns || b.application != application) continue;
    for (const auto& [cluster, workloads] : b.byCluster) {
      for (const auto& [key, w] : workloads) out[{w.cell(), cluster}] += w.replicas();
    }
  }
  return out;
}

std::pair<std::string, std::string> WorkIndex::applicationOf(const std::string& ns,
                                                             const std::string& bindingName) const {
  auto it = bindings_.find(ns + "/" + bindingName);
  if (it == bindings_.end()) return {};
  return {it->second.ns, it->second.application};
}

}  // namespace tessera::federation
