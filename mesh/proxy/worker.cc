#include "mesh/proxy/worker.h"

#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <random>

#include "common/logging.h"
#include "mesh/proxy/http_session.h"
#include "mesh/proxy/tcp_proxy.h"

namespace tessera::mesh::proxy {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr auto kSweepPeriod = std::chrono::milliseconds(20);
constexpr int64_t kPoolSweepPeriodNs = 1'000'000'000;

}  // namespace

const Snapshot* SnapshotRef::get() const {
  return view_->snapshot.get();
}

void SnapshotRef::release() {
  if (view_ == nullptr) return;
  if (--view_->refs == 0 && view_->retired) delete view_;
  view_ = nullptr;
}

struct Worker::Acceptor {
  Acceptor(asio::io_context& io, std::string k) : acceptor(io), key(std::move(k)) {}
  tcp::acceptor acceptor;
  std::string key;
  bool adopted = false;  // published before: later publishes of its key keep it
};

Worker::Worker(size_t id, const WorkerSettings& settings)
    : id_(id),
      settings_(settings),
      // One thread runs it and every socket and timer is used only from that thread, so the
      // reactor's per-descriptor locking can go (the scheduler keeps its lock: publish() and
      // drain() post from other threads).
      io_(std::make_unique<asio::io_context>(BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO)),
      sweepTimer_(std::make_unique<asio::steady_timer>(*io_)) {
  std::random_device rd;
  rng_ = (static_cast<uint64_t>(rd()) << 32 | rd()) | 1;
  requestIdPrefix_ = (static_cast<uint64_t>(rd()) << 32) | rd();
}

Worker::~Worker() {
  stop();
  // Destroy what uses the io_context first, then the io_context (and with it the coroutines
  // of the sessions still open, which unregister themselves from this worker).
  pools_.clear();
  acceptors_.clear();
  sweepTimer_.reset();
  io_.reset();
  if (current_ != nullptr) {
    current_->retired = true;
    if (current_->refs == 0) delete current_;
    current_ = nullptr;
  }
}

void Worker::start() {
  startSweep();
  thread_ = std::thread([this] {
    auto work = asio::make_work_guard(*io_);
    io_->run();
  });
}

void Worker::stop() {
  if (!thread_.joinable()) return;
  io_->stop();
  thread_.join();
}

void Worker::publish(std::shared_ptr<const Snapshot> snapshot, std::vector<ListenerFd> listeners) {
  asio::post(*io_,
             [this, snapshot = std::move(snapshot), listeners = std::move(listeners)]() mutable {
               applyPublished(std::move(snapshot), std::move(listeners));
             });
}

void Worker::drain() {
  asio::post(*io_, [this] {
    draining_ = true;
    for (auto& [key, list] : acceptors_) {
      for (auto& a : list) {
        boost::system::error_code ec;
        a->acceptor.close(ec);
      }
    }
    acceptors_.clear();
    closeIdleSessions();
  });
}

void Worker::applyPublished(std::shared_ptr<const Snapshot> snapshot,
                            std::vector<ListenerFd> listeners) {
  auto* view = new SnapshotRef::View();
  view->snapshot = std::move(snapshot);
  if (current_ != nullptr) {
    current_->retired = true;
    if (current_->refs == 0) delete current_;
  }
  current_ = view;

  if (draining_) {
    for (auto& l : listeners) ::close(l.fd);
    return;
  }
  // Listening sockets: keep the acceptors of keys still wanted (the fds passed for them are
  // duplicates of the same sockets), open acceptors for new keys, close the rest.
  std::map<std::string, std::vector<std::shared_ptr<Acceptor>>> next;
  for (auto& l : listeners) {
    auto it = acceptors_.find(l.key);
    if (it != acceptors_.end()) {
      next.emplace(l.key, std::move(it->second));
      acceptors_.erase(it);
    }
    auto& list = next[l.key];
    bool kept = false;
    for (const auto& a : list) kept = kept || a->adopted;
    if (kept) {
      ::close(l.fd);
      continue;
    }
    auto acc = std::make_shared<Acceptor>(*io_, l.key);
    boost::system::error_code ec;
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    ::getsockname(l.fd, reinterpret_cast<sockaddr*>(&ss), &len);
    acc->acceptor.assign(ss.ss_family == AF_INET6 ? tcp::v6() : tcp::v4(), l.fd, ec);
    if (ec) {
      getLogger("proxy")->error("listener assign failed key={} error={}", l.key, ec.message());
      ::close(l.fd);
      continue;
    }
    list.push_back(acc);
    asio::co_spawn(*io_, acceptLoop(acc), asio::detached);
  }
  // Acceptors created in this call become "adopted" (kept on the next publish).
  for (auto& [key, list] : next) {
    for (auto& a : list) a->adopted = true;
  }
  for (auto& [key, list] : acceptors_) {
    for (auto& a : list) {
      boost::system::error_code ec;
      a->acceptor.close(ec);  // its accept loop ends (and releases it)
    }
  }
  acceptors_ = std::move(next);
}

namespace {

// A TCP listener's connection: holds the snapshot (and so the worker's load balancer) for as
// long as the connection lives.
asio::awaitable<void> runTcp(tcp::socket socket, [[maybe_unused]] SnapshotRef snap,
                             const CompiledListener* l, LoadBalancer* lb, TcpProxyStats* stats) {
  TcpProxyOptions options = TcpProxyOptions::from(*l->config, *l->cluster->config);
  std::shared_ptr<const HostSet> hosts = l->cluster->hostSet;
  co_await proxyTcp(std::move(socket), hosts, *lb, *stats, options);
}

}  // namespace

asio::awaitable<void> Worker::acceptLoop(std::shared_ptr<Acceptor> acc) {
  tcp::acceptor& acceptor = acc->acceptor;
  while (true) {
    auto [ec, socket] = co_await acceptor.async_accept(kTuple);
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
      // EMFILE and friends: back off briefly instead of spinning.
      asio::steady_timer pause(*io_, std::chrono::milliseconds(10));
      co_await pause.async_wait(kTuple);
      continue;
    }
    SnapshotRef snap = acquire();
    const CompiledListener* l = snap ? snap->findListener(acc->key) : nullptr;
    if (l == nullptr) continue;  // the socket closes
    ListenerStats* stats = l->stats;
    int64_t open = 0;
    for (size_t w = 0; w < stats->workers(); ++w) open += stats->at(w).cxActive.get();
    if (open >= static_cast<int64_t>(l->config->maxConnections)) {
      stats->at(id_).cxOverflow.add();
      continue;
    }
    if (l->config->protocol == Protocol::kTcp) {
      stats->at(id_).cxTotal.add();
      LoadBalancer* lb = l->cluster->lbPerWorker[id_].get();
      asio::co_spawn(*io_, runTcp(std::move(socket), std::move(snap), l, lb, l->tcpStats),
                     asio::detached);
      continue;
    }
    HttpSession::start(*this, std::move(socket), acc->key, stats);
  }
}

HostPool& Worker::pool(Host* host, const CompiledCluster& cluster) {
  auto it = pools_.find(host);
  if (it != pools_.end()) return it->second;
  HostPool& p = pools_[host];
  for (const auto& h : cluster.hostSet->hosts) {
    if (h.get() == host) {
      p.host = h;
      break;
    }
  }
  p.stats = cluster.stats;
  return p;
}

void Worker::sessionOpened(HttpSession* s) {
  sessions_.insert(s);
  connections_.store(sessions_.size(), std::memory_order_relaxed);
}

void Worker::sessionClosed(HttpSession* s) {
  sessions_.erase(s);
  connections_.store(sessions_.size(), std::memory_order_relaxed);
}

void Worker::closeIdleSessions() {
  // closeIfIdle() only cancels; sessions remove themselves later, so iterating is safe.
  const int64_t now = nowNs();
  for (HttpSession* s : sessions_) s->closeIfIdle(now);
}

void Worker::startSweep() {
  sweepTimer_->expires_after(kSweepPeriod);
  sweepTimer_->async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    int64_t now = nowNs();
    timeouts_.sweep(now);
    if (now - lastPoolSweepNs_ >= kPoolSweepPeriodNs) {
      lastPoolSweepNs_ = now;
      sweepIdlePools(now);
    }
    if (draining_) closeIdleSessions();
    startSweep();
  });
}

void Worker::sweepIdlePools(int64_t now) {
  for (auto it = pools_.begin(); it != pools_.end();) {
    HostPool& p = it->second;
    auto& idle = p.idle;
    for (size_t i = 0; i < idle.size();) {
      if (now - idle[i]->idleSinceNs >= p.idleTimeoutNs || draining_) {
        boost::system::error_code ec;
        idle[i]->socket.close(ec);
        idle.erase(idle.begin() + static_cast<std::ptrdiff_t>(i));
        --p.total;
        if (p.stats != nullptr) p.stats->at(id_).cxActive.add(-1);
      } else {
        ++i;
      }
    }
    // A host no snapshot uses any more: forget its pool once its connections are gone.
    if (p.total == 0 && p.host.use_count() <= 1) {
      it = pools_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace tessera::mesh::proxy
