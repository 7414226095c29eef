// ConfigClient over gRPC's synchronous API: one thread per client holds the stream, applies
// each response through ApplyFn and answers it with an ACK or a NACK; between streams it waits
// a jittered, growing backoff (mesh/proto/mesh.proto describes the protocol).
#include "mesh/xds/config_client.h"

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

#include "common/logging.h"
#include "mesh/proto/mesh.grpc.pb.h"

namespace tessera::mesh {
namespace {

namespace pb = ::tessera::mesh::v1;
using Clock = std::chrono::steady_clock;

constexpr ResourceType kTypes[] = {ResourceType::kCluster, ResourceType::kShardMap,
                                   ResourceType::kRouteTable, ResourceType::kListener};
// The server sends this initial metadata once it has accepted the proxy's credential.
constexpr char kAcceptedKey[] = "x-tessera-mesh";

struct Applied {
  std::string version;
  std::vector<ResourceSet::Named> resources;
};

class GrpcConfigClient final : public ConfigClient {
 public:
  GrpcConfigClient(ConfigClientOptions options, ApplyFn apply)
      : options_(std::move(options)), apply_(std::move(apply)), rng_(std::random_device{}()) {}
  ~GrpcConfigClient() override { stop(); }

  void start() override {
    std::lock_guard lock(mu_);
    if (started_) return;
    started_ = true;
    thread_ = std::thread([this] { run(); });
  }

  void stop() override {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
      stopping_ = true;
      if (context_) context_->TryCancel();
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  bool connected() const override { return connected_.load(); }
  std::uint64_t acks() const override { return acks_.load(); }
  std::uint64_t nacks() const override { return nacks_.load(); }

 private:
  std::shared_ptr<grpc::Channel> makeChannel() {
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(64 * 1024 * 1024);
    args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 20000);
    args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
    args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
    // Our own backoff decides when to reconnect; gRPC's must not add to it.
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, static_cast<int>(options_.maxBackoff.count()));
    std::shared_ptr<grpc::ChannelCredentials> creds;
    if (options_.caFile.empty()) {
      creds = grpc::InsecureChannelCredentials();
    } else {
      std::ifstream in(options_.caFile);
      std::stringstream pem;
      pem << in.rdbuf();
      if (pem.str().empty()) {
        log_->error("cannot read the control plane's CA file={}", options_.caFile);
      }
      grpc::SslCredentialsOptions ssl;
      ssl.pem_root_certs = pem.str();
      creds = grpc::SslCredentials(ssl);
      if (!options_.serverName.empty()) {
        args.SetSslTargetNameOverride(options_.serverName);
      }
    }
    return grpc::CreateCustomChannel(options_.server, creds, args);
  }

  void run() {
    auto channel = makeChannel();
    auto stub = pb::MeshDiscovery::NewStub(channel);
    auto backoff = options_.initialBackoff;
    while (!isStopping()) {
      const bool accepted = runStream(*stub);
      connected_ = false;
      if (isStopping()) break;
      if (accepted) backoff = options_.initialBackoff;
      const auto half = backoff / 2;
      std::uniform_int_distribution<long long> pick(half.count(), backoff.count());
      const std::chrono::milliseconds delay(pick(rng_));
      backoff = std::min(options_.maxBackoff, backoff * 2);
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, delay, [this] { return stopping_; });
    }
  }

  bool isStopping() {
    std::lock_guard lock(mu_);
    return stopping_;
  }

  pb::DiscoveryRequest initialRequest(ResourceType type, bool first) const {
    pb::DiscoveryRequest r;
    if (first) {
      auto* n = r.mutable_node();
      const ProxyIdentity& id = options_.identity;
      n->set_id(id.id);
      n->set_datacenter(id.datacenter);
      n->set_cell(id.cell);
      n->set_role(id.role);
      n->set_listen_address(id.listenAddress);
      n->set_admin_address(id.adminAddress);
      n->set_build_version(options_.buildVersion);
    }
    r.set_type_url(std::string(typeUrl(type)));
    const Applied& a = applied_[static_cast<std::size_t>(type)];
    r.set_version_info(a.version);
    for (const auto& res : a.resources) {
      auto* out = r.add_applied();
      out->set_name(res.name);
      out->set_json(res.json);
    }
    return r;
  }

  /// One stream, until it ends. Returns whether the server accepted the proxy.
  bool runStream(pb::MeshDiscovery::Stub& stub) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", "Bearer " + options_.token);
    {
      std::lock_guard lock(mu_);
      if (stopping_) return false;
      context_ = &ctx;
    }
    auto stream = stub.StreamResources(&ctx);
    bool accepted = false;
    bool first = true;
    bool writable = true;
    for (ResourceType t : kTypes) {
      if (!stream->Write(initialRequest(t, first))) {
        writable = false;
        break;
      }
      first = false;
    }
    if (writable) {
      stream->WaitForInitialMetadata();
      const auto& md = ctx.GetServerInitialMetadata();
      if (md.find(kAcceptedKey) != md.end()) {
        accepted = true;
        connected_ = true;
        log_->info("connected to the control plane server={} node={}", options_.server,
                   options_.identity.id);
      }
    }
    pb::DiscoveryResponse resp;
    while (writable && stream->Read(&resp)) {
      pb::DiscoveryRequest answer = handle(resp);
      if (!stream->Write(answer)) break;
    }
    stream->WritesDone();
    grpc::Status status = stream->Finish();
    {
      std::lock_guard lock(mu_);
      context_ = nullptr;
    }
    if (!isStopping()) {
      if (status.error_code() == grpc::StatusCode::UNAUTHENTICATED ||
          status.error_code() == grpc::StatusCode::PERMISSION_DENIED ||
          status.error_code() == grpc::StatusCode::INVALID_ARGUMENT) {
        log_->error("the control plane refused this proxy server={} code={} reason=\"{}\"",
                    options_.server, static_cast<int>(status.error_code()), status.error_message());
      } else {
        log_->warn("control plane stream ended server={} code={} reason=\"{}\"", options_.server,
                   static_cast<int>(status.error_code()), status.error_message());
      }
    }
    return accepted;
  }

  pb::DiscoveryRequest handle(const pb::DiscoveryResponse& resp) {
    pb::DiscoveryRequest answer;
    answer.set_type_url(resp.type_url());
    answer.set_response_nonce(resp.nonce());
    auto type = resourceTypeFromUrl(resp.type_url());
    if (!type) {
      answer.set_error_detail("unknown resource type \"" + resp.type_url() + "\"");
      nacks_++;
      log_->warn("config rejected type={} version={} reason=\"{}\"", resp.type_url(),
                 resp.version_info(), answer.error_detail());
      return answer;
    }
    Applied& last = applied_[static_cast<std::size_t>(*type)];
    std::vector<ResourceSet::Named> resources;
    resources.reserve(static_cast<std::size_t>(resp.resources_size()));
    for (const auto& r : resp.resources()) resources.push_back({r.name(), r.json()});
    Status s = apply_(*type, resp.version_info(), resources);
    if (s.isOk()) {
      last.version = resp.version_info();
      last.resources = std::move(resources);
      answer.set_version_info(last.version);
      acks_++;
    } else {
      answer.set_version_info(last.version);
      answer.set_error_detail(s.message().empty() ? "rejected" : s.message());
      nacks_++;
      log_->warn("config rejected type={} version={} kept={} reason=\"{}\"", resp.type_url(),
                 resp.version_info(), last.version, answer.error_detail());
    }
    return answer;
  }

  const ConfigClientOptions options_;
  const ApplyFn apply_;
  std::shared_ptr<spdlog::logger> log_ = getLogger("xds");
  std::mt19937_64 rng_;  // client thread only
  Applied applied_[4];   // client thread only: the last set applied per type

  std::mutex mu_;
  std::condition_variable cv_;
  bool started_ = false;
  bool stopping_ = false;
  grpc::ClientContext* context_ = nullptr;  // the stream in progress, for stop()
  std::thread thread_;

  std::atomic<bool> connected_{false};
  std::atomic<std::uint64_t> acks_{0}, nacks_{0};
};

}  // namespace

std::unique_ptr<ConfigClient> ConfigClient::create(ConfigClientOptions options, ApplyFn apply) {
  return std::make_unique<GrpcConfigClient>(std::move(options), std::move(apply));
}

}  // namespace tessera::mesh
