// A proxy worker: one thread, one io_context, its own listening sockets (SO_REUSEPORT, so a
// connection stays on the worker that accepted it), its own upstream connection pools and its
// own view of the config snapshot.
//
// Threads: publish(), drain(), stop() may be called from any thread (they post to the worker).
// Everything else is for the worker's own thread (sessions running on it).
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "mesh/proxy/io_util.h"
#include "mesh/proxy/snapshot.h"

namespace tessera::mesh::proxy {

/// Settings shared by every worker (read-only after start).
struct WorkerSettings {
  std::string datacenter;  // this proxy's datacenter (the hop header's value)
  std::string nodeId;
};

/// A listening socket handed to a worker: the worker owns `fd` (a dup) from then on. A worker
/// may get several sockets of one key (after a hot restart from a process with more workers).
struct ListenerFd {
  std::string key;  // socketKey()
  int fd = -1;
};

class Worker;
class HttpSession;

/// A worker's reference to the snapshot it holds; non-atomic reference counting (worker
/// thread only). A request keeps one for its whole life.
class SnapshotRef {
 public:
  SnapshotRef() = default;
  SnapshotRef(const SnapshotRef&) = delete;
  SnapshotRef& operator=(const SnapshotRef&) = delete;
  SnapshotRef(SnapshotRef&& o) noexcept : view_(o.view_) { o.view_ = nullptr; }
  SnapshotRef& operator=(SnapshotRef&& o) noexcept {
    if (this != &o) {
      release();
      view_ = o.view_;
      o.view_ = nullptr;
    }
    return *this;
  }
  ~SnapshotRef() { release(); }
  const Snapshot* get() const;
  const Snapshot* operator->() const { return get(); }
  explicit operator bool() const { return view_ != nullptr; }

 private:
  friend class Worker;
  struct View {
    std::shared_ptr<const Snapshot> snapshot;
    uint32_t refs = 0;
    bool retired = false;
  };
  explicit SnapshotRef(View* v) : view_(v) { ++view_->refs; }
  void release();
  View* view_ = nullptr;
};

/// One pooled upstream connection (worker thread only).
struct UpstreamConnection {
  explicit UpstreamConnection(boost::asio::io_context& io)
      : socket(io), buffer(16 * 1024, 256 * 1024) {}
  boost::asio::ip::tcp::socket socket;
  FlatBuffer buffer;
  TimeoutSlot slot;
  int64_t idleSinceNs = 0;
  bool reused = false;
};

/// Idle upstream connections to one host, on one worker.
struct HostPool {
  std::shared_ptr<Host> host;  // keeps the Host (and so this pool's key) alive
  std::vector<std::unique_ptr<UpstreamConnection>> idle;
  uint32_t total = 0;  // idle + in use
  int64_t idleTimeoutNs = 60'000'000'000;
  ClusterStats* stats = nullptr;
};

class Worker {
 public:
  Worker(size_t id, const WorkerSettings& settings);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  /// Starts the thread.
  void start();
  /// Stops the event loop and joins the thread (connections are dropped). Idempotent.
  void stop();

  /// Hands a new snapshot and the listening sockets it needs to the worker (any thread).
  /// Takes ownership of the fds in `listeners`.
  void publish(std::shared_ptr<const Snapshot> snapshot, std::vector<ListenerFd> listeners);
  /// Stops accepting, asks keep-alive connections to close after their current request and
  /// closes idle ones (any thread).
  void drain();
  /// Requests in flight on this worker (any thread; approximate).
  uint64_t inFlight() const { return inFlight_.load(std::memory_order_relaxed); }
  /// Open downstream connections on this worker (any thread).
  uint64_t connections() const { return connections_.load(std::memory_order_relaxed); }

  // ---- worker thread only ----
  size_t id() const { return id_; }
  boost::asio::io_context& io() { return *io_; }
  const WorkerSettings& settings() const { return settings_; }
  SnapshotRef acquire() { return current_ != nullptr ? SnapshotRef(current_) : SnapshotRef(); }
  TimeoutList& timeouts() { return timeouts_; }
  bool draining() const { return draining_; }
  uint64_t random() {
    // xorshift64*
    rng_ ^= rng_ >> 12;
    rng_ ^= rng_ << 25;
    rng_ ^= rng_ >> 27;
    return rng_ * 2685821657736338717ULL;
  }
  uint64_t nextRequestId() { return ++requestCounter_; }
  uint64_t requestIdPrefix() const { return requestIdPrefix_; }
  void requestStarted() {
    inFlight_.store(inFlight_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  void requestEnded() {
    inFlight_.store(inFlight_.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
  }

  /// The pool of `host` (created on first use). `hosts` is searched for the owning pointer.
  HostPool& pool(Host* host, const CompiledCluster& cluster);

  void sessionOpened(HttpSession* s);
  void sessionClosed(HttpSession* s);

 private:
  void applyPublished(std::shared_ptr<const Snapshot> snapshot, std::vector<ListenerFd> listeners);
  struct Acceptor;
  boost::asio::awaitable<void> acceptLoop(std::shared_ptr<Acceptor> acceptor);
  void startSweep();
  void sweepIdlePools(int64_t now);
  void closeIdleSessions();

  size_t id_;
  WorkerSettings settings_;
  std::unique_ptr<boost::asio::io_context> io_;
  std::thread thread_;
  std::unique_ptr<boost::asio::steady_timer> sweepTimer_;
  TimeoutList timeouts_;
  SnapshotRef::View* current_ = nullptr;
  std::map<std::string, std::vector<std::shared_ptr<Acceptor>>> acceptors_;
  std::unordered_map<const Host*, HostPool> pools_;
  std::unordered_set<HttpSession*> sessions_;
  bool draining_ = false;
  uint64_t rng_;
  uint64_t requestCounter_ = 0;
  uint64_t requestIdPrefix_;
  int64_t lastPoolSweepNs_ = 0;
  std::atomic<uint64_t> inFlight_{0};
  std::atomic<uint64_t> connections_{0};
};

}  // namespace tessera::mesh::proxy
