// tessctl, the real binary, against a real tessera-server (HTTPS, its own test CA) on a real
// PostgreSQL: every command, every documented exit code, and the kubeconfig handling. The
// replica log, which needs an agent and a running replica, is in tessctl_logs_test.cc.
#include <gtest/gtest.h>
#include <signal.h>
#include <yaml-cpp/yaml.h>

#include <boost/json.hpp>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "common/crypto.h"
#include "tests/apiserver/api_test_util.h"
#include "tests/cli/tessctl_util.h"
#include "tests/support/server_instance.h"
#include "tests/support/wait.h"

namespace tessera::testing {
namespace {

namespace json = boost::json;
using std::chrono::seconds;

class TessctlTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ServerOptions o;
    o.tls = true;
    server_ = ServerInstance::start(sharedPostgres(), o).release();
    dir_ = new TempDir("tessctl-test");
    viewerToken_ = new std::string(server_->createToken("vera", "viewer"));
    // The test's own kubeconfig: the CA as a file next to it (relative path), two contexts.
    std::filesystem::copy_file(server_->caFile(), dir_->path() + "/ca.crt");
    writeFile(kubeconfig(),
              "apiVersion: v1\nkind: Config\nclusters:\n- name: test\n  cluster:\n"
              "    server: https://127.0.0.1:" +
                  std::to_string(server_->port()) +
                  "\n    certificate-authority: ca.crt\n"
                  "users:\n- name: admin\n  user:\n    token: " +
                  server_->adminToken() + "\n- name: vera\n  user:\n    token: " + *viewerToken_ +
                  "\ncontexts:\n- name: admin\n  context: {cluster: test, user: admin, "
                  "namespace: pay}\n- name: viewer\n  context: {cluster: test, user: vera}\n"
                  "current-context: admin\n");
    auto c = server_->client();
    for (const char* cell : {"rz-a", "rz-b", "rz-c"}) {
      ASSERT_EQ(
          c.post(std::string(kApi) + "/cells", cellJson(cell, "region-1", R"({"tier":"core"})"))
              .status,
          201);
    }
    ASSERT_EQ(c.post(std::string(kApi) + "/cells", cellJson("rz-edge")).status, 201);
    const std::string gz =
        R"({"apiVersion":"tessera.io/v1","kind":"Cell","metadata":{"name":"gz-1"},)"
        R"("spec":{"type":"GZone","region":"region-1"}})";
    ASSERT_EQ(c.post(std::string(kApi) + "/cells", gz).status, 201);
    auto sm =
        c.post(std::string(kApi) + "/shardmaps",
               R"({"apiVersion":"tessera.io/v1","kind":"ShardMap","metadata":{"name":"default"},)"
               R"("spec":{"bucketCount":100,"reason":"initial","assignments":[)"
               R"({"cell":"rz-a","buckets":"0-49"},{"cell":"rz-b","buckets":"50-99"}]}})");
    ASSERT_EQ(sm.status, 201) << sm.body;
    ASSERT_EQ(
        c.post(std::string(kApi) + "/namespaces/pay/applications", appJson("pay", "demo")).status,
        201);
    ASSERT_EQ(
        c.post(std::string(kApi) + "/namespaces/ops/applications", appJson("ops", "tools")).status,
        201);
    // The scheduler sets every cell's phase: wait for it, so that outputs compared later are
    // not caught half-way.
    ASSERT_TRUE(waitFor(
        [&] {
          auto cells = c.get(std::string(kApi) + "/cells").json();
          for (const auto& cell : cells.at("items").as_array()) {
            if (str(cell, {"status", "phase"}) != "Active") return false;
          }
          return true;
        },
        seconds(30)));
  }
  static void TearDownTestSuite() {
    delete server_;
    delete dir_;
    delete viewerToken_;
  }
  static std::string kubeconfig() { return dir_->path() + "/kubeconfig"; }

  /// Runs tessctl with the test's kubeconfig; checks that no token ever reaches the output.
  static CommandResult tessctl(std::vector<std::string> args, const std::string& stdinData = "",
                               std::vector<std::string> env = {}) {
    args.insert(args.begin(), TESSCTL_BIN);
    env.insert(env.begin(), {"KUBECONFIG=" + kubeconfig(), "HOME=" + dir_->path()});
    auto r = runCommand(args, env, seconds(120), stdinData);
    if (std::getenv("TESSCTL_TEST_ECHO") != nullptr) {  // to read what the commands print
      std::string line = "$";
      for (std::size_t i = 1; i < args.size(); ++i) line += " " + args[i];
      std::cerr << line << "\n" << r.out << r.err << "(exit " << r.exitCode << ")\n\n";
    }
    for (const std::string* secret :
         {&server_->adminToken(), const_cast<const std::string*>(viewerToken_)}) {
      EXPECT_EQ(r.out.find(*secret), std::string::npos) << "a token was printed";
      EXPECT_EQ(r.err.find(*secret), std::string::npos) << "a token was printed";
    }
    return r;
  }
  static json::value shardMap() {
    return server_->client().get(std::string(kApi) + "/shardmaps/default").json();
  }
  static std::string assignments() {
    return json::serialize(shardMap().at("spec").at("assignments"));
  }
  static std::string version() { return str(shardMap(), {"status", "version"}); }

  static ServerInstance* server_;
  static TempDir* dir_;
  static std::string* viewerToken_;
};
ServerInstance* TessctlTest::server_ = nullptr;
TempDir* TessctlTest::dir_ = nullptr;
std::string* TessctlTest::viewerToken_ = nullptr;

// ---- get ----

TEST_F(TessctlTest, GetPrintsTheSameColumnsAsKubectl) {
  TempDir home("tessctl-kubectl-home");
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"get", "cells"},
                                             {"get", "shardmaps"},
                                             {"get", "applications", "-A"},
                                             {"get", "cell", "rz-a", "rz-b"}}) {
    auto ours = tessctl(args);
    ASSERT_EQ(ours.exitCode, 0) << ours.err;
    std::vector<std::string> kargs = args;
    kargs.insert(kargs.begin(), "kubectl");
    auto theirs =
        runCommand(kargs, {"KUBECONFIG=" + server_->kubeconfigPath(), "HOME=" + home.path()});
    ASSERT_EQ(theirs.exitCode, 0) << theirs.err;
    // The last column is AGE, which may tick between the two runs.
    EXPECT_EQ(withoutLastColumn(ours.out), withoutLastColumn(theirs.out))
        << "tessctl:\n"
        << ours.out << "kubectl:\n"
        << theirs.out;
  }
}

TEST_F(TessctlTest, GetAcceptsShortAndSingularNamesAndSelectors) {
  auto plural = tessctl({"get", "cells"});
  ASSERT_EQ(plural.exitCode, 0) << plural.err;
  EXPECT_EQ(firstLine(plural.out).rfind("NAME", 0), 0u) << plural.out;
  for (const char* alias : {"cl", "cell", "Cell"}) {
    auto r = tessctl({"get", alias, "--no-headers"});
    ASSERT_EQ(r.exitCode, 0) << r.err;
    EXPECT_EQ(names(r.out), names(plural.out.substr(plural.out.find('\n') + 1))) << alias;
  }
  auto core = tessctl({"get", "cl", "-l", "tier=core", "-o", "name"});
  ASSERT_EQ(core.exitCode, 0) << core.err;
  EXPECT_EQ(core.out, "cell/rz-a\ncell/rz-b\ncell/rz-c\n");
  auto notCore = tessctl({"get", "cells", "-l", "tier!=core", "-o", "name"});
  EXPECT_EQ(notCore.out, "cell/gz-1\ncell/rz-edge\n");
  // Namespaced kinds: the context's namespace ("pay"), -n, or -A with a NAMESPACE column.
  auto apps = tessctl({"get", "app", "-o", "name"});
  EXPECT_EQ(apps.out, "application/demo\n") << apps.err;
  auto ops = tessctl({"get", "app", "-n", "ops", "-o", "name"});
  EXPECT_EQ(ops.out, "application/tools\n") << ops.err;
  auto all = tessctl({"get", "applications", "-A"});
  ASSERT_EQ(all.exitCode, 0) << all.err;
  EXPECT_EQ(firstLine(all.out).rfind("NAMESPACE   NAME", 0), 0u) << all.out;
  // Two kinds at once.
  auto both = tessctl({"get", "cells,sm", "-o", "name"});
  ASSERT_EQ(both.exitCode, 0) << both.err;
  EXPECT_NE(both.out.find("shardmap/default"), std::string::npos) << both.out;
  // Nothing there: a note on stderr, success.
  auto none = tessctl({"get", "applications", "-n", "empty"});
  EXPECT_EQ(none.exitCode, 0);
  EXPECT_EQ(none.out, "");
  EXPECT_NE(none.err.find("No applications found in namespace \"empty\""), std::string::npos);
}

TEST_F(TessctlTest, GetAsJsonAndYamlIsTheObject) {
  auto j = tessctl({"get", "cell", "rz-a", "-o", "json"});
  ASSERT_EQ(j.exitCode, 0) << j.err;
  json::value obj = json::parse(j.out);
  EXPECT_EQ(str(obj, {"metadata", "name"}), "rz-a");
  EXPECT_EQ(str(obj, {"spec", "type"}), "RZone");
  auto list = tessctl({"get", "cells", "-o", "json"});
  ASSERT_EQ(list.exitCode, 0) << list.err;
  EXPECT_EQ(str(json::parse(list.out), {"kind"}), "CellList");
  EXPECT_EQ(json::parse(list.out).at("items").as_array().size(), 5u);

  auto y = tessctl({"get", "cell", "rz-a", "-o", "yaml"});
  ASSERT_EQ(y.exitCode, 0) << y.err;
  YAML::Node n = YAML::Load(y.out);
  EXPECT_EQ(n["metadata"]["name"].as<std::string>(), "rz-a");
  // resourceVersion is a string in the API: quoted, so that it reads back as one.
  EXPECT_EQ(n["metadata"]["resourceVersion"].Tag(), "!") << y.out;
  EXPECT_EQ(n["metadata"]["resourceVersion"].as<std::string>(),
            str(obj, {"metadata", "resourceVersion"}));
  auto ys = tessctl({"get", "cells", "-l", "tier=core", "-o", "yaml"});
  ASSERT_EQ(ys.exitCode, 0) << ys.err;
  EXPECT_EQ(YAML::Load(ys.out)["items"].size(), 3u);
}

TEST_F(TessctlTest, GetOfWhatDoesNotExistExitsFour) {
  auto r = tessctl({"get", "cell", "nope"});
  EXPECT_EQ(r.exitCode, 4);
  EXPECT_NE(r.err.find("cell \"nope\" not found"), std::string::npos) << r.err;
  auto k = tessctl({"get", "pods"});
  EXPECT_EQ(k.exitCode, 4);
  EXPECT_NE(k.err.find("the server has no resource type \"pods\""), std::string::npos) << k.err;
}

TEST_F(TessctlTest, WatchPrintsChangesAsTheyHappen) {
  TempDir d("tessctl-watch");
  auto w = Process::spawn(
      {TESSCTL_BIN, "--kubeconfig", kubeconfig(), "get", "cells", "-w", "--watch-timeout", "30s"},
      d.path() + "/out");
  ASSERT_TRUE(
      waitFor([&] { return readFile(d.path() + "/out").find("rz-edge") != std::string::npos; },
              seconds(20)))
      << readFile(d.path() + "/out");
  ASSERT_EQ(server_->client().post(std::string(kApi) + "/cells", cellJson("rz-watched")).status,
            201);
  EXPECT_TRUE(
      waitFor([&] { return readFile(d.path() + "/out").find("rz-watched") != std::string::npos; },
              seconds(20)))
      << readFile(d.path() + "/out");
  const std::string out = readFile(d.path() + "/out");
  EXPECT_EQ(out.rfind("NAME", 0), 0u) << out;  // one header, then rows
  EXPECT_EQ(out.find("NAME", 1), std::string::npos) << out;
  w->signal(SIGTERM);
  w->wait(std::chrono::seconds(10));
  EXPECT_EQ(server_->client().del(std::string(kApi) + "/cells/rz-watched").status, 200);
  // --watch-timeout ends the watch with success.
  auto timed = tessctl({"get", "cell", "rz-a", "-w", "--watch-timeout", "1s", "-o", "name"});
  EXPECT_EQ(timed.exitCode, 0) << timed.err;
  EXPECT_EQ(timed.out, "cell/rz-a\n");
}

// ---- describe ----

TEST_F(TessctlTest, DescribeShowsConditionsAndWhyAnApplicationIsNotPlaced) {
  // No cluster exists: the scheduler says why nothing can be placed.
  ASSERT_TRUE(waitFor(
      [&] {
        return json::serialize(server_->client()
                                   .get(std::string(kApi) + "/namespaces/pay/applications/demo")
                                   .json())
                   .find("Scheduled") != std::string::npos;
      },
      seconds(30)));
  auto r = tessctl({"describe", "app", "demo"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  for (const char* want :
       {"Name:", "demo", "Namespace:", "pay", "Kind:", "Application", "Spec:", "replicasPerCell: 2",
        "Placement:", "Not scheduled (", "Conditions:", "TYPE", "REASON", "Scheduled"}) {
    EXPECT_NE(r.out.find(want), std::string::npos) << want << "\n" << r.out;
  }
  auto cell = tessctl({"describe", "cell", "rz-a"});
  ASSERT_EQ(cell.exitCode, 0) << cell.err;
  EXPECT_NE(cell.out.find("Labels:             tier=core"), std::string::npos) << cell.out;
  EXPECT_EQ(tessctl({"describe", "cell", "nope"}).exitCode, 4);
}

TEST_F(TessctlTest, DescribeShardMapShowsOwnersAndHistory) {
  auto r = tessctl({"describe", "sm", "default"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  for (const char* want : {"Owners:", "rz-a   0-49", "History:", "VERSION", "initial", "admin"}) {
    EXPECT_NE(r.out.find(want), std::string::npos) << want << "\n" << r.out;
  }
}

// ---- apply and delete ----

TEST_F(TessctlTest, ApplyCreatesConfiguresAndLeavesUnchanged) {
  const std::string docs = R"(apiVersion: tessera.io/v1
kind: Application
metadata:
  name: web
  labels: {team: payments}
spec:
  template:
    command: [demo]
    ports: [{name: http, port: 8080}]
  placement:
    cells: {type: RZone}
    replicasPerCell: 1
---
apiVersion: tessera.io/v1
kind: Cell
metadata: {name: rz-applied}
spec: {type: RZone, region: region-2}
)";
  auto first = tessctl({"apply", "-f", "-"}, docs);
  ASSERT_EQ(first.exitCode, 0) << first.err;
  EXPECT_EQ(first.out, "application/web created\ncell/rz-applied created\n");
  EXPECT_EQ(server_->client().get(std::string(kApi) + "/namespaces/pay/applications/web").status,
            200);
  auto again = tessctl({"apply", "-f", "-"}, docs);
  ASSERT_EQ(again.exitCode, 0) << again.err;
  EXPECT_EQ(again.out, "application/web unchanged\ncell/rz-applied unchanged\n");
  // From a file, as JSON, with a change.
  std::string changed = docs;
  changed.replace(changed.find("replicasPerCell: 1"), 18, "replicasPerCell: 3");
  writeFile(dir_->path() + "/web.yaml", changed);
  auto third = tessctl({"apply", "-f", dir_->path() + "/web.yaml"});
  ASSERT_EQ(third.exitCode, 0) << third.err;
  EXPECT_EQ(third.out, "application/web configured\ncell/rz-applied unchanged\n");
  EXPECT_EQ(
      str(server_->client().get(std::string(kApi) + "/namespaces/pay/applications/web").json(),
          {"spec", "placement", "replicasPerCell"}),
      "3");
  writeFile(dir_->path() + "/c.json",
            R"({"apiVersion":"tessera.io/v1","kind":"Cell","metadata":{"name":"rz-json"},)"
            R"("spec":{"type":"RZone","region":"region-2"}})");
  auto js = tessctl({"apply", "-f", dir_->path() + "/c.json", "--dry-run"});
  ASSERT_EQ(js.exitCode, 0) << js.err;
  EXPECT_EQ(js.out, "cell/rz-json created (dry run)\n");
  EXPECT_EQ(server_->client().get(std::string(kApi) + "/cells/rz-json").status, 404);
  EXPECT_EQ(tessctl({"apply", "-f", dir_->path() + "/c.json"}).out, "cell/rz-json created\n");

  EXPECT_EQ(tessctl({"delete", "cells", "rz-json", "rz-applied"}).out,
            "cell \"rz-json\" deleted\ncell \"rz-applied\" deleted\n");
  EXPECT_EQ(tessctl({"delete", "app", "web"}).exitCode, 0);
}

TEST_F(TessctlTest, ApplyOfAnInvalidObjectIsRefusedWithTheServersReasons) {
  auto r = tessctl({"apply", "-f", "-"}, R"(apiVersion: tessera.io/v1
kind: Cluster
metadata: {name: c-invalid}
spec: {zone: dc-a}
)");
  EXPECT_EQ(r.exitCode, 3);
  EXPECT_NE(r.err.find("Error from server (Invalid): "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("  - spec.region: Required value"), std::string::npos) << r.err;
  EXPECT_EQ(server_->client().get(std::string(kApi) + "/clusters/c-invalid").status, 404);
  // Not YAML at all: a usage error, nothing sent.
  auto bad = tessctl({"apply", "-f", "-"}, "kind: [Cell\n");
  EXPECT_EQ(bad.exitCode, 2);
  EXPECT_NE(bad.err.find("malformed YAML"), std::string::npos) << bad.err;
  // A kind the server does not serve.
  auto unknown = tessctl({"apply", "-f", "-"}, "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n");
  EXPECT_EQ(unknown.exitCode, 4);
}

TEST_F(TessctlTest, DeleteOfWhatDoesNotExistExitsFour) {
  auto r = tessctl({"delete", "cell", "never-was"});
  EXPECT_EQ(r.exitCode, 4);
  EXPECT_NE(r.err.find("Error from server (NotFound)"), std::string::npos) << r.err;
  EXPECT_EQ(tessctl({"delete", "cell", "never-was", "--ignore-not-found"}).exitCode, 0);
}

// ---- shardmap ----

TEST_F(TessctlTest, ShardMapShowListsBucketsPerCell) {
  auto r = tessctl({"shardmap", "show"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_NE(r.out.find("ShardMap default: 100 buckets, version "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("CELL   BUCKETS   COUNT\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("rz-a   "), std::string::npos) << r.out;
  auto j = tessctl({"shardmap", "show", "default", "-o", "json"});
  ASSERT_EQ(j.exitCode, 0) << j.err;
  EXPECT_EQ(str(json::parse(j.out), {"kind"}), "ShardMap");
  EXPECT_EQ(tessctl({"shardmap", "show", "other"}).exitCode, 4);
}

TEST_F(TessctlTest, ShardMapMoveMovesOnlyTheNamedBuckets) {
  const std::string before = version();
  auto r = tessctl({"shardmap", "move", "45-49,55", "--to", "rz-c", "--reason", "drill 7"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_NE(r.out.find("rz-a → rz-c: 45-49 (5 buckets)\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("rz-b → rz-c: 55 (1 bucket)\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("shardmap/default configured: version " + before + " → " +
                       std::to_string(std::stoi(before) + 1)),
            std::string::npos)
      << r.out;
  auto sm = shardMap();
  EXPECT_EQ(json::serialize(sm.at("spec").at("assignments")),
            R"([{"cell":"rz-a","buckets":"0-44"},{"cell":"rz-b","buckets":"50-54,56-99"},)"
            R"({"cell":"rz-c","buckets":"45-49,55"}])");
  const auto& history = sm.at("status").at("history").as_array();
  EXPECT_EQ(str(history.back(), {"reason"}), "drill 7");
  // Moving them back empties rz-c, whose assignment goes away.
  auto back = tessctl({"shardmap", "move", "45-49", "--to", "rz-a"});
  ASSERT_EQ(back.exitCode, 0) << back.err;
  auto back2 = tessctl({"shardmap", "move", "55", "--to", "rz-b"});
  ASSERT_EQ(back2.exitCode, 0) << back2.err;
  EXPECT_EQ(assignments(),
            R"([{"cell":"rz-a","buckets":"0-49"},{"cell":"rz-b","buckets":"50-99"}])");
  // Already there: nothing to do, nothing written.
  const std::string v = version();
  auto noop = tessctl({"shardmap", "move", "0-9", "--to", "rz-a"});
  EXPECT_EQ(noop.exitCode, 0) << noop.err;
  EXPECT_NE(noop.out.find("nothing to move"), std::string::npos) << noop.out;
  EXPECT_EQ(version(), v);
}

TEST_F(TessctlTest, ShardMapMoveDryRunChangesNothing) {
  const std::string v = version();
  const std::string a = assignments();
  auto r = tessctl({"shardmap", "move", "0-9", "--to", "rz-b", "--dry-run"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_NE(r.out.find("rz-a → rz-b: 0-9 (10 buckets)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("dry run: the server accepted moving 10 buckets to rz-b; nothing was "
                       "changed"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(version(), v);
  EXPECT_EQ(assignments(), a);
  // A dry run is validated by the server like the real thing.
  EXPECT_EQ(tessctl({"shardmap", "move", "0-9", "--to", "no-such-cell", "--dry-run"}).exitCode, 3);
}

TEST_F(TessctlTest, ShardMapMovesTheServerRefusesExitThree) {
  const std::string v = version();
  auto unknown = tessctl({"shardmap", "move", "0-9", "--to", "no-such-cell"});
  EXPECT_EQ(unknown.exitCode, 3);
  EXPECT_NE(unknown.err.find("Not found: \"no-such-cell\": no such cell"), std::string::npos)
      << unknown.err;
  auto gzone = tessctl({"shardmap", "move", "0-9", "--to", "gz-1"});
  EXPECT_EQ(gzone.exitCode, 3);
  EXPECT_NE(gzone.err.find("only RZone cells own buckets"), std::string::npos) << gzone.err;
  // Buckets the map does not have: refused before anything is sent.
  auto range = tessctl({"shardmap", "move", "95-104", "--to", "rz-a"});
  EXPECT_EQ(range.exitCode, 3);
  EXPECT_NE(range.err.find("buckets 100-104 do not exist: the ShardMap has 100 buckets"),
            std::string::npos)
      << range.err;
  // A viewer may read the map but not move buckets.
  auto viewer = tessctl({"--context", "viewer", "shardmap", "move", "0-9", "--to", "rz-b"});
  EXPECT_EQ(viewer.exitCode, 3);
  EXPECT_NE(viewer.err.find("Forbidden"), std::string::npos) << viewer.err;
  EXPECT_EQ(version(), v);
  // Malformed BUCKETS is a usage error.
  auto syntax = tessctl({"shardmap", "move", "9-3", "--to", "rz-a"});
  EXPECT_EQ(syntax.exitCode, 2);
  EXPECT_NE(syntax.err.find("BUCKETS:"), std::string::npos) << syntax.err;
  EXPECT_EQ(tessctl({"shardmap", "move", "1"}).exitCode, 2);  // --to is required
}

TEST_F(TessctlTest, ShardMapMoveWaitsForTheProxies) {
  // Whatever the server reports — a rollout block, Proxy objects, or neither — with no proxy
  // connected, "every reachable proxy acked" holds at once. (With proxies that ack, and one
  // that refuses — exit code 5 —: tessctl_mesh_test.cc.)
  auto r = tessctl({"shardmap", "move", "0-4", "--to", "rz-b", "--wait", "--timeout", "20s"});
  ASSERT_EQ(r.exitCode, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("rollout of version " + version() + " done"), std::string::npos) << r.out;
  auto back = tessctl({"shardmap", "move", "0-4", "--to", "rz-a", "--wait", "--timeout", "20s"});
  ASSERT_EQ(back.exitCode, 0) << back.out << back.err;
}

// ---- proxies ----

TEST_F(TessctlTest, ProxiesStatus) {
  auto discovery = server_->client().get(kApi);
  ASSERT_EQ(discovery.status, 200);
  const bool served = discovery.body.find("\"proxies\"") != std::string::npos;
  auto r = tessctl({"proxies", "status"});
  if (!served) {
    // Before the mesh control plane: the kind is missing, and the command says so.
    EXPECT_EQ(r.exitCode, 4) << r.err;
    EXPECT_NE(r.err.find("no Proxy kind"), std::string::npos) << r.err;
    return;
  }
  // No proxy runs in this test: an empty list is success.
  EXPECT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("No proxies found."), std::string::npos) << r.err;
  auto j = tessctl({"proxies", "status", "-o", "json"});
  EXPECT_EQ(j.exitCode, 0) << j.err;
  EXPECT_EQ(json::parse(j.out).at("items").as_array().size(), 0u);
}

// ---- credentials, contexts, failures ----

TEST_F(TessctlTest, TheKubeconfigUpWritesWorksAsIs) {
  auto r = tessctl({"get", "cells", "-o", "name"}, "", {"KUBECONFIG=" + server_->kubeconfigPath()});
  EXPECT_EQ(r.exitCode, 0) << r.err;
  EXPECT_NE(r.out.find("cell/rz-a"), std::string::npos);
  auto flag = tessctl({"--kubeconfig", server_->kubeconfigPath(), "get", "cell", "rz-a"}, "",
                      {"KUBECONFIG=/nonexistent"});
  EXPECT_EQ(flag.exitCode, 0) << flag.err;
}

TEST_F(TessctlTest, UnauthenticatedAndForbiddenAreRefused) {
  auto bad = tessctl({"--token", "tsr_" + std::string(43, 'x'), "get", "cells"});
  EXPECT_EQ(bad.exitCode, 3);
  EXPECT_NE(bad.err.find("Unauthorized"), std::string::npos) << bad.err;
  auto viewer = tessctl({"--context", "viewer", "get", "cells", "-o", "name"});
  EXPECT_EQ(viewer.exitCode, 0) << viewer.err;
  auto write = tessctl({"--context", "viewer", "delete", "cell", "rz-edge"});
  EXPECT_EQ(write.exitCode, 3);
  EXPECT_NE(write.err.find("Error from server (Forbidden)"), std::string::npos) << write.err;
  EXPECT_EQ(server_->client().get(std::string(kApi) + "/cells/rz-edge").status, 200);
}

TEST_F(TessctlTest, UnreachableOrUntrustedServersFail) {
  // Nothing listens there.
  auto down = tessctl({"--server", "https://127.0.0.1:1", "get", "cells"});
  EXPECT_EQ(down.exitCode, 1);
  EXPECT_NE(down.err.find("cannot connect"), std::string::npos) << down.err;
  // A CA that did not sign the server's certificate.
  TempDir other("tessctl-other-ca");
  makeTestCertificates(other.path());
  auto untrusted = tessctl({"--certificate-authority", other.path() + "/ca.crt", "get", "cells"});
  EXPECT_EQ(untrusted.exitCode, 1);
  EXPECT_NE(untrusted.err.find("TLS handshake"), std::string::npos) << untrusted.err;
  EXPECT_EQ(untrusted.out, "");
}

TEST_F(TessctlTest, UsageErrorsExitTwo) {
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"frobnicate"},
           {"get"},
           {"get", "cells", "-o", "xml"},
           {"get", "cells", "--no-such-flag"},
           {"describe", "cell"},
           {"apply"},
           {"logs", "x", "--tail", "0"},
           {"shardmap"},
           {"shardmap", "move", "1", "--to", "rz-a", "--timeout", "soon"},
           {"completion", "fish"},
           {"--context", "nope", "get", "cells"},
           {"--request-timeout", "never", "get", "cells"}}) {
    auto r = tessctl(args);
    std::string joined;
    for (const auto& a : args) joined += a + " ";
    EXPECT_EQ(r.exitCode, 2) << joined << "\n" << r.err;
    EXPECT_FALSE(r.err.empty()) << joined;
  }
  // No kubeconfig anywhere (and no --server).
  TempDir empty("tessctl-nohome");
  auto r = runCommand({TESSCTL_BIN, "get", "cells"}, {"KUBECONFIG=", "HOME=" + empty.path()});
  EXPECT_EQ(r.exitCode, 2);
  EXPECT_NE(r.err.find("no kubeconfig"), std::string::npos) << r.err;
}

TEST_F(TessctlTest, HelpDocumentsTheExitCodes) {
  auto r = tessctl({"--help"});
  EXPECT_EQ(r.exitCode, 0);
  for (const char* want : {"0  success", "1  failed", "2  usage error", "3  refused",
                           "4  not found", "5  timed out"}) {
    EXPECT_NE(r.out.find(want), std::string::npos) << want << "\n" << r.out;
  }
  EXPECT_EQ(tessctl({"shardmap", "move", "--help"}).exitCode, 0);
}

TEST_F(TessctlTest, CompletionScriptsAreValid) {
  auto bash = tessctl({"completion", "bash"});
  ASSERT_EQ(bash.exitCode, 0);
  EXPECT_NE(bash.out.find("complete -F _tessctl tessctl"), std::string::npos);
  for (const char* word : {"shardmap", "proxies", "--kubeconfig", "shardmaps", "--dry-run"}) {
    EXPECT_NE(bash.out.find(word), std::string::npos) << word;
  }
  writeFile(dir_->path() + "/completion.bash", bash.out);
  auto syntax = runCommand({"bash", "-n", dir_->path() + "/completion.bash"});
  EXPECT_EQ(syntax.exitCode, 0) << syntax.err;
  // It completes: commands first, then kinds after get.
  auto complete =
      runCommand({"bash", "-c",
                  "source " + dir_->path() +
                      "/completion.bash; COMP_WORDS=(tessctl get sh); COMP_CWORD=2; _tessctl; "
                      "echo \"${COMPREPLY[*]}\""});
  EXPECT_EQ(complete.out, "shardmaps\n") << complete.err;
  auto zsh = tessctl({"completion", "zsh"});
  ASSERT_EQ(zsh.exitCode, 0);
  EXPECT_EQ(zsh.out.rfind("#compdef tessctl", 0), 0u);
  if (runCommand({"zsh", "--version"}).exitCode == 0) {
    writeFile(dir_->path() + "/_tessctl", zsh.out);
    EXPECT_EQ(runCommand({"zsh", "-n", dir_->path() + "/_tessctl"}).exitCode, 0);
  }
}

}  // namespace
}  // namespace tessera::testing
