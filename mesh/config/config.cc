// Parsing (JSON → structs), serialising (structs → JSON) and the small helpers of config.h.
#include "mesh/config/config.h"

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <charconv>
#include <cmath>

#include "common/buckets.h"
#include "mesh/config/config_internal.h"
#include "mesh/config/json_reader.h"

namespace tessera::mesh {

namespace json = boost::json;
using detail::indexPath;
using detail::joinPath;
using detail::prefixed;
using detail::Reader;

// ---- small helpers ----

uint32_t bucketOf(std::string_view userId, uint32_t bucketCount) {
  if (bucketCount == 0) return 0;
  const std::size_t n = userId.size();
  if (bucketCount == 100 && n >= 2 && std::isdigit(static_cast<unsigned char>(userId[n - 2])) &&
      std::isdigit(static_cast<unsigned char>(userId[n - 1]))) {
    return static_cast<uint32_t>((userId[n - 2] - '0') * 10 + (userId[n - 1] - '0'));
  }
  uint64_t hash = 14695981039346656037ULL;  // FNV-1a 64 offset basis
  for (const char c : userId) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 1099511628211ULL;  // FNV-1a 64 prime
  }
  return static_cast<uint32_t>(hash % bucketCount);
}

Result<Millis> parseDuration(std::string_view text) {
  static constexpr std::string_view kSyntax =
      "must be a duration: an integer and a unit, \"250ms\", \"5s\", \"1m\" or \"1h\"";
  std::size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  if (digits == 0) {
    if (!text.empty() && text[0] == '-') return invalidArgument("must not be negative");
    return invalidArgument(std::string(kSyntax));
  }
  uint64_t count = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + digits, count);
  const std::string_view unit = text.substr(digits);
  uint64_t scale = 0;
  if (unit == "ms") {
    scale = 1;
  } else if (unit == "s") {
    scale = 1000;
  } else if (unit == "m") {
    scale = 60'000;
  } else if (unit == "h") {
    scale = 3'600'000;
  } else {
    return invalidArgument(std::string(kSyntax));
  }
  // A week is far beyond any timeout or ejection time; beyond it is a typo.
  constexpr uint64_t kMaxMs = 7ULL * 24 * 3'600'000;
  if (ec != std::errc() || count > kMaxMs / scale) {
    return invalidArgument("must be at most 168h");
  }
  return Millis(static_cast<int64_t>(count * scale));
}

std::string formatDuration(Millis d) {
  const int64_t ms = d.count();
  if (ms != 0 && ms % 3'600'000 == 0) return std::to_string(ms / 3'600'000) + "h";
  if (ms != 0 && ms % 60'000 == 0) return std::to_string(ms / 60'000) + "m";
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

std::string_view typeUrl(ResourceType type) {
  switch (type) {
    case ResourceType::kCluster:
      return "tessera.io/mesh/Cluster";
    case ResourceType::kShardMap:
      return "tessera.io/mesh/ShardMap";
    case ResourceType::kRouteTable:
      return "tessera.io/mesh/RouteTable";
    case ResourceType::kListener:
      return "tessera.io/mesh/Listener";
  }
  return "";
}

std::optional<ResourceType> resourceTypeFromUrl(std::string_view url) {
  for (ResourceType t : {ResourceType::kCluster, ResourceType::kShardMap, ResourceType::kRouteTable,
                         ResourceType::kListener}) {
    if (typeUrl(t) == url) return t;
  }
  return std::nullopt;
}

namespace {
template <typename T>
const T* findByName(const std::vector<T>& items, std::string_view name) {
  for (const T& item : items) {
    if (item.name == name) return &item;
  }
  return nullptr;
}
}  // namespace

const Cluster* Config::findCluster(std::string_view name) const {
  return findByName(clusters, name);
}
const RouteTable* Config::findRouteTable(std::string_view name) const {
  return findByName(routeTables, name);
}
const ShardMap* Config::findShardMap(std::string_view name) const {
  return findByName(shardMaps, name);
}

// ---- readers ----

namespace detail {
namespace {

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

void readProtocol(Reader& r, Protocol& out) {
  std::string text;
  r.string("protocol", text);
  if (!r.ok() || !r.has("protocol")) return;
  if (text == "http") {
    out = Protocol::kHttp;
  } else if (text == "tcp") {
    out = Protocol::kTcp;
  } else {
    r.fail("protocol", "must be http or tcp");
  }
}

Status readEndpoint(const json::value& v, const std::string& path, Endpoint& out) {
  Reader r(v, path);
  r.string("address", out.address, true);
  out.address = normalizeAddress(out.address);
  r.u16("port", out.port, 1, 65535, true);
  r.u32("weight", out.weight, 1, 10000);
  r.string("cell", out.cell);
  r.string("datacenter", out.datacenter);
  r.string("revision", out.revision);
  r.string("replica", out.replica);
  return r.finish();
}

Status readHealthCheck(const json::value& v, const std::string& path, HealthCheck& out) {
  Reader r(v, path);
  r.string("path", out.path);
  r.duration("interval", out.interval);
  r.duration("timeout", out.timeout);
  r.u32("unhealthyThreshold", out.unhealthyThreshold, 1, 1000);
  r.u32("healthyThreshold", out.healthyThreshold, 1, 1000);
  return r.finish();
}

Status readOutlierDetection(const json::value& v, const std::string& path, OutlierDetection& out) {
  Reader r(v, path);
  r.boolean("enabled", out.enabled);
  r.u32("consecutive5xx", out.consecutive5xx, 1, 1000);
  r.u32("consecutiveConnectFailures", out.consecutiveConnectFailures, 1, 1000);
  r.duration("baseEjectionTime", out.baseEjectionTime);
  r.duration("maxEjectionTime", out.maxEjectionTime);
  r.u32("maxEjectionPercent", out.maxEjectionPercent, 0, 100);
  return r.finish();
}

Status readRetryBudget(const json::value& v, const std::string& path, RetryBudget& out) {
  Reader r(v, path);
  r.number("budgetPercent", out.budgetPercent, 0, 100);
  r.u32("minRetryConcurrency", out.minRetryConcurrency, 0, 1'000'000);
  return r.finish();
}

Status readWeightedTarget(const json::value& v, const std::string& path, WeightedTarget& out) {
  Reader r(v, path);
  r.string("cluster", out.cluster, true);
  r.string("revision", out.revision);
  r.u32("weight", out.weight, 0, 1'000'000);
  return r.finish();
}

Status readTarget(const json::value& v, const std::string& path, Target& out) {
  Reader r(v, path);
  if (r.ok() && r.has("cluster") && r.has("targets")) {
    r.fail("targets", "set either cluster (one target) or targets (a weighted split)");
  } else if (r.ok() && r.has("cluster")) {
    WeightedTarget t;
    r.string("cluster", t.cluster, true);
    r.string("revision", t.revision);
    out.targets = {t};
  } else if (r.ok() && r.has("targets")) {
    out.targets.clear();
    r.list("targets", [&](const json::value& e, const std::string& p) {
      WeightedTarget t;
      Status s = readWeightedTarget(e, p, t);
      out.targets.push_back(std::move(t));
      return s;
    });
  } else {
    r.missing("cluster", "is required (or targets, for a weighted split)");
  }
  r.boolean("stickyByUserId", out.stickyByUserId);
  r.string("revisionHeader", out.revisionHeader);
  out.revisionHeader = lower(out.revisionHeader);
  return r.finish();
}

Status readUserIdSource(const json::value& v, const std::string& path, UserIdSource& out) {
  Reader r(v, path);
  int found = 0;
  for (auto [key, kind] : {std::pair{"header", UserIdSource::Kind::kHeader},
                           std::pair{"cookie", UserIdSource::Kind::kCookie},
                           std::pair{"query", UserIdSource::Kind::kQuery}}) {
    if (!r.has(key)) continue;
    ++found;
    out.kind = kind;
    r.string(key, out.name, true);
  }
  if (r.ok() && found != 1) {
    return invalidArgument(path + ": must be one of {header: NAME}, {cookie: NAME}, {query: NAME}");
  }
  if (out.kind == UserIdSource::Kind::kHeader) out.name = lower(out.name);
  return r.finish();
}

Status readUnitized(const json::value& v, const std::string& path, UnitizedAction& out) {
  Reader r(v, path);
  if (r.has("userId")) {
    out.userId.clear();
    r.list("userId", [&](const json::value& e, const std::string& p) {
      UserIdSource s;
      Status st = readUserIdSource(e, p, s);
      out.userId.push_back(std::move(s));
      return st;
    });
  } else {
    out.userId = {UserIdSource{UserIdSource::Kind::kHeader, "x-user-id"}};
  }
  r.string("shardMap", out.shardMap, true);
  r.map("cells", [&](const std::string& cell, const json::value& e, const std::string& p) {
    Target t;
    Status st = readTarget(e, p, t);
    out.cells[cell] = std::move(t);
    return st;
  });
  r.map("gateways", [&](const std::string& dc, const json::value& e, const std::string& p) {
    const json::string* s = e.if_string();
    if (s == nullptr) return invalidArgument(p + ": must be a string (a cluster name)");
    out.gateways[dc] = std::string(s->data(), s->size());
    return Status::ok();
  });
  r.string("defaultCell", out.defaultCell);
  r.string("hopHeader", out.hopHeader);
  out.hopHeader = lower(out.hopHeader);
  return r.finish();
}

Status readMatch(const json::value& v, const std::string& path, RouteMatch& out) {
  Reader r(v, path);
  r.string("prefix", out.prefix);
  r.string("path", out.path);
  if (r.ok() && r.has("prefix") && r.has("path")) r.fail("path", "set either prefix or path");
  if (r.ok() && !r.has("prefix") && !r.has("path")) out.prefix = "/";
  r.list("headers", [&](const json::value& e, const std::string& p) {
    Reader h(e, p);
    HeaderMatch m;
    h.string("name", m.name, true);
    m.name = lower(m.name);
    if (h.has("exact")) {
      std::string exact;
      h.string("exact", exact);
      m.exact = std::move(exact);
    }
    out.headers.push_back(std::move(m));
    return h.finish();
  });
  r.list("methods", [&](const json::value& e, const std::string& p) {
    const json::string* s = e.if_string();
    if (s == nullptr) return invalidArgument(p + ": must be a string (an HTTP method)");
    out.methods.push_back(upper(std::string(s->data(), s->size())));
    return Status::ok();
  });
  return r.finish();
}

Status readRoute(const json::value& v, const std::string& path, Route& out) {
  Reader r(v, path);
  r.string("name", out.name, true);
  if (const json::value* m = r.get("match")) {
    r.take(readMatch(*m, r.field("match"), out.match));
  } else {
    out.match.prefix = "/";
  }
  static constexpr std::string_view kActions[] = {"forward", "unitized", "directResponse",
                                                  "redirect"};
  std::vector<std::string_view> present;
  for (std::string_view a : kActions) {
    if (r.has(a)) present.push_back(a);
  }
  if (present.empty()) {
    r.missing("", "set exactly one of forward, unitized, directResponse, redirect (found none)");
  } else if (present.size() > 1) {
    std::string found;
    for (std::string_view a : present) found += (found.empty() ? "" : " and ") + std::string(a);
    r.fail("",
           "set exactly one of forward, unitized, directResponse, redirect (found " + found + ")");
  }
  RouteAction& a = out.action;
  if (const json::value* f = r.get("forward")) {
    a.kind = RouteAction::Kind::kForward;
    r.take(readTarget(*f, r.field("forward"), a.forward));
  }
  if (const json::value* u = r.get("unitized")) {
    a.kind = RouteAction::Kind::kUnitized;
    r.take(readUnitized(*u, r.field("unitized"), a.unitized));
  }
  if (const json::value* d = r.get("directResponse")) {
    a.kind = RouteAction::Kind::kDirectResponse;
    Reader dr(*d, r.field("directResponse"));
    dr.u16("status", a.directResponse.status, 100, 599);
    dr.string("body", a.directResponse.body);
    dr.string("contentType", a.directResponse.contentType);
    r.take(dr.finish());
  }
  if (const json::value* d = r.get("redirect")) {
    a.kind = RouteAction::Kind::kRedirect;
    Reader rr(*d, r.field("redirect"));
    rr.string("location", a.redirect.location, true);
    rr.u16("status", a.redirect.status, 300, 399);
    r.take(rr.finish());
  }
  r.duration("timeout", a.timeout);
  if (const json::value* retry = r.get("retry")) {
    Reader rr(*retry, r.field("retry"));
    rr.u32("maxRetries", a.retry.maxRetries, 0, 10);
    rr.duration("perTryTimeout", a.retry.perTryTimeout);
    rr.boolean("on5xx", a.retry.on5xx);
    r.take(rr.finish());
  }
  if (const json::value* limit = r.get("rateLimit")) {
    Reader lr(*limit, r.field("rateLimit"));
    RateLimit rl;
    lr.number("requestsPerSecond", rl.requestsPerSecond, 0.001, 1e9, true);
    rl.burst = static_cast<uint32_t>(std::max(1.0, std::ceil(rl.requestsPerSecond)));
    lr.u32("burst", rl.burst, 1, 1'000'000'000);
    r.take(lr.finish());
    a.rateLimit = rl;
  }
  if (const json::value* fault = r.get("fault")) {
    Reader fr(*fault, r.field("fault"));
    Fault f;
    fr.number("delayPercent", f.delayPercent, 0, 100);
    fr.duration("delay", f.delay);
    fr.number("abortPercent", f.abortPercent, 0, 100);
    fr.u16("abortStatus", f.abortStatus, 100, 599);
    r.take(fr.finish());
    a.fault = f;
  }
  return r.finish();
}

}  // namespace

Status readCluster(const json::value& v, Cluster& out) {
  Reader r(v, "");
  r.string("name", out.name, true);
  readProtocol(r, out.protocol);
  std::string lb;
  r.string("lbPolicy", lb);
  if (r.ok() && r.has("lbPolicy")) {
    if (lb == "roundRobin") {
      out.lbPolicy = LbPolicy::kRoundRobin;
    } else if (lb == "leastRequest") {
      out.lbPolicy = LbPolicy::kLeastRequest;
    } else {
      r.fail("lbPolicy", "must be roundRobin or leastRequest");
    }
  }
  r.duration("connectTimeout", out.connectTimeout);
  r.duration("idleTimeout", out.idleTimeout);
  r.u32("maxConnectionsPerEndpoint", out.maxConnectionsPerEndpoint, 1, 1'000'000);
  if (const json::value* hc = r.get("healthCheck")) {
    HealthCheck check;
    r.take(readHealthCheck(*hc, "healthCheck", check));
    out.healthCheck = check;
  }
  if (const json::value* od = r.get("outlierDetection")) {
    r.take(readOutlierDetection(*od, "outlierDetection", out.outlierDetection));
  }
  if (const json::value* rb = r.get("retryBudget")) {
    r.take(readRetryBudget(*rb, "retryBudget", out.retryBudget));
  }
  r.list("endpoints", [&](const json::value& e, const std::string& p) {
    Endpoint endpoint;
    Status s = readEndpoint(e, p, endpoint);
    out.endpoints.push_back(std::move(endpoint));
    return s;
  });
  return r.finish();
}

Status readShardMap(const json::value& v, ShardMap& out) {
  Reader r(v, "");
  r.string("name", out.name, true);
  r.uint("version", out.version, 0, UINT64_MAX);
  r.u32("bucketCount", out.bucketCount, 1, 100'000);
  out.owner.assign(out.bucketCount, std::string());
  r.list("assignments", [&](const json::value& e, const std::string& p) {
    Reader a(e, p);
    std::string cell;
    a.string("cell", cell, true);
    std::string text;
    if (const json::value* b = a.get("buckets", true)) {
      if (b->is_string()) {
        text = std::string(b->get_string());
      } else if (b->is_int64() || b->is_uint64()) {
        text = json::serialize(*b);  // one bucket, written as a plain YAML number
      } else {
        a.fail("buckets", "must be a string of bucket ranges, like \"0-39,50\"");
      }
    }
    if (!a.ok()) return a.finish();
    Result<std::vector<int>> buckets = parseBuckets(text, static_cast<int>(out.bucketCount));
    if (!buckets) {
      a.fail("buckets", buckets.status().message());
      return a.finish();
    }
    for (int b : *buckets) {
      std::string& owner = out.owner[static_cast<std::size_t>(b)];
      if (!owner.empty() && owner != cell) {
        a.fail("buckets",
               "bucket " + std::to_string(b) + " is already assigned to cell \"" + owner + "\"");
        break;
      }
      owner = cell;
    }
    return a.finish();
  });
  r.map("cells", [&](const std::string& cell, const json::value& e, const std::string& p) {
    Reader c(e, p);
    std::string dc;
    c.string("datacenter", dc, true);
    out.cellDatacenter[cell] = dc;
    return c.finish();
  });
  return r.finish();
}

Status readRouteTable(const json::value& v, RouteTable& out) {
  Reader r(v, "");
  r.string("name", out.name, true);
  r.list("routes", [&](const json::value& e, const std::string& p) {
    Route route;
    // The route's own name labels its errors: routes[1] "api": forward.cluster: ...
    std::string label = p;
    if (const json::object* o = e.if_object()) {
      if (const json::value* n = o->if_contains("name"); n != nullptr && n->is_string()) {
        label += " \"" + std::string(n->get_string()) + "\"";
      }
    }
    Status s = prefixed(label, readRoute(e, "", route));
    out.routes.push_back(std::move(route));
    return s;
  });
  return r.finish();
}

Status readListener(const json::value& v, Listener& out) {
  Reader r(v, "");
  r.string("name", out.name, true);
  r.string("address", out.address);
  out.address = normalizeAddress(out.address);
  r.u16("port", out.port, 1, 65535, true);
  readProtocol(r, out.protocol);
  r.string("routeTable", out.routeTable);
  r.string("cluster", out.cluster);
  r.duration("idleTimeout", out.idleTimeout);
  r.duration("requestHeadersTimeout", out.requestHeadersTimeout);
  r.u32("maxConnections", out.maxConnections, 1, 10'000'000);
  return r.finish();
}

std::string resourceLabel(ResourceType type, std::size_t index, std::string_view name,
                          bool indexed) {
  static constexpr std::string_view kPlural[] = {"clusters", "shardMaps", "routeTables",
                                                 "listeners"};
  static constexpr std::string_view kSingular[] = {"cluster", "shardMap", "routeTable", "listener"};
  const auto t = static_cast<std::size_t>(type);
  std::string out = indexed ? indexPath(kPlural[t], index) : std::string(kSingular[t]);
  if (!name.empty()) out += " \"" + std::string(name) + "\"";
  return out;
}

}  // namespace detail

// ---- parse ----

namespace {

std::string nameOf(const json::value& v) {
  if (const json::object* o = v.if_object()) {
    if (const json::value* n = o->if_contains("name"); n != nullptr && n->is_string()) {
      return std::string(n->get_string());
    }
  }
  return "";
}

template <typename T>
Status readAll(Reader& r, std::string_view key, ResourceType type, std::vector<T>& out,
               Status (*read)(const json::value&, T&)) {
  r.list(key, [&](const json::value& e, const std::string&) {
    T item;
    Status s = read(e, item);
    const std::string label = detail::resourceLabel(type, out.size(), nameOf(e), true);
    out.push_back(std::move(item));
    return prefixed(label, s);
  });
  return Status::ok();
}

template <typename T>
Result<T> parseOne(std::string_view text, ResourceType type, Status (*read)(const json::value&, T&),
                   Status (*check)(const T&)) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) {
    return invalidArgument(detail::resourceLabel(type, 0, "", false) +
                           ": not valid JSON: " + ec.message());
  }
  T item;
  const std::string label = detail::resourceLabel(type, 0, nameOf(v), false);
  if (Status s = read(v, item); !s.isOk()) return prefixed(label, s);
  if (Status s = check(item); !s.isOk()) return prefixed(label, s);
  return item;
}

}  // namespace

Result<Config> parseConfig(const json::value& doc) {
  if (!doc.is_object()) {
    return invalidArgument(
        "the document must be an object with listeners, routeTables, "
        "clusters and shardMaps");
  }
  Config config;
  Reader r(doc, "");
  if (const json::value* version = r.get("version")) {
    if (version->is_string()) {
      config.version = std::string(version->get_string());
    } else if (version->is_number()) {
      config.version = json::serialize(*version);
    } else {
      r.fail("version", "must be a string");
    }
  }
  (void)readAll(r, "clusters", ResourceType::kCluster, config.clusters, &detail::readCluster);
  (void)readAll(r, "shardMaps", ResourceType::kShardMap, config.shardMaps, &detail::readShardMap);
  (void)readAll(r, "routeTables", ResourceType::kRouteTable, config.routeTables,
                &detail::readRouteTable);
  (void)readAll(r, "listeners", ResourceType::kListener, config.listeners, &detail::readListener);
  if (Status s = r.finish(); !s.isOk()) return s;
  if (Status s = validate(config); !s.isOk()) return s;
  return config;
}

Result<Config> parseConfigText(std::string_view text) {
  Result<json::value> doc = parseYamlOrJson(text);
  if (!doc) return doc.status();
  return parseConfig(*doc);
}

Result<Cluster> parseCluster(std::string_view json) {
  return parseOne<Cluster>(json, ResourceType::kCluster, &detail::readCluster,
                           &detail::checkCluster);
}
Result<ShardMap> parseShardMap(std::string_view json) {
  return parseOne<ShardMap>(json, ResourceType::kShardMap, &detail::readShardMap,
                            &detail::checkShardMap);
}
Result<RouteTable> parseRouteTable(std::string_view json) {
  return parseOne<RouteTable>(json, ResourceType::kRouteTable, &detail::readRouteTable,
                              &detail::checkRouteTable);
}
Result<Listener> parseListener(std::string_view json) {
  return parseOne<Listener>(json, ResourceType::kListener, &detail::readListener,
                            &detail::checkListener);
}

// ---- serialise ----

namespace {

json::string durationJson(Millis d) {
  return json::string(formatDuration(d));
}

std::string_view protocolName(Protocol p) {
  return p == Protocol::kTcp ? "tcp" : "http";
}

json::object targetJson(const Target& t) {
  json::object o;
  const Target defaults;
  const bool plain = t.targets.size() == 1 && t.targets[0].weight == 1;
  if (plain) {
    o["cluster"] = t.targets[0].cluster;
    if (!t.targets[0].revision.empty()) o["revision"] = t.targets[0].revision;
  } else {
    json::array targets;
    for (const WeightedTarget& w : t.targets) {
      json::object e{{"cluster", w.cluster}, {"weight", w.weight}};
      if (!w.revision.empty()) e["revision"] = w.revision;
      targets.push_back(std::move(e));
    }
    o["targets"] = std::move(targets);
  }
  if (t.stickyByUserId != defaults.stickyByUserId) o["stickyByUserId"] = t.stickyByUserId;
  if (t.revisionHeader != defaults.revisionHeader) o["revisionHeader"] = t.revisionHeader;
  return o;
}

json::object clusterJson(const Cluster& c) {
  json::object o;
  o["name"] = c.name;
  o["protocol"] = protocolName(c.protocol);
  o["lbPolicy"] = c.lbPolicy == LbPolicy::kLeastRequest ? "leastRequest" : "roundRobin";
  o["connectTimeout"] = durationJson(c.connectTimeout);
  o["idleTimeout"] = durationJson(c.idleTimeout);
  o["maxConnectionsPerEndpoint"] = c.maxConnectionsPerEndpoint;
  if (c.healthCheck) {
    const HealthCheck& h = *c.healthCheck;
    o["healthCheck"] = json::object{{"path", h.path},
                                    {"interval", durationJson(h.interval)},
                                    {"timeout", durationJson(h.timeout)},
                                    {"unhealthyThreshold", h.unhealthyThreshold},
                                    {"healthyThreshold", h.healthyThreshold}};
  }
  const OutlierDetection& od = c.outlierDetection;
  o["outlierDetection"] =
      json::object{{"enabled", od.enabled},
                   {"consecutive5xx", od.consecutive5xx},
                   {"consecutiveConnectFailures", od.consecutiveConnectFailures},
                   {"baseEjectionTime", durationJson(od.baseEjectionTime)},
                   {"maxEjectionTime", durationJson(od.maxEjectionTime)},
                   {"maxEjectionPercent", od.maxEjectionPercent}};
  o["retryBudget"] = json::object{{"budgetPercent", c.retryBudget.budgetPercent},
                                  {"minRetryConcurrency", c.retryBudget.minRetryConcurrency}};
  json::array endpoints;
  endpoints.reserve(c.endpoints.size());
  for (const Endpoint& e : c.endpoints) {
    json::object eo{{"address", e.address}, {"port", e.port}};
    if (e.weight != 1) eo["weight"] = e.weight;
    if (!e.cell.empty()) eo["cell"] = e.cell;
    if (!e.datacenter.empty()) eo["datacenter"] = e.datacenter;
    if (!e.revision.empty()) eo["revision"] = e.revision;
    if (!e.replica.empty()) eo["replica"] = e.replica;
    endpoints.push_back(std::move(eo));
  }
  o["endpoints"] = std::move(endpoints);
  return o;
}

json::object shardMapJson(const ShardMap& m) {
  json::object o;
  o["name"] = m.name;
  o["version"] = m.version;
  o["bucketCount"] = m.bucketCount;
  // One assignment per cell, in the order of each cell's first bucket.
  std::vector<std::string> order;
  std::map<std::string, std::vector<int>> buckets;
  for (std::size_t b = 0; b < m.owner.size(); ++b) {
    const std::string& cell = m.owner[b];
    if (cell.empty()) continue;
    auto [it, inserted] = buckets.try_emplace(cell);
    if (inserted) order.push_back(cell);
    it->second.push_back(static_cast<int>(b));
  }
  json::array assignments;
  for (const std::string& cell : order) {
    assignments.push_back(json::object{{"cell", cell}, {"buckets", formatBuckets(buckets[cell])}});
  }
  o["assignments"] = std::move(assignments);
  json::object cells;
  for (const auto& [cell, dc] : m.cellDatacenter) cells[cell] = json::object{{"datacenter", dc}};
  o["cells"] = std::move(cells);
  return o;
}

json::object routeJson(const Route& r) {
  json::object o;
  o["name"] = r.name;
  json::object match;
  if (!r.match.path.empty()) {
    match["path"] = r.match.path;
  } else {
    match["prefix"] = r.match.prefix;
  }
  if (!r.match.headers.empty()) {
    json::array headers;
    for (const HeaderMatch& h : r.match.headers) {
      json::object ho{{"name", h.name}};
      if (h.exact) ho["exact"] = *h.exact;
      headers.push_back(std::move(ho));
    }
    match["headers"] = std::move(headers);
  }
  if (!r.match.methods.empty()) {
    json::array methods;
    for (const std::string& m : r.match.methods) methods.push_back(json::string(m));
    match["methods"] = std::move(methods);
  }
  o["match"] = std::move(match);
  const RouteAction& a = r.action;
  switch (a.kind) {
    case RouteAction::Kind::kForward:
      o["forward"] = targetJson(a.forward);
      break;
    case RouteAction::Kind::kUnitized: {
      const UnitizedAction& u = a.unitized;
      json::array userId;
      for (const UserIdSource& s : u.userId) {
        const char* kind = s.kind == UserIdSource::Kind::kCookie  ? "cookie"
                           : s.kind == UserIdSource::Kind::kQuery ? "query"
                                                                  : "header";
        userId.push_back(json::object{{kind, s.name}});
      }
      json::object cells;
      for (const auto& [cell, target] : u.cells) cells[cell] = targetJson(target);
      json::object gateways;
      for (const auto& [dc, cluster] : u.gateways) gateways[dc] = cluster;
      o["unitized"] =
          json::object{{"userId", std::move(userId)},  {"shardMap", u.shardMap},
                       {"cells", std::move(cells)},    {"gateways", std::move(gateways)},
                       {"defaultCell", u.defaultCell}, {"hopHeader", u.hopHeader}};
      break;
    }
    case RouteAction::Kind::kDirectResponse:
      o["directResponse"] = json::object{{"status", a.directResponse.status},
                                         {"body", a.directResponse.body},
                                         {"contentType", a.directResponse.contentType}};
      break;
    case RouteAction::Kind::kRedirect:
      o["redirect"] =
          json::object{{"location", a.redirect.location}, {"status", a.redirect.status}};
      break;
  }
  o["timeout"] = durationJson(a.timeout);
  o["retry"] = json::object{{"maxRetries", a.retry.maxRetries},
                            {"perTryTimeout", durationJson(a.retry.perTryTimeout)},
                            {"on5xx", a.retry.on5xx}};
  if (a.rateLimit) {
    o["rateLimit"] = json::object{{"requestsPerSecond", a.rateLimit->requestsPerSecond},
                                  {"burst", a.rateLimit->burst}};
  }
  if (a.fault) {
    o["fault"] = json::object{{"delayPercent", a.fault->delayPercent},
                              {"delay", durationJson(a.fault->delay)},
                              {"abortPercent", a.fault->abortPercent},
                              {"abortStatus", a.fault->abortStatus}};
  }
  return o;
}

json::object listenerJson(const Listener& l) {
  json::object o;
  o["name"] = l.name;
  o["address"] = l.address;
  o["port"] = l.port;
  o["protocol"] = protocolName(l.protocol);
  if (!l.routeTable.empty()) o["routeTable"] = l.routeTable;
  if (!l.cluster.empty()) o["cluster"] = l.cluster;
  o["idleTimeout"] = durationJson(l.idleTimeout);
  o["requestHeadersTimeout"] = durationJson(l.requestHeadersTimeout);
  o["maxConnections"] = l.maxConnections;
  return o;
}

template <typename T, typename F>
json::array arrayOf(const std::vector<T>& items, F toJsonFn) {
  json::array out;
  out.reserve(items.size());
  for (const T& item : items) out.push_back(toJsonFn(item));
  return out;
}

}  // namespace

json::value toJson(const Config& config) {
  json::object o;
  o["version"] = config.version;
  o["listeners"] = arrayOf(config.listeners, listenerJson);
  o["routeTables"] = arrayOf(config.routeTables, [](const RouteTable& t) {
    return json::object{{"name", t.name}, {"routes", arrayOf(t.routes, routeJson)}};
  });
  o["clusters"] = arrayOf(config.clusters, clusterJson);
  o["shardMaps"] = arrayOf(config.shardMaps, shardMapJson);
  return o;
}

}  // namespace tessera::mesh
