#include "federation/agent/agent.h"

#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <thread>

#include "common/crypto.h"
#include "common/logging.h"
#include "federation/proto/agent.grpc.pb.h"
#include "federation/protocol.h"

namespace tessera::federation {
namespace pb = ::tessera::federation::v1;
using Clock = std::chrono::steady_clock;

namespace {

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

bool writeSecret(const std::string& path, const std::string& secret) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  std::string data = secret + "\n";
  bool ok = ::write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size());
  ::fchmod(fd, 0600);
  ::fsync(fd);
  ::close(fd);
  return ok && ::rename(tmp.c_str(), path.c_str()) == 0;
}

pb::Resources toProto(const runtime::Capacity& c) {
  pb::Resources r;
  r.set_cpu_millis(c.cpuMillis);
  r.set_memory_bytes(c.memoryBytes);
  r.set_pods(c.pods);
  return r;
}

runtime::WorkloadSpec toSpec(const pb::Workload& w) {
  runtime::WorkloadSpec s;
  s.key = w.key();
  s.ns = w.namespace_();
  s.application = w.application();
  s.revision = w.revision();
  s.cell = w.cell();
  s.replicas = w.replicas();
  const auto& t = w.template_();
  s.command.assign(t.command().begin(), t.command().end());
  s.args.assign(t.args().begin(), t.args().end());
  for (const auto& e : t.env()) s.env.emplace_back(e.name(), e.value());
  for (const auto& p : t.ports())
    s.ports.push_back({p.name(), static_cast<std::uint16_t>(p.port())});
  if (t.has_readiness()) {
    runtime::ProbeSpec probe;
    probe.path = t.readiness().path().empty() ? "/" : t.readiness().path();
    probe.portName = t.readiness().port();
    probe.periodSeconds = std::max(1, t.readiness().period_seconds());
    probe.timeoutSeconds = std::max(1, t.readiness().timeout_seconds());
    s.readiness = probe;
  }
  s.cpuMillis = t.cpu_millis();
  s.memoryBytes = t.memory_bytes();
  return s;
}

pb::StatusReport toProto(const std::vector<runtime::WorkloadStatus>& all) {
  pb::StatusReport report;
  for (const auto& w : all) {
    auto* ws = report.add_workloads();
    ws->set_key(w.key);
    ws->set_desired(w.desired);
    ws->set_ready(w.ready);
    ws->set_available(w.available);
    ws->set_restarts(w.restarts);
    for (const auto& r : w.replicas) {
      auto* rs = ws->add_replicas();
      rs->set_name(r.name);
      rs->set_ordinal(r.ordinal);
      rs->set_state(runtime::replicaStateName(r.state));
      rs->set_ready(r.ready);
      rs->set_restarts(r.restarts);
      rs->set_message(r.message);
      rs->set_host(r.host);
      for (const auto& [name, port] : r.ports) (*rs->mutable_ports())[name] = port;
      if (r.startedAt) {
        rs->set_started_unix_ms(
            std::chrono::duration_cast<std::chrono::milliseconds>(r.startedAt->time_since_epoch())
                .count());
      }
      if (r.lastExitCode) rs->set_last_exit_code(*r.lastExitCode);
      rs->set_pid(r.pid);
    }
  }
  return report;
}

std::shared_ptr<grpc::Channel> channel(const AgentOptions& o) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 20000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 500);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 5000);
  if (!o.caFile.empty()) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = readFile(o.caFile) + "\n";
    return grpc::CreateCustomChannel(o.server, grpc::SslCredentials(ssl), args);
  }
  return grpc::CreateCustomChannel(o.server, grpc::InsecureChannelCredentials(), args);
}

bool refusal(grpc::StatusCode c) {
  return c == grpc::StatusCode::UNAUTHENTICATED || c == grpc::StatusCode::PERMISSION_DENIED ||
         c == grpc::StatusCode::FAILED_PRECONDITION || c == grpc::StatusCode::INVALID_ARGUMENT;
}

}  // namespace

// One Connect stream and the threads that feed it.
struct Agent::Session {
  grpc::ClientContext ctx;
  std::unique_ptr<grpc::ClientReaderWriter<pb::AgentMessage, pb::ServerMessage>> stream;
  std::mutex writeMu;
  bool open = true;  // guarded by writeMu

  bool write(const pb::AgentMessage& m) {
    std::lock_guard lock(writeMu);
    if (!open) return false;
    if (!stream->Write(m)) open = false;
    return open;
  }
};

Agent::Agent(AgentOptions options, runtime::Runtime& runtime)
    : options_(std::move(options)), runtime_(runtime) {}

Agent::~Agent() {
  stop();
}

void Agent::stop() {
  std::lock_guard lock(mu_);
  stopping_ = true;
  if (current_) current_->ctx.TryCancel();
  cv_.notify_all();
}

namespace {

/// Between half and all of `backoff`, at random: agents that lost the same server do not all
/// come back in the same millisecond.
std::chrono::milliseconds jittered(std::chrono::milliseconds backoff) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  const auto half = backoff.count() / 2;
  std::uniform_int_distribution<std::int64_t> extra(
      0, std::max<std::int64_t>(0, backoff.count() - half));
  return std::chrono::milliseconds(half + extra(rng));
}

}  // namespace

bool Agent::sleepUnlessStopped(std::chrono::milliseconds d) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, d, [&] { return stopping_.load(); });
  return !stopping_;
}

int Agent::registerCluster() {
  auto log = getLogger("agent");
  auto stub = pb::AgentService::NewStub(channel(options_));
  auto backoff = options_.reconnectMin;
  while (!stopping_) {
    pb::RegisterRequest req;
    req.set_bootstrap_token(options_.bootstrapToken);
    req.set_cluster(options_.cluster);
    req.set_region(options_.region);
    req.set_zone(options_.zone);
    req.set_runtime(options_.runtimeName);
    req.mutable_version()->set_major(kProtocolMajor);
    req.mutable_version()->set_minor(kProtocolMinor);
    req.set_agent_version(kAgentVersion);
    *req.mutable_capacity() = toProto(runtime_.capacity());
    pb::RegisterResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    grpc::Status s = stub->Register(&ctx, req, &resp);
    if (s.ok()) {
      if (!writeSecret(options_.credentialFile, resp.credential())) {
        log->critical("cannot write the credential file path={}", options_.credentialFile);
        return kAgentBadConfig;
      }
      credential_ = resp.credential();
      log->info("registered cluster={} uid={} credential={}", options_.cluster, resp.cluster_uid(),
                options_.credentialFile);
      return kAgentStopped;
    }
    if (refusal(s.error_code())) {
      log->critical("registration refused cluster={} reason=\"{}\"", options_.cluster,
                    s.error_message());
      return kAgentRefused;
    }
    const auto wait = jittered(backoff);
    log->warn("registration failed, retrying error=\"{}\" in_ms={}", s.error_message(),
              wait.count());
    if (!sleepUnlessStopped(wait)) break;
    backoff = std::min(backoff * 2, options_.reconnectMax);
  }
  return kAgentStopped;
}

int Agent::run() {
  auto log = getLogger("agent");
  credential_ = readFile(options_.credentialFile);
  if (credential_.empty()) {
    if (options_.bootstrapToken.empty()) {
      log->critical("no credential in {} and no bootstrap token (--token) to register with",
                    options_.credentialFile);
      return kAgentBadConfig;
    }
    int r = registerCluster();
    if (r != kAgentStopped || stopping_) return r;
  }
  auto backoff = options_.reconnectMin;
  while (!stopping_) {
    auto started = Clock::now();
    if (!session()) return exitCode_;
    if (stopping_) break;
    if (Clock::now() - started > std::chrono::seconds(30)) backoff = options_.reconnectMin;
    const auto wait = jittered(backoff);
    log->info("reconnecting in_ms={}", wait.count());
    if (!sleepUnlessStopped(wait)) break;
    backoff = std::min(backoff * 2, options_.reconnectMax);
  }
  return kAgentStopped;
}

bool Agent::session() {
  auto log = getLogger("agent");
  auto stub = pb::AgentService::NewStub(channel(options_));
  Session sess;
  sess.ctx.AddMetadata("authorization", "Bearer " + credential_);
  {
    std::lock_guard lock(mu_);
    if (stopping_) return true;
    current_ = &sess;
  }
  sess.stream = stub->Connect(&sess.ctx);

  pb::AgentMessage hello;
  auto* h = hello.mutable_hello();
  h->set_cluster(options_.cluster);
  h->mutable_version()->set_major(kProtocolMajor);
  h->mutable_version()->set_minor(kProtocolMinor);
  h->set_agent_version(kAgentVersion);
  h->set_runtime(options_.runtimeName);
  *h->mutable_capacity() = toProto(runtime_.capacity());
  *h->mutable_allocatable() = toProto(runtime_.allocatable());
  sess.write(hello);

  // Status reports: whenever the runtime changes, at most every statusCoalesce.
  std::mutex stMu;
  std::condition_variable stCv;
  bool stDirty = true, stDone = false;
  runtime_.onChange([&] {
    std::lock_guard lock(stMu);
    stDirty = true;
    stCv.notify_all();
  });
  std::chrono::milliseconds heartbeatEvery{0};
  std::thread reporter([&] {
    auto lastHeartbeat = Clock::now();
    std::unique_lock lock(stMu);
    while (!stDone) {
      auto hb = heartbeatEvery.count() > 0 ? heartbeatEvery : std::chrono::milliseconds(1000);
      stCv.wait_until(lock, lastHeartbeat + hb, [&] { return stDone || stDirty; });
      if (stDone) break;
      bool dirty = stDirty;
      stDirty = false;
      lock.unlock();
      if (dirty) {
        pb::AgentMessage m;
        *m.mutable_status() = toProto(runtime_.status());
        sess.write(m);
      }
      if (heartbeatEvery.count() > 0 && Clock::now() - lastHeartbeat >= heartbeatEvery) {
        pb::AgentMessage m;
        *m.mutable_heartbeat()->mutable_capacity() = toProto(runtime_.capacity());
        *m.mutable_heartbeat()->mutable_allocatable() = toProto(runtime_.allocatable());
        sess.write(m);
        lastHeartbeat = Clock::now();
      }
      std::this_thread::sleep_for(options_.statusCoalesce);
      lock.lock();
    }
  });

  std::map<std::string, pb::Workload> desired;
  pb::ServerMessage in;
  while (sess.stream->Read(&in)) {
    switch (in.kind_case()) {
      case pb::ServerMessage::kWelcome: {
        std::lock_guard lock(stMu);
        heartbeatEvery = std::chrono::milliseconds(
            std::max<std::uint32_t>(100, in.welcome().heartbeat_interval_ms()));
        stCv.notify_all();
        connected_ = true;
        log->info("connected server={} cluster={} heartbeat_ms={}", options_.server,
                  options_.cluster, heartbeatEvery.count());
        break;
      }
      case pb::ServerMessage::kWork: {
        const auto& w = in.work();
        if (w.full()) desired.clear();
        for (const auto& key : w.removals()) desired.erase(key);
        for (const auto& u : w.upserts()) desired[u.key()] = u;
        std::vector<runtime::WorkloadSpec> specs;
        specs.reserve(desired.size());
        for (const auto& [key, wl] : desired) specs.push_back(toSpec(wl));
        runtime_.apply(std::move(specs));
        pb::AgentMessage ack;
        ack.mutable_work_ack()->set_version(w.version());
        sess.write(ack);
        log->info("work applied version={} full={} workloads={}", w.version(), w.full(),
                  desired.size());
        break;
      }
      case pb::ServerMessage::kLogRequest: {
        const auto& r = in.log_request();
        pb::AgentMessage out;
        auto* lr = out.mutable_log();
        lr->set_request_id(r.request_id());
        auto lines = runtime_.logs(r.replica(), r.tail_lines() > 0 ? r.tail_lines() : 100);
        if (lines.isOk()) {
          for (auto& l : *lines) lr->add_lines(std::move(l));
        } else {
          lr->set_error(lines.status().code() == StatusCode::kNotFound
                            ? "unknown replica " + r.replica()
                            : lines.status().message());
        }
        sess.write(out);
        break;
      }
      case pb::ServerMessage::KIND_NOT_SET:
        break;
    }
  }
  connected_ = false;
  {
    std::lock_guard lock(stMu);
    stDone = true;
    stCv.notify_all();
  }
  reporter.join();
  runtime_.onChange(nullptr);
  {
    std::lock_guard lock(sess.writeMu);
    sess.open = false;
  }
  grpc::Status status = sess.stream->Finish();
  {
    std::lock_guard lock(mu_);
    current_ = nullptr;
  }
  if (stopping_) return true;
  if (refusal(status.error_code())) {
    log->critical("the server refused this agent reason=\"{}\"", status.error_message());
    exitCode_ = kAgentRefused;
    return false;
  }
  log->warn("session ended code={} reason=\"{}\"", static_cast<int>(status.error_code()),
            status.error_message());
  return true;
}

}  // namespace tessera::federation
