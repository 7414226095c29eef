// ApiHandler: the Kubernetes-style REST API of tessera-server.
//
// Routes every request: health and version (no authentication), discovery and OpenAPI,
// /metrics, and /apis/tessera.io/v1/... resource verbs. For resource verbs it authenticates
// (bearer token), authorizes (role × kind × verb), negotiates JSON or Table output, and calls
// the Registry (writes), Storage (lists) or the WatchHub (watch streams). Every error is a
// Kubernetes Status; every refusal is audited.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "apiserver/auth.h"
#include "apiserver/discovery.h"
#include "apiserver/http_types.h"
#include "apiserver/kind.h"
#include "apiserver/registry.h"
#include "apiserver/static_files.h"
#include "apiserver/storage.h"
#include "apiserver/watch_hub.h"

namespace prometheus {
class Registry;
template <typename T>
class Family;
class Counter;
class Histogram;
}  // namespace prometheus

namespace tessera::apiserver {

struct ApiHandlerOptions {
  std::string version = "0.1.0";
  /// Watches without timeoutSeconds end after a random time in [min, 2*min), like Kubernetes,
  /// so that clients re-establish them (and load spreads) now and then.
  std::chrono::seconds watchMinTimeout{1800};
  /// BOOKMARK events (when the client allows them) this often.
  std::chrono::seconds bookmarkInterval{60};
  /// Page size of the initial state sent by a watch without resourceVersion.
  std::size_t watchInitialPage = 500;
};

class ApiHandler final : public HttpHandler {
 public:
  ApiHandler(const KindRegistry& kinds, Storage& storage, WatchHub& hub, Registry& registry,
             Authenticator& authenticator, prometheus::Registry& metrics,
             ApiHandlerOptions options);

  Awaitable<std::optional<HttpResponse>> handle(HttpRequest& request,
                                                ResponseStream& stream) override;

  /// From now on /readyz fails (shutdown has begun).
  void setShuttingDown() { shuttingDown_ = true; }

  /// Serves GET .../<name>/log for kinds with hasLog: (namespace, name, tailLines) → the
  /// lines, newline-terminated. Set once by main before serving; kUnavailable when the
  /// replica's cluster cannot be reached.
  using LogProvider = std::function<Awaitable<Result<std::string>>(std::string ns, std::string name,
                                                                   int tailLines)>;
  void setLogProvider(LogProvider provider) { logProvider_ = std::move(provider); }

  /// Answers a review kind (kind.review): the validated object (with defaults) → its status.
  /// Set once by main before serving; kInvalidArgument becomes a 422.
  using ReviewProvider =
      std::function<Awaitable<Result<boost::json::value>>(const KindInfo& kind, std::string body)>;
  void setReviewProvider(ReviewProvider provider) { reviewProvider_ = std::move(provider); }

  /// Serves the web console: GET and HEAD of every path outside the API
  /// (StaticFiles::isConsolePath), without authentication. Set once by main before serving;
  /// without it those paths get the API's answers (401, 404).
  void setStaticFiles(StaticFiles* files) { staticFiles_ = files; }

  /// Answers GET /apis/traffic.tessera.io/v1/stats?window=N (any role that may read; N in
  /// seconds, at most 600): the TrafficStats JSON of the last N seconds. Set once by main
  /// before serving; must not block (it runs on an I/O thread). Without it: 503.
  using TrafficStatsProvider = std::function<std::string(std::chrono::seconds window)>;
  void setTrafficStatsProvider(TrafficStatsProvider provider) {
    trafficStats_ = std::move(provider);
  }

  struct Call;  // one request being served (rest_api.cc)

 private:
  Awaitable<HttpResponse> serveResource(Call& call);
  Awaitable<HttpResponse> list(Call& call);
  Awaitable<HttpResponse> serveLog(Call& call);
  Awaitable<HttpResponse> serveReview(Call& call, const WriteOptions& opts);
  Awaitable<HttpResponse> listAudit(Call& call);
  HttpResponse selfSubjectReview(Call& call);
  HttpResponse trafficStats(Call& call);
  /// Streams the watch; returns a response only when it refuses before streaming.
  Awaitable<std::optional<HttpResponse>> watch(Call& call, ResponseStream& stream);
  void finish(const Call& call, int status, std::chrono::steady_clock::time_point started);
  prometheus::Counter& watchCounter(const std::string& plural);

  const KindRegistry& kinds_;
  Storage& storage_;
  WatchHub& hub_;
  Registry& registry_;
  Authenticator& auth_;
  prometheus::Registry& metricsRegistry_;
  ApiHandlerOptions options_;
  DiscoveryDocs docs_;
  std::atomic<bool> shuttingDown_{false};
  LogProvider logProvider_;
  ReviewProvider reviewProvider_;
  StaticFiles* staticFiles_ = nullptr;
  TrafficStatsProvider trafficStats_;
  prometheus::Family<prometheus::Counter>* requests_;
  prometheus::Family<prometheus::Histogram>* latency_;
  prometheus::Family<prometheus::Counter>* watchEvents_;
};

}  // namespace tessera::apiserver
