#include "federation/server/federation_server.h"

#include <grpcpp/grpcpp.h>
#include <prometheus/registry.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "apiserver/async_event.h"
#include "apiserver/credential.h"
#include "apiserver/kinds/kinds.h"
#include "apiserver/object_meta.h"
#include "common/crypto.h"
#include "common/grpc_server.h"
#include "common/logging.h"
#include "common/metrics.h"
#include "common/quantity.h"
#include "federation/proto/agent.grpc.pb.h"
#include "federation/protocol.h"
#include "federation/server/work_index.h"

namespace tessera::federation {
namespace json = boost::json;
namespace net = boost::asio;
using apiserver::Awaitable;
using apiserver::KindInfo;
using apiserver::Outcome;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::size_t kMaxQueuedMessages = 10000;
// Named, never a braced temporary in a co_await expression (GCC 12, docs/architecture.md).
const apiserver::WriteOptions kPlainWrite{};

std::string str(const json::object& o, std::string_view path) {
  json::value v = apiserver::schemas::at(o, path);
  return v.is_string() ? std::string(v.get_string()) : std::string();
}

json::object resources(const pb::Resources& r) {
  return json::object{{"cpu", formatMilli(r.cpu_millis())},
                      {"memory", formatBytes(r.memory_bytes())},
                      {"pods", r.pods()}};
}

grpc::Status refuse(grpc::StatusCode code, std::string why) {
  return grpc::Status(code, why);
}

// Messages a PendingLog can carry back to the waiting request.
struct PendingLog {
  explicit PendingLog(net::any_io_executor ex) : event(ex) {}
  std::mutex mu;
  bool done = false;
  Result<std::string> result;
  apiserver::AsyncEvent event;

  void complete(Result<std::string> r) {
    {
      std::lock_guard lock(mu);
      if (done) return;
      done = true;
      result = std::move(r);
    }
    event.notify();
  }
};

}  // namespace

struct FederationServer::Impl {
  class Session;
  class Service;

  FederationOptions options;
  const apiserver::KindRegistry& kinds;
  apiserver::Storage& storage;
  apiserver::WatchHub& hub;
  apiserver::Registry& registry;
  std::shared_ptr<spdlog::logger> log = getLogger("federation");

  const KindInfo* clusterKind;
  const KindInfo* bindingKind;
  const KindInfo* replicaKind;
  const KindInfo* applicationKind;
  const KindInfo* apiTokenKind;
  const KindInfo* bootstrapKind;

  net::io_context ioc;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> guard;
  std::thread thread;
  std::unique_ptr<Service> service;
  std::unique_ptr<grpc::Server> server;
  int boundPort = 0;
  std::atomic<bool> stopping{false};

  // ---- state, confined to the federation thread ----
  WorkIndex index;
  std::shared_ptr<apiserver::WatchHub::Subscription> bindingSub;
  bool bindingDrainScheduled = false;
  std::map<std::string, std::shared_ptr<Session>> sessions;  // cluster → current session
  std::uint64_t workVersion = 0;
  std::set<std::pair<std::string, std::string>> dirtyApps;  // (ns, application)
  bool aggregationScheduled = false;
  std::map<std::string, std::shared_ptr<PendingLog>> pendingLogs;
  net::steady_timer sweepTimer{ioc};
  net::steady_timer globalSweepTimer{ioc};

  // ---- metrics ----
  prometheus::Gauge* agentsConnected;
  prometheus::Family<prometheus::Counter>* registrations;
  prometheus::Family<prometheus::Counter>* sessionsRefused;
  prometheus::Counter* workSetsSent;
  prometheus::Counter* statusReports;
  prometheus::Histogram* workAckSeconds;

  Impl(FederationOptions o, const apiserver::KindRegistry& k, apiserver::Storage& s,
       apiserver::WatchHub& h, apiserver::Registry& r)
      : options(std::move(o)), kinds(k), storage(s), hub(h), registry(r) {
    clusterKind = kinds.byKind("Cluster");
    bindingKind = kinds.byKind("Binding");
    replicaKind = kinds.byKind("Replica");
    applicationKind = kinds.byKind("Application");
    apiTokenKind = kinds.byKind("APIToken");
    bootstrapKind = kinds.byKind("BootstrapToken");
  }

  static apiserver::RequestContext systemContext() {
    return apiserver::systemContext("system:federation");
  }

  template <typename F>
  void spawn(F&& f) {
    net::co_spawn(ioc, std::forward<F>(f), [log = log](std::exception_ptr e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        log->error("federation task failed error=\"{}\"", ex.what());
      }
    });
  }

  // =================== sessions ===================

  class Session final : public QueuedServerStream<Session, pb::AgentMessage, pb::ServerMessage> {
   public:
    static Session* start(Impl* impl, grpc::CallbackServerContext* ctx) {
      auto s = adopt(new Session(impl, ctx));
      std::string auth = clientMetadata(*ctx, "authorization");
      net::post(impl->ioc, [s, auth] { s->impl_->spawn(s->impl_->authenticate(s, auth)); });
      return s.get();
    }

    // gRPC threads (QueuedServerStream) ---------------------------------------------------
    void onRead(pb::AgentMessage&& in) {
      auto msg = std::make_shared<pb::AgentMessage>(std::move(in));
      auto s = shared();
      net::post(impl_->ioc, [s, msg] { s->enqueue(msg); });
    }
    // The agent closed its side or the stream broke: end the call.
    void onReadsEnded() { finish(grpc::Status::OK); }
    void onDone(std::shared_ptr<Session> s) {
      // Released once the federation thread has seen the end.
      net::post(impl_->ioc, [s] { s->impl_->sessionEnded(s); });
    }
    static grpc::Status overflowStatus() {
      return refuse(grpc::StatusCode::RESOURCE_EXHAUSTED,
                    "the agent does not read its stream; too many queued messages");
    }

    // federation thread ------------------------------------------------------------
    void enqueue(std::shared_ptr<pb::AgentMessage> m) {
      inbox_.push_back(std::move(m));
      if (!processing_) {
        processing_ = true;
        impl_->spawn(impl_->process(shared()));
      }
    }

    Impl* impl_;
    const std::uint64_t id;
    std::string cluster;  // from the credential
    std::string clusterUid, region, zone;
    bool helloDone = false;
    Clock::time_point lastHeartbeat = Clock::now();
    bool silenced = false;  // closed by the server for missed heartbeats: Unknown, not False
    Clock::time_point lastPersisted = Clock::time_point::min();
    std::string lastResources;  // serialized capacity+allocatable last written
    std::uint64_t lastSentVersion = 0;
    Clock::time_point lastSentAt;
    bool replicasLoaded = false;
    std::map<std::string, json::object> replicas;  // "<ns>/<name>" → Replica object as stored
    std::deque<std::shared_ptr<pb::AgentMessage>> inbox_;
    bool processing_ = false;

   private:
    Session(Impl* impl, grpc::CallbackServerContext* ctx)
        : QueuedServerStream(ctx, kMaxQueuedMessages),
          impl_(impl),
          id(impl->nextSessionIdAtomic.fetch_add(1)) {}
  };
  std::atomic<std::uint64_t> nextSessionIdAtomic{1};

  class Service final : public pb::AgentService::CallbackService {
   public:
    explicit Service(Impl* impl) : impl_(impl) {}
    grpc::ServerUnaryReactor* Register(grpc::CallbackServerContext* ctx,
                                       const pb::RegisterRequest* req,
                                       pb::RegisterResponse* resp) override {
      auto* reactor = ctx->DefaultReactor();
      std::string peer = ctx->peer();
      net::co_spawn(impl_->ioc, impl_->registerCluster(*req, *resp, peer),
                    [reactor, log = impl_->log](std::exception_ptr e, grpc::Status s) {
                      if (e) {
                        log->error("registration failed with an exception");
                        reactor->Finish(grpc::Status(grpc::StatusCode::INTERNAL, "internal error"));
                        return;
                      }
                      reactor->Finish(s);
                    });
      return reactor;
    }
    grpc::ServerBidiReactor<pb::AgentMessage, pb::ServerMessage>* Connect(
        grpc::CallbackServerContext* ctx) override {
      return Session::start(impl_, ctx);
    }

   private:
    Impl* impl_;
  };

  // =================== registration ===================

  Awaitable<grpc::Status> registerCluster(const pb::RegisterRequest& req,
                                          pb::RegisterResponse& resp, std::string peer) {
    auto result = co_await registerClusterChecked(req, resp);
    const char* outcome = result.ok() ? "ok" : "refused";
    registrations->Add({{"result", outcome}}).Increment();
    if (result.ok()) {
      log->info("cluster registered cluster={} zone={} peer={}", req.cluster(), req.zone(), peer);
    } else {
      log->warn("registration refused cluster={} peer={} reason=\"{}\"", req.cluster(), peer,
                result.error_message());
    }
    co_return result;
  }

  Awaitable<grpc::Status> registerClusterChecked(const pb::RegisterRequest& req,
                                                 pb::RegisterResponse& resp) {
    using Code = grpc::StatusCode;
    if (!compatibleAgentVersion(req.version().major(), req.version().minor())) {
      co_return refuse(Code::FAILED_PRECONDITION,
                       "agent protocol " + std::to_string(req.version().major()) + "." +
                           std::to_string(req.version().minor()) +
                           " is not supported by this server (" + std::to_string(kProtocolMajor) +
                           "." + std::to_string(kProtocolMinor) + ")");
    }
    if (!apiserver::isDns1123Subdomain(req.cluster())) {
      co_return refuse(Code::INVALID_ARGUMENT, "cluster name \"" + req.cluster() +
                                                   "\" is not a lowercase RFC 1123 subdomain");
    }
    if (!apiserver::isDns1123Label(req.region()) || !apiserver::isDns1123Label(req.zone())) {
      co_return refuse(Code::INVALID_ARGUMENT, "region and zone must be lowercase RFC 1123 labels");
    }
    if (req.runtime() != "process" && req.runtime() != "kubernetes") {
      co_return refuse(
          Code::INVALID_ARGUMENT,
          "runtime must be \"process\" or \"kubernetes\", not \"" + req.runtime() + "\"");
    }
    if (!apiserver::looksLikeTokenSecret(req.bootstrap_token())) {
      co_return refuse(Code::UNAUTHENTICATED, "malformed bootstrap token");
    }
    auto token =
        co_await storage.lookupCredential(apiserver::hashTokenSecret(req.bootstrap_token()));
    if (!token.isOk()) {
      if (token.status().code() == tessera::StatusCode::kNotFound) {
        co_return refuse(grpc::StatusCode::UNAUTHENTICATED, "unknown bootstrap token");
      }
      co_return refuse(grpc::StatusCode::UNAVAILABLE, token.status().message());
    }
    json::object t = json::parse(token->json).as_object();
    if (str(t, "kind") != bootstrapKind->kind) {
      co_return refuse(grpc::StatusCode::UNAUTHENTICATED, "not a bootstrap token");
    }
    const std::string tokenName = str(t, "metadata.name");
    if (auto exp = parseRfc3339(str(t, "spec.expirationTimestamp"));
        exp && *exp <= std::chrono::system_clock::now()) {
      co_return refuse(
          grpc::StatusCode::FAILED_PRECONDITION,
          "bootstrap token " + tokenName + " expired at " + str(t, "spec.expirationTimestamp"));
    }
    if (!str(t, "status.usedAt").empty()) {
      co_return refuse(grpc::StatusCode::FAILED_PRECONDITION,
                       "bootstrap token " + tokenName + " was already used by cluster " +
                           str(t, "status.usedBy") + " at " + str(t, "status.usedAt"));
    }
    if (!str(t, "spec.cluster").empty() && str(t, "spec.cluster") != req.cluster()) {
      co_return refuse(
          grpc::StatusCode::PERMISSION_DENIED,
          "bootstrap token " + tokenName + " is for cluster " + str(t, "spec.cluster"));
    }
    // The cluster: created, or matched when it exists in the same place.
    auto ctx = systemContext();
    auto existing = co_await registry.get(*clusterKind, "", req.cluster());
    if (existing.ok()) {
      json::object c = json::parse(existing.object.json).as_object();
      if (str(c, "spec.region") != req.region() || str(c, "spec.zone") != req.zone()) {
        co_return refuse(grpc::StatusCode::FAILED_PRECONDITION,
                         "cluster " + req.cluster() + " already exists in region " +
                             str(c, "spec.region") + ", zone " + str(c, "spec.zone"));
      }
    } else if (existing.error->code != 404) {
      co_return refuse(grpc::StatusCode::UNAVAILABLE, existing.error->message);
    }
    // Spend the token (only once, even if two agents race with it).
    json::object used{{"metadata", json::object{{"resourceVersion", std::to_string(token->rv)}}},
                      {"status", json::object{{"usedAt", formatRfc3339(ctx.received)},
                                              {"usedBy", req.cluster()}}}};
    apiserver::WriteOptions statusWrite;
    statusWrite.statusSubresource = true;
    std::string usedBody = json::serialize(used);
    Outcome spent = co_await registry.patch(
        *bootstrapKind, "", tokenName, apiserver::PatchType::kMerge, usedBody, ctx, statusWrite);
    if (!spent.ok()) {
      if (spent.error->code == 409) {
        co_return refuse(grpc::StatusCode::FAILED_PRECONDITION,
                         "bootstrap token " + tokenName + " was already used");
      }
      co_return refuse(grpc::StatusCode::UNAVAILABLE, spent.error->message);
    }
    if (!existing.ok()) {
      json::object c{
          {"apiVersion", apiserver::kApiVersion},
          {"kind", clusterKind->kind},
          {"metadata", json::object{{"name", req.cluster()},
                                    {"labels", json::object{{kLabelZone, req.zone()},
                                                            {kLabelRegion, req.region()}}}}},
          {"spec", json::object{{"region", req.region()},
                                {"zone", req.zone()},
                                {"runtime", req.runtime()},
                                {"capacity", resources(req.capacity())}}}};
      std::string body = json::serialize(c);
      Outcome created = co_await registry.create(*clusterKind, "", body, ctx, kPlainWrite);
      if (!created.ok() && created.error->code != 409) {
        co_return refuse(grpc::StatusCode::UNAVAILABLE, created.error->message);
      }
      existing = co_await registry.get(*clusterKind, "", req.cluster());
      if (!existing.ok()) co_return refuse(grpc::StatusCode::UNAVAILABLE, existing.error->message);
    }
    // The cluster's credential: a new one replaces any earlier one.
    apiserver::ListQuery q;
    q.kind = apiTokenKind->kind;
    auto sel = apiserver::LabelSelector::parse(std::string(kLabelCluster) + "=" + req.cluster());
    q.labels = std::move(sel).value();
    auto old = co_await storage.list(q);
    if (old.isOk()) {
      for (const auto& item : old->items) {
        json::object o = json::parse(item.json).as_object();
        co_await registry.remove(*apiTokenKind, "", str(o, "metadata.name"), "", ctx, kPlainWrite);
      }
    }
    json::object cred{
        {"apiVersion", apiserver::kApiVersion},
        {"kind", apiTokenKind->kind},
        {"metadata", json::object{{"generateName", "cluster-" + req.cluster().substr(0, 200) + "-"},
                                  {"labels", json::object{{kLabelCluster, req.cluster()}}}}},
        {"spec", json::object{{"user", clusterUser(req.cluster())},
                              {"role", "agent"},
                              {"description", "credential of cluster " + req.cluster() +
                                                  "'s agent, registered with bootstrap token " +
                                                  tokenName}}}};
    std::string credBody = json::serialize(cred);
    Outcome issued = co_await registry.create(*apiTokenKind, "", credBody, ctx, kPlainWrite);
    if (!issued.ok()) co_return refuse(grpc::StatusCode::UNAVAILABLE, issued.error->message);
    json::object io = json::parse(issued.object.json).as_object();
    resp.set_credential(str(io, "status.token"));
    resp.set_cluster_uid(str(json::parse(existing.object.json).as_object(), "metadata.uid"));
    co_return grpc::Status::OK;
  }

  // =================== session lifecycle ===================

  Awaitable<void> authenticate(std::shared_ptr<Session> s, std::string auth) {
    constexpr std::string_view kBearer = "Bearer ";
    std::string secret = auth.rfind(kBearer, 0) == 0 ? auth.substr(kBearer.size()) : std::string();
    if (!apiserver::looksLikeTokenSecret(secret)) {
      refused("unauthenticated");
      s->finish(refuse(grpc::StatusCode::UNAUTHENTICATED,
                       "no agent credential: send \"authorization: Bearer <credential>\""));
      co_return;
    }
    auto cred = co_await storage.lookupCredential(apiserver::hashTokenSecret(secret));
    if (!cred.isOk()) {
      bool unknown = cred.status().code() == tessera::StatusCode::kNotFound;
      refused(unknown ? "unauthenticated" : "unavailable");
      s->finish(unknown ? refuse(grpc::StatusCode::UNAUTHENTICATED, "unknown agent credential")
                        : refuse(grpc::StatusCode::UNAVAILABLE, cred.status().message()));
      co_return;
    }
    json::object o = json::parse(cred->json).as_object();
    const std::string user = str(o, "spec.user");
    if (str(o, "kind") != apiTokenKind->kind || str(o, "spec.role") != "agent" ||
        user.rfind(kClusterUserPrefix, 0) != 0) {
      refused("forbidden");
      s->finish(refuse(grpc::StatusCode::PERMISSION_DENIED, "not an agent credential"));
      co_return;
    }
    if (auto exp = parseRfc3339(str(o, "spec.expirationTimestamp"));
        exp && *exp <= std::chrono::system_clock::now()) {
      refused("unauthenticated");
      s->finish(refuse(grpc::StatusCode::UNAUTHENTICATED, "agent credential expired"));
      co_return;
    }
    s->cluster = user.substr(std::string_view(kClusterUserPrefix).size());
    s->beginReading();
  }

  void refused(const char* why) { sessionsRefused->Add({{"reason", why}}).Increment(); }

  Awaitable<void> process(std::shared_ptr<Session> s) {
    while (!s->inbox_.empty() && !s->ended()) {
      auto msg = s->inbox_.front();
      s->inbox_.pop_front();
      co_await handle(s, *msg);
    }
    s->processing_ = false;
  }

  Awaitable<void> handle(std::shared_ptr<Session> s, const pb::AgentMessage& m) {
    if (!s->helloDone) {
      if (m.kind_case() != pb::AgentMessage::kHello) {
        refused("protocol");
        s->finish(refuse(grpc::StatusCode::INVALID_ARGUMENT, "the first message must be Hello"));
        co_return;
      }
      co_await hello(s, m.hello());
      co_return;
    }
    switch (m.kind_case()) {
      case pb::AgentMessage::kHeartbeat:
        co_await heartbeat(s, m.heartbeat());
        break;
      case pb::AgentMessage::kStatus:
        statusReports->Increment();
        co_await statusReport(s, m.status());
        break;
      case pb::AgentMessage::kWorkAck:
        if (m.work_ack().version() == s->lastSentVersion) {
          workAckSeconds->Observe(
              std::chrono::duration<double>(Clock::now() - s->lastSentAt).count());
        }
        break;
      case pb::AgentMessage::kLog: {
        auto it = pendingLogs.find(m.log().request_id());
        if (it != pendingLogs.end()) {
          if (!m.log().error().empty()) {
            it->second->complete(m.log().error().find("unknown") != std::string::npos
                                     ? Result<std::string>(notFound(m.log().error()))
                                     : Result<std::string>(unavailable(m.log().error())));
          } else {
            std::string text;
            for (const auto& line : m.log().lines()) text += line + "\n";
            it->second->complete(std::move(text));
          }
          pendingLogs.erase(it);
        }
        break;
      }
      case pb::AgentMessage::kHello:
        refused("protocol");
        s->finish(refuse(grpc::StatusCode::INVALID_ARGUMENT, "Hello was already sent"));
        break;
      case pb::AgentMessage::KIND_NOT_SET:
        refused("protocol");
        s->finish(refuse(grpc::StatusCode::INVALID_ARGUMENT, "an empty message"));
        break;
    }
  }

  Awaitable<void> hello(std::shared_ptr<Session> s, const pb::Hello& h) {
    if (h.cluster() != s->cluster) {
      refused("forbidden");
      s->finish(
          refuse(grpc::StatusCode::PERMISSION_DENIED,
                 "this credential belongs to cluster " + s->cluster + ", not " + h.cluster()));
      co_return;
    }
    if (!compatibleAgentVersion(h.version().major(), h.version().minor())) {
      refused("version");
      s->finish(refuse(grpc::StatusCode::FAILED_PRECONDITION,
                       "agent protocol " + std::to_string(h.version().major()) + "." +
                           std::to_string(h.version().minor()) +
                           " is not supported by this server (" + std::to_string(kProtocolMajor) +
                           "." + std::to_string(kProtocolMinor) + ")"));
      co_return;
    }
    auto c = co_await registry.get(*clusterKind, "", s->cluster);
    if (!c.ok()) {
      refused("unregistered");
      s->finish(c.error->code == 404 ? refuse(grpc::StatusCode::FAILED_PRECONDITION,
                                              "cluster " + s->cluster +
                                                  " is not registered (its Cluster object is gone)")
                                     : refuse(grpc::StatusCode::UNAVAILABLE, c.error->message));
      co_return;
    }
    json::object co = json::parse(c.object.json).as_object();
    s->clusterUid = str(co, "metadata.uid");
    s->region = str(co, "spec.region");
    s->zone = str(co, "spec.zone");
    s->helloDone = true;
    s->lastHeartbeat = Clock::now();
    if (auto old = sessions.find(s->cluster); old != sessions.end() && old->second != s) {
      old->second->finish(refuse(grpc::StatusCode::ABORTED, "replaced by a newer connection"));
    }
    sessions[s->cluster] = s;
    agentsConnected->Set(static_cast<double>(sessions.size()));
    log->info("agent connected cluster={} agent_version={} session={}", s->cluster,
              h.agent_version(), s->id);
    pb::ServerMessage welcome;
    welcome.mutable_welcome()->mutable_version()->set_major(kProtocolMajor);
    welcome.mutable_welcome()->mutable_version()->set_minor(kProtocolMinor);
    welcome.mutable_welcome()->set_heartbeat_interval_ms(
        static_cast<std::uint32_t>(options.heartbeatInterval.count()));
    welcome.mutable_welcome()->set_cluster_uid(s->clusterUid);
    s->send(std::move(welcome));
    sendWork(*s, true, index.workloadsOf(s->cluster), {});
    co_await setReady(s->cluster, "True", "AgentConnected",
                      "agent " + h.agent_version() + " connected", &h.capacity(), &h.allocatable());
    s->lastPersisted = Clock::now();
    s->lastResources = h.capacity().SerializeAsString() + h.allocatable().SerializeAsString();
  }

  Awaitable<void> heartbeat(std::shared_ptr<Session> s, const pb::Heartbeat& h) {
    s->lastHeartbeat = Clock::now();
    std::string res = h.capacity().SerializeAsString() + h.allocatable().SerializeAsString();
    if (res != s->lastResources ||
        Clock::now() - s->lastPersisted >= options.heartbeatPersistInterval) {
      s->lastPersisted = Clock::now();
      s->lastResources = res;
      co_await setReady(s->cluster, "True", "AgentConnected", "agent heartbeating", &h.capacity(),
                        &h.allocatable());
    }
  }

  void sessionEnded(std::shared_ptr<Session> s) {
    auto it = sessions.find(s->cluster);
    if (it == sessions.end() || it->second != s) return;
    sessions.erase(it);
    agentsConnected->Set(static_cast<double>(sessions.size()));
    log->info("agent disconnected cluster={} session={}", s->cluster, s->id);
    if (!stopping && !s->silenced) {
      spawn(setReady(s->cluster, "False", "AgentDisconnected", "the agent's connection closed",
                     nullptr, nullptr));
    }
  }

  // =================== cluster health ===================

  /// Writes the Ready condition (and heartbeat time, capacity) of a cluster's status.
  Awaitable<void> setReady(std::string cluster, std::string status, std::string reason,
                           std::string message, const pb::Resources* capacity,
                           const pb::Resources* allocatable) {
    for (int attempt = 0; attempt < 3; ++attempt) {
      auto c = co_await registry.get(*clusterKind, "", cluster);
      if (!c.ok()) co_return;
      json::object o = json::parse(c.object.json).as_object();
      json::object st = o.contains("status") && o["status"].is_object() ? o["status"].as_object()
                                                                        : json::object();
      const std::string now = formatRfc3339(std::chrono::system_clock::now());
      json::object& ready =
          apiserver::schemas::setCondition(st, "Ready", status, reason, message, now);
      if (status == "True") {
        ready["lastHeartbeatTime"] = now;  // otherwise the last one stays
        st["lastHeartbeatTime"] = now;
      }
      if (capacity) st["capacity"] = resources(*capacity);
      if (allocatable) st["allocatable"] = resources(*allocatable);
      o["status"] = st;
      apiserver::WriteOptions w;
      w.statusSubresource = true;
      std::string body = json::serialize(o);
      Outcome r = co_await registry.update(*clusterKind, "", cluster, body, systemContext(), w);
      if (r.ok() || r.error->code != 409) {
        if (!r.ok())
          log->warn("cluster status write failed cluster={} error=\"{}\"", cluster,
                    r.error->message);
        if (r.ok() && status != "True") co_await markReplicasAway(cluster, message);
        co_return;
      }
    }
  }

  /// A cluster whose agent is away: nobody knows whether its replicas still run, so they are
  /// Unknown and not ready (as Kubernetes marks the pods of a NotReady node), until the agent
  /// reports again. Stops as soon as the agent is back.
  Awaitable<void> markReplicasAway(std::string cluster, std::string why) {
    apiserver::ListQuery q;
    q.kind = replicaKind->kind;
    q.labels = apiserver::LabelSelector::parse(std::string(kLabelCluster) + "=" + cluster).value();
    auto page = co_await storage.list(q);
    if (!page.isOk()) co_return;
    apiserver::WriteOptions statusWrite;
    statusWrite.statusSubresource = true;
    for (const auto& item : page->items) {
      if (sessions.count(cluster) || stopping) co_return;
      json::object o = json::parse(item.json).as_object();
      if (str(o, "status.state") == "Unknown") continue;
      json::object st = o["status"].is_object() ? o["status"].as_object() : json::object();
      st["state"] = "Unknown";
      st["ready"] = false;
      st["message"] = "the agent of cluster " + cluster + " is away: " + why;
      o["status"] = st;
      const std::string ns = str(o, "metadata.namespace");
      const std::string name = str(o, "metadata.name");
      std::string body = json::serialize(o);
      // A 409 means the agent is back and reported first: its word wins.
      Outcome r =
          co_await registry.update(*replicaKind, ns, name, body, systemContext(), statusWrite);
      if (r.ok()) markDirty(ns, str(o, "spec.application"));
    }
  }

  /// Sessions that stopped heartbeating: Unknown, and the stream is closed.
  void scheduleSweep() {
    sweepTimer.expires_after(options.heartbeatInterval / 2);
    sweepTimer.async_wait([this](boost::system::error_code ec) {
      if (ec || stopping) return;
      const auto limit = options.heartbeatInterval * options.heartbeatMisses;
      for (auto& [cluster, s] : sessions) {
        if (Clock::now() - s->lastHeartbeat <= limit) continue;
        auto secs =
            std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - s->lastHeartbeat)
                .count();
        log->warn("agent silent cluster={} seconds={}", cluster, secs);
        spawn(setReady(cluster, "Unknown", "HeartbeatTimeout",
                       "no heartbeat for " + std::to_string(secs) + "s", nullptr, nullptr));
        s->silenced = true;
        s->finish(refuse(grpc::StatusCode::DEADLINE_EXCEEDED, "no heartbeat"));
      }
      scheduleSweep();
    });
  }

  /// Clusters that claim to be Ready but whose agent nobody has heard from (its server may
  /// have died): Unknown.
  void scheduleGlobalSweep() {
    globalSweepTimer.expires_after(options.heartbeatInterval * options.heartbeatMisses);
    globalSweepTimer.async_wait([this](boost::system::error_code ec) {
      if (ec || stopping) return;
      spawn(globalSweep());
      scheduleGlobalSweep();
    });
  }

  Awaitable<void> globalSweep() {
    apiserver::ListQuery q;
    q.kind = clusterKind->kind;
    auto page = co_await storage.list(q);
    if (!page.isOk()) co_return;
    const auto limit =
        options.heartbeatInterval * options.heartbeatMisses + options.heartbeatPersistInterval;
    const auto now = std::chrono::system_clock::now();
    for (const auto& item : page->items) {
      json::object o = json::parse(item.json).as_object();
      const std::string name = str(o, "metadata.name");
      if (sessions.count(name) || apiserver::schemas::conditionStatus(o, "Ready") != "True")
        continue;
      auto hb = parseRfc3339(str(o, "status.lastHeartbeatTime"));
      if (hb && now - *hb <= limit) continue;
      co_await setReady(name, "Unknown", "NoHeartbeat", "no server has heard from the agent",
                        nullptr, nullptr);
    }
  }

  // =================== work ===================

  void sendWork(Session& s, bool full, std::vector<pb::Workload> upserts,
                std::vector<std::string> removals) {
    pb::ServerMessage m;
    auto* w = m.mutable_work();
    w->set_full(full);
    w->set_version(++workVersion);
    for (auto& u : upserts) *w->add_upserts() = std::move(u);
    for (auto& r : removals) w->add_removals(std::move(r));
    s.lastSentVersion = workVersion;
    s.lastSentAt = Clock::now();
    workSetsSent->Increment();
    s.send(std::move(m));
  }

  void publish(WorkIndex::Changes changes) {
    for (auto& [cluster, delta] : changes) {
      auto it = sessions.find(cluster);
      if (it == sessions.end()) continue;
      sendWork(*it->second, false, std::move(delta.upserts), std::move(delta.removals));
    }
  }

  void applyBinding(const apiserver::WatchEvent& ev) {
    std::pair<std::string, std::string> app;
    if (ev.type == apiserver::EventType::kDeleted) {
      app = index.applicationOf(ev.key.ns, ev.key.name);
      publish(index.remove(ev.key.ns, ev.key.name));
    } else {
      std::vector<std::string> warnings;
      publish(index.upsert(ev.object, warnings));
      for (const auto& w : warnings) log->warn("binding skipped problem=\"{}\"", w);
      app = index.applicationOf(ev.key.ns, ev.key.name);
    }
    if (!app.second.empty()) markDirty(app.first, app.second);
  }

  /// Subscribes to Binding changes, then indexes the Bindings as of the subscription.
  Awaitable<Status> loadBindings() {
    bindingSub =
        hub.subscribe(bindingKind->kind, [this] { net::post(ioc, [this] { drainBindings(); }); });
    index.clear();
    apiserver::ListQuery q;
    q.kind = bindingKind->kind;
    q.atRv = bindingSub->startRv();
    q.limit = 500;
    while (true) {
      auto page = co_await storage.list(q);
      if (!page.isOk()) co_return page.status();
      for (const auto& item : page->items) {
        std::vector<std::string> warnings;
        json::object o = json::parse(item.json).as_object();
        index.upsert(o, warnings);
        for (const auto& w : warnings) log->warn("binding skipped problem=\"{}\"", w);
      }
      if (!page->more) break;
      q.afterNs = page->lastNs;
      q.afterName = page->lastName;
    }
    drainBindings();
    co_return Status::ok();
  }

  void drainBindings() {
    bool overflowed = false, closed = false;
    auto events = bindingSub->drain(overflowed, closed);
    for (const auto& ev : events) applyBinding(*ev);
    if (overflowed && !stopping) {
      log->warn("binding changes overflowed; re-indexing");
      spawn([this]() -> Awaitable<void> {
        Status s = co_await loadBindings();
        if (!s.isOk()) log->error("re-indexing bindings failed error=\"{}\"", s.message());
        for (auto& [cluster, session] : sessions)
          sendWork(*session, true, index.workloadsOf(cluster), {});
      });
    }
  }

  // =================== status: replicas and applications ===================

  static json::object replicaObject(const std::string& ns, const std::string& name,
                                    const pb::WorkloadStatus& ws, const pb::ReplicaStatus& r,
                                    const Session& s) {
    // key: "<ns>/<application>/<revision>/<cell>"
    std::vector<std::string> parts;
    std::size_t start = 0;
    while (true) {
      auto slash = ws.key().find('/', start);
      parts.push_back(
          ws.key().substr(start, slash == std::string::npos ? std::string::npos : slash - start));
      if (slash == std::string::npos) break;
      start = slash + 1;
    }
    parts.resize(4);
    const std::string& app = parts[1];
    const std::string& revision = parts[2];
    const std::string& cell = parts[3];
    json::object status{
        {"state", r.state()}, {"ready", r.ready()}, {"restarts", r.restarts()}, {"host", r.host()}};
    if (!r.message().empty()) status["message"] = r.message();
    if (r.pid() > 0) status["pid"] = r.pid();
    if (r.has_last_exit_code()) status["lastExitCode"] = r.last_exit_code();
    json::array ports;
    std::string endpoint;  // the first port, by name
    std::map<std::string, std::uint32_t> sorted(r.ports().begin(), r.ports().end());
    for (const auto& [pname, port] : sorted) {
      if (port == 0 || port >= 65536) continue;
      ports.push_back(json::object{{"name", pname}, {"port", port}});
      if (endpoint.empty()) endpoint = r.host() + ":" + std::to_string(port);
    }
    if (!ports.empty()) {
      status["ports"] = ports;
      status["endpoint"] = endpoint;
    }
    if (r.started_unix_ms() > 0) {
      status["startedAt"] = formatRfc3339(
          std::chrono::system_clock::time_point(std::chrono::milliseconds(r.started_unix_ms())));
    }
    return json::object{
        {"apiVersion", apiserver::kApiVersion},
        {"kind", "Replica"},
        {"metadata", json::object{{"name", name},
                                  {"namespace", ns},
                                  {"labels", json::object{{kLabelApplication, app},
                                                          {kLabelCluster, s.cluster},
                                                          {kLabelCell, cell},
                                                          {kLabelRevision, revision}}}}},
        {"spec", json::object{{"application", app},
                              {"revision", revision},
                              {"cell", cell},
                              {"cluster", s.cluster},
                              {"zone", s.zone},
                              {"region", s.region},
                              {"ordinal", r.ordinal()}}},
        {"status", status}};
  }

  Awaitable<void> loadReplicas(Session& s) {
    apiserver::ListQuery q;
    q.kind = replicaKind->kind;
    q.labels =
        apiserver::LabelSelector::parse(std::string(kLabelCluster) + "=" + s.cluster).value();
    q.limit = 500;
    s.replicas.clear();
    while (true) {
      auto page = co_await storage.list(q);
      if (!page.isOk()) co_return;
      for (const auto& item : page->items) {
        json::object o = json::parse(item.json).as_object();
        s.replicas[str(o, "metadata.namespace") + "/" + str(o, "metadata.name")] = std::move(o);
      }
      if (!page->more) break;
      q.afterNs = page->lastNs;
      q.afterName = page->lastName;
    }
    s.replicasLoaded = true;
  }

  Awaitable<void> statusReport(std::shared_ptr<Session> s, const pb::StatusReport& report) {
    if (!s->replicasLoaded) co_await loadReplicas(*s);
    std::map<std::string, json::object> desired;  // "<ns>/<name>" → object
    for (const auto& ws : report.workloads()) {
      const std::string ns = ws.key().substr(0, ws.key().find('/'));
      for (const auto& r : ws.replicas()) {
        const std::string name = replicaObjectName(r.name(), s->cluster);
        desired[ns + "/" + name] = replicaObject(ns, name, ws, r, *s);
      }
    }
    auto ctx = systemContext();
    apiserver::WriteOptions statusWrite;
    statusWrite.statusSubresource = true;
    // Create or update what is reported.
    for (auto& [id, want] : desired) {
      const std::string ns = str(want, "metadata.namespace");
      const std::string name = str(want, "metadata.name");
      const std::string app = str(want, "spec.application");
      auto have = s->replicas.find(id);
      if (have == s->replicas.end()) {
        std::string body = json::serialize(want);
        Outcome created = co_await registry.create(*replicaKind, ns, body, ctx, kPlainWrite);
        if (!created.ok() && created.error->code != 409) {
          log->warn("replica create failed name={} error=\"{}\"", name, created.error->message);
          continue;
        }
        auto current = co_await registry.get(*replicaKind, ns, name);
        if (!current.ok()) continue;
        have = s->replicas.emplace(id, json::parse(current.object.json).as_object()).first;
        markDirty(ns, app);
      }
      json::object& cur = have->second;
      if (cur["status"] == want["status"] && cur["spec"] == want["spec"]) continue;
      json::object next = cur;
      next["status"] = want["status"];
      std::string body = json::serialize(next);
      Outcome up = co_await registry.update(*replicaKind, ns, name, body, ctx, statusWrite);
      if (up.ok()) {
        cur = json::parse(up.object.json).as_object();
      } else {
        // Someone else wrote it (another server after a reconnect): read it again next time.
        s->replicasLoaded = false;
      }
      markDirty(ns, app);
    }
    // Delete what is no longer reported.
    for (auto it = s->replicas.begin(); it != s->replicas.end();) {
      if (desired.count(it->first)) {
        ++it;
        continue;
      }
      const std::string ns = str(it->second, "metadata.namespace");
      const std::string name = str(it->second, "metadata.name");
      markDirty(ns, str(it->second, "spec.application"));
      co_await registry.remove(*replicaKind, ns, name, "", ctx, kPlainWrite);
      it = s->replicas.erase(it);
    }
  }

  void markDirty(const std::string& ns, const std::string& app) {
    if (app.empty()) return;
    dirtyApps.insert({ns, app});
    if (aggregationScheduled || stopping) return;
    aggregationScheduled = true;
    auto timer = std::make_shared<net::steady_timer>(ioc, options.statusDebounce);
    timer->async_wait([this, timer](boost::system::error_code) {
      aggregationScheduled = false;
      auto apps = std::move(dirtyApps);
      dirtyApps.clear();
      spawn([this, apps = std::move(apps)]() -> Awaitable<void> {
        for (const auto& [dirtyNs, dirtyApp] : apps) co_await aggregate(dirtyNs, dirtyApp);
      });
    });
  }

  /// Application.status from the Bindings (desired) and the Replica objects (ready).
  Awaitable<void> aggregate(std::string ns, std::string app) {
    for (int attempt = 0; attempt < 3; ++attempt) {
      auto a = co_await registry.get(*applicationKind, ns, app);
      if (!a.ok()) co_return;
      json::object o = json::parse(a.object.json).as_object();
      auto desired = index.desiredOf(ns, app);
      struct Count {
        int desired = 0, ready = 0;
      };
      std::map<std::string, std::map<std::string, Count>> cells;  // cell → cluster → counts
      for (const auto& [cc, n] : desired) cells[cc.first][cc.second].desired += n;
      apiserver::ListQuery q;
      q.kind = replicaKind->kind;
      q.ns = ns;
      q.labels =
          apiserver::LabelSelector::parse(std::string(kLabelApplication) + "=" + app).value();
      auto page = co_await storage.list(q);
      if (!page.isOk()) co_return;
      std::int64_t restarts = 0;
      for (const auto& item : page->items) {
        json::object r = json::parse(item.json).as_object();
        json::value ready = apiserver::schemas::at(r, "status.ready");
        json::value rs = apiserver::schemas::at(r, "status.restarts");
        if (rs.is_int64()) restarts += rs.as_int64();
        if (ready.is_bool() && ready.as_bool()) {
          cells[str(r, "spec.cell")][str(r, "spec.cluster")].ready += 1;
        }
      }
      int totalDesired = 0, totalReady = 0;
      json::array cellsJson;
      for (const auto& [cell, clusters] : cells) {
        int cd = 0, cr = 0;
        json::array cl;
        for (const auto& [cluster, n] : clusters) {
          cd += n.desired;
          cr += std::min(n.ready, n.desired);
          cl.push_back(json::object{{"name", cluster},
                                    {"replicas", n.desired},
                                    {"readyReplicas", std::min(n.ready, n.desired)}});
        }
        totalDesired += cd;
        totalReady += cr;
        cellsJson.push_back(json::object{
            {"name", cell}, {"replicas", cd}, {"readyReplicas", cr}, {"clusters", cl}});
      }
      json::object st = o.contains("status") && o["status"].is_object() ? o["status"].as_object()
                                                                        : json::object();
      json::object before = st;
      st["replicas"] = totalDesired;
      st["readyReplicas"] = totalReady;
      st["availableReplicas"] = totalReady;
      st["restarts"] = restarts;
      st["cells"] = cellsJson;
      // The Ready condition: every desired replica ready.
      const std::string readyStatus =
          totalDesired > 0 && totalReady >= totalDesired ? "True" : "False";
      const std::string reason = totalDesired == 0       ? "NotPlaced"
                                 : readyStatus == "True" ? "AllReplicasReady"
                                                         : "ReplicasNotReady";
      const std::string message =
          std::to_string(totalReady) + "/" + std::to_string(totalDesired) + " replicas ready";
      apiserver::schemas::setCondition(st, "Ready", readyStatus, reason, message,
                                       formatRfc3339(std::chrono::system_clock::now()));
      if (st == before) co_return;
      o["status"] = st;
      apiserver::WriteOptions w;
      w.statusSubresource = true;
      std::string body = json::serialize(o);
      Outcome r = co_await registry.update(*applicationKind, ns, app, body, systemContext(), w);
      if (r.ok() || r.error->code != 409) co_return;
    }
  }

  // =================== logs ===================

  void requestLog(std::string cluster, std::string replica, int tail, std::string id,
                  std::shared_ptr<PendingLog> pending) {
    auto it = sessions.find(cluster);
    if (it == sessions.end()) {
      pending->complete(
          unavailable("the agent of cluster " + cluster + " is not connected to this server"));
      return;
    }
    pendingLogs[id] = pending;
    pb::ServerMessage m;
    m.mutable_log_request()->set_request_id(id);
    m.mutable_log_request()->set_replica(replica);
    m.mutable_log_request()->set_tail_lines(tail);
    it->second->send(std::move(m));
  }
};

FederationServer::FederationServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

FederationServer::~FederationServer() {
  shutdown();
}

Result<std::unique_ptr<FederationServer>> FederationServer::create(
    FederationOptions options, const apiserver::KindRegistry& kinds, apiserver::Storage& storage,
    apiserver::WatchHub& hub, apiserver::Registry& registry, prometheus::Registry& metrics) {
  if (options.tlsCertFile.empty() != options.tlsKeyFile.empty()) {
    return invalidArgument("agent TLS needs both a certificate and a key");
  }
  auto impl = std::make_unique<Impl>(std::move(options), kinds, storage, hub, registry);
  if (!impl->clusterKind || !impl->bindingKind || !impl->replicaKind || !impl->applicationKind ||
      !impl->apiTokenKind || !impl->bootstrapKind) {
    return internalError(
        "the federation needs the Cluster, Binding, Replica, Application, "
        "APIToken and BootstrapToken kinds");
  }
  const std::string host = impl->options.listen.substr(0, impl->options.listen.rfind(':'));
  const bool loopback = host == "127.0.0.1" || host == "localhost" || host == "[::1]";
  if (impl->options.tlsCertFile.empty() && !loopback && !impl->options.allowInsecure) {
    return invalidArgument("refusing plaintext agent connections on " + impl->options.listen +
                           ": give a TLS certificate and key");
  }
  impl->agentsConnected = &prometheus::BuildGauge()
                               .Name("tessera_federation_agents_connected")
                               .Help("Agents with an open session on this server")
                               .Register(metrics)
                               .Add({});
  impl->registrations = &prometheus::BuildCounter()
                             .Name("tessera_federation_registrations_total")
                             .Help("Cluster registrations by result")
                             .Register(metrics);
  impl->sessionsRefused = &prometheus::BuildCounter()
                               .Name("tessera_federation_sessions_refused_total")
                               .Help("Agent sessions refused, by reason")
                               .Register(metrics);
  impl->workSetsSent = &prometheus::BuildCounter()
                            .Name("tessera_federation_worksets_sent_total")
                            .Help("WorkSets sent to agents")
                            .Register(metrics)
                            .Add({});
  impl->statusReports = &prometheus::BuildCounter()
                             .Name("tessera_federation_status_reports_total")
                             .Help("Status reports received from agents")
                             .Register(metrics)
                             .Add({});
  impl->workAckSeconds = &prometheus::BuildHistogram()
                              .Name("tessera_federation_work_ack_seconds")
                              .Help("From sending a WorkSet to the agent acknowledging it")
                              .Register(metrics)
                              .Add({}, latencyBuckets());
  return std::unique_ptr<FederationServer>(new FederationServer(std::move(impl)));
}

Status FederationServer::start() {
  auto& im = *impl_;
  im.guard.emplace(im.ioc.get_executor());
  im.thread = std::thread([&im] { im.ioc.run(); });
  auto loaded = net::co_spawn(im.ioc, im.loadBindings(), net::use_future);
  Status s = loaded.get();
  if (!s.isOk()) return s;

  im.service = std::make_unique<Impl::Service>(&im);
  auto server = startGrpcServer({.address = im.options.listen,
                                 .tlsCertFile = im.options.tlsCertFile,
                                 .tlsKeyFile = im.options.tlsKeyFile,
                                 .maxReceiveBytes = 16 * 1024 * 1024,
                                 .peers = "agents"},
                                *im.service, im.boundPort);
  if (!server.isOk()) return server.status();
  im.server = std::move(*server);
  net::post(im.ioc, [&im] {
    im.scheduleSweep();
    im.scheduleGlobalSweep();
  });
  im.log->info("listening for agents address={} port={} tls={}", im.options.listen, im.boundPort,
               !im.options.tlsCertFile.empty());
  return Status::ok();
}

void FederationServer::shutdown() {
  auto& im = *impl_;
  if (im.stopping.exchange(true)) return;
  if (im.server) im.server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  net::post(im.ioc, [&im] {
    im.sweepTimer.cancel();
    im.globalSweepTimer.cancel();
    for (auto& [id, p] : im.pendingLogs) p->complete(unavailable("the server is shutting down"));
    im.pendingLogs.clear();
    im.bindingSub.reset();
  });
  im.guard.reset();
  if (im.server) im.server->Wait();
  im.ioc.stop();
  if (im.thread.joinable()) im.thread.join();
}

std::uint16_t FederationServer::port() const {
  return static_cast<std::uint16_t>(impl_->boundPort);
}

Awaitable<Result<std::string>> FederationServer::fetchLogs(std::string ns, std::string name,
                                                           int tailLines) {
  auto& im = *impl_;
  auto replica = co_await im.storage.get(apiserver::ObjectKey(im.replicaKind->kind, ns, name));
  if (!replica.isOk()) co_return replica.status();
  json::object o = json::parse(replica->json).as_object();
  const std::string cluster = str(o, "spec.cluster");
  const std::string suffix = "." + cluster;
  if (cluster.empty() || name.size() <= suffix.size() ||
      name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) {
    co_return notFound(name);
  }
  const std::string base = name.substr(0, name.size() - suffix.size());
  auto ex = co_await net::this_coro::executor;
  auto pending = std::make_shared<PendingLog>(ex);
  const std::string id = newUuid();
  net::post(im.ioc, [&im, cluster, base, tailLines, id, pending] {
    im.requestLog(cluster, base, tailLines, id, pending);
  });
  const auto deadline = Clock::now() + im.options.logTimeout;
  while (true) {
    {
      std::lock_guard lock(pending->mu);
      if (pending->done) break;
    }
    if (Clock::now() >= deadline) {
      pending->complete(unavailable("the agent of cluster " + cluster + " did not answer in time"));
      net::post(im.ioc, [&im, id] { im.pendingLogs.erase(id); });
      break;
    }
    co_await pending->event.wait(deadline);
  }
  std::lock_guard lock(pending->mu);
  co_return pending->result;
}

}  // namespace tessera::federation
