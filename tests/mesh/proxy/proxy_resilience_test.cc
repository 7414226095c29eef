// Misbehaving backends behind a real tessera-proxy: retries only when safe, timeouts, outlier
// ejection and recovery, local rate limiting, fault injection.
#include <gtest/gtest.h>

#include <boost/asio.hpp>

#include "tests/mesh/proxy/proxy_test_util.h"
#include "tests/support/wait.h"

namespace tessera::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

std::string ep(uint16_t port) {
  return "{address: 127.0.0.1, port: " + std::to_string(port) + "}";
}

BackendReply replyStatus(int status, const std::string& body) {
  BackendReply r;
  r.status = status;
  r.body = body;
  return r;
}

// A port with nothing listening (bound once, then released).
uint16_t closedPort() {
  return freePort();
}

class ProxyResilienceTest : public ::testing::Test {
 protected:
  uint16_t port_ = freePort();

  std::string listener() {
    return "listeners:\n- {name: main, address: 127.0.0.1, port: " + std::to_string(port_) +
           ", routeTable: main}\n";
  }
};

TEST_F(ProxyResilienceTest, RetriesOnlyWhenSafe) {
  TestBackend bad("bad"), good("good"), hang("hang");
  bad.setHandler([](const BackendRequest&) { return replyStatus(503, "bad"); });
  hang.setHandler([](const BackendRequest&) {
    BackendReply r;
    r.action = BackendReply::Action::kHang;
    return r;
  });
  const uint16_t nothing = closedPort();
  const std::string config = "version: \"1\"\n" + listener() + R"(routeTables:
- name: main
  routes:
  - name: flaky
    match: {prefix: /flaky}
    forward: {cluster: flaky}
    retry: {maxRetries: 1}
  - name: refused
    match: {prefix: /refused}
    forward: {cluster: refused}
    retry: {maxRetries: 1}
  - name: slow
    match: {prefix: /slow}
    forward: {cluster: slow}
    retry: {maxRetries: 1, perTryTimeout: 300ms}
clusters:
- name: flaky
  outlierDetection: {enabled: false}
  endpoints: [)" + ep(bad.port()) +
                             ", " + ep(good.port()) + R"(]
- name: refused
  outlierDetection: {enabled: false}
  endpoints: [)" + ep(nothing) +
                             ", " + ep(good.port()) + R"(]
- name: slow
  outlierDetection: {enabled: false}
  endpoints: [)" + ep(hang.port()) +
                             ", " + ep(good.port()) + "]\n";
  auto proxy = ProxyProcess::start(config, {}, 1);
  ASSERT_TRUE(proxy);
  StrictClient c("127.0.0.1", port_);

  // GET answered 503 by one endpoint: retried on the other, every GET succeeds.
  const int n = 40;
  for (int i = 0; i < n; ++i) {
    auto r = c.get("/flaky");
    ASSERT_EQ(r.status, 200) << r.body;
  }
  EXPECT_GT(bad.requests("GET"), 0u);
  EXPECT_EQ(good.requests("GET"), static_cast<uint64_t>(n));
  EXPECT_EQ(proxy->stat("tessera_proxy_upstream_retries_total", {{"cluster", "flaky"}}),
            static_cast<double>(bad.requests("GET")));

  // POST answered 503: it reached the backend, so it is never retried.
  int post503 = 0;
  for (int i = 0; i < n; ++i) {
    auto r = c.request("POST", "/flaky", "order=" + std::to_string(i));
    ASSERT_TRUE(r.status == 200 || r.status == 503) << r.status;
    if (r.status == 503) ++post503;
  }
  EXPECT_GT(post503, 0);
  EXPECT_EQ(bad.requests("POST"), static_cast<uint64_t>(post503));
  EXPECT_EQ(bad.requests("POST") + good.requests("POST"), static_cast<uint64_t>(n))
      << "each POST reached exactly one backend once";

  // Connection refused: nothing was sent, so even a POST is retried (on the other endpoint).
  for (int i = 0; i < 10; ++i) {
    auto r = c.request("POST", "/refused", "x");
    EXPECT_EQ(r.status, 200) << r.body;
  }

  // A hanging endpoint: a GET is retried after the per-try timeout; a POST gets 504.
  hang.resetCounters();
  good.resetCounters();
  int get200 = 0;
  for (int i = 0; i < 4; ++i) {
    auto r = c.get("/slow");
    if (r.status == 200) ++get200;
  }
  EXPECT_EQ(get200, 4);
  int post504 = 0;
  for (int i = 0; i < 4; ++i) {
    auto r = c.request("POST", "/slow", "x");
    if (r.status == 504) {
      ++post504;
      EXPECT_EQ(r.header("x-tessera-reason"), "upstream timeout");
    }
  }
  EXPECT_GT(post504, 0);
  EXPECT_EQ(hang.requests("POST"), static_cast<uint64_t>(post504));
  EXPECT_EQ(hang.requests("POST") + good.requests("POST"), 4u);
}

TEST_F(ProxyResilienceTest, RouteTimeoutAnswers504) {
  TestBackend slow("slow");
  slow.setHandler([](const BackendRequest&) {
    BackendReply r;
    r.body = "late";
    r.delay = milliseconds(3000);
    return r;
  });
  const std::string config = "version: \"1\"\n" + listener() + R"(routeTables:
- name: main
  routes:
  - name: r
    match: {prefix: /}
    forward: {cluster: slow}
    timeout: 300ms
    retry: {maxRetries: 0}
clusters:
- name: slow
  endpoints: [)" + ep(slow.port()) +
                             "]\n";
  auto proxy = ProxyProcess::start(config);
  ASSERT_TRUE(proxy);
  StrictClient c("127.0.0.1", port_);
  const auto start = std::chrono::steady_clock::now();
  auto r = c.get("/");
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(r.status, 504);
  EXPECT_EQ(r.header("x-tessera-reason"), "upstream timeout");
  EXPECT_GE(took, milliseconds(280));
  EXPECT_LT(took, milliseconds(2000));
}

TEST_F(ProxyResilienceTest, OutlierEjectionAndRecovery) {
  TestBackend bad("bad"), good("good");
  std::atomic<bool> failing{true};
  bad.setHandler([&](const BackendRequest&) {
    return failing ? replyStatus(500, "bad") : replyStatus(200, "bad");
  });
  const std::string config = "version: \"1\"\n" + listener() + R"(routeTables:
- name: main
  routes:
  - name: r
    match: {prefix: /}
    forward: {cluster: pair}
    retry: {maxRetries: 0}
clusters:
- name: pair
  outlierDetection: {consecutive5xx: 3, baseEjectionTime: 1500ms, maxEjectionPercent: 50}
  endpoints: [)" + ep(bad.port()) +
                             ", " + ep(good.port()) + "]\n";
  auto proxy = ProxyProcess::start(config, {}, 1);
  ASSERT_TRUE(proxy);
  StrictClient c("127.0.0.1", port_);
  // Round robin: 3 consecutive 500s from `bad` within the first 6 requests eject it.
  for (int i = 0; i < 6; ++i) c.get("/");
  EXPECT_EQ(bad.requests(), 3u);
  ASSERT_EQ(proxy->stat("tessera_proxy_outlier_ejections_total", {{"cluster", "pair"}}), 1.0);
  // Ejected: no traffic at all.
  const auto ejectedAt = std::chrono::steady_clock::now();
  for (int i = 0; i < 50; ++i) {
    auto r = c.get("/");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "good");
  }
  ASSERT_LT(std::chrono::steady_clock::now() - ejectedAt, milliseconds(1400))
      << "the machine is too slow for this check";
  EXPECT_EQ(bad.requests(), 3u);
  // Recovered, and back after the ejection time.
  failing = false;
  ASSERT_TRUE(waitFor(
      [&] {
        c.get("/");
        return bad.requests() > 3;
      },
      seconds(10)));
  EXPECT_EQ(proxy->stat("tessera_proxy_endpoints", {{"cluster", "pair"}, {"state", "ejected"}}),
            0.0);
}

TEST_F(ProxyResilienceTest, LocalRateLimitAnswers429) {
  TestBackend a("a");
  const std::string config = "version: \"1\"\n" + listener() + R"(routeTables:
- name: main
  routes:
  - name: limited
    match: {prefix: /}
    forward: {cluster: a}
    rateLimit: {requestsPerSecond: 5, burst: 5}
clusters:
- name: a
  endpoints: [)" + ep(a.port()) +
                             "]\n";
  auto proxy = ProxyProcess::start(config, {}, 1);
  ASSERT_TRUE(proxy);
  StrictClient c("127.0.0.1", port_);
  int ok = 0, limited = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 40; ++i) {
    auto r = c.get("/");
    if (r.status == 200) ++ok;
    if (r.status == 429) {
      ++limited;
      EXPECT_EQ(r.header("x-tessera-reason"), "rate limited");
    }
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  // The burst plus what refilled while the loop ran.
  EXPECT_GE(ok, 5);
  EXPECT_LE(ok, 5 + static_cast<int>(secs * 5) + 1);
  EXPECT_EQ(ok + limited, 40);
  EXPECT_EQ(a.requests(), static_cast<uint64_t>(ok));
  EXPECT_EQ(proxy->stat("tessera_proxy_rate_limited_total",
                        {{"route_table", "main"}, {"route", "limited"}}),
            static_cast<double>(limited));
}

TEST_F(ProxyResilienceTest, FaultInjectionShares) {
  TestBackend a("a");
  const std::string config = "version: \"1\"\n" + listener() + R"(routeTables:
- name: main
  routes:
  - name: abort
    match: {prefix: /abort}
    forward: {cluster: a}
    fault: {abortPercent: 30, abortStatus: 503}
  - name: delay
    match: {prefix: /delay}
    forward: {cluster: a}
    fault: {delayPercent: 100, delay: 200ms}
clusters:
- name: a
  endpoints: [)" + ep(a.port()) +
                             "]\n";
  auto proxy = ProxyProcess::start(config);
  ASSERT_TRUE(proxy);
  StrictClient c("127.0.0.1", port_);
  const int n = 3000;
  int aborted = 0;
  for (int i = 0; i < n; ++i) {
    auto r = c.get("/abort");
    ASSERT_TRUE(r.status == 200 || r.status == 503);
    if (r.status == 503) {
      ++aborted;
      EXPECT_EQ(r.header("x-tessera-reason"), "fault injected");
    }
  }
  EXPECT_NEAR(100.0 * aborted / n, 30.0, 3.0);
  EXPECT_EQ(a.requests(), static_cast<uint64_t>(n - aborted));
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(c.get("/delay").status, 200);
  EXPECT_GE(std::chrono::steady_clock::now() - start, milliseconds(190));
}

}  // namespace
}  // namespace tessera::testing
