#include "mesh/proxy/proxy_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <cerrno>
#include <cstring>
#include <random>
#include <set>

#include "common/logging.h"

namespace tessera::mesh::proxy {
namespace {

constexpr int kBacklog = 4096;

Result<int> openListeningSocket(const std::string& address, uint16_t port) {
  std::string addr = address == "localhost" ? "127.0.0.1" : address;
  sockaddr_storage ss{};
  socklen_t len = 0;
  int family = AF_INET;
  if (addr.find(':') != std::string::npos) {
    auto* a6 = reinterpret_cast<sockaddr_in6*>(&ss);
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons(port);
    if (inet_pton(AF_INET6, addr.c_str(), &a6->sin6_addr) != 1) {
      return invalidArgument("\"" + address + "\" is not an IP address");
    }
    family = AF_INET6;
    len = sizeof(sockaddr_in6);
  } else {
    auto* a4 = reinterpret_cast<sockaddr_in*>(&ss);
    a4->sin_family = AF_INET;
    a4->sin_port = htons(port);
    if (inet_pton(AF_INET, addr.c_str(), &a4->sin_addr) != 1) {
      return invalidArgument("\"" + address + "\" is not an IP address");
    }
    len = sizeof(sockaddr_in);
  }
  int fd = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return unavailable(std::string("socket: ") + std::strerror(errno));
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 || ::listen(fd, kBacklog) != 0) {
    int err = errno;
    ::close(fd);
    return unavailable("cannot listen on " + socketKey(addr, port) + ": " + std::strerror(err));
  }
  return fd;
}

}  // namespace

ProxyServer::ProxyServer(ProxyOptions options)
    : options_(std::move(options)), stats_(options_.workers == 0 ? 1 : options_.workers) {
  if (options_.workers == 0) options_.workers = 1;
  for (size_t i = 0; i < options_.workers; ++i) {
    workers_.push_back(std::make_unique<Worker>(i, options_.settings));
  }
  std::random_device rd;
  seed_ = (static_cast<uint64_t>(rd()) << 32) | rd();
}

ProxyServer::~ProxyServer() {
  stop();
}

void ProxyServer::start() {
  if (started_) return;
  started_ = true;
  for (auto& w : workers_) w->start();
  startHealthChecks();
}

void ProxyServer::startHealthChecks() {
  checkIo_ = std::make_unique<boost::asio::io_context>(1);
  healthChecker_ = std::make_unique<HealthChecker>(*checkIo_, HealthChecker::Options{});
  checkThread_ = std::thread([io = checkIo_.get()] {
    auto work = boost::asio::make_work_guard(*io);
    io->run();
  });
}

void ProxyServer::stop() {
  for (auto& w : workers_) w->stop();
  if (checkThread_.joinable()) {
    healthChecker_->stop();
    checkIo_->stop();
    checkThread_.join();
    healthChecker_.reset();
    checkIo_.reset();
  }
  std::lock_guard lock(mu_);
  for (auto* groups : {&sockets_, &adopted_}) {
    for (auto& [key, g] : *groups) {
      for (int fd : g.fds) ::close(fd);
    }
    groups->clear();
  }
}

Result<ProxyServer::SocketGroup> ProxyServer::openSockets(const std::string& key,
                                                          const Listener& listener) {
  SocketGroup group;
  group.listener = listener.name;
  group.address = listener.address;
  group.port = listener.port;
  auto adopted = adopted_.find(key);
  if (adopted != adopted_.end()) {
    group.fds = std::move(adopted->second.fds);
    adopted_.erase(adopted);
  }
  while (group.fds.size() < workers_.size()) {
    auto fd = openListeningSocket(listener.address, listener.port);
    if (!fd.isOk()) {
      for (int f : group.fds) ::close(f);
      return Status(fd.status().code(),
                    "listener \"" + listener.name + "\": " + fd.status().message());
    }
    group.fds.push_back(*fd);
  }
  return group;
}

Status ProxyServer::apply(std::shared_ptr<const Config> config) {
  std::lock_guard lock(mu_);
  if (draining_.load()) return Status(StatusCode::kFailedPrecondition, "the proxy is draining");
  auto snap = Snapshot::compile(config, hosts_, stats_, workers_.size(), seed_++);
  if (!snap.isOk()) return snap.status();

  // Sockets: open the new ones first; on any failure close what this call opened.
  std::map<std::string, SocketGroup> opened;
  std::set<std::string> wanted;
  for (const auto& l : (*snap)->listeners()) {
    wanted.insert(l->socketKey);
    if (sockets_.count(l->socketKey) != 0 || opened.count(l->socketKey) != 0) continue;
    auto fds = openSockets(l->socketKey, *l->config);
    if (!fds.isOk()) {
      for (auto& [k, g] : opened) {
        for (int fd : g.fds) ::close(fd);
      }
      return fds.status();
    }
    opened.emplace(l->socketKey, std::move(*fds));
  }
  for (auto& [k, v] : opened) sockets_.emplace(k, std::move(v));

  // Every socket of a key is accepted on by some worker (socket i by worker i mod N): a
  // SO_REUSEPORT socket nobody accepts on would strand the connections queued on it.
  for (size_t w = 0; w < workers_.size(); ++w) {
    std::vector<ListenerFd> mine;
    if (!draining_.load()) {
      for (const auto& key : wanted) {
        const auto& fds = sockets_[key].fds;
        for (size_t i = w; i < fds.size(); i += workers_.size()) {
          int fd = ::fcntl(fds[i], F_DUPFD_CLOEXEC, 0);
          if (fd >= 0) mine.push_back(ListenerFd{key, fd});
        }
      }
    }
    workers_[w]->publish(*snap, std::move(mine));
  }
  // Sockets no listener wants any more: each worker closes its own copy when it sees the new
  // snapshot; connections already accepted are unaffected. Inherited sockets that the first
  // config does not use are closed too.
  for (auto it = sockets_.begin(); it != sockets_.end();) {
    if (wanted.count(it->first) == 0) {
      for (int fd : it->second.fds) ::close(fd);
      it = sockets_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto& [key, g] : adopted_) {
    for (int fd : g.fds) ::close(fd);
  }
  adopted_.clear();
  if (healthChecker_) {
    std::vector<std::shared_ptr<const HostSet>> sets;
    for (const auto& c : (*snap)->clusters()) sets.push_back(c->hostSet);
    healthChecker_->update(std::move(sets));
  }
  std::vector<std::string> live;
  for (const auto& c : (*snap)->clusters()) live.push_back(c->config->name);
  current_ = *snap;
  ++applies_;
  lastApplied_ = std::chrono::system_clock::now();
  applied_.store(true);
  hosts_.retain(live);
  getLogger("proxy")->info("config applied version={} listeners={} clusters={}", config->version,
                           config->listeners.size(), config->clusters.size());
  return Status::ok();
}

void ProxyServer::reject(const Status& why) {
  std::lock_guard lock(mu_);
  ++rejections_;
  lastError_ = why.message();
  getLogger("proxy")->warn("config rejected reason=\"{}\"", why.message());
}

void ProxyServer::adoptListenerSockets(std::vector<InheritedSocket> sockets) {
  std::lock_guard lock(mu_);
  for (auto& s : sockets) {
    auto& g = adopted_[socketKey(s.address, s.port)];
    g.listener = s.listener;
    g.address = s.address;
    g.port = s.port;
    g.fds.push_back(s.fd);
  }
}

std::vector<ProxyServer::InheritedSocket> ProxyServer::duplicateListenerSockets() const {
  std::lock_guard lock(mu_);
  std::vector<InheritedSocket> out;
  for (const auto& [key, g] : sockets_) {
    for (int fd : g.fds) {
      int dup = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
      if (dup < 0) continue;
      out.push_back(InheritedSocket{g.listener, g.address, g.port, dup});
    }
  }
  return out;
}

void ProxyServer::drain(bool keepSockets) {
  draining_.store(true);
  for (auto& w : workers_) w->drain();
  if (!keepSockets) {
    std::lock_guard lock(mu_);
    for (auto& [key, g] : sockets_) {
      for (int fd : g.fds) ::close(fd);
    }
    sockets_.clear();
  }
}

uint64_t ProxyServer::inFlight() const {
  uint64_t n = 0;
  for (const auto& w : workers_) n += w->inFlight();
  return n;
}

uint64_t ProxyServer::connections() const {
  uint64_t n = 0;
  for (const auto& w : workers_) n += w->connections();
  return n;
}

std::shared_ptr<const Snapshot> ProxyServer::current() const {
  std::lock_guard lock(mu_);
  return current_;
}

std::string ProxyServer::renderStats() const {
  std::shared_ptr<const Snapshot> snap;
  uint64_t applies = 0;
  uint64_t rejections = 0;
  {
    std::lock_guard lock(mu_);
    snap = current_;
    applies = applies_;
    rejections = rejections_;
  }
  // Only what the config being served uses: a removed route or revision leaves /stats.
  std::unordered_set<const void*> live;
  if (snap) snap->collectStats(live);
  std::string out = stats_.render(snap ? &live : nullptr);
  if (healthChecker_) {
    const HealthCheckerStats& hc = healthChecker_->stats();
    out += "# HELP tessera_proxy_health_checks_total Active health checks by result.\n";
    out += "# TYPE tessera_proxy_health_checks_total counter\n";
    appendSample(out, "tessera_proxy_health_checks_total", {{"result", "success"}},
                 static_cast<double>(hc.successes.load()));
    appendSample(out, "tessera_proxy_health_checks_total", {{"result", "failure"}},
                 static_cast<double>(hc.failures.load()));
    out += "# HELP tessera_proxy_health_check_failures_total Failed active health checks.\n";
    out += "# TYPE tessera_proxy_health_check_failures_total counter\n";
    appendSample(out, "tessera_proxy_health_check_failures_total", {},
                 static_cast<double>(hc.failures.load()));
  }
  out += "# HELP tessera_proxy_config_applies_total Configs applied.\n";
  out += "# TYPE tessera_proxy_config_applies_total counter\n";
  appendSample(out, "tessera_proxy_config_applies_total", {}, static_cast<double>(applies));
  out += "# HELP tessera_proxy_config_rejected_total Configs refused (NACKed), last good kept.\n";
  out += "# TYPE tessera_proxy_config_rejected_total counter\n";
  appendSample(out, "tessera_proxy_config_rejected_total", {}, static_cast<double>(rejections));
  out += "# HELP tessera_proxy_config_info The config version being served.\n";
  out += "# TYPE tessera_proxy_config_info gauge\n";
  if (snap) appendSample(out, "tessera_proxy_config_info", {{"version", snap->version()}}, 1);
  out += "# HELP tessera_proxy_ready 1 when a config is applied and the proxy is not draining.\n";
  out += "# TYPE tessera_proxy_ready gauge\n";
  appendSample(out, "tessera_proxy_ready", {}, ready() ? 1 : 0);
  out += "# HELP tessera_proxy_requests_in_flight Requests being handled.\n";
  out += "# TYPE tessera_proxy_requests_in_flight gauge\n";
  appendSample(out, "tessera_proxy_requests_in_flight", {}, static_cast<double>(inFlight()));
  if (snap) {
    const auto now = std::chrono::steady_clock::now();
    out += "# HELP tessera_proxy_outlier_ejections_total Endpoints ejected by outlier detection.\n";
    out += "# TYPE tessera_proxy_outlier_ejections_total counter\n";
    for (const auto& c : snap->clusters()) {
      uint64_t ejections = 0;
      for (const auto& h : c->hostSet->hosts) ejections += h->ejections.load();
      appendSample(out, "tessera_proxy_outlier_ejections_total", {{"cluster", c->config->name}},
                   static_cast<double>(ejections));
    }
    out += "# HELP tessera_proxy_endpoints Endpoints per cluster and state.\n";
    out += "# TYPE tessera_proxy_endpoints gauge\n";
    for (const auto& c : snap->clusters()) {
      uint64_t ejected = 0;
      uint64_t unhealthy = 0;
      for (const auto& h : c->hostSet->hosts) {
        if (h->ejected(now)) ++ejected;
        if (!h->healthy()) ++unhealthy;
      }
      const std::string& name = c->config->name;
      appendSample(out, "tessera_proxy_endpoints", {{"cluster", name}, {"state", "total"}},
                   static_cast<double>(c->hostSet->hosts.size()));
      appendSample(out, "tessera_proxy_endpoints", {{"cluster", name}, {"state", "ejected"}},
                   static_cast<double>(ejected));
      appendSample(out, "tessera_proxy_endpoints", {{"cluster", name}, {"state", "unhealthy"}},
                   static_cast<double>(unhealthy));
    }
  }
  return out;
}

std::string ProxyServer::configDump() const {
  std::lock_guard lock(mu_);
  boost::json::object o;
  o["version"] = current_ ? current_->version() : "";
  o["applied"] = current_ != nullptr;
  o["lastError"] = lastError_;
  o["applies"] = applies_;
  o["rejections"] = rejections_;
  o["draining"] = draining_.load();
  o["datacenter"] = options_.settings.datacenter;
  o["nodeId"] = options_.settings.nodeId;
  o["workers"] = workers_.size();
  if (current_) o["config"] = toJson(current_->config());
  return boost::json::serialize(o);
}

}  // namespace tessera::mesh::proxy
