// tessctl shardmap show|move and proxies status: the traffic runbook commands. A move is
// computed locally from the ShardMap read from the server, sent as an update with its
// resourceVersion (a concurrent change is re-read and re-planned), and with --wait followed
// until every reachable proxy has acknowledged the new version.
#include <boost/json.hpp>
#include <map>
#include <ostream>
#include <thread>

#include "cli/commands.h"
#include "cli/output.h"
#include "cli/session.h"
#include "cli/shard_map_plan.h"
#include "common/buckets.h"
#include "common/time_util.h"

namespace tessera::cli {
namespace json = boost::json;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int kConflictRetries = 5;
constexpr auto kPollInterval = std::chrono::milliseconds(200);
constexpr int kMaxBucketCount = 100000;  // the API's limit on spec.bucketCount

Result<json::value> getJson(Session& s, const std::string& path, ExitCode& code) {
  auto r = s.api().get(path);
  if (!r.isOk()) {
    code = s.fail(r.status());
    return r.status();
  }
  if (!r->ok()) {
    code = s.failHttp(*r);
    return Status(StatusCode::kInternal, "HTTP " + std::to_string(r->status));
  }
  boost::system::error_code ec;
  json::value v = json::parse(r->body, ec);
  if (ec) {
    code = s.fail(Status(StatusCode::kInternal, "the server's answer is not JSON"));
    return Status(StatusCode::kInternal, "not JSON");
  }
  return v;
}

std::int64_t intAt(const json::value& v, std::string_view path, std::int64_t fallback = -1) {
  const auto* p = at(v, path);
  if (p && p->is_int64()) return p->get_int64();
  if (p && p->is_uint64()) return static_cast<std::int64_t>(p->get_uint64());
  return fallback;
}

bool boolAt(const json::value& v, std::string_view path) {
  const auto* p = at(v, path);
  return p && p->is_bool() && p->get_bool();
}

std::string seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2fs", s < 0 ? 0.0 : s);
  return buf;
}

/// "+0.42s" from `since` (the moment the change was accepted) to an RFC 3339 time.
std::string after(const std::string& ts, SystemTime since) {
  auto t = parseRfc3339(ts);
  if (!t) return "";
  return seconds(std::chrono::duration<double>(*t - since).count());
}

void printOwners(std::ostream& out, const json::value& sm) {
  auto owners = shardMapOwners(sm);
  std::vector<std::vector<std::string>> rows;
  if (owners.isOk()) {
    for (const auto& [cell, bs] : *owners) {
      rows.push_back({cell, formatBuckets(bs), std::to_string(bs.size())});
    }
  }
  out << renderTable({"CELL", "BUCKETS", "COUNT"}, rows);
}

/// Per datacenter: acked/total, when, and (when the times have sub-second precision) how long
/// after the change was accepted.
void printAckTable(std::ostream& out, const std::vector<DatacenterAck>& dcs, SystemTime since) {
  bool precise = false;
  for (const auto& d : dcs) precise = precise || d.time.find('.') != std::string::npos;
  std::vector<std::vector<std::string>> rows;
  for (const auto& d : dcs) {
    std::vector<std::string> row = {d.name, d.acked + "/" + d.total,
                                    d.time.empty() ? "<none>" : d.time};
    if (precise) row.push_back(d.time.empty() ? "" : after(d.time, since));
    rows.push_back(std::move(row));
  }
  if (rows.empty()) return;
  std::vector<std::string> headers = {"DATACENTER", "ACKED", "AT"};
  if (precise) headers.push_back("AFTER");
  out << renderTable(headers, rows);
}

struct ProxyAcks {
  int connected = 0, acked = 0;
  // datacenter → (acked, connected, latest ack time)
  std::map<std::string, std::tuple<int, int, std::string>> byDc;
  std::vector<std::string> pending;  // "proxy-b1 (dc-b): acked 7, last NACK: ..."
};

ProxyAcks proxyAcks(const json::value& list, const std::string& shardMap, std::int64_t version) {
  ProxyAcks a;
  const auto* items = at(list, "items");
  if (items == nullptr || !items->is_array()) return a;
  for (const auto& p : items->get_array()) {
    if (!boolAt(p, "status.connected")) continue;  // unreachable proxies are not waited for
    ++a.connected;
    const std::string dc = text(p, "spec.datacenter");
    auto& [acked, total, latest] = a.byDc[dc.empty() ? "<none>" : dc];
    ++total;
    const std::int64_t have = proxyShardMapVersion(p, shardMap);
    if (have >= version) {
      ++acked;
      ++a.acked;
      latest = std::max(latest, text(p, "status.lastAckTime"));
    } else {
      std::string why = text(p, "metadata.name") + " (" + dc + "): has " +
                        (have < 0 ? std::string("none") : std::to_string(have));
      if (std::string nack = text(p, "status.lastNackReason"); !nack.empty())
        why += ", last NACK: " + nack;
      a.pending.push_back(why);
    }
  }
  return a;
}

/// Waits until every reachable proxy has acked `version` of ShardMap `name`.
ExitCode waitForRollout(Session& s, const std::string& path, const std::string& name,
                        std::int64_t version, Clock::time_point deadline,
                        std::chrono::milliseconds timeout, SystemTime since) {
  std::ostream& out = s.out();
  const auto started = Clock::now();
  bool notedAbsent = false;
  std::string lastState;
  auto poll = std::chrono::milliseconds(25);  // the proxies often ack within milliseconds
  while (true) {
    ExitCode code = ExitCode::kOk;
    auto sm = getJson(s, path, code);
    if (!sm.isOk()) return code;
    const auto* rollout = at(*sm, "status.rollout");
    if (rollout && rollout->is_object()) {
      const std::int64_t rv = intAt(*rollout, "version");
      if (rv >= version && boolAt(*rollout, "done")) {
        out << "rollout of version " << rv << " done: " << text(*rollout, "proxiesAcked") << "/"
            << text(*rollout, "proxiesTotal") << " proxies acked in "
            << seconds(std::chrono::duration<double>(Clock::now() - started).count()) << "\n";
        printAckTable(out, rolloutDatacenters(*rollout), since);
        return ExitCode::kOk;
      }
      lastState = "rollout at version " + std::to_string(rv) + ": " +
                  text(*rollout, "proxiesAcked") + "/" + text(*rollout, "proxiesTotal") +
                  " proxies acked";
      for (const auto& d : rolloutDatacenters(*rollout)) {
        lastState += "; " + d.name + " " + d.acked + "/" + d.total;
      }
    } else {
      // No rollout block: count the Proxy objects' acknowledgements ourselves.
      auto catalog = s.catalog();
      if (!catalog.isOk()) return s.fail(catalog.status());
      auto proxies = (*catalog)->resolve("proxies");
      if (!notedAbsent) {
        notedAbsent = true;
        s.note(proxies.isOk()
                   ? "ShardMap \"" + name + "\" has no status.rollout (yet): counting the " +
                         "Proxy objects' acknowledgements instead"
                   : "ShardMap \"" + name + "\" has no status.rollout and the server has no " +
                         "Proxy kind: there are no proxies to wait for");
      }
      if (!proxies.isOk()) {
        out << "rollout of version " << version << " done: no proxies\n";
        return ExitCode::kOk;
      }
      auto list = getJson(s, proxies->collectionPath(""), code);
      if (!list.isOk()) return code;
      ProxyAcks a = proxyAcks(*list, name, version);
      if (a.connected == 0 || a.pending.empty()) {
        out << "rollout of version " << version << " done: " << a.acked << "/" << a.connected
            << " connected proxies acked"
            << (a.connected == 0 ? " (no proxy is connected: nothing to wait for)" : "") << "\n";
        std::vector<DatacenterAck> dcs;
        for (const auto& [dc, t] : a.byDc) {
          const auto& [acked, total, latest] = t;
          dcs.push_back({dc, std::to_string(acked), std::to_string(total), latest});
        }
        printAckTable(out, dcs, since);
        return ExitCode::kOk;
      }
      lastState = std::to_string(a.acked) + "/" + std::to_string(a.connected) +
                  " connected proxies acked; waiting for";
      for (const auto& p : a.pending) lastState += "\n  " + p;
    }
    if (Clock::now() + kPollInterval > deadline) {
      if (rollout && rollout->is_object()) {
        // Which proxies, and why (their last NACK), from the Proxy objects when there are any.
        auto catalog = s.catalog();
        auto proxies =
            catalog.isOk() ? (*catalog)->resolve("proxies") : Result<Resource>(catalog.status());
        if (proxies.isOk()) {
          auto r = s.api().get(proxies->collectionPath(""));
          boost::system::error_code ec;
          json::value list = r.isOk() && r->ok() ? json::parse(r->body, ec) : json::value();
          if (!ec) {
            for (const auto& p : proxyAcks(list, name, version).pending) lastState += "\n  " + p;
          }
        }
      }
      s.err() << "error: timed out after " << timeout.count() / 1000.0
              << "s waiting for every reachable proxy to ack version " << version
              << " of ShardMap \"" << name
              << "\": " << (lastState.empty() ? "no rollout reported" : lastState) << "\n";
      return ExitCode::kTimedOut;
    }
    std::this_thread::sleep_for(poll);
    poll = std::min(poll * 2, kPollInterval);
  }
}

}  // namespace

ExitCode runShardMapShow(Session& s, const ShardMapShowOptions& o) {
  auto res = s.resolve("shardmaps");
  if (!res.isOk()) return s.fail(res.status());
  ExitCode code = ExitCode::kOk;
  auto sm = getJson(s, res->itemPath("", o.name), code);
  if (!sm.isOk()) return code;
  if (o.output == "json") {
    s.out() << prettyJson(*sm);
    return ExitCode::kOk;
  }
  if (o.output == "yaml") {
    s.out() << toYaml(*sm);
    return ExitCode::kOk;
  }
  if (o.output != "table") return s.fail(invalidArgument("-o: table, json or yaml"));
  std::ostream& out = s.out();
  out << "ShardMap " << o.name << ": " << text(*sm, "spec.bucketCount") << " buckets, version "
      << (text(*sm, "status.version").empty() ? "<none>" : text(*sm, "status.version")) << "\n";
  printOwners(out, *sm);
  const auto* rollout = at(*sm, "status.rollout");
  if (rollout && rollout->is_object()) {
    out << "Rollout: version " << text(*rollout, "version") << ", "
        << text(*rollout, "proxiesAcked") << "/" << text(*rollout, "proxiesTotal")
        << " proxies acked, " << (boolAt(*rollout, "done") ? "done" : "pending") << "\n";
    std::vector<std::vector<std::string>> rows;
    for (const auto& d : rolloutDatacenters(*rollout)) {
      rows.push_back({d.name, d.acked + "/" + d.total, d.time.empty() ? "<none>" : d.time});
    }
    if (!rows.empty()) out << renderTable({"DATACENTER", "ACKED", "AT"}, rows);
  } else {
    out << "Rollout: not reported by the server (see tessctl proxies status)\n";
  }
  return ExitCode::kOk;
}

ExitCode runShardMapMove(Session& s, const ShardMapMoveOptions& o) {
  auto buckets = parseBuckets(o.buckets, kMaxBucketCount);
  if (!buckets.isOk()) return s.fail(invalidArgument("BUCKETS: " + buckets.status().message()));
  if (buckets->empty()) return s.fail(invalidArgument("BUCKETS: name at least one bucket"));
  auto timeout = parseDuration(o.timeout);
  if (!timeout || timeout->count() <= 0) {
    return s.fail(invalidArgument("--timeout: \"" + o.timeout + "\" is not a duration"));
  }
  if (o.wait && o.dryRun) return s.fail(invalidArgument("--wait and --dry-run exclude each other"));
  const auto deadline = Clock::now() + *timeout;
  auto res = s.resolve("shardmaps");
  if (!res.isOk()) return s.fail(res.status());
  const std::string path = res->itemPath("", o.name);
  std::ostream& out = s.out();

  for (int attempt = 0; attempt < kConflictRetries; ++attempt) {
    ExitCode code = ExitCode::kOk;
    auto sm = getJson(s, path, code);
    if (!sm.isOk()) return code;
    auto plan = planMove(*sm, *buckets, o.to, o.reason);
    if (!plan.isOk()) return s.fail(plan.status());
    if (plan->moved() == 0) {
      out << "nothing to move: " << o.to << " owns " << formatBuckets(*buckets)
          << " already (ShardMap " << o.name << " version " << text(*sm, "status.version") << ")\n";
      return ExitCode::kOk;
    }
    const std::int64_t before = intAt(*sm, "status.version", 0);
    auto r = s.api().request("PUT", path + (o.dryRun ? "?dryRun=All" : ""),
                             json::serialize(plan->updated), "application/json");
    if (!r.isOk()) return s.fail(r.status());
    if (r->status == 409 && attempt + 1 < kConflictRetries) continue;  // re-read, re-plan
    if (!r->ok()) return s.failHttp(*r);
    const SystemTime acceptedAt = std::chrono::system_clock::now();
    for (const auto& m : plan->moves) {
      out << (m.from.empty() ? "(no owner)" : m.from) << " → " << o.to << ": "
          << formatBuckets(m.buckets) << " (" << m.buckets.size()
          << (m.buckets.size() == 1 ? " bucket" : " buckets") << ")\n";
    }
    if (!plan->alreadyOwned.empty()) {
      out << o.to << " owns " << formatBuckets(plan->alreadyOwned) << " already\n";
    }
    if (o.dryRun) {
      out << "dry run: the server accepted moving " << plan->moved() << " buckets to " << o.to
          << "; nothing was changed (ShardMap " << o.name << " stays at version " << before
          << ")\n";
      return ExitCode::kOk;
    }
    boost::system::error_code ec;
    json::value updated = json::parse(r->body, ec);
    const std::int64_t version = ec ? -1 : intAt(updated, "status.version");
    out << "shardmap/" << o.name << " configured: version " << before << " → " << version << ", "
        << plan->moved() << " buckets moved to " << o.to << "\n";
    if (!o.wait) return ExitCode::kOk;
    out.flush();
    return waitForRollout(s, path, o.name, version, deadline, *timeout, acceptedAt);
  }
  return ExitCode::kRefused;  // not reached: the last 409 is reported above
}

ExitCode runProxiesStatus(Session& s, const ProxiesStatusOptions& o) {
  auto catalog = s.catalog();
  if (!catalog.isOk()) return s.fail(catalog.status());
  auto res = (*catalog)->resolve("proxies");
  if (!res.isOk()) {
    return s.fail(notFound("this server has no Proxy kind (it runs no mesh control plane)"));
  }
  ExitCode code = ExitCode::kOk;
  auto list = getJson(s, res->collectionPath(""), code);
  if (!list.isOk()) return code;
  if (o.output == "json") {
    s.out() << prettyJson(*list);
    return ExitCode::kOk;
  }
  if (o.output == "yaml") {
    s.out() << toYaml(*list);
    return ExitCode::kOk;
  }
  if (o.output != "table") return s.fail(invalidArgument("-o: table, json or yaml"));
  const auto* items = at(*list, "items");
  std::vector<std::vector<std::string>> rows;
  const auto now = std::chrono::system_clock::now();
  if (items && items->is_array()) {
    for (const auto& p : items->get_array()) {
      const std::string acked = text(p, "status.ackedVersion");
      const std::string desired = text(p, "status.desiredVersion");
      std::string inSync;
      if (const auto* cs = at(p, "status.conditions"); cs && cs->is_array()) {
        for (const auto& c : cs->get_array()) {
          if (text(c, "type") == "InSync") inSync = text(c, "status") == "True" ? "yes" : "no";
        }
      }
      if (inSync.empty()) inSync = !acked.empty() && acked == desired ? "yes" : "no";
      std::string maps;
      if (const auto* m = at(p, "status.shardMaps"); m && m->is_array()) {
        for (const auto& e : m->get_array())
          maps += (maps.empty() ? "" : ",") + text(e, "name") + "=" + text(e, "version");
      } else if (m && m->is_object()) {
        for (const auto& [k, v] : m->get_object())
          maps += (maps.empty() ? "" : ",") + std::string(k) + "=" + cellText(v);
      }
      std::string seen = "<never>";
      if (auto t = parseRfc3339(text(p, "status.lastSeenTime"))) {
        seen = humanAge(std::chrono::duration_cast<std::chrono::seconds>(now - *t)) + " ago";
      }
      std::string nack = text(p, "status.lastNackReason");
      if (nack.size() > 60) nack = nack.substr(0, 57) + "...";
      rows.push_back({text(p, "metadata.name"), text(p, "spec.datacenter"), text(p, "spec.role"),
                      text(p, "spec.cell").empty() ? "<none>" : text(p, "spec.cell"),
                      boolAt(p, "status.connected") ? "yes" : "no",
                      acked.empty() ? "<none>" : acked, desired.empty() ? "<none>" : desired,
                      inSync, maps.empty() ? "<none>" : maps, nack.empty() ? "<none>" : nack,
                      seen});
    }
  }
  if (rows.empty()) {
    s.err() << "No proxies found.\n";
    return ExitCode::kOk;
  }
  s.out() << renderTable({"NAME", "DATACENTER", "ROLE", "CELL", "CONNECTED", "ACKED", "DESIRED",
                          "IN SYNC", "SHARDMAPS", "LAST NACK", "LAST SEEN"},
                         rows);
  return ExitCode::kOk;
}

}  // namespace tessera::cli
