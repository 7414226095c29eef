// tessera-proxy: the mesh's data plane (docs/proxy.md).
//
//   tessera-proxy --config FILE [--workers N] [--admin HOST:PORT] [--hot-restart-socket PATH]
//   tessera-proxy --control-plane HOST:PORT --token-file F [--ca-file F] --id ID ...
//
// Wiring, in order: flags → (hot restart: take the listening sockets of the running process)
// → workers (ProxyServer) → first config (file) → admin endpoint → hot restart parent side and
// DRAIN of the previous process → config stream (control plane) → signals.
// SIGHUP re-reads --config (a bad file is refused and the last good config keeps serving);
// SIGTERM/SIGINT, POST /drain and a hot restart's DRAIN drain and exit.
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>
#include <thread>

#include "common/logging.h"
#include "mesh/config/config.h"
#include "mesh/proxy/admin_server.h"
#include "mesh/proxy/hot_restart.h"
#include "mesh/proxy/proxy_server.h"
#ifdef TESSERA_PROXY_HAS_XDS
#include "mesh/xds/config_client.h"
#endif

namespace {

namespace asio = boost::asio;
using tessera::Result;
using tessera::Status;
using namespace tessera::mesh;
using namespace tessera::mesh::proxy;

Result<std::string> readWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return tessera::invalidArgument("cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Result<std::shared_ptr<const Config>> loadConfigFile(const std::string& path) {
  auto text = readWholeFile(path);
  if (!text.isOk()) return text.status();
  auto config = parseConfigText(*text);
  if (!config.isOk()) return config.status();
  Status valid = validate(*config);
  if (!valid.isOk()) return valid;
  return std::shared_ptr<const Config>(std::make_shared<Config>(std::move(*config)));
}

bool writePortFile(const std::string& path, uint16_t port) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << port << "\n";
    if (!out.flush()) return false;
  }
  return std::rename(tmp.c_str(), path.c_str()) == 0;
}

bool splitHostPort(const std::string& s, std::string& host, uint16_t& port) {
  size_t colon = s.rfind(':');
  if (colon == std::string::npos) return false;
  host = s.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  try {
    int p = std::stoi(s.substr(colon + 1));
    if (p < 0 || p > 65535) return false;
    port = static_cast<uint16_t>(p);
  } catch (const std::exception&) {
    return false;
  }
  return true;
}

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  ::signal(SIGPIPE, SIG_IGN);
  // SIGHUP/SIGTERM/SIGINT are taken by the control loop's signal_set on the main thread; they
  // are blocked in every other thread (started while blocked).
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGHUP);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);

  std::string configFile;
  size_t workers =
      std::thread::hardware_concurrency() == 0 ? 1 : std::thread::hardware_concurrency();
  std::string admin = "127.0.0.1:9901";
  std::string adminPortFile;
  int drainSeconds = 10;
  std::string logLevel = "info";
  std::string hotRestartSocket;
  std::string controlPlane, tokenFile, caFile, cell, role = "gateway", advertise;
  WorkerSettings settings;
  CLI::App app{"tessera-proxy: the Tessera mesh data plane (HTTP/1.1 and TCP reverse proxy)"};
  app.add_option("--config", configFile,
                 "standalone config file (YAML or JSON, docs/mesh-config.md)");
  app.add_option("--workers", workers, "worker threads (event loops)")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  app.add_option("--admin", admin, "admin endpoint HOST:PORT (port 0: any)")->capture_default_str();
  app.add_option("--admin-port-file", adminPortFile, "write the admin port here once listening");
  app.add_option("--drain-time", drainSeconds, "seconds to finish in-flight requests when draining")
      ->check(CLI::Range(0, 3600))
      ->capture_default_str();
  app.add_option("--hot-restart-socket", hotRestartSocket,
                 "Unix socket path: take the listening sockets of the proxy serving it, then "
                 "serve it for the next one");
  app.add_option("--control-plane", controlPlane, "tessera-server's mesh gRPC HOST:PORT");
  app.add_option("--token-file", tokenFile, "bearer token for the control plane");
  app.add_option("--ca-file", caFile, "CA bundle (PEM) for the control plane's TLS");
  app.add_option("--id", settings.nodeId, "this proxy's node id");
  app.add_option("--datacenter", settings.datacenter, "this proxy's datacenter");
  app.add_option("--cell", cell, "this proxy's cell (sidecars)");
  app.add_option("--role", role, "gateway or sidecar")->capture_default_str();
  app.add_option("--advertise", advertise, "HOST:PORT clients reach this proxy at");
  app.add_option("--log-level", logLevel, "trace, debug, info, warn, error")->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  tessera::initLogging(logLevel);
  auto log = tessera::getLogger("proxy");
  if (configFile.empty() == controlPlane.empty()) {
    std::cerr << "tessera-proxy: exactly one of --config FILE or --control-plane HOST:PORT\n";
    return 2;
  }
#ifndef TESSERA_PROXY_HAS_XDS
  if (!controlPlane.empty()) {
    std::cerr << "tessera-proxy: built without the control-plane client\n";
    return 2;
  }
#endif
  std::string adminHost;
  uint16_t adminPort = 0;
  if (!splitHostPort(admin, adminHost, adminPort)) {
    std::cerr << "tessera-proxy: --admin must be HOST:PORT\n";
    return 2;
  }

  std::shared_ptr<const Config> initial;
  if (!configFile.empty()) {
    auto config = loadConfigFile(configFile);
    if (!config.isOk()) {
      std::cerr << "tessera-proxy: " << configFile << ": " << config.status().message() << "\n";
      return 1;
    }
    initial = *config;
  }

  ProxyOptions options;
  options.workers = workers;
  options.settings = settings;
  ProxyServer proxy(options);

  // Hot restart, child side: take the running proxy's listening sockets before opening any.
  std::unique_ptr<HotRestart> hotRestart;
  if (!hotRestartSocket.empty()) {
    auto created = HotRestart::create(HotRestart::Options{hotRestartSocket});
    if (!created.isOk()) {
      std::cerr << "tessera-proxy: " << created.status().message() << "\n";
      return 2;
    }
    hotRestart = std::move(*created);
    auto inherited = hotRestart->takeOverFromParent();
    if (!inherited.isOk()) {
      std::cerr << "tessera-proxy: hot restart: " << inherited.status().message() << "\n";
      return 1;
    }
    std::vector<ProxyServer::InheritedSocket> sockets;
    for (auto& s : *inherited) {
      sockets.push_back(
          ProxyServer::InheritedSocket{s.listener, s.address, s.port, s.fd.release()});
    }
    log->info("hot restart parent={} sockets={}", hotRestart->hasParent(), sockets.size());
    proxy.adoptListenerSockets(std::move(sockets));
  }

  proxy.start();
  if (initial) {
    Status applied = proxy.apply(initial);
    if (!applied.isOk()) {
      std::cerr << "tessera-proxy: " << configFile << ": " << applied.message() << "\n";
      proxy.stop();
      return 1;
    }
  }

  asio::io_context control(1);
  bool drainStarted = false;
  asio::steady_timer drainTimer(control);
  std::chrono::steady_clock::time_point drainDeadline;
  std::function<void()> pollDrain = [&] {
    drainTimer.expires_after(std::chrono::milliseconds(20));
    drainTimer.async_wait([&](boost::system::error_code ec) {
      if (ec) return;
      const uint64_t inFlight = proxy.inFlight();
      const uint64_t open = proxy.connections();
      if ((inFlight == 0 && open == 0) || std::chrono::steady_clock::now() >= drainDeadline) {
        log->info("drained in_flight={} connections={}", inFlight, open);
        control.stop();
        return;
      }
      pollDrain();
    });
  };
  // Runs on the control loop.
  auto startDrain = [&] {
    if (drainStarted) return;
    drainStarted = true;
    log->info("draining drain_time={}s", drainSeconds);
    proxy.drain();
    drainDeadline = std::chrono::steady_clock::now() + std::chrono::seconds(drainSeconds);
    pollDrain();
  };

  auto adminServer =
      AdminServer::create(proxy, adminHost, adminPort, [&] { asio::post(control, startDrain); });
  if (!adminServer.isOk()) {
    std::cerr << "tessera-proxy: " << adminServer.status().message() << "\n";
    proxy.stop();
    return 1;
  }
  (*adminServer)->start();
  if (!adminPortFile.empty() && !writePortFile(adminPortFile, (*adminServer)->port())) {
    std::cerr << "tessera-proxy: cannot write " << adminPortFile << "\n";
  }

  // Hot restart, parent side for the next process; then tell the previous one to drain.
  if (hotRestart) {
    Status served = hotRestart->serve(
        [&proxy] {
          std::vector<ListenerSocket> out;
          uint32_t i = 0;
          for (auto& s : proxy.duplicateListenerSockets()) {
            ListenerSocket ls;
            ls.listener = s.listener;
            ls.address = s.address;
            ls.port = s.port;
            ls.worker = i++;
            ls.fd = UniqueFd(s.fd);
            out.push_back(std::move(ls));
          }
          return out;
        },
        [&] { asio::post(control, startDrain); });
    if (!served.isOk()) log->error("hot restart serve failed error=\"{}\"", served.message());
    if (hotRestart->hasParent()) {
      Status drained = hotRestart->drainParent();
      if (!drained.isOk()) {
        log->error("hot restart: parent did not drain error=\"{}\"", drained.message());
      }
    }
  }

#ifdef TESSERA_PROXY_HAS_XDS
  // Control plane: each type's resource set is applied on a copy of the last good set, so a
  // NACKed update changes nothing.
  std::unique_ptr<ConfigClient> client;
  std::mutex resourcesMu;
  ResourceSet resources;
  if (!controlPlane.empty()) {
    ConfigClientOptions co;
    co.server = controlPlane;
    co.caFile = caFile;
    if (!tokenFile.empty()) {
      auto token = readWholeFile(tokenFile);
      if (!token.isOk()) {
        std::cerr << "tessera-proxy: " << token.status().message() << "\n";
        proxy.stop();
        return 2;
      }
      co.token = trimmed(*token);
    }
    co.identity.id = settings.nodeId;
    co.identity.datacenter = settings.datacenter;
    co.identity.cell = cell;
    co.identity.role = role;
    co.identity.listenAddress = advertise;
    co.identity.adminAddress = adminHost + ":" + std::to_string((*adminServer)->port());
    client = ConfigClient::create(co,
                                  [&](ResourceType type, const std::string& version,
                                      const std::vector<ResourceSet::Named>& named) -> Status {
                                    std::lock_guard lock(resourcesMu);
                                    ResourceSet candidate = resources;
                                    Status s = candidate.apply(type, version, named);
                                    if (s.isOk()) s = proxy.apply(candidate.current());
                                    if (!s.isOk()) {
                                      proxy.reject(s);
                                      return s;
                                    }
                                    resources = std::move(candidate);
                                    return Status::ok();
                                  });
    client->start();
  }
#endif

  pthread_sigmask(SIG_UNBLOCK, &sigs, nullptr);
  asio::signal_set signals(control, SIGHUP, SIGTERM, SIGINT);
  std::function<void()> waitSignal = [&] {
    signals.async_wait([&](boost::system::error_code ec, int sig) {
      if (ec) return;
      if (sig == SIGHUP) {
        if (configFile.empty()) {
          log->info("SIGHUP ignored: the config comes from the control plane");
        } else {
          log->info("SIGHUP: reloading config file={}", configFile);
          auto next = loadConfigFile(configFile);
          Status s = next.isOk() ? proxy.apply(*next) : next.status();
          if (!s.isOk()) proxy.reject(s);
        }
      } else {
        log->info("signal={}: draining", sig == SIGTERM ? "SIGTERM" : "SIGINT");
        startDrain();
      }
      waitSignal();
    });
  };
  waitSignal();
  log->info("started workers={} admin_port={} version={}", workers, (*adminServer)->port(),
            initial ? initial->version : "(control plane)");
  auto work = asio::make_work_guard(control);
  control.run();

#ifdef TESSERA_PROXY_HAS_XDS
  if (client) client->stop();
#endif
  if (hotRestart) hotRestart->stop();
  (*adminServer)->stop();
  proxy.stop();
  log->info("exiting");
  return 0;
}
