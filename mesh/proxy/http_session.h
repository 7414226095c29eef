// One downstream HTTP/1.1 connection: reads requests (serially, so pipelining is tolerated),
// routes each under the snapshot current at its start, and answers locally or forwards it
// over a pooled upstream connection, streaming bodies both ways through bounded buffers.
//
// Thread: the worker's only. Lifetime: owned by its own coroutine (start()).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <string>
#include <string_view>

#include "mesh/proxy/http_parser.h"
#include "mesh/proxy/io_util.h"
#include "mesh/proxy/worker.h"

namespace boost::asio::detail {
class epoll_reactor;
}  // namespace boost::asio::detail

namespace tessera::mesh::proxy {

class HttpSession {
 public:
  /// Starts serving `socket` (accepted on the listening socket `socketKey`) on `worker`.
  static void start(Worker& worker, boost::asio::ip::tcp::socket socket, std::string socketKey,
                    ListenerStats* stats);

  HttpSession(Worker& worker, boost::asio::ip::tcp::socket socket, std::string socketKey,
              ListenerStats* stats);
  ~HttpSession();

  /// Drain: closes the connection if it has served a request, is waiting for the next one with
  /// nothing buffered, and has been idle for a while.
  void closeIfIdle(int64_t nowNs);

  /// Serves requests until the connection closes (the coroutine started by start()).
  boost::asio::awaitable<void> run();

 private:
  /// What to do with the current request, decided without I/O by plan().
  struct Plan {
    const CompiledRoute* route = nullptr;
    RouteStats* stats = nullptr;                     // where the request is counted
    const CompiledWeightedTarget* target = nullptr;  // forward here; nullptr: answer locally
    bool addHop = false;                             // a cross-datacenter forward
    int64_t delayNs = 0;                             // fault injection: wait first
    // A local answer:
    int status = 0;
    std::string_view reason;  // x-tessera-reason ("" for direct responses and redirects)
    std::string_view body;
    std::string_view contentType = "text/plain";
    std::string_view location;
  };

  /// Routes head_ (match, rate limit, faults, action) into plan_.
  void plan(const CompiledListener& listener);
  void localPlan(int status, const char* reason, std::string_view body);
  /// Builds a local response in out_; returns whether the connection may be kept.
  bool buildLocal(int status, std::string_view reason, std::string_view body,
                  std::string_view contentType, std::string_view location);
  /// Bytes of the request body found in in_ after the head; sets bodyComplete_.
  void scanBufferedBody();
  void buildUpstreamHead(bool addHop, std::string_view hopHeader);
  void buildResponseHead(const ResponseHead& resp, bool chunked, bool keepAlive);
  std::string_view findUserId(const UnitizedAction* unitized) const;
  const CompiledWeightedTarget* pickTarget(const CompiledTarget& target, std::string_view userId);
  void finishRequest(RouteStats* stats);
  static void discardConnection(HostPool& pool, ClusterWorkerStats& stats,
                                std::unique_ptr<UpstreamConnection>& c);
  static void reportTry(Host& host, const HostSet& set, const OutlierDetection& policy,
                        TryResult result, int64_t nowNs = 0);

  Worker& worker_;
  boost::asio::ip::tcp::socket socket_;
  boost::asio::detail::epoll_reactor& reactor_;  // socket_'s, for asyncReadSome()
  std::string socketKey_;
  ListenerStats* listenerStats_;
  FlatBuffer in_;
  TimeoutSlot slot_;
  RequestHead head_;
  std::string out_;           // the upstream request head, or a local response
  std::string respHead_;      // the downstream response head
  std::string extraHeaders_;  // response headers added by routing (x-tessera-cell, ...)
  std::string clientIp_;
  bool waitingForRequest_ = false;
  uint64_t requestsServed_ = 0;
  int64_t idleSinceNs_ = 0;
  bool closed_ = false;

  // The current request.
  int64_t idleTimeoutNs_ = 60'000'000'000;
  int64_t headersTimeoutNs_ = 10'000'000'000;
  int64_t startNs_ = 0;
  int64_t routeDeadlineNs_ = 0;
  int status_ = 0;
  bool keepAlive_ = false;
  bool headRequest_ = false;
  int minorVersion_ = 1;
  // Request body: bodyBuffered_ bytes of it are at the front of in_ (after the head has been
  // consumed); bodyComplete_ when they are the whole body.
  size_t bodyBuffered_ = 0;
  bool bodyComplete_ = true;
  BodyKind bodyKind_ = BodyKind::kNone;
  bool bodyError_ = false;
  uint64_t requestContentLength_ = 0;
  /// Bytes at the front of in_ that belong to the current request and are still there.
  size_t pendingConsume_ = 0;
  ResponseHead resp_;
  Plan plan_;
};

}  // namespace tessera::mesh::proxy
