// The traffic metrics' pure parts: the Prometheus text parser, the series a proxy's counters
// belong to, and the rate, error-rate and p99 arithmetic over scrape rounds (time injected).
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cmath>

#include "traffic/metrics/prometheus_text.h"
#include "traffic/metrics/traffic_history.h"

namespace tessera::traffic {
namespace {

namespace json = boost::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(PrometheusText, ParsesSamplesLabelsAndEscapes) {
  auto r = parsePrometheusText(
      "# HELP x_total Things.\n"
      "# TYPE x_total counter\n"
      "x_total 3\n"
      "\n"
      "y{a=\"1\",b=\"two words\"} 2.5\n"
      "z{path=\"C:\\\\dir\",q=\"say \\\"hi\\\"\",nl=\"a\\nb\",} 1e3 1700000000000\n"
      "w{} +Inf\r\n"
      "  v{le=\"0.5\"}   NaN\n");
  ASSERT_TRUE(r.isOk()) << r.status().message();
  ASSERT_EQ(r->size(), 5u);
  EXPECT_EQ((*r)[0].name, "x_total");
  EXPECT_TRUE((*r)[0].labels.empty());
  EXPECT_EQ((*r)[0].value, 3);
  EXPECT_EQ((*r)[1].labels.at("a"), "1");
  EXPECT_EQ((*r)[1].labels.at("b"), "two words");
  EXPECT_EQ((*r)[1].value, 2.5);
  EXPECT_EQ((*r)[2].labels.at("path"), "C:\\dir");
  EXPECT_EQ((*r)[2].labels.at("q"), "say \"hi\"");
  EXPECT_EQ((*r)[2].labels.at("nl"), "a\nb");
  EXPECT_EQ((*r)[2].value, 1000);
  EXPECT_TRUE(std::isinf((*r)[3].value));
  EXPECT_TRUE(std::isnan((*r)[4].value));
}

TEST(PrometheusText, RefusesMalformedLinesNamingThem) {
  for (const char* bad : {"x{a=\"1\" 2\n", "x{a=1} 2\n", "x 2 3 4\n", "x{a=\"1\"} two\n",
                          "{a=\"1\"} 2\n", "x{a=\"\\q\"} 1\n", "x\n", "x{a=\"unterminated} 1\n"}) {
    auto r = parsePrometheusText(std::string("ok 1\n") + bad);
    ASSERT_FALSE(r.isOk()) << bad;
    EXPECT_NE(r.status().message().find("line 2"), std::string::npos) << r.status().message();
  }
  EXPECT_TRUE(parsePrometheusText("").isOk());
  EXPECT_TRUE(parsePrometheusText("# only a comment").isOk());
}

TEST(TrafficSeries, ClusterNamesGiveApplicationAndCell) {
  auto a = applicationAndCell("pay.demo.rz-a");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->first, "pay/demo");
  EXPECT_EQ(a->second, "rz-a");
  auto dotted = applicationAndCell("pay.shop.v2.rz-b");  // application names may hold dots
  ASSERT_TRUE(dotted);
  EXPECT_EQ(dotted->first, "pay/shop.v2");
  EXPECT_EQ(dotted->second, "rz-b");
  auto plain = applicationAndCell("shop");  // a standalone proxy's cluster
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->first, "shop");
  EXPECT_EQ(plain->second, "");
  EXPECT_FALSE(applicationAndCell("gateway.dc-b"));  // counted by the other datacenter
  EXPECT_FALSE(applicationAndCell("a.b"));
  EXPECT_FALSE(applicationAndCell(""));
  EXPECT_FALSE(applicationAndCell("..x"));
}

// A proxy's /stats as tessera-proxy renders it (mesh/proxy/stats.cc), for one cluster×revision.
std::string stats(const std::string& cluster, const std::string& revision, double ok2xx,
                  double err5xx, double none,
                  const std::vector<std::pair<std::string, double>>& buckets) {
  std::string labels = "cluster=\"" + cluster + "\",revision=\"" + revision + "\"";
  std::string out = "# TYPE tessera_proxy_upstream_requests_total counter\n";
  out += "tessera_proxy_upstream_requests_total{" + labels + ",code_class=\"none\"} " +
         std::to_string(none) + "\n";
  out += "tessera_proxy_upstream_requests_total{" + labels + ",code_class=\"2xx\"} " +
         std::to_string(ok2xx) + "\n";
  out += "tessera_proxy_upstream_requests_total{" + labels + ",code_class=\"4xx\"} 0\n";
  out += "tessera_proxy_upstream_requests_total{" + labels + ",code_class=\"5xx\"} " +
         std::to_string(err5xx) + "\n";
  for (const auto& [le, c] : buckets) {
    out += "tessera_proxy_upstream_request_duration_seconds_bucket{" + labels + ",le=\"" + le +
           "\"} " + std::to_string(c) + "\n";
  }
  // Route counters and other families are ignored.
  out += "tessera_proxy_requests_total{route_table=\"t\",route=\"r\",code_class=\"2xx\"} 99\n";
  return out;
}

ProxyCounters counters(const std::string& text, const std::string& dc) {
  auto samples = parsePrometheusText(text);
  EXPECT_TRUE(samples.isOk()) << samples.status().message();
  return countersFromSamples(*samples, dc);
}

TEST(TrafficSeries, CountersFromProxySamples) {
  auto c = counters(stats("pay.demo.rz-a", "v1", 90, 7, 3, {{"0.01", 50}, {"+Inf", 100}}) +
                        stats("gateway.dc-b", "", 5, 0, 0, {}),
                    "dc-a");
  ASSERT_EQ(c.size(), 1u);
  const auto& [key, v] = *c.begin();
  EXPECT_EQ(key.datacenter, "dc-a");
  EXPECT_EQ(key.cell, "rz-a");
  EXPECT_EQ(key.revision, "v1");
  EXPECT_EQ(key.application, "pay/demo");
  EXPECT_EQ(v.requests, 100);
  EXPECT_EQ(v.errors, 10);  // 5xx and no response
  EXPECT_EQ(v.buckets.at(0.01), 50);
  EXPECT_EQ(v.buckets.at(INFINITY), 100);
}

TEST(TrafficSeries, HistogramQuantileInterpolatesLikePrometheus) {
  // 100 observations: 50 ≤ 10 ms, 40 in (10, 20] ms, 10 in (20, 50] ms.
  std::map<double, double> b = {{0.01, 50}, {0.02, 90}, {0.05, 100}, {INFINITY, 100}};
  EXPECT_NEAR(histogramQuantile(0.5, b), 0.01, 1e-12);
  EXPECT_NEAR(histogramQuantile(0.7, b), 0.015, 1e-12);
  EXPECT_NEAR(histogramQuantile(0.99, b), 0.047, 1e-12);
  EXPECT_NEAR(histogramQuantile(0.25, b), 0.005, 1e-12);  // first bucket starts at 0
  // In the +Inf bucket: the largest finite bound.
  EXPECT_EQ(histogramQuantile(0.99, {{0.01, 1}, {INFINITY, 100}}), 0.01);
  EXPECT_EQ(histogramQuantile(0.99, {}), 0);
  EXPECT_EQ(histogramQuantile(0.99, {{0.01, 0}, {INFINITY, 0}}), 0);
}

SystemTime at(int s) {
  return SystemTime(std::chrono::seconds(1'800'000'000 + s));
}

ScrapeResult ok(const std::string& proxy, ProxyCounters c) {
  ScrapeResult r;
  r.proxy = proxy;
  r.counters = std::move(c);
  return r;
}
ScrapeResult failed(const std::string& proxy, const std::string& why) {
  ScrapeResult r;
  r.proxy = proxy;
  r.error = why;
  return r;
}

const std::deque<Point>& only(const TrafficHistory& h) {
  EXPECT_EQ(h.series().size(), 1u);
  return h.series().begin()->second;
}

TEST(TrafficHistory, RatesFromCounterDeltas) {
  TrafficHistory h(seconds(600), milliseconds(2000));
  const std::vector<std::pair<std::string, double>> none;
  h.record(at(0), {ok("gw", counters(stats("pay.demo.rz-a", "v1", 100, 0, 0, none), "dc-a"))});
  EXPECT_TRUE(h.series().empty()) << "the first scrape is only a baseline";
  // +40 requests in 2 s, 10 of them 5xx, 2 without a response.
  h.record(at(2), {ok("gw", counters(stats("pay.demo.rz-a", "v1", 128, 10, 2,
                                           {{"0.01", 30}, {"0.1", 40}, {"+Inf", 40}}),
                                     "dc-a"))});
  const auto& points = only(h);
  ASSERT_EQ(points.size(), 1u);
  EXPECT_DOUBLE_EQ(points[0].rps, 20);
  EXPECT_DOUBLE_EQ(points[0].errorRate, 12.0 / 40);
  // The first scrape had no buckets: the deltas are the whole counts. p99 = rank 39.6 in
  // (10, 100] ms with 10 observations: 10 + 90 * 9.6 / 10 ms.
  EXPECT_NEAR(points[0].p99Ms, 10 + 90 * 0.96, 1e-9);
  // Nothing new: a point at zero, the series stays.
  h.record(at(4), {ok("gw", counters(stats("pay.demo.rz-a", "v1", 128, 10, 2,
                                           {{"0.01", 30}, {"0.1", 40}, {"+Inf", 40}}),
                                     "dc-a"))});
  ASSERT_EQ(only(h).size(), 2u);
  EXPECT_EQ(only(h)[1].rps, 0);
  EXPECT_EQ(only(h)[1].errorRate, 0);
  EXPECT_EQ(only(h)[1].p99Ms, 0);
}

TEST(TrafficHistory, SumsProxiesOfADatacenterAndKeepsDatacentersApart) {
  TrafficHistory h(seconds(600), milliseconds(2000));
  const std::vector<std::pair<std::string, double>> none;
  auto round = [&](int t, double a, double b, double c) {
    h.record(at(t), {ok("gw-a1", counters(stats("pay.demo.rz-a", "v1", a, 0, 0, none), "dc-a")),
                     ok("gw-a2", counters(stats("pay.demo.rz-a", "v1", b, 0, 0, none), "dc-a")),
                     ok("gw-b", counters(stats("pay.demo.rz-b", "v1", c, 0, 0, none), "dc-b"))});
  };
  round(0, 0, 0, 0);
  round(2, 10, 30, 8);
  ASSERT_EQ(h.series().size(), 2u);
  for (const auto& [key, points] : h.series()) {
    ASSERT_EQ(points.size(), 1u);
    EXPECT_DOUBLE_EQ(points[0].rps, key.datacenter == "dc-a" ? 20 : 4) << key.datacenter;
  }
}

TEST(TrafficHistory, CounterResetAndFailedScrapes) {
  TrafficHistory h(seconds(600), milliseconds(2000));
  const std::vector<std::pair<std::string, double>> none;
  auto c = [&](double n) { return counters(stats("pay.demo.rz-a", "v2", n, 0, 0, none), "dc-a"); };
  h.record(at(0), {ok("gw", c(1000))});
  // The proxy restarted: its counters start again from zero; the new value is the delta.
  h.record(at(2), {ok("gw", c(6))});
  ASSERT_EQ(only(h).size(), 1u);
  EXPECT_DOUBLE_EQ(only(h)[0].rps, 3);
  // A failed scrape: no point, and the proxy is reported.
  h.record(at(4), {failed("gw", "connect 127.0.0.1:1: Connection refused")});
  EXPECT_EQ(only(h).size(), 1u);
  json::value doc = json::parse(h.toJson(at(4), seconds(600)));
  EXPECT_EQ(doc.at("proxies").at("total").as_int64(), 1);
  EXPECT_EQ(doc.at("proxies").at("scraped").as_int64(), 0);
  EXPECT_EQ(doc.at("proxies").at("failed").at(0).at("name").as_string(), "gw");
  EXPECT_EQ(doc.at("proxies").at("failed").at(0).at("reason").as_string(),
            "connect 127.0.0.1:1: Connection refused");
  // The next good scrape covers the whole gap since the last good one (4 s).
  h.record(at(6), {ok("gw", c(46))});
  ASSERT_EQ(only(h).size(), 2u);
  EXPECT_DOUBLE_EQ(only(h)[1].rps, 10);
  // A proxy gone from the round is forgotten: when it comes back, it starts a new baseline.
  h.record(at(8), {});
  h.record(at(10), {ok("gw", c(500))});
  EXPECT_EQ(only(h).size(), 2u);
}

TEST(TrafficHistory, RetentionWindowAndJson) {
  TrafficHistory h(seconds(10), milliseconds(2000));
  const std::vector<std::pair<std::string, double>> none;
  for (int t = 0; t <= 20; t += 2) {
    h.record(at(t),
             {ok("gw", counters(stats("pay.demo.rz-a", "v1", 5.0 * t, 0, 0, none), "dc-a"))});
  }
  // Retention 10 s: points at 10..20 remain.
  ASSERT_EQ(only(h).size(), 6u);
  EXPECT_EQ(only(h).front().t, at(10));
  json::value doc = json::parse(h.toJson(at(20), seconds(4)));
  EXPECT_EQ(doc.at("kind").as_string(), "TrafficStats");
  EXPECT_EQ(doc.at("apiVersion").as_string(), "traffic.tessera.io/v1");
  EXPECT_EQ(doc.at("intervalSeconds").as_int64(), 2);
  EXPECT_EQ(doc.at("windowSeconds").as_int64(), 4);
  const auto& series = doc.at("series").as_array();
  ASSERT_EQ(series.size(), 1u);
  EXPECT_EQ(series[0].at("datacenter").as_string(), "dc-a");
  EXPECT_EQ(series[0].at("cell").as_string(), "rz-a");
  EXPECT_EQ(series[0].at("revision").as_string(), "v1");
  EXPECT_EQ(series[0].at("application").as_string(), "pay/demo");
  const auto& points = series[0].at("points").as_array();
  ASSERT_EQ(points.size(), 3u);  // at 16, 18, 20
  EXPECT_EQ(points[0].at("t").as_string(), "2027-01-15T08:00:16.000Z");
  EXPECT_EQ(points[2].at("rps").as_int64(), 5);  // written as 5, not 5.0 or 5E0
  EXPECT_EQ(points[2].at("errorRate").as_int64(), 0);
  // A window with no points leaves the series out.
  json::value later = json::parse(h.toJson(at(40), seconds(4)));
  EXPECT_TRUE(later.at("series").as_array().empty());
}

}  // namespace
}  // namespace tessera::traffic
