#include "mesh/proxy/tcp_proxy.h"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <vector>

#include "common/logging.h"

namespace tessera::mesh::proxy {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using namespace net::experimental::awaitable_operators;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto kTuple = net::as_tuple(net::use_awaitable);

std::shared_ptr<spdlog::logger> logger() {
  static auto log = getLogger("tcp_proxy");
  return log;
}

/// The state both directions of one connection share (one thread: no atomics needed).
struct Pipe {
  tcp::socket& downstream;
  tcp::socket& upstream;
  Clock::time_point lastActivity = Clock::now();
  bool aborted = false;

  Pipe(tcp::socket& d, tcp::socket& u) : downstream(d), upstream(u) {}

  /// On an error in either direction: both sockets are closed with a reset (SO_LINGER 0), so
  /// that neither peer mistakes a broken connection for a complete one.
  void abort() {
    if (aborted) return;
    aborted = true;
    boost::system::error_code ignored;
    for (tcp::socket* s : {&downstream, &upstream}) {
      if (!s->is_open()) continue;
      s->set_option(net::socket_base::linger(true, 0), ignored);
      s->close(ignored);
    }
  }
};

/// Copies `from` → `to` through one bounded buffer until EOF (passed on as a half-close) or an
/// error (aborts the pipe).
net::awaitable<void> pump(tcp::socket& from, tcp::socket& to, Pipe& pipe, std::size_t bufferBytes,
                          std::atomic<uint64_t>& counter) {
  std::vector<char> buffer(bufferBytes);
  while (true) {
    auto [ec, n] = co_await from.async_read_some(net::buffer(buffer), kTuple);
    if (n > 0) {
      pipe.lastActivity = Clock::now();
      auto [wec, written] = co_await net::async_write(to, net::buffer(buffer.data(), n), kTuple);
      if (wec) {
        if (wec != net::error::operation_aborted) pipe.abort();
        co_return;
      }
      counter.fetch_add(written, std::memory_order_relaxed);
      pipe.lastActivity = Clock::now();
    }
    if (ec == net::error::eof) {
      boost::system::error_code ignored;
      to.shutdown(tcp::socket::shutdown_send, ignored);
      co_return;
    }
    if (ec == net::error::operation_aborted) co_return;  // idle timeout: the caller closes
    if (ec) {
      pipe.abort();
      co_return;
    }
  }
}

/// Completes when nothing moved either way for `idle` (returns true), or when cancelled
/// (returns false: the pumps finished first).
net::awaitable<bool> idleWatch(Pipe& pipe, std::chrono::milliseconds idle) {
  net::steady_timer timer(co_await net::this_coro::executor);
  while (true) {
    timer.expires_at(pipe.lastActivity + idle);
    auto [ec] = co_await timer.async_wait(kTuple);
    if (ec) co_return false;
    if (Clock::now() - pipe.lastActivity >= idle) co_return true;
  }
}

/// Connects `socket` to `endpoint` within `timeout`. Returns the error (timed_out on timeout).
net::awaitable<boost::system::error_code> connectWithTimeout(tcp::socket& socket,
                                                             const tcp::endpoint& endpoint,
                                                             std::chrono::milliseconds timeout) {
  net::steady_timer timer(co_await net::this_coro::executor);
  timer.expires_after(timeout);
  auto result = co_await (socket.async_connect(endpoint, kTuple) || timer.async_wait(kTuple));
  if (result.index() == 1) co_return net::error::timed_out;
  auto [ec] = std::get<0>(result);
  co_return ec;
}

std::optional<tcp::endpoint> endpointOf(const Endpoint& e) {
  boost::system::error_code ec;
  std::string_view address = e.address;
  if (address == "localhost") address = "127.0.0.1";
  auto ip = net::ip::make_address(address, ec);
  if (ec) return std::nullopt;
  return tcp::endpoint(ip, e.port);
}

/// Decrements a gauge on scope exit.
template <typename T>
struct GaugeGuard {
  std::atomic<T>& gauge;
  explicit GaugeGuard(std::atomic<T>& g) : gauge(g) {
    gauge.fetch_add(1, std::memory_order_relaxed);
  }
  ~GaugeGuard() { gauge.fetch_sub(1, std::memory_order_relaxed); }
  GaugeGuard(const GaugeGuard&) = delete;
  GaugeGuard& operator=(const GaugeGuard&) = delete;
};

}  // namespace

TcpProxyOptions TcpProxyOptions::from(const Listener& listener, const Cluster& cluster) {
  TcpProxyOptions o;
  o.connectTimeout = cluster.connectTimeout;
  o.idleTimeout = listener.idleTimeout;
  return o;
}

net::awaitable<void> proxyTcp(tcp::socket downstream, std::shared_ptr<const HostSet> hosts,
                              LoadBalancer& lb, TcpProxyStats& stats, TcpProxyOptions options) {
  stats.connections.fetch_add(1, std::memory_order_relaxed);
  GaugeGuard<int64_t> active(stats.activeConnections);
  boost::system::error_code ignored;

  const OutlierDetection defaultPolicy;
  const OutlierDetection& outlier =
      hosts && hosts->cluster ? hosts->cluster->outlierDetection : defaultPolicy;
  std::span<const std::shared_ptr<Host>> all;
  if (hosts) all = hosts->hosts;

  tcp::socket upstream(downstream.get_executor());
  Host* chosen = nullptr;
  std::vector<const Host*> tried;
  uint32_t attempts = std::max<uint32_t>(1, options.maxConnectAttempts);
  for (uint32_t attempt = 0; attempt < attempts && !all.empty(); ++attempt) {
    // Find a host not tried yet (the LB excludes only one; a round-robin cursor moves on).
    Host* host = nullptr;
    const Host* exclude = tried.empty() ? nullptr : tried.back();
    for (std::size_t i = 0; i <= all.size(); ++i) {
      Host* h = lb.pick(all, Clock::now(), exclude);
      if (h == nullptr) break;
      if (std::find(tried.begin(), tried.end(), h) == tried.end()) {
        host = h;
        break;
      }
    }
    if (host == nullptr) break;
    tried.push_back(host);

    auto endpoint = endpointOf(host->endpoint());
    boost::system::error_code ec;
    if (!endpoint) {
      ec = net::error::address_family_not_supported;
    } else {
      ec = co_await connectWithTimeout(upstream, *endpoint, options.connectTimeout);
    }
    if (!ec) {
      chosen = host;
      stats.upstreamConnects.fetch_add(1, std::memory_order_relaxed);
      OutlierDetector::report(*host, TryResult::kSuccess, outlier, all, Clock::now());
      break;
    }
    stats.connectFailures.fetch_add(1, std::memory_order_relaxed);
    if (ec == net::error::timed_out) stats.connectTimeouts.fetch_add(1, std::memory_order_relaxed);
    if (OutlierDetector::report(*host, TryResult::kConnectFailure, outlier, all, Clock::now())) {
      logger()->warn("upstream ejected cluster={} host={}:{} reason=connect_failure",
                     hosts->cluster ? hosts->cluster->name : std::string(),
                     host->endpoint().address, host->endpoint().port);
    }
    upstream.close(ignored);
    upstream = tcp::socket(downstream.get_executor());
  }
  if (chosen == nullptr) {
    stats.noHealthyUpstream.fetch_add(1, std::memory_order_relaxed);
    downstream.set_option(net::socket_base::linger(true, 0), ignored);
    downstream.close(ignored);
    co_return;
  }

  GaugeGuard<uint32_t> inFlight(chosen->activeRequests);
  downstream.set_option(tcp::no_delay(true), ignored);
  upstream.set_option(tcp::no_delay(true), ignored);

  Pipe pipe(downstream, upstream);
  auto outcome =
      co_await ((pump(downstream, upstream, pipe, options.bufferBytes, stats.bytesFromDownstream) &&
                 pump(upstream, downstream, pipe, options.bufferBytes, stats.bytesToDownstream)) ||
                idleWatch(pipe, options.idleTimeout));
  if (outcome.index() == 1 && std::get<1>(outcome)) {
    stats.idleTimeouts.fetch_add(1, std::memory_order_relaxed);
  }
  downstream.close(ignored);
  upstream.close(ignored);
}

}  // namespace tessera::mesh::proxy
