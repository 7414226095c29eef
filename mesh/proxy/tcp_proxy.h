// Plain TCP proxying for `protocol: tcp` listeners: each downstream connection is piped to one
// endpoint of the listener's cluster, chosen by the worker's LoadBalancer.
//
// Per connection: pick a host (skipping ejected/unhealthy ones; a connect failure or connect
// timeout is reported to the OutlierDetector and the next host is tried, up to
// maxConnectAttempts distinct hosts), then copy bytes both ways through one bounded buffer per
// direction (a slow reader stops the other side's reads: no unbounded queue). A FIN from one
// side is passed on as shutdown(send) to the other (half-close) and the other direction keeps
// flowing; the connection ends when both directions have seen EOF, on any error (both sockets
// closed, a reset is not passed on as a FIN), or when no byte moved either way for idleTimeout.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "mesh/config/config.h"
#include "mesh/upstream/upstream.h"

namespace tessera::mesh::proxy {

/// Counters for /stats, shared by every worker serving one listener (or one cluster — the
/// caller chooses the grain). All relaxed atomics; read them at any time from any thread.
struct TcpProxyStats {
  std::atomic<uint64_t> connections{0};          // downstream connections handled (total)
  std::atomic<int64_t> activeConnections{0};     // gauge: currently piping or connecting
  std::atomic<uint64_t> upstreamConnects{0};     // upstream connections established
  std::atomic<uint64_t> connectFailures{0};      // upstream connect errors and timeouts
  std::atomic<uint64_t> connectTimeouts{0};      // ... of which timeouts
  std::atomic<uint64_t> noHealthyUpstream{0};    // downstream closed: no host, or all tries failed
  std::atomic<uint64_t> idleTimeouts{0};         // connections closed by the idle timeout
  std::atomic<uint64_t> bytesFromDownstream{0};  // bytes read from clients (sent upstream)
  std::atomic<uint64_t> bytesToDownstream{0};    // bytes written to clients (read upstream)
};

struct TcpProxyOptions {
  std::chrono::milliseconds connectTimeout{1000};  // per upstream connect attempt
  std::chrono::milliseconds idleTimeout{60000};    // no byte either way → close both
  std::size_t bufferBytes = 16 * 1024;             // per direction
  uint32_t maxConnectAttempts = 3;                 // distinct hosts tried on connect failure

  /// connectTimeout from the cluster, idleTimeout from the listener.
  static TcpProxyOptions from(const Listener& listener, const Cluster& cluster);
};

/// Pipes `downstream` to a host of `hosts` until the connection ends (see the file comment);
/// both sockets are closed on return. Never throws.
///
/// Thread: runs on downstream's executor, which must be single-threaded (a worker's
/// io_context) or a strand; `lb` is that worker's (not thread-safe); `hosts` and `stats` are
/// shared by all workers. `lb` and `stats` must outlive the coroutine; `hosts` is kept alive by
/// it (a config swap does not cut running connections); a null or empty `hosts` closes the
/// downstream at once (counted in noHealthyUpstream).
///
/// Cancellation: destroying the io_context (or stopping it and destroying the coroutine frames)
/// closes the sockets; there is no partial graceful close for TCP at drain time.
///
/// GCC 12: call it with named arguments (no braced temporaries), e.g.
///   co_spawn(ex, proxyTcp(std::move(sock), hostSet, *lb, stats, options), detached);
boost::asio::awaitable<void> proxyTcp(boost::asio::ip::tcp::socket downstream,
                                      std::shared_ptr<const HostSet> hosts, LoadBalancer& lb,
                                      TcpProxyStats& stats, TcpProxyOptions options);

}  // namespace tessera::mesh::proxy
