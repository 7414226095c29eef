// TCP proxying with real sockets: a listener on 127.0.0.1:0 whose connections are piped by
// proxyTcp() to in-test backends (echo, half-close), on an io_context thread like a worker's.
#include "mesh/proxy/tcp_proxy.h"

#include <gtest/gtest.h>
#include <poll.h>

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <optional>
#include <random>
#include <thread>

#include "tests/support/wait.h"

namespace tessera::mesh::proxy {
namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;
using tessera::testing::waitFor;

constexpr auto kTuple = net::as_tuple(net::use_awaitable);

/// An io_context on its own thread (one thread: a worker's loop). stop() joins the thread;
/// destroy() then destroys the io_context and with it the suspended coroutine frames — call it
/// while what those frames refer to is still alive.
class Loop {
 public:
  Loop() : ioc(std::in_place, 1), guard_(net::make_work_guard(*ioc)) {
    thread_ = std::thread([this] { ioc->run(); });
  }
  ~Loop() { destroy(); }
  void stop() {
    guard_.reset();
    if (ioc) ioc->stop();
    if (thread_.joinable()) thread_.join();
  }
  void destroy() {
    stop();
    ioc.reset();
  }
  std::optional<net::io_context> ioc;

 private:
  net::executor_work_guard<net::io_context::executor_type> guard_;
  std::thread thread_;
};

/// Backends: echo (writes back what it reads, closes after EOF), or "count" (reads until EOF,
/// answers "got <n>" and closes), or "greet" (sends "hello", half-closes, counts what it
/// receives afterwards).
class Backend {
 public:
  enum class Mode { kEcho, kCount, kGreet };
  explicit Backend(Mode mode)
      : mode_(mode), acceptor_(*loop_.ioc, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0)) {
    net::co_spawn(*loop_.ioc, acceptLoop(), net::detached);
  }
  ~Backend() { loop_.stop(); }
  uint16_t port() const { return acceptor_.local_endpoint().port(); }
  std::atomic<uint64_t> accepted{0};
  std::atomic<uint64_t> receivedAfterGreeting{0};
  std::atomic<bool> greetPeerClosed{false};

 private:
  net::awaitable<void> acceptLoop() {
    while (true) {
      auto [ec, socket] = co_await acceptor_.async_accept(kTuple);
      if (ec) co_return;
      ++accepted;
      net::co_spawn(*loop_.ioc, serve(std::move(socket)), net::detached);
    }
  }
  net::awaitable<void> serve(tcp::socket socket) {
    std::vector<char> buf(64 * 1024);
    if (mode_ == Mode::kGreet) {
      co_await net::async_write(socket, net::buffer(std::string_view("hello")), kTuple);
      socket.shutdown(tcp::socket::shutdown_send);
    }
    uint64_t total = 0;
    while (true) {
      auto [ec, n] = co_await socket.async_read_some(net::buffer(buf), kTuple);
      total += n;
      if (mode_ == Mode::kGreet) receivedAfterGreeting += n;
      if (mode_ == Mode::kEcho && n > 0) {
        auto [wec, w] = co_await net::async_write(socket, net::buffer(buf.data(), n), kTuple);
        if (wec) co_return;
      }
      if (ec) break;
    }
    if (mode_ == Mode::kCount) {
      std::string reply = "got " + std::to_string(total);
      co_await net::async_write(socket, net::buffer(reply), kTuple);
    }
    if (mode_ == Mode::kGreet) greetPeerClosed = true;
    boost::system::error_code ignored;
    socket.shutdown(tcp::socket::shutdown_both, ignored);
  }

  Mode mode_;
  Loop loop_;
  tcp::acceptor acceptor_;
};

/// The proxy side: a listener whose connections go to proxyTcp over `hosts`.
class TcpProxyFixture : public ::testing::Test {
 protected:
  void start(std::vector<uint16_t> ports, TcpProxyOptions options) {
    auto cluster = std::make_shared<Cluster>();
    cluster->name = "tcp-backends";
    cluster->protocol = Protocol::kTcp;
    for (uint16_t p : ports) {
      Endpoint e;
      e.address = "127.0.0.1";
      e.port = p;
      cluster->endpoints.push_back(e);
    }
    hosts_ = registry_.build(cluster);
    lb_ = LoadBalancer::create(LbPolicy::kRoundRobin, 7);
    options_ = options;
    acceptor_ = std::make_unique<tcp::acceptor>(
        *loop_.ioc, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
    net::co_spawn(*loop_.ioc, acceptLoop(), net::detached);
  }

  void TearDown() override {
    loop_.stop();
    acceptor_.reset();
    loop_.destroy();  // the proxy frames go while stats_, lb_ and hosts_ are still alive
  }

  net::awaitable<void> acceptLoop() {
    while (true) {
      auto [ec, socket] = co_await acceptor_->async_accept(kTuple);
      if (ec) co_return;
      std::shared_ptr<const HostSet> hosts = hosts_;
      net::co_spawn(*loop_.ioc, proxyTcp(std::move(socket), hosts, *lb_, stats_, options_),
                    net::detached);
    }
  }

  /// A blocking client connection to the proxy (test thread).
  tcp::socket connect() {
    tcp::socket s(clientIoc_);
    s.connect(
        tcp::endpoint(net::ip::make_address("127.0.0.1"), acceptor_->local_endpoint().port()));
    return s;
  }

  /// Reads until EOF (or error); returns what came and whether it ended with a clean EOF.
  static std::pair<std::string, boost::system::error_code> readAll(tcp::socket& s) {
    std::string out;
    char buf[65536];
    boost::system::error_code ec;
    while (true) {
      std::size_t n = s.read_some(net::buffer(buf), ec);
      out.append(buf, n);
      if (ec) return {out, ec};
    }
  }

  Loop loop_;
  net::io_context clientIoc_;
  HostRegistry registry_;
  std::shared_ptr<HostSet> hosts_;
  std::unique_ptr<LoadBalancer> lb_;
  TcpProxyOptions options_;
  TcpProxyStats stats_;
  std::unique_ptr<tcp::acceptor> acceptor_;
};

TEST_F(TcpProxyFixture, EchoThroughThePipe) {
  Backend echo(Backend::Mode::kEcho);
  start({echo.port()}, TcpProxyOptions{});
  tcp::socket s = connect();
  net::write(s, net::buffer(std::string_view("ping")));
  char buf[4];
  net::read(s, net::buffer(buf));
  EXPECT_EQ(std::string_view(buf, 4), "ping");
  s.shutdown(tcp::socket::shutdown_send);
  auto [rest, ec] = readAll(s);
  EXPECT_EQ(rest, "");
  EXPECT_EQ(ec, net::error::eof);
  ASSERT_TRUE(waitFor([&] { return stats_.activeConnections.load() == 0; }));
  EXPECT_EQ(stats_.connections.load(), 1u);
  EXPECT_EQ(stats_.upstreamConnects.load(), 1u);
  EXPECT_EQ(stats_.bytesFromDownstream.load(), 4u);
  EXPECT_EQ(stats_.bytesToDownstream.load(), 4u);
  EXPECT_EQ(hosts_->hosts[0]->activeRequests.load(), 0u);
}

TEST_F(TcpProxyFixture, LargeTransferBothWaysAtOnce) {
  Backend echo(Backend::Mode::kEcho);
  TcpProxyOptions options;
  options.bufferBytes = 8 * 1024;  // much smaller than the transfer: back-pressure works
  start({echo.port()}, options);
  constexpr std::size_t kBytes = 16 * 1024 * 1024;
  std::string data(kBytes, '\0');
  std::mt19937_64 rng(42);
  for (char& c : data) c = static_cast<char>(rng());
  tcp::socket s = connect();
  std::thread writer([&] {
    net::write(s, net::buffer(data));
    s.shutdown(tcp::socket::shutdown_send);
  });
  auto [received, ec] = readAll(s);
  writer.join();
  EXPECT_EQ(ec, net::error::eof);
  ASSERT_EQ(received.size(), kBytes);
  EXPECT_TRUE(received == data);
  ASSERT_TRUE(waitFor([&] { return stats_.activeConnections.load() == 0; }));
  EXPECT_EQ(stats_.bytesFromDownstream.load(), kBytes);
  EXPECT_EQ(stats_.bytesToDownstream.load(), kBytes);
}

TEST_F(TcpProxyFixture, DownstreamHalfCloseReachesTheUpstreamWhichStillAnswers) {
  Backend counter(Backend::Mode::kCount);
  start({counter.port()}, TcpProxyOptions{});
  tcp::socket s = connect();
  std::string payload(100000, 'a');
  net::write(s, net::buffer(payload));
  s.shutdown(tcp::socket::shutdown_send);  // FIN → the backend sees EOF, then answers
  auto [reply, ec] = readAll(s);
  EXPECT_EQ(reply, "got 100000");
  EXPECT_EQ(ec, net::error::eof);
}

TEST_F(TcpProxyFixture, UpstreamHalfCloseReachesTheClientWhichStillSends) {
  Backend greeter(Backend::Mode::kGreet);
  start({greeter.port()}, TcpProxyOptions{});
  tcp::socket s = connect();
  auto [greeting, ec] = readAll(s);  // "hello" then EOF: the backend half-closed
  EXPECT_EQ(greeting, "hello");
  EXPECT_EQ(ec, net::error::eof);
  // The other direction still flows.
  std::string payload(50000, 'b');
  net::write(s, net::buffer(payload));
  ASSERT_TRUE(waitFor([&] { return greeter.receivedAfterGreeting.load() == payload.size(); }));
  s.shutdown(tcp::socket::shutdown_send);
  ASSERT_TRUE(waitFor([&] { return greeter.greetPeerClosed.load(); }));
  ASSERT_TRUE(waitFor([&] { return stats_.activeConnections.load() == 0; }));
}

TEST_F(TcpProxyFixture, ConnectFailureTriesTheNextHostAndIsReported) {
  Backend echo(Backend::Mode::kEcho);
  // A port bound but not listening: connections to it are refused, and nobody else gets it
  // while we hold it.
  tcp::socket dead(clientIoc_);
  dead.open(tcp::v4());
  dead.bind(tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
  uint16_t deadPort = dead.local_endpoint().port();
  start({deadPort, echo.port()}, TcpProxyOptions{});
  for (int i = 0; i < 12; ++i) {
    tcp::socket s = connect();
    std::string msg = "m" + std::to_string(i);
    net::write(s, net::buffer(msg));
    std::string back(msg.size(), '\0');
    net::read(s, net::buffer(back));
    EXPECT_EQ(back, msg) << "connection " << i;
  }
  EXPECT_GE(stats_.connectFailures.load(), 1u);
  EXPECT_EQ(stats_.noHealthyUpstream.load(), 0u);
  EXPECT_EQ(stats_.upstreamConnects.load(), 12u);
  // Consecutive connect failures (3 by default) ejected the dead host: the LB stops trying it.
  const Host& deadHost = *hosts_->hosts[0];
  EXPECT_EQ(deadHost.endpoint().port, deadPort);
  EXPECT_GE(deadHost.ejections.load(), 1u);
  EXPECT_EQ(echo.accepted.load(), 12u);
}

TEST_F(TcpProxyFixture, NoReachableHostClosesTheDownstream) {
  tcp::socket dead(clientIoc_);
  dead.open(tcp::v4());
  dead.bind(tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
  start({dead.local_endpoint().port()}, TcpProxyOptions{});
  tcp::socket s = connect();
  auto [data, ec] = readAll(s);
  EXPECT_EQ(data, "");
  EXPECT_TRUE(ec == net::error::connection_reset || ec == net::error::eof) << ec.message();
  ASSERT_TRUE(waitFor([&] { return stats_.noHealthyUpstream.load() == 1; }));
  EXPECT_EQ(stats_.connectFailures.load(), 1u);
}

TEST_F(TcpProxyFixture, ConnectTimeoutCountsAsAFailure) {
  // A listener with a full accept queue drops SYNs: connects to it hang.
  tcp::acceptor full(clientIoc_, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
  full.listen(0);
  std::vector<tcp::socket> fillers;
  tcp::endpoint fullEndpoint = full.local_endpoint();
  bool hangs = false;
  for (int i = 0; i < 8 && !hangs; ++i) {
    tcp::socket probe(clientIoc_);
    probe.open(tcp::v4());
    probe.non_blocking(true);
    // Raw connect: Asio's synchronous connect waits even on a non-blocking socket.
    int rc = ::connect(probe.native_handle(), fullEndpoint.data(), fullEndpoint.size());
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd p{probe.native_handle(), POLLOUT, 0};
      if (::poll(&p, 1, 300) == 0) hangs = true;
    }
    fillers.push_back(std::move(probe));
  }
  if (!hangs) GTEST_SKIP() << "this kernel does not drop SYNs on a full accept queue";
  TcpProxyOptions options;
  options.connectTimeout = 200ms;
  start({fullEndpoint.port()}, options);
  auto started = std::chrono::steady_clock::now();
  tcp::socket s = connect();
  auto [data, ec] = readAll(s);
  EXPECT_EQ(data, "");
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
  ASSERT_TRUE(waitFor([&] { return stats_.noHealthyUpstream.load() == 1; }));
  EXPECT_EQ(stats_.connectTimeouts.load(), 1u);
  EXPECT_EQ(stats_.connectFailures.load(), 1u);
}

TEST_F(TcpProxyFixture, IdleTimeoutClosesButTrafficKeepsTheConnectionOpen) {
  Backend echo(Backend::Mode::kEcho);
  TcpProxyOptions options;
  options.idleTimeout = 500ms;
  start({echo.port()}, options);

  // Active for 3 idle periods: never closed.
  tcp::socket busy = connect();
  auto until = std::chrono::steady_clock::now() + 1500ms;
  auto lastIo = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() < until) {
    net::write(busy, net::buffer(std::string_view("k")));
    char c;
    net::read(busy, net::buffer(&c, 1));
    lastIo = std::chrono::steady_clock::now();
    std::this_thread::sleep_for(50ms);  // paces the traffic; not a wait for a condition
  }
  EXPECT_EQ(stats_.idleTimeouts.load(), 0u);

  // Silent: closed after the idle timeout (counted from the proxy's last byte, which it wrote
  // a moment before our last read returned).
  auto [data, ec] = readAll(busy);
  auto elapsed = std::chrono::steady_clock::now() - lastIo;
  EXPECT_EQ(data, "");
  EXPECT_EQ(ec, net::error::eof);
  EXPECT_GE(elapsed, 480ms);
  EXPECT_LT(elapsed, 5s);
  ASSERT_TRUE(waitFor([&] { return stats_.idleTimeouts.load() == 1; }));
  ASSERT_TRUE(waitFor([&] { return stats_.activeConnections.load() == 0; }));
}

TEST_F(TcpProxyFixture, EmptyHostSetClosesTheDownstream) {
  start({}, TcpProxyOptions{});
  tcp::socket s = connect();
  auto [data, ec] = readAll(s);
  EXPECT_EQ(data, "");
  ASSERT_TRUE(waitFor([&] { return stats_.noHealthyUpstream.load() == 1; }));
}

}  // namespace
}  // namespace tessera::mesh::proxy
