// apiserver_bench: load generator for tessera-server's Application API.
//
// Phases (each prints throughput and p50/p90/p99/max latency):
//   create  closed loop, C connections, D seconds, unique names (POST, expects 201)
//   get     closed loop, C connections, random objects created earlier (expects 200)
//   list    closed loop, C connections, ?limit=100 in the bench namespace
//   watch   W watchers from one resourceVersion while C connections create (closed loop):
//           events/s delivered and event latency (create acknowledged -> ADDED event seen)
//   mixed   open loop at R requests/s: creates and merge-patches; latency is measured from
//           each request's *scheduled* send time, so a slow server cannot hide its queueing
//           delay by slowing the generator down (no coordinated omission)
//
// One thread runs one io_context: every piece of state below is confined to it, so nothing is
// locked. Baselines measured elsewhere in the same run (pgbench) can be passed with
// --baseline NAME=TPS; the report prints create throughput as a ratio of each. The last line
// of output is one JSON object with every figure.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <cmath>
#include <deque>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

#include "bench/bench_support.h"
#include "bench/http_connection.h"
#include "common/kubeconfig.h"

namespace tessera::bench {
namespace {

namespace net = boost::asio;
namespace json = boost::json;

constexpr char kGroupVersion[] = "/apis/tessera.io/v1";

// ---- configuration ----

struct Config {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  std::string token;
  std::string kubeconfig;
  std::string caFile;  // non-empty: HTTPS, verifying the server against this CA
  std::string ns = "bench";
  double duration = 10;  // seconds per phase
  double warmup = 1;     // seconds of unrecorded creates before the first phase
  int connections = 8;
  int watchers = 4;
  double drain = 5;  // seconds to wait for the last watch events after the creates stop
  double rate = 500;
  double rateDuration = 0;  // 0: --duration
  double createFraction = 0.5;
  bool strict = false;  // exit 3 on any failed request or missed watch event
  int maxInFlight = 64;
  double timeout = 30;  // per request
  std::vector<std::string> phases = {"create", "get", "list", "watch", "mixed"};
  std::vector<std::string> baselines;  // NAME=TPS
  std::string jsonOut;
  bool printBody = false;
};

// The body of a create. Spaces after the colons keep it usable verbatim in a pgbench script
// (pgbench would read ":8080" as a variable reference).
std::string createBody(const std::string& ns, const std::string& name) {
  return R"({"apiVersion": "tessera.io/v1", "kind": "Application", "metadata": {"name": ")" + name +
         R"(", "namespace": ")" + ns +
         R"("}, "spec": {"template": {"command": ["demo"], "ports": [{"name": "http", )"
         R"("port": 8080}]}, "placement": {"cells": {"type": "RZone"}, "replicasPerCell": 2}}})";
}

// ---- small coroutine helpers ----

/// Waits for a number of coroutines to call done(). Single-threaded.
class WaitGroup {
 public:
  explicit WaitGroup(const net::any_io_executor& ex) : timer_(ex) {}
  void add(int n) { count_ += n; }
  void done() {
    if (--count_ == 0) timer_.cancel();
  }
  Awaitable<void> wait() {
    while (count_ > 0) {
      timer_.expires_at(Clock::time_point::max());
      boost::system::error_code ec;
      co_await timer_.async_wait(net::redirect_error(net::use_awaitable, ec));
    }
  }

 private:
  int count_ = 0;
  net::steady_timer timer_;
};

Awaitable<void> sleepUntil(Clock::time_point t) {
  net::steady_timer timer(co_await net::this_coro::executor);
  timer.expires_at(t);
  boost::system::error_code ec;
  co_await timer.async_wait(net::redirect_error(net::use_awaitable, ec));
}

/// Spawns a coroutine whose exceptions escape io_context::run() (a benchmark that hides a
/// failure would print wrong figures).
void spawn(const net::any_io_executor& ex, Awaitable<void> a) {
  net::co_spawn(ex, std::move(a), [](const std::exception_ptr& e) {
    if (e) std::rethrow_exception(e);
  });
}

/// What one phase (or one kind of request within it) did.
struct PhaseStats {
  std::string name;
  std::string load;  // e.g. "8 conns", "500/s open loop"
  std::uint64_t ok = 0;
  std::uint64_t failed = 0;
  std::map<std::string, std::uint64_t> errors;  // "409", "io: ..." -> count
  std::string firstError;
  std::vector<double> latencyMs;  // every completed request, failures included
  double seconds = 0;

  void record(const HttpReply& r, int expected, double ms) {
    latencyMs.push_back(ms);
    if (r.status == expected) {
      ++ok;
      return;
    }
    ++failed;
    std::string key = r.status ? std::to_string(r.status) : "io: " + r.error;
    ++errors[key];
    if (firstError.empty()) firstError = key + " " + r.body.substr(0, 400);
  }
  double throughput() const { return seconds > 0 ? static_cast<double>(ok) / seconds : 0; }
};

// ---- the benchmark ----

enum class Op { kCreate, kGet, kList, kPatch };

int expectedStatus(Op op) {
  return op == Op::kCreate ? 201 : 200;
}

class Bench {
 public:
  Bench(net::io_context& ioc, Config cfg, HttpEndpoint ep)
      : ioc_(ioc), cfg_(std::move(cfg)), ep_(std::move(ep)), rng_(std::random_device{}()) {
    std::uniform_int_distribution<int> hex(0, 15);
    for (int i = 0; i < 6; ++i) runId_ += "0123456789abcdef"[hex(rng_)];
    collection_ = std::string(kGroupVersion) + "/namespaces/" + cfg_.ns + "/applications";
  }

  Awaitable<void> run() {
    auto want = [&](const char* p) {
      return std::find(cfg_.phases.begin(), cfg_.phases.end(), p) != cfg_.phases.end();
    };
    co_await checkAccess();
    if (cfg_.warmup > 0) {
      PhaseStats warm;
      co_await closedLoopPhase(Op::kCreate, cfg_.warmup, warm);
    }
    if (want("create")) {
      PhaseStats s;
      s.name = "create";
      co_await closedLoopPhase(Op::kCreate, cfg_.duration, s);
      results_.push_back(std::move(s));
    }
    if (want("get")) {
      co_await ensureObjects(200);
      PhaseStats s;
      s.name = "get";
      co_await closedLoopPhase(Op::kGet, cfg_.duration, s);
      results_.push_back(std::move(s));
    }
    if (want("list")) {
      co_await ensureObjects(200);
      PhaseStats s;
      s.name = "list (limit=100)";
      co_await closedLoopPhase(Op::kList, cfg_.duration, s);
      results_.push_back(std::move(s));
    }
    if (want("watch")) co_await watchPhase();
    if (want("mixed")) {
      co_await ensureObjects(static_cast<std::size_t>(cfg_.maxInFlight) * 4);
      co_await mixedPhase();
    }
  }

  /// The figures as a table, then the goals of the issue (informational).
  void report(std::ostream& out) const;
  /// Every figure, for machines.
  json::object toJson() const;

 private:
  // ---- requests ----

  std::string nextName() { return "b" + runId_ + "-" + std::to_string(nextSeq_++); }

  /// Sends one request of kind `op`; `name` is set to the object it concerned.
  Awaitable<HttpReply> send(HttpConnection& conn, Op op, std::string& name) {
    HttpRequest req;
    switch (op) {
      case Op::kCreate:
        name = nextName();
        req = {HttpMethod::kPost, collection_, createBody(cfg_.ns, name)};
        break;
      case Op::kGet: {
        std::uniform_int_distribution<std::size_t> pick(0, names_.size() - 1);
        name = names_[pick(rng_)];
        req = {HttpMethod::kGet, collection_ + "/" + name};
        break;
      }
      case Op::kList:
        req = {HttpMethod::kGet, collection_ + "?limit=100"};
        break;
      case Op::kPatch:
        // Round robin over many objects: concurrent patches rarely meet on one object.
        name = names_[patchCursor_++ % names_.size()];
        req = {HttpMethod::kPatch, collection_ + "/" + name,
               R"({"metadata":{"labels":{"bench-seq":")" + std::to_string(nextSeq_++) + R"("}}})",
               "application/merge-patch+json"};
        break;
    }
    HttpReply r = co_await conn.send(std::move(req));
    if (op == Op::kCreate && r.status == 201) {
      names_.push_back(name);
      if (acked_) (*acked_)[name] = Clock::now();
    }
    co_return r;
  }

  /// Fails early, with the server's answer, when the endpoint or token is wrong.
  Awaitable<void> checkAccess() {
    HttpConnection conn(ioc_.get_executor(), ep_);
    HttpReply r = co_await conn.send({HttpMethod::kGet, collection_ + "?limit=1"});
    if (r.status != 200) {
      throw std::runtime_error("cannot list " + collection_ + ": " +
                               (r.status ? std::to_string(r.status) + " " + r.body : r.error));
    }
  }

  /// Creates objects until at least `n` exist (for get, list and patch).
  Awaitable<void> ensureObjects(std::size_t n) {
    HttpConnection conn(ioc_.get_executor(), ep_);
    int failures = 0;
    while (names_.size() < n) {
      std::string name;
      HttpReply r = co_await send(conn, Op::kCreate, name);
      if (r.status != 201 && ++failures > 100) {
        throw std::runtime_error("cannot create objects: " + std::to_string(r.status) + " " +
                                 r.body + r.error);
      }
    }
  }

  // ---- closed loop ----

  Awaitable<void> closedLoopWorker(Op op, Clock::time_point end, PhaseStats& stats, WaitGroup& wg) {
    HttpConnection conn(ioc_.get_executor(), ep_);
    while (Clock::now() < end) {
      std::string name;
      auto t0 = Clock::now();
      HttpReply r = co_await send(conn, op, name);
      stats.record(r, expectedStatus(op), msBetween(t0, Clock::now()));
    }
    wg.done();
  }

  Awaitable<void> closedLoopPhase(Op op, double seconds, PhaseStats& stats) {
    stats.load = std::to_string(cfg_.connections) + " conns";
    WaitGroup wg(ioc_.get_executor());
    const auto start = Clock::now();
    const auto end =
        start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
    wg.add(cfg_.connections);
    for (int i = 0; i < cfg_.connections; ++i) {
      spawn(ioc_.get_executor(), closedLoopWorker(op, end, stats, wg));
    }
    co_await wg.wait();
    stats.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  }

  // ---- watch ----

  struct Watcher {
    std::unique_ptr<HttpConnection> conn;
    int status = 0;
    bool ended = false;
    std::string pending;
    std::uint64_t events = 0;
    std::uint64_t errorEvents = 0;
    std::string firstError;
    std::unordered_map<std::string, Clock::time_point> seen;  // our names: first ADDED
    Clock::time_point lastEvent{};
  };

  void onWatchData(Watcher& w, std::string_view data, const std::string& prefix) {
    const auto now = Clock::now();
    w.pending.append(data);
    std::size_t from = 0;
    for (auto nl = w.pending.find('\n'); nl != std::string::npos; nl = w.pending.find('\n', from)) {
      std::string_view line(w.pending.data() + from, nl - from);
      from = nl + 1;
      if (line.empty()) continue;
      boost::system::error_code ec;
      json::value v = json::parse(line, ec);
      if (ec || !v.is_object()) {
        ++w.errorEvents;
        if (w.firstError.empty())
          w.firstError = "unparseable line: " + std::string(line.substr(0, 200));
        continue;
      }
      const auto* type = v.as_object().if_contains("type");
      const std::string_view t =
          type && type->is_string() ? std::string_view(type->get_string()) : std::string_view();
      if (t == "BOOKMARK") continue;
      ++w.events;
      w.lastEvent = now;
      if (t == "ERROR") {
        ++w.errorEvents;
        if (w.firstError.empty()) w.firstError = std::string(line.substr(0, 400));
        continue;
      }
      if (t != "ADDED") continue;
      const json::value* name = nullptr;
      if (const auto* obj = v.as_object().if_contains("object"); obj && obj->is_object()) {
        if (const auto* meta = obj->as_object().if_contains("metadata");
            meta && meta->is_object()) {
          name = meta->as_object().if_contains("name");
        }
      }
      if (!name || !name->is_string()) continue;
      std::string n(name->get_string());
      if (n.rfind(prefix, 0) == 0) w.seen.emplace(std::move(n), now);
    }
    w.pending.erase(0, from);
  }

  Awaitable<void> runWatcher(Watcher& w, std::string target, std::string prefix, WaitGroup& wg) {
    HttpRequest req{HttpMethod::kGet, std::move(target)};
    req.keepAlive = false;
    std::function<void(int)> onStatus = [&w](int status) { w.status = status; };
    std::function<void(std::string_view)> onData = [this, &w, prefix](std::string_view d) {
      if (w.status == 200) {
        onWatchData(w, d, prefix);
      } else if (w.firstError.size() < 400) {
        w.firstError += std::string(d.substr(0, 400));
      }
    };
    boost::system::error_code ec = co_await w.conn->stream(std::move(req), onStatus, onData);
    if (ec && ec != net::error::operation_aborted && w.firstError.empty()) {
      w.firstError = "stream: " + ec.message();
    }
    w.ended = true;
    wg.done();
  }

  Awaitable<void> watchPhase() {
    // Every watcher starts at one resourceVersion, taken from a list.
    std::string rv = co_await resourceVersionNow();
    const std::string prefix = "b" + runId_ + "-";
    const std::string target =
        collection_ + "?watch=true&resourceVersion=" + rv +
        "&timeoutSeconds=" + std::to_string(static_cast<int>(cfg_.duration + cfg_.drain) + 60);
    std::vector<std::unique_ptr<Watcher>> watchers;
    WaitGroup wg(ioc_.get_executor());
    for (int i = 0; i < cfg_.watchers; ++i) {
      auto w = std::make_unique<Watcher>();
      w->conn = std::make_unique<HttpConnection>(ioc_.get_executor(), ep_);
      wg.add(1);
      spawn(ioc_.get_executor(), runWatcher(*w, target, prefix, wg));
      watchers.push_back(std::move(w));
    }
    // Wait until each watcher has its response header (or failed).
    const auto headerDeadline = Clock::now() + std::chrono::seconds(10);
    while (Clock::now() < headerDeadline) {
      bool all = true;
      for (auto& w : watchers) all = all && (w->status != 0 || w->ended);
      if (all) break;
      co_await sleepUntil(Clock::now() + std::chrono::milliseconds(10));
    }

    std::unordered_map<std::string, Clock::time_point> acked;
    acked_ = &acked;
    PhaseStats creates;
    creates.name = "watch: creates";
    const auto start = Clock::now();
    co_await closedLoopPhase(Op::kCreate, cfg_.duration, creates);
    const auto createsDone = Clock::now();
    acked_ = nullptr;

    // Let the last events arrive.
    const auto drainEnd = createsDone + std::chrono::duration_cast<Clock::duration>(
                                            std::chrono::duration<double>(cfg_.drain));
    while (Clock::now() < drainEnd) {
      bool all = true;
      for (auto& w : watchers) {
        if (w->ended) continue;
        std::size_t have = 0;
        for (const auto& [name, t] : acked) have += w->seen.count(name);
        if (have < acked.size()) all = false;
      }
      if (all) break;
      co_await sleepUntil(Clock::now() + std::chrono::milliseconds(50));
    }
    for (auto& w : watchers) w->conn->cancel();
    co_await wg.wait();

    // Event latency: from the create's acknowledgement to each watcher seeing its ADDED.
    PhaseStats events;
    events.name = "watch: events";
    events.load = std::to_string(cfg_.watchers) + " watchers";
    std::uint64_t missed = 0, beforeAck = 0, delivered = 0;
    Clock::time_point last = start;
    for (auto& w : watchers) {
      delivered += w->events;
      if (w->events) last = std::max(last, w->lastEvent);
      if (w->status != 200 || !w->firstError.empty()) {
        ++events.failed;
        ++events.errors[w->status ? std::to_string(w->status) : "stream"];
        if (events.firstError.empty()) events.firstError = w->firstError;
      }
      for (const auto& [name, ackAt] : acked) {
        auto it = w->seen.find(name);
        if (it == w->seen.end()) {
          ++missed;
          continue;
        }
        double ms = msBetween(ackAt, it->second);
        if (ms < 0) {
          ++beforeAck;
          ms = 0;
        }
        events.latencyMs.push_back(ms);
        ++events.ok;
      }
    }
    events.seconds = std::chrono::duration<double>(last - start).count();
    watch_ = WatchResult{delivered, missed, beforeAck, events.seconds};
    creates.load += " + " + std::to_string(cfg_.watchers) + " watchers";
    results_.push_back(std::move(creates));
    results_.push_back(std::move(events));
  }

  /// The collection's current resourceVersion (from a one-item list).
  Awaitable<std::string> resourceVersionNow() {
    HttpConnection conn(ioc_.get_executor(), ep_);
    HttpReply r = co_await conn.send({HttpMethod::kGet, collection_ + "?limit=1"});
    if (r.status != 200) {
      throw std::runtime_error("list for the watch's resourceVersion failed: " +
                               std::to_string(r.status) + " " + r.body + r.error);
    }
    boost::system::error_code ec;
    json::value v = json::parse(r.body, ec);
    const json::value* rv = nullptr;
    if (!ec && v.is_object()) {
      if (const auto* meta = v.as_object().if_contains("metadata"); meta && meta->is_object())
        rv = meta->as_object().if_contains("resourceVersion");
    }
    if (!rv || !rv->is_string()) {
      throw std::runtime_error("list response without metadata.resourceVersion: " +
                               r.body.substr(0, 200));
    }
    co_return std::string(rv->get_string());
  }

  // ---- open loop at a fixed rate ----

  struct Scheduled {
    Clock::time_point at;
    Op op = Op::kCreate;
  };

  struct MixedWorker {
    MixedWorker(const net::any_io_executor& ex, const HttpEndpoint& ep) : conn(ex, ep), wake(ex) {}
    HttpConnection conn;
    net::steady_timer wake;
    std::optional<Scheduled> job;
  };

  struct MixedState {
    std::deque<Scheduled> backlog;
    std::vector<MixedWorker*> idle;
    bool dispatchDone = false;
    int inFlight = 0;
    int maxInFlight = 0;
    std::size_t maxBacklog = 0;
    double maxDispatchLagMs = 0;
    std::uint64_t scheduled = 0;
    PhaseStats all, creates, patches;
    std::vector<double> serviceMs;  // send -> response, for comparison
  };

  Awaitable<void> mixedWorker(MixedState& st, MixedWorker& w, WaitGroup& wg) {
    while (true) {
      if (!w.job) {
        if (!st.backlog.empty()) {
          w.job = st.backlog.front();
          st.backlog.pop_front();
        } else if (st.dispatchDone) {
          break;
        } else {
          st.idle.push_back(&w);
          w.wake.expires_at(Clock::time_point::max());
          boost::system::error_code ec;
          co_await w.wake.async_wait(net::redirect_error(net::use_awaitable, ec));
          continue;
        }
      }
      const Scheduled job = *w.job;
      w.job.reset();
      ++st.inFlight;
      st.maxInFlight = std::max(st.maxInFlight, st.inFlight);
      const auto sentAt = Clock::now();
      std::string name;
      HttpReply r = co_await send(w.conn, job.op, name);
      const auto doneAt = Clock::now();
      --st.inFlight;
      const double ms = msBetween(job.at, doneAt);
      st.all.record(r, expectedStatus(job.op), ms);
      (job.op == Op::kCreate ? st.creates : st.patches).record(r, expectedStatus(job.op), ms);
      st.serviceMs.push_back(msBetween(sentAt, doneAt));
    }
    wg.done();
  }

  void dispatch(MixedState& st, const Scheduled& job) {
    ++st.scheduled;
    if (st.idle.empty()) {
      st.backlog.push_back(job);
      st.maxBacklog = std::max(st.maxBacklog, st.backlog.size());
      return;
    }
    MixedWorker* w = st.idle.back();
    st.idle.pop_back();
    w->job = job;
    w->wake.cancel();
  }

  Awaitable<void> mixedPhase() {
    const double seconds = cfg_.rateDuration > 0 ? cfg_.rateDuration : cfg_.duration;
    const auto total = static_cast<std::uint64_t>(std::llround(cfg_.rate * seconds));
    const auto period =
        std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / cfg_.rate));
    MixedState st;
    std::ostringstream load;
    load << cfg_.rate << "/s open loop";
    for (auto* s : {&st.all, &st.creates, &st.patches}) s->load = load.str();
    st.all.name = "mixed: all";
    st.creates.name = "mixed: create";
    st.patches.name = "mixed: patch";

    std::vector<std::unique_ptr<MixedWorker>> workers;
    WaitGroup wg(ioc_.get_executor());
    for (int i = 0; i < cfg_.maxInFlight; ++i) {
      workers.push_back(std::make_unique<MixedWorker>(ioc_.get_executor(), ep_));
      wg.add(1);
      spawn(ioc_.get_executor(), mixedWorker(st, *workers.back(), wg));
    }
    std::mt19937_64 mix(42);
    std::uniform_real_distribution<double> coin(0, 1);
    net::steady_timer timer(ioc_.get_executor());
    const auto start = Clock::now() + std::chrono::milliseconds(10);
    for (std::uint64_t i = 0; i < total; ++i) {
      Scheduled job;
      job.at = start + period * static_cast<Clock::rep>(i);
      job.op = coin(mix) < cfg_.createFraction || names_.empty() ? Op::kCreate : Op::kPatch;
      if (Clock::now() < job.at) {
        timer.expires_at(job.at);
        boost::system::error_code ec;
        co_await timer.async_wait(net::redirect_error(net::use_awaitable, ec));
      }
      st.maxDispatchLagMs = std::max(st.maxDispatchLagMs, msBetween(job.at, Clock::now()));
      dispatch(st, job);
    }
    st.dispatchDone = true;
    for (auto* w : st.idle) w->wake.cancel();
    st.idle.clear();
    co_await wg.wait();
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    for (auto* s : {&st.all, &st.creates, &st.patches}) s->seconds = elapsed;
    mixed_ = MixedResult{cfg_.rate,
                         seconds,
                         st.scheduled,
                         st.maxInFlight,
                         st.maxBacklog,
                         st.maxDispatchLagMs,
                         summarize(st.serviceMs)};
    results_.push_back(std::move(st.all));
    results_.push_back(std::move(st.creates));
    results_.push_back(std::move(st.patches));
  }

  struct WatchResult {
    std::uint64_t delivered = 0, missed = 0, beforeAck = 0;
    double seconds = 0;
  };
  struct MixedResult {
    double rate = 0, seconds = 0;
    std::uint64_t scheduled = 0;
    int maxInFlight = 0;
    std::size_t maxBacklog = 0;
    double maxDispatchLagMs = 0;
    Summary service;
  };

  net::io_context& ioc_;
  Config cfg_;
  HttpEndpoint ep_;
  std::mt19937_64 rng_;
  std::string runId_;
  std::string collection_;
  std::uint64_t nextSeq_ = 0;
  std::uint64_t patchCursor_ = 0;
  std::vector<std::string> names_;  // objects this run created (acknowledged)
  std::unordered_map<std::string, Clock::time_point>* acked_ = nullptr;  // watch phase only
  std::vector<PhaseStats> results_;
  std::optional<WatchResult> watch_;

 public:
  /// Requests that failed, plus watch events that never arrived.
  std::uint64_t problems() const {
    std::uint64_t n = watch_ ? watch_->missed : 0;
    for (const auto& r : results_) n += r.failed;
    return n;
  }
  std::optional<MixedResult> mixed_;

 public:
  std::vector<std::pair<std::string, double>> baselines;
};

// ---- report ----

void Bench::report(std::ostream& out) const {
  const double createTps = [&] {
    for (const auto& r : results_)
      if (r.name == "create") return r.throughput();
    return 0.0;
  }();
  out << "\nTessera API server benchmark: " << (ep_.ssl ? "https://" : "http://") << ep_.host << ":"
      << ep_.port << collection_ << " (run " << runId_ << ")\n\n";
  out << pad("phase", 18, false) << pad("load", 28, false) << pad("ok", 9, true)
      << pad("errors", 8, true) << pad("per s", 10, true) << pad("p50 ms", 9, true)
      << pad("p90 ms", 9, true) << pad("p99 ms", 9, true) << pad("max ms", 9, true) << "\n";
  for (const auto& r : results_) {
    Summary s = summarize(r.latencyMs);
    out << pad(r.name, 18, false) << pad(r.load, 28, false) << pad(std::to_string(r.ok), 9, true)
        << pad(std::to_string(r.failed), 8, true) << pad(fixed(r.throughput(), 1), 10, true)
        << pad(fixed(s.p50, 2), 9, true) << pad(fixed(s.p90, 2), 9, true)
        << pad(fixed(s.p99, 2), 9, true) << pad(fixed(s.max, 2), 9, true) << "\n";
  }
  out << "\n";
  if (watch_) {
    out << "watch: " << watch_->delivered << " events delivered to " << cfg_.watchers
        << " watchers in " << fixed(watch_->seconds, 1) << " s = "
        << fixed(watch_->seconds > 0 ? static_cast<double>(watch_->delivered) / watch_->seconds : 0,
                 1)
        << " events/s; missed " << watch_->missed << "; seen before the create's ack "
        << watch_->beforeAck << " (counted as 0 ms); latency = create ack -> event seen\n";
  }
  if (mixed_) {
    out << "mixed: " << mixed_->scheduled << " requests scheduled at " << fixed(mixed_->rate, 0)
        << "/s for " << fixed(mixed_->seconds, 1) << " s (create fraction "
        << fixed(cfg_.createFraction, 2) << "); latency from the scheduled send time; max in "
        << "flight " << mixed_->maxInFlight << " of " << cfg_.maxInFlight << ", max backlog "
        << mixed_->maxBacklog << ", generator lag max " << fixed(mixed_->maxDispatchLagMs, 2)
        << " ms; service time (sent -> answered) p50 " << fixed(mixed_->service.p50, 2)
        << " ms p99 " << fixed(mixed_->service.p99, 2) << " ms\n";
  }
  for (const auto& r : results_) {
    for (const auto& [k, n] : r.errors)
      out << "errors in " << r.name << ": " << n << " x " << k << "\n";
    if (!r.firstError.empty()) out << "  first: " << r.firstError.substr(0, 300) << "\n";
  }
  if (!baselines.empty()) {
    out << "\n"
        << pad("baseline (same run)", 30, false) << pad("tps", 10, true)
        << pad("create/baseline", 18, true) << "\n";
    for (const auto& [name, tps] : baselines) {
      out << pad(name, 30, false) << pad(fixed(tps, 1), 10, true)
          << pad(tps > 0 ? fixed(createTps / tps, 3) : "-", 18, true) << "\n";
    }
  }
  // The issue's goals, for information (the exit status never depends on them).
  out << "\ngoals (informational):\n";
  if (!baselines.empty() && createTps > 0 && baselines.front().second > 0) {
    const auto& [name, tps] = baselines.front();
    out << "  create throughput >= 0.5 x " << name << ": " << fixed(createTps / tps, 3) << " x -> "
        << (createTps / tps >= 0.5 ? "met" : "NOT met") << "\n";
  }
  for (const auto& r : results_) {
    if (r.name != "mixed: all" || !mixed_) continue;
    Summary s = summarize(r.latencyMs);
    const bool keptUp = r.ok + r.failed >= mixed_->scheduled && r.failed == 0;
    out << "  mutating p99 <= 50 ms at " << fixed(mixed_->rate, 0) << "/s: p99 " << fixed(s.p99, 2)
        << " ms, " << r.failed << " errors -> " << (s.p99 <= 50 && keptUp ? "met" : "NOT met")
        << "\n";
  }
}

json::object summaryJson(const PhaseStats& r) {
  Summary s = summarize(r.latencyMs);
  json::object o;
  o["name"] = r.name;
  o["load"] = r.load;
  o["ok"] = r.ok;
  o["failed"] = r.failed;
  json::object errors;
  for (const auto& [k, n] : r.errors) errors[k] = n;
  o["errors"] = std::move(errors);
  o["seconds"] = r.seconds;
  o["per_second"] = r.throughput();
  o["p50_ms"] = s.p50;
  o["p90_ms"] = s.p90;
  o["p99_ms"] = s.p99;
  o["max_ms"] = s.max;
  o["mean_ms"] = s.mean;
  return o;
}

json::object Bench::toJson() const {
  json::object o;
  o["bench"] = "tessera-apiserver";
  o["target"] =
      std::string(ep_.ssl ? "https://" : "http://") + ep_.host + ":" + std::to_string(ep_.port);
  json::object c;
  c["connections"] = cfg_.connections;
  c["duration_s"] = cfg_.duration;
  c["watchers"] = cfg_.watchers;
  c["rate"] = cfg_.rate;
  c["create_fraction"] = cfg_.createFraction;
  c["max_in_flight"] = cfg_.maxInFlight;
  o["config"] = std::move(c);
  json::array phases;
  double createTps = 0;
  for (const auto& r : results_) {
    phases.push_back(summaryJson(r));
    if (r.name == "create") createTps = r.throughput();
  }
  o["phases"] = std::move(phases);
  if (watch_) {
    o["watch"] = json::object{
        {"events_delivered", watch_->delivered},
        {"events_per_second",
         watch_->seconds > 0 ? static_cast<double>(watch_->delivered) / watch_->seconds : 0.0},
        {"missed", watch_->missed},
        {"seen_before_ack", watch_->beforeAck}};
  }
  if (mixed_) {
    o["mixed"] = json::object{{"rate", mixed_->rate},
                              {"scheduled", mixed_->scheduled},
                              {"max_in_flight", mixed_->maxInFlight},
                              {"max_backlog", mixed_->maxBacklog},
                              {"max_dispatch_lag_ms", mixed_->maxDispatchLagMs},
                              {"service_p50_ms", mixed_->service.p50},
                              {"service_p99_ms", mixed_->service.p99}};
  }
  json::object base, ratio;
  for (const auto& [name, tps] : baselines) {
    base[name] = tps;
    ratio[name] = tps > 0 ? createTps / tps : 0.0;
  }
  o["baselines_tps"] = std::move(base);
  o["create_tps_over_baseline"] = std::move(ratio);
  return o;
}

std::string tokenFromKubeconfig(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::stringstream text;
  text << in.rdbuf();
  std::string token = kubeconfigToken(text.str());
  if (token.empty()) throw std::runtime_error("no token: line in " + path);
  return token;
}

}  // namespace
}  // namespace tessera::bench

int main(int argc, char** argv) {
  using namespace tessera::bench;
  Config cfg;
  CLI::App app{"apiserver_bench: create/get/list/watch and fixed-rate load against tessera-server"};
  app.add_option("--host", cfg.host, "server address (an IP)")->capture_default_str();
  app.add_option("--port", cfg.port, "server port");
  app.add_option("--token", cfg.token, "bearer token (or env TESSERA_TOKEN)");
  app.add_option("--kubeconfig", cfg.kubeconfig, "read the bearer token from this kubeconfig");
  app.add_option("--ca", cfg.caFile, "PEM CA: use HTTPS and verify the server against it");
  app.add_option("--namespace", cfg.ns, "namespace for the benchmark's objects")
      ->capture_default_str();
  app.add_option("--duration", cfg.duration, "seconds per phase")->capture_default_str();
  app.add_option("--warmup", cfg.warmup, "seconds of unrecorded creates first")
      ->capture_default_str();
  app.add_option("-c,--connections", cfg.connections, "connections of the closed-loop phases")
      ->capture_default_str();
  app.add_option("--watchers", cfg.watchers, "watch streams in the watch phase")
      ->capture_default_str();
  app.add_option("--drain", cfg.drain, "seconds to wait for late watch events")
      ->capture_default_str();
  app.add_option("--rate", cfg.rate, "requests/s of the open-loop mixed phase")
      ->capture_default_str();
  app.add_option("--rate-duration", cfg.rateDuration, "seconds of the mixed phase (0: --duration)")
      ->capture_default_str();
  app.add_option("--create-fraction", cfg.createFraction,
                 "share of creates in the mixed phase (the rest: merge patches)")
      ->capture_default_str();
  app.add_option("--max-in-flight", cfg.maxInFlight, "connections of the mixed phase")
      ->capture_default_str();
  app.add_option("--timeout", cfg.timeout, "seconds before a request is abandoned")
      ->capture_default_str();
  app.add_option("--phases", cfg.phases, "phases to run: create get list watch mixed")
      ->delimiter(',')
      ->capture_default_str();
  app.add_option("--baseline", cfg.baselines,
                 "NAME=TPS measured in the same run (e.g. pgbench); repeatable; the first is the "
                 "one the create-throughput goal refers to");
  app.add_option("--json-out", cfg.jsonOut, "also write the JSON result to this file");
  app.add_flag("--strict", cfg.strict,
               "exit 3 if any request failed or a watch missed an event (smoke tests)");
  app.add_flag("--print-body", cfg.printBody,
               "print the JSON body of a create (name NAME) and exit");
  CLI11_PARSE(app, argc, argv);

  if (cfg.printBody) {
    std::cout << createBody(cfg.ns, "NAME") << "\n";
    return 0;
  }
  try {
    if (cfg.port == 0) throw std::runtime_error("--port is required");
    if (cfg.connections < 1 || cfg.watchers < 0 || cfg.maxInFlight < 1 || cfg.rate <= 0 ||
        cfg.duration <= 0) {
      throw std::runtime_error(
          "--connections, --max-in-flight, --rate and --duration must be "
          "positive");
    }
    if (cfg.token.empty() && !cfg.kubeconfig.empty())
      cfg.token = tokenFromKubeconfig(cfg.kubeconfig);
    if (cfg.token.empty()) {
      if (const char* env = std::getenv("TESSERA_TOKEN")) cfg.token = env;
    }
    if (cfg.token.empty()) throw std::runtime_error("give --token, --kubeconfig or TESSERA_TOKEN");
    std::vector<std::pair<std::string, double>> baselines;
    for (const auto& b : cfg.baselines) {
      auto eq = b.find('=');
      if (eq == std::string::npos) throw std::runtime_error("--baseline wants NAME=TPS: " + b);
      baselines.emplace_back(b.substr(0, eq), std::stod(b.substr(eq + 1)));
    }

    std::optional<net::ssl::context> ssl;
    HttpEndpoint ep;
    ep.address = net::ip::make_address(cfg.host);
    ep.host = cfg.host;
    ep.port = cfg.port;
    ep.authorization = "Bearer " + cfg.token;
    ep.userAgent = "tessera-apiserver-bench";
    ep.timeout = std::chrono::milliseconds(static_cast<long long>(cfg.timeout * 1000));
    ep.bodyLimit = 256u << 20;
    if (!cfg.caFile.empty()) {
      ssl.emplace(net::ssl::context::tls_client);
      ssl->load_verify_file(cfg.caFile);
      ep.ssl = &*ssl;
    }

    net::io_context ioc(1);
    Bench bench(ioc, cfg, ep);
    bench.baselines = baselines;
    std::exception_ptr failure;
    net::co_spawn(ioc, bench.run(), [&](std::exception_ptr e) {
      failure = std::move(e);
      ioc.stop();
    });
    ioc.run();
    if (failure) std::rethrow_exception(failure);
    bench.report(std::cout);
    const std::string line = json::serialize(bench.toJson());
    if (!cfg.jsonOut.empty()) std::ofstream(cfg.jsonOut) << line << "\n";
    std::cout << "\n" << line << std::endl;
    if (cfg.strict && bench.problems() > 0) {
      std::cerr << "apiserver_bench: " << bench.problems() << " failed requests or missed events\n";
      return 3;
    }
  } catch (const std::exception& e) {
    std::cerr << "apiserver_bench: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
