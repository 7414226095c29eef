#include "traffic/metrics/proxy_stats_scraper.h"

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "common/logging.h"
#include "common/metrics.h"
#include "traffic/metrics/prometheus_text.h"
#include "traffic/metrics/traffic_history.h"

namespace tessera::traffic {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;
using apiserver::Awaitable;

namespace {

std::string text(const json::object& o, std::initializer_list<const char*> path) {
  const json::value* cur = nullptr;
  const json::object* obj = &o;
  for (const char* p : path) {
    if (!obj) return {};
    cur = obj->if_contains(p);
    if (!cur) return {};
    obj = cur->if_object();
  }
  return cur && cur->is_string() ? std::string(cur->get_string()) : std::string();
}

bool flag(const json::object& o, const char* section, const char* name) {
  const auto* s = o.if_contains(section);
  if (!s || !s->is_object()) return false;
  const auto* v = s->get_object().if_contains(name);
  return v && v->is_bool() && v->get_bool();
}

bool splitHostPort(const std::string& hostPort, std::string& host, std::string& port) {
  auto colon = hostPort.rfind(':');
  if (colon == std::string::npos || colon + 1 >= hostPort.size()) return false;
  host = hostPort.substr(0, colon);
  port = hostPort.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  for (char c : port) {
    if (c < '0' || c > '9') return false;
  }
  return !host.empty() && port.size() <= 5 && std::stoi(port) > 0 && std::stoi(port) < 65536;
}

// Where to reach a proxy's admin endpoint, or why it cannot be reached.
Result<tcp::endpoint> adminEndpoint(const std::string& admin, const std::string& listen) {
  std::string host, port;
  if (!splitHostPort(admin, host, port)) {
    return invalidArgument("adminAddress \"" + admin + "\" is not host:port");
  }
  if (host == "localhost") host = "127.0.0.1";
  boost::system::error_code ec;
  auto addr = net::ip::make_address(host, ec);
  if (ec) return invalidArgument("adminAddress host \"" + host + "\" is not an IP address");
  if (addr.is_unspecified()) {
    std::string lh, lp;
    boost::system::error_code lec;
    net::ip::address la;
    const bool listenOk = splitHostPort(listen, lh, lp);
    if (listenOk) la = net::ip::make_address(lh, lec);
    if (listenOk && !lec && !la.is_unspecified()) {
      addr = la;
    } else {
      addr = addr.is_v6() ? net::ip::address(net::ip::address_v6::loopback())
                          : net::ip::address(net::ip::address_v4::loopback());
    }
  }
  return tcp::endpoint(addr, static_cast<unsigned short>(std::stoi(port)));
}

struct Target {
  std::string name;
  std::string datacenter;
  std::string admin;
  std::string listen;
};

}  // namespace

struct ProxyStatsScraper::Impl {
  Impl(ProxyStatsScraperOptions o, apiserver::Storage& s)
      : options(o), storage(s), history(o.retention, o.interval) {}

  ProxyStatsScraperOptions options;
  apiserver::Storage& storage;
  std::shared_ptr<spdlog::logger> log = getLogger("traffic");

  net::io_context ioc;
  net::executor_work_guard<net::io_context::executor_type> work = net::make_work_guard(ioc);
  std::optional<net::steady_timer> sleep;  // ioc thread only
  std::thread thread;
  std::atomic<bool> stopping{false};
  bool started = false;

  mutable std::mutex mu;
  TrafficHistory history;  // guarded by mu
  std::atomic<std::size_t> roundsDone{0};
  std::map<std::string, std::string> lastError;  // ioc thread only: log on change

  prometheus::Family<prometheus::Counter>* scrapes = nullptr;
  prometheus::Histogram* roundSeconds = nullptr;
  prometheus::Gauge* seriesGauge = nullptr;

  Awaitable<std::vector<Target>> listProxies(std::vector<ScrapeResult>& failures) {
    std::vector<Target> out;
    apiserver::ListQuery q;
    q.kind = "Proxy";
    q.limit = 1000;
    while (true) {
      auto page = co_await storage.list(q);
      if (!page.isOk()) {
        log->warn("cannot list proxies error=\"{}\"", page.status().message());
        co_return out;
      }
      for (const auto& item : page->items) {
        boost::system::error_code ec;
        json::value v = json::parse(item.json, ec);
        if (ec || !v.is_object()) continue;
        const auto& o = v.get_object();
        if (!flag(o, "status", "connected")) continue;
        Target t;
        t.name = text(o, {"metadata", "name"});
        t.datacenter = text(o, {"spec", "datacenter"});
        t.admin = text(o, {"spec", "adminAddress"});
        t.listen = text(o, {"spec", "listenAddress"});
        if (t.admin.empty()) {
          ScrapeResult r;
          r.proxy = t.name;
          r.error = "no spec.adminAddress";
          failures.push_back(std::move(r));
          continue;
        }
        out.push_back(std::move(t));
      }
      if (!page->more) break;
      q.afterNs = page->lastNs;
      q.afterName = page->lastName;
    }
    co_return out;
  }

  /// GET /stats of one proxy: the body, or why not.
  Awaitable<Result<std::string>> fetch(Target t) {
    auto ep = adminEndpoint(t.admin, t.listen);
    if (!ep.isOk()) co_return ep.status();
    auto ex = co_await net::this_coro::executor;
    beast::tcp_stream stream(ex);
    stream.expires_after(options.timeout);
    boost::system::error_code ec;
    co_await stream.async_connect(*ep, net::redirect_error(net::use_awaitable, ec));
    if (ec) co_return unavailable("connect " + t.admin + ": " + ec.message());
    http::request<http::empty_body> req{http::verb::get, "/stats", 11};
    req.set(http::field::host, t.admin);
    req.set(http::field::user_agent, "tessera-server/traffic");
    req.set(http::field::accept, "text/plain");
    req.keep_alive(false);
    co_await http::async_write(stream, req, net::redirect_error(net::use_awaitable, ec));
    if (ec) co_return unavailable("send " + t.admin + ": " + ec.message());
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(options.maxResponseBytes);
    co_await http::async_read(stream, buffer, parser, net::redirect_error(net::use_awaitable, ec));
    if (ec == beast::error::timeout) {
      co_return unavailable("GET http://" + t.admin + "/stats: no answer within " +
                            std::to_string(options.timeout.count()) + " ms");
    }
    if (ec) co_return unavailable("GET http://" + t.admin + "/stats: " + ec.message());
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    auto res = parser.release();
    if (res.result_int() != 200) {
      co_return unavailable("GET http://" + t.admin + "/stats: HTTP " +
                            std::to_string(res.result_int()));
    }
    co_return std::move(res.body());
  }

  Awaitable<void> scrapeOne(Target t, ScrapeResult* out) {
    out->proxy = t.name;
    auto body = co_await fetch(t);
    if (!body.isOk()) {
      out->error = body.status().message();
      co_return;
    }
    auto samples = parsePrometheusText(*body);
    if (!samples.isOk()) {
      out->error = samples.status().message();
      co_return;
    }
    out->counters = countersFromSamples(*samples, t.datacenter);
  }

  Awaitable<void> round() {
    const auto t0 = Clock::now();
    std::vector<ScrapeResult> results;
    std::vector<Target> targets = co_await listProxies(results);
    const std::size_t offset = results.size();
    results.resize(offset + targets.size());
    if (!targets.empty()) {
      // All in parallel; this coroutine waits until the last one has finished.
      auto ex = co_await net::this_coro::executor;
      net::steady_timer allDone(ex, Clock::time_point::max());
      std::size_t remaining = targets.size();
      for (std::size_t i = 0; i < targets.size(); ++i) {
        ScrapeResult* out = &results[offset + i];
        net::co_spawn(ex, scrapeOne(std::move(targets[i]), out),
                      [&remaining, &allDone, out](std::exception_ptr e) {
                        if (e && !out->counters && out->error.empty())
                          out->error = "internal error";
                        if (--remaining == 0) allDone.cancel();
                      });
      }
      boost::system::error_code ec;
      while (remaining > 0) {
        co_await allDone.async_wait(net::redirect_error(net::use_awaitable, ec));
      }
    }
    std::size_t ok = 0;
    for (const auto& r : results) {
      auto& last = lastError[r.proxy];
      if (r.counters) {
        ++ok;
        if (!last.empty()) log->info("proxy stats scraped again proxy={}", r.proxy);
        last.clear();
      } else {
        if (last != r.error)
          log->warn("proxy stats failed proxy={} error=\"{}\"", r.proxy, r.error);
        last = r.error;
      }
    }
    for (auto it = lastError.begin(); it != lastError.end();) {
      bool present = false;
      for (const auto& r : results) present = present || r.proxy == it->first;
      it = present ? std::next(it) : lastError.erase(it);
    }
    scrapes->Add({{"result", "ok"}}).Increment(static_cast<double>(ok));
    scrapes->Add({{"result", "failed"}}).Increment(static_cast<double>(results.size() - ok));
    std::size_t series;
    {
      std::lock_guard lock(mu);
      history.record(std::chrono::system_clock::now(), results);
      series = history.series().size();
    }
    seriesGauge->Set(static_cast<double>(series));
    roundSeconds->Observe(std::chrono::duration<double>(Clock::now() - t0).count());
    ++roundsDone;
  }

  Awaitable<void> run() {
    auto next = Clock::now();
    while (!stopping) {
      try {
        co_await round();
      } catch (const std::exception& e) {
        log->error("traffic scrape round failed error=\"{}\"", e.what());
      }
      next += options.interval;
      const auto now = Clock::now();
      if (next < now) next = now;  // a slow round: no burst to catch up
      if (stopping) break;
      sleep->expires_at(next);
      boost::system::error_code ec;
      co_await sleep->async_wait(net::redirect_error(net::use_awaitable, ec));
    }
  }
};

ProxyStatsScraper::ProxyStatsScraper(ProxyStatsScraperOptions options, apiserver::Storage& storage,
                                     prometheus::Registry& metrics)
    : impl_(std::make_unique<Impl>(options, storage)) {
  auto& im = *impl_;
  im.sleep.emplace(im.ioc);
  im.scrapes = &prometheus::BuildCounter()
                    .Name("tessera_traffic_scrapes_total")
                    .Help("Scrapes of proxies' admin /stats, by result (ok, failed)")
                    .Register(metrics);
  im.roundSeconds = &prometheus::BuildHistogram()
                         .Name("tessera_traffic_scrape_round_seconds")
                         .Help("Time of one round: listing the proxies and scraping them all")
                         .Register(metrics)
                         .Add({}, latencyBuckets());
  im.seriesGauge = &prometheus::BuildGauge()
                        .Name("tessera_traffic_series")
                        .Help("Traffic series (datacenter, cell, revision, application) kept")
                        .Register(metrics)
                        .Add({});
}

ProxyStatsScraper::~ProxyStatsScraper() {
  shutdown();
}

void ProxyStatsScraper::start() {
  auto& im = *impl_;
  if (im.started) return;
  im.started = true;
  net::co_spawn(im.ioc, im.run(), [&im](std::exception_ptr e) {
    if (e) im.log->error("traffic scraper stopped unexpectedly");
  });
  im.thread = std::thread([&im] { im.ioc.run(); });
  im.log->info("traffic scraper started interval_ms={} timeout_ms={}", im.options.interval.count(),
               im.options.timeout.count());
}

void ProxyStatsScraper::shutdown() {
  auto& im = *impl_;
  if (im.stopping.exchange(true)) {
    if (im.thread.joinable()) im.thread.join();
    return;
  }
  net::post(im.ioc, [&im] { im.sleep->cancel(); });
  im.work.reset();
  if (im.thread.joinable()) im.thread.join();
}

std::string ProxyStatsScraper::statsJson(std::chrono::seconds window) const {
  std::lock_guard lock(impl_->mu);
  return impl_->history.toJson(std::chrono::system_clock::now(), window);
}

std::size_t ProxyStatsScraper::rounds() const {
  return impl_->roundsDone.load();
}

}  // namespace tessera::traffic
