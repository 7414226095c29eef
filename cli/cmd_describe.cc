// tessctl describe: one object as a readable page — metadata, spec, status, conditions with
// their reasons, and per kind what an operator asks next: for an Application where its
// replicas are (per cell and cluster, desired vs running) and why some are not; for a
// ShardMap who owns which buckets, the rollout to the proxies and the history.
#include <boost/json.hpp>
#include <map>
#include <ostream>
#include <set>

#include "cli/commands.h"
#include "cli/output.h"
#include "cli/session.h"
#include "cli/shard_map_plan.h"
#include "common/buckets.h"
#include "common/time_util.h"

namespace tessera::cli {
namespace json = boost::json;

namespace {

std::string indent(const std::string& block, int n) {
  std::string pad(static_cast<std::size_t>(n), ' ');
  std::string out;
  std::size_t start = 0;
  while (start < block.size()) {
    auto nl = block.find('\n', start);
    if (nl == std::string::npos) nl = block.size();
    out += pad + block.substr(start, nl - start) + "\n";
    start = nl + 1;
  }
  return out;
}

/// "2026-11-27T08:13:18Z (5m ago)"
std::string timeAndAge(const std::string& ts) {
  if (ts.empty()) return "<none>";
  auto t = parseRfc3339(ts);
  if (!t) return ts;
  auto age =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now() - *t);
  return ts + " (" + humanAge(age) + " ago)";
}

std::string ago(const std::string& ts) {
  auto t = parseRfc3339(ts);
  if (!t) return ts.empty() ? "<none>" : ts;
  return humanAge(std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now() - *t)) +
         " ago";
}

std::string keyValues(const json::value& v, std::string_view path) {
  const auto* m = at(v, path);
  if (m == nullptr || !m->is_object() || m->get_object().empty()) return "<none>";
  std::string out;
  for (const auto& [k, val] : m->get_object()) {
    out += (out.empty() ? "" : ", ") + std::string(k) + "=" + cellText(val);
  }
  return out;
}

/// A copy of `obj` without `keys` (shown elsewhere on the page).
json::value without(const json::value* obj, std::initializer_list<const char*> keys) {
  if (obj == nullptr || !obj->is_object()) return nullptr;
  json::object o = obj->get_object();
  for (const char* k : keys) o.erase(k);
  return o;
}

void section(std::ostream& out, const char* title, const json::value& v) {
  if (v.is_null() || (v.is_object() && v.get_object().empty())) {
    out << title << ": <none>\n";
    return;
  }
  out << title << ":\n" << indent(toYaml(v), 2);
}

void conditions(std::ostream& out, const json::value& obj) {
  const auto* cs = at(obj, "status.conditions");
  if (cs == nullptr || !cs->is_array() || cs->get_array().empty()) return;
  std::vector<std::vector<std::string>> rows;
  for (const auto& c : cs->get_array()) {
    rows.push_back({text(c, "type"), text(c, "status"), text(c, "reason"),
                    ago(text(c, "lastTransitionTime")), text(c, "message")});
  }
  out << "Conditions:\n"
      << indent(renderTable({"TYPE", "STATUS", "REASON", "SINCE", "MESSAGE"}, rows), 2);
}

void describeApplication(Session& s, const json::value& app) {
  const std::string ns = text(app, "metadata.namespace");
  const std::string name = text(app, "metadata.name");
  std::ostream& out = s.out();
  // Desired, from the Binding the scheduler wrote; running, from the agents' reports.
  std::map<std::pair<std::string, std::string>, std::pair<std::string, std::string>> running;
  if (const auto* cells = at(app, "status.cells"); cells && cells->is_array()) {
    for (const auto& c : cells->get_array()) {
      if (const auto* cls = at(c, "clusters"); cls && cls->is_array()) {
        for (const auto& cl : cls->get_array()) {
          running[{text(c, "name"), text(cl, "name")}] = {text(cl, "replicas"),
                                                          text(cl, "readyReplicas")};
        }
      }
    }
  }
  std::map<std::pair<std::string, std::string>, long long> desired;
  std::string bindingNote;
  auto b = s.api().get(std::string(kApiPrefix) + "/namespaces/" + urlEncode(ns) + "/bindings/" +
                       urlEncode(name));
  if (b.isOk() && b->ok()) {
    boost::system::error_code ec;
    json::value binding = json::parse(b->body, ec);
    if (const auto* ps = ec ? nullptr : at(binding, "spec.placements"); ps && ps->is_array()) {
      for (const auto& p : ps->get_array()) {
        const auto* n = at(p, "replicas");
        desired[{text(p, "cell"), text(p, "cluster")}] += n && n->is_int64() ? n->get_int64() : 0;
      }
    }
  } else if (b.isOk() && b->status == 404) {
    bindingNote = "no Binding yet: the scheduler has not placed it";
  }
  std::set<std::pair<std::string, std::string>> keys;
  for (const auto& [k, v] : running) keys.insert(k);
  for (const auto& [k, v] : desired) keys.insert(k);
  out << "Placement:\n";
  if (keys.empty()) {
    out << "  <none>" << (bindingNote.empty() ? "" : " (" + bindingNote + ")") << "\n";
  } else {
    std::vector<std::vector<std::string>> rows;
    for (const auto& k : keys) {
      auto d = desired.find(k);
      auto r = running.find(k);
      rows.push_back({k.first, k.second, d == desired.end() ? "0" : std::to_string(d->second),
                      r == running.end() ? "0" : r->second.first,
                      r == running.end() ? "0" : r->second.second});
    }
    out << indent(renderTable({"CELL", "CLUSTER", "DESIRED", "REPLICAS", "READY"}, rows), 2);
  }
  if (const auto* cs = at(app, "status.conditions"); cs && cs->is_array()) {
    for (const auto& c : cs->get_array()) {
      if (text(c, "type") == "Scheduled" && text(c, "status") != "True") {
        out << "Not scheduled (" << text(c, "reason") << "): " << text(c, "message") << "\n";
      }
    }
  }
  auto reps = s.api().get(std::string(kApiPrefix) + "/namespaces/" + urlEncode(ns) +
                          "/replicas?labelSelector=" + urlEncode("tessera.io/application=" + name));
  if (reps.isOk() && reps->ok()) {
    boost::system::error_code ec;
    json::value list = json::parse(reps->body, ec);
    const auto* items = ec ? nullptr : at(list, "items");
    std::vector<std::vector<std::string>> rows;
    if (items && items->is_array()) {
      for (const auto& r : items->get_array()) {
        std::string state = text(r, "status.state");
        if (std::string m = text(r, "status.message"); !m.empty()) state += " (" + m + ")";
        rows.push_back({text(r, "metadata.name"), text(r, "spec.cell"), text(r, "spec.cluster"),
                        text(r, "status.ready"), state, text(r, "status.endpoint")});
      }
    }
    out << "Replicas:" << (rows.empty() ? " <none>\n" : "\n");
    if (!rows.empty()) {
      out << indent(renderTable({"NAME", "CELL", "CLUSTER", "READY", "STATE", "ENDPOINT"}, rows),
                    2);
    }
  }
}

void describeShardMap(std::ostream& out, const json::value& sm) {
  out << "Buckets: " << text(sm, "spec.bucketCount") << "   Version: "
      << (text(sm, "status.version").empty() ? "<none>" : text(sm, "status.version")) << "\n";
  if (std::string r = text(sm, "spec.reason"); !r.empty()) out << "Reason: " << r << "\n";
  auto owners = shardMapOwners(sm);
  std::vector<std::vector<std::string>> rows;
  if (owners.isOk()) {
    for (const auto& [cell, bs] : *owners) {
      rows.push_back({cell, formatBuckets(bs), std::to_string(bs.size())});
    }
  }
  out << "Owners:\n" << indent(renderTable({"CELL", "BUCKETS", "COUNT"}, rows), 2);
  if (const auto* ro = at(sm, "status.rollout"); ro && ro->is_object()) {
    out << "Rollout: version " << text(*ro, "version") << ", " << text(*ro, "proxiesAcked") << "/"
        << text(*ro, "proxiesTotal") << " proxies acked"
        << (text(*ro, "done") == "true" ? ", done" : ", pending") << "\n";
    std::vector<std::vector<std::string>> dr;
    for (const auto& d : rolloutDatacenters(*ro)) {
      dr.push_back({d.name, d.acked + "/" + d.total, d.time.empty() ? "<none>" : d.time});
    }
    if (!dr.empty()) out << indent(renderTable({"DATACENTER", "ACKED", "TIME"}, dr), 2);
  }
  if (const auto* h = at(sm, "status.history"); h && h->is_array() && !h->get_array().empty()) {
    std::vector<std::vector<std::string>> hr;
    for (const auto& e : h->get_array()) {
      hr.push_back({text(e, "version"), text(e, "time"), text(e, "user"), text(e, "change"),
                    text(e, "reason")});
    }
    out << "History:\n"
        << indent(renderTable({"VERSION", "TIME", "USER", "CHANGE", "REASON"}, hr), 2);
  }
}

}  // namespace

ExitCode runDescribe(Session& s, const DescribeOptions& o) {
  auto res = s.resolve(o.kind);
  if (!res.isOk()) return s.fail(res.status());
  const std::string ns = res->namespaced ? s.ns() : "";
  auto r = s.api().get(res->itemPath(ns, o.name));
  if (!r.isOk()) return s.fail(r.status());
  if (!r->ok()) return s.failHttp(*r);
  boost::system::error_code ec;
  json::value obj = json::parse(r->body, ec);
  if (ec) return s.fail(Status(StatusCode::kInternal, "the server's answer is not JSON"));

  std::ostream& out = s.out();
  std::vector<std::vector<std::string>> head = {
      {"Name:", text(obj, "metadata.name")},
  };
  if (res->namespaced) head.push_back({"Namespace:", text(obj, "metadata.namespace")});
  head.push_back({"Kind:", res->kind});
  head.push_back({"Labels:", keyValues(obj, "metadata.labels")});
  head.push_back({"Annotations:", keyValues(obj, "metadata.annotations")});
  head.push_back({"Created:", timeAndAge(text(obj, "metadata.creationTimestamp"))});
  head.push_back({"Resource Version:", text(obj, "metadata.resourceVersion")});
  if (std::string g = text(obj, "metadata.generation"); !g.empty())
    head.push_back({"Generation:", g});
  out << renderTable({}, head);

  const json::value* spec = at(obj, "spec");
  const json::value* status = at(obj, "status");
  if (res->kind == "ShardMap") {
    describeShardMap(out, obj);
    section(out, "Status", without(status, {"history", "rollout", "conditions", "version"}));
  } else if (res->kind == "Application") {
    section(out, "Spec", spec ? *spec : json::value());
    describeApplication(s, obj);
    section(out, "Status", without(status, {"cells", "conditions"}));
  } else if (spec != nullptr) {
    section(out, "Spec", *spec);
    section(out, "Status", without(status, {"conditions"}));
  } else {
    // Kinds without spec/status (AuditEvent): everything but the metadata.
    section(out, "Fields", without(&obj, {"apiVersion", "kind", "metadata"}));
  }
  conditions(out, obj);
  return ExitCode::kOk;
}

}  // namespace tessera::cli
