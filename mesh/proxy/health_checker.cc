#include "mesh/proxy/health_checker.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <map>
#include <optional>
#include <random>
#include <tuple>

#include "common/logging.h"

namespace tessera::mesh::proxy {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

namespace {

constexpr auto kTuple = net::as_tuple(net::use_awaitable);
constexpr std::size_t kMaxHeaderBytes = 8 * 1024;

std::shared_ptr<spdlog::logger> logger() {
  static auto log = getLogger("health_check");
  return log;
}

std::optional<tcp::endpoint> endpointOf(const Endpoint& e) {
  boost::system::error_code ec;
  std::string_view address = e.address;
  if (address == "localhost") address = "127.0.0.1";
  auto ip = net::ip::make_address(address, ec);
  if (ec) return std::nullopt;
  return tcp::endpoint(ip, e.port);
}

std::string hostHeader(const Endpoint& e) {
  if (e.address.find(':') != std::string::npos) {
    return "[" + e.address + "]:" + std::to_string(e.port);
  }
  return e.address + ":" + std::to_string(e.port);
}

/// One scheduled host. Owned jointly by the Impl's map (while the host is checked) and by its
/// check loop (until the loop ends). Touched only on the ioc thread.
struct HostCheck {
  HostCheck(net::io_context& ioc, std::shared_ptr<Host> h, HealthCheck p, std::string c)
      : host(std::move(h)), policy(std::move(p)), cluster(std::move(c)), timer(ioc) {}

  std::shared_ptr<Host> host;
  HealthCheck policy;
  std::string cluster;
  bool active = true;
  net::steady_timer timer;              // the wait between checks
  beast::tcp_stream* stream = nullptr;  // the check in flight, if any (owned by its frame)

  void cancel() {
    active = false;
    timer.cancel();
    if (stream != nullptr) stream->cancel();
  }
};

struct CheckResult {
  bool ok = false;
  bool timedOut = false;
  std::string detail;  // why it failed (for the log on a health change)
};

}  // namespace

struct HealthChecker::Impl : std::enable_shared_from_this<Impl> {
  Impl(net::io_context& c, Options o)
      : ioc(c), options(o), rng(o.seed != 0 ? o.seed : std::random_device{}()) {}

  net::io_context& ioc;
  Options options;
  HealthCheckerStats stats;
  std::atomic<bool> stopped{false};
  std::mt19937_64 rng;  // ioc thread only
  std::map<std::tuple<std::string, std::string, uint16_t>, std::shared_ptr<HostCheck>>
      checks;  // ioc thread only

  std::chrono::milliseconds jitter(std::chrono::milliseconds interval) {
    int64_t max = interval.count() * options.jitterPercent / 100;
    if (max <= 0) return std::chrono::milliseconds(0);
    return std::chrono::milliseconds(std::uniform_int_distribution<int64_t>(0, max)(rng));
  }

  /// ioc thread.
  /// An endpoint of a cluster. Keyed like this rather than by Host object: the registry gives
  /// an endpoint whose labels or weight changed a new Host (with the old one's health), and its
  /// check schedule should simply carry on with the new object.
  using Key = std::tuple<std::string, std::string, uint16_t>;  // cluster, address, port

  static Key keyOf(const std::string& cluster, const Host& host) {
    return {cluster, host.endpoint().address, host.endpoint().port};
  }

  /// ioc thread.
  void apply(const std::vector<std::shared_ptr<const HostSet>>& sets) {
    if (stopped.load()) return;
    std::map<Key, std::shared_ptr<HostCheck>> next;
    std::map<Key, std::shared_ptr<Host>> present;  // every host of the snapshot, checked or not
    for (const auto& set : sets) {
      if (!set || !set->cluster) continue;
      const std::string& cluster = set->cluster->name;
      for (const auto& host : set->hosts) present.emplace(keyOf(cluster, *host), host);
      if (!set->cluster->healthCheck) continue;
      const HealthCheck& policy = *set->cluster->healthCheck;
      for (const auto& host : set->hosts) {
        Key key = keyOf(cluster, *host);
        if (next.count(key) != 0) continue;
        auto it = checks.find(key);
        if (it != checks.end()) {
          it->second->policy = policy;  // takes effect from the next wait
          it->second->host = host;      // the same object, or its successor
          next.emplace(key, std::move(it->second));
          checks.erase(it);
          continue;
        }
        auto hc = std::make_shared<HostCheck>(ioc, host, policy, cluster);
        next.emplace(key, hc);
        net::co_spawn(ioc, loop(shared_from_this(), hc), net::detached);
      }
    }
    for (auto& [key, hc] : checks) {
      hc->cancel();
      auto still = present.find(key);
      if (still != present.end() && !still->second->healthy()) {
        // Still served but no longer checked: nothing else would ever mark it healthy.
        HealthCheck revive;
        revive.healthyThreshold = 1;
        still->second->onHealthCheck(true, revive);
      }
    }
    checks = std::move(next);
    stats.hostsChecked.store(checks.size(), std::memory_order_relaxed);
  }

  void cancelAll() {
    for (auto& [key, hc] : checks) hc->cancel();
    checks.clear();
    stats.hostsChecked.store(0, std::memory_order_relaxed);
  }

  static net::awaitable<void> loop(std::shared_ptr<Impl> self, std::shared_ptr<HostCheck> hc) {
    hc->timer.expires_after(self->jitter(hc->policy.interval));
    co_await hc->timer.async_wait(kTuple);
    while (hc->active && !self->stopped.load()) {
      CheckResult result = co_await checkOnce(*self, *hc);
      if (!hc->active || self->stopped.load()) co_return;  // removed meanwhile: drop the result
      self->record(*hc, result);
      hc->timer.expires_after(hc->policy.interval + self->jitter(hc->policy.interval));
      co_await hc->timer.async_wait(kTuple);  // cancelled: the loop condition ends it
    }
  }

  void record(HostCheck& hc, const CheckResult& result) {
    stats.checks.fetch_add(1, std::memory_order_relaxed);
    if (result.ok) {
      stats.successes.fetch_add(1, std::memory_order_relaxed);
    } else {
      stats.failures.fetch_add(1, std::memory_order_relaxed);
      if (result.timedOut) stats.timeouts.fetch_add(1, std::memory_order_relaxed);
    }
    bool before = hc.host->healthy();
    hc.host->onHealthCheck(result.ok, hc.policy);
    bool after = hc.host->healthy();
    if (before && !after) {
      logger()->warn("host unhealthy cluster={} host={} reason=\"{}\"", hc.cluster,
                     hostHeader(hc.host->endpoint()), result.detail);
    } else if (!before && after) {
      logger()->info("host healthy cluster={} host={}", hc.cluster,
                     hostHeader(hc.host->endpoint()));
    }
  }

  static net::awaitable<CheckResult> checkOnce(Impl& self, HostCheck& hc) {
    CheckResult result;
    auto endpoint = endpointOf(hc.host->endpoint());
    if (!endpoint) {
      result.detail = "bad address " + hc.host->endpoint().address;
      co_return result;
    }
    beast::tcp_stream stream(co_await net::this_coro::executor);
    hc.stream = &stream;
    stream.expires_after(hc.policy.timeout);  // one deadline for the whole check

    http::request<http::empty_body> request(http::verb::get, hc.policy.path, 11);
    request.set(http::field::host, hostHeader(hc.host->endpoint()));
    request.set(http::field::user_agent, "tessera-health-check");
    request.set(http::field::connection, "close");

    beast::flat_buffer buffer(self.options.maxResponseBytes);
    http::response_parser<http::string_body> parser;
    parser.header_limit(static_cast<uint32_t>(kMaxHeaderBytes));
    parser.body_limit(self.options.maxResponseBytes);

    boost::system::error_code ec;
    std::tie(ec) = co_await stream.async_connect(*endpoint, kTuple);
    if (!ec) {
      std::size_t n;
      std::tie(ec, n) = co_await http::async_write(stream, request, kTuple);
    }
    if (!ec) {
      std::size_t n;
      std::tie(ec, n) = co_await http::async_read(stream, buffer, parser, kTuple);
    }
    hc.stream = nullptr;
    if (ec) {
      result.timedOut = ec == beast::error::timeout;
      result.detail = result.timedOut ? "timeout" : ec.message();
    } else {
      unsigned status = parser.get().result_int();
      result.ok = status >= 200 && status < 300;
      if (!result.ok) result.detail = "status " + std::to_string(status);
    }
    boost::system::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream.socket().close(ignored);
    co_return result;
  }
};

HealthChecker::HealthChecker(net::io_context& ioc, Options options)
    : impl_(std::make_shared<Impl>(ioc, options)) {}

HealthChecker::~HealthChecker() {
  impl_->stopped.store(true);
  net::post(impl_->ioc, [impl = impl_] { impl->cancelAll(); });
}

const HealthCheckerStats& HealthChecker::stats() const {
  return impl_->stats;
}

void HealthChecker::update(std::vector<std::shared_ptr<const HostSet>> sets) {
  net::post(impl_->ioc, [impl = impl_, sets = std::move(sets)] { impl->apply(sets); });
}

void HealthChecker::stop() {
  net::post(impl_->ioc, [impl = impl_] { impl->cancelAll(); });
}

}  // namespace tessera::mesh::proxy
