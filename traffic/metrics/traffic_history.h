// TrafficHistory: the proxies' upstream counters, scrape after scrape, turned into rates per
// (datacenter, cell, revision, application). Pure: no I/O, time passed in.
//
// What is counted (mesh/proxy/stats.cc): `tessera_proxy_upstream_requests_total{cluster,
// revision, code_class}` (tries sent to an application's endpoints: a retried request counts
// once per try) and the histogram `tessera_proxy_upstream_request_duration_seconds{cluster,
// revision}` (until the response head). The datacenter is the proxy's; cell and application come
// from the cluster name `<namespace>.<application>.<cell>` (the control plane's naming; a cluster
// with no dot, as in a standalone proxy's file, is an application without a cell), the revision
// from the `revision` label. Gateway clusters (`gateway.<dc>`) are left out: the other
// datacenter's gateway counts those requests where it serves them.
//
// Per series and scrape round: rps = Σ over proxies of Δrequests / Δt, errorRate = Σ Δ(5xx + no
// response) / Σ Δrequests, p99Ms from the summed bucket deltas (linear interpolation in the
// bucket, like Prometheus' histogram_quantile). A counter that went down (the proxy restarted)
// counts from zero. A proxy's first scrape only sets its baseline; a failed scrape leaves it, so
// the next good one covers the whole gap.
//
// Thread-safety: none; the owner serialises calls.
#pragma once

#include <chrono>
#include <compare>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/time_util.h"
#include "traffic/metrics/prometheus_text.h"

namespace tessera::traffic {

struct SeriesKey {
  std::string datacenter;
  std::string cell;
  std::string revision;
  std::string application;  // "<namespace>/<name>"
  auto operator<=>(const SeriesKey&) const = default;
};

/// One upstream series' counters in one scrape.
struct UpstreamCounters {
  double requests = 0;
  double errors = 0;                 // 5xx and no response
  std::map<double, double> buckets;  // upper bound (seconds, +Inf last) → cumulative count
};

using ProxyCounters = std::map<SeriesKey, UpstreamCounters>;

/// (application "<namespace>/<name>", cell) of an upstream cluster name; nullopt for gateway
/// clusters and names that are not an application's.
std::optional<std::pair<std::string, std::string>> applicationAndCell(std::string_view cluster);

/// The upstream counters of one proxy's samples, keyed with the proxy's `datacenter`.
ProxyCounters countersFromSamples(const std::vector<Sample>& samples,
                                  const std::string& datacenter);

/// The `q` quantile (0..1) of a histogram given as cumulative bucket counts; 0 when empty. A
/// quantile in the +Inf bucket is the largest finite bound.
double histogramQuantile(double q, const std::map<double, double>& cumulative);

struct Point {
  SystemTime t;
  double rps = 0;
  double errorRate = 0;  // 0..1
  double p99Ms = 0;
};

/// One proxy's scrape in a round: counters, or why there are none.
struct ScrapeResult {
  std::string proxy;  // Proxy object name
  std::optional<ProxyCounters> counters;
  std::string error;  // when !counters
};

class TrafficHistory {
 public:
  TrafficHistory(std::chrono::seconds retention, std::chrono::milliseconds interval);

  /// Records one round at `t`: a result for every connected proxy (proxies missing from the
  /// round are forgotten). Points older than the retention are dropped.
  void record(SystemTime t, const std::vector<ScrapeResult>& round);

  /// The TrafficStats document (apiVersion traffic.tessera.io/v1) with the points newer than
  /// `now - window`.
  std::string toJson(SystemTime now, std::chrono::seconds window) const;

  const std::map<SeriesKey, std::deque<Point>>& series() const { return series_; }

 private:
  struct Baseline {
    SystemTime t;
    ProxyCounters counters;
  };
  std::chrono::seconds retention_;
  std::chrono::milliseconds interval_;
  std::map<std::string, Baseline> baselines_;  // by proxy
  std::map<SeriesKey, std::deque<Point>> series_;
  std::size_t total_ = 0;
  std::size_t scraped_ = 0;
  std::vector<std::pair<std::string, std::string>> failed_;  // (proxy, reason), last round
};

}  // namespace tessera::traffic
