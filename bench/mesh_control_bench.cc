// mesh_control_bench: many simulated proxy streams against one tessera-server's mesh control
// plane (docs/benchmarks.md, "Mesh control plane").
//
// One process opens N proxy streams (default 1,000) over C gRPC channels (default 16: C TCP
// connections, streams multiplexed on them), driven by gRPC's callback API: no thread per
// stream. A simulated proxy speaks the protocol as ConfigClient does (mesh/xds/config_client.cc):
// four initial requests saying it holds nothing, then an ACK for every response, at once, without
// applying anything (the server's work is what is measured; the client only reads the ShardMap
// version out of each ShardMap resource).
//
// Phases:
//   setup    clusters, cells (three datacenters), the ShardMap "default", an Application with
//            unitized traffic, and an APIToken of role proxy (REST)
//   connect  N streams (sidecars, spread over the datacenters), each until it holds the current
//            ShardMap version
//   changes  W times: the ShardMap's spec is replaced (one bucket boundary moves) by a REST PUT;
//            timed from just before the PUT: its response (baseline), a REST watch event of it
//            (baseline), the moment each of the N streams received — and acknowledged — the new
//            version, and the moment the watcher saw status.rollout.done for it.
//   The server's (and PostgreSQL's) CPU is measured over the change phase.
//
// The last line of output is a JSON object with every figure; exit status 3 when a stream ended,
// a change missed a stream, the watcher or the rollout.
#include <absl/synchronization/mutex.h>
#include <grpcpp/grpcpp.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_support.h"
#include "common/kubeconfig.h"
#include "mesh/proto/mesh.grpc.pb.h"

namespace tessera::bench {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
namespace pb = ::tessera::mesh::v1;
using tcp = net::ip::tcp;

constexpr char kApi[] = "/apis/tessera.io/v1";
constexpr char kShardMapType[] = "tessera.io/mesh/ShardMap";
const char* kTypes[] = {"tessera.io/mesh/Cluster", "tessera.io/mesh/ShardMap",
                        "tessera.io/mesh/RouteTable", "tessera.io/mesh/Listener"};

struct Config {
  int proxies = 1000;
  int changes = 20;
  int channels = 16;
  std::string server;      // REST host:port
  std::string meshServer;  // mesh gRPC host:port
  std::string kubeconfig;
  int serverPid = 0;
  int postgresPid = 0;
  double connectTimeout = 300;
  double changeTimeout = 30;
  double gap = 0.3;  // seconds between one change being done and the next
  std::string jsonOut;
};

// ---- HTTP (plain, loopback) ----

struct Reply {
  int status = 0;
  std::string body;
};

class Http {
 public:
  Http(std::string host, std::uint16_t port, std::string token)
      : host_(std::move(host)), port_(port), token_(std::move(token)) {}

  Reply call(http::verb verb, const std::string& target, const std::string& body = "") {
    for (int attempt = 0; attempt < 2; ++attempt) {
      try {
        if (!socket_.is_open()) {
          socket_.connect(tcp::endpoint(net::ip::make_address(host_), port_));
          socket_.set_option(tcp::no_delay(true));
        }
        http::request<http::string_body> req{verb, target, 11};
        req.set(http::field::host, host_);
        req.set(http::field::authorization, "Bearer " + token_);
        req.set(http::field::accept, "application/json");
        if (!body.empty()) {
          req.set(http::field::content_type, "application/json");
          req.body() = body;
        }
        req.keep_alive(true);
        req.prepare_payload();
        http::write(socket_, req);
        http::response_parser<http::string_body> parser;
        parser.body_limit(64u << 20);
        http::read(socket_, buffer_, parser);
        Reply r{static_cast<int>(parser.get().result_int()), parser.get().body()};
        if (!parser.get().keep_alive()) close();
        return r;
      } catch (const std::exception& e) {
        close();
        if (attempt == 1) return Reply{0, e.what()};
      }
    }
    return {};
  }

 private:
  void close() {
    boost::system::error_code ec;
    socket_.close(ec);
    buffer_.clear();
  }
  std::string host_;
  std::uint16_t port_;
  std::string token_;
  net::io_context ioc_;
  tcp::socket socket_{ioc_};
  beast::flat_buffer buffer_;
};

// ---- shared progress ----

struct Progress {
  std::mutex mu;
  std::condition_variable cv;
  std::int64_t target = -1;  // the ShardMap version being waited for
  std::vector<Clock::time_point> arrival;
  int arrived = 0;
  int ended = 0, unexpectedEnds = 0;
  std::string firstProblem;
  std::map<std::int64_t, Clock::time_point> watchSeen, rolloutDone;
  std::uint64_t responses = 0;

  void problem(const std::string& what) {
    if (firstProblem.empty()) firstProblem = what;
  }
};

/// The ShardMap version inside a ShardMap resource's JSON (-1: none).
std::int64_t versionIn(const std::string& json) {
  auto at = json.find("\"version\":");
  if (at == std::string::npos) return -1;
  return std::strtoll(json.c_str() + at + 10, nullptr, 10);
}

// ---- one simulated proxy ----

class SimProxy final : public grpc::ClientBidiReactor<pb::DiscoveryRequest, pb::DiscoveryResponse> {
 public:
  SimProxy(Progress& progress, int index, const std::string& token)
      : progress_(progress), index_(index) {
    ctx_.AddMetadata("authorization", "Bearer " + token);
  }

  void start(pb::MeshDiscovery::Stub& stub) {
    static const char* kDcs[] = {"dc-a", "dc-b", "dc-c"};
    char id[32];
    std::snprintf(id, sizeof id, "px-%05d", index_);
    stub.async()->StreamResources(&ctx_, this);
    for (int t = 0; t < 4; ++t) {
      pb::DiscoveryRequest r;
      if (t == 0) {
        auto* n = r.mutable_node();
        n->set_id(id);
        n->set_datacenter(kDcs[index_ % 3]);
        n->set_role("sidecar");
        n->set_listen_address("127.0.0.1:" + std::to_string(20000 + index_ % 40000));
        n->set_build_version("bench");
      }
      r.set_type_url(kTypes[t]);
      write(std::move(r));
    }
    StartRead(&in_);
    StartCall();
  }

  void cancel() { ctx_.TryCancel(); }

  void OnReadDone(bool ok) override {
    if (!ok) return;  // the stream ends: OnDone follows
    pb::DiscoveryRequest ack;
    ack.set_type_url(in_.type_url());
    ack.set_version_info(in_.version_info());
    ack.set_response_nonce(in_.nonce());
    if (in_.type_url() == kShardMapType) {
      std::int64_t version = -1;
      for (const auto& r : in_.resources()) {
        if (r.name() == "default") version = versionIn(r.json());
      }
      const auto now = Clock::now();
      std::lock_guard lock(progress_.mu);
      ++progress_.responses;
      if (version == progress_.target &&
          progress_.arrival[static_cast<std::size_t>(index_)] == Clock::time_point{}) {
        progress_.arrival[static_cast<std::size_t>(index_)] = now;
        if (++progress_.arrived == static_cast<int>(progress_.arrival.size()))
          progress_.cv.notify_all();
      }
    } else {
      std::lock_guard lock(progress_.mu);
      ++progress_.responses;
    }
    write(std::move(ack));
    StartRead(&in_);
  }

  void OnWriteDone(bool ok) override {
    const pb::DiscoveryRequest* next = nullptr;
    {
      std::lock_guard lock(mu_);
      out_.pop_front();
      if (ok && !out_.empty()) {
        next = &out_.front();
      } else {
        writing_ = false;
      }
    }
    if (next) StartWrite(next);
  }

  void OnDone(const grpc::Status& s) override {
    std::lock_guard lock(progress_.mu);
    ++progress_.ended;
    if (!stopping_.load()) {
      ++progress_.unexpectedEnds;
      progress_.problem("stream " + std::to_string(index_) + " ended: " + s.error_message());
    }
    progress_.cv.notify_all();
  }

  std::atomic<bool> stopping_{false};

 private:
  void write(pb::DiscoveryRequest r) {
    const pb::DiscoveryRequest* first = nullptr;
    {
      std::lock_guard lock(mu_);
      out_.push_back(std::move(r));
      if (!writing_) {
        writing_ = true;
        first = &out_.front();
      }
    }
    if (first) StartWrite(first);
  }

  Progress& progress_;
  const int index_;
  grpc::ClientContext ctx_;
  pb::DiscoveryResponse in_;
  std::mutex mu_;
  std::deque<pb::DiscoveryRequest> out_;
  bool writing_ = false;
};

// ---- the watcher: ShardMap events over REST ----

class Watcher {
 public:
  Watcher(Progress& p, std::string host, std::uint16_t port, std::string token, std::string rv)
      : progress_(p) {
    thread_ = std::thread([this, host, port, token, rv] { run(host, port, token, rv); });
  }
  ~Watcher() { stop(); }
  void stop() {
    if (stopped_.exchange(true)) return;
    ::shutdown(fd_.load(), SHUT_RDWR);
    if (thread_.joinable()) thread_.join();
  }

 private:
  void run(const std::string& host, std::uint16_t port, const std::string& token,
           const std::string& rv) {
    try {
      net::io_context ioc;
      tcp::socket socket(ioc);
      socket.connect(tcp::endpoint(net::ip::make_address(host), port));
      fd_ = socket.native_handle();
      if (stopped_) return;
      http::request<http::empty_body> req{
          http::verb::get,
          std::string(kApi) + "/shardmaps?watch=true&timeoutSeconds=3600&resourceVersion=" + rv,
          11};
      req.set(http::field::host, host);
      req.set(http::field::authorization, "Bearer " + token);
      http::write(socket, req);
      beast::flat_buffer buffer;
      std::string pending;
      std::function<std::size_t(std::uint64_t, std::string_view, beast::error_code&)> onChunk =
          [&](std::uint64_t, std::string_view body, beast::error_code&) {
            pending.append(body);
            std::size_t nl;
            while ((nl = pending.find('\n')) != std::string::npos) {
              line(pending.substr(0, nl));
              pending.erase(0, nl + 1);
            }
            return body.size();
          };
      http::response_parser<http::string_body> parser;
      parser.body_limit(boost::none);
      parser.on_chunk_body(onChunk);
      http::read_header(socket, buffer, parser);
      while (!parser.is_done()) http::read_some(socket, buffer, parser);
    } catch (const std::exception& e) {
      if (!stopped_) {
        std::lock_guard lock(progress_.mu);
        progress_.problem(std::string("watch ended: ") + e.what());
      }
    }
  }

  void line(const std::string& text) {
    const auto now = Clock::now();
    boost::system::error_code ec;
    json::value v = json::parse(text, ec);
    if (ec || !v.is_object()) return;
    const json::value* version = v.find_pointer("/object/status/version", ec);
    if (!version || !version->is_int64()) return;
    std::lock_guard lock(progress_.mu);
    progress_.watchSeen.emplace(version->get_int64(), now);
    const json::value* rollout = v.find_pointer("/object/status/rollout", ec);
    if (rollout && rollout->is_object()) {
      const auto& r = rollout->get_object();
      const json::value* rv = r.if_contains("version");
      const json::value* done = r.if_contains("done");
      const json::value* total = r.if_contains("proxiesTotal");
      if (rv && rv->is_int64() && done && done->is_bool() && done->get_bool() && total &&
          total->is_int64() && total->get_int64() > 0) {
        progress_.rolloutDone.emplace(rv->get_int64(), now);
      }
    }
    progress_.cv.notify_all();
  }

  Progress& progress_;
  std::thread thread_;
  std::atomic<int> fd_{-1};
  std::atomic<bool> stopped_{false};
};

std::string shardMapBody(int boundary, const std::string& rv) {
  json::object meta{{"name", "default"}};
  if (!rv.empty()) meta["resourceVersion"] = rv;
  json::array assignments{
      json::object{{"cell", "rz-a"}, {"buckets", "0-" + std::to_string(boundary - 1)}},
      json::object{{"cell", "rz-b"}, {"buckets", std::to_string(boundary) + "-69"}},
      json::object{{"cell", "rz-c"}, {"buckets", "70-99"}}};
  return json::serialize(json::object{{"apiVersion", "tessera.io/v1"},
                                      {"kind", "ShardMap"},
                                      {"metadata", std::move(meta)},
                                      {"spec", json::object{{"bucketCount", 100},
                                                            {"assignments", std::move(assignments)},
                                                            {"reason", "mesh_control_bench"}}}});
}

std::string must(const Reply& r, std::initializer_list<int> ok, const std::string& what) {
  for (int code : ok) {
    if (r.status == code) return r.body;
  }
  throw std::runtime_error(what + ": " + std::to_string(r.status) + " " + r.body.substr(0, 300));
}

int run(const Config& cfg) {
  const std::string token = kubeconfigToken([&] {
    std::ifstream in(cfg.kubeconfig);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }());
  if (token.empty()) throw std::runtime_error("no token in " + cfg.kubeconfig);
  const auto colon = cfg.server.rfind(':');
  const std::string host = cfg.server.substr(0, colon);
  const auto port = static_cast<std::uint16_t>(std::stoi(cfg.server.substr(colon + 1)));
  Http api(host, port, token);

  // ---- setup ----
  for (const char* x : {"a", "b", "c"}) {
    const std::string cluster = std::string("bench-cluster-") + x;
    must(api.call(http::verb::post, std::string(kApi) + "/clusters",
                  json::serialize(json::object{
                      {"apiVersion", "tessera.io/v1"},
                      {"kind", "Cluster"},
                      {"metadata", json::object{{"name", cluster}}},
                      {"spec", json::object{{"region", "region-1"},
                                            {"zone", std::string("dc-") + x},
                                            {"capacity", json::object{{"cpu", "16"},
                                                                      {"memory", "64Gi"},
                                                                      {"pods", 100}}}}}})),
         {201, 409}, "create cluster");
    must(api.call(http::verb::post, std::string(kApi) + "/cells",
                  json::serialize(json::object{
                      {"apiVersion", "tessera.io/v1"},
                      {"kind", "Cell"},
                      {"metadata", json::object{{"name", std::string("rz-") + x}}},
                      {"spec", json::object{{"type", "RZone"},
                                            {"region", "region-1"},
                                            {"clusters", json::array{json::value(cluster)}}}}})),
         {201, 409}, "create cell");
  }
  must(api.call(http::verb::post, std::string(kApi) + "/shardmaps", shardMapBody(40, "")),
       {201, 409}, "create shard map");
  must(api.call(
           http::verb::post, std::string(kApi) + "/namespaces/bench/applications",
           json::serialize(json::object{
               {"apiVersion", "tessera.io/v1"},
               {"kind", "Application"},
               {"metadata", json::object{{"name", "shop"}, {"namespace", "bench"}}},
               {"spec",
                json::object{
                    {"template", json::object{{"command", json::array{"shop"}},
                                              {"ports", json::array{json::object{
                                                            {"name", "http"}, {"port", 8080}}}}}},
                    {"placement", json::object{{"cells", json::object{{"type", "RZone"}}}}},
                    {"traffic", json::object{{"unitized", true}}}}}})),
       {201, 409}, "create application");
  const std::string tokenBody =
      must(api.call(http::verb::post, std::string(kApi) + "/apitokens",
                    json::serialize(json::object{
                        {"apiVersion", "tessera.io/v1"},
                        {"kind", "APIToken"},
                        {"metadata", json::object{{"generateName", "mesh-bench-"}}},
                        {"spec", json::object{{"user", "mesh-bench"}, {"role", "proxy"}}}})),
           {201}, "create proxy token");
  const std::string proxyToken(json::parse(tokenBody).at("status").at("token").as_string());

  auto current = json::parse(must(
      api.call(http::verb::get, std::string(kApi) + "/shardmaps/default"), {200}, "get shard map"));
  std::int64_t version = current.at("status").at("version").as_int64();
  std::string rv(current.at("metadata").at("resourceVersion").as_string());

  Progress& progress = *new Progress();  // reactors may outlive run(): see below
  progress.arrival.assign(static_cast<std::size_t>(cfg.proxies), Clock::time_point{});
  progress.target = version;
  Watcher watcher(progress, host, port, token, rv);

  std::cout << "setup done: ShardMap default at version " << version << std::endl;
  // ---- connect ----
  // The channels, stubs and reactors are never destroyed: gRPC 1.51 may still hold reactors
  // after OnDone, and destroying the last channel joins threads that wait for them. The
  // process ends right after the run.
  auto& channels = *new std::vector<std::shared_ptr<grpc::Channel>>();
  auto& stubs = *new std::vector<std::unique_ptr<pb::MeshDiscovery::Stub>>();
  for (int c = 0; c < cfg.channels; ++c) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // a connection of its own
    args.SetInt("tessera.bench.channel", c);
    args.SetMaxReceiveMessageSize(64 * 1024 * 1024);
    channels.push_back(
        grpc::CreateCustomChannel(cfg.meshServer, grpc::InsecureChannelCredentials(), args));
    stubs.push_back(pb::MeshDiscovery::NewStub(channels.back()));
  }
  auto& proxies = *new std::vector<std::unique_ptr<SimProxy>>();
  const auto connectStart = Clock::now();
  for (int i = 0; i < cfg.proxies; ++i) {
    proxies.push_back(std::make_unique<SimProxy>(progress, i, proxyToken));
    proxies.back()->start(*stubs[static_cast<std::size_t>(i % cfg.channels)]);
  }
  {
    std::unique_lock lock(progress.mu);
    const bool all = progress.cv.wait_until(
        lock, connectStart + std::chrono::duration<double>(cfg.connectTimeout),
        [&] { return progress.arrived == cfg.proxies || progress.unexpectedEnds > 0; });
    if (!all || progress.unexpectedEnds > 0) {
      throw std::runtime_error("only " + std::to_string(progress.arrived) + " of " +
                               std::to_string(cfg.proxies) + " streams got their configuration" +
                               (progress.firstProblem.empty() ? "" : ": " + progress.firstProblem));
    }
  }
  const double connectSeconds = std::chrono::duration<double>(Clock::now() - connectStart).count();
  std::cout << "connected: " << cfg.proxies << " streams on " << cfg.channels
            << " channels, all holding ShardMap version " << version << " after " << connectSeconds
            << " s\n";
  std::this_thread::sleep_for(std::chrono::seconds(2));  // let Proxy status writes settle

  // ---- changes ----
  std::vector<double> putMs, watchMs, ackMs, lastMs, rolloutMs;
  int missed = 0, missedWatch = 0, missedRollout = 0;
  const auto cpuBefore = processCpuSeconds(cfg.serverPid).value_or(0);
  const auto pgBefore = processTreeCpu(cfg.postgresPid);
  const double selfBefore = selfCpuSeconds();
  const auto changesStart = Clock::now();
  for (int w = 0; w < cfg.changes; ++w) {
    const std::int64_t next = version + 1;
    {
      std::lock_guard lock(progress.mu);
      progress.target = next;
      std::fill(progress.arrival.begin(), progress.arrival.end(), Clock::time_point{});
      progress.arrived = 0;
    }
    const int boundary = 30 + (w % 2) * 10 + (w / 2) % 5;  // 30..44: always a change
    // The control plane writes status.rollout: the PUT carries the latest resourceVersion, and
    // is timed from its last attempt.
    Clock::time_point t0, t1;
    Reply put;
    for (int attempt = 0; attempt < 10; ++attempt) {
      if (attempt > 0) {
        auto fresh =
            json::parse(must(api.call(http::verb::get, std::string(kApi) + "/shardmaps/default"),
                             {200}, "get shard map"));
        rv = std::string(fresh.at("metadata").at("resourceVersion").as_string());
      }
      t0 = Clock::now();
      put = api.call(http::verb::put, std::string(kApi) + "/shardmaps/default",
                     shardMapBody(boundary == 40 ? 45 : boundary, rv));
      t1 = Clock::now();
      if (put.status != 409) break;
    }
    const std::string body = must(put, {200}, "put shard map");
    json::value updated = json::parse(body);
    rv = std::string(updated.at("metadata").at("resourceVersion").as_string());
    version = updated.at("status").at("version").as_int64();
    if (version != next) throw std::runtime_error("unexpected ShardMap version after PUT");
    putMs.push_back(msBetween(t0, t1));
    std::unique_lock lock(progress.mu);
    const auto deadline = t0 + std::chrono::duration<double>(cfg.changeTimeout);
    progress.cv.wait_until(lock, deadline, [&] {
      return progress.arrived == cfg.proxies || progress.unexpectedEnds > 0;
    });
    Clock::time_point last{};
    for (const auto& a : progress.arrival) {
      if (a == Clock::time_point{}) {
        ++missed;
        continue;
      }
      ackMs.push_back(msBetween(t0, a));
      last = std::max(last, a);
    }
    if (progress.arrived == cfg.proxies) lastMs.push_back(msBetween(t0, last));
    progress.cv.wait_until(lock, deadline, [&] {
      return progress.watchSeen.count(next) && progress.rolloutDone.count(next);
    });
    if (auto it = progress.watchSeen.find(next); it != progress.watchSeen.end()) {
      watchMs.push_back(msBetween(t0, it->second));
    } else {
      ++missedWatch;
    }
    if (auto it = progress.rolloutDone.find(next); it != progress.rolloutDone.end()) {
      rolloutMs.push_back(msBetween(t0, it->second));
    } else {
      ++missedRollout;
    }
    lock.unlock();
    std::this_thread::sleep_for(std::chrono::duration<double>(cfg.gap));
  }
  const double changeSeconds = std::chrono::duration<double>(Clock::now() - changesStart).count();
  const double serverCpu = processCpuSeconds(cfg.serverPid).value_or(0) - cpuBefore;
  const double pgCpu = treeCpuBetween(pgBefore, processTreeCpu(cfg.postgresPid));
  const double selfCpu = selfCpuSeconds() - selfBefore;

  // ---- report ----
  auto row = [](const std::string& what, const Summary& s) {
    char buf[200];
    std::snprintf(buf, sizeof buf, "  %-46s %6zu %9.1f %9.1f %9.1f\n", what.c_str(), s.count, s.p50,
                  s.p99, s.max);
    std::cout << buf;
  };
  const Summary put = summarize(putMs), watch = summarize(watchMs), ack = summarize(ackMs),
                lastAck = summarize(lastMs), rollout = summarize(rolloutMs);
  std::cout << "\nShardMap change → " << cfg.proxies << " proxy streams, " << cfg.changes
            << " changes (ms from just before the PUT)\n"
            << "                                                  count       p50       p99"
               "       max\n";
  row("baseline: PUT response", put);
  row("baseline: REST watch event", watch);
  row("each stream acked the new version", ack);
  row("the last stream of a change acked", lastAck);
  row("status.rollout.done seen by the watcher", rollout);
  std::printf(
      "\nCPU over the change phase (%.1f s): tessera-server %.2f s (%.0f ms per change), "
      "PostgreSQL %.2f s, load generator %.2f s\n",
      changeSeconds, serverCpu, serverCpu * 1000 / cfg.changes, pgCpu, selfCpu);

  for (auto& p : proxies) p->stopping_ = true;
  for (auto& p : proxies) p->cancel();
  {
    std::unique_lock lock(progress.mu);
    progress.cv.wait_for(lock, std::chrono::seconds(30),
                         [&] { return progress.ended == cfg.proxies; });
  }
  watcher.stop();

  auto sj = [](const Summary& s) {
    return json::object{{"count", s.count}, {"p50", s.p50}, {"p99", s.p99}, {"max", s.max}};
  };
  json::object out{{"proxies", cfg.proxies},
                   {"channels", cfg.channels},
                   {"changes", cfg.changes},
                   {"connectSeconds", connectSeconds},
                   {"putMs", sj(put)},
                   {"watchMs", sj(watch)},
                   {"ackMs", sj(ack)},
                   {"lastAckMs", sj(lastAck)},
                   {"rolloutDoneMs", sj(rollout)},
                   {"serverCpuSeconds", serverCpu},
                   {"serverCpuMsPerChange", serverCpu * 1000 / cfg.changes},
                   {"postgresCpuSeconds", pgCpu},
                   {"loadGeneratorCpuSeconds", selfCpu},
                   {"missedAcks", missed},
                   {"missedWatchEvents", missedWatch},
                   {"missedRollouts", missedRollout},
                   {"unexpectedStreamEnds", progress.unexpectedEnds}};
  const std::string line = json::serialize(out);
  if (!cfg.jsonOut.empty()) std::ofstream(cfg.jsonOut) << line << "\n";
  std::cout << "\n" << line << std::endl;
  const int problems = missed + missedWatch + missedRollout + progress.unexpectedEnds;
  if (problems > 0) {
    std::cerr << "mesh_control_bench: " << problems << " problems"
              << (progress.firstProblem.empty() ? "" : " (" + progress.firstProblem + ")") << "\n";
    return 3;
  }
  return 0;
}

}  // namespace
}  // namespace tessera::bench

int main(int argc, char** argv) {
  using namespace tessera::bench;
  Config cfg;
  CLI::App app{"mesh_control_bench: N simulated proxy streams; a ShardMap change → all acked"};
  app.add_option("--proxies", cfg.proxies, "simulated proxy streams")->capture_default_str();
  app.add_option("--changes", cfg.changes, "measured ShardMap changes")->capture_default_str();
  app.add_option("--channels", cfg.channels, "gRPC channels (TCP connections) the streams share")
      ->capture_default_str();
  app.add_option("--server", cfg.server, "the REST API, 127.0.0.1:PORT")->required();
  app.add_option("--mesh-server", cfg.meshServer, "the mesh gRPC endpoint, 127.0.0.1:PORT")
      ->required();
  app.add_option("--kubeconfig", cfg.kubeconfig, "admin kubeconfig (its token)")->required();
  app.add_option("--server-pid", cfg.serverPid, "tessera-server's pid: measure its CPU");
  app.add_option("--postgres-pid", cfg.postgresPid, "the postmaster's pid: PostgreSQL's CPU");
  app.add_option("--connect-timeout", cfg.connectTimeout, "seconds for every stream to connect")
      ->capture_default_str();
  app.add_option("--change-timeout", cfg.changeTimeout, "seconds for one change to be done")
      ->capture_default_str();
  app.add_option("--json", cfg.jsonOut, "also write the JSON result to this file");
  CLI11_PARSE(app, argc, argv);
  // Debian's Abseil keeps its deadlock detector on; the load generator does not need it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  raiseOpenFileLimit();
  try {
    if (cfg.proxies < 1 || cfg.changes < 1 || cfg.channels < 1) {
      throw std::runtime_error("--proxies, --changes and --channels must be positive");
    }
    if (cfg.server.rfind("127.0.0.1:", 0) != 0 || cfg.meshServer.rfind("127.0.0.1:", 0) != 0) {
      throw std::runtime_error("load goes to loopback only: 127.0.0.1:PORT");
    }
    const int rc = run(cfg);
    std::cout.flush();
    std::_Exit(rc);  // no teardown of gRPC with reactors it may still hold (see run())
  } catch (const std::exception& e) {
    std::cerr << "mesh_control_bench: " << e.what() << std::endl;
    std::cout.flush();
    std::_Exit(1);
  }
}
