// tessera-proxy's process life cycle and its non-HTTP parts, as real processes: hot restart
// under load (no request fails), TCP listeners, active health checks.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <set>
#include <thread>

#include "tests/mesh/proxy/proxy_test_util.h"
#include "tests/support/wait.h"

namespace tessera::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(ProxyLifecycle, HotRestartUnderLoadFailsNothing) {
  TestBackend a("a");
  TempDir dir("tessera-hot");
  const std::string sock = dir.path() + "/hot.sock";
  const uint16_t port = freePort();
  const std::string config = forwardAllConfig(port, "a", {a.port()});
  auto first = ProxyProcess::start(config, {"--hot-restart-socket", sock, "--drain-time", "20"});
  ASSERT_TRUE(first);

  std::atomic<bool> stop{false};
  std::atomic<uint64_t> ok{0}, failed{0}, reconnects{0};
  std::mutex mu;
  std::string firstFailure;
  std::vector<std::thread> clients;
  for (int t = 0; t < 4; ++t) {
    clients.emplace_back([&] {
      StrictClient c("127.0.0.1", port);
      const auto deadline = std::chrono::steady_clock::now() + seconds(60);
      for (int i = 0; !stop.load() && i < 1000000 && std::chrono::steady_clock::now() < deadline;
           ++i) {
        HttpResult r = (i % 4 == 0) ? c.request("POST", "/p", "data") : c.get("/g");
        if (r.status == 200) {
          ++ok;
        } else {
          ++failed;
          std::lock_guard lock(mu);
          if (firstFailure.empty()) firstFailure = std::to_string(r.status) + " " + r.error;
        }
      }
      reconnects += static_cast<uint64_t>(c.connects() - 1);
    });
  }
  ASSERT_TRUE(waitFor([&] { return ok.load() > 2000; }));

  // The new process takes the listening sockets and tells the old one to drain.
  auto second = ProxyProcess::start(config, {"--hot-restart-socket", sock, "--drain-time", "20"});
  ASSERT_TRUE(second);
  auto exitCode = first->process().wait(seconds(30));
  ASSERT_TRUE(exitCode.has_value()) << "the old proxy did not exit:\n" << first->logTail();
  EXPECT_EQ(*exitCode, 0);
  const uint64_t okAtSwap = ok.load();
  ASSERT_TRUE(waitFor([&] { return ok.load() > okAtSwap + 2000; }));
  stop = true;
  for (auto& t : clients) t.join();
  std::cout << "requests ok=" << ok << " failed=" << failed << " reconnects=" << reconnects << "\n";
  EXPECT_EQ(failed.load(), 0u) << firstFailure;
  EXPECT_GT(second->stat("tessera_proxy_downstream_requests_total", {{"listener", "main"}}),
            1000.0);
}

TEST(ProxyLifecycle, TcpListenerPipesToTheCluster) {
  TestBackend a("a"), b("b");
  const uint16_t port = freePort();
  const std::string config = R"(version: "1"
listeners:
- {name: raw, address: 127.0.0.1, port: )" +
                             std::to_string(port) +
                             R"(, protocol: tcp, cluster: pair}
clusters:
- name: pair
  protocol: tcp
  endpoints: )" + endpointList({a.port(), b.port()}) +
                             "\n";
  auto proxy = ProxyProcess::start(config);
  ASSERT_TRUE(proxy);
  std::set<std::string> seen;
  for (int i = 0; i < 10; ++i) {
    StrictClient c("127.0.0.1", port);
    auto r = c.get("/through-tcp");
    ASSERT_EQ(r.status, 200) << r.error;
    seen.insert(r.body);
    // The HTTP bytes went through untouched: no proxy headers were added.
    auto req = (r.body == "a" ? a : b).lastRequest();
    ASSERT_TRUE(req);
    EXPECT_EQ(req->headers.count("x-request-id"), 0u);
  }
  EXPECT_EQ(seen.size(), 2u) << "connections spread over both endpoints";
  EXPECT_TRUE(waitFor([&] {
    return proxy->stat("tessera_proxy_tcp_cx_total", {{"listener", "raw"}}) == 10.0;
  }));
}

TEST(ProxyLifecycle, ActiveHealthChecksTakeHostsOutAndBack) {
  TestBackend a("a"), b("b");
  std::atomic<bool> bHealthy{true};
  b.setHandler([&](const BackendRequest& r) {
    BackendReply reply;
    reply.body = "b";
    if (r.target == "/healthz" && !bHealthy) reply.status = 503;
    return reply;
  });
  const uint16_t port = freePort();
  const std::string config = forwardAllConfig(
      port, "pair", {a.port(), b.port()}, ", retry: {maxRetries: 0}",
      "  healthCheck: {path: /healthz, interval: 100ms, timeout: 500ms, unhealthyThreshold: 1, "
      "healthyThreshold: 1}\n");
  auto proxy = ProxyProcess::start(config, {}, 1);
  ASSERT_TRUE(proxy);
  StrictClient c("127.0.0.1", port);
  ASSERT_TRUE(waitFor([&] { return c.get("/x").body == "b"; }));
  bHealthy = false;
  ASSERT_TRUE(waitFor([&] {
    return proxy->stat("tessera_proxy_endpoints", {{"cluster", "pair"}, {"state", "unhealthy"}}) ==
           1.0;
  })) << proxy->logTail();
  for (int i = 0; i < 30; ++i) EXPECT_EQ(c.get("/x").body, "a");
  EXPECT_GT(proxy->stat("tessera_proxy_health_check_failures_total").value_or(0), 0.0);
  bHealthy = true;
  ASSERT_TRUE(waitFor([&] { return c.get("/x").body == "b"; }));
}

}  // namespace
}  // namespace tessera::testing
