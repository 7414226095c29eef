// ProcessRuntime with real processes: tessera-demo-app replicas on real ports, shell scripts
// that crash, ignore SIGTERM or flood their logs, and a second runtime that re-adopts what
// the first one left running.
#include "federation/runtime/process_runtime.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>

#include "federation/runtime/host_process.h"
#include "federation/runtime/replica_store.h"
#include "tests/support/http_client.h"
#include "tests/support/process.h"
#include "tests/support/wait.h"

#ifndef TESSERA_DEMO_APP_BIN
#error "TESSERA_DEMO_APP_BIN must be defined by the build"
#endif

namespace tessera::runtime {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::waitFor;

// Generous: a loaded 2-core machine starts processes slowly.
constexpr milliseconds kWait = seconds(60);

WorkloadSpec demoWorkload(const std::string& application, int replicas,
                          const std::string& revision = "r1") {
  WorkloadSpec w;
  w.ns = "retail";
  w.application = application;
  w.revision = revision;
  w.cell = "rz01";
  w.key = w.ns + "/" + application + "/" + revision + "/" + w.cell;
  w.replicas = replicas;
  w.command = {TESSERA_DEMO_APP_BIN};
  w.ports = {PortSpec{"http", 8080}};
  ProbeSpec probe;
  probe.path = "/healthz";
  probe.periodSeconds = 1;
  probe.timeoutSeconds = 2;
  w.readiness = probe;
  w.cpuMillis = 100;
  w.memoryBytes = 64LL * 1024 * 1024;
  return w;
}

WorkloadSpec shellWorkload(const std::string& application, const std::string& script,
                           int replicas = 1) {
  WorkloadSpec w;
  w.ns = "ops";
  w.application = application;
  w.revision = "r1";
  w.cell = "rz01";
  w.key = w.ns + "/" + application + "/r1/rz01";
  w.replicas = replicas;
  w.command = {"/bin/sh", "-c"};
  w.args = {script};
  return w;
}

std::optional<WorkloadStatus> workload(ProcessRuntime& rt, const std::string& key) {
  for (auto& w : rt.status()) {
    if (w.key == key) return w;
  }
  return std::nullopt;
}

std::optional<ReplicaStatus> replica(ProcessRuntime& rt, const std::string& name) {
  for (auto& w : rt.status()) {
    for (auto& r : w.replicas) {
      if (r.name == name) return r;
    }
  }
  return std::nullopt;
}

/// Exactly `n` replicas, all ready.
std::function<bool()> allReady(ProcessRuntime& rt, const std::string& key, int n) {
  return [&rt, key, n] {
    auto w = workload(rt, key);
    return w && w->desired == n && static_cast<int>(w->replicas.size()) == n && w->ready == n;
  };
}

std::map<std::string, std::int64_t> pidsOf(ProcessRuntime& rt, const std::string& key) {
  std::map<std::string, std::int64_t> out;
  if (auto w = workload(rt, key)) {
    for (const auto& r : w->replicas) out[r.name] = r.pid;
  }
  return out;
}

bool alive(std::int64_t pid) {
  return processStartTicks(static_cast<pid_t>(pid)).has_value();
}

std::string describe(ProcessRuntime& rt) {
  std::ostringstream out;
  for (const auto& w : rt.status()) {
    out << w.key << " desired=" << w.desired << " ready=" << w.ready << "\n";
    for (const auto& r : w.replicas) {
      out << "  " << r.name << " " << replicaStateName(r.state) << " pid=" << r.pid
          << " restarts=" << r.restarts << " message=\"" << r.message << "\"\n";
    }
  }
  return out.str();
}

pid_t parentOf(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("PPid:", 0) == 0) return static_cast<pid_t>(std::atoi(line.c_str() + 5));
  }
  return 0;
}

/// The live processes whose working directory is a replica directory of `stateDir`, by
/// replica name: what really runs, whatever any runtime believes. Only this process's
/// children count (the runtime starts every replica as one): a replica's own helpers, such as
/// the leak checker a sanitizer forks as the replica exits, outlive it briefly in its
/// directory and are not replicas.
std::map<std::string, std::vector<pid_t>> processesIn(const std::string& stateDir) {
  std::map<pid_t, std::string> found;  // pid → replica name
  std::error_code ec;
  const std::string root = fs::weakly_canonical(stateDir, ec).string() + "/replicas/";
  try {
    for (const auto& entry : fs::directory_iterator("/proc")) {
      const std::string pid = entry.path().filename().string();
      if (pid.empty() || !std::all_of(pid.begin(), pid.end(), ::isdigit)) continue;
      std::error_code lec;
      const std::string cwd = fs::read_symlink(entry.path() / "cwd", lec).string();
      if (lec || cwd.rfind(root, 0) != 0) continue;
      std::string name = cwd.substr(root.size());
      found[std::stoi(pid)] = name.substr(0, name.find('/'));
    }
  } catch (const fs::filesystem_error&) {
    // A process went away while we looked; what we have is good enough.
  }
  std::map<std::string, std::vector<pid_t>> out;
  for (const auto& [pid, name] : found) {
    if (parentOf(pid) == ::getpid()) out[name].push_back(pid);
  }
  return out;
}

testing::HttpResult httpGet(std::uint16_t port, const std::string& path) {
  testing::Endpoint ep;
  ep.port = port;
  return testing::HttpClient(ep).get(path);
}

class ProcessRuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = std::make_unique<testing::TempDir>("tessera-runtime"); }

  // Every test stops what it started, even after a failure: through its runtime, or by
  // re-adopting what a destroyed runtime left and stopping that; then anything left over in
  // the state directory is killed.
  void TearDown() override {
    if (HasFailure() && rt_) std::cerr << "--- runtime status ---\n" << describe(*rt_);
    if (!rt_) {
      auto again = ProcessRuntime::create(options());
      if (again.isOk()) rt_ = std::move(*again);
    }
    if (rt_) {
      rt_->stopAll(seconds(2));
      rt_.reset();
    }
    for (const auto& [name, pids] : processesIn(stateDir())) {
      ADD_FAILURE() << "replica process left behind: " << name;
      for (pid_t pid : pids) ::kill(pid, SIGKILL);
    }
    // Replicas are our children; reap any a runtime did not (killed while none watched).
    while (::waitpid(-1, nullptr, WNOHANG) > 0) {
    }
    if (HasFailure()) {
      std::error_code ec;
      for (const auto& e : fs::directory_iterator(stateDir() + "/logs", ec)) {
        std::cerr << "--- " << e.path().filename().string() << " ---\n"
                  << testing::tailFile(e.path().string(), 15) << "\n";
      }
    }
  }

  std::string stateDir() const { return dir_->path() + "/state"; }

  ProcessRuntimeOptions options() const {
    ProcessRuntimeOptions o;
    o.stateDir = stateDir();
    o.stopGrace = seconds(10);
    o.backoffInitial = milliseconds(100);
    o.backoffMax = seconds(1);
    o.logCheckInterval = milliseconds(100);
    o.extraEnv = {{"TESSERA_CLUSTER", "east-1a"},
                  {"TESSERA_DATACENTER", "dc-east-1"},
                  {"TESSERA_REGION", "east"}};
    return o;
  }

  ProcessRuntime& start(const ProcessRuntimeOptions& o) {
    auto r = ProcessRuntime::create(o);
    if (!r.isOk()) throw std::runtime_error("create: " + r.status().toString());
    rt_ = std::move(*r);
    return *rt_;
  }
  ProcessRuntime& start() { return start(options()); }

  std::unique_ptr<testing::TempDir> dir_;
  std::unique_ptr<ProcessRuntime> rt_;
};

TEST_F(ProcessRuntimeTest, ReplicasAnswerOnTheirPortsWithTheirIdentity) {
  auto& rt = start();
  const auto w = demoWorkload("shop", 3);
  rt.apply({w});
  ASSERT_TRUE(waitFor(allReady(rt, w.key, 3), kWait)) << describe(rt);

  auto st = workload(rt, w.key);
  std::set<std::uint16_t> ports;
  std::set<std::int64_t> pids;
  for (int i = 0; i < 3; ++i) {
    const auto& r = st->replicas[static_cast<std::size_t>(i)];
    EXPECT_EQ(r.ordinal, i);
    EXPECT_EQ(r.name, "shop-r1-rz01-" + std::to_string(i));
    EXPECT_EQ(r.workloadKey, w.key);
    EXPECT_EQ(r.state, ReplicaState::kReady);
    EXPECT_EQ(r.host, "127.0.0.1");
    EXPECT_TRUE(r.startedAt.has_value());
    ASSERT_EQ(r.ports.count("http"), 1u);
    const std::uint16_t port = r.ports.at("http");
    EXPECT_GE(port, 20000);
    EXPECT_LE(port, 29999);
    ports.insert(port);
    pids.insert(r.pid);
    EXPECT_TRUE(alive(r.pid));

    auto res = httpGet(port, "/who");
    ASSERT_EQ(res.status, 200) << res.error;
    auto o = res.json().as_object();
    EXPECT_EQ(o.at("replica").as_string(), r.name);
    EXPECT_EQ(o.at("application").as_string(), "shop");
    EXPECT_EQ(o.at("namespace").as_string(), "retail");
    EXPECT_EQ(o.at("revision").as_string(), "r1");
    EXPECT_EQ(o.at("cell").as_string(), "rz01");
    EXPECT_EQ(o.at("cluster").as_string(), "east-1a");
    EXPECT_EQ(o.at("datacenter").as_string(), "dc-east-1");
  }
  EXPECT_EQ(ports.size(), 3u);
  EXPECT_EQ(pids.size(), 3u);
  EXPECT_EQ(st->desired, 3);
  EXPECT_EQ(st->available, 3);
  EXPECT_EQ(st->restarts, 0);
  // Each replica runs in its own process group, in its own directory.
  for (auto pid : pids) EXPECT_EQ(::getpgid(static_cast<pid_t>(pid)), pid);
  auto procs = processesIn(stateDir());
  EXPECT_EQ(procs.size(), 3u);
}

TEST_F(ProcessRuntimeTest, ReadinessFollowsTheProbe) {
  auto& rt = start();
  const auto w = demoWorkload("shop", 1);
  rt.apply({w});
  ASSERT_TRUE(waitFor(allReady(rt, w.key, 1), kWait)) << describe(rt);
  const std::string name = "shop-r1-rz01-0";
  const std::uint16_t port = replica(rt, name)->ports.at("http");
  const auto pid = replica(rt, name)->pid;

  testing::Endpoint ep;
  ep.port = port;
  testing::HttpClient admin(ep);
  ASSERT_EQ(admin.post("/admin/faults", R"({"healthy":false})").status, 200);
  ASSERT_TRUE(waitFor(
      [&] {
        auto r = replica(rt, name);
        return r && !r->ready && r->state == ReplicaState::kRunning;
      },
      kWait))
      << describe(rt);
  auto r = replica(rt, name);
  EXPECT_NE(r->message.find("HTTP 503"), std::string::npos) << r->message;
  EXPECT_EQ(workload(rt, w.key)->ready, 0);
  EXPECT_EQ(r->pid, pid);  // not ready is not restarted

  ASSERT_EQ(admin.post("/admin/faults", R"({"healthy":true})").status, 200);
  ASSERT_TRUE(waitFor(allReady(rt, w.key, 1), kWait)) << describe(rt);
  EXPECT_EQ(replica(rt, name)->state, ReplicaState::kReady);
  EXPECT_EQ(replica(rt, name)->message, "");
  EXPECT_EQ(replica(rt, name)->restarts, 0);
}

TEST_F(ProcessRuntimeTest, RestartsAKilledReplica) {
  auto& rt = start();
  const auto w = demoWorkload("shop", 1);
  rt.apply({w});
  ASSERT_TRUE(waitFor(allReady(rt, w.key, 1), kWait)) << describe(rt);
  const std::string name = "shop-r1-rz01-0";
  const auto before = *replica(rt, name);

  ASSERT_EQ(::kill(static_cast<pid_t>(before.pid), SIGKILL), 0);
  ASSERT_TRUE(waitFor(
      [&] {
        auto r = replica(rt, name);
        return r && r->restarts == 1 && r->ready && r->pid != before.pid;
      },
      kWait))
      << describe(rt);
  const auto after = *replica(rt, name);
  EXPECT_EQ(after.lastExitCode, 128 + SIGKILL);
  EXPECT_EQ(after.ports, before.ports);  // kept for the replica's life
  EXPECT_EQ(workload(rt, w.key)->restarts, 1);
  EXPECT_FALSE(alive(before.pid));
  auto res = httpGet(after.ports.at("http"), "/");
  ASSERT_EQ(res.status, 200);
  EXPECT_EQ(res.json().as_object().at("replica").as_string(), name);
}

TEST_F(ProcessRuntimeTest, BacksOffARestartLoop) {
  auto o = options();
  o.backoffInitial = milliseconds(100);
  o.backoffMax = milliseconds(400);
  auto& rt = start(o);
  const auto w = shellWorkload("crashy", "echo starting; exit 3");
  rt.apply({w});
  // 100ms, 200ms, 400ms, 400ms...: the cap shows in the message once reached.
  ASSERT_TRUE(waitFor(
      [&] {
        auto r = replica(rt, "crashy-r1-rz01-0");
        return r && r->restarts >= 3 && r->state == ReplicaState::kBackoff &&
               r->message == "exited with code 3; restarting in 400ms";
      },
      kWait))
      << describe(rt);
  auto r = *replica(rt, "crashy-r1-rz01-0");
  EXPECT_EQ(r.lastExitCode, 3);
  EXPECT_FALSE(r.ready);
  EXPECT_EQ(r.pid, 0);
  auto lines = rt.logs(r.name, 100);
  ASSERT_TRUE(lines.isOk());
  EXPECT_GE(std::count(lines->begin(), lines->end(), "starting"), 3);
}

TEST_F(ProcessRuntimeTest, ScalesUpAndDownHighestOrdinalsFirst) {
  auto& rt = start();
  auto w = demoWorkload("shop", 1);
  rt.apply({w});
  ASSERT_TRUE(waitFor(allReady(rt, w.key, 1), kWait)) << describe(rt);
  const auto first = pidsOf(rt, w.key);

  w.replicas = 3;
  rt.apply({w});
  ASSERT_TRUE(waitFor(allReady(rt, w.key, 3), kWait)) << describe(rt);
  auto three = pidsOf(rt, w.key);
  EXPECT_EQ(three.at("shop-r1-rz01-0"), first.at("shop-r1-rz01-0"));  // untouched
  ASSERT_EQ(three.size(), 3u);

  w.replicas = 1;
  rt.apply({w});
  ASSERT_TRUE(waitFor(
      [&] {
        auto st = workload(rt, w.key);
        return st && st->replicas.size() == 1 && processesIn(stateDir()).size() == 1;
      },
      kWait))
      << describe(rt);
  EXPECT_EQ(pidsOf(rt, w.key), first);
  EXPECT_FALSE(alive(three.at("shop-r1-rz01-1")));
  EXPECT_FALSE(alive(three.at("shop-r1-rz01-2")));
  EXPECT_FALSE(fs::exists(stateDir() + "/replicas/shop-r1-rz01-2"));
  EXPECT_TRUE(fs::exists(stateDir() + "/replicas/shop-r1-rz01-0"));
}

TEST_F(ProcessRuntimeTest, StopsTheReplicasOfARemovedWorkload) {
  auto& rt = start();
  const auto shop = demoWorkload("shop", 2);
  const auto cart = demoWorkload("cart", 2);
  rt.apply({shop, cart});
  ASSERT_TRUE(waitFor(allReady(rt, shop.key, 2), kWait)) << describe(rt);
  ASSERT_TRUE(waitFor(allReady(rt, cart.key, 2), kWait)) << describe(rt);
  const auto shopPids = pidsOf(rt, shop.key);
  const auto cartPids = pidsOf(rt, cart.key);

  rt.apply({shop});
  ASSERT_TRUE(waitFor([&] { return !workload(rt, cart.key).has_value(); }, kWait)) << describe(rt);
  for (const auto& [name, pid] : cartPids) EXPECT_FALSE(alive(pid)) << name;
  EXPECT_EQ(pidsOf(rt, shop.key), shopPids);
  auto procs = processesIn(stateDir());
  EXPECT_EQ(procs.size(), 2u);
  EXPECT_EQ(procs.count("cart-r1-rz01-0"), 0u);
}

TEST_F(ProcessRuntimeTest, ReplacesReplicasWhoseSpecChanged) {
  auto& rt = start();
  auto w = demoWorkload("shop", 2);
  rt.apply({w});
  ASSERT_TRUE(waitFor(allReady(rt, w.key, 2), kWait)) << describe(rt);
  const auto before = pidsOf(rt, w.key);

  w.env = {{"DEMO_LATENCY_MS", "1"}};
  rt.apply({w});
  std::size_t mostPerName = 0;
  ASSERT_TRUE(waitFor(
      [&] {
        for (const auto& [name, pids] : processesIn(stateDir())) {
          mostPerName = std::max(mostPerName, pids.size());
        }
        if (!allReady(rt, w.key, 2)()) return false;
        auto now = pidsOf(rt, w.key);
        return now.at("shop-r1-rz01-0") != before.at("shop-r1-rz01-0") &&
               now.at("shop-r1-rz01-1") != before.at("shop-r1-rz01-1");
      },
      kWait))
      << describe(rt);
  EXPECT_LE(mostPerName, 1u);  // a name never runs twice
  for (const auto& [name, pid] : before) EXPECT_FALSE(alive(pid)) << name;
  const auto replaced = *workload(rt, w.key);
  for (const auto& r : replaced.replicas) {
    EXPECT_EQ(r.restarts, 0);  // a replacement, not a restart
    auto res = httpGet(r.ports.at("http"), "/admin/faults");
    ASSERT_EQ(res.status, 200);
    EXPECT_EQ(res.json().as_object().at("latencyMs").as_int64(), 1);
  }
}

TEST_F(ProcessRuntimeTest, StopAllKillsWhatIgnoresSigterm) {
  auto o = options();
  o.stopGrace = seconds(60);  // stopAll's own grace applies
  auto& rt = start(o);
  const auto stubborn =
      shellWorkload("stubborn", "trap '' TERM; echo trapped; while true; do sleep 1; done");
  const auto shop = demoWorkload("shop", 1);
  rt.apply({stubborn, shop});
  ASSERT_TRUE(waitFor(allReady(rt, stubborn.key, 1), kWait)) << describe(rt);
  ASSERT_TRUE(waitFor(allReady(rt, shop.key, 1), kWait)) << describe(rt);
  // Running is not yet ignoring SIGTERM: wait until the shell has set its trap.
  ASSERT_TRUE(waitFor(
      [&] {
        auto lines = rt.logs("stubborn-r1-rz01-0", 5);
        return lines.isOk() && !lines->empty() && lines->back() == "trapped";
      },
      kWait));
  const auto stubbornPid = replica(rt, "stubborn-r1-rz01-0")->pid;
  const auto shopPid = replica(rt, "shop-r1-rz01-0")->pid;

  const auto t0 = std::chrono::steady_clock::now();
  rt.stopAll(seconds(1));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, seconds(1));  // it waited for the grace
  EXPECT_FALSE(alive(stubbornPid));
  EXPECT_FALSE(alive(shopPid));
  EXPECT_TRUE(processesIn(stateDir()).empty());
  EXPECT_TRUE(rt.status().empty());
  auto lines = rt.logs("shop-r1-rz01-0", 5);
  ASSERT_TRUE(lines.isOk());
  EXPECT_EQ(lines->back().substr(lines->back().find(' ') + 1), "stopped");  // SIGTERM: clean

  // The agent is leaving: nothing starts any more.
  rt.apply({shop});
  EXPECT_TRUE(rt.status().empty());
  // And nothing is left to re-adopt.
  rt_.reset();
  auto again = ProcessRuntime::create(options());
  ASSERT_TRUE(again.isOk());
  EXPECT_TRUE((*again)->status().empty());
}

TEST_F(ProcessRuntimeTest, MissingExecutableFailsWithAMessage) {
  auto& rt = start();
  auto w = demoWorkload("ghost", 1);
  w.command = {"/nonexistent/tessera-no-such-binary"};
  auto viaPath = shellWorkload("ghost2", "");
  viaPath.command = {"tessera-no-such-binary-in-path"};
  viaPath.args.clear();
  rt.apply({w, viaPath});
  for (const char* name : {"ghost-r1-rz01-0", "ghost2-r1-rz01-0"}) {
    ASSERT_TRUE(waitFor(
        [&] {
          auto r = replica(rt, name);
          return r && r->state == ReplicaState::kFailed;
        },
        kWait))
        << describe(rt);
    auto r = *replica(rt, name);
    EXPECT_NE(r.message.find("No such file or directory"), std::string::npos) << r.message;
    EXPECT_NE(r.message.find("retrying in"), std::string::npos) << r.message;
    EXPECT_FALSE(r.ready);
    EXPECT_EQ(r.pid, 0);
    EXPECT_EQ(r.restarts, 0);
  }
  // Fixing the command replaces the failed replica.
  w.command = {TESSERA_DEMO_APP_BIN};
  rt.apply({w});
  ASSERT_TRUE(waitFor(allReady(rt, w.key, 1), kWait)) << describe(rt);
  ASSERT_TRUE(waitFor([&] { return !workload(rt, viaPath.key).has_value(); }, kWait));
}

TEST_F(ProcessRuntimeTest, GivesReplicasTheirEnvironmentAndPorts) {
  auto& rt = start();
  auto w = shellWorkload(
      "envdump",
      "echo \"PORT=$PORT HTTP=$PORT_HTTP ADMIN=$PORT_ADMIN_API REPLICA=$TESSERA_REPLICA "
      "APP=$TESSERA_APPLICATION NS=$TESSERA_NAMESPACE REV=$TESSERA_REVISION "
      "CELL=$TESSERA_CELL CLUSTER=$TESSERA_CLUSTER DC=$TESSERA_DATACENTER MODE=$MODE "
      "DIR=$(pwd -P)\"; echo to-stderr >&2; exec sleep 100000");
  w.ports = {PortSpec{"http", 8080}, PortSpec{"admin-api", 9090}};
  w.env = {{"MODE", "fast"}, {"TESSERA_REPLICA", "spoofed"}, {"TESSERA_CLUSTER", "from-spec"}};
  rt.apply({w});
  const std::string name = "envdump-r1-rz01-0";
  ASSERT_TRUE(waitFor(
      [&] {
        auto lines = rt.logs(name, 10);
        return lines.isOk() && lines->size() == 2;
      },
      kWait))
      << describe(rt);
  auto r = *replica(rt, name);
  const auto http = std::to_string(r.ports.at("http"));
  const auto adminPort = std::to_string(r.ports.at("admin-api"));
  EXPECT_NE(http, adminPort);
  const std::string dir = fs::canonical(stateDir() + "/replicas/" + name).string();
  auto lines = *rt.logs(name, 10);
  EXPECT_EQ(lines[0], "PORT=" + http + " HTTP=" + http + " ADMIN=" + adminPort + " REPLICA=" +
                          name + " APP=envdump NS=ops REV=r1 CELL=rz01 CLUSTER=from-spec " +
                          "DC=dc-east-1 MODE=fast DIR=" + dir);
  EXPECT_EQ(lines[1], "to-stderr");
  EXPECT_TRUE(r.ready);  // no probe: ready once running
  EXPECT_EQ(r.state, ReplicaState::kReady);
}

TEST_F(ProcessRuntimeTest, LogsAreTailedAndBounded) {
  auto o = options();
  o.logMaxBytes = 8 * 1024;
  o.logCheckInterval = milliseconds(50);
  auto& rt = start(o);
  // About 400 KB, 50 times the bound, in small bursts.
  const auto w =
      shellWorkload("chatty",
                    "i=0; while [ $i -lt 4000 ]; do "
                    "echo \"line $i "
                    "..........................................................................\"; "
                    "i=$((i+1)); if [ $((i % 20)) -eq 0 ]; then sleep 0.01; fi; done; "
                    "echo done; exec sleep 100000");
  rt.apply({w});
  const std::string name = "chatty-r1-rz01-0";
  ASSERT_TRUE(waitFor(
      [&] {
        auto l = rt.logs(name, 1);
        return l.isOk() && !l->empty() && l->back() == "done";
      },
      kWait))
      << describe(rt);
  // Rotation copies the log to .log.1 and truncates it whenever it outgrows the bound.
  const std::string log = stateDir() + "/logs/" + name + ".log";
  ASSERT_TRUE(fs::exists(log + ".1"));
  const auto kept = fs::file_size(log) + fs::file_size(log + ".1");
  EXPECT_LT(kept, 100u * 1024) << "log " << fs::file_size(log) << " + "
                               << fs::file_size(log + ".1");

  // The tail reads across the rotated part, oldest first.
  auto lines = rt.logs(name, 60);
  ASSERT_TRUE(lines.isOk());
  ASSERT_EQ(lines->size(), 60u);
  EXPECT_EQ(lines->back(), "done");
  int previous = -1;
  for (std::size_t i = 0; i + 1 < lines->size(); ++i) {
    const std::string& l = (*lines)[i];
    ASSERT_EQ(l.rfind("line ", 0), 0u) << l;
    const int n = std::stoi(l.substr(5));
    EXPECT_GT(n, previous);
    previous = n;
  }
  EXPECT_EQ(previous, 3999);

  EXPECT_EQ(rt.logs("nobody-r1-rz01-0", 5).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(rt.logs("../state/replicas", 5).status().code(), StatusCode::kNotFound);
}

TEST_F(ProcessRuntimeTest, ReadoptsRunningReplicasInsteadOfStartingThemAgain) {
  auto w = demoWorkload("shop", 3);
  {
    auto& a = start();
    a.apply({w});
    ASSERT_TRUE(waitFor(allReady(a, w.key, 3), kWait)) << describe(a);
  }
  const auto before = pidsOf(*rt_, w.key);
  ASSERT_EQ(before.size(), 3u);
  rt_.reset();  // like an agent that crashed: no stopAll
  for (const auto& [name, pid] : before) EXPECT_TRUE(alive(pid)) << name;
  const std::string record = testing::readFile(stateDir() + "/replicas.json");
  for (const auto& [name, pid] : before) {
    EXPECT_NE(record.find("\"pid\":" + std::to_string(pid)), std::string::npos) << record;
  }

  auto& b = start();
  EXPECT_EQ(pidsOf(b, w.key), before);  // known at once
  ASSERT_TRUE(waitFor(allReady(b, w.key, 3), kWait)) << describe(b);

  // The same desired state starts nothing. A marker workload tells when the apply is done.
  const auto marker = shellWorkload("marker", "exec sleep 100000");
  b.apply({w, marker});
  ASSERT_TRUE(waitFor(allReady(b, marker.key, 1), kWait)) << describe(b);
  EXPECT_EQ(pidsOf(b, w.key), before);
  auto procs = processesIn(stateDir());
  EXPECT_EQ(procs.size(), 4u);
  for (const auto& [name, pid] : before) {
    EXPECT_EQ(procs[name], std::vector<pid_t>{static_cast<pid_t>(pid)}) << name;
  }
  EXPECT_EQ(workload(b, w.key)->restarts, 0);

  // Fewer: the extra ones stop, the first one is left alone.
  w.replicas = 1;
  b.apply({w, marker});
  ASSERT_TRUE(waitFor(
      [&] {
        auto st = workload(b, w.key);
        return st && st->replicas.size() == 1 && processesIn(stateDir()).size() == 2;
      },
      kWait))
      << describe(b);
  EXPECT_EQ(pidsOf(b, w.key),
            (std::map<std::string, std::int64_t>{{"shop-r1-rz01-0", before.at("shop-r1-rz01-0")}}));
  EXPECT_FALSE(alive(before.at("shop-r1-rz01-1")));
  EXPECT_FALSE(alive(before.at("shop-r1-rz01-2")));
}

TEST_F(ProcessRuntimeTest, ReadoptedReplicasAreSupervisedBeforeTheFirstApply) {
  const auto w = demoWorkload("shop", 2);
  {
    auto& a = start();
    a.apply({w});
    ASSERT_TRUE(waitFor(allReady(a, w.key, 2), kWait)) << describe(a);
  }
  const auto before = pidsOf(*rt_, w.key);
  rt_.reset();
  // One replica ends while no agent runs.
  const auto gone = before.at("shop-r1-rz01-1");
  ASSERT_EQ(::kill(static_cast<pid_t>(gone), SIGKILL), 0);
  ASSERT_EQ(::waitpid(static_cast<pid_t>(gone), nullptr, 0), gone);

  auto& b = start();
  // Only the live one is re-adopted; nothing is started before the first apply.
  EXPECT_EQ(pidsOf(b, w.key),
            (std::map<std::string, std::int64_t>{{"shop-r1-rz01-0", before.at("shop-r1-rz01-0")}}));
  ASSERT_TRUE(waitFor([&] { return workload(b, w.key) && workload(b, w.key)->ready == 1; }, kWait))
      << describe(b);
  // It is supervised: killed, it is restarted.
  const auto kept = before.at("shop-r1-rz01-0");
  ASSERT_EQ(::kill(static_cast<pid_t>(kept), SIGKILL), 0);
  ASSERT_TRUE(waitFor(
      [&] {
        auto r = replica(b, "shop-r1-rz01-0");
        return r && r->restarts == 1 && r->ready && r->pid != kept;
      },
      kWait))
      << describe(b);
  EXPECT_EQ(workload(b, w.key)->replicas.size(), 1u);

  b.apply({w});
  ASSERT_TRUE(waitFor(allReady(b, w.key, 2), kWait)) << describe(b);
  EXPECT_NE(replica(b, "shop-r1-rz01-1")->pid, gone);
}

TEST_F(ProcessRuntimeTest, ReadoptsOnlyWhatTheRecordProves) {
  fs::create_directories(stateDir());
  // A process the record describes exactly (pid, start time, this boot) is adopted, whoever
  // started it; a pid that is alive with another start time is someone else's; a pid that is
  // gone is forgotten; a record from another boot is forgotten whole.
  testing::TempDir scratch("tessera-foreign");
  auto sleeper = testing::Process::spawn({"sleep", "100000"}, scratch.path() + "/sleep.log");
  ASSERT_TRUE(waitFor([&] { return alive(sleeper->pid()); }));
  const auto sleeperTicks = *processStartTicks(sleeper->pid());

  auto spec = shellWorkload("adopted", "exec sleep 100000");
  spec.replicas = 1;
  StoredState st;
  st.bootId = bootId();
  st.specs.emplace(specHash(spec), spec);
  auto recordOf = [&](const std::string& name, std::int64_t pid, std::uint64_t ticks) {
    StoredReplica r;
    r.name = name;
    r.workloadKey = spec.key;
    r.specHash = specHash(spec);
    r.pid = pid;
    r.startTicks = ticks;
    return r;
  };
  st.replicas.push_back(recordOf("adopted-r1-rz01-0", sleeper->pid(), sleeperTicks));
  st.replicas.push_back(recordOf("reused-r1-rz01-0", ::getpid(), 1));
  st.replicas.push_back(recordOf("gone-r1-rz01-0", 999999999, 1));

  StoredState otherBoot = st;
  otherBoot.bootId = "another-boot";
  ASSERT_TRUE(
      writeFileAtomically(stateDir() + "/replicas.json", encodeStoredState(otherBoot)).isOk());
  {
    auto& a = start();
    EXPECT_TRUE(a.status().empty()) << describe(a);
    rt_.reset();
  }

  ASSERT_TRUE(writeFileAtomically(stateDir() + "/replicas.json", encodeStoredState(st)).isOk());
  auto& b = start();
  auto all = b.status();
  ASSERT_EQ(all.size(), 1u) << describe(b);
  ASSERT_EQ(all[0].replicas.size(), 1u);
  EXPECT_EQ(all[0].replicas[0].name, "adopted-r1-rz01-0");
  EXPECT_EQ(all[0].replicas[0].pid, sleeper->pid());
  // The record keeps only what was adopted.
  auto record = decodeStoredState(testing::readFile(stateDir() + "/replicas.json"));
  ASSERT_TRUE(record.isOk());
  ASSERT_EQ(record->replicas.size(), 1u);
  EXPECT_EQ(record->replicas[0].pid, sleeper->pid());

  // Adopted means supervised: stopAll stops it too.
  b.stopAll(seconds(5));
  EXPECT_FALSE(alive(sleeper->pid()));
  EXPECT_TRUE(alive(::getpid()));
}

TEST_F(ProcessRuntimeTest, OnChangeIsCoalescedAndReplaceable) {
  auto& rt = start();
  std::atomic<int> calls{0};
  rt.onChange([&] { ++calls; });
  const auto w = demoWorkload("shop", 1);
  rt.apply({w});
  ASSERT_TRUE(waitFor(allReady(rt, w.key, 1), kWait)) << describe(rt);
  EXPECT_GE(calls.load(), 1);

  // Probes keep running (each one is a line in the replica's log) without changing anything:
  // no callback for them.
  const std::string name = "shop-r1-rz01-0";
  auto probes = [&] {
    auto lines = rt.logs(name, 1000);
    return lines.isOk() ? std::count_if(lines->begin(), lines->end(),
                                        [](const std::string& l) {
                                          return l.find("path=/healthz") != std::string::npos;
                                        })
                        : 0;
  };
  // One more probe first: by then the callback for becoming ready has run.
  auto seen = probes();
  ASSERT_TRUE(waitFor([&] { return probes() > seen; }, kWait));
  const int settled = calls.load();
  seen = probes();
  ASSERT_TRUE(waitFor([&] { return probes() >= seen + 3; }, kWait));
  EXPECT_EQ(calls.load(), settled);

  // A new callback replaces the old one.
  std::atomic<int> second{0};
  rt.onChange([&] { ++second; });
  ::kill(static_cast<pid_t>(replica(rt, name)->pid), SIGKILL);
  ASSERT_TRUE(waitFor([&] { return second.load() > 0; }, kWait));
  EXPECT_EQ(calls.load(), settled);
  rt.onChange(nullptr);
}

TEST_F(ProcessRuntimeTest, ReportsCapacityAndWhatIsLeft) {
  {
    auto& measured = start();
    auto c = measured.capacity();
    EXPECT_EQ(c.cpuMillis, static_cast<std::int64_t>(::sysconf(_SC_NPROCESSORS_ONLN)) * 1000);
    EXPECT_GT(c.memoryBytes, 0);
    EXPECT_EQ(c.pods, 110);
    rt_->stopAll(seconds(1));
    rt_.reset();
  }
  auto o = options();
  o.capacityOverride = Capacity{4000, 8LL << 30, 20};
  auto& rt = start(o);
  EXPECT_EQ(rt.capacity().pods, 20);
  const auto w = demoWorkload("shop", 3);
  rt.apply({w});
  ASSERT_TRUE(waitFor(allReady(rt, w.key, 3), kWait)) << describe(rt);
  auto left = rt.allocatable();
  EXPECT_EQ(left.cpuMillis, 4000 - 3 * 100);
  EXPECT_EQ(left.memoryBytes, (8LL << 30) - 3 * 64LL * 1024 * 1024);
  EXPECT_EQ(left.pods, 17);
  rt.apply({});
  ASSERT_TRUE(waitFor([&] { return rt.status().empty(); }, kWait)) << describe(rt);
  EXPECT_EQ(rt.allocatable().pods, 20);
}

TEST_F(ProcessRuntimeTest, RefusesBadOptionsAndASharedStateDirectory) {
  auto o = options();
  o.stateDir = "";
  EXPECT_EQ(ProcessRuntime::create(o).status().code(), StatusCode::kInvalidArgument);
  o = options();
  o.portRange = {30000, 20000};
  EXPECT_EQ(ProcessRuntime::create(o).status().code(), StatusCode::kInvalidArgument);

  start();
  auto second = ProcessRuntime::create(options());
  EXPECT_EQ(second.status().code(), StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace tessera::runtime
