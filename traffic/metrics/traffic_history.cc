#include "traffic/metrics/traffic_history.h"

#include <boost/json.hpp>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <limits>

namespace tessera::traffic {
namespace json = boost::json;

namespace {

constexpr char kRequests[] = "tessera_proxy_upstream_requests_total";
constexpr char kBuckets[] = "tessera_proxy_upstream_request_duration_seconds_bucket";

std::string label(const Sample& s, const char* name) {
  auto it = s.labels.find(name);
  return it == s.labels.end() ? std::string() : it->second;
}

std::optional<double> parseLe(const std::string& le) {
  if (le == "+Inf" || le == "Inf") return std::numeric_limits<double>::infinity();
  char* end = nullptr;
  double v = std::strtod(le.c_str(), &end);
  if (le.empty() || end != le.c_str() + le.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

// Δ of one series between two scrapes of the same proxy; a counter that went down (the proxy
// restarted) counts from zero.
UpstreamCounters delta(const UpstreamCounters& cur, const UpstreamCounters* prev) {
  if (!prev) return cur;
  bool reset = cur.requests < prev->requests || cur.errors < prev->errors;
  for (const auto& [le, c] : cur.buckets) {
    auto it = prev->buckets.find(le);
    if (it != prev->buckets.end() && c < it->second) reset = true;
  }
  if (reset) return cur;
  UpstreamCounters d;
  d.requests = cur.requests - prev->requests;
  d.errors = cur.errors - prev->errors;
  for (const auto& [le, c] : cur.buckets) {
    auto it = prev->buckets.find(le);
    d.buckets[le] = c - (it == prev->buckets.end() ? 0 : it->second);
  }
  return d;
}

// A number as JSON: finite, at most 4 decimals, no exponent, no trailing zeros.
std::string number(double v) {
  if (!std::isfinite(v)) v = 0;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.4f", v);
  std::string s(buf);
  if (s.find('.') != std::string::npos) {
    while (s.back() == '0') s.pop_back();
    if (s.back() == '.') s.pop_back();
  }
  if (s == "-0") s = "0";
  return s;
}

std::string quoted(std::string_view s) {
  return json::serialize(json::value(json::string(s)));
}

// "2026-11-27T07:34:35.123Z"
std::string timeMillis(SystemTime t) {
  std::string micro = formatRfc3339Micro(t);  // ...:35.123456Z
  auto dot = micro.rfind('.');
  if (dot == std::string::npos || micro.size() < dot + 5) return micro;
  return micro.substr(0, dot + 4) + "Z";
}

}  // namespace

std::optional<std::pair<std::string, std::string>> applicationAndCell(std::string_view cluster) {
  if (cluster.empty() || cluster.rfind("gateway.", 0) == 0) return std::nullopt;
  auto first = cluster.find('.');
  if (first == std::string_view::npos) return std::make_pair(std::string(cluster), std::string());
  auto last = cluster.rfind('.');
  if (last == first) return std::nullopt;  // "a.b": not the control plane's naming
  std::string ns(cluster.substr(0, first));
  std::string app(cluster.substr(first + 1, last - first - 1));
  std::string cell(cluster.substr(last + 1));
  if (ns.empty() || app.empty() || cell.empty()) return std::nullopt;
  return std::make_pair(ns + "/" + app, cell);
}

ProxyCounters countersFromSamples(const std::vector<Sample>& samples,
                                  const std::string& datacenter) {
  ProxyCounters out;
  for (const auto& s : samples) {
    const bool requests = s.name == kRequests;
    if (!requests && s.name != kBuckets) continue;
    if (!std::isfinite(s.value) || s.value < 0) continue;
    auto ac = applicationAndCell(label(s, "cluster"));
    if (!ac) continue;
    SeriesKey key{datacenter, ac->second, label(s, "revision"), ac->first};
    auto& c = out[key];
    if (requests) {
      c.requests += s.value;
      const std::string cls = label(s, "code_class");
      if (cls == "5xx" || cls == "none") c.errors += s.value;
    } else if (auto le = parseLe(label(s, "le"))) {
      c.buckets[*le] += s.value;
    }
  }
  return out;
}

double histogramQuantile(double q, const std::map<double, double>& cumulative) {
  if (cumulative.empty()) return 0;
  const double total = cumulative.rbegin()->second;
  if (!(total > 0)) return 0;
  const double rank = q * total;
  double lowerBound = 0, lowerCount = 0;
  double largestFinite = 0;
  for (const auto& [le, count] : cumulative) {
    if (std::isfinite(le)) largestFinite = le;
    if (count >= rank) {
      if (!std::isfinite(le)) return largestFinite;
      const double inBucket = count - lowerCount;
      if (inBucket <= 0) return le;
      return lowerBound + (le - lowerBound) * (rank - lowerCount) / inBucket;
    }
    lowerBound = le;
    lowerCount = count;
  }
  return largestFinite;
}

TrafficHistory::TrafficHistory(std::chrono::seconds retention, std::chrono::milliseconds interval)
    : retention_(retention), interval_(interval) {}

void TrafficHistory::record(SystemTime t, const std::vector<ScrapeResult>& round) {
  struct Sum {
    double rps = 0, requests = 0, errors = 0;
    std::map<double, double> buckets;
    bool any = false;
  };
  std::map<SeriesKey, Sum> sums;
  std::map<std::string, Baseline> next;
  total_ = round.size();
  scraped_ = 0;
  failed_.clear();
  for (const auto& r : round) {
    auto base = baselines_.find(r.proxy);
    if (!r.counters) {
      failed_.emplace_back(r.proxy, r.error);
      if (base != baselines_.end()) next.emplace(r.proxy, std::move(base->second));
      continue;
    }
    ++scraped_;
    if (base != baselines_.end()) {
      const double dt = std::chrono::duration<double>(t - base->second.t).count();
      if (dt > 0) {
        for (const auto& [key, cur] : *r.counters) {
          auto prev = base->second.counters.find(key);
          UpstreamCounters d =
              delta(cur, prev == base->second.counters.end() ? nullptr : &prev->second);
          Sum& s = sums[key];
          s.any = true;
          s.rps += d.requests / dt;
          s.requests += d.requests;
          s.errors += d.errors;
          for (const auto& [le, c] : d.buckets) s.buckets[le] += c;
        }
      }
    }
    next[r.proxy] = Baseline{t, *r.counters};
  }
  baselines_ = std::move(next);
  for (const auto& [key, s] : sums) {
    if (!s.any) continue;
    Point p;
    p.t = t;
    p.rps = s.rps;
    p.errorRate = s.requests > 0 ? s.errors / s.requests : 0;
    p.p99Ms = histogramQuantile(0.99, s.buckets) * 1000;
    series_[key].push_back(p);
  }
  const SystemTime oldest = t - retention_;
  for (auto it = series_.begin(); it != series_.end();) {
    auto& points = it->second;
    while (!points.empty() && points.front().t < oldest) points.pop_front();
    it = points.empty() ? series_.erase(it) : std::next(it);
  }
}

std::string TrafficHistory::toJson(SystemTime now, std::chrono::seconds window) const {
  const SystemTime from = now - window;
  std::string out;
  out.reserve(512 + series_.size() * 64);
  out += R"({"kind":"TrafficStats","apiVersion":"traffic.tessera.io/v1","time":)";
  out += quoted(timeMillis(now));
  out += R"(,"intervalSeconds":)";
  out += number(std::chrono::duration<double>(interval_).count());
  out += R"(,"windowSeconds":)";
  out += std::to_string(window.count());
  out += R"(,"proxies":{"total":)";
  out += std::to_string(total_);
  out += R"(,"scraped":)";
  out += std::to_string(scraped_);
  out += R"(,"failed":[)";
  for (std::size_t i = 0; i < failed_.size(); ++i) {
    if (i) out += ',';
    out += R"({"name":)" + quoted(failed_[i].first) + R"(,"reason":)" + quoted(failed_[i].second) +
           "}";
  }
  out += R"(]},"series":[)";
  bool firstSeries = true;
  for (const auto& [key, points] : series_) {
    if (points.empty() || points.back().t < from) continue;
    if (!firstSeries) out += ',';
    firstSeries = false;
    out += R"({"datacenter":)" + quoted(key.datacenter) + R"(,"cell":)" + quoted(key.cell) +
           R"(,"revision":)" + quoted(key.revision) + R"(,"application":)" +
           quoted(key.application) + R"(,"points":[)";
    bool firstPoint = true;
    for (const auto& p : points) {
      if (p.t < from) continue;
      if (!firstPoint) out += ',';
      firstPoint = false;
      out += R"({"t":)" + quoted(timeMillis(p.t)) + R"(,"rps":)" + number(p.rps) +
             R"(,"errorRate":)" + number(p.errorRate) + R"(,"p99Ms":)" + number(p.p99Ms) + "}";
    }
    out += "]}";
  }
  out += "]}";
  return out;
}

}  // namespace tessera::traffic
