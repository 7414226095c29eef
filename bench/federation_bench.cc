// federation_bench: many simulated agents against one tessera-server (docs/benchmarks.md).
//
// One process opens N agent sessions (default 1,000), each over a gRPC channel of its own (its
// own TCP connection, as a real agent has), driven by gRPC's callback API: no thread per
// stream. A simulated agent does on the wire what tessera-agent does (federation/agent/
// agent.cc) without a runtime: it registers with a bootstrap token of its own, holds a Connect
// stream (Hello; a Heartbeat every Welcome.heartbeat_interval_ms; a WorkAck and a StatusReport
// for every WorkSet, the report listing the workloads it was given with 0 replicas running).
//
// Phases:
//   idle     the server's CPU over --cpu-window s with no agent connected (the baseline)
//   connect  N bootstrap tokens (REST), N registrations, N sessions with their first work; one
//            warm-up write of the Binding; every Cluster Ready
//   steady   the server's CPU over --cpu-window s while the N agents heartbeat
//   fan-out  W writes of one Binding that places a workload on every cluster, each a new
//            revision whose env carries the write's number. Per write, all timed from just
//            before the PUT is sent: its response and a REST watch event of it at one HTTP
//            watcher (the server's own write and watch path: the baseline), and the moment the
//            first, the median and the last agent holds the work of that write.
//
// Threads: one io_context thread runs HTTP, the watcher and the heartbeat timers; gRPC's threads
// run the registration callbacks and the stream reactors; main orchestrates and waits, with
// deadlines, for what the others observe (Progress, one mutex). The last line of output is a JSON
// object with every figure; the exit status is 3 when a registration, a stream, a write or a
// WorkSet failed.
#include <absl/synchronization/mutex.h>
#include <grpcpp/grpcpp.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <fstream>
#include <functional>
#include <future>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_support.h"
#include "bench/http_connection.h"
#include "common/kubeconfig.h"
#include "federation/proto/agent.grpc.pb.h"
#include "federation/protocol.h"

namespace tessera::bench {
namespace {

namespace net = boost::asio;
namespace json = boost::json;
namespace pb = ::tessera::federation::v1;

constexpr char kGroupVersion[] = "/apis/tessera.io/v1";
constexpr char kWriteEnv[] = "BENCH_WRITE";  // the env var that numbers the Binding's writes

Clock::duration seconds(double s) {
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
}

// ---- configuration ----

struct Config {
  int agents = 1000;
  int writes = 50;
  double cpuWindow = 20;               // seconds per CPU window
  std::string server = "127.0.0.1:0";  // the REST API, host:port
  std::string agentServer;             // the agents' gRPC endpoint, host:port
  std::string token;                   // admin bearer token
  std::string tokenFile;               // a file holding it
  std::string kubeconfig;              // or a kubeconfig with it
  std::string ns = "fedbench";
  std::string binding = "fanout";
  int serverPid = 0;    // 0: no CPU figures
  int postgresPid = 0;  // the postmaster: its children's CPU too (optional)
  int registerConcurrency = 16;
  int httpConnections = 4;            // for the bootstrap tokens
  double gapMin = 0.5, gapMax = 1.0;  // seconds between a write's completion and the next
  double connectTimeout = 300;        // seconds for every agent to be connected with work
  double fanoutTimeout = 30;          // seconds for one write to reach every agent
  std::string jsonOut;
};

// ---- what /proc says ----

/// A "Key:   value kB" line of /proc/PID/status, in MiB (0 if absent).
double statusMiB(int pid, const std::string& key) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) != 0) continue;
    std::istringstream v(line.substr(key.size() + 1));
    double kb = 0;
    v >> kb;
    return kb / 1024;
  }
  return 0;
}

/// Established TCP connections to `port` on this machine, counted at their client end (remote
/// port = `port`): on loopback these are the load generator's own.
int establishedTo(std::uint16_t port) {
  int n = 0;
  for (const char* file : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(file);
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      std::istringstream f(line);
      std::string slot, local, remote, state;
      f >> slot >> local >> remote >> state;
      auto colon = remote.rfind(':');
      if (colon == std::string::npos || state != "01") continue;
      if (std::stoul(remote.substr(colon + 1), nullptr, 16) == port) ++n;
    }
  }
  return n;
}

bool isString(const json::value& v, std::string_view s) {
  return v.is_string() && std::string_view(v.get_string()) == s;
}

std::string describe(const HttpReply& r) {
  return r.status ? std::to_string(r.status) + " " + r.body.substr(0, 300) : r.error;
}

// ---- what the agents, the watcher and main share ----

/// Counters and the current write's arrivals, under one mutex; main waits on `cv`.
struct Progress {
  mutable std::mutex mu;
  std::condition_variable cv;
  int registered = 0, registerFailed = 0;
  int registering = 0;  // registrations in flight
  int welcomed = 0;
  int withWork = 0;  // sessions that received their first (full) WorkSet
  int ended = 0;     // OnDone seen
  int unexpectedEnds = 0;
  std::string firstProblem;
  // The write being measured: which agents hold its work, and when.
  std::int64_t target = -1;
  std::vector<Clock::time_point> arrivals;
  std::map<std::int64_t, Clock::time_point> watchSeen;  // write → its watch event arrived
  int watchStatus = 0;
  bool watchEnded = false;
  std::uint64_t workSets = 0;

  std::atomic<std::uint64_t> heartbeats{0};       // sent
  std::atomic<std::uint64_t> heartbeatLagged{0};  // sent > 100 ms after their time

  void problem(const std::string& what) {  // REQUIRES: mu held
    if (firstProblem.empty()) firstProblem = what;
  }

  /// Waits until `done()` (called under mu) or the deadline. Returns done().
  template <typename Pred>
  bool waitUntil(Clock::time_point deadline, Pred done) {
    std::unique_lock lock(mu);
    return cv.wait_until(lock, deadline, [&] { return done(); });
  }
};

/// The number carried in the Binding's env by the write that produced `templ` (-1: none).
std::int64_t writeOf(const pb::Template& templ) {
  for (const auto& e : templ.env()) {
    if (e.name() == kWriteEnv) return std::strtoll(e.value().c_str(), nullptr, 10);
  }
  return -1;
}

pb::Resources simulatedCapacity() {
  pb::Resources r;
  r.set_cpu_millis(16000);
  r.set_memory_bytes(64LL << 30);
  r.set_pods(110);
  return r;
}

// ---- one simulated agent ----

/// A cluster's agent: registration, then one Connect stream driven by gRPC's callbacks.
/// Threads: reactions on gRPC's threads; heartbeats, release() on the io_context's thread; the
/// rest of the state is handed over through `mu_` or Progress. Destroyed only after OnDone (or
/// never started).
class SimAgent final : public grpc::ClientBidiReactor<pb::AgentMessage, pb::ServerMessage> {
 public:
  SimAgent(std::string cluster, std::string zone, std::shared_ptr<grpc::Channel> channel,
           net::io_context& ioc, Progress& progress)
      : cluster_(std::move(cluster)),
        zone_(std::move(zone)),
        stub_(pb::AgentService::NewStub(channel)),
        ioc_(ioc),
        heartbeatTimer_(ioc),
        progress_(progress) {}

  /// Register with `bootstrapToken`; on success the session starts. `done` runs on a gRPC
  /// thread once registration is over either way.
  void registerThenConnect(const std::string& bootstrapToken, std::function<void()> done) {
    regCtx_.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    regReq_.set_bootstrap_token(bootstrapToken);
    regReq_.set_cluster(cluster_);
    regReq_.set_region("region-1");
    regReq_.set_zone(zone_);
    regReq_.set_runtime("process");
    regReq_.mutable_version()->set_major(federation::kProtocolMajor);
    regReq_.mutable_version()->set_minor(federation::kProtocolMinor);
    regReq_.set_agent_version("federation-bench");
    *regReq_.mutable_capacity() = simulatedCapacity();
    stub_->async()->Register(
        &regCtx_, &regReq_, &regResp_, [this, done = std::move(done)](grpc::Status s) {
          {
            std::lock_guard lock(progress_.mu);
            if (s.ok()) {
              ++progress_.registered;
            } else {
              ++progress_.registerFailed;
              progress_.problem("registration of " + cluster_ + " failed: " + s.error_message());
            }
          }
          if (s.ok()) connect(regResp_.credential());
          progress_.cv.notify_all();
          done();
        });
  }

  /// Ends the session (io thread). Idempotent.
  void release() {
    if (released_ || !started_) return;
    released_ = true;
    heartbeatTimer_.cancel();
    ctx_.TryCancel();
    RemoveHold();
  }

  bool started() const { return started_; }

  // gRPC reactions ------------------------------------------------------------------------

  void OnReadDone(bool ok) override {
    if (!ok) {
      // The server ended the stream (or we did): let the call finish.
      net::post(ioc_, [this] { release(); });
      return;
    }
    const auto now = Clock::now();
    switch (in_.kind_case()) {
      case pb::ServerMessage::kWelcome: {
        const auto every = std::chrono::milliseconds(
            std::max<std::uint32_t>(100, in_.welcome().heartbeat_interval_ms()));
        net::post(ioc_, [this, every] { startHeartbeats(every); });
        {
          std::lock_guard lock(progress_.mu);
          ++progress_.welcomed;
        }
        progress_.cv.notify_all();
        break;
      }
      case pb::ServerMessage::kWork:
        onWork(in_.work(), now);
        break;
      case pb::ServerMessage::kLogRequest: {
        pb::AgentMessage out;
        out.mutable_log()->set_request_id(in_.log_request().request_id());
        out.mutable_log()->set_error("unknown replica " + in_.log_request().replica());
        send(std::move(out));
        break;
      }
      case pb::ServerMessage::KIND_NOT_SET:
        break;
    }
    StartRead(&in_);
  }

  void OnWriteDone(bool ok) override {
    const pb::AgentMessage* next = nullptr;
    {
      std::lock_guard lock(mu_);
      out_.pop_front();
      if (!ok) {
        writeFailed_ = true;
        out_.clear();
      }
      if (out_.empty()) {
        writing_ = false;
      } else {
        next = &out_.front();
      }
    }
    if (next) StartWrite(next);  // never under our lock: gRPC may react inline
  }

  void OnDone(const grpc::Status& s) override {
    std::lock_guard lock(progress_.mu);
    ++progress_.ended;
    if (!stopping_.load()) {
      ++progress_.unexpectedEnds;
      progress_.problem("the stream of " + cluster_ + " ended: code " +
                        std::to_string(static_cast<int>(s.error_code())) + " " + s.error_message());
    }
    progress_.cv.notify_all();
  }

  /// From now on an end of the stream is expected (any thread).
  void expectEnd() { stopping_ = true; }

 private:
  void connect(const std::string& credential) {
    started_ = true;
    ctx_.AddMetadata("authorization", "Bearer " + credential);
    stub_->async()->Connect(&ctx_, this);
    AddHold();  // heartbeats are written from outside reactions: released in release()
    pb::AgentMessage hello;
    auto* h = hello.mutable_hello();
    h->set_cluster(cluster_);
    h->mutable_version()->set_major(federation::kProtocolMajor);
    h->mutable_version()->set_minor(federation::kProtocolMinor);
    h->set_agent_version("federation-bench");
    h->set_runtime("process");
    *h->mutable_capacity() = simulatedCapacity();
    *h->mutable_allocatable() = simulatedCapacity();
    send(std::move(hello));
    StartRead(&in_);
    StartCall();
  }

  /// Any thread: queued, written one at a time.
  void send(pb::AgentMessage m) {
    const pb::AgentMessage* first = nullptr;
    {
      std::lock_guard lock(mu_);
      if (writeFailed_) return;
      out_.push_back(std::move(m));
      if (!writing_) {
        writing_ = true;
        first = &out_.front();
      }
    }
    if (first) StartWrite(first);
  }

  /// A WorkSet, as the real agent applies it; then its WorkAck and a StatusReport (0 replicas
  /// running). Reaction thread only (reads are one at a time).
  void onWork(const pb::WorkSet& w, Clock::time_point now) {
    if (w.full()) desired_.clear();
    for (const auto& key : w.removals()) desired_.erase(key);
    for (const auto& u : w.upserts()) desired_[u.key()] = {u.replicas(), writeOf(u.template_())};
    std::int64_t holds = -1;  // the latest write whose work this agent now holds
    for (const auto& [key, d] : desired_) holds = std::max(holds, d.write);

    pb::AgentMessage ack;
    ack.mutable_work_ack()->set_version(w.version());
    send(std::move(ack));
    pb::AgentMessage report;
    auto* status = report.mutable_status();
    for (const auto& [key, d] : desired_) {
      auto* ws = status->add_workloads();
      ws->set_key(key);
      ws->set_desired(d.replicas);
    }
    send(std::move(report));

    {
      std::lock_guard lock(progress_.mu);
      ++progress_.workSets;
      if (!sawWork_) {
        sawWork_ = true;
        ++progress_.withWork;
      }
      if (holds != holds_) {
        holds_ = holds;
        if (holds == progress_.target) progress_.arrivals.push_back(now);
      }
    }
    progress_.cv.notify_all();
  }

  /// io thread: a Heartbeat every `every`, on a fixed cadence.
  void startHeartbeats(std::chrono::milliseconds every) {
    if (released_) return;
    heartbeatEvery_ = every;
    nextHeartbeat_ = Clock::now() + every;
    armHeartbeat();
  }
  void armHeartbeat() {
    heartbeatTimer_.expires_at(nextHeartbeat_);
    heartbeatTimer_.async_wait([this](boost::system::error_code ec) {
      if (ec || released_) return;
      const auto now = Clock::now();
      if (now - nextHeartbeat_ > std::chrono::milliseconds(100)) ++progress_.heartbeatLagged;
      pb::AgentMessage m;
      *m.mutable_heartbeat()->mutable_capacity() = simulatedCapacity();
      *m.mutable_heartbeat()->mutable_allocatable() = simulatedCapacity();
      send(std::move(m));
      ++progress_.heartbeats;
      nextHeartbeat_ += heartbeatEvery_;
      if (nextHeartbeat_ < now) nextHeartbeat_ = now + heartbeatEvery_;  // no burst after a stall
      armHeartbeat();
    });
  }

  struct Desired {
    std::int32_t replicas = 0;
    std::int64_t write = -1;
  };

  const std::string cluster_, zone_;
  std::unique_ptr<pb::AgentService::Stub> stub_;
  net::io_context& ioc_;
  net::steady_timer heartbeatTimer_;  // io thread
  std::chrono::milliseconds heartbeatEvery_{1000};
  Clock::time_point nextHeartbeat_;
  Progress& progress_;

  grpc::ClientContext regCtx_;
  pb::RegisterRequest regReq_;
  pb::RegisterResponse regResp_;

  grpc::ClientContext ctx_;
  pb::ServerMessage in_;
  std::map<std::string, Desired> desired_;  // reaction thread
  bool sawWork_ = false;                    // under progress_.mu
  std::int64_t holds_ = -2;                 // under progress_.mu
  std::mutex mu_;
  std::deque<pb::AgentMessage> out_;  // under mu_; the front is being written
  bool writing_ = false;              // under mu_
  bool writeFailed_ = false;          // under mu_
  std::atomic<bool> started_{false};
  bool released_ = false;  // io thread
  std::atomic<bool> stopping_{false};
};

// ---- the benchmark ----

struct CpuWindow {
  double seconds = 0;
  double server = 0;    // CPU seconds used
  double postgres = 0;  // the postmaster and its backends
  double generator = 0;
  std::uint64_t heartbeats = 0;
  bool measured = false;
  double cores(double cpu) const { return seconds > 0 ? cpu / seconds : 0; }
};

struct WriteResult {
  std::int64_t write = 0;
  double putMs = 0, watchMs = -1, firstMs = 0, medianMs = 0, lastMs = 0;
  int reached = 0;
  std::uint64_t workSets = 0;
};

class Bench {
 public:
  Bench(Config cfg, HttpEndpoint api, std::string agentTarget)
      : cfg_(std::move(cfg)), api_(std::move(api)), agentTarget_(std::move(agentTarget)) {}

  /// Runs every phase; throws on a setup failure. Problems found on the way are counted
  /// (problems()) and the figures reported anyway.
  void run();
  void report(std::ostream& out) const;
  json::object toJson() const;
  int problems() const;

 private:
  template <typename T>
  T onIo(Awaitable<T> a) {
    return net::co_spawn(ioc_, std::move(a), net::use_future).get();
  }
  Awaitable<HttpReply> call(HttpMethod method, std::string target, std::string body = {}) {
    HttpConnection conn(ioc_.get_executor(), api_);
    co_return co_await conn.send({method, std::move(target), std::move(body)});
  }

  std::string clusterName(int i) const {
    char buf[32];
    std::snprintf(buf, sizeof buf, "sim-%0*d", width_, i + 1);
    return buf;
  }
  std::string bindingsPath() const {
    return std::string(kGroupVersion) + "/namespaces/" + cfg_.ns + "/bindings";
  }

  struct CpuSample {
    Clock::time_point at;
    double server = 0, generator = 0;
    std::map<int, double> postgres;
    std::uint64_t heartbeats = 0;
  };
  CpuSample sampleCpu();
  CpuWindow cpuBetween(const CpuSample& a, const CpuSample& b) const;
  CpuWindow measureCpu(double windowSeconds);
  Awaitable<std::vector<std::string>> createBootstrapTokens(int n);
  void connectAgents();
  void createApplication();
  std::string bindingBody(std::int64_t write) const;
  /// Writes the Binding for `write`; returns the PUT/POST round trip in ms (throws on failure).
  /// `sent` is set to the moment just before the request went out.
  Awaitable<double> writeBinding(std::int64_t write, Clock::time_point& sent);
  void runPhases();
  void startWatcher();
  Awaitable<void> watch();
  void onWatchData(std::string_view data);
  int readyClusters();
  void fanOut();
  void stopAgents();

  Config cfg_;
  HttpEndpoint api_;
  std::string agentTarget_;
  std::uint16_t agentPort_ = 0;
  int width_ = 4;
  net::io_context ioc_{1};
  std::thread ioThread_;
  Progress progress_;
  std::vector<std::unique_ptr<SimAgent>> agents_;
  std::string bindingRv_;
  std::unique_ptr<HttpConnection> writer_;     // io thread
  std::unique_ptr<HttpConnection> watchConn_;  // io thread
  std::string watchPending_;

  // results
  rlim_t openFileLimit_ = 0;
  double tokensSeconds_ = 0, registerSeconds_ = 0, connectSeconds_ = 0;
  int tcpConnections_ = 0;
  int nameCollisions_ = 0;  // generateName collisions retried (io thread, then main)
  int readyAtStart_ = 0, readyAtEnd_ = 0;
  CpuWindow idle_, steady_, fanoutCpu_;
  double serverRssMiB_ = 0;
  int serverThreads_ = 0;
  std::vector<WriteResult> writes_;
  int missedWrites_ = 0;

 public:
  ~Bench() {
    ioc_.stop();
    if (ioThread_.joinable()) ioThread_.join();
  }
  void startIo() {
    ioThread_ = std::thread([this] {
      auto guard = net::make_work_guard(ioc_);
      ioc_.run();
    });
  }
};

Bench::CpuSample Bench::sampleCpu() {
  CpuSample s;
  s.at = Clock::now();
  if (cfg_.serverPid > 0) {
    auto server = processCpuSeconds(cfg_.serverPid);
    if (!server)
      throw std::runtime_error("tessera-server (pid " + std::to_string(cfg_.serverPid) +
                               ") is gone");
    s.server = *server;
  }
  s.postgres = processTreeCpu(cfg_.postgresPid);
  s.generator = selfCpuSeconds();
  s.heartbeats = progress_.heartbeats.load();
  return s;
}

CpuWindow Bench::cpuBetween(const CpuSample& a, const CpuSample& b) const {
  CpuWindow w;
  w.measured = cfg_.serverPid > 0;
  w.seconds = std::chrono::duration<double>(b.at - a.at).count();
  w.server = b.server - a.server;
  w.postgres = treeCpuBetween(a.postgres, b.postgres);
  w.generator = b.generator - a.generator;
  w.heartbeats = b.heartbeats - a.heartbeats;
  return w;
}

CpuWindow Bench::measureCpu(double windowSeconds) {
  const CpuSample before = sampleCpu();
  // A measurement window, not a wait for a condition.
  std::this_thread::sleep_for(seconds(windowSeconds));
  return cpuBetween(before, sampleCpu());
}

Awaitable<std::vector<std::string>> Bench::createBootstrapTokens(int n) {
  std::vector<std::string> tokens(static_cast<std::size_t>(n));
  int next = 0, running = 0;
  std::string failure;
  net::steady_timer allDone(ioc_, Clock::time_point::max());
  const std::string body =
      R"({"apiVersion":"tessera.io/v1","kind":"BootstrapToken","metadata":{"generateName":"bt-"},)"
      R"("spec":{"description":"federation_bench"}})";
  auto worker = [&]() -> Awaitable<void> {
    HttpConnection conn(ioc_.get_executor(), api_);
    while (next < n && failure.empty()) {
      const int i = next++;
      HttpReply r;
      // A generated name that is taken already (the server does not retry generateName, and
      // 1,000 names of 5 random characters meet now and then) is retried with a new one.
      for (int attempt = 0; attempt < 5; ++attempt) {
        r = co_await conn.send(
            {HttpMethod::kPost, std::string(kGroupVersion) + "/bootstraptokens", body});
        if (r.status != 409 || r.body.find("AlreadyExists") == std::string::npos) break;
        ++nameCollisions_;
      }
      boost::system::error_code ec;
      json::value v = r.status == 201 ? json::parse(r.body, ec) : json::value();
      const json::value* token = v.is_object() ? v.find_pointer("/status/token", ec) : nullptr;
      if (!token || !token->is_string()) {
        failure = "creating a bootstrap token: " + describe(r);
        break;
      }
      tokens[static_cast<std::size_t>(i)] = std::string(token->get_string());
    }
    if (--running == 0) allDone.cancel();
  };
  for (int c = 0; c < std::max(1, cfg_.httpConnections); ++c) {
    ++running;
    net::co_spawn(ioc_, worker(), [](std::exception_ptr e) {
      if (e) std::rethrow_exception(e);
    });
  }
  while (running > 0) {
    boost::system::error_code ec;
    co_await allDone.async_wait(net::redirect_error(net::use_awaitable, ec));
  }
  if (!failure.empty()) throw std::runtime_error(failure);
  co_return tokens;
}

void Bench::connectAgents() {
  auto t0 = Clock::now();
  auto tokens = onIo(createBootstrapTokens(cfg_.agents));
  tokensSeconds_ = std::chrono::duration<double>(Clock::now() - t0).count();

  // One channel per agent, each with a subchannel pool of its own: gRPC would otherwise share
  // one TCP connection between channels to the same address with the same arguments.
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 20000);  // as tessera-agent
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 500);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 5000);
  for (int i = 0; i < cfg_.agents; ++i) {
    auto channel =
        grpc::CreateCustomChannel(agentTarget_, grpc::InsecureChannelCredentials(), args);
    agents_.push_back(std::make_unique<SimAgent>(clusterName(i),
                                                 "sim-dc-" + std::to_string(i % 4 + 1),
                                                 std::move(channel), ioc_, progress_));
  }

  // Registrations, a bounded number in flight; each agent connects once registered.
  t0 = Clock::now();
  const auto deadline = t0 + seconds(cfg_.connectTimeout);
  auto& inFlight = progress_.registering;
  for (int i = 0; i < cfg_.agents; ++i) {
    if (!progress_.waitUntil(deadline, [&] { return inFlight < cfg_.registerConcurrency; })) {
      throw std::runtime_error("registrations did not finish within --connect-timeout");
    }
    {
      std::lock_guard lock(progress_.mu);
      ++inFlight;
    }
    agents_[static_cast<std::size_t>(i)]->registerThenConnect(
        tokens[static_cast<std::size_t>(i)], [this] {
          {
            std::lock_guard lock(progress_.mu);
            --progress_.registering;
          }
          progress_.cv.notify_all();
        });
  }
  const int n = cfg_.agents;
  if (!progress_.waitUntil(deadline, [&] { return inFlight == 0; })) {
    throw std::runtime_error("registrations did not finish within --connect-timeout");
  }
  registerSeconds_ = std::chrono::duration<double>(Clock::now() - t0).count();
  progress_.waitUntil(deadline, [&] {
    return progress_.withWork + progress_.unexpectedEnds >= progress_.registered;
  });
  connectSeconds_ = std::chrono::duration<double>(Clock::now() - t0).count();
  std::lock_guard lock(progress_.mu);
  if (progress_.withWork < n) {
    progress_.problem(std::to_string(n - progress_.withWork) +
                      " agents did not get their first WorkSet");
  }
}

void Bench::createApplication() {
  json::object app{{"apiVersion", "tessera.io/v1"},
                   {"kind", "Application"},
                   {"metadata", {{"name", cfg_.binding}, {"namespace", cfg_.ns}}},
                   {"spec",
                    {{"template", {{"command", json::array{"tessera-demo-app"}}}},
                     {"placement", {{"cells", {{"type", "RZone"}}}}}}}};
  HttpReply r = onIo(call(HttpMethod::kPost,
                          std::string(kGroupVersion) + "/namespaces/" + cfg_.ns + "/applications",
                          json::serialize(app)));
  if (r.status != 201 && r.status != 409) {
    throw std::runtime_error("creating the Application: " + describe(r));
  }
}

std::string Bench::bindingBody(std::int64_t write) const {
  const std::string revision = cfg_.binding + "-w" + std::to_string(write);
  json::object templ{
      {"command", json::array{"tessera-demo-app"}},
      {"env", json::array{json::object{{"name", kWriteEnv}, {"value", std::to_string(write)}}}},
      {"ports", json::array{json::object{{"name", "http"}, {"port", 8080}}}},
      {"resources", {{"cpu", "100m"}, {"memory", "32Mi"}}}};
  json::array placements;
  placements.reserve(static_cast<std::size_t>(cfg_.agents));
  for (int i = 0; i < cfg_.agents; ++i) {
    placements.push_back(json::object{{"cluster", clusterName(i)},
                                      {"cell", "rz-" + std::to_string(i % 4 + 1)},
                                      {"revision", revision},
                                      {"replicas", 1}});
  }
  json::object meta{{"name", cfg_.binding}, {"namespace", cfg_.ns}};
  if (!bindingRv_.empty()) meta["resourceVersion"] = bindingRv_;
  json::object b{
      {"apiVersion", "tessera.io/v1"},
      {"kind", "Binding"},
      {"metadata", std::move(meta)},
      {"spec",
       {{"application", cfg_.binding},
        {"revisions", json::array{json::object{{"name", revision}, {"template", templ}}}},
        {"placements", std::move(placements)}}}};
  return json::serialize(b);
}

Awaitable<double> Bench::writeBinding(std::int64_t write, Clock::time_point& sent) {
  if (!writer_) writer_ = std::make_unique<HttpConnection>(ioc_.get_executor(), api_);
  HttpConnection& conn = *writer_;  // kept alive: a timed write does not include a connect
  const std::string item = bindingsPath() + "/" + cfg_.binding;
  if (bindingRv_.empty()) {  // the first write: create it, or take over one left by a run
    HttpReply got = co_await conn.send({HttpMethod::kGet, item});
    if (got.status == 200) {
      bindingRv_ =
          json::value_to<std::string>(json::parse(got.body).at("metadata").at("resourceVersion"));
    } else if (got.status != 404) {
      throw std::runtime_error("reading the Binding: " + describe(got));
    }
  }
  const bool create = bindingRv_.empty();
  HttpRequest req = create ? HttpRequest{HttpMethod::kPost, bindingsPath(), bindingBody(write)}
                           : HttpRequest{HttpMethod::kPut, item, bindingBody(write)};
  sent = Clock::now();
  HttpReply r = co_await conn.send(std::move(req));
  const double ms = msBetween(sent, Clock::now());
  if (r.status != (create ? 201 : 200)) {
    throw std::runtime_error("writing the Binding: " + describe(r));
  }
  bindingRv_ =
      json::value_to<std::string>(json::parse(r.body).at("metadata").at("resourceVersion"));
  co_return ms;
}

void Bench::startWatcher() {
  watchConn_ = std::make_unique<HttpConnection>(ioc_.get_executor(), api_);
  net::co_spawn(ioc_, watch(), [](std::exception_ptr e) {
    if (e) std::rethrow_exception(e);
  });
  const bool open = progress_.waitUntil(Clock::now() + std::chrono::seconds(30),
                                        [&] { return progress_.watchStatus != 0; });
  std::lock_guard lock(progress_.mu);
  if (!open || progress_.watchStatus != 200) {
    throw std::runtime_error("the watch of the Binding did not start (status " +
                             std::to_string(progress_.watchStatus) + ")");
  }
}

Awaitable<void> Bench::watch() {
  const std::string target = bindingsPath() + "?watch=true&resourceVersion=" + bindingRv_ +
                             "&fieldSelector=metadata.name%3D" + cfg_.binding;
  boost::system::error_code ec = co_await watchConn_->stream(
      {HttpMethod::kGet, target},
      [this](int status) {
        {
          std::lock_guard lock(progress_.mu);
          progress_.watchStatus = status;
        }
        progress_.cv.notify_all();
      },
      [this](std::string_view data) { onWatchData(data); });
  std::lock_guard lock(progress_.mu);
  progress_.watchEnded = true;
  (void)ec;
  progress_.cv.notify_all();
}

void Bench::onWatchData(std::string_view data) {
  const auto now = Clock::now();
  watchPending_.append(data);
  std::size_t from = 0;
  for (auto nl = watchPending_.find('\n'); nl != std::string::npos;
       nl = watchPending_.find('\n', from)) {
    std::string_view line(watchPending_.data() + from, nl - from);
    from = nl + 1;
    boost::system::error_code ec;
    json::value v = json::parse(line, ec);
    if (ec || !v.is_object()) continue;
    const json::value* env = v.find_pointer("/object/spec/revisions/0/template/env", ec);
    if (!env || !env->is_array()) continue;
    for (const auto& e : env->get_array()) {
      const json::value* name = e.is_object() ? e.get_object().if_contains("name") : nullptr;
      const json::value* value = e.is_object() ? e.get_object().if_contains("value") : nullptr;
      if (!name || !isString(*name, kWriteEnv) || !value || !value->is_string()) continue;
      const std::int64_t write = std::strtoll(value->get_string().c_str(), nullptr, 10);
      {
        std::lock_guard lock(progress_.mu);
        progress_.watchSeen.emplace(write, now);
      }
      progress_.cv.notify_all();
    }
  }
  watchPending_.erase(0, from);
}

int Bench::readyClusters() {
  return onIo([this]() -> Awaitable<int> {
    HttpConnection conn(ioc_.get_executor(), api_);
    int ready = 0;
    std::string cont;
    do {
      std::string target = std::string(kGroupVersion) + "/clusters?limit=500";
      if (!cont.empty()) target += "&continue=" + cont;
      HttpReply r = co_await conn.send({HttpMethod::kGet, target});
      if (r.status != 200) throw std::runtime_error("listing clusters: " + describe(r));
      json::value list = json::parse(r.body);
      for (const auto& c : list.at("items").as_array()) {
        boost::system::error_code ec;
        const json::value* name = c.find_pointer("/metadata/name", ec);
        if (!name || !name->is_string() ||
            !std::string_view(name->get_string()).starts_with("sim-"))
          continue;
        const json::value* conds = c.find_pointer("/status/conditions", ec);
        if (!conds || !conds->is_array()) continue;
        for (const auto& cond : conds->as_array()) {
          if (!cond.is_object()) continue;
          const json::value* type = cond.get_object().if_contains("type");
          const json::value* status = cond.get_object().if_contains("status");
          if (type && isString(*type, "Ready") && status && isString(*status, "True")) ++ready;
        }
      }
      boost::system::error_code ec;
      const json::value* next = list.find_pointer("/metadata/continue", ec);
      cont = next && next->is_string() ? std::string(next->get_string()) : std::string();
    } while (!cont.empty());
    co_return ready;
  }());
}

void Bench::fanOut() {
  std::mt19937_64 rng(std::random_device{}());
  std::uniform_real_distribution<double> gap(cfg_.gapMin, std::max(cfg_.gapMin, cfg_.gapMax));
  const int n = progress_.registered;
  for (std::int64_t write = 1; write <= cfg_.writes; ++write) {
    std::uint64_t workSets0 = 0;
    {
      std::lock_guard lock(progress_.mu);
      progress_.target = write;
      progress_.arrivals.clear();
      workSets0 = progress_.workSets;
    }
    Clock::time_point sent;
    WriteResult w;
    w.write = write;
    w.putMs = onIo(writeBinding(write, sent));
    const auto deadline = sent + seconds(cfg_.fanoutTimeout);
    const bool all = progress_.waitUntil(deadline, [&] {
      return static_cast<int>(progress_.arrivals.size()) >= n &&
             (progress_.watchSeen.count(write) || progress_.watchEnded);
    });
    std::unique_lock lock(progress_.mu);
    std::vector<double> ms;
    for (auto t : progress_.arrivals) ms.push_back(msBetween(sent, t));
    std::sort(ms.begin(), ms.end());
    w.reached = static_cast<int>(ms.size());
    if (!ms.empty()) {
      w.firstMs = ms.front();
      w.medianMs = ms[(ms.size() - 1) / 2];
      w.lastMs = ms.back();
    }
    if (auto it = progress_.watchSeen.find(write); it != progress_.watchSeen.end()) {
      w.watchMs = std::max(0.0, msBetween(sent, it->second));
    }
    // The WorkSets of this write: the agents answer each at once, so by now they have all come.
    w.workSets = progress_.workSets - workSets0;
    writes_.push_back(w);
    if (!all) {
      ++missedWrites_;
      progress_.problem("write " + std::to_string(write) + " reached " + std::to_string(w.reached) +
                        " of " + std::to_string(n) + " agents" +
                        (w.watchMs < 0 ? " and no watch event" : "") + " within " +
                        fixed(cfg_.fanoutTimeout, 0) + " s");
      break;  // the agents are behind: later writes would overlap
    }
    lock.unlock();
    // Spacing: the server also has the agents' acks and status reports of this write to handle.
    std::this_thread::sleep_for(seconds(gap(rng)));
  }
}

void Bench::stopAgents() {
  if (!ioThread_.joinable()) return;  // nothing started
  for (auto& a : agents_) a->expectEnd();
  std::promise<void> released;
  net::post(ioc_, [this, &released] {
    for (auto& a : agents_) a->release();
    if (watchConn_) watchConn_->cancel();
    released.set_value();
  });
  released.get_future().wait();
  int started = 0;
  for (auto& a : agents_) started += a->started();
  if (!progress_.waitUntil(Clock::now() + std::chrono::seconds(30),
                           [&] { return progress_.ended >= started; })) {
    // Reactors gRPC still holds must outlive it: leak them (the process ends next).
    for (auto& a : agents_) static_cast<void>(a.release());
    std::lock_guard lock(progress_.mu);
    progress_.problem("streams did not end within 30 s of cancelling them");
  }
}

void Bench::run() {
  try {
    runPhases();
  } catch (const std::exception&) {
    stopAgents();  // gRPC must be done with the reactors before they go
    throw;
  }
}

void Bench::runPhases() {
  openFileLimit_ = raiseOpenFileLimit();
  if (openFileLimit_ != RLIM_INFINITY && openFileLimit_ < static_cast<rlim_t>(cfg_.agents) + 256) {
    throw std::runtime_error("the open-file limit (" + std::to_string(openFileLimit_) +
                             ") is too low for " + std::to_string(cfg_.agents) + " agents");
  }
  width_ = std::max(4, static_cast<int>(std::to_string(cfg_.agents).size()));
  agentPort_ =
      static_cast<std::uint16_t>(std::stoi(agentTarget_.substr(agentTarget_.rfind(':') + 1)));
  startIo();

  HttpReply access = onIo(call(HttpMethod::kGet, bindingsPath() + "?limit=1"));
  if (access.status != 200) throw std::runtime_error("cannot list bindings: " + describe(access));

  std::cerr << "federation_bench: idle server CPU over " << cfg_.cpuWindow << " s\n";
  idle_ = measureCpu(cfg_.cpuWindow);

  std::cerr << "federation_bench: registering and connecting " << cfg_.agents << " agents\n";
  connectAgents();
  tcpConnections_ = establishedTo(agentPort_);

  // The warm-up write (not measured): every agent gets the workload once.
  createApplication();
  {
    std::lock_guard lock(progress_.mu);
    progress_.target = 0;
    progress_.arrivals.clear();
  }
  Clock::time_point sent;
  onIo(writeBinding(0, sent));
  const int n = progress_.registered;
  if (!progress_.waitUntil(sent + seconds(cfg_.connectTimeout),
                           [&] { return static_cast<int>(progress_.arrivals.size()) >= n; })) {
    std::lock_guard lock(progress_.mu);
    progress_.problem("the warm-up write reached " + std::to_string(progress_.arrivals.size()) +
                      " of " + std::to_string(n) + " agents");
  }
  // Steady state starts once the server has written every cluster Ready (the connect burst's
  // status writes are done).
  const auto readyDeadline = Clock::now() + seconds(cfg_.connectTimeout);
  while ((readyAtStart_ = readyClusters()) < n && Clock::now() < readyDeadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));  // polling, with a deadline
  }
  if (readyAtStart_ < n) {
    std::lock_guard lock(progress_.mu);
    progress_.problem(std::to_string(n - readyAtStart_) + " clusters not Ready after connecting");
  }

  std::cerr << "federation_bench: steady-state CPU over " << cfg_.cpuWindow << " s with " << n
            << " agents heartbeating\n";
  steady_ = measureCpu(cfg_.cpuWindow);
  if (cfg_.serverPid > 0) {
    serverRssMiB_ = statusMiB(cfg_.serverPid, "VmRSS");
    std::ifstream st("/proc/" + std::to_string(cfg_.serverPid) + "/status");
    std::string line;
    while (std::getline(st, line)) {
      if (line.rfind("Threads:", 0) == 0) serverThreads_ = std::stoi(line.substr(8));
    }
  }

  std::cerr << "federation_bench: " << cfg_.writes << " writes of the Binding\n";
  startWatcher();
  const CpuSample beforeWrites = sampleCpu();
  fanOut();
  fanoutCpu_ = cpuBetween(beforeWrites, sampleCpu());

  readyAtEnd_ = readyClusters();
  if (readyAtEnd_ < n) {
    std::lock_guard lock(progress_.mu);
    progress_.problem(std::to_string(n - readyAtEnd_) + " clusters not Ready at the end");
  }
  stopAgents();
}

int Bench::problems() const {
  const Progress& p = progress_;
  std::lock_guard lock(p.mu);
  int n = p.registerFailed + p.unexpectedEnds + missedWrites_;
  n += std::max(0, p.registered - p.withWork);
  n += std::max(0, cfg_.agents - readyAtEnd_);
  for (const auto& w : writes_) n += w.watchMs < 0;
  return n;
}

void Bench::report(std::ostream& out) const {
  const Progress& p = progress_;
  std::lock_guard lock(p.mu);
  const int n = cfg_.agents;
  out << "\nTessera federation benchmark: " << n << " simulated agents -> " << agentTarget_
      << " (API " << api_.address.to_string() << ":" << api_.port << "), one gRPC channel and "
      << "TCP connection each, gRPC callback API\n\n";
  out << "connect: " << n << " bootstrap tokens in " << fixed(tokensSeconds_, 1) << " s; "
      << p.registered << " registrations in " << fixed(registerSeconds_, 1) << " s ("
      << fixed(registerSeconds_ > 0 ? p.registered / registerSeconds_ : 0, 1) << "/s, "
      << cfg_.registerConcurrency << " in flight), failed " << p.registerFailed
      << "; token names generated twice (retried): " << nameCollisions_ << "; " << p.withWork
      << " sessions with their first WorkSet " << fixed(connectSeconds_, 1)
      << " s after the first registration\n";
  out << "TCP connections to the agent port: " << tcpConnections_ << "; open-file limit "
      << openFileLimit_ << "; clusters Ready: " << readyAtStart_ << " before the CPU window, "
      << readyAtEnd_ << " at the end\n\n";

  if (steady_.measured) {
    out << pad("CPU (cores = CPU s / wall s)", 34, false) << pad("window s", 10, true)
        << pad("server", 9, true) << pad("postgres", 10, true) << pad("bench", 8, true)
        << pad("heartbeats/s", 14, true) << "\n";
    auto row = [&](const std::string& name, const CpuWindow& w) {
      out << pad(name, 34, false) << pad(fixed(w.seconds, 1), 10, true)
          << pad(fixed(w.cores(w.server), 3), 9, true)
          << pad(cfg_.postgresPid > 0 ? fixed(w.cores(w.postgres), 3) : "-", 10, true)
          << pad(fixed(w.cores(w.generator), 3), 8, true)
          << pad(fixed(w.seconds > 0 ? static_cast<double>(w.heartbeats) / w.seconds : 0, 1), 14,
                 true)
          << "\n";
    };
    row("idle: no agents (baseline)", idle_);
    row(std::to_string(n) + " agents heartbeating", steady_);
    row("fan-out phase (writes + gaps)", fanoutCpu_);
    const double perHb = steady_.heartbeats > 0
                             ? (steady_.server - idle_.cores(idle_.server) * steady_.seconds) *
                                   1000 / static_cast<double>(steady_.heartbeats)
                             : 0;
    out << "server above idle per heartbeat: " << fixed(perHb, 3) << " ms of CPU; server RSS "
        << fixed(serverRssMiB_, 0) << " MiB, " << serverThreads_ << " threads; heartbeats sent "
        << ">100 ms late: " << p.heartbeatLagged.load() << "\n\n";
  }

  std::vector<double> put, watchMs, first, median, last;
  std::uint64_t minSets = UINT64_MAX, maxSets = 0;
  for (const auto& w : writes_) {
    put.push_back(w.putMs);
    if (w.watchMs >= 0) watchMs.push_back(w.watchMs);
    if (w.reached >= n) {
      first.push_back(w.firstMs);
      median.push_back(w.medianMs);
      last.push_back(w.lastMs);
    }
    minSets = std::min(minSets, w.workSets);
    maxSets = std::max(maxSets, w.workSets);
  }
  out << "fan-out: " << writes_.size() << " writes of Binding " << cfg_.ns << "/" << cfg_.binding
      << " (a workload on each of " << n << " clusters, a new revision per write), "
      << fixed(cfg_.gapMin, 1) << "-" << fixed(cfg_.gapMax, 1)
      << " s apart; all from just before the request is sent\n";
  out << pad("", 44, false) << pad("writes", 7, true) << pad("p50 ms", 9, true)
      << pad("p95 ms", 9, true) << pad("p99 ms", 9, true) << pad("max ms", 9, true)
      << pad("mean ms", 9, true) << "\n";
  auto row = [&](const std::string& name, const std::vector<double>& v) {
    Summary s = summarize(v);
    out << pad(name, 44, false) << pad(std::to_string(s.count), 7, true)
        << pad(fixed(s.p50, 1), 9, true) << pad(fixed(s.p95, 1), 9, true)
        << pad(fixed(s.p99, 1), 9, true) << pad(fixed(s.max, 1), 9, true)
        << pad(fixed(s.mean, 1), 9, true) << "\n";
  };
  row("API PUT answered (baseline)", put);
  row("REST watch event at 1 watcher (baseline)", watchMs);
  row("first agent has the work", first);
  row("median agent has the work", median);
  row("all " + std::to_string(n) + " agents have the work", last);
  out << "WorkSets received per write: " << (writes_.empty() ? 0 : minSets) << "-" << maxSets
      << " (one per agent expected); writes that missed an agent: " << missedWrites_ << "\n";
  if (last.size() < 100) {
    out << "(with fewer than 100 writes the nearest-rank p99 is the maximum)\n";
  }

  out << "\ngoals (informational):\n";
  if (steady_.measured) {
    const double cores = steady_.cores(steady_.server);
    out << "  server CPU with " << n << " agents at 1 s heartbeats < 1 core: " << fixed(cores, 3)
        << " cores -> " << (cores < 1 ? "met" : "NOT met") << "\n";
  }
  if (!last.empty()) {
    Summary s = summarize(last);
    out << "  API write -> all " << n << " agents p99 <= 500 ms: " << fixed(s.p99, 1) << " ms -> "
        << (s.p99 <= 500 && missedWrites_ == 0 ? "met" : "NOT met")
        << " (Karmada reports pull-mode propagation p99 ~1 s for 100 clusters)\n";
  }
  if (!p.firstProblem.empty()) out << "\nfirst problem: " << p.firstProblem << "\n";
}

json::object cpuJson(const CpuWindow& w) {
  return json::object{{"seconds", w.seconds},
                      {"server_cores", w.cores(w.server)},
                      {"postgres_cores", w.cores(w.postgres)},
                      {"bench_cores", w.cores(w.generator)},
                      {"heartbeats", w.heartbeats}};
}

json::object summaryJson(const std::vector<double>& v) {
  Summary s = summarize(v);
  return json::object{{"count", s.count}, {"p50_ms", s.p50}, {"p95_ms", s.p95},
                      {"p99_ms", s.p99},  {"max_ms", s.max}, {"mean_ms", s.mean}};
}

json::object Bench::toJson() const {
  const Progress& p = progress_;
  std::lock_guard lock(p.mu);
  json::object o;
  o["bench"] = "tessera-federation";
  o["agents"] = cfg_.agents;
  o["agent_target"] = agentTarget_;
  o["registered"] = p.registered;
  o["register_failed"] = p.registerFailed;
  o["welcomed"] = p.welcomed;
  o["sessions_with_work"] = p.withWork;
  o["unexpected_stream_ends"] = p.unexpectedEnds;
  o["tcp_connections"] = tcpConnections_;
  o["tokens_seconds"] = tokensSeconds_;
  o["token_name_collisions"] = nameCollisions_;
  o["register_seconds"] = registerSeconds_;
  o["connect_seconds"] = connectSeconds_;
  o["clusters_ready_start"] = readyAtStart_;
  o["clusters_ready_end"] = readyAtEnd_;
  if (steady_.measured) {
    o["cpu_idle"] = cpuJson(idle_);
    o["cpu_steady"] = cpuJson(steady_);
    o["cpu_fanout"] = cpuJson(fanoutCpu_);
    o["server_rss_mib"] = serverRssMiB_;
    o["server_threads"] = serverThreads_;
  }
  std::vector<double> put, watchMs, first, median, last;
  json::array each;
  for (const auto& w : writes_) {
    put.push_back(w.putMs);
    if (w.watchMs >= 0) watchMs.push_back(w.watchMs);
    if (w.reached >= cfg_.agents) {
      first.push_back(w.firstMs);
      median.push_back(w.medianMs);
      last.push_back(w.lastMs);
    }
    each.push_back(json::object{{"write", w.write},
                                {"put_ms", w.putMs},
                                {"watch_ms", w.watchMs},
                                {"first_ms", w.firstMs},
                                {"median_ms", w.medianMs},
                                {"last_ms", w.lastMs},
                                {"reached", w.reached},
                                {"worksets", w.workSets}});
  }
  o["put"] = summaryJson(put);
  o["watch_event"] = summaryJson(watchMs);
  o["first_agent"] = summaryJson(first);
  o["median_agent"] = summaryJson(median);
  o["all_agents"] = summaryJson(last);
  o["missed_writes"] = missedWrites_;
  o["writes"] = std::move(each);
  o["first_problem"] = p.firstProblem;
  return o;
}

std::string readTrimmed(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::stringstream text;
  text << in.rdbuf();
  std::string s = text.str();
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace
}  // namespace tessera::bench

int main(int argc, char** argv) {
  using namespace tessera::bench;
  Config cfg;
  CLI::App app{
      "federation_bench: N simulated agents against one tessera-server: CPU at steady "
      "heartbeats and the latency of a Binding write to every agent"};
  app.add_option("--agents", cfg.agents, "simulated agents (clusters)")->capture_default_str();
  app.add_option("--writes", cfg.writes, "measured writes of the Binding")->capture_default_str();
  app.add_option("--cpu-window", cfg.cpuWindow, "seconds of each CPU window")
      ->capture_default_str();
  app.add_option("--server", cfg.server, "the REST API, host:port (an IP)")->required();
  app.add_option("--agent-server", cfg.agentServer, "the agents' gRPC endpoint, host:port")
      ->required();
  app.add_option("--token", cfg.token, "admin bearer token (or env TESSERA_TOKEN)");
  app.add_option("--token-file", cfg.tokenFile, "read the admin bearer token from this file");
  app.add_option("--kubeconfig", cfg.kubeconfig, "read the admin bearer token from a kubeconfig");
  app.add_option("--namespace", cfg.ns, "namespace of the Application and Binding")
      ->capture_default_str();
  app.add_option("--server-pid", cfg.serverPid, "tessera-server's pid: measure its CPU");
  app.add_option("--postgres-pid", cfg.postgresPid,
                 "the postmaster's pid: measure PostgreSQL's CPU too (it and its children)");
  app.add_option("--register-concurrency", cfg.registerConcurrency, "registrations in flight")
      ->capture_default_str();
  app.add_option("--gap-min", cfg.gapMin, "seconds between a write's completion and the next, min")
      ->capture_default_str();
  app.add_option("--gap-max", cfg.gapMax, "... max (uniformly random in between)")
      ->capture_default_str();
  app.add_option("--connect-timeout", cfg.connectTimeout,
                 "seconds for every agent to register and connect")
      ->capture_default_str();
  app.add_option("--fanout-timeout", cfg.fanoutTimeout,
                 "seconds for one write to reach every agent")
      ->capture_default_str();
  app.add_option("--json", cfg.jsonOut, "also write the JSON result to this file");
  CLI11_PARSE(app, argc, argv);

  // Debian's Abseil is built without NDEBUG, so its deadlock detector is on: every absl::Mutex
  // gRPC takes while holding another goes through one global graph (~13 % of this process's
  // CPU under perf). The load generator does not need it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);

  try {
    if (cfg.agents < 1 || cfg.writes < 1 || cfg.cpuWindow <= 0 || cfg.registerConcurrency < 1) {
      throw std::runtime_error(
          "--agents, --writes, --cpu-window and --register-concurrency must be positive");
    }
    if (cfg.token.empty() && !cfg.tokenFile.empty()) cfg.token = readTrimmed(cfg.tokenFile);
    if (cfg.token.empty() && !cfg.kubeconfig.empty()) {
      cfg.token = tessera::kubeconfigToken(readTrimmed(cfg.kubeconfig));
    }
    if (cfg.token.empty()) {
      if (const char* env = std::getenv("TESSERA_TOKEN")) cfg.token = env;
    }
    if (cfg.token.empty()) {
      throw std::runtime_error("give --token, --token-file, --kubeconfig or TESSERA_TOKEN");
    }
    const auto colon = cfg.server.rfind(':');
    if (colon == std::string::npos) throw std::runtime_error("--server wants host:port");
    HttpEndpoint api;
    api.address = boost::asio::ip::make_address(cfg.server.substr(0, colon));
    api.host = api.address.to_string();
    api.port = static_cast<std::uint16_t>(std::stoi(cfg.server.substr(colon + 1)));
    api.authorization = "Bearer " + cfg.token;
    api.userAgent = "tessera-federation-bench";
    const auto agentColon = cfg.agentServer.rfind(':');
    const auto agentHost = boost::asio::ip::make_address(cfg.agentServer.substr(0, agentColon));
    if (!api.address.is_loopback() || agentColon == std::string::npos || !agentHost.is_loopback()) {
      throw std::runtime_error(
          "load goes to loopback only: --server and --agent-server must be 127.0.0.1:PORT");
    }

    Bench bench(cfg, api, cfg.agentServer);
    bench.run();
    bench.report(std::cout);
    const std::string line = boost::json::serialize(bench.toJson());
    if (!cfg.jsonOut.empty()) std::ofstream(cfg.jsonOut) << line << "\n";
    std::cout << "\n" << line << std::endl;
    if (int p = bench.problems(); p > 0) {
      std::cerr << "federation_bench: " << p << " problems (failed registrations or streams, "
                << "missed WorkSets or watch events, clusters not Ready)\n";
      return 3;
    }
  } catch (const std::exception& e) {
    std::cerr << "federation_bench: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
