#include "mesh/control/control_plane.h"

#include <grpcpp/grpcpp.h>
#include <prometheus/registry.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "apiserver/auth.h"
#include "apiserver/kinds/kinds.h"
#include "apiserver/object_meta.h"
#include "common/grpc_server.h"
#include "common/logging.h"
#include "common/metrics.h"
#include "common/time_util.h"
#include "mesh/config/config.h"
#include "mesh/control/config_builder.h"
#include "mesh/proto/mesh.grpc.pb.h"

namespace tessera::mesh::control {
namespace json = boost::json;
namespace net = boost::asio;
namespace pb = ::tessera::mesh::v1;
using apiserver::Awaitable;
using apiserver::KindInfo;
using apiserver::Outcome;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::size_t kMaxQueuedResponses = 64;
constexpr char kAcceptedKey[] = "x-tessera-mesh";
constexpr char kProxyUserPrefix[] = "system:proxy:";
constexpr const char* kWatched[] = {"Application", "Replica",  "Cell",
                                    "Cluster",     "ShardMap", "Proxy"};
constexpr auto kMaxNackRetry = std::chrono::minutes(5);
constexpr std::size_t kMaxPendingConvergence = 256;
constexpr std::size_t kMaxLoggedProblems = 1000;

std::string str(const json::object& o, std::string_view path) {
  json::value v = apiserver::schemas::at(o, path);
  return v.is_string() ? std::string(v.get_string()) : std::string();
}

std::string nowText() {
  return formatRfc3339(std::chrono::system_clock::now());
}

std::size_t idx(Type t) {
  return static_cast<std::size_t>(t);
}

/// The resources of `a` overlaid with `b` (b wins on a name): what a proxy may hold while it
/// moves from a to b without losing anything a route still names.
std::shared_ptr<const ResourceList> unionOf(const ResourceList& a,
                                            const std::shared_ptr<const ResourceList>& b) {
  bool subset = true;
  for (const auto& r : a.resources) subset = subset && b->find(r.name) != nullptr;
  if (subset) return b;  // the usual case: nothing to keep
  ResourceList out;
  out.resources = b->resources;
  for (const auto& r : a.resources) {
    if (!b->find(r.name)) out.resources.push_back(r);
  }
  out.seal();
  return std::make_shared<const ResourceList>(std::move(out));
}

const std::shared_ptr<const ResourceList>& emptyList() {
  static const auto kEmpty = [] {
    ResourceList l;
    l.seal();
    return std::make_shared<const ResourceList>(std::move(l));
  }();
  return kEmpty;
}

/// A status write the writer thread performs: a Proxy's spec and status, or a ShardMap's
/// status.rollout.
struct WriteJob {
  enum class Kind { kProxy, kRollout, kStale } kind = Kind::kProxy;  // kStale: mark disconnected
  std::string name;
  json::object spec;         // kProxy
  json::object status;       // kProxy: the whole status; kRollout: the rollout block
  std::int64_t version = 0;  // kRollout: the ShardMap version it is about
};

}  // namespace

struct MeshControlPlane::Impl {
  class Session;
  class Service;

  MeshControlOptions options;
  const apiserver::KindRegistry& kinds;
  apiserver::Storage& storage;
  apiserver::WatchHub& hub;
  apiserver::Registry& registry;
  std::shared_ptr<spdlog::logger> log = getLogger("mesh");
  apiserver::Authenticator auth;
  const KindInfo* proxyKind;
  const KindInfo* shardMapKind;

  net::io_context ioc;  // protocol state, the world
  std::optional<net::executor_work_guard<net::io_context::executor_type>> guard;
  std::thread thread;
  net::io_context writerIoc;  // status writes
  std::optional<net::executor_work_guard<net::io_context::executor_type>> writerGuard;
  std::thread writerThread;
  std::unique_ptr<Service> service;
  std::unique_ptr<grpc::Server> server;
  int boundPort = 0;
  std::atomic<bool> stopping{false};
  std::atomic<std::uint64_t> nextSessionId{1};

  // ---- the world (mesh thread) ----
  MeshWorld world;
  std::map<std::string, ProxyInfo> objectProxies;  // from Proxy objects
  std::map<std::string, SystemTime> objectLastSeen;
  /// What Proxy objects say their proxies acknowledged: ShardMap versions and when they last
  /// acknowledged anything. For proxies of other servers, which the rollout counts too.
  struct ObjectAcks {
    std::map<std::string, std::int64_t> shardMaps;  // name → version
    SystemTime lastAck{};
    friend bool operator==(const ObjectAcks&, const ObjectAcks&) = default;
  };
  std::map<std::string, ObjectAcks> objectAcks;
  std::set<std::string> staleQueued;  // marked disconnected (or queued to be) since last seen
  std::map<std::string, std::shared_ptr<apiserver::WatchHub::Subscription>> subs;
  std::map<std::string, SharedConfig> sharedCache;  // by view key, for the current world
  std::set<std::string> loggedProblems;
  bool rebuildPending = false;
  Clock::time_point firstChange, lastChange;
  net::steady_timer rebuildTimer{ioc};
  net::steady_timer sweepTimer{ioc};
  net::steady_timer rolloutTimer{ioc};
  bool rolloutScheduled = false;
  Clock::time_point lastRolloutRun;
  std::map<std::string, std::string> lastRollout;  // ShardMap → the rollout block last queued
  std::deque<Clock::time_point> pendingConvergence;
  std::uint64_t nonce = 0;

  // ---- sessions (mesh thread) ----
  std::map<std::string, std::shared_ptr<Session>> sessions;  // node id → current session
  std::size_t outOfSync = 0;  // established sessions whose acked != desired

  // ---- the writer (writer thread) ----
  struct PendingWrite {
    WriteJob job;
    Clock::time_point notBefore;
  };
  std::map<std::string, PendingWrite> pendingWrites;  // by key
  net::steady_timer writerTimer{writerIoc};
  bool writerTimerArmed = false;
  std::deque<std::string> writeQueue;
  std::set<std::string> queuedWrites, writesInFlight;
  std::map<std::string, json::object> storedProxies;  // Proxy objects as last written
  int activeWriters = 0;

  // ---- metrics ----
  prometheus::Gauge* proxiesConnected;
  prometheus::Family<prometheus::Counter>* pushes;
  prometheus::Family<prometheus::Counter>* nacks;
  prometheus::Family<prometheus::Counter>* refusals;
  prometheus::Counter* statusWrites;
  prometheus::Histogram* convergenceSeconds;
  prometheus::Histogram* ackSeconds;

  Impl(MeshControlOptions o, const apiserver::KindRegistry& k, apiserver::Storage& s,
       apiserver::WatchHub& h, apiserver::Registry& r)
      : options(std::move(o)),
        kinds(k),
        storage(s),
        hub(h),
        registry(r),
        auth(s, h, options.authCacheTtl),
        proxyKind(k.byKind("Proxy")),
        shardMapKind(k.byKind("ShardMap")) {}

  static apiserver::RequestContext systemContext() {
    return apiserver::systemContext("system:mesh");
  }

  template <typename F>
  void spawn(net::io_context& where, F&& f) {
    net::co_spawn(where, std::forward<F>(f), [log = log](std::exception_ptr e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        log->error("mesh task failed error=\"{}\"", ex.what());
      }
    });
  }

  // =================== sessions ===================

  struct TypeState {
    std::shared_ptr<const ResourceList> acked = emptyList();  // what the proxy holds
    std::string ackedVersion;  // "" until it applied something of this type
    std::shared_ptr<const ResourceList> inflight;
    std::string inflightNonce;
    Clock::time_point sentAt;
    std::string rejectedVersion;
    Clock::time_point retryAt;
    std::chrono::milliseconds retryDelay{0};
  };

  class Session final
      : public QueuedServerStream<Session, pb::DiscoveryRequest, pb::DiscoveryResponse> {
   public:
    static Session* start(Impl* impl, grpc::CallbackServerContext* ctx) {
      auto s = adopt(new Session(impl, ctx));
      std::string authz = clientMetadata(*ctx, "authorization");
      net::post(impl->ioc,
                [s, authz] { s->impl_->spawn(s->impl_->ioc, s->impl_->authenticate(s, authz)); });
      return s.get();
    }

    // gRPC threads (QueuedServerStream) ---------------------------------------------------
    void onRead(pb::DiscoveryRequest&& in) {
      auto msg = std::make_shared<pb::DiscoveryRequest>(std::move(in));
      auto s = shared();
      if (s) net::post(impl_->ioc, [s, msg] { s->impl_->handle(s, *msg); });
    }
    // The proxy closed its side: end the call after the requests already handed over.
    void onReadsEnded() {
      auto s = shared();
      if (s) net::post(impl_->ioc, [s] { s->finish(grpc::Status::OK); });
    }
    void onDone(std::shared_ptr<Session> s) {
      net::post(impl_->ioc, [s] { s->impl_->sessionEnded(s); });
    }
    static grpc::Status overflowStatus() {
      return {grpc::StatusCode::RESOURCE_EXHAUSTED, "the proxy does not read its stream"};
    }

    // any thread ----------------------------------------------------------------
    /// Authenticated: tell the client (initial metadata) and start reading.
    void accept() {
      if (!whileLive([](grpc::CallbackServerContext& ctx) {
            ctx.AddInitialMetadata(kAcceptedKey, "1");
          })) {
        return;
      }
      StartSendInitialMetadata();
      beginReading();
    }

    // mesh thread ------------------------------------------------------------------
    Impl* impl_;
    const std::uint64_t id;
    std::string user;  // from the credential
    ProxyInfo node;
    std::string adminAddress, buildVersion;
    bool helloDone = false;
    bool current = false;      // sessions[node.id] == this
    unsigned initialSeen = 0;  // bit per type: its first request arrived
    bool initialized = false;
    TypeState types[4];
    ProxyConfig desired;
    std::map<std::string, std::int64_t> ackedShardMaps;  // name → version
    std::map<std::string, SystemTime> shardMapAckTime;   // name → when that version was acked
    bool inSync = false;
    json::object conditionState;  // {"conditions": [...]}, kept for lastTransitionTime
    std::string lastNackReason, lastNackTime, lastAckTime;
    Clock::time_point lastSeenWritten;
    std::shared_ptr<net::steady_timer> retryTimer;
    bool retryArmed = false;

   private:
    Session(Impl* impl, grpc::CallbackServerContext* ctx)
        : QueuedServerStream(ctx, kMaxQueuedResponses),
          impl_(impl),
          id(impl->nextSessionId.fetch_add(1)) {}
  };

  class Service final : public pb::MeshDiscovery::CallbackService {
   public:
    explicit Service(Impl* impl) : impl_(impl) {}
    grpc::ServerBidiReactor<pb::DiscoveryRequest, pb::DiscoveryResponse>* StreamResources(
        grpc::CallbackServerContext* ctx) override {
      return Session::start(impl_, ctx);
    }

   private:
    Impl* impl_;
  };

  void refused(const char* why) { refusals->Add({{"reason", why}}).Increment(); }

  Awaitable<void> authenticate(std::shared_ptr<Session> s, std::string authz) {
    auto principal = co_await auth.authenticate(authz);
    if (!principal.isOk()) {
      const bool down = principal.status().code() == StatusCode::kUnavailable;
      refused(down ? "unavailable" : "unauthenticated");
      s->finish(
          grpc::Status(down ? grpc::StatusCode::UNAVAILABLE : grpc::StatusCode::UNAUTHENTICATED,
                       principal.status().message()));
      co_return;
    }
    if (principal->role != apiserver::Role::kProxy) {
      refused("forbidden");
      s->finish(grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                             "user \"" + principal->user + "\" (role " +
                                 std::string(apiserver::roleName(principal->role)) +
                                 ") may not stream mesh configuration: it needs the proxy role"));
      co_return;
    }
    s->user = principal->user;
    s->accept();
  }

  /// Every request of every session, in order, on the mesh thread.
  void handle(const std::shared_ptr<Session>& s, const pb::DiscoveryRequest& req) {
    if (s->ended() || stopping) return;
    if (!s->helloDone) {
      if (!hello(s, req)) return;
    }
    auto type = resourceTypeFromUrl(req.type_url());
    if (!type) {
      refused("protocol");
      s->finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                             "unknown type_url \"" + req.type_url() + "\""));
      return;
    }
    const Type t = static_cast<Type>(static_cast<int>(*type));
    TypeState& ts = s->types[idx(t)];
    if (req.response_nonce().empty()) {
      // A type's first request: what the proxy holds.
      if (s->initialized || (s->initialSeen & (1u << idx(t)))) return;
      ResourceList held;
      for (const auto& r : req.applied()) {
        held.resources.push_back(Resource{r.name(), contentHash(r.json()), r.json()});
      }
      held.seal();
      ts.acked = std::make_shared<const ResourceList>(std::move(held));
      ts.ackedVersion = req.version_info().empty() ? "" : ts.acked->version;
      if (t == Type::kShardMap) noteShardMaps(*s);
      s->initialSeen |= 1u << idx(t);
      if (s->initialSeen == 0xf) {
        s->initialized = true;
        updateSync(*s);
        advance(*s);
      }
      return;
    }
    if (!ts.inflight || req.response_nonce() != ts.inflightNonce) return;  // stale
    auto sent = std::move(ts.inflight);
    ts.inflight.reset();
    ts.inflightNonce.clear();
    if (req.error_detail().empty()) {
      ackSeconds->Observe(std::chrono::duration<double>(Clock::now() - ts.sentAt).count());
      ts.acked = sent;
      ts.ackedVersion = sent->version;
      ts.rejectedVersion.clear();
      ts.retryDelay = std::chrono::milliseconds(0);
      s->lastAckTime = nowText();
      if (t == Type::kShardMap) {
        noteShardMaps(*s);
        scheduleRollout();
      }
    } else {
      nacks->Add({{"type", typeFieldName(t)}}).Increment();
      ts.rejectedVersion = sent->version;
      ts.retryDelay = ts.retryDelay.count() == 0
                          ? options.nackRetry
                          : std::min<std::chrono::milliseconds>(ts.retryDelay * 2, kMaxNackRetry);
      ts.retryAt = Clock::now() + ts.retryDelay;
      s->lastNackReason = std::string(typeFieldName(t)) + " version " + sent->version + ": " +
                          req.error_detail().substr(0, 3900);
      s->lastNackTime = nowText();
      log->warn("proxy rejected its configuration node={} type={} version={} reason=\"{}\"",
                s->node.id, typeFieldName(t), sent->version, req.error_detail().substr(0, 500));
    }
    updateSync(*s);
    advance(*s);
    record(*s);
  }

  /// The first request: who the proxy is. Returns false when the session was refused.
  bool hello(const std::shared_ptr<Session>& s, const pb::DiscoveryRequest& req) {
    const pb::Node& n = req.node();
    std::string why;
    if (!req.has_node() || n.id().empty()) {
      why = "the first request must carry the proxy's Node with its id";
    } else if (!apiserver::isDns1123Subdomain(n.id())) {
      why = "node id \"" + n.id() + "\" is not a lowercase RFC 1123 subdomain";
    } else if (!apiserver::isDns1123Label(n.datacenter())) {
      why = "datacenter \"" + n.datacenter() + "\" is not a lowercase RFC 1123 label";
    } else if (n.role() != "gateway" && n.role() != "sidecar") {
      why = "role must be \"gateway\" or \"sidecar\", not \"" + n.role() + "\"";
    } else if (n.cell().size() > 253 || n.listen_address().size() > 300 ||
               n.admin_address().size() > 300 || n.build_version().size() > 128) {
      why = "a Node field is too long";
    }
    if (!why.empty()) {
      refused("protocol");
      s->finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, why));
      return false;
    }
    if (s->user.rfind(kProxyUserPrefix, 0) == 0 &&
        s->user.substr(std::string_view(kProxyUserPrefix).size()) != n.id()) {
      refused("forbidden");
      s->finish(grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                             "this credential belongs to proxy " +
                                 s->user.substr(std::string_view(kProxyUserPrefix).size()) +
                                 ", not " + n.id()));
      return false;
    }
    s->node = ProxyInfo{n.id(), n.datacenter(), n.cell(), n.role(), n.listen_address(), true};
    s->adminAddress = n.admin_address();
    s->buildVersion = n.build_version();
    s->helloDone = true;
    s->retryTimer = std::make_shared<net::steady_timer>(ioc);
    if (auto old = sessions.find(n.id()); old != sessions.end() && old->second != s) {
      old->second->current = false;
      if (!old->second->inSync && old->second->helloDone) --outOfSync;
      old->second->finish(
          grpc::Status(grpc::StatusCode::ABORTED, "replaced by a newer connection"));
    }
    sessions[n.id()] = s;
    s->current = true;
    ++outOfSync;  // not in sync until it holds its configuration
    proxiesConnected->Set(static_cast<double>(sessions.size()));
    log->info("proxy connected node={} datacenter={} role={} listen={} session={}", n.id(),
              n.datacenter(), n.role(), n.listen_address(), s->id);
    s->desired = configFor(s->node);
    s->lastSeenWritten = Clock::now();
    record(*s);
    scheduleRollout();
    if (s->node.role == "gateway") worldChanged();  // other datacenters' gateway clusters
    return true;
  }

  void sessionEnded(const std::shared_ptr<Session>& s) {
    if (s->retryTimer) s->retryTimer->cancel();
    if (!s->current) return;
    auto it = sessions.find(s->node.id);
    if (it == sessions.end() || it->second != s) return;
    sessions.erase(it);
    s->current = false;
    if (!s->inSync) --outOfSync;
    proxiesConnected->Set(static_cast<double>(sessions.size()));
    log->info("proxy disconnected node={} session={}", s->node.id, s->id);
    if (stopping) return;
    record(*s, /*connected=*/false);
    scheduleRollout();
    if (s->node.role == "gateway") worldChanged();
    checkConvergence();
  }

  // =================== what each proxy should hold ===================

  ProxyConfig configFor(const ProxyInfo& p) {
    const ProxyView view{p.datacenter, p.role, p.cell, p.listenAddress};
    const std::string key = p.datacenter + "|" + p.role + "|" + p.cell;
    auto it = sharedCache.find(key);
    if (it == sharedCache.end()) {
      world.proxies = visibleProxies();
      it = sharedCache.emplace(key, buildShared(world, view)).first;
      for (const auto& problem : it->second.problems) logProblem(problem);
    }
    ProxyConfig c;
    c.types[0] = it->second.clusters;
    c.types[1] = it->second.shardMaps;
    c.types[2] = it->second.routeTables;
    std::vector<std::string> problems;
    c.types[3] = buildListeners(p.listenAddress, problems);
    for (const auto& problem : problems) logProblem("proxy " + p.id + ": " + problem);
    c.version = combinedVersion(
        {c.types[0]->version, c.types[1]->version, c.types[2]->version, c.types[3]->version});
    return c;
  }

  void logProblem(const std::string& problem) {
    if (loggedProblems.size() >= kMaxLoggedProblems) return;
    if (loggedProblems.insert(problem).second) {
      log->warn("mesh configuration incomplete problem=\"{}\"", problem);
    }
  }

  static ObjectAcks acksFromObject(const json::object& proxy) {
    ObjectAcks a;
    json::value sms = apiserver::schemas::at(proxy, "status.shardMaps");
    if (sms.is_array()) {
      for (const auto& e : sms.get_array()) {
        const json::object* o = e.if_object();
        if (o == nullptr) continue;
        const json::value* name = o->if_contains("name");
        const json::value* version = o->if_contains("version");
        if (name && name->is_string() && version && version->is_int64())
          a.shardMaps[std::string(name->get_string())] = version->get_int64();
      }
    }
    if (auto t = parseRfc3339(str(proxy, "status.lastAckTime"))) a.lastAck = *t;
    return a;
  }

  /// Proxies of other servers that are reachable: their Proxy objects say connected and their
  /// server refreshed them recently.
  std::vector<const ProxyInfo*> otherServersProxies() const {
    std::vector<const ProxyInfo*> out;
    const auto now = std::chrono::system_clock::now();
    const auto fresh = options.lastSeenInterval * 3;
    for (const auto& [id, p] : objectProxies) {
      if (!p.connected || sessions.count(id)) continue;
      auto seen = objectLastSeen.find(id);
      if (seen == objectLastSeen.end() || now - seen->second > fresh) continue;
      out.push_back(&p);
    }
    return out;
  }

  /// Proxies other parts of the world may route to: ours (connected now) and those of other
  /// servers.
  std::map<std::string, ProxyInfo> visibleProxies() const {
    std::map<std::string, ProxyInfo> out;
    for (const ProxyInfo* p : otherServersProxies()) out[p->id] = *p;
    for (const auto& [id, s] : sessions) out[id] = s->node;
    return out;
  }

  void worldChanged() {
    if (stopping) return;
    const auto now = Clock::now();
    if (!rebuildPending) {
      rebuildPending = true;
      firstChange = now;
    }
    lastChange = now;
    rebuildTimer.expires_at(
        std::min(lastChange + options.debounce, firstChange + options.maxDelay));
    rebuildTimer.async_wait([this](boost::system::error_code ec) {
      if (ec || stopping || !rebuildPending) return;
      rebuild();
    });
  }

  void rebuild() {
    rebuildPending = false;
    sharedCache.clear();
    bool changed = false;
    for (auto& [id, s] : sessions) {
      ProxyConfig next = configFor(s->node);
      if (next.version == s->desired.version) continue;
      s->desired = std::move(next);
      changed = true;
      updateSync(*s);
      advance(*s);
      record(*s);
    }
    if (changed) {
      pendingConvergence.push_back(firstChange);
      while (pendingConvergence.size() > kMaxPendingConvergence) pendingConvergence.pop_front();
      checkConvergence();
    }
    scheduleRollout();
  }

  // =================== ordering ===================

  /// Sends the next step towards the desired configuration, if nothing is in flight.
  void advance(Session& s) {
    if (!s.initialized || !s.current || s.ended()) return;
    for (const auto& ts : s.types) {
      if (ts.inflight) return;  // one step at a time: wait for its answer
    }
    TypeState* cl = &s.types[idx(Type::kCluster)];
    TypeState* sm = &s.types[idx(Type::kShardMap)];
    TypeState* rt = &s.types[idx(Type::kRouteTable)];
    TypeState* ls = &s.types[idx(Type::kListener)];
    const auto& D = s.desired.types;
    // 1. clusters and shard maps, added to what the proxy holds
    auto clAdd = unionOf(*cl->acked, D[idx(Type::kCluster)]);
    auto smAdd = unionOf(*sm->acked, D[idx(Type::kShardMap)]);
    bool step = false, blocked = false;
    if (needs(*cl, clAdd)) step |= push(s, Type::kCluster, clAdd, blocked);
    if (needs(*sm, smAdd)) step |= push(s, Type::kShardMap, smAdd, blocked);
    if (step || blocked) return;
    // 2. route tables, added
    auto rtAdd = unionOf(*rt->acked, D[idx(Type::kRouteTable)]);
    if (needs(*rt, rtAdd)) {
      push(s, Type::kRouteTable, rtAdd, blocked);
      return;
    }
    // 3. listeners
    if (needs(*ls, D[idx(Type::kListener)])) {
      push(s, Type::kListener, D[idx(Type::kListener)], blocked);
      return;
    }
    // 4. route tables no longer wanted
    if (needs(*rt, D[idx(Type::kRouteTable)])) {
      push(s, Type::kRouteTable, D[idx(Type::kRouteTable)], blocked);
      return;
    }
    // 5. clusters and shard maps no longer wanted
    if (needs(*cl, D[idx(Type::kCluster)]))
      push(s, Type::kCluster, D[idx(Type::kCluster)], blocked);
    if (needs(*sm, D[idx(Type::kShardMap)]))
      push(s, Type::kShardMap, D[idx(Type::kShardMap)], blocked);
  }

  static bool needs(const TypeState& ts, const std::shared_ptr<const ResourceList>& want) {
    return ts.ackedVersion != want->version;
  }

  /// Sends `list` as the complete set of `t`, unless that very version was rejected and its
  /// retry is not due (then `blocked`, with a timer to try again). Returns whether it sent.
  bool push(Session& s, Type t, std::shared_ptr<const ResourceList> list, bool& blocked) {
    TypeState& ts = s.types[idx(t)];
    if (ts.rejectedVersion == list->version && Clock::now() < ts.retryAt) {
      blocked = true;
      armRetry(s, ts.retryAt);
      return false;
    }
    pb::DiscoveryResponse m;
    m.set_type_url(typeUrlOf(t));
    m.set_version_info(list->version);
    m.set_nonce(std::to_string(++nonce));
    for (const auto& r : list->resources) {
      auto* out = m.add_resources();
      out->set_name(r.name);
      out->set_version(r.version);
      out->set_json(r.json);
    }
    ts.inflight = std::move(list);
    ts.inflightNonce = m.nonce();
    ts.sentAt = Clock::now();
    pushes->Add({{"type", typeFieldName(t)}}).Increment();
    s.send(std::move(m));
    return true;
  }

  void armRetry(Session& s, Clock::time_point at) {
    if (s.retryArmed) return;
    s.retryArmed = true;
    auto self = s.shared();
    if (!self) return;
    s.retryTimer->expires_at(at);
    s.retryTimer->async_wait([this, self](boost::system::error_code) {
      self->retryArmed = false;
      if (!stopping) advance(*self);
    });
  }

  std::array<std::string, 4> ackedVersions(const Session& s) const {
    return {s.types[0].ackedVersion, s.types[1].ackedVersion, s.types[2].ackedVersion,
            s.types[3].ackedVersion};
  }

  void updateSync(Session& s) {
    const bool now = s.initialized && combinedVersion(ackedVersions(s)) == s.desired.version;
    if (now == s.inSync) return;
    s.inSync = now;
    if (s.current) {
      if (now) {
        --outOfSync;
        checkConvergence();
      } else {
        ++outOfSync;
      }
    }
  }

  void checkConvergence() {
    if (outOfSync != 0 || pendingConvergence.empty()) return;
    const auto now = Clock::now();
    for (auto t0 : pendingConvergence) {
      convergenceSeconds->Observe(std::chrono::duration<double>(now - t0).count());
    }
    pendingConvergence.clear();
  }

  void noteShardMaps(Session& s) {
    const auto now = std::chrono::system_clock::now();
    std::map<std::string, std::int64_t> versions;
    for (const auto& r : s.types[idx(Type::kShardMap)].acked->resources) {
      boost::system::error_code ec;
      json::value v = json::parse(r.json, ec);
      if (ec || !v.is_object()) continue;
      const json::value* ver = v.get_object().if_contains("version");
      versions[r.name] = ver && ver->is_int64() ? ver->get_int64() : 0;
    }
    for (const auto& [name, version] : versions) {
      auto old = s.ackedShardMaps.find(name);
      if (old == s.ackedShardMaps.end() || old->second != version) s.shardMapAckTime[name] = now;
    }
    s.ackedShardMaps = std::move(versions);
  }

  // =================== Proxy objects ===================

  /// Queues the session's Proxy object (spec and status) for writing.
  void record(Session& s, bool connected = true) {
    if (!s.helloDone || stopping) return;
    const std::string now = nowText();
    WriteJob job;
    job.kind = WriteJob::Kind::kProxy;
    job.name = s.node.id;
    job.spec = json::object{{"datacenter", s.node.datacenter}};
    if (!s.node.cell.empty()) job.spec["cell"] = s.node.cell;
    job.spec["role"] = s.node.role;
    if (!s.node.listenAddress.empty()) job.spec["listenAddress"] = s.node.listenAddress;
    if (!s.adminAddress.empty()) job.spec["adminAddress"] = s.adminAddress;
    if (!s.buildVersion.empty()) job.spec["buildVersion"] = s.buildVersion;
    json::object st;
    st["connected"] = connected;
    st["desiredVersion"] = s.desired.version;
    st["ackedVersion"] = s.initialized ? combinedVersion(ackedVersions(s)) : std::string();
    json::object acked;
    for (Type t : kTypes) {
      if (!s.types[idx(t)].ackedVersion.empty())
        acked[typeFieldName(t)] = s.types[idx(t)].ackedVersion;
    }
    st["acked"] = std::move(acked);
    json::array sms;
    for (const auto& [name, version] : s.ackedShardMaps) {
      sms.push_back(json::object{{"name", name}, {"version", version}});
    }
    st["shardMaps"] = std::move(sms);
    if (!s.lastNackReason.empty()) {
      st["lastNackReason"] = s.lastNackReason;
      st["lastNackTime"] = s.lastNackTime;
    }
    if (!s.lastAckTime.empty()) st["lastAckTime"] = s.lastAckTime;
    st["lastSeenTime"] = now;
    s.lastSeenWritten = Clock::now();
    if (!connected) {
      apiserver::schemas::setCondition(s.conditionState, "InSync", "False", "Disconnected",
                                       "the proxy's stream closed", now);
    } else if (s.inSync) {
      apiserver::schemas::setCondition(s.conditionState, "InSync", "True", "Acked",
                                       "acked version " + s.desired.version, now);
    } else if (!s.lastNackReason.empty() && nackBlocksSync(s)) {
      apiserver::schemas::setCondition(s.conditionState, "InSync", "False", "Nacked",
                                       s.lastNackReason, now);
    } else {
      apiserver::schemas::setCondition(s.conditionState, "InSync", "False", "Pushing",
                                       "sending version " + s.desired.version, now);
    }
    st["conditions"] = s.conditionState["conditions"];
    job.status = std::move(st);
    enqueueWrite(std::move(job));
  }

  static bool nackBlocksSync(const Session& s) {
    for (const auto& ts : s.types) {
      if (!ts.rejectedVersion.empty()) return true;
    }
    return false;
  }

  /// Queues a write. Proxy writes wait options.statusDelay from the first unwritten change of that
  /// proxy, so that a push and its ACK (and any burst) become one write and the writes do not
  /// compete with the pushes for the CPU; ShardMap rollouts go first, at once.
  void enqueueWrite(WriteJob job) {
    net::post(writerIoc, [this, job = std::move(job)]() mutable {
      const bool urgent = job.kind == WriteJob::Kind::kRollout;
      const std::string key = (urgent                               ? "s/"
                               : job.kind == WriteJob::Kind::kStale ? "x/"
                                                                    : "p/") +
                              job.name;
      auto [it, fresh] = pendingWrites.try_emplace(key);
      const auto notBefore = fresh ? Clock::now() + (urgent ? Clock::duration::zero()
                                                            : Clock::duration(options.statusDelay))
                                   : it->second.notBefore;
      it->second.job = std::move(job);
      it->second.notBefore = notBefore;
      if (!queuedWrites.count(key) && !writesInFlight.count(key)) {
        queuedWrites.insert(key);
        if (urgent) {
          writeQueue.push_front(key);
        } else {
          writeQueue.push_back(key);
        }
      }
      pumpWrites();
    });
  }

  // writer thread
  void pumpWrites() {
    while (activeWriters < options.statusWriters && !writeQueue.empty()) {
      const std::string key = writeQueue.front();
      auto it = pendingWrites.find(key);
      if (it == pendingWrites.end()) {
        writeQueue.pop_front();
        queuedWrites.erase(key);
        continue;
      }
      if (it->second.notBefore > Clock::now()) {
        if (!writerTimerArmed) {
          writerTimerArmed = true;
          writerTimer.expires_at(it->second.notBefore);
          writerTimer.async_wait([this](boost::system::error_code) {
            writerTimerArmed = false;
            pumpWrites();
          });
        }
        return;
      }
      writeQueue.pop_front();
      queuedWrites.erase(key);
      WriteJob job = std::move(it->second.job);
      pendingWrites.erase(it);
      writesInFlight.insert(key);
      ++activeWriters;
      net::co_spawn(writerIoc, write(std::move(job)), [this, key](std::exception_ptr e) {
        if (e) log->error("status write failed with an exception key={}", key);
        --activeWriters;
        writesInFlight.erase(key);
        if (pendingWrites.count(key) && !queuedWrites.count(key)) {
          queuedWrites.insert(key);
          if (key.rfind("s/", 0) == 0) {
            writeQueue.push_front(key);  // rollouts stay ahead of proxy writes
          } else {
            writeQueue.push_back(key);
          }
        }
        pumpWrites();
      });
    }
  }

  Awaitable<void> write(WriteJob job) {
    if (job.kind == WriteJob::Kind::kProxy) {
      co_await writeProxy(std::move(job));
    } else if (job.kind == WriteJob::Kind::kStale) {
      co_await writeStale(std::move(job));
    } else {
      co_await writeRollout(std::move(job));
    }
  }

  Awaitable<void> writeProxy(WriteJob job) {
    const apiserver::WriteOptions plain{};
    apiserver::WriteOptions statusWrite;
    statusWrite.statusSubresource = true;
    for (int attempt = 0; attempt < 3; ++attempt) {
      auto it = storedProxies.find(job.name);
      if (it == storedProxies.end()) {
        auto got = co_await registry.get(*proxyKind, "", job.name);
        if (got.ok()) {
          it = storedProxies.emplace(job.name, json::parse(got.object.json).as_object()).first;
        } else if (got.error->code == 404) {
          json::object o{{"apiVersion", apiserver::kApiVersion},
                         {"kind", proxyKind->kind},
                         {"metadata", json::object{{"name", job.name}}},
                         {"spec", job.spec}};
          std::string body = json::serialize(o);
          auto ctx = systemContext();
          Outcome created = co_await registry.create(*proxyKind, "", body, ctx, plain);
          statusWrites->Increment();
          if (!created.ok()) {
            if (created.error->code == 409) continue;
            log->warn("proxy object create failed node={} error=\"{}\"", job.name,
                      created.error->message);
            co_return;
          }
          it = storedProxies.emplace(job.name, json::parse(created.object.json).as_object()).first;
        } else {
          log->warn("proxy object read failed node={} error=\"{}\"", job.name, got.error->message);
          co_return;
        }
      }
      json::object& cur = it->second;
      bool conflict = false;
      for (int part = 0; part < 2 && !conflict; ++part) {
        const bool isStatus = part == 1;
        const char* field = isStatus ? "status" : "spec";
        const json::object& want = isStatus ? job.status : job.spec;
        const json::value* have = cur.if_contains(field);
        if (have && *have == json::value(want)) continue;
        json::object next = cur;
        next[field] = want;
        std::string body = json::serialize(next);
        auto ctx = systemContext();
        Outcome r = co_await registry.update(*proxyKind, "", job.name, body, ctx,
                                             isStatus ? statusWrite : plain);
        statusWrites->Increment();
        if (r.ok()) {
          cur = json::parse(r.object.json).as_object();
        } else if (r.error->code == 409 || r.error->code == 404) {
          conflict = true;
        } else {
          log->warn("proxy object write failed node={} error=\"{}\"", job.name, r.error->message);
          co_return;
        }
      }
      if (!conflict) co_return;
      storedProxies.erase(job.name);  // someone else wrote it: read it again
    }
  }

  Awaitable<void> writeStale(WriteJob job) {
    apiserver::WriteOptions statusWrite;
    statusWrite.statusSubresource = true;
    auto got = co_await registry.get(*proxyKind, "", job.name);
    if (!got.ok()) co_return;
    json::object o = json::parse(got.object.json).as_object();
    if (apiserver::schemas::at(o, "status.connected") != json::value(true)) co_return;
    json::object st = o["status"].as_object();
    const std::string seen = str(o, "status.lastSeenTime");
    st["connected"] = false;
    apiserver::schemas::setCondition(st, "InSync", "False", "Disconnected",
                                     "no server has heard from the proxy since " +
                                         (seen.empty() ? std::string("it connected") : seen),
                                     nowText());
    o["status"] = std::move(st);
    std::string body = json::serialize(o);
    auto ctx = systemContext();
    // A 409: a server wrote it meanwhile (the proxy is back): its word wins.
    co_await registry.update(*proxyKind, "", job.name, body, ctx, statusWrite);
    statusWrites->Increment();
    storedProxies.erase(job.name);
  }

  Awaitable<void> writeRollout(WriteJob job) {
    apiserver::WriteOptions statusWrite;
    statusWrite.statusSubresource = true;
    for (int attempt = 0; attempt < 3; ++attempt) {
      auto got = co_await registry.get(*shardMapKind, "", job.name);
      if (!got.ok()) co_return;
      json::object o = json::parse(got.object.json).as_object();
      json::value version = apiserver::schemas::at(o, "status.version");
      if (!version.is_int64() || version.get_int64() != job.version) co_return;  // superseded
      json::object st = o["status"].as_object();
      json::object block = job.status;
      if (const auto* old = st.if_contains("rollout"); old && old->is_object()) {
        json::object before = old->get_object();
        before.erase("updateTime");
        json::object after = block;
        after.erase("updateTime");
        if (before == after) co_return;
      }
      st["rollout"] = std::move(block);
      o["status"] = std::move(st);
      std::string body = json::serialize(o);
      auto ctx = systemContext();
      Outcome r = co_await registry.update(*shardMapKind, "", job.name, body, ctx, statusWrite);
      statusWrites->Increment();
      if (r.ok() || r.error->code != 409) {
        if (!r.ok())
          log->warn("shard map rollout write failed shardmap={} error=\"{}\"", job.name,
                    r.error->message);
        co_return;
      }
    }
  }

  // =================== ShardMap rollout ===================

  void scheduleRollout() {
    if (rolloutScheduled || stopping) return;
    rolloutScheduled = true;
    // At once after a quiet spell, then at most every rolloutInterval.
    rolloutTimer.expires_at(std::max(Clock::now(), lastRolloutRun + options.rolloutInterval));
    rolloutTimer.async_wait([this](boost::system::error_code ec) {
      rolloutScheduled = false;
      if (ec || stopping) return;
      lastRolloutRun = Clock::now();
      writeRollouts();
    });
  }

  void writeRollouts() {
    const std::vector<const ProxyInfo*> others = otherServersProxies();
    for (const auto& [name, sm] : world.shardMaps) {
      struct Dc {
        int acked = 0, total = 0;
        SystemTime last{};
      };
      std::map<std::string, Dc> dcs;
      int acked = 0, total = 0;
      for (const auto& [id, s] : sessions) {
        if (!s->helloDone) continue;
        Dc& dc = dcs[s->node.datacenter];
        ++dc.total;
        ++total;
        auto v = s->ackedShardMaps.find(name);
        if (v == s->ackedShardMaps.end() || v->second != sm.version) continue;
        ++dc.acked;
        ++acked;
        auto t = s->shardMapAckTime.find(name);
        if (t != s->shardMapAckTime.end()) dc.last = std::max(dc.last, t->second);
      }
      // Other servers' proxies, as their Proxy objects tell (up to a status write behind).
      // When one acknowledged this version is not stored: its last acknowledgement stands in.
      for (const ProxyInfo* p : others) {
        Dc& dc = dcs[p->datacenter];
        ++dc.total;
        ++total;
        auto a = objectAcks.find(p->id);
        if (a == objectAcks.end()) continue;
        auto v = a->second.shardMaps.find(name);
        if (v == a->second.shardMaps.end() || v->second != sm.version) continue;
        ++dc.acked;
        ++acked;
        dc.last = std::max(dc.last, a->second.lastAck);
      }
      json::array perDc;
      for (const auto& [dcName, dc] : dcs) {
        json::object o{{"name", dcName}, {"acked", dc.acked}, {"total", dc.total}};
        if (dc.acked == dc.total && dc.last != SystemTime{}) o["time"] = formatRfc3339(dc.last);
        perDc.push_back(std::move(o));
      }
      json::object block{{"version", sm.version},
                         {"proxiesAcked", acked},
                         {"proxiesTotal", total},
                         {"done", acked == total},
                         {"datacenters", std::move(perDc)}};
      std::string fingerprint = json::serialize(block);
      auto& last = lastRollout[name];
      if (last == fingerprint) continue;
      last = std::move(fingerprint);
      block["updateTime"] = nowText();
      WriteJob job;
      job.kind = WriteJob::Kind::kRollout;
      job.name = name;
      job.status = std::move(block);
      job.version = sm.version;
      enqueueWrite(std::move(job));
    }
  }

  // =================== lastSeenTime ===================

  void scheduleSweep() {
    sweepTimer.expires_after(
        std::min<std::chrono::milliseconds>(options.lastSeenInterval, std::chrono::seconds(1)));
    sweepTimer.async_wait([this](boost::system::error_code ec) {
      if (ec || stopping) return;
      const auto now = Clock::now();
      for (auto& [id, s] : sessions) {
        if (s->helloDone && now - s->lastSeenWritten >= options.lastSeenInterval) record(*s);
      }
      markStale();
      scheduleSweep();
    });
  }

  /// Proxy objects that say connected but whose server has not refreshed them for three
  /// lastSeenIntervals (a server that stopped, or this one before a restart): disconnected.
  void markStale() {
    const auto now = std::chrono::system_clock::now();
    for (const auto& [id, p] : objectProxies) {
      if (!p.connected || sessions.count(id)) continue;
      auto seen = objectLastSeen.find(id);
      if (seen != objectLastSeen.end() && now - seen->second <= options.lastSeenInterval * 3)
        continue;
      if (!staleQueued.insert(id).second) continue;
      WriteJob job;
      job.kind = WriteJob::Kind::kStale;
      job.name = id;
      enqueueWrite(std::move(job));
    }
  }

  // =================== the world ===================

  /// Applies one change of a watched kind; returns whether the mesh's view changed.
  bool apply(const std::string& kind, apiserver::EventType type, const std::string& ns,
             const std::string& name, const json::object& obj) {
    const bool gone = type == apiserver::EventType::kDeleted;
    const std::string key = ns.empty() ? name : ns + "/" + name;
    auto upsert = [&](auto& map, auto info) -> bool {
      if (gone || !info) return map.erase(key) > 0;
      auto it = map.find(key);
      if (it != map.end() && it->second == *info) return false;
      map[key] = std::move(*info);
      return true;
    };
    if (kind == "Application") return upsert(world.apps, appFromObject(obj));
    if (kind == "Replica") return upsert(world.replicas, replicaFromObject(obj));
    if (kind == "Cell") return upsert(world.cells, cellFromObject(obj));
    if (kind == "Cluster") return upsert(world.clusterZones, clusterZoneFromObject(obj));
    if (kind == "ShardMap") {
      const bool changed = upsert(world.shardMaps, shardMapFromObject(obj));
      if (changed) scheduleRollout();
      return changed;
    }
    if (kind == "Proxy") {
      if (!gone) {
        if (auto seen = parseRfc3339(str(obj, "status.lastSeenTime"))) {
          auto& last = objectLastSeen[key];
          if (*seen > last) staleQueued.erase(key);  // seen again: may go stale again
          last = *seen;
        }
      } else {
        objectLastSeen.erase(key);
      }
      const bool changed = upsert(objectProxies, proxyFromObject(obj));
      if (!sessions.count(key)) {
        // Another server's proxy: its acknowledgements count in the rollout.
        if (upsert(objectAcks, std::optional(acksFromObject(obj))) || changed) scheduleRollout();
      }
      // Only gateways of other servers' sessions matter to the configuration.
      return changed && !sessions.count(key);
    }
    return false;
  }

  Awaitable<Status> load(std::string kind) {
    auto sub = hub.subscribe(kind, [this, kind] { net::post(ioc, [this, kind] { drain(kind); }); });
    subs[kind] = sub;
    apiserver::ListQuery q;
    q.kind = kind;
    q.atRv = sub->startRv();
    q.limit = 500;
    // Forget what a previous load of this kind knew.
    if (kind == "Application") world.apps.clear();
    if (kind == "Replica") world.replicas.clear();
    if (kind == "Cell") world.cells.clear();
    if (kind == "Cluster") world.clusterZones.clear();
    if (kind == "ShardMap") world.shardMaps.clear();
    if (kind == "Proxy") {
      objectProxies.clear();
      objectAcks.clear();
    }
    while (true) {
      auto page = co_await storage.list(q);
      if (!page.isOk()) co_return page.status();
      for (const auto& item : page->items) {
        json::object o = json::parse(item.json).as_object();
        apply(kind, apiserver::EventType::kAdded, str(o, "metadata.namespace"),
              str(o, "metadata.name"), o);
      }
      if (!page->more) break;
      q.afterNs = page->lastNs;
      q.afterName = page->lastName;
    }
    drain(kind);
    co_return Status::ok();
  }

  void drain(const std::string& kind) {
    auto it = subs.find(kind);
    if (it == subs.end() || !it->second || stopping) return;
    bool overflowed = false, closed = false;
    auto events = it->second->drain(overflowed, closed);
    bool changed = false;
    for (const auto& ev : events) {
      changed |= apply(kind, ev->type, ev->key.ns, ev->key.name, ev->object);
    }
    if (overflowed) {
      log->warn("mesh watch overflowed; reloading kind={}", kind);
      spawn(ioc, [this, kind]() -> Awaitable<void> {
        Status s = co_await load(kind);
        if (!s.isOk()) log->error("reloading failed kind={} error=\"{}\"", kind, s.message());
        worldChanged();
      });
      return;
    }
    if (changed) worldChanged();
  }

  Awaitable<Status> loadAll() {
    for (const char* k : kWatched) {
      Status s = co_await load(k);
      if (!s.isOk()) co_return s;
    }
    co_return Status::ok();
  }
};

MeshControlPlane::MeshControlPlane(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

MeshControlPlane::~MeshControlPlane() {
  shutdown();
}

Result<std::unique_ptr<MeshControlPlane>> MeshControlPlane::create(
    MeshControlOptions options, const apiserver::KindRegistry& kinds, apiserver::Storage& storage,
    apiserver::WatchHub& hub, apiserver::Registry& registry, prometheus::Registry& metrics) {
  if (options.tlsCertFile.empty() != options.tlsKeyFile.empty()) {
    return invalidArgument("mesh TLS needs both a certificate and a key");
  }
  for (const char* k : kWatched) {
    if (!kinds.byKind(k)) return internalError(std::string("kind ") + k + " not registered");
  }
  auto colon = options.listen.rfind(':');
  if (colon == std::string::npos) return invalidArgument("--mesh-listen must be address:port");
  const std::string host = options.listen.substr(0, colon);
  const bool loopback = host == "127.0.0.1" || host == "localhost" || host == "[::1]";
  if (options.tlsCertFile.empty() && !loopback && !options.allowInsecure) {
    return invalidArgument("refusing plaintext proxy connections on " + options.listen +
                           ": give a TLS certificate and key");
  }
  auto impl = std::make_unique<Impl>(std::move(options), kinds, storage, hub, registry);
  impl->proxiesConnected = &prometheus::BuildGauge()
                                .Name("tessera_mesh_proxies_connected")
                                .Help("Proxies with an open stream to this server")
                                .Register(metrics)
                                .Add({});
  impl->pushes = &prometheus::BuildCounter()
                      .Name("tessera_mesh_config_pushes_total")
                      .Help("Resource sets sent to proxies, by type")
                      .Register(metrics);
  impl->nacks = &prometheus::BuildCounter()
                     .Name("tessera_mesh_nacks_total")
                     .Help("Resource sets proxies rejected, by type")
                     .Register(metrics);
  impl->refusals = &prometheus::BuildCounter()
                        .Name("tessera_mesh_streams_refused_total")
                        .Help("Proxy streams refused, by reason")
                        .Register(metrics);
  impl->statusWrites = &prometheus::BuildCounter()
                            .Name("tessera_mesh_status_writes_total")
                            .Help("Proxy and ShardMap writes of the mesh control plane")
                            .Register(metrics)
                            .Add({});
  impl->convergenceSeconds =
      &prometheus::BuildHistogram()
           .Name("tessera_mesh_convergence_seconds")
           .Help("From a change observed to every connected proxy holding its configuration")
           .Register(metrics)
           .Add({}, latencyBuckets());
  impl->ackSeconds = &prometheus::BuildHistogram()
                          .Name("tessera_mesh_ack_seconds")
                          .Help("From sending a resource set to a proxy to its answer")
                          .Register(metrics)
                          .Add({}, latencyBuckets());
  return std::unique_ptr<MeshControlPlane>(new MeshControlPlane(std::move(impl)));
}

Status MeshControlPlane::start() {
  auto& im = *impl_;
  im.guard.emplace(im.ioc.get_executor());
  im.writerGuard.emplace(im.writerIoc.get_executor());
  im.thread = std::thread([&im] { im.ioc.run(); });
  im.writerThread = std::thread([&im] { im.writerIoc.run(); });
  auto loaded = net::co_spawn(im.ioc, im.loadAll(), net::use_future);
  Status s = loaded.get();
  if (!s.isOk()) return s;

  im.service = std::make_unique<Impl::Service>(&im);
  auto server = startGrpcServer({.address = im.options.listen,
                                 .tlsCertFile = im.options.tlsCertFile,
                                 .tlsKeyFile = im.options.tlsKeyFile,
                                 .maxReceiveBytes = 64 * 1024 * 1024,
                                 .peers = "proxies"},
                                *im.service, im.boundPort);
  if (!server.isOk()) return server.status();
  im.server = std::move(*server);
  net::post(im.ioc, [&im] {
    im.scheduleSweep();
    im.scheduleRollout();
  });
  im.log->info("listening for proxies address={} port={} tls={}", im.options.listen, im.boundPort,
               !im.options.tlsCertFile.empty());
  return Status::ok();
}

void MeshControlPlane::shutdown() {
  auto& im = *impl_;
  if (im.stopping.exchange(true)) return;
  if (im.server) im.server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  net::post(im.ioc, [&im] {
    im.rebuildTimer.cancel();
    im.sweepTimer.cancel();
    im.rolloutTimer.cancel();
    im.subs.clear();
  });
  if (im.server) im.server->Wait();
  im.guard.reset();
  im.ioc.stop();
  if (im.thread.joinable()) im.thread.join();
  im.writerGuard.reset();
  im.writerIoc.stop();
  if (im.writerThread.joinable()) im.writerThread.join();
  im.sessions.clear();
}

std::uint16_t MeshControlPlane::port() const {
  return static_cast<std::uint16_t>(impl_->boundPort);
}

}  // namespace tessera::mesh::control
