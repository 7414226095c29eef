#include "federation/runtime/process_runtime.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "common/logging.h"
#include "federation/runtime/host_process.h"
#include "federation/runtime/replica_store.h"

namespace tessera::runtime {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace fs = std::filesystem;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

constexpr char kStateFile[] = "replicas.json";
constexpr char kLockFile[] = "runtime.lock";
constexpr std::size_t kProbeBodyLimit = 64 * 1024;

using Env = std::vector<std::pair<std::string, std::string>>;

/// Sets `name` in `env`, replacing an earlier value in place.
void setEnv(Env& env, const std::string& name, std::string value) {
  for (auto& [k, v] : env) {
    if (k == name) {
      v = std::move(value);
      return;
    }
  }
  env.emplace_back(name, std::move(value));
}

/// "http-alt" → "PORT_HTTP_ALT".
std::string portEnvName(const std::string& portName) {
  std::string out = "PORT_";
  for (char c : portName) {
    if (c == '-' || c == '.') {
      out += '_';
    } else {
      out += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
  }
  return out;
}

/// The key of a port in ReplicaStatus::ports: its name, or its declared number if unnamed.
std::string portKey(const PortSpec& p) {
  return p.name.empty() ? std::to_string(p.port) : p.name;
}

bool validReplicaName(const std::string& name) {
  if (name.empty() || name.size() > 200 || name.front() == '.') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  });
}

std::string replicaName(const WorkloadSpec& spec, int ordinal) {
  return spec.application + "-" + spec.revision + "-" + spec.cell + "-" + std::to_string(ordinal);
}

/// "250ms", "4s", "1.5s".
std::string formatDelay(milliseconds d) {
  const long long ms = d.count();
  char buf[32];
  if (ms < 1000) {
    std::snprintf(buf, sizeof buf, "%lldms", ms);
  } else if (ms % 1000 == 0) {
    std::snprintf(buf, sizeof buf, "%llds", ms / 1000);
  } else {
    std::snprintf(buf, sizeof buf, "%.1fs", static_cast<double>(ms) / 1000.0);
  }
  return buf;
}

struct ProbeResult {
  ProbeResult() = default;
  ProbeResult(bool passed, std::string why) : ok(passed), message(std::move(why)) {}
  bool ok = false;
  std::string message;  // why it failed
};

/// One HTTP GET: 2xx and 3xx pass. Everything (connect, request, response header) within
/// `timeout`.
net::awaitable<ProbeResult> probeHttp(std::string host, std::uint16_t port, std::string path,
                                      milliseconds timeout) {
  beast::error_code ec;
  const auto address = net::ip::make_address(host, ec);
  if (ec) co_return ProbeResult(false, "invalid probe address \"" + host + "\"");
  beast::tcp_stream stream(co_await net::this_coro::executor);
  const tcp::endpoint endpoint(address, port);
  stream.expires_after(timeout);
  co_await stream.async_connect(endpoint, net::redirect_error(net::use_awaitable, ec));
  if (ec == beast::error::timeout) co_return ProbeResult(false, "connect: timed out");
  if (ec) co_return ProbeResult(false, "connect: " + ec.message());
  http::request<http::empty_body> req{http::verb::get, path, 11};
  req.set(http::field::host, host + ":" + std::to_string(port));
  req.set(http::field::user_agent, "tessera-probe");
  req.keep_alive(false);
  co_await http::async_write(stream, req, net::redirect_error(net::use_awaitable, ec));
  if (ec) co_return ProbeResult(false, "request: " + ec.message());
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(kProbeBodyLimit);
  co_await http::async_read(stream, buffer, parser, net::redirect_error(net::use_awaitable, ec));
  if (!parser.is_header_done()) {
    if (ec == beast::error::timeout) co_return ProbeResult(false, "timed out");
    co_return ProbeResult(false, "response: " + ec.message());
  }
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  const unsigned code = parser.get().result_int();
  if (code >= 200 && code < 400) co_return ProbeResult(true, "");
  co_return ProbeResult(false, "HTTP " + std::to_string(code));
}

bool sameReplica(const ReplicaStatus& a, const ReplicaStatus& b) {
  return a.name == b.name && a.workloadKey == b.workloadKey && a.ordinal == b.ordinal &&
         a.state == b.state && a.ready == b.ready && a.restarts == b.restarts &&
         a.lastExitCode == b.lastExitCode && a.message == b.message && a.host == b.host &&
         a.ports == b.ports && a.pid == b.pid && a.startedAt == b.startedAt;
}

bool sameStatus(const std::vector<WorkloadStatus>& a, const std::vector<WorkloadStatus>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto& x = a[i];
    const auto& y = b[i];
    if (x.key != y.key || x.desired != y.desired || x.ready != y.ready ||
        x.available != y.available || x.restarts != y.restarts ||
        x.replicas.size() != y.replicas.size()) {
      return false;
    }
    for (std::size_t j = 0; j < x.replicas.size(); ++j) {
      if (!sameReplica(x.replicas[j], y.replicas[j])) return false;
    }
  }
  return true;
}

}  // namespace

// What a replica name should run.
struct DesiredReplica {
  DesiredReplica(std::string n, int o, std::shared_ptr<const WorkloadSpec> s, std::string h)
      : name(std::move(n)), ordinal(o), spec(std::move(s)), hash(std::move(h)) {}
  std::string name;
  int ordinal;
  std::shared_ptr<const WorkloadSpec> spec;
  std::string hash;
};

// One replica name and its process, if any. Confined to the supervisor thread.
struct Replica {
  explicit Replica(net::io_context& ioc) : timer(ioc), probeTimer(ioc) {}

  std::string name;
  int ordinal = 0;
  std::shared_ptr<const WorkloadSpec> spec;
  std::string specHash;
  std::vector<std::pair<std::string, std::uint16_t>> ports;  // kept across restarts

  // The current process (pid 0: none).
  pid_t pid = 0;
  pid_t pgid = 0;  // signals go to the whole group
  std::uint64_t startTicks = 0;
  std::unique_ptr<net::posix::stream_descriptor> pidfd;  // readable once it exits
  std::uint64_t run = 0;  // identifies the process for its exit wait and its probes
  std::optional<SystemTime> startedAt;
  Clock::time_point startedSteady;
  bool everReady = false;

  ReplicaState state = ReplicaState::kStarting;
  bool ready = false;
  int restarts = 0;
  std::optional<int> lastExitCode;
  std::string message;
  int consecutiveExits = 0;  // drives the back-off

  bool stopping = false;               // no longer desired as it is
  std::optional<DesiredReplica> next;  // started under this name once the process is gone

  net::steady_timer timer;  // back-off, or the stop grace
  std::uint64_t timerToken = 0;
  net::steady_timer probeTimer;
};

struct ProcessRuntime::Impl {
  enum class TimerAction { kStart, kKill };

  explicit Impl(ProcessRuntimeOptions o) : options(std::move(o)), logTimer(ioc) {}

  ProcessRuntimeOptions options;
  std::string logsDir, replicasDir, stateFile;
  std::string probeHost;  // numeric: where probes connect
  Env baseEnv;            // PATH, HOME, LANG of the agent, then extraEnv
  Capacity measured;
  std::string boot;
  int lockFd = -1;
  std::shared_ptr<spdlog::logger> log = getLogger("runtime");

  net::io_context ioc{1};  // declared before everything that uses it: destroyed last
  std::thread thread;

  // ---- supervisor thread only (and create(), before the thread starts) ----
  std::map<std::string, std::unique_ptr<Replica>> replicas;
  std::map<std::string, std::shared_ptr<const WorkloadSpec>> desired;  // by workload key
  bool applied = false;       // apply() ran since create(): reconcile() may start and stop
  bool shuttingDown = false;  // stopAll() ran
  std::vector<std::promise<void>> stopWaiters;
  std::set<std::uint16_t> usedPorts;
  std::uint32_t portCursor = 0;
  std::uint64_t nextRun = 1;
  bool stateDirty = true;
  std::string lastPersisted;
  bool notifyPending = false;
  net::steady_timer logTimer;

  // ---- shared with the callers' threads ----
  std::mutex mu;
  std::optional<std::vector<WorkloadSpec>> pendingDesired;
  bool stopAllCalled = false;
  std::vector<WorkloadStatus> snapshot;
  Capacity used;
  std::set<std::string> knownNames;
  std::mutex callbackMu;           // held while the callback runs, and to replace it
  std::function<void()> callback;  // guarded by callbackMu

  std::string logPath(const std::string& name) const { return logsDir + "/" + name + ".log"; }
  std::string workDir(const std::string& name) const { return replicasDir + "/" + name; }

  Replica* find(const std::string& name) {
    auto it = replicas.find(name);
    return it == replicas.end() ? nullptr : it->second.get();
  }

  // ---------------------------------------------------------------- ports

  Result<std::vector<std::uint16_t>> allocatePorts(std::size_t n) {
    const auto [first, last] = options.portRange;
    const std::uint32_t size = static_cast<std::uint32_t>(last) - first + 1;
    std::vector<std::uint16_t> got;
    for (std::uint32_t tried = 0; tried < size && got.size() < n; ++tried) {
      const auto port = static_cast<std::uint16_t>(first + portCursor % size);
      portCursor = (portCursor + 1) % size;
      if (usedPorts.count(port) || !tcpPortFree(options.host, port)) continue;
      usedPorts.insert(port);
      got.push_back(port);
    }
    if (got.size() < n) {
      for (auto p : got) usedPorts.erase(p);
      return resourceExhausted("no free port in " + std::to_string(first) + "-" +
                               std::to_string(last));
    }
    return got;
  }

  void releasePorts(Replica& r) {
    for (const auto& [name, port] : r.ports) usedPorts.erase(port);
    r.ports.clear();
  }

  // ---------------------------------------------------------------- timers

  void armTimer(Replica& r, milliseconds delay, TimerAction action) {
    const auto token = ++r.timerToken;
    r.timer.expires_after(delay);
    r.timer.async_wait([this, name = r.name, token, action](const beast::error_code&) {
      Replica* rp = find(name);
      if (rp == nullptr || rp->timerToken != token) return;  // cancelled or superseded
      if (action == TimerAction::kStart) {
        start(*rp);
      } else if (rp->pid != 0) {
        log->warn("replica did not stop in time; killing name={} pid={}", rp->name, rp->pid);
        rp->message = "did not stop within the grace period; killed";
        signalGroup(*rp, SIGKILL);
      }
      publish();
    });
  }

  void cancelTimer(Replica& r) {
    ++r.timerToken;
    r.timer.cancel();
  }

  milliseconds nextBackoff(Replica& r) {
    const int exponent = std::min(r.consecutiveExits, 30);
    ++r.consecutiveExits;
    const auto initial = std::max(options.backoffInitial, milliseconds(1));
    const double factor = static_cast<double>(1ULL << std::min(exponent, 40));
    const double ms = std::min(static_cast<double>(initial.count()) * factor,
                               static_cast<double>(options.backoffMax.count()));
    return milliseconds(static_cast<long long>(std::max(ms, 1.0)));
  }

  // ---------------------------------------------------------------- processes

  void signalGroup(const Replica& r, int sig) {
    if (r.pgid > 0) {
      ::kill(-r.pgid, sig);
    } else if (r.pid > 0) {
      ::kill(r.pid, sig);
    }
  }

  Env environmentOf(const Replica& r) const {
    const WorkloadSpec& s = *r.spec;
    Env env = baseEnv;
    for (const auto& [k, v] : s.env) setEnv(env, k, v);
    for (std::size_t i = 0; i < r.ports.size() && i < s.ports.size(); ++i) {
      if (i == 0) setEnv(env, "PORT", std::to_string(r.ports[i].second));
      if (!s.ports[i].name.empty()) {
        setEnv(env, portEnvName(s.ports[i].name), std::to_string(r.ports[i].second));
      }
    }
    setEnv(env, "TESSERA_APPLICATION", s.application);
    setEnv(env, "TESSERA_NAMESPACE", s.ns);
    setEnv(env, "TESSERA_REVISION", s.revision);
    setEnv(env, "TESSERA_CELL", s.cell);
    setEnv(env, "TESSERA_REPLICA", r.name);
    return env;
  }

  void failStart(Replica& r, const std::string& why) {
    r.state = ReplicaState::kFailed;
    r.ready = false;
    const auto delay = nextBackoff(r);
    r.message = why + "; retrying in " + formatDelay(delay);
    log->warn("replica cannot start name={} error=\"{}\"", r.name, why);
    armTimer(r, delay, TimerAction::kStart);
  }

  void start(Replica& r) {
    cancelTimer(r);
    const WorkloadSpec& s = *r.spec;
    if (r.ports.size() != s.ports.size()) {
      releasePorts(r);
      auto ports = allocatePorts(s.ports.size());
      if (!ports.isOk()) return failStart(r, ports.status().message());
      for (std::size_t i = 0; i < s.ports.size(); ++i) {
        r.ports.emplace_back(portKey(s.ports[i]), (*ports)[i]);
      }
    }
    SpawnRequest req;
    req.argv = s.command;
    req.argv.insert(req.argv.end(), s.args.begin(), s.args.end());
    req.env = environmentOf(r);
    req.workDir = workDir(r.name);
    req.logPath = logPath(r.name);
    std::error_code ec;
    fs::create_directories(req.workDir, ec);
    if (ec) return failStart(r, "cannot create " + req.workDir + ": " + ec.message());
    auto pid = spawnProcess(req);
    if (!pid.isOk()) return failStart(r, pid.status().message());
    const int fd = openPidfd(*pid);
    if (fd < 0) {
      const std::string why = std::string("pidfd_open: ") + std::strerror(errno);
      ::kill(-*pid, SIGKILL);
      ::waitpid(*pid, nullptr, 0);
      return failStart(r, why);
    }
    r.pid = *pid;
    r.pgid = *pid;
    r.startTicks = processStartTicks(*pid).value_or(0);
    r.pidfd = std::make_unique<net::posix::stream_descriptor>(ioc, fd);
    r.run = nextRun++;
    r.startedAt = std::chrono::system_clock::now();
    r.startedSteady = Clock::now();
    r.everReady = false;
    if (s.readiness) {
      r.state = ReplicaState::kStarting;
      r.ready = false;
      r.message = "waiting for the readiness probe";
    } else {
      r.state = ReplicaState::kReady;
      r.ready = true;
      r.message.clear();
    }
    stateDirty = true;
    log->info("replica started name={} pid={} command={}", r.name, r.pid, req.argv.front());
    watchExit(r);
    if (s.readiness) scheduleProbe(r, milliseconds(0));
  }

  void watchExit(Replica& r) {
    r.pidfd->async_wait(net::posix::stream_descriptor::wait_read,
                        [this, name = r.name, run = r.run](const beast::error_code& ec) {
                          if (ec == net::error::operation_aborted) return;
                          onExit(name, run);
                          publish();
                        });
  }

  void onExit(const std::string& name, std::uint64_t run) {
    Replica* rp = find(name);
    if (rp == nullptr || rp->run != run || rp->pid == 0) return;
    Replica& r = *rp;
    if (processStartTicks(r.pid) == r.startTicks && r.startTicks != 0) {
      // Woken up without an exit (should not happen): keep watching.
      watchExit(r);
      return;
    }
    // Like a container: when its main process ends, whatever it left in its group goes too.
    signalGroup(r, SIGKILL);
    ExitInfo exit = reapExited(r.pidfd->native_handle());
    r.pidfd.reset();
    r.probeTimer.cancel();
    r.pid = 0;
    r.pgid = 0;
    r.startTicks = 0;
    r.ready = false;
    r.startedAt.reset();
    r.lastExitCode = exit.code;
    stateDirty = true;
    if (r.stopping) {
      log->info("replica stopped name={} how=\"{}\"", r.name, exit.description);
      finishStopped(r);
      return;
    }
    ++r.restarts;
    if (Clock::now() - r.startedSteady >= options.backoffReset) r.consecutiveExits = 0;
    const auto delay = nextBackoff(r);
    r.state = ReplicaState::kBackoff;
    r.message = exit.description + "; restarting in " + formatDelay(delay);
    log->warn("replica exited name={} how=\"{}\" restarts={} restart_in={}", r.name,
              exit.description, r.restarts, formatDelay(delay));
    armTimer(r, delay, TimerAction::kStart);
  }

  /// Stops `r`'s process (if any) and then either removes `r` or starts r.next under its name.
  /// May remove `r` at once.
  void beginStop(Replica& r, milliseconds grace) {
    r.stopping = true;
    r.ready = false;
    r.probeTimer.cancel();
    if (r.pid == 0) {
      finishStopped(r);
      return;
    }
    r.state = ReplicaState::kStopping;
    r.message = "stopping";
    log->info("stopping replica name={} pid={} grace={}", r.name, r.pid, formatDelay(grace));
    signalGroup(r, SIGTERM);
    armTimer(r, grace, TimerAction::kKill);
  }

  void finishStopped(Replica& r) {
    cancelTimer(r);
    stateDirty = true;
    if (r.next && !shuttingDown) {
      DesiredReplica d = std::move(*r.next);
      r.next.reset();
      releasePorts(r);
      r.ordinal = d.ordinal;
      r.spec = d.spec;
      r.specHash = d.hash;
      r.stopping = false;
      r.restarts = 0;
      r.lastExitCode.reset();
      r.consecutiveExits = 0;
      r.message.clear();
      start(r);
      return;
    }
    const std::string name = r.name;
    releasePorts(r);
    std::error_code ec;
    fs::remove_all(workDir(name), ec);
    replicas.erase(name);  // `r` is gone from here on
    if (replicas.empty()) releaseStopWaiters();
  }

  /// stopAll() returns once status() shows that nothing runs any more.
  void releaseStopWaiters() {
    if (stopWaiters.empty()) return;
    publish();
    for (auto& w : stopWaiters) w.set_value();
    stopWaiters.clear();
  }

  // ---------------------------------------------------------------- readiness

  void scheduleProbe(Replica& r, milliseconds delay) {
    r.probeTimer.expires_after(delay);
    r.probeTimer.async_wait([this, name = r.name, run = r.run](const beast::error_code& ec) {
      if (ec) return;
      Replica* rp = find(name);
      if (rp == nullptr || rp->run != run || rp->pid == 0 || rp->stopping) return;
      launchProbe(*rp);
    });
  }

  void launchProbe(Replica& r) {
    const ProbeSpec& probe = *r.spec->readiness;
    std::optional<std::uint16_t> port;
    if (probe.portName.empty()) {
      if (!r.ports.empty()) port = r.ports.front().second;
    } else {
      for (const auto& [name, p] : r.ports) {
        if (name == probe.portName) port = p;
      }
    }
    if (!port) {
      onProbe(
          r.name, r.run,
          ProbeResult(false, probe.portName.empty() ? "no port to probe"
                                                    : "no port named \"" + probe.portName + "\""));
      return;
    }
    const milliseconds timeout = std::chrono::seconds(std::max(1, probe.timeoutSeconds));
    net::co_spawn(ioc, probeHttp(probeHost, *port, probe.path, timeout),
                  [this, name = r.name, run = r.run](std::exception_ptr e, ProbeResult result) {
                    if (e) result = ProbeResult(false, "probe failed");
                    onProbe(name, run, result);
                    publish();
                  });
  }

  void onProbe(const std::string& name, std::uint64_t run, const ProbeResult& result) {
    Replica* rp = find(name);
    if (rp == nullptr || rp->run != run || rp->pid == 0 || rp->stopping) return;
    Replica& r = *rp;
    if (result.ok) {
      r.ready = true;
      r.everReady = true;
      r.state = ReplicaState::kReady;
      r.message.clear();
    } else {
      r.ready = false;
      r.state = r.everReady ? ReplicaState::kRunning : ReplicaState::kStarting;
      r.message = "readiness probe failed: " + result.message;
    }
    // Until it is ready for the first time, probe at least every second: a replica that has
    // just started should not wait a whole period to be seen ready.
    const milliseconds period = std::chrono::seconds(std::max(1, r.spec->readiness->periodSeconds));
    scheduleProbe(r, r.everReady ? period : std::min(period, milliseconds(1000)));
  }

  // ---------------------------------------------------------------- desired state

  void onApply() {
    std::optional<std::vector<WorkloadSpec>> incoming;
    {
      std::lock_guard lock(mu);
      incoming.swap(pendingDesired);
    }
    if (!incoming || shuttingDown) return;
    std::map<std::string, std::shared_ptr<const WorkloadSpec>> next;
    std::set<std::string> names;
    for (auto& w : *incoming) {
      if (w.key.empty() || next.count(w.key)) {
        log->error("workload ignored: empty or duplicate key key=\"{}\"", w.key);
        continue;
      }
      w.replicas = std::max(0, w.replicas);
      bool ok = validReplicaName(replicaName(w, 0));
      for (int i = 0; ok && i < w.replicas; ++i) ok = !names.count(replicaName(w, i));
      if (!ok) {
        log->error(
            "workload ignored: replica names invalid or taken by another workload key={} "
            "name={}",
            w.key, replicaName(w, 0));
        continue;
      }
      for (int i = 0; i < w.replicas; ++i) names.insert(replicaName(w, i));
      std::string key = w.key;  // not w.key: the argument order of emplace is unspecified
      next.emplace(std::move(key), std::make_shared<const WorkloadSpec>(std::move(w)));
    }
    desired = std::move(next);
    applied = true;
    reconcile();
  }

  void reconcile() {
    if (!applied || shuttingDown) return;
    std::map<std::string, DesiredReplica> want;
    for (const auto& [key, spec] : desired) {
      const std::string hash = specHash(*spec);
      for (int i = 0; i < spec->replicas; ++i) {
        std::string name = replicaName(*spec, i);
        want.emplace(name, DesiredReplica(name, i, spec, hash));
      }
    }
    std::vector<std::string> existing;
    for (const auto& [name, r] : replicas) existing.push_back(name);
    for (const auto& name : existing) {
      Replica* rp = find(name);
      if (rp == nullptr) continue;
      Replica& r = *rp;
      auto it = want.find(name);
      if (it == want.end()) {
        r.next.reset();
        if (!r.stopping) beginStop(r, options.stopGrace);
      } else if (r.stopping) {
        r.next = it->second;  // started once the old process is gone
      } else if (r.specHash != it->second.hash) {
        log->info("replacing replica with a changed spec name={}", name);
        r.next = it->second;
        beginStop(r, options.stopGrace);
      } else {
        r.spec = it->second.spec;  // same hash: same thing to run
        r.ordinal = it->second.ordinal;
      }
    }
    for (auto& [name, d] : want) {
      if (replicas.count(name)) continue;
      auto r = std::make_unique<Replica>(ioc);
      r->name = name;
      r->ordinal = d.ordinal;
      r->spec = d.spec;
      r->specHash = d.hash;
      Replica& ref = *r;
      replicas.emplace(name, std::move(r));
      start(ref);
    }
  }

  void onStopAll(milliseconds grace, std::promise<void> done) {
    shuttingDown = true;
    desired.clear();  // nothing is desired any more: status() lists only what still stops
    stopWaiters.push_back(std::move(done));
    std::vector<std::string> names;
    for (const auto& [name, r] : replicas) names.push_back(name);
    for (const auto& name : names) {
      Replica* rp = find(name);
      if (rp == nullptr) continue;
      rp->next.reset();
      if (!rp->stopping) {
        beginStop(*rp, grace);
      } else if (rp->pid != 0 && rp->timer.expiry() > Clock::now() + grace) {
        armTimer(*rp, grace, TimerAction::kKill);  // already stopping, with a longer grace
      }
    }
    if (replicas.empty()) releaseStopWaiters();
  }

  // ---------------------------------------------------------------- publishing

  void persist() {
    if (!stateDirty) return;
    StoredState st;
    st.bootId = boot;
    for (const auto& [name, rp] : replicas) {
      const Replica& r = *rp;
      if (r.pid == 0) continue;  // nothing to re-adopt
      StoredReplica s;
      s.name = r.name;
      s.workloadKey = r.spec->key;
      s.specHash = r.specHash;
      s.ordinal = r.ordinal;
      s.pid = r.pid;
      s.startTicks = r.startTicks;
      s.ports = r.ports;
      s.restarts = r.restarts;
      s.startedAt = r.startedAt;
      st.specs.emplace(r.specHash, *r.spec);
      st.replicas.push_back(std::move(s));
    }
    std::string text = encodeStoredState(st);
    if (text == lastPersisted) {
      stateDirty = false;
      return;
    }
    Status s = writeFileAtomically(stateFile, text);
    if (!s.isOk()) {
      log->error("cannot record replicas error=\"{}\"", s.message());
      return;  // stays dirty: tried again on the next change
    }
    lastPersisted = std::move(text);
    stateDirty = false;
  }

  ReplicaStatus statusOf(const Replica& r) const {
    ReplicaStatus s;
    s.name = r.name;
    s.workloadKey = r.spec->key;
    s.ordinal = r.ordinal;
    s.state = r.state;
    s.ready = r.ready;
    s.restarts = r.restarts;
    s.lastExitCode = r.lastExitCode;
    s.message = r.message;
    s.host = options.host;
    for (const auto& [name, port] : r.ports) s.ports[name] = port;
    s.pid = r.pid;
    s.startedAt = r.startedAt;
    return s;
  }

  /// Records what changed and tells the onChange callbacks, once for any number of changes
  /// made before they run. Called after every state change on the supervisor thread.
  void publish() {
    persist();
    std::map<std::string, WorkloadStatus> byKey;
    for (const auto& [key, spec] : desired) {
      auto& w = byKey[key];
      w.key = key;
      w.desired = spec->replicas;
    }
    Capacity inUse;
    std::set<std::string> names;
    for (const auto& [name, rp] : replicas) {
      const Replica& r = *rp;
      auto& w = byKey[r.spec->key];
      w.key = r.spec->key;
      w.replicas.push_back(statusOf(r));
      if (r.ready) {
        ++w.ready;
        ++w.available;
      }
      w.restarts += r.restarts;
      inUse.cpuMillis += r.spec->cpuMillis;
      inUse.memoryBytes += r.spec->memoryBytes;
      ++inUse.pods;
      names.insert(name);
    }
    std::vector<WorkloadStatus> next;
    next.reserve(byKey.size());
    for (auto& [key, w] : byKey) {
      std::sort(w.replicas.begin(), w.replicas.end(),
                [](const ReplicaStatus& a, const ReplicaStatus& b) {
                  return a.ordinal != b.ordinal ? a.ordinal < b.ordinal : a.name < b.name;
                });
      next.push_back(std::move(w));
    }
    bool changed = false;
    {
      std::lock_guard lock(mu);
      if (!sameStatus(snapshot, next)) {
        snapshot = std::move(next);
        changed = true;
      }
      used = inUse;
      knownNames = std::move(names);
    }
    if (changed && !notifyPending) {
      notifyPending = true;
      net::post(ioc, [this] { notify(); });
    }
  }

  void notify() {
    notifyPending = false;
    std::lock_guard lock(callbackMu);
    if (!callback) return;
    auto cb = callback;  // a copy: the callback may replace itself
    try {
      cb();
    } catch (const std::exception& e) {
      log->error("onChange callback failed error=\"{}\"", e.what());
    }
  }

  void rotateLogs() {
    for (const auto& [name, r] : replicas) {
      if (rotateLogIfLarger(logPath(name), options.logMaxBytes)) {
        log->debug("log rotated name={}", name);
      }
    }
    logTimer.expires_after(options.logCheckInterval);
    logTimer.async_wait([this](const beast::error_code& ec) {
      if (!ec) rotateLogs();
    });
  }

  // ---------------------------------------------------------------- start-up

  /// Takes over the replicas recorded by a previous runtime on this stateDir that still run.
  void readopt() {
    std::error_code ec;
    if (!fs::exists(stateFile, ec)) return;
    std::ifstream in(stateFile, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    auto stored = decodeStoredState(text.str());
    if (!stored.isOk()) {
      log->error("replica record unreadable; set aside, nothing re-adopted file={} error=\"{}\"",
                 stateFile, stored.status().message());
      fs::rename(stateFile, stateFile + ".corrupt", ec);
      return;
    }
    if (stored->bootId != boot) {
      log->info("host rebooted since the replicas were recorded: none re-adopted recorded={}",
                stored->replicas.size());
      return;
    }
    for (const auto& s : stored->replicas) {
      auto spec = stored->specs.find(s.specHash);
      if (spec == stored->specs.end() || !validReplicaName(s.name) || replicas.count(s.name) ||
          s.pid <= 0) {
        log->warn("replica record ignored name={} pid={}", s.name, s.pid);
        continue;
      }
      const auto pid = static_cast<pid_t>(s.pid);
      // Open the pidfd first, then check the start time: if the pid was reused in between, the
      // start time tells, and the pidfd of the original process can no longer be opened.
      const int fd = openPidfd(pid);
      if (fd < 0) {
        log->info("recorded replica is gone name={} pid={}", s.name, s.pid);
        continue;
      }
      if (processStartTicks(pid) != s.startTicks) {
        ::close(fd);
        log->info("recorded replica is gone (pid reused) name={} pid={}", s.name, s.pid);
        continue;
      }
      auto r = std::make_unique<Replica>(ioc);
      r->name = s.name;
      r->ordinal = s.ordinal;
      r->spec = std::make_shared<const WorkloadSpec>(spec->second);
      r->specHash = s.specHash;
      r->ports = s.ports;
      for (const auto& [name, port] : s.ports) usedPorts.insert(port);
      r->pid = pid;
      r->pgid = ::getpgid(pid) == pid ? pid : 0;
      r->startTicks = s.startTicks;
      r->pidfd = std::make_unique<net::posix::stream_descriptor>(ioc, fd);
      r->run = nextRun++;
      r->restarts = s.restarts;
      r->startedAt = s.startedAt;
      // Back-off reset is measured from the recorded start.
      r->startedSteady = Clock::now() - std::chrono::duration_cast<Clock::duration>(
                                            std::chrono::system_clock::now() -
                                            s.startedAt.value_or(std::chrono::system_clock::now()));
      if (r->spec->readiness) {
        r->state = ReplicaState::kStarting;
        r->message = "re-adopted; waiting for the readiness probe";
      } else {
        r->state = ReplicaState::kReady;
        r->ready = true;
      }
      if (!desired.count(r->spec->key)) desired.emplace(r->spec->key, r->spec);
      log->info("replica re-adopted name={} pid={}", s.name, s.pid);
      replicas.emplace(s.name, std::move(r));
    }
  }

  void superviseAdopted() {
    for (auto& [name, r] : replicas) {
      watchExit(*r);
      if (r->spec->readiness) scheduleProbe(*r, milliseconds(0));
    }
    rotateLogs();
    publish();
  }
};

ProcessRuntime::ProcessRuntime(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

ProcessRuntime::~ProcessRuntime() {
  // The replicas keep running: the next runtime on this stateDir re-adopts them.
  impl_->ioc.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
  if (impl_->lockFd >= 0) ::close(impl_->lockFd);
}

Result<std::unique_ptr<ProcessRuntime>> ProcessRuntime::create(ProcessRuntimeOptions options) {
  if (options.stateDir.empty()) return invalidArgument("stateDir is required");
  if (options.portRange.first == 0 || options.portRange.first > options.portRange.second) {
    return invalidArgument("portRange must be a non-empty range of ports above 0");
  }
  if (options.backoffInitial <= milliseconds(0) || options.backoffMax < options.backoffInitial) {
    return invalidArgument("backoffInitial must be positive and at most backoffMax");
  }
  if (options.stopGrace < milliseconds(0) || options.logMaxBytes == 0 ||
      options.logCheckInterval <= milliseconds(0) || options.maxReplicas < 0) {
    return invalidArgument("stopGrace, logMaxBytes, logCheckInterval or maxReplicas out of range");
  }
  std::error_code ec;
  const std::string stateDir = fs::absolute(options.stateDir, ec).lexically_normal().string();
  auto impl = std::make_unique<Impl>(std::move(options));
  Impl& im = *impl;
  im.options.stateDir = stateDir;
  im.logsDir = stateDir + "/logs";
  im.replicasDir = stateDir + "/replicas";
  im.stateFile = stateDir + "/" + kStateFile;
  for (const auto& dir : {im.logsDir, im.replicasDir}) {
    fs::create_directories(dir, ec);
    if (ec) return unavailable("cannot create " + dir + ": " + ec.message());
  }
  // One runtime per state directory: two would fight over the same replicas.
  const std::string lockPath = stateDir + "/" + kLockFile;
  im.lockFd = ::open(lockPath.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (im.lockFd < 0) return unavailable("cannot open " + lockPath + ": " + std::strerror(errno));
  if (::flock(im.lockFd, LOCK_EX | LOCK_NB) != 0) {
    ::close(im.lockFd);
    im.lockFd = -1;
    return Status(StatusCode::kFailedPrecondition,
                  "state directory " + stateDir + " is in use by another runtime");
  }

  beast::error_code aec;
  auto address = net::ip::make_address(im.options.host, aec);
  im.probeHost = aec ? "127.0.0.1" : address.to_string();
  for (const char* name : {"PATH", "HOME", "LANG"}) {
    if (const char* v = std::getenv(name)) im.baseEnv.emplace_back(name, v);
  }
  for (const auto& [k, v] : im.options.extraEnv) setEnv(im.baseEnv, k, v);
  im.measured.cpuMillis = static_cast<std::int64_t>(onlineCpus()) * 1000;
  im.measured.memoryBytes = totalMemoryBytes();
  im.measured.pods = im.options.maxReplicas;
  im.boot = bootId();
  {
    std::random_device rd;  // spreads runtimes sharing a port range over it
    im.portCursor = rd();
  }

  im.readopt();
  im.persist();  // forgets at once what was not re-adopted
  im.publish();  // status() shows the re-adopted replicas right away

  std::unique_ptr<ProcessRuntime> rt(new ProcessRuntime(std::move(impl)));
  Impl* p = rt->impl_.get();
  net::post(p->ioc, [p] { p->superviseAdopted(); });
  p->thread = std::thread([p] {
    auto guard = net::make_work_guard(p->ioc);
    while (true) {
      try {
        p->ioc.run();
        return;  // stopped by the destructor
      } catch (const std::exception& e) {
        p->log->error("supervisor handler failed error=\"{}\"", e.what());
      }
    }
  });
  return rt;
}

void ProcessRuntime::apply(std::vector<WorkloadSpec> desired) {
  auto& im = *impl_;
  {
    std::lock_guard lock(im.mu);
    if (im.stopAllCalled) {
      im.log->warn("apply ignored: the runtime was stopped (stopAll)");
      return;
    }
    im.pendingDesired = std::move(desired);
  }
  net::post(im.ioc, [&im] {
    im.onApply();
    im.publish();
  });
}

std::vector<WorkloadStatus> ProcessRuntime::status() {
  std::lock_guard lock(impl_->mu);
  return impl_->snapshot;
}

void ProcessRuntime::onChange(std::function<void()> callback) {
  auto& im = *impl_;
  if (std::this_thread::get_id() == im.thread.get_id()) {
    // From inside the callback: notify() holds callbackMu on this thread already.
    im.callback = std::move(callback);
    return;
  }
  std::lock_guard lock(im.callbackMu);  // waits for a call in progress to finish
  im.callback = std::move(callback);
}

Result<std::vector<std::string>> ProcessRuntime::logs(const std::string& replicaName,
                                                      int tailLines) {
  auto& im = *impl_;
  bool known = false;
  {
    std::lock_guard lock(im.mu);
    known = im.knownNames.count(replicaName) > 0;
  }
  std::error_code ec;
  if (!validReplicaName(replicaName) || (!known && !fs::exists(im.logPath(replicaName), ec))) {
    return notFound("replica \"" + replicaName + "\" not found");
  }
  return tailLog(im.logPath(replicaName), tailLines);
}

Capacity ProcessRuntime::capacity() {
  return impl_->options.capacityOverride.value_or(impl_->measured);
}

Capacity ProcessRuntime::allocatable() {
  Capacity c = capacity();
  Capacity u;
  {
    std::lock_guard lock(impl_->mu);
    u = impl_->used;
  }
  c.cpuMillis = std::max<std::int64_t>(0, c.cpuMillis - u.cpuMillis);
  c.memoryBytes = std::max<std::int64_t>(0, c.memoryBytes - u.memoryBytes);
  c.pods = std::max<std::int64_t>(0, c.pods - u.pods);
  return c;
}

void ProcessRuntime::stopAll(std::chrono::seconds grace) {
  auto& im = *impl_;
  {
    std::lock_guard lock(im.mu);
    im.stopAllCalled = true;
    im.pendingDesired.reset();
  }
  std::promise<void> done;
  auto finished = done.get_future();
  net::post(im.ioc, [&im, grace, d = std::move(done)]() mutable {
    im.onStopAll(grace, std::move(d));
    im.publish();
  });
  // Killed processes end at once; the margin covers a loaded machine.
  if (finished.wait_for(grace + std::chrono::seconds(30)) != std::future_status::ready) {
    im.log->error("stopAll: replicas still running after the grace period and SIGKILL");
  }
}

}  // namespace tessera::runtime
