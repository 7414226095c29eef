#include "mesh/proxy/http_session.h"

#include <sys/socket.h>

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <cerrno>
#include <charconv>
#include <span>
#include <tuple>
#include <vector>

#include "mesh/config/config.h"
#include "mesh/proxy/socket_io.h"

namespace tessera::mesh::proxy {

// Literals as string_view: std::string::append(const char*) is not always inlined, and then
// measures each literal with strlen() on every request.
using namespace std::string_view_literals;

namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

constexpr int64_t kNsPerMs = 1'000'000;
// While draining, a kept-alive connection idle this long is closed.
constexpr int64_t kDrainIdleCloseNs = 1'000'000'000;
// A pooled upstream connection idle this long is probed before reuse.
constexpr int64_t kStaleProbeAfterNs = 1'000'000'000;
// Free space asked for before each read of a body or an upstream response.
constexpr size_t kReadChunk = size_t{16} * 1024;

// False if the peer has closed the connection (or it failed): a non-blocking peek.
bool connectionAlive(tcp::socket& socket) {
  char c;
  ssize_t n = ::recv(socket.native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n > 0) return false;  // unsolicited bytes: not a clean HTTP connection either
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

int64_t toNs(Millis ms) {
  return static_cast<int64_t>(ms.count()) * kNsPerMs;
}

std::string_view reasonPhrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 204:
      return "No Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 303:
      return "See Other";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 408:
      return "Request Timeout";
    case 413:
      return "Content Too Large";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "Unknown";
  }
}

void appendInt(std::string& out, uint64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, static_cast<size_t>(r.ptr - buf));
}

void appendHex(std::string& out, uint64_t v) {
  static constexpr char kHex[] = "0123456789abcdef";
  char buf[16];
  for (int i = 15; i >= 0; --i) {
    buf[i] = kHex[v & 0xf];
    v >>= 4;
  }
  out.append(buf, 16);
}

uint64_t fnv1a(std::string_view s) {
  uint64_t h = 1469598103934665603ULL;
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ULL;
  }
  return h;
}

// The value of cookie `name` in a Cookie header value.
std::string_view findCookie(std::string_view cookies, std::string_view name) {
  while (!cookies.empty()) {
    size_t semi = cookies.find(';');
    std::string_view item = cookies.substr(0, semi);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    size_t eq = item.find('=');
    if (eq != std::string_view::npos && item.substr(0, eq) == name) return item.substr(eq + 1);
    if (semi == std::string_view::npos) break;
    cookies.remove_prefix(semi + 1);
  }
  return {};
}

std::string_view findQueryParam(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view item = query.substr(0, amp);
    size_t eq = item.find('=');
    if (eq != std::string_view::npos && item.substr(0, eq) == name) return item.substr(eq + 1);
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return {};
}

SteadyTime steadyFromNs(int64_t ns) {
  return SteadyTime(std::chrono::duration_cast<SteadyTime::duration>(std::chrono::nanoseconds(ns)));
}

int64_t minDeadline(int64_t a, int64_t b) {
  if (a == 0) return b;
  if (b == 0) return a;
  return a < b ? a : b;
}

enum class PumpResult { kDone, kReadFailed, kWriteFailed };

// How pumpBody() passes a chunked body on.
enum class Chunks { kKeep, kDecode };

// Moves one message body from `buf` (then `from`) to `to`, writing `prefix` first, coalesced
// with the first body bytes. Bytes after the body's end stay in `buf`. Chunks::kDecode sends
// only the chunks' data, for an HTTP/1.0 client (the caller then ends the body by closing).
asio::awaitable<PumpResult> pumpBody(asio::detail::epoll_reactor& reactor, tcp::socket& from,
                                     TimeoutSlot& fromSlot, FlatBuffer& buf, tcp::socket& to,
                                     TimeoutSlot& toSlot, BodyKind kind, uint64_t remaining,
                                     std::string_view prefix, Chunks chunks = Chunks::kKeep) {
  ChunkedScanner scanner;
  const bool decode = kind == BodyKind::kChunked && chunks == Chunks::kDecode;
  ChunkedScanner::DataSpans spans;
  std::vector<asio::const_buffer> decoded;
  for (;;) {
    size_t take = 0;
    bool done = false;
    switch (kind) {
      case BodyKind::kNone:
        done = true;
        break;
      case BodyKind::kContentLength:
        take = buf.size() < remaining ? buf.size() : static_cast<size_t>(remaining);
        remaining -= take;
        done = remaining == 0;
        break;
      case BodyKind::kChunked:
        spans.clear();
        take = scanner.scan(buf.data(), buf.size(), decode ? &spans : nullptr);
        if (scanner.failed()) co_return PumpResult::kReadFailed;
        done = scanner.done();
        break;
      case BodyKind::kUntilClose:
        take = buf.size();
        break;
    }
    if (take > 0 || !prefix.empty()) {
      if (toSlot.fired()) co_return PumpResult::kWriteFailed;
      boost::system::error_code ec;
      if (decode) {
        decoded.assign(1, asio::buffer(prefix.data(), prefix.size()));
        for (const auto& [at, n] : spans) decoded.push_back(asio::buffer(buf.data() + at, n));
        std::tie(ec, std::ignore) = co_await asio::async_write(to, decoded, kTuple);
      } else {
        std::array<asio::const_buffer, 2> bufs = {asio::buffer(prefix.data(), prefix.size()),
                                                  asio::buffer(buf.data(), take)};
        std::tie(ec, std::ignore) = co_await asio::async_write(to, bufs, kTuple);
      }
      if (ec) co_return PumpResult::kWriteFailed;
      prefix = {};
      buf.consume(take);
    }
    if (done) co_return PumpResult::kDone;
    if (fromSlot.fired()) co_return PumpResult::kReadFailed;
    size_t got = 0;
    char* p = buf.prepare(kReadChunk, got);
    auto [ec, n] = co_await asyncReadSome(reactor, from, asio::buffer(p, got), kTuple);
    if (ec) {
      if (kind == BodyKind::kUntilClose && ec == asio::error::eof) co_return PumpResult::kDone;
      co_return PumpResult::kReadFailed;
    }
    buf.commit(n);
  }
}

// Counts one try in flight for the retry budget and least-request balancing.
struct InFlightTry {
  HostSet& set;
  Host* host;
  bool retry;
  bool leastRequest;
  InFlightTry(HostSet& s, Host* h, bool r, bool lr) : set(s), host(h), retry(r), leastRequest(lr) {
    set.activeRequests.fetch_add(1, std::memory_order_relaxed);
    if (retry) set.activeRetries.fetch_add(1, std::memory_order_relaxed);
    if (leastRequest) host->activeRequests.fetch_add(1, std::memory_order_relaxed);
  }
  ~InFlightTry() {
    set.activeRequests.fetch_sub(1, std::memory_order_relaxed);
    if (retry) set.activeRetries.fetch_sub(1, std::memory_order_relaxed);
    if (leastRequest) host->activeRequests.fetch_sub(1, std::memory_order_relaxed);
  }
  InFlightTry(const InFlightTry&) = delete;
  InFlightTry& operator=(const InFlightTry&) = delete;
};

asio::awaitable<void> runSession(std::unique_ptr<HttpSession> session);

}  // namespace

// ---- life cycle ----

HttpSession::HttpSession(Worker& worker, tcp::socket socket, std::string socketKey,
                         ListenerStats* stats)
    : worker_(worker),
      socket_(std::move(socket)),
      reactor_(socketReactor(socket_)),
      socketKey_(std::move(socketKey)),
      listenerStats_(stats) {
  slot_.attach(worker_.timeouts(), &socket_);
  boost::system::error_code ec;
  auto remote = socket_.remote_endpoint(ec);
  if (!ec) clientIp_ = remote.address().to_string();
  socket_.set_option(tcp::no_delay(true), ec);
  socket_.non_blocking(true, ec);  // for sendNow()
  listenerStats_->at(worker_.id()).cxTotal.add();
  listenerStats_->at(worker_.id()).cxActive.add(1);
  worker_.sessionOpened(this);
}

HttpSession::~HttpSession() {
  listenerStats_->at(worker_.id()).cxActive.add(-1);
  worker_.sessionClosed(this);
}

void HttpSession::start(Worker& worker, tcp::socket socket, std::string socketKey,
                        ListenerStats* stats) {
  auto session =
      std::make_unique<HttpSession>(worker, std::move(socket), std::move(socketKey), stats);
  asio::co_spawn(worker.io(), runSession(std::move(session)), asio::detached);
}

namespace {
asio::awaitable<void> runSession(std::unique_ptr<HttpSession> session) {
  co_await session->run();
}
}  // namespace

void HttpSession::closeIfIdle(int64_t now) {
  // A connection that has not sent its first request yet is left to its headers timeout: its
  // client may be sending right now. Kept-alive ones idle for a while are closed; busy ones
  // close after their current request (Connection: close).
  if (waitingForRequest_ && in_.empty() && requestsServed_ > 0 &&
      now - idleSinceNs_ >= kDrainIdleCloseNs) {
    boost::system::error_code ec;
    socket_.cancel(ec);
  }
}

// ---- the connection's coroutine ----
//
// Everything a request needs happens in this one coroutine frame (allocated once per
// connection): Asio recycles only small frames, so a nested coroutine per request would cost
// heap allocations on the hot path. Only rare paths (streamed request bodies, responses larger
// than the buffer) call pumpBody().

asio::awaitable<void> HttpSession::run() {
  {
    SnapshotRef snap = worker_.acquire();
    const CompiledListener* l = snap ? snap->findListener(socketKey_) : nullptr;
    if (l != nullptr) {
      idleTimeoutNs_ = toNs(l->config->idleTimeout);
      headersTimeoutNs_ = toNs(l->config->requestHeadersTimeout);
    }
  }
  idleSinceNs_ = nowNs();
  while (true) {
    // ---- read the next request head ----
    // idleSinceNs_: when the previous request ended (or the connection was accepted).
    waitingForRequest_ = true;
    bool sawBytes = !in_.empty();
    slot_.arm(idleSinceNs_ + (sawBytes ? headersTimeoutNs_ : idleTimeoutNs_));
    ParseStatus st = ParseStatus::kIncomplete;
    while (true) {
      if (!in_.empty()) {
        st = parseRequestHead(in_.data(), in_.size(), head_);
        if (st != ParseStatus::kIncomplete) break;
        if (in_.full()) {
          st = ParseStatus::kError;
          break;
        }
        if (!sawBytes) {
          sawBytes = true;
          slot_.arm(nowNs() + headersTimeoutNs_);
        }
      }
      if (slot_.fired()) break;
      size_t got = 0;
      char* p = in_.prepare(4096, got);
      auto [ec, n] = co_await asyncReadSome(reactor_, socket_, asio::buffer(p, got), kTuple);
      if (ec) break;
      in_.commit(n);
    }
    waitingForRequest_ = false;
    if (st != ParseStatus::kComplete) {
      // Malformed, too large, or timed out with a partial head: answer and close. A clean
      // close or an idle timeout between requests: just close.
      int status = 0;
      if (st == ParseStatus::kError) status = in_.full() ? 431 : 400;
      if (st == ParseStatus::kIncomplete && slot_.fired() && !in_.empty()) status = 408;
      if (status != 0) {
        keepAlive_ = false;
        headRequest_ = false;
        minorVersion_ = 1;
        pendingConsume_ = 0;
        bodyComplete_ = false;
        extraHeaders_.clear();
        const char* reason = status == 400   ? "bad request"
                             : status == 431 ? "request head too large"
                                             : "request headers timeout";
        buildLocal(status, reason, {}, "text/plain", {});
        slot_.arm(nowNs() + headersTimeoutNs_);
        co_await asio::async_write(socket_, asio::buffer(out_), kTuple);
      }
      break;
    }

    // ---- handle the request under the snapshot current now ----
    SnapshotRef snap = worker_.acquire();
    const CompiledListener* listener = snap ? snap->findListener(socketKey_) : nullptr;
    if (listener == nullptr || listener->routeTable == nullptr) break;  // listener removed
    worker_.requestStarted();
    plan(*listener);
    if (plan_.delayNs > 0) {
      asio::steady_timer timer(worker_.io(), std::chrono::nanoseconds(plan_.delayNs));
      co_await timer.async_wait(kTuple);
    }
    bool keep = false;
    if (plan_.target == nullptr) {
      keep = buildLocal(plan_.status, plan_.reason, plan_.body, plan_.contentType, plan_.location);
      if (slot_.deadline() == 0) slot_.arm(nowNs() + headersTimeoutNs_);
      std::array<asio::const_buffer, 1> bufs = {asio::buffer(out_)};
      boost::system::error_code ec = sendNow(socket_, bufs);
      if (!ec && asio::buffer_size(bufs) != 0) {
        auto [wec, n] = co_await asio::async_write(socket_, bufs, kTuple);
        ec = wec;
      }
      keep = keep && !ec && !slot_.fired();
    } else {
      // ---- forward, with retries ----
      const CompiledRoute& route = *plan_.route;
      const CompiledWeightedTarget& target = *plan_.target;
      const CompiledCluster& cluster = *target.cluster;
      const Cluster& ccfg = *cluster.config;
      HostSet& hostSet = *cluster.hostSet;
      const RetryPolicy& retry = route.config->action.retry;
      const size_t w = worker_.id();
      auto& cstats = cluster.stats->at(w);
      auto& ustats = target.stats->at(w);
      LoadBalancer& lb = *cluster.lbPerWorker[w];
      const bool leastRequest = ccfg.lbPolicy == LbPolicy::kLeastRequest;
      const bool addHop = plan_.addHop;
      const OutlierDetection& od = ccfg.outlierDetection;

      buildUpstreamHead(
          addHop, addHop ? std::string_view(route.unitized.config->hopHeader) : std::string_view());
      const bool idempotent = head_.idempotent();
      const bool expectContinue = head_.expectContinue;
      // From here on head_ is not used: its bytes leave the buffer.
      in_.consume(head_.headLength);
      pendingConsume_ -= head_.headLength;

      bool replayable = bodyComplete_;
      uint32_t retriesLeft = retry.maxRetries;
      bool staleRetryUsed = false;
      bool isRetry = false;
      bool firstTry = true;
      Host* exclude = nullptr;
      int failStatus = 503;
      const char* failReason = "no healthy host";
      const int64_t perTryNs = toNs(retry.perTryTimeout);
      // A request forwarded to another datacenter's gateway is retried only when it could not
      // be sent (connect failure): that proxy has already retried within its datacenter, and
      // its refusals (hop limit) are final.
      const bool retryOnFailure = retry.on5xx && !addHop;
      bool answered = false;  // a response (or a broken one) went downstream

      while (true) {
        const int64_t now = firstTry ? startNs_ : nowNs();
        firstTry = false;
        if (routeDeadlineNs_ != 0 && now >= routeDeadlineNs_) {
          failStatus = 504;
          failReason = "upstream timeout";
          break;
        }
        Host* host = lb.pick(std::span<const std::shared_ptr<Host>>(*target.hosts),
                             steadyFromNs(now), exclude);
        if (host == nullptr) {
          cstats.noHealthyHost.add();
          failStatus = 503;
          failReason = "no healthy host";
          break;
        }
        HostPool& pool = worker_.pool(host, cluster);
        pool.idleTimeoutNs = toNs(ccfg.idleTimeout);
        std::unique_ptr<UpstreamConnection> uc;
        while (!pool.idle.empty()) {
          uc = std::move(pool.idle.back());
          pool.idle.pop_back();
          uc->reused = true;
          // The upstream may have closed a pooled connection. Look before sending (a
          // non-blocking peek) when the request could not be retried on a fresh connection or
          // when the connection has been idle for a while; a dead one found later costs an
          // idempotent request only a retry.
          const bool probe = !idempotent || now - uc->idleSinceNs >= kStaleProbeAfterNs;
          if (!probe || connectionAlive(uc->socket)) break;
          discardConnection(pool, cstats, uc);
        }
        if (uc) {
          // reused
        } else if (pool.total >= ccfg.maxConnectionsPerEndpoint) {
          cstats.overflows.add();
          failStatus = 503;
          failReason = "upstream connection limit";
          break;
        } else {
          uc = std::make_unique<UpstreamConnection>(worker_.io());
          uc->slot.attach(worker_.timeouts(), &uc->socket);
          ++pool.total;
          cstats.cxTotal.add();
          cstats.cxActive.add(1);
        }
        InFlightTry inflight(hostSet, host, isRetry, leastRequest);
        const int64_t tryStart = now;
        const int64_t tryDeadline =
            minDeadline(routeDeadlineNs_, perTryNs > 0 ? tryStart + perTryNs : 0);

        // Connect if new.
        if (!uc->reused) {
          uc->slot.arm(minDeadline(tryDeadline, now + toNs(ccfg.connectTimeout)));
          boost::system::error_code cec;
          auto address = asio::ip::make_address(host->endpoint().address == "localhost"
                                                    ? std::string("127.0.0.1")
                                                    : host->endpoint().address,
                                                cec);
          if (!cec) {
            tcp::endpoint ep(address, host->endpoint().port);
            auto [ec] = co_await uc->socket.async_connect(ep, kTuple);
            cec = ec;
          }
          if (cec) {
            const bool timedOut = uc->slot.fired();
            discardConnection(pool, cstats, uc);
            cstats.connectFailures.add();
            ustats.responses[0].add();
            reportTry(*host, hostSet, od, TryResult::kConnectFailure);
            failStatus = 503;
            failReason = timedOut ? "upstream connect timeout" : "upstream connect failure";
            // Nothing was sent: always safe to retry.
            if (retriesLeft > 0 && hostSet.retryAllowed()) {
              --retriesLeft;
              cstats.retries.add();
              isRetry = true;
              exclude = host;
              continue;
            }
            break;
          }
          boost::system::error_code ignored;
          uc->socket.set_option(tcp::no_delay(true), ignored);
          uc->socket.non_blocking(true, ignored);  // for sendNow()
        }

        // Send the request.
        uc->slot.arm(tryDeadline);
        bool sendFailed = false;
        if (replayable) {
          std::array<asio::const_buffer, 2> bufs = {asio::buffer(out_),
                                                    asio::buffer(in_.data(), bodyBuffered_)};
          boost::system::error_code ec = sendNow(uc->socket, bufs);
          if (!ec && asio::buffer_size(bufs) != 0) {
            auto [wec, n] = co_await asio::async_write(uc->socket, bufs, kTuple);
            ec = wec;
          }
          sendFailed = static_cast<bool>(ec);
        } else {
          // A streamed body: from here on the request cannot be replayed.
          if (expectContinue && bodyBuffered_ == 0) {
            static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
            auto [ec, n] = co_await asio::async_write(socket_, asio::buffer(kContinue), kTuple);
            if (ec) {
              discardConnection(pool, cstats, uc);
              answered = true;
              break;
            }
          }
          pendingConsume_ = 0;
          PumpResult pr = co_await pumpBody(reactor_, socket_, slot_, in_, uc->socket, uc->slot,
                                            bodyKind_, requestContentLength_, out_);
          if (pr == PumpResult::kReadFailed) {
            // The client went away or sent a broken body: nothing to answer.
            discardConnection(pool, cstats, uc);
            status_ = 400;
            answered = true;
            break;
          }
          sendFailed = pr == PumpResult::kWriteFailed;
        }

        // Read the response head.
        bool gotHead = false;
        bool timedOut = false;
        bool anyBytes = false;
        if (!sendFailed) {
          while (true) {
            if (!uc->buffer.empty()) {
              ParseStatus rs = parseResponseHead(uc->buffer.data(), uc->buffer.size(), resp_);
              if (rs == ParseStatus::kComplete) {
                if (resp_.status >= 100 && resp_.status < 200 && resp_.status != 101) {
                  uc->buffer.consume(resp_.headLength);  // an interim response: skip it
                  continue;
                }
                gotHead = true;
                break;
              }
              if (rs == ParseStatus::kError || uc->buffer.full()) break;
            }
            if (uc->slot.fired()) {
              timedOut = true;
              break;
            }
            size_t got = 0;
            char* p = uc->buffer.prepare(kReadChunk, got);
            auto [ec, n] =
                co_await asyncReadSome(reactor_, uc->socket, asio::buffer(p, got), kTuple);
            if (ec) {
              timedOut = uc->slot.fired();
              break;
            }
            anyBytes = true;
            uc->buffer.commit(n);
          }
        }

        if (!gotHead) {
          const bool wasReused = uc->reused;
          discardConnection(pool, cstats, uc);
          if (!timedOut && !anyBytes && wasReused && replayable && idempotent && !staleRetryUsed) {
            // A pooled connection the upstream had closed: not the host's fault; try again.
            staleRetryUsed = true;
            continue;
          }
          ustats.responses[0].add();
          if (timedOut) {
            cstats.timeouts.add();
            reportTry(*host, hostSet, od, TryResult::kTimeout);
            failStatus = 504;
            failReason = "upstream timeout";
          } else {
            cstats.resets.add();
            reportTry(*host, hostSet, od, TryResult::kReset);
            failStatus = 502;
            failReason = "upstream reset";
          }
          if (replayable && idempotent && retryOnFailure && retriesLeft > 0 &&
              hostSet.retryAllowed()) {
            --retriesLeft;
            cstats.retries.add();
            isRetry = true;
            exclude = host;
            continue;
          }
          break;
        }

        const int status = resp_.status;
        const int64_t headAt = nowNs();
        ustats.responses[codeClass(status)].add();
        ustats.latency.observe((headAt - tryStart) / 1000);
        reportTry(*host, hostSet, od, status >= 500 ? TryResult::kHttp5xx : TryResult::kSuccess,
                  headAt);
        if ((status == 502 || status == 503 || status == 504) && retryOnFailure && replayable &&
            idempotent && retriesLeft > 0 && hostSet.retryAllowed() &&
            (routeDeadlineNs_ == 0 || headAt < routeDeadlineNs_)) {
          discardConnection(pool, cstats, uc);
          --retriesLeft;
          cstats.retries.add();
          isRetry = true;
          exclude = host;
          continue;
        }

        // Forward the response downstream. No retry after this point.
        answered = true;
        const BodyKind kind = resp_.bodyKind(headRequest_);
        // An HTTP/1.0 client cannot read chunked coding: it gets the data, ended by a close.
        const bool decodeChunks = minorVersion_ == 0 && kind == BodyKind::kChunked;
        const bool keepDown =
            keepAlive_ && kind != BodyKind::kUntilClose && !worker_.draining() && !decodeChunks;
        buildResponseHead(resp_, kind == BodyKind::kChunked && !decodeChunks, keepDown);
        const bool upstreamKeepAlive = resp_.keepAlive() && kind != BodyKind::kUntilClose;
        const uint64_t length =
            kind == BodyKind::kContentLength ? static_cast<uint64_t>(resp_.contentLength) : 0;
        uc->buffer.consume(resp_.headLength);
        status_ = status;
        slot_.arm(routeDeadlineNs_);
        uc->slot.arm(routeDeadlineNs_);
        PumpResult pr = PumpResult::kDone;
        if (kind == BodyKind::kNone ||
            (kind == BodyKind::kContentLength && uc->buffer.size() >= length)) {
          // The whole response is here (the common case): one write. Bytes beyond it are a
          // protocol error; they stay in the buffer and the connection is not reused.
          const size_t bodyBytes = kind == BodyKind::kNone ? 0 : static_cast<size_t>(length);
          std::array<asio::const_buffer, 2> bufs = {asio::buffer(respHead_),
                                                    asio::buffer(uc->buffer.data(), bodyBytes)};
          boost::system::error_code ec = sendNow(socket_, bufs);
          if (!ec && asio::buffer_size(bufs) != 0) {
            auto [wec, n] = co_await asio::async_write(socket_, bufs, kTuple);
            ec = wec;
          }
          if (ec) {
            pr = PumpResult::kWriteFailed;
          } else {
            uc->buffer.consume(bodyBytes);
          }
        } else {
          pr = co_await pumpBody(reactor_, uc->socket, uc->slot, uc->buffer, socket_, slot_, kind,
                                 length, respHead_, decodeChunks ? Chunks::kDecode : Chunks::kKeep);
        }
        if (pr != PumpResult::kDone || !upstreamKeepAlive || !uc->buffer.empty() ||
            worker_.draining()) {
          discardConnection(pool, cstats, uc);
        } else {
          uc->slot.disarm();
          uc->idleSinceNs = startNs_;  // close enough for an idle limit in seconds
          pool.idle.push_back(std::move(uc));
        }
        // A failed pump leaves a truncated response downstream: the connection must close.
        keep = pr == PumpResult::kDone && keepDown;
        break;
      }
      if (!answered) {
        // Every try failed before a response head was forwarded.
        bool keepAfter = buildLocal(failStatus, failReason, failReason, "text/plain", {});
        auto [ec, n] = co_await asio::async_write(socket_, asio::buffer(out_), kTuple);
        keep = keepAfter && !ec;
      }
    }
    // One clock read for the end of the request: latency, idle start, pooled connections.
    idleSinceNs_ = nowNs();
    finishRequest(plan_.stats);
    worker_.requestEnded();
    ++requestsServed_;
    // While draining, a response already sent as keep-alive still lets the client send one
    // more request on this connection (answered with Connection: close): closing now would
    // race with that request.
    if (!keep) break;
  }
  slot_.disarm();
  boost::system::error_code ec;
  socket_.shutdown(tcp::socket::shutdown_send, ec);
  socket_.close(ec);
}

// ---- deciding what to do with a request (no I/O) ----

void HttpSession::localPlan(int status, const char* reason, std::string_view body) {
  plan_.target = nullptr;
  plan_.status = status;
  plan_.reason = reason;
  plan_.body = body;
  plan_.contentType = "text/plain";
  plan_.location = {};
}

void HttpSession::plan(const CompiledListener& listener) {
  startNs_ = nowNs();
  plan_ = Plan();
  const Listener& lcfg = *listener.config;
  idleTimeoutNs_ = toNs(lcfg.idleTimeout);
  headersTimeoutNs_ = toNs(lcfg.requestHeadersTimeout);
  listenerStats_->at(worker_.id()).requests.add();
  keepAlive_ = head_.keepAlive();
  headRequest_ = head_.method == "HEAD";
  minorVersion_ = head_.minorVersion;
  status_ = 0;
  extraHeaders_.clear();
  scanBufferedBody();
  slot_.arm(startNs_ + headersTimeoutNs_);
  plan_.stats = listener.routeTable->noRouteStats;

  if (bodyError_) {
    keepAlive_ = false;
    localPlan(400, "bad request", "malformed chunked body\n");
    return;
  }
  const CompiledRoute* route = matchRoute(*listener.routeTable, head_);
  if (route == nullptr) {
    localPlan(404, "no route", "no route\n");
    return;
  }
  plan_.route = route;
  plan_.stats = route->stats;
  const RouteAction& action = route->config->action;
  auto& rstats = route->stats->at(worker_.id());
  routeDeadlineNs_ = action.timeout.count() > 0 ? startNs_ + toNs(action.timeout) : 0;
  slot_.arm(routeDeadlineNs_);

  if (action.rateLimit && action.rateLimit->requestsPerSecond > 0) {
    const double rate = action.rateLimit->requestsPerSecond;
    const double burst =
        action.rateLimit->burst > 0 ? action.rateLimit->burst : (rate < 1 ? 1.0 : rate);
    if (rstats.tokens < 0) {
      rstats.tokens = burst;
      rstats.lastRefillNs = startNs_;
    }
    rstats.tokens += static_cast<double>(startNs_ - rstats.lastRefillNs) / 1e9 * rate;
    if (rstats.tokens > burst) rstats.tokens = burst;
    rstats.lastRefillNs = startNs_;
    if (rstats.tokens < 1.0) {
      rstats.rateLimited.add();
      localPlan(429, "rate limited", "rate limited\n");
      return;
    }
    rstats.tokens -= 1.0;
  }

  if (action.fault) {
    const Fault& f = *action.fault;
    if (f.delayPercent > 0 && f.delay.count() > 0 &&
        static_cast<double>(worker_.random() % 1000000) < f.delayPercent * 10000.0) {
      rstats.faultDelays.add();
      plan_.delayNs = toNs(f.delay);
    }
    if (f.abortPercent > 0 &&
        static_cast<double>(worker_.random() % 1000000) < f.abortPercent * 10000.0) {
      rstats.faultAborts.add();
      localPlan(f.abortStatus, "fault injected", "fault injected\n");
      return;
    }
  }

  switch (action.kind) {
    case RouteAction::Kind::kDirectResponse: {
      const DirectResponse& d = action.directResponse;
      localPlan(d.status, "", d.body);
      plan_.contentType = d.contentType;
      return;
    }
    case RouteAction::Kind::kRedirect: {
      localPlan(action.redirect.status, "", {});
      plan_.location = action.redirect.location;
      return;
    }
    case RouteAction::Kind::kForward: {
      plan_.target = pickTarget(route->forward, findUserId(nullptr));
      if (plan_.target == nullptr) localPlan(503, "no target", "no target\n");
      return;
    }
    case RouteAction::Kind::kUnitized:
      break;
  }

  const CompiledUnitized& u = route->unitized;
  std::string_view userId = findUserId(u.config);
  std::string_view cell;
  if (userId.empty()) {
    cell = u.defaultCell;
    extraHeaders_ += "x-tessera-bucket: none\r\n";
  } else {
    uint32_t bucket = bucketOf(userId, u.shardMap->bucketCount);
    if (bucket < u.shardMap->owner.size()) cell = u.shardMap->owner[bucket];
    extraHeaders_ += "x-tessera-bucket: ";
    appendInt(extraHeaders_, bucket);
    extraHeaders_ += "\r\n";
  }
  extraHeaders_ += "x-tessera-cell: ";
  extraHeaders_ += cell;
  extraHeaders_ += "\r\n";
  auto local = u.cells.find(cell);
  if (local != u.cells.end()) {
    plan_.target = pickTarget(local->second, userId);
    if (plan_.target == nullptr) localPlan(503, "no target", "no target\n");
    return;
  }
  if (cell.empty()) {
    localPlan(502, "no cell for the request", "no cell for the request\n");
    return;
  }
  bool hopped = false;
  head_.find(u.config->hopHeader, &hopped);
  if (hopped) {
    rstats.hopRefused.add();
    localPlan(502, "cell not served here and the request was already forwarded once",
              "cell not served here and the request was already forwarded once\n");
    return;
  }
  auto dc = u.shardMap->cellDatacenter.find(std::string(cell));
  auto gw = dc == u.shardMap->cellDatacenter.end() ? u.gateways.end() : u.gateways.find(dc->second);
  if (gw == u.gateways.end() || gw->second.targets.empty()) {
    localPlan(502, "no gateway for the cell's datacenter",
              "no gateway for the cell's datacenter\n");
    return;
  }
  rstats.crossDatacenterForwards.add();
  // The owning datacenter's proxy labels the response (x-tessera-cell/-bucket) itself.
  extraHeaders_.clear();
  plan_.target = &gw->second.targets[0];
  plan_.addHop = true;
}

bool HttpSession::buildLocal(int status, std::string_view reason, std::string_view body,
                             std::string_view contentType, std::string_view location) {
  // The request's body must be consumed before another request can be read.
  const bool keep = keepAlive_ && bodyComplete_ && !worker_.draining();
  status_ = status;
  out_.clear();
  out_.append("HTTP/1.1 "sv);
  appendInt(out_, static_cast<uint64_t>(status));
  out_ += ' ';
  out_.append(reasonPhrase(status));
  out_.append("\r\ncontent-type: "sv);
  out_.append(contentType);
  out_.append("\r\ncontent-length: "sv);
  const bool reasonBody = body.empty() && !reason.empty();
  appendInt(out_, reasonBody ? reason.size() + 1 : body.size());
  out_.append("\r\n"sv);
  if (!reason.empty()) {
    out_.append("x-tessera-reason: "sv);
    out_.append(reason);
    out_.append("\r\n"sv);
  }
  if (!location.empty()) {
    out_.append("location: "sv);
    out_.append(location);
    out_.append("\r\n"sv);
  }
  out_.append(extraHeaders_);
  if (!keep) {
    out_.append("connection: close\r\n"sv);
  } else if (minorVersion_ == 0) {
    out_.append("connection: keep-alive\r\n"sv);
  }
  out_.append("\r\n"sv);
  if (!headRequest_) {
    if (reasonBody) {
      out_.append(reason);
      out_ += '\n';
    } else {
      out_.append(body);
    }
  }
  return keep;
}

void HttpSession::discardConnection(HostPool& pool, ClusterWorkerStats& stats,
                                    std::unique_ptr<UpstreamConnection>& c) {
  if (!c) return;
  boost::system::error_code ignored;
  c->socket.close(ignored);
  c.reset();
  --pool.total;
  stats.cxActive.add(-1);
}

void HttpSession::reportTry(Host& host, const HostSet& set, const OutlierDetection& policy,
                            TryResult result, int64_t now) {
  if (!policy.enabled) return;
  OutlierDetector::report(host, result, policy, std::span<const std::shared_ptr<Host>>(set.hosts),
                          steadyFromNs(now != 0 ? now : nowNs()));
}

// ---- helpers (no I/O) ----

void HttpSession::scanBufferedBody() {
  const size_t avail = in_.size() - head_.headLength;
  const char* body = in_.data() + head_.headLength;
  bodyKind_ = head_.bodyKind();
  requestContentLength_ = head_.contentLength > 0 ? static_cast<uint64_t>(head_.contentLength) : 0;
  bodyError_ = false;
  switch (bodyKind_) {
    case BodyKind::kNone:
    case BodyKind::kUntilClose:
      bodyBuffered_ = 0;
      bodyComplete_ = true;
      break;
    case BodyKind::kContentLength:
      bodyBuffered_ =
          avail < requestContentLength_ ? avail : static_cast<size_t>(requestContentLength_);
      bodyComplete_ = bodyBuffered_ == requestContentLength_;
      break;
    case BodyKind::kChunked: {
      ChunkedScanner scanner;
      bodyBuffered_ = scanner.scan(body, avail);
      bodyComplete_ = scanner.done();
      bodyError_ = scanner.failed();
      break;
    }
  }
  pendingConsume_ = head_.headLength + (bodyComplete_ ? bodyBuffered_ : 0);
}

std::string_view HttpSession::findUserId(const UnitizedAction* unitized) const {
  if (unitized == nullptr) return head_.find("x-user-id");
  for (const auto& src : unitized->userId) {
    std::string_view v;
    switch (src.kind) {
      case UserIdSource::Kind::kHeader:
        v = head_.find(src.name);
        break;
      case UserIdSource::Kind::kCookie:
        for (size_t i = 0; i < head_.headerCount && v.empty(); ++i) {
          if (equalsIgnoreCase(head_.headers[i].name, "cookie")) {
            v = findCookie(head_.headers[i].value, src.name);
          }
        }
        break;
      case UserIdSource::Kind::kQuery:
        v = findQueryParam(head_.query, src.name);
        break;
    }
    if (!v.empty()) return v;
  }
  return {};
}

const CompiledWeightedTarget* HttpSession::pickTarget(const CompiledTarget& target,
                                                      std::string_view userId) {
  if (target.targets.empty()) return nullptr;
  if (target.targets.size() == 1) return &target.targets[0];
  if (!target.revisionHeader.empty()) {
    bool found = false;
    std::string_view forced = head_.find(target.revisionHeader, &found);
    if (found) {
      for (const auto& t : target.targets) {
        if (t.name == forced) return &t;
      }
    }
  }
  if (target.totalWeight == 0) return &target.targets[0];
  uint64_t h = (target.sticky && !userId.empty()) ? fnv1a(userId) : worker_.random();
  uint64_t point = h % target.totalWeight;
  for (const auto& t : target.targets) {
    if (point < t.weight) return &t;
    point -= t.weight;
  }
  return &target.targets.back();
}

void HttpSession::finishRequest(RouteStats* stats) {
  if (pendingConsume_ > 0) {
    in_.consume(pendingConsume_);
    pendingConsume_ = 0;
  }
  if (stats == nullptr) return;
  auto& s = stats->at(worker_.id());
  s.responses[codeClass(status_)].add();
  s.latency.observe((idleSinceNs_ - startNs_) / 1000);
}

void HttpSession::buildUpstreamHead(bool addHop, std::string_view hopHeader) {
  out_.clear();
  out_.append(head_.method);
  out_ += ' ';
  out_.append(head_.target);
  out_.append(" HTTP/1.1\r\n"sv);
  std::string_view xff;
  bool hasRequestId = false;
  for (size_t i = 0; i < head_.headerCount; ++i) {
    const HeaderField& h = head_.headers[i];
    if (isHopByHop(h.name, head_.connectionTokens)) continue;
    if (h.name.size() == 6 && equalsIgnoreCase(h.name, "expect")) continue;
    if (h.name.size() == 15 && equalsIgnoreCase(h.name, "x-forwarded-for")) {
      xff = h.value;
      continue;
    }
    if (h.name.size() == 12 && equalsIgnoreCase(h.name, "x-request-id")) hasRequestId = true;
    out_.append(h.name);
    out_.append(": "sv);
    out_.append(h.value);
    out_.append("\r\n"sv);
  }
  if (head_.chunked) out_.append("transfer-encoding: chunked\r\n"sv);
  out_.append("x-forwarded-for: "sv);
  if (!xff.empty()) {
    out_.append(xff);
    out_.append(", "sv);
  }
  out_.append(clientIp_);
  out_.append("\r\n"sv);
  if (!hasRequestId) {
    out_.append("x-request-id: "sv);
    appendHex(out_, worker_.requestIdPrefix());
    appendHex(out_, worker_.nextRequestId());
    out_.append("\r\n"sv);
  }
  if (addHop) {
    out_.append(hopHeader);
    out_.append(": "sv);
    out_.append(worker_.settings().datacenter.empty() ? std::string_view("1")
                                                      : worker_.settings().datacenter);
    out_.append("\r\n"sv);
  }
  out_.append("\r\n"sv);
}

void HttpSession::buildResponseHead(const ResponseHead& resp, bool chunked, bool keepAlive) {
  respHead_.clear();
  respHead_.append("HTTP/1.1 "sv);
  appendInt(respHead_, static_cast<uint64_t>(resp.status));
  respHead_ += ' ';
  respHead_.append(resp.reason);
  respHead_.append("\r\n"sv);
  for (size_t i = 0; i < resp.headerCount; ++i) {
    const HeaderField& h = resp.headers[i];
    if (isHopByHop(h.name, resp.connectionTokens)) continue;
    respHead_.append(h.name);
    respHead_.append(": "sv);
    respHead_.append(h.value);
    respHead_.append("\r\n"sv);
  }
  if (chunked) respHead_.append("transfer-encoding: chunked\r\n"sv);
  respHead_.append(extraHeaders_);
  if (!keepAlive) {
    respHead_.append("connection: close\r\n"sv);
  } else if (minorVersion_ == 0) {
    respHead_.append("connection: keep-alive\r\n"sv);
  }
  respHead_.append("\r\n"sv);
}

}  // namespace tessera::mesh::proxy
