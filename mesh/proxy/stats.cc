#include "mesh/proxy/stats.h"

#include <cstdio>
#include <functional>
#include <string_view>

#include "mesh/proxy/tcp_proxy.h"

namespace tessera::mesh::proxy {
namespace {

template <typename Map, typename Key, typename Make>
auto* getOrCreate(Map& map, const Key& key, Make make) {
  auto it = map.find(key);
  if (it == map.end()) it = map.emplace(key, make()).first;
  return it->second.get();
}

void appendEscaped(std::string& out, std::string_view v) {
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
}

void appendLabels(std::string& out, const std::map<std::string, std::string>& labels,
                  std::string_view extraName = {}, std::string_view extraValue = {}) {
  if (labels.empty() && extraName.empty()) return;
  out += '{';
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) out += ',';
    first = false;
    out += k;
    out += "=\"";
    appendEscaped(out, v);
    out += '"';
  }
  if (!extraName.empty()) {
    if (!first) out += ',';
    out += extraName;
    out += "=\"";
    appendEscaped(out, extraValue);
    out += '"';
  }
  out += '}';
}

void appendNumber(std::string& out, double value) {
  char buf[64];
  if (value == static_cast<double>(static_cast<int64_t>(value))) {
    std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(value));
  } else {
    std::snprintf(buf, sizeof buf, "%.9g", value);
  }
  out += buf;
}

constexpr const char* kClassNames[6] = {"other", "1xx", "2xx", "3xx", "4xx", "5xx"};

template <typename Block, typename Get>
uint64_t sum(const Block& b, Get get) {
  uint64_t total = 0;
  for (size_t w = 0; w < b.workers(); ++w) total += get(b.at(w));
  return total;
}

template <typename Block, typename HistOf>
void appendHistogram(std::string& out, std::string_view name, const Block& b, HistOf histOf) {
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= kLatencyBounds.size(); ++i) {
    cumulative += sum(b, [&](const auto& s) { return histOf(s).buckets[i].get(); });
    char le[32];
    if (i < kLatencyBounds.size())
      std::snprintf(le, sizeof le, "%g", kLatencyBounds[i]);
    else
      std::snprintf(le, sizeof le, "+Inf");
    out += name;
    out += "_bucket";
    appendLabels(out, b.labels(), "le", le);
    out += ' ';
    appendNumber(out, static_cast<double>(cumulative));
    out += '\n';
  }
  uint64_t micros = sum(b, [&](const auto& s) { return histOf(s).sumMicros.get(); });
  out += name;
  out += "_sum";
  appendLabels(out, b.labels());
  out += ' ';
  appendNumber(out, static_cast<double>(micros) / 1e6);
  out += '\n';
  out += name;
  out += "_count";
  appendLabels(out, b.labels());
  out += ' ';
  appendNumber(out, static_cast<double>(cumulative));
  out += '\n';
}

template <typename Block, typename Get>
void appendCounter(std::string& out, std::string_view name, const Block& b, Get get) {
  appendSample(out, name, b.labels(), static_cast<double>(sum(b, get)));
}

void appendHeader(std::string& out, std::string_view name, std::string_view type,
                  std::string_view help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

}  // namespace

void appendSample(std::string& out, std::string_view name,
                  const std::map<std::string, std::string>& labels, double value) {
  out += name;
  appendLabels(out, labels);
  out += ' ';
  appendNumber(out, value);
  out += '\n';
}

StatsRegistry::StatsRegistry(size_t workers) : workers_(workers) {}
StatsRegistry::~StatsRegistry() = default;

TcpProxyStats* StatsRegistry::tcp(const std::string& listener) {
  std::lock_guard lock(mu_);
  return getOrCreate(tcp_, listener, [] { return std::make_unique<TcpProxyStats>(); });
}

RouteStats* StatsRegistry::route(const std::string& table, const std::string& route) {
  std::lock_guard lock(mu_);
  return getOrCreate(routes_, std::make_pair(table, route), [&] {
    return std::make_unique<RouteStats>(
        workers_, std::map<std::string, std::string>{{"route_table", table}, {"route", route}});
  });
}

UpstreamStats* StatsRegistry::upstream(const std::string& cluster, const std::string& revision) {
  std::lock_guard lock(mu_);
  return getOrCreate(upstreams_, std::make_pair(cluster, revision), [&] {
    return std::make_unique<UpstreamStats>(
        workers_, std::map<std::string, std::string>{{"cluster", cluster}, {"revision", revision}});
  });
}

ClusterStats* StatsRegistry::cluster(const std::string& name) {
  std::lock_guard lock(mu_);
  return getOrCreate(clusters_, name, [&] {
    return std::make_unique<ClusterStats>(workers_,
                                          std::map<std::string, std::string>{{"cluster", name}});
  });
}

ListenerStats* StatsRegistry::listener(const std::string& name) {
  std::lock_guard lock(mu_);
  return getOrCreate(listeners_, name, [&] {
    return std::make_unique<ListenerStats>(workers_,
                                           std::map<std::string, std::string>{{"listener", name}});
  });
}

std::string StatsRegistry::render(const std::unordered_set<const void*>* live) const {
  auto shown = [live](const void* block) { return live == nullptr || live->contains(block); };
  std::lock_guard lock(mu_);
  std::string out;
  out.reserve(4096 + 2048 * (routes_.size() + upstreams_.size()));

  appendHeader(out, "tessera_proxy_requests_total", "counter",
               "Downstream responses per route, by status class.");
  for (const auto& [key, b] : routes_) {
    if (!shown(b.get())) continue;
    for (size_t c = 1; c < 6; ++c) {
      auto labels = b->labels();
      labels["code_class"] = kClassNames[c];
      appendSample(
          out, "tessera_proxy_requests_total", labels,
          static_cast<double>(sum(*b, [&](const auto& s) { return s.responses[c].get(); })));
    }
  }
  appendHeader(out, "tessera_proxy_request_duration_seconds", "histogram",
               "Downstream request latency per route (first byte received to last byte sent).");
  for (const auto& [key, b] : routes_) {
    if (!shown(b.get())) continue;
    appendHistogram(out, "tessera_proxy_request_duration_seconds", *b,
                    [](const RouteWorkerStats& s) -> const LatencyHistogram& { return s.latency; });
  }
  struct RouteCounter {
    const char* name;
    const char* help;
    Counter RouteWorkerStats::*field;
  };
  const RouteCounter routeCounters[] = {
      {"tessera_proxy_rate_limited_total", "Requests answered 429 by the local rate limit.",
       &RouteWorkerStats::rateLimited},
      {"tessera_proxy_fault_aborts_total", "Requests aborted by fault injection.",
       &RouteWorkerStats::faultAborts},
      {"tessera_proxy_fault_delays_total", "Requests delayed by fault injection.",
       &RouteWorkerStats::faultDelays},
      {"tessera_proxy_unitized_forwards_total",
       "Unitized requests forwarded to another datacenter's gateway.",
       &RouteWorkerStats::crossDatacenterForwards},
      {"tessera_proxy_unitized_hop_refused_total",
       "Unitized requests refused (502) because they had already been forwarded once.",
       &RouteWorkerStats::hopRefused},
  };
  for (const auto& rc : routeCounters) {
    appendHeader(out, rc.name, "counter", rc.help);
    for (const auto& [key, b] : routes_) {
      if (!shown(b.get())) continue;
      appendCounter(out, rc.name, *b,
                    [&](const RouteWorkerStats& s) { return (s.*rc.field).get(); });
    }
  }

  appendHeader(out, "tessera_proxy_upstream_requests_total", "counter",
               "Tries sent upstream per cluster and revision, by response class "
               "(code_class=\"none\": no response).");
  for (const auto& [key, b] : upstreams_) {
    if (!shown(b.get())) continue;
    for (size_t c = 0; c < 6; ++c) {
      if (c == 1) continue;
      auto labels = b->labels();
      labels["code_class"] = c == 0 ? "none" : kClassNames[c];
      appendSample(
          out, "tessera_proxy_upstream_requests_total", labels,
          static_cast<double>(sum(*b, [&](const auto& s) { return s.responses[c].get(); })));
    }
  }
  appendHeader(out, "tessera_proxy_upstream_request_duration_seconds", "histogram",
               "Upstream try latency per cluster and revision (until the response head).");
  for (const auto& [key, b] : upstreams_) {
    if (!shown(b.get())) continue;
    appendHistogram(
        out, "tessera_proxy_upstream_request_duration_seconds", *b,
        [](const UpstreamWorkerStats& s) -> const LatencyHistogram& { return s.latency; });
  }

  struct ClusterCounter {
    const char* name;
    const char* help;
    Counter ClusterWorkerStats::*field;
  };
  const ClusterCounter clusterCounters[] = {
      {"tessera_proxy_upstream_retries_total", "Retries sent.", &ClusterWorkerStats::retries},
      {"tessera_proxy_upstream_connect_failures_total", "Failed upstream connects.",
       &ClusterWorkerStats::connectFailures},
      {"tessera_proxy_upstream_timeouts_total", "Upstream tries that timed out.",
       &ClusterWorkerStats::timeouts},
      {"tessera_proxy_upstream_resets_total", "Upstream connections reset during a try.",
       &ClusterWorkerStats::resets},
      {"tessera_proxy_upstream_overflows_total",
       "Tries refused because maxConnectionsPerEndpoint was reached.",
       &ClusterWorkerStats::overflows},
      {"tessera_proxy_upstream_no_healthy_host_total", "Requests with no available endpoint.",
       &ClusterWorkerStats::noHealthyHost},
      {"tessera_proxy_upstream_cx_total", "Upstream connections opened.",
       &ClusterWorkerStats::cxTotal},
  };
  for (const auto& cc : clusterCounters) {
    appendHeader(out, cc.name, "counter", cc.help);
    for (const auto& [key, b] : clusters_) {
      if (!shown(b.get())) continue;
      appendCounter(out, cc.name, *b,
                    [&](const ClusterWorkerStats& s) { return (s.*cc.field).get(); });
    }
  }
  appendHeader(out, "tessera_proxy_upstream_cx_active", "gauge", "Open upstream connections.");
  for (const auto& [key, b] : clusters_) {
    if (!shown(b.get())) continue;
    int64_t total = 0;
    for (size_t w = 0; w < b->workers(); ++w) total += b->at(w).cxActive.get();
    appendSample(out, "tessera_proxy_upstream_cx_active", b->labels(), static_cast<double>(total));
  }

  appendHeader(out, "tessera_proxy_downstream_cx_total", "counter",
               "Downstream connections accepted.");
  for (const auto& [key, b] : listeners_) {
    if (!shown(b.get())) continue;
    appendCounter(out, "tessera_proxy_downstream_cx_total", *b,
                  [](const ListenerWorkerStats& s) { return s.cxTotal.get(); });
  }
  appendHeader(out, "tessera_proxy_downstream_cx_overflow_total", "counter",
               "Downstream connections closed at once because maxConnections was reached.");
  for (const auto& [key, b] : listeners_) {
    if (!shown(b.get())) continue;
    appendCounter(out, "tessera_proxy_downstream_cx_overflow_total", *b,
                  [](const ListenerWorkerStats& s) { return s.cxOverflow.get(); });
  }
  appendHeader(out, "tessera_proxy_downstream_requests_total", "counter",
               "Downstream requests received per listener.");
  for (const auto& [key, b] : listeners_) {
    if (!shown(b.get())) continue;
    appendCounter(out, "tessera_proxy_downstream_requests_total", *b,
                  [](const ListenerWorkerStats& s) { return s.requests.get(); });
  }
  appendHeader(out, "tessera_proxy_downstream_cx_active", "gauge", "Open downstream connections.");
  for (const auto& [key, b] : listeners_) {
    if (!shown(b.get())) continue;
    int64_t total = 0;
    for (size_t w = 0; w < b->workers(); ++w) total += b->at(w).cxActive.get();
    appendSample(out, "tessera_proxy_downstream_cx_active", b->labels(),
                 static_cast<double>(total));
  }
  struct TcpCounter {
    const char* name;
    const char* type;
    const char* help;
    std::function<double(const TcpProxyStats&)> get;
  };
  const TcpCounter tcpCounters[] = {
      {"tessera_proxy_tcp_cx_total", "counter", "TCP listener connections handled.",
       [](const TcpProxyStats& t) { return static_cast<double>(t.connections.load()); }},
      {"tessera_proxy_tcp_cx_active", "gauge", "TCP listener connections open.",
       [](const TcpProxyStats& t) { return static_cast<double>(t.activeConnections.load()); }},
      {"tessera_proxy_tcp_connect_failures_total", "counter",
       "TCP upstream connect failures (timeouts included).",
       [](const TcpProxyStats& t) { return static_cast<double>(t.connectFailures.load()); }},
      {"tessera_proxy_tcp_no_healthy_upstream_total", "counter",
       "TCP connections closed because no upstream could be reached.",
       [](const TcpProxyStats& t) { return static_cast<double>(t.noHealthyUpstream.load()); }},
      {"tessera_proxy_tcp_rx_bytes_total", "counter", "Bytes received from TCP clients.",
       [](const TcpProxyStats& t) { return static_cast<double>(t.bytesFromDownstream.load()); }},
      {"tessera_proxy_tcp_tx_bytes_total", "counter", "Bytes sent to TCP clients.",
       [](const TcpProxyStats& t) { return static_cast<double>(t.bytesToDownstream.load()); }},
  };
  for (const auto& tc : tcpCounters) {
    appendHeader(out, tc.name, tc.type, tc.help);
    for (const auto& [name, t] : tcp_) {
      if (shown(t.get())) appendSample(out, tc.name, {{"listener", name}}, tc.get(*t));
    }
  }
  return out;
}

}  // namespace tessera::mesh::proxy
