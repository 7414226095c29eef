// tessera-server: the control plane process. Wires the parts explicitly: storage, watch hub,
// registry, authentication, REST handler, HTTP server; starts them in order and stops them in
// reverse on SIGTERM/SIGINT.
#include <prometheus/registry.h>
#include <signal.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "apiserver/auth.h"
#include "apiserver/bootstrap.h"
#include "apiserver/http_server.h"
#include "apiserver/kinds/admission.h"
#include "apiserver/kinds/kinds.h"
#include "apiserver/postgres/pg_storage.h"
#include "apiserver/registry.h"
#include "apiserver/rest_api.h"
#include "apiserver/watch_hub.h"
#include "common/logging.h"
#include "common/signals.h"
#include "common/time_util.h"
#include "federation/server/federation_server.h"
#include "mesh/control/control_plane.h"
#include "scheduler/controller.h"
#include "traffic/metrics/proxy_stats_scraper.h"

namespace {

using namespace tessera;
using namespace tessera::apiserver;

constexpr char kServerVersion[] = "0.1.0";

struct Flags {
  std::string listen = "127.0.0.1:8080";
  std::string db;
  int dbPoolSize = 8;
  int ioThreads = 2;
  std::string tlsCert, tlsKey, tlsCa;
  bool allowInsecure = false;
  std::string adminKubeconfig;
  std::string advertiseUrl;
  std::string portFile;
  std::size_t maxBodyBytes = 3 * 1024 * 1024;
  std::string historyRetention = "1h";
  std::string auditRetention = "90d";
  std::string compactInterval = "60s";
  std::string watchTimeout = "30m";
  std::string bookmarkInterval = "60s";
  std::string pollInterval = "250ms";
  std::string shutdownGrace = "30s";
  std::string dbConnectTimeout = "30s";
  std::string authCacheTtl = "10s";
  std::string headerTimeout = "10s";
  std::size_t watchCacheEvents = 16384;
  std::string idleTimeout = "120s";
  std::string agentListen = "127.0.0.1:8444";
  std::string agentPortFile;
  std::string heartbeatInterval = "10s";
  int heartbeatMisses = 3;
  bool scheduler = true;
  std::string schedulerResync = "5s";
  int failoverReplicasPerMinute = 60;
  bool mesh = true;
  std::string meshListen = "127.0.0.1:8445";
  std::string meshPortFile;
  std::string logLevel = "info";
  std::string webRoot;  // default: defaultWebRoot()
  bool trafficStats = true;
  std::string trafficScrapeInterval = "2s";
};

std::chrono::milliseconds duration(const std::string& flag, const std::string& v) {
  auto d = parseDuration(v);
  if (!d) {
    std::cerr << "tessera-server: invalid duration for " << flag << ": \"" << v
              << "\" (use e.g. 250ms, 30s, 5m, 1h, 90d)\n";
    std::exit(2);
  }
  return *d;
}

/// The built console: web/dist beside the binary (the build directory), else the source tree's.
std::string defaultWebRoot() {
  std::vector<std::string> candidates;
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) candidates.push_back((exe.parent_path() / "web" / "dist").string());
#ifdef TESSERA_WEB_DIST_SOURCE
  candidates.push_back(TESSERA_WEB_DIST_SOURCE);
#endif
  return StaticFiles::firstBuiltRoot(candidates);
}

bool isLoopback(const std::string& host) {
  return host == "127.0.0.1" || host == "::1" || host == "localhost" || host.rfind("127.", 0) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  Flags f;
  CLI::App app{"tessera-server: the Tessera control plane (API server)"};
  app.add_option("--listen", f.listen, "address:port to serve the API on (port 0: any)")
      ->capture_default_str();
  app.add_option("--db", f.db, "PostgreSQL connection string or URI (or env TESSERA_DB)");
  app.add_option("--db-pool-size", f.dbPoolSize, "PostgreSQL connections for requests")
      ->capture_default_str();
  app.add_option("--io-threads", f.ioThreads, "HTTP I/O threads")->capture_default_str();
  app.add_option("--tls-cert", f.tlsCert, "PEM certificate chain: serve HTTPS");
  app.add_option("--tls-key", f.tlsKey, "PEM private key for --tls-cert");
  app.add_option("--tls-ca", f.tlsCa,
                 "PEM CA written into the admin kubeconfig (default: --tls-cert)");
  app.add_flag("--allow-insecure-http", f.allowInsecure,
               "allow plain HTTP on a non-loopback address (not recommended)");
  app.add_option("--admin-kubeconfig", f.adminKubeconfig,
                 "write an admin kubeconfig here (mode 0600), minting a token if needed");
  app.add_option("--advertise-url", f.advertiseUrl,
                 "API URL for the kubeconfig (default: from --listen)");
  app.add_option("--port-file", f.portFile, "write the bound port here once serving");
  app.add_option("--max-body-bytes", f.maxBodyBytes, "largest request body (413 above)")
      ->capture_default_str();
  app.add_option("--history-retention", f.historyRetention,
                 "keep object history this long (watch resume window)")
      ->capture_default_str();
  app.add_option("--audit-retention", f.auditRetention, "keep audit events this long")
      ->capture_default_str();
  app.add_option("--compact-interval", f.compactInterval, "how often to trim history")
      ->capture_default_str();
  app.add_option("--watch-timeout", f.watchTimeout, "minimum server-side watch duration")
      ->capture_default_str();
  app.add_option("--bookmark-interval", f.bookmarkInterval, "BOOKMARK event spacing")
      ->capture_default_str();
  app.add_option("--poll-interval", f.pollInterval,
                 "change-pump poll period (safety net for NOTIFY)")
      ->capture_default_str();
  app.add_option("--shutdown-grace", f.shutdownGrace, "time given to requests in flight on SIGTERM")
      ->capture_default_str();
  app.add_option("--db-connect-timeout", f.dbConnectTimeout,
                 "give up starting if PostgreSQL is unreachable this long")
      ->capture_default_str();
  app.add_option("--auth-cache-ttl", f.authCacheTtl, "cache token lookups this long")
      ->capture_default_str();
  app.add_option("--watch-cache-events", f.watchCacheEvents,
                 "recent changes kept in memory for resuming watches without a query")
      ->capture_default_str();
  app.add_option("--header-timeout", f.headerTimeout, "a request's header must arrive within this")
      ->capture_default_str();
  app.add_option("--idle-timeout", f.idleTimeout, "close keep-alive connections idle this long")
      ->capture_default_str();
  app.add_option("--agent-listen", f.agentListen, "address:port for agents (gRPC; port 0: any)")
      ->capture_default_str();
  app.add_option("--agent-port-file", f.agentPortFile, "write the agents' port here once serving");
  app.add_option("--heartbeat-interval", f.heartbeatInterval, "how often agents send heartbeats")
      ->capture_default_str();
  app.add_option("--heartbeat-misses", f.heartbeatMisses,
                 "missed heartbeats before a cluster's Ready condition turns Unknown")
      ->capture_default_str();
  app.add_flag("--scheduler,!--no-scheduler", f.scheduler,
               "run the scheduler (placing applications into cells) in this process")
      ->capture_default_str();
  app.add_option("--scheduler-resync", f.schedulerResync,
                 "the scheduler re-places every application at least this often")
      ->capture_default_str();
  app.add_option("--failover-replicas-per-minute", f.failoverReplicasPerMinute,
                 "failover moves at most this many replicas per minute, over all applications")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  app.add_flag("--mesh,!--no-mesh", f.mesh,
               "run the mesh control plane (streaming configuration to tessera-proxy)")
      ->capture_default_str();
  app.add_option("--mesh-listen", f.meshListen,
                 "address:port for mesh proxies (gRPC, TLS with --tls-cert; port 0: any)")
      ->capture_default_str();
  app.add_option("--mesh-port-file", f.meshPortFile, "write the proxies' port here once serving");
  app.add_option("--web-root", f.webRoot,
                 "the built web console to serve at / (default: web/dist beside the binary, "
                 "else in the source tree)");
  app.add_flag("--traffic-stats,!--no-traffic-stats", f.trafficStats,
               "scrape the connected proxies' /stats for live traffic "
               "(/apis/traffic.tessera.io/v1/stats)")
      ->capture_default_str();
  app.add_option("--traffic-scrape-interval", f.trafficScrapeInterval,
                 "how often the proxies' /stats are scraped")
      ->capture_default_str();
  app.add_option("--log-level", f.logLevel, "trace, debug, info, warn, error")
      ->capture_default_str();
  app.set_version_flag("--version", kServerVersion);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);  // prints help, the version, or the error
    return code == 0 ? 0 : 2;
  }

  initLogging(f.logLevel);
  auto log = getLogger("server");
  if (f.db.empty()) {
    if (const char* env = std::getenv("TESSERA_DB")) f.db = env;
  }
  if (f.db.empty()) {
    std::cerr << "tessera-server: --db (or TESSERA_DB) is required\n";
    return 2;
  }
  auto colon = f.listen.rfind(':');
  if (colon == std::string::npos) {
    std::cerr << "tessera-server: --listen must be address:port\n";
    return 2;
  }
  std::string host = f.listen.substr(0, colon);
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  int port = std::atoi(f.listen.c_str() + colon + 1);
  const bool tls = !f.tlsCert.empty();
  if (!tls && !isLoopback(host) && !f.allowInsecure) {
    std::cerr << "tessera-server: refusing plain HTTP on " << host
              << ": give --tls-cert/--tls-key (or --allow-insecure-http)\n";
    return 2;
  }

  // Signals are handled by the main thread only (sigwait below).
  blockTerminationSignals();
  // Every agent and every watch holds a socket: use the hard limit, not the default 1,024.
  if (rlimit fds{}; ::getrlimit(RLIMIT_NOFILE, &fds) == 0 && fds.rlim_cur < fds.rlim_max) {
    fds.rlim_cur = fds.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &fds);
  }

  prometheus::Registry metrics;
  KindRegistry kinds = builtinKinds();
  WatchHub hub(std::max<std::size_t>(1, f.watchCacheEvents), /*queueLimit=*/10000, metrics);

  pg::PgStorageOptions so;
  so.conninfo = f.db;
  so.poolSize = f.dbPoolSize;
  so.historyRetention = std::chrono::duration_cast<std::chrono::seconds>(
      duration("--history-retention", f.historyRetention));
  so.auditRetention = std::chrono::duration_cast<std::chrono::seconds>(
      duration("--audit-retention", f.auditRetention));
  so.compactInterval = std::chrono::duration_cast<std::chrono::seconds>(
      duration("--compact-interval", f.compactInterval));
  so.pollInterval = duration("--poll-interval", f.pollInterval);
  auto storage = pg::PgStorage::open(so, hub, metrics,
                                     std::chrono::duration_cast<std::chrono::seconds>(
                                         duration("--db-connect-timeout", f.dbConnectTimeout)));
  if (!storage.isOk()) {
    log->critical("cannot open storage error=\"{}\"", storage.status().message());
    return 1;
  }

  Registry registry(kinds, **storage);
  registry.setAdmission("ShardMap", shardMapAdmission(**storage));
  registry.setAdmission("Cell", cellAdmission(**storage));
  Authenticator auth(**storage, hub,
                     std::chrono::duration_cast<std::chrono::seconds>(
                         duration("--auth-cache-ttl", f.authCacheTtl)));
  ApiHandlerOptions ho;
  ho.version = kServerVersion;
  ho.watchMinTimeout =
      std::chrono::duration_cast<std::chrono::seconds>(duration("--watch-timeout", f.watchTimeout));
  ho.bookmarkInterval = std::chrono::duration_cast<std::chrono::seconds>(
      duration("--bookmark-interval", f.bookmarkInterval));
  ApiHandler handler(kinds, **storage, hub, registry, auth, metrics, ho);

  federation::FederationOptions fo;
  fo.listen = f.agentListen;
  fo.tlsCertFile = f.tlsCert;
  fo.tlsKeyFile = f.tlsKey;
  fo.allowInsecure = f.allowInsecure;
  fo.heartbeatInterval = duration("--heartbeat-interval", f.heartbeatInterval);
  fo.heartbeatMisses = std::max(1, f.heartbeatMisses);
  fo.heartbeatPersistInterval = std::max(fo.heartbeatInterval, std::chrono::milliseconds(10000));
  auto fed = federation::FederationServer::create(fo, kinds, **storage, hub, registry, metrics);
  if (!fed.isOk()) {
    log->critical("cannot start the federation error=\"{}\"", fed.status().message());
    (*storage)->stop();
    return 1;
  }
  if (Status st = (*fed)->start(); !st.isOk()) {
    log->critical("cannot start the federation error=\"{}\"", st.message());
    (*storage)->stop();
    return 1;
  }
  scheduler::SchedulerOptions schedOpts;
  schedOpts.resync = duration("--scheduler-resync", f.schedulerResync);
  schedOpts.failoverReplicasPerMinute = f.failoverReplicasPerMinute;
  auto sched =
      scheduler::SchedulerController::create(schedOpts, kinds, **storage, hub, registry, metrics);
  if (!sched.isOk()) {
    log->critical("cannot start the scheduler error=\"{}\"", sched.status().message());
    (*fed)->shutdown();
    (*storage)->stop();
    return 1;
  }
  if (f.scheduler) (*sched)->start();
  scheduler::SchedulerController* schedPtr = sched->get();
  handler.setReviewProvider(
      [schedPtr](const KindInfo&, std::string body) { return schedPtr->review(std::move(body)); });
  // The mesh control plane: after the federation (it reads what agents report) and before
  // HTTP serves; stopped before the scheduler and the federation.
  std::unique_ptr<mesh::control::MeshControlPlane> meshPlane;
  if (f.mesh) {
    mesh::control::MeshControlOptions mo;
    mo.listen = f.meshListen;
    mo.tlsCertFile = f.tlsCert;
    mo.tlsKeyFile = f.tlsKey;
    mo.allowInsecure = f.allowInsecure;
    mo.authCacheTtl = std::chrono::duration_cast<std::chrono::seconds>(
        duration("--auth-cache-ttl", f.authCacheTtl));
    auto created =
        mesh::control::MeshControlPlane::create(mo, kinds, **storage, hub, registry, metrics);
    Status st = created.isOk() ? (*created)->start() : created.status();
    if (!st.isOk()) {
      log->critical("cannot start the mesh control plane error=\"{}\"", st.message());
      if (created.isOk()) (*created)->shutdown();
      (*sched)->shutdown();
      (*fed)->shutdown();
      (*storage)->stop();
      return 1;
    }
    meshPlane = std::move(created).value();
  }
  federation::FederationServer* fedPtr = fed->get();
  handler.setLogProvider([fedPtr](std::string ns, std::string name, int tail) {
    return fedPtr->fetchLogs(std::move(ns), std::move(name), tail);
  });

  // The web console (no data in it: served without authentication) and live traffic.
  StaticFiles console(f.webRoot.empty() ? defaultWebRoot() : f.webRoot);
  if (!f.webRoot.empty() && console.root().empty()) {
    log->warn("no console in --web-root dir=\"{}\": / explains how to build it", f.webRoot);
  }
  handler.setStaticFiles(&console);
  std::unique_ptr<traffic::ProxyStatsScraper> trafficScraper;
  if (f.trafficStats) {
    traffic::ProxyStatsScraperOptions to;
    to.interval = duration("--traffic-scrape-interval", f.trafficScrapeInterval);
    if (to.interval < std::chrono::milliseconds(100)) to.interval = std::chrono::milliseconds(100);
    trafficScraper = std::make_unique<traffic::ProxyStatsScraper>(to, **storage, metrics);
    traffic::ProxyStatsScraper* scraperPtr = trafficScraper.get();
    handler.setTrafficStatsProvider(
        [scraperPtr](std::chrono::seconds window) { return scraperPtr->statsJson(window); });
  }

  HttpServerOptions hso;
  hso.address = host;
  hso.port = static_cast<std::uint16_t>(port);
  hso.ioThreads = f.ioThreads;
  hso.maxBodyBytes = f.maxBodyBytes;
  hso.tlsCertFile = f.tlsCert;
  hso.tlsKeyFile = f.tlsKey;
  hso.headerTimeout = std::chrono::duration_cast<std::chrono::seconds>(
      duration("--header-timeout", f.headerTimeout));
  hso.idleTimeout =
      std::chrono::duration_cast<std::chrono::seconds>(duration("--idle-timeout", f.idleTimeout));
  auto http = HttpServer::create(hso, handler, metrics);
  if (!http.isOk()) {
    log->critical("cannot start HTTP server error=\"{}\"", http.status().message());
    if (meshPlane) meshPlane->shutdown();
    (*sched)->shutdown();
    (*fed)->shutdown();
    (*storage)->stop();
    return 1;
  }
  const std::uint16_t bound = (*http)->port();
  std::string url = f.advertiseUrl;
  if (url.empty()) {
    std::string h = host == "0.0.0.0" || host == "::" ? "127.0.0.1" : host;
    if (h.find(':') != std::string::npos) h = "[" + h + "]";
    url = std::string(tls ? "https://" : "http://") + h + ":" + std::to_string(bound);
  }

  if (!f.adminKubeconfig.empty()) {
    boost::asio::io_context ioc;
    KubeconfigOptions ko{f.adminKubeconfig, url, f.tlsCa.empty() ? f.tlsCert : f.tlsCa};
    auto fut = boost::asio::co_spawn(ioc, ensureAdminKubeconfig(registry, **storage, kinds, ko),
                                     boost::asio::use_future);
    ioc.run();
    Status s = fut.get();
    if (!s.isOk()) {
      log->critical("cannot write admin kubeconfig error=\"{}\"", s.message());
      if (meshPlane) meshPlane->shutdown();
      (*sched)->shutdown();
      (*fed)->shutdown();
      (*storage)->stop();
      return 1;
    }
  }

  if (trafficScraper) trafficScraper->start();
  (*http)->start();
  auto writePort = [](const std::string& file, unsigned value) {
    if (file.empty()) return;
    std::string tmp = file + ".tmp";
    std::ofstream(tmp) << value << "\n";
    std::rename(tmp.c_str(), file.c_str());
  };
  writePort(f.agentPortFile, (*fed)->port());
  if (meshPlane) writePort(f.meshPortFile, meshPlane->port());
  writePort(f.portFile, bound);
  log->info("serving url={} tls={} version={} console=\"{}\"", url, tls, kServerVersion,
            console.root().empty() ? "not built" : console.root());

  log->info("shutting down signal={}", awaitTerminationSignal());
  handler.setShuttingDown();
  hub.closeAll();
  (*http)->shutdown(duration("--shutdown-grace", f.shutdownGrace));
  if (trafficScraper) trafficScraper->shutdown();
  if (meshPlane) meshPlane->shutdown();
  (*sched)->shutdown();
  (*fed)->shutdown();
  (*storage)->stop();
  log->info("stopped");
  return 0;
}
