// The federation test fixture: a real tessera-server on a real PostgreSQL and real
// tessera-agent processes (one per Dc), with helpers to read clusters and replicas through
// the API. Shared by the federation and scheduling end-to-end tests.
#pragma once

#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <boost/json.hpp>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tests/apiserver/api_test_util.h"
#include "tests/support/server_instance.h"
#include "tests/support/wait.h"

#ifndef TESSERA_AGENT_BIN
#error "TESSERA_AGENT_BIN must be defined by the build"
#endif
#ifndef TESSERA_DEMO_APP_BIN
#error "TESSERA_DEMO_APP_BIN must be defined by the build"
#endif

namespace tessera::testing {

namespace json = boost::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

inline bool alive(std::int64_t pid) {
  return pid > 0 && ::kill(static_cast<pid_t>(pid), 0) == 0;
}

struct Dc {
  std::string cluster, region, zone, cell;
  int portBase;
};
inline const std::vector<Dc> kDcs = {{"cluster-a", "region-1", "dc-a", "rz-a", 31000},
                                     {"cluster-b", "region-1", "dc-b", "rz-b", 32000},
                                     {"cluster-c", "region-2", "dc-c", "rz-c", 33000}};

class FederationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = startServer(0);
    dir_ = std::make_unique<TempDir>("tessera-fed");
  }
  void TearDown() override {
    for (auto& [name, a] : agents_) {
      if (a && a->running()) {
        a->signal(SIGTERM);
        a->wait(seconds(30));
      }
    }
    agents_.clear();
  }

  /// Flags of every tessera-server this fixture starts.
  virtual std::vector<std::string> serverArgs() const {
    return {"--heartbeat-interval", "500ms", "--heartbeat-misses", "3"};
  }

  std::unique_ptr<ServerInstance> startServer(std::uint16_t agentPort, const std::string& db = "") {
    ServerOptions o;
    o.database = db;
    o.extraArgs = serverArgs();
    o.agentPort = agentPort;
    return ServerInstance::start(sharedPostgres(), o);
  }

  std::string bootstrapToken(const std::string& forCluster = "", const std::string& expires = "") {
    json::object spec;
    if (!forCluster.empty()) spec["cluster"] = forCluster;
    if (!expires.empty()) spec["expirationTimestamp"] = expires;
    json::object o{{"apiVersion", "tessera.io/v1"},
                   {"kind", "BootstrapToken"},
                   {"metadata", json::object{{"generateName", "bt-"}}},
                   {"spec", spec}};
    auto r = server_->client().post(std::string(kApi) + "/bootstraptokens", json::serialize(o));
    EXPECT_EQ(r.status, 201) << r.body;
    return str(r.json(), {"status", "token"});
  }

  std::string stateDir(const Dc& dc) { return dir_->path() + "/" + dc.cluster; }
  std::string agentLog(const Dc& dc) { return stateDir(dc) + ".log"; }

  Process& startAgent(const Dc& dc, const std::string& token) {
    std::filesystem::create_directories(stateDir(dc));
    std::vector<std::string> argv = {
        TESSERA_AGENT_BIN,
        "--server",
        "127.0.0.1:" + std::to_string(server_->agentPort()),
        "--insecure",
        "--cluster",
        dc.cluster,
        "--region",
        dc.region,
        "--zone",
        dc.zone,
        "--state-dir",
        stateDir(dc),
        "--port-range",
        std::to_string(dc.portBase) + "-" + std::to_string(dc.portBase + 99),
        "--stop-grace",
        "3s"};
    if (!token.empty()) {
      argv.push_back("--token");
      argv.push_back(token);
    }
    agents_[dc.cluster] = Process::spawn(argv, agentLog(dc));
    return *agents_[dc.cluster];
  }

  json::value cluster(const std::string& name) {
    auto r = server_->client().get(std::string(kApi) + "/clusters/" + name);
    return r.status == 200 ? r.json() : json::value();
  }
  std::string readyOf(const std::string& name) {
    json::value c = cluster(name);
    const auto* conditions = c.is_object() ? c.find_pointer("/status/conditions", ec_) : nullptr;
    if (conditions == nullptr || !conditions->is_array()) return "";
    for (const auto& cond : conditions->as_array()) {
      if (str(cond, {"type"}) == "Ready")
        return str(cond, {"status"}) + "/" + str(cond, {"reason"});
    }
    return "";
  }
  void waitReady(const std::string& name) {
    ASSERT_TRUE(waitFor([&] { return readyOf(name) == "True/AgentConnected"; }, seconds(60)))
        << name << ": " << readyOf(name) << "\n"
        << tailFile(agentLog(*dcNamed(name)));
  }
  const Dc* dcNamed(const std::string& name) {
    for (const auto& d : dcs_) {
      if (d.cluster == name) return &d;
    }
    return &dcs_[0];
  }

  void createApplicationAndBinding(int perCluster, const std::vector<Dc>& where) {
    auto c = server_->client();
    std::string app =
        R"({"apiVersion":"tessera.io/v1","kind":"Application","metadata":{"name":"demo","namespace":"pay"},)"
        R"("spec":{"template":{"command":["demo"]},"placement":{"cells":{"type":"RZone"}}}})";
    auto a = c.post(std::string(kApi) + "/namespaces/pay/applications", app);
    ASSERT_TRUE(a.status == 201 || a.status == 409) << a.body;
    putBinding(perCluster, where);
  }

  void putBinding(int perCluster, const std::vector<Dc>& where) {
    json::array placements;
    for (const auto& d : where) {
      placements.push_back(json::object{{"cluster", d.cluster},
                                        {"cell", d.cell},
                                        {"revision", "demo-r1"},
                                        {"replicas", perCluster}});
    }
    json::object templ{
        {"command", json::array{TESSERA_DEMO_APP_BIN}},
        {"env", json::array{json::object{{"name", "GREETING"}, {"value", "hi"}}}},
        {"ports", json::array{json::object{{"name", "http"}, {"port", 8080}}}},
        {"resources", json::object{{"cpu", "100m"}, {"memory", "32Mi"}}},
        {"readinessProbe",
         json::object{{"httpGet", json::object{{"path", "/healthz"}}}, {"periodSeconds", 1}}}};
    json::object b{
        {"apiVersion", "tessera.io/v1"},
        {"kind", "Binding"},
        {"metadata", json::object{{"name", "demo"}, {"namespace", "pay"}}},
        {"spec", json::object{{"application", "demo"},
                              {"revisions",
                               json::array{json::object{{"name", "demo-r1"}, {"template", templ}}}},
                              {"placements", placements}}}};
    auto c = server_->client();
    std::string path = std::string(kApi) + "/namespaces/pay/bindings";
    auto existing = c.get(path + "/demo");
    if (existing.status == 200) {
      b["metadata"].as_object()["resourceVersion"] =
          str(existing.json(), {"metadata", "resourceVersion"});
      auto r = c.put(path + "/demo", json::serialize(b));
      ASSERT_EQ(r.status, 200) << r.body;
    } else {
      auto r = c.post(path, json::serialize(b));
      ASSERT_EQ(r.status, 201) << r.body;
    }
  }

  std::vector<json::value> replicas(const std::string& selector = "") {
    auto r = server_->client().get(std::string(kApi) + "/namespaces/pay/replicas" +
                                   (selector.empty() ? "" : "?labelSelector=" + selector));
    if (r.status != 200) return {};
    std::vector<json::value> out;
    const json::value list = r.json();  // kept alive: the loop reads into it
    for (const auto& it : list.at("items").as_array()) out.push_back(it);
    return out;
  }
  int readyReplicas(const std::string& selector = "") {
    int n = 0;
    for (const auto& r : replicas(selector)) n += str(r, {"status", "ready"}) == "true";
    return n;
  }
  std::map<std::string, std::int64_t> pids() {
    std::map<std::string, std::int64_t> out;
    for (const auto& r : replicas())
      out[str(r, {"metadata", "name"})] = std::stoll("0" + str(r, {"status", "pid"}));
    return out;
  }

  void registerAll() {
    for (const auto& d : dcs_) startAgent(d, bootstrapToken());
    for (const auto& d : dcs_) waitReady(d.cluster);
  }

  std::vector<Dc> dcs_ = kDcs;  // the datacenters registerAll() starts agents for
  std::unique_ptr<ServerInstance> server_;
  std::unique_ptr<TempDir> dir_;
  boost::system::error_code ec_;
  std::map<std::string, std::unique_ptr<Process>> agents_;
};

}  // namespace tessera::testing
