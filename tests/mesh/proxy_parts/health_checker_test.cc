// Active health checks against real in-test HTTP backends on 127.0.0.1:0 that can be switched
// between healthy (200), unhealthy (503) and hanging (accepts, never answers).
#include "mesh/proxy/health_checker.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <future>
#include <mutex>
#include <optional>
#include <thread>

#include "tests/support/wait.h"

namespace tessera::mesh::proxy {
namespace {

namespace net = boost::asio;
using namespace std::chrono_literals;
using tessera::testing::waitFor;

/// A tiny HTTP/1.1 server on its own thread: one request per connection.
class Backend {
 public:
  enum class Mode { kHealthy, kUnhealthy, kHang };

  Backend() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(::listen(fd_, 64), 0);
    socklen_t len = sizeof(addr);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { run(); });
  }
  ~Backend() {
    running_ = false;
    thread_.join();
    for (int c : hung_) ::close(c);
    ::close(fd_);
  }
  uint16_t port() const { return port_; }
  void setMode(Mode m) { mode_ = m; }
  uint64_t requests() const { return requests_; }
  std::string lastRequest() {
    std::lock_guard<std::mutex> lock(mu_);
    return lastRequest_;
  }

 private:
  void run() {
    while (running_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 10) <= 0) continue;
      int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      std::string request;
      char buf[4096];
      while (request.find("\r\n\r\n") == std::string::npos) {
        pollfd cp{c, POLLIN, 0};
        if (::poll(&cp, 1, 2000) != 1) break;
        ssize_t n = ::read(c, buf, sizeof(buf));
        if (n <= 0) break;
        request.append(buf, static_cast<std::size_t>(n));
      }
      {
        std::lock_guard<std::mutex> lock(mu_);
        lastRequest_ = request;
      }
      ++requests_;
      Mode mode = mode_;
      if (mode == Mode::kHang) {
        hung_.push_back(c);  // never answered; closed at the end
        continue;
      }
      std::string response =
          mode == Mode::kHealthy
              ? "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
              : "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nsick";
      ssize_t n = ::write(c, response.data(), response.size());
      (void)n;
      ::close(c);
    }
  }

  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<Mode> mode_{Mode::kHealthy};
  std::atomic<bool> running_{true};
  std::atomic<uint64_t> requests_{0};
  std::vector<int> hung_;
  std::mutex mu_;
  std::string lastRequest_;
  std::thread thread_;
};

/// The control thread: an io_context running the checker.
class HealthCheckerTest : public ::testing::Test {
 protected:
  HealthCheckerTest() : guard_(net::make_work_guard(ioc_)) {
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~HealthCheckerTest() override {
    checker_.reset();
    guard_.reset();
    ioc_.stop();
    thread_.join();
  }

  static HealthCheck policy(uint32_t unhealthy, uint32_t healthy,
                            std::chrono::milliseconds timeout) {
    HealthCheck p;
    p.path = "/healthz";
    p.interval = 40ms;
    p.timeout = timeout;
    p.unhealthyThreshold = unhealthy;
    p.healthyThreshold = healthy;
    return p;
  }

  std::shared_ptr<HostSet> build(const std::string& name, const std::vector<uint16_t>& ports,
                                 std::optional<HealthCheck> check) {
    auto cluster = std::make_shared<Cluster>();
    cluster->name = name;
    cluster->healthCheck = check;
    for (uint16_t p : ports) {
      Endpoint e;
      e.address = "127.0.0.1";
      e.port = p;
      cluster->endpoints.push_back(e);
    }
    return registry_.build(cluster);
  }

  HealthChecker& checker() {
    if (!checker_) {
      HealthChecker::Options options;
      options.seed = 1;
      checker_ = std::make_unique<HealthChecker>(ioc_, options);
    }
    return *checker_;
  }

  net::io_context ioc_{1};
  net::executor_work_guard<net::io_context::executor_type> guard_;
  std::thread thread_;
  HostRegistry registry_;
  std::unique_ptr<HealthChecker> checker_;
};

TEST_F(HealthCheckerTest, UnhealthyAfterThresholdFailuresAndBackAfterThresholdSuccesses) {
  Backend backend;
  auto set = build("api", {backend.port()}, policy(3, 2, 1000ms));
  Host& host = *set->hosts[0];
  checker().update({set});

  ASSERT_TRUE(waitFor([&] { return checker().stats().successes.load() >= 2; }));
  EXPECT_TRUE(host.healthy());
  std::string request = backend.lastRequest();
  EXPECT_EQ(request.rfind("GET /healthz HTTP/1.1\r\n", 0), 0u) << request;
  EXPECT_NE(request.find("Host: 127.0.0.1:" + std::to_string(backend.port())), std::string::npos)
      << request;

  uint64_t failuresBefore = checker().stats().failures.load();
  backend.setMode(Backend::Mode::kUnhealthy);
  ASSERT_TRUE(waitFor([&] { return !host.healthy(); }));
  // It took three failures in a row, not one.
  EXPECT_GE(checker().stats().failures.load() - failuresBefore, 3u);

  uint64_t successesBefore = checker().stats().successes.load();
  backend.setMode(Backend::Mode::kHealthy);
  ASSERT_TRUE(waitFor([&] { return host.healthy(); }));
  EXPECT_GE(checker().stats().successes.load() - successesBefore, 2u);
  EXPECT_EQ(checker().stats().hostsChecked.load(), 1u);
  EXPECT_EQ(checker().stats().timeouts.load(), 0u);
}

TEST_F(HealthCheckerTest, ATimeoutIsAFailure) {
  Backend backend;
  auto set = build("slow", {backend.port()}, policy(2, 1, 100ms));
  Host& host = *set->hosts[0];
  backend.setMode(Backend::Mode::kHang);
  auto started = std::chrono::steady_clock::now();
  checker().update({set});
  ASSERT_TRUE(waitFor([&] { return !host.healthy(); }));
  EXPECT_GE(checker().stats().timeouts.load(), 2u);
  EXPECT_EQ(checker().stats().successes.load(), 0u);
  // Two timed-out checks of 100 ms each: not faster than that.
  EXPECT_GE(std::chrono::steady_clock::now() - started, 200ms);
}

TEST_F(HealthCheckerTest, RefusedConnectionIsAFailure) {
  uint16_t port;
  {
    Backend gone;
    port = gone.port();
  }  // closed: connections are refused
  auto set = build("gone", {port}, policy(2, 1, 500ms));
  checker().update({set});
  ASSERT_TRUE(waitFor([&] { return !set->hosts[0]->healthy(); }));
  EXPECT_EQ(checker().stats().timeouts.load(), 0u);
}

TEST_F(HealthCheckerTest, UpdateKeepsKnownHostsAndStopsCheckingRemovedOnes) {
  Backend a, b;
  auto both = build("api", {a.port(), b.port()}, policy(2, 1, 1000ms));
  checker().update({both});
  ASSERT_TRUE(waitFor([&] { return a.requests() >= 2 && b.requests() >= 2; }));

  // B turns unhealthy; that state must survive the config change.
  b.setMode(Backend::Mode::kUnhealthy);
  Host* hostB = both->hosts[1].get();
  ASSERT_TRUE(waitFor([&] { return !hostB->healthy(); }));

  auto onlyB = build("api", {b.port()}, policy(2, 1, 1000ms));
  ASSERT_EQ(onlyB->hosts[0].get(), hostB) << "the registry hands out the same Host";
  checker().update({onlyB});
  ASSERT_TRUE(waitFor([&] { return checker().stats().hostsChecked.load() == 1; }));
  EXPECT_FALSE(hostB->healthy()) << "state kept across the update";

  uint64_t aAfterUpdate = a.requests();
  uint64_t bAfterUpdate = b.requests();
  // Many intervals pass (B keeps being checked) and A gets at most the check that was already
  // on its way when the update landed.
  ASSERT_TRUE(waitFor([&] { return b.requests() >= bAfterUpdate + 8; }));
  EXPECT_LE(a.requests(), aAfterUpdate + 1);

  b.setMode(Backend::Mode::kHealthy);
  ASSERT_TRUE(waitFor([&] { return hostB->healthy(); }));
}

TEST_F(HealthCheckerTest, ALabelChangeCarriesTheScheduleOverToTheSuccessorHost) {
  Backend backend;
  backend.setMode(Backend::Mode::kUnhealthy);
  auto cluster = std::make_shared<Cluster>();
  cluster->name = "api";
  cluster->healthCheck = policy(2, 2, 1000ms);
  Endpoint e;
  e.address = "127.0.0.1";
  e.port = backend.port();
  e.revision = "v1";
  cluster->endpoints.push_back(e);
  auto before = registry_.build(cluster);
  checker().update({before});
  ASSERT_TRUE(waitFor([&] { return !before->hosts[0]->healthy(); }));

  auto relabelled = std::make_shared<Cluster>(*cluster);
  relabelled->endpoints[0].revision = "v2";
  auto after = registry_.build(relabelled);
  Host* successor = after->hosts[0].get();
  checker().update({after});
  EXPECT_FALSE(successor->healthy()) << "the registry's successor inherits the health";
  ASSERT_TRUE(waitFor([&] { return checker().stats().hostsChecked.load() == 1; }));
  backend.setMode(Backend::Mode::kHealthy);
  ASSERT_TRUE(waitFor([&] { return successor->healthy(); })) << "checks report to the successor";
  EXPECT_EQ(checker().stats().hostsChecked.load(), 1u);
}

TEST_F(HealthCheckerTest, HostWhosePolicyIsRemovedIsHealthyAgainAndNotChecked) {
  Backend backend;
  backend.setMode(Backend::Mode::kUnhealthy);
  auto checked = build("api", {backend.port()}, policy(2, 1, 1000ms));
  Host* host = checked->hosts[0].get();
  checker().update({checked});
  ASSERT_TRUE(waitFor([&] { return !host->healthy(); }));

  auto unchecked = build("api", {backend.port()}, std::nullopt);
  ASSERT_EQ(unchecked->hosts[0].get(), host);
  checker().update({unchecked});
  ASSERT_TRUE(waitFor([&] { return host->healthy(); }));
  EXPECT_EQ(checker().stats().hostsChecked.load(), 0u);
  uint64_t requests = backend.requests();
  // B-style proof of absence: a second backend checked meanwhile gets many checks.
  Backend other;
  auto otherSet = build("other", {other.port()}, policy(2, 1, 1000ms));
  checker().update({unchecked, otherSet});
  ASSERT_TRUE(waitFor([&] { return other.requests() >= 8; }));
  EXPECT_LE(backend.requests(), requests + 1);
  EXPECT_TRUE(host->healthy());
}

TEST_F(HealthCheckerTest, StopEndsEveryCheckAndDestructionIsSafeMidCheck) {
  Backend backend;
  backend.setMode(Backend::Mode::kHang);
  auto set = build("api", {backend.port()}, policy(2, 1, 5000ms));
  checker().update({set});
  ASSERT_TRUE(waitFor([&] { return backend.requests() >= 1; }));  // a check is in flight
  checker().stop();
  ASSERT_TRUE(waitFor([&] { return checker().stats().hostsChecked.load() == 0; }));
  EXPECT_EQ(checker().stats().checks.load(), 0u) << "the cancelled check reported nothing";

  checker().update({set});
  ASSERT_TRUE(waitFor([&] { return backend.requests() >= 2; }));
  checker_.reset();  // destroyed with a check in flight, from another thread than the ioc's
  // The loop keeps running and nothing touches the destroyed checker (ASan would tell).
  std::promise<void> ran;
  net::post(ioc_, [&] { ran.set_value(); });
  EXPECT_EQ(ran.get_future().wait_for(5s), std::future_status::ready);
  EXPECT_TRUE(set->hosts[0]->healthy());
}

}  // namespace
}  // namespace tessera::mesh::proxy
