// Stock kubectl (v1.32, preinstalled) driving a real tessera-server end to end, with the
// kubeconfig the server writes: the commands SREs will actually type.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "tests/apiserver/api_test_util.h"
#include "tests/support/server_instance.h"
#include "tests/support/wait.h"

#ifndef TESSERA_SOURCE_DIR
#error "TESSERA_SOURCE_DIR must be defined by the build"
#endif

namespace tessera::testing {
namespace {

using std::chrono::seconds;

class KubectlTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (runCommand({"kubectl", "version", "--client"}).exitCode != 0) {
      GTEST_FAIL()
          << "kubectl is required for this test (it is preinstalled on the build machines)";
    }
    ServerOptions o;
    o.tls = true;  // kubectl sends bearer tokens only over TLS
    server_ = ServerInstance::start(sharedPostgres(), o).release();
    home_ = new TempDir("tessera-kubectl-home");
  }
  static void TearDownTestSuite() {
    delete server_;
    delete home_;
  }
  // Runs kubectl with the server's admin kubeconfig (and a private HOME for its caches).
  static CommandResult kubectl(std::vector<std::string> args, const std::string& stdinData = "") {
    args.insert(args.begin(), "kubectl");
    return runCommand(args, {"KUBECONFIG=" + server_->kubeconfigPath(), "HOME=" + home_->path()},
                      seconds(60), stdinData);
  }
  static std::string example(const std::string& name) {
    return std::string(TESSERA_SOURCE_DIR) + "/docs/examples/" + name;
  }
  static ServerInstance* server_;
  static TempDir* home_;
};
ServerInstance* KubectlTest::server_ = nullptr;
TempDir* KubectlTest::home_ = nullptr;

TEST_F(KubectlTest, ApiResourcesListsEveryKind) {
  auto r = kubectl({"api-resources"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  for (const char* k : {"clusters", "cells", "applications", "auditevents", "apitokens"}) {
    EXPECT_NE(r.out.find(k), std::string::npos) << k << "\n" << r.out;
  }
  EXPECT_EQ(r.err.find("error"), std::string::npos) << r.err;
}

TEST_F(KubectlTest, ApplyGetAndPrintColumns) {
  auto r = kubectl({"apply", "-f", example("clusters.yaml")});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_NE(r.out.find("cluster.tessera.io/cluster-a created"), std::string::npos) << r.out;
  auto get = kubectl({"get", "clusters"});
  ASSERT_EQ(get.exitCode, 0) << get.err;
  EXPECT_NE(get.out.find("REGION"), std::string::npos) << get.out;
  EXPECT_NE(get.out.find("cluster-c"), std::string::npos);
  EXPECT_NE(get.out.find("region-2"), std::string::npos);
  auto again = kubectl({"apply", "-f", example("clusters.yaml")});
  EXPECT_EQ(again.exitCode, 0) << again.err;
  EXPECT_NE(again.out.find("unchanged"), std::string::npos) << again.out;
  auto one = kubectl({"get", "cluster", "cluster-a", "-o", "jsonpath={.spec.zone}"});
  EXPECT_EQ(one.out, "dc-a");
  auto missing = kubectl({"get", "cluster", "nope"});
  EXPECT_NE(missing.exitCode, 0);
  EXPECT_NE(missing.err.find("clusters.tessera.io \"nope\" not found"), std::string::npos)
      << missing.err;
}

TEST_F(KubectlTest, ApplyCreateThenUpdateThenDeleteAnApplication) {
  TempDir dir;
  std::string file = dir.path() + "/app.yaml";
  std::string yaml = readFile(example("app.yaml"));
  writeFile(file, yaml);
  auto created = kubectl({"apply", "-f", file});
  ASSERT_EQ(created.exitCode, 0) << created.err;
  EXPECT_NE(created.out.find("application.tessera.io/demo created"), std::string::npos)
      << created.out;

  auto pos = yaml.find("replicasPerCell: 2");
  ASSERT_NE(pos, std::string::npos);
  yaml.replace(pos, 18, "replicasPerCell: 3");
  writeFile(file, yaml);
  auto updated = kubectl({"apply", "-f", file});
  ASSERT_EQ(updated.exitCode, 0) << updated.err;
  EXPECT_NE(updated.out.find("application.tessera.io/demo configured"), std::string::npos)
      << updated.out;

  auto y = kubectl({"get", "applications", "-n", "payments", "-o", "yaml"});
  ASSERT_EQ(y.exitCode, 0) << y.err;
  EXPECT_NE(y.out.find("replicasPerCell: 3"), std::string::npos) << y.out;
  EXPECT_NE(y.out.find("generation: 2"), std::string::npos);
  EXPECT_NE(y.out.find("kind: Application"), std::string::npos);

  auto del = kubectl({"delete", "-f", file});
  ASSERT_EQ(del.exitCode, 0) << del.err;
  EXPECT_NE(del.out.find("application.tessera.io \"demo\" deleted"), std::string::npos) << del.out;
  auto gone = kubectl({"get", "applications", "-n", "payments"});
  EXPECT_NE(gone.err.find("No resources found"), std::string::npos) << gone.out << gone.err;
}

TEST_F(KubectlTest, GetWatchShowsChangesAsTheyHappen) {
  TempDir dir;
  // The server's own controllers watch too: wait for one more than they hold.
  auto watches = [&] {
    const std::string body = server_->client().get("/metrics").body;
    const std::string name = "\ntessera_apiserver_watches ";
    auto at = body.find(name);
    return at == std::string::npos ? -1 : std::atoi(body.c_str() + at + name.size());
  };
  const int before = watches();
  ASSERT_GE(before, 0);
  auto watch = Process::spawn({"kubectl", "get", "cells", "-w"}, dir.path() + "/watch.log",
                              {"KUBECONFIG=" + server_->kubeconfigPath(), "HOME=" + home_->path()});
  // Wait for the watch to be established (its initial list printed, even if empty).
  ASSERT_TRUE(waitFor([&] { return watches() == before + 1; }, seconds(20))) << watches();
  auto r = kubectl({"apply", "-f", example("cells.yaml")});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  ASSERT_EQ(kubectl({"label", "cell", "rz-a", "tier=gold"}).exitCode, 0);
  EXPECT_TRUE(waitFor(
      [&] {
        std::string log = readFile(dir.path() + "/watch.log");
        return log.find("rz-a") != std::string::npos && log.find("gz-1") != std::string::npos &&
               log.find("GZone") != std::string::npos;
      },
      seconds(20)))
      << readFile(dir.path() + "/watch.log");
  watch->signal(SIGTERM);
  watch->wait(seconds(10));
}

TEST_F(KubectlTest, ErrorsAreReadable) {
  auto invalid = kubectl({"apply", "-f", "-"},
                         "apiVersion: tessera.io/v1\nkind: Cell\nmetadata:\n  name: "
                         "broken\nspec:\n  type: Moon\n  region: r\n");
  EXPECT_NE(invalid.exitCode, 0);
  EXPECT_NE(invalid.err.find("spec.type"), std::string::npos) << invalid.err;
  EXPECT_NE(invalid.err.find("Unsupported value"), std::string::npos) << invalid.err;

  auto unknown = kubectl({"apply", "-f", "-"},
                         "apiVersion: tessera.io/v1\nkind: Cell\nmetadata:\n  name: "
                         "broken2\nspec:\n  type: RZone\n  region: r\n  colour: red\n");
  EXPECT_NE(unknown.exitCode, 0);
  EXPECT_NE(unknown.err.find("colour"), std::string::npos) << unknown.err;

  std::string viewer = server_->createToken("kube-viewer", "viewer");
  auto forbidden = kubectl({"--token", viewer, "delete", "cell", "rz-b"});
  EXPECT_NE(forbidden.exitCode, 0);
  EXPECT_NE(forbidden.err.find("Forbidden"), std::string::npos) << forbidden.err;
  auto unauth = kubectl({"--token", "tsr_not-a-real-token-0000000000000000000000", "get", "cells"});
  EXPECT_NE(unauth.exitCode, 0);
  EXPECT_NE(unauth.err.find("Unauthorized"), std::string::npos) << unauth.err;
}

TEST_F(KubectlTest, PatchExplainAndAudit) {
  ASSERT_EQ(kubectl({"apply", "-f", example("cells.yaml")}).exitCode, 0);
  auto patch =
      kubectl({"patch", "cell", "rz-c", "--type=merge", "-p", R"({"spec":{"standby":"rz-b"}})"});
  EXPECT_EQ(patch.exitCode, 0) << patch.err;
  EXPECT_EQ(kubectl({"get", "cell", "rz-c", "-o", "jsonpath={.spec.standby}"}).out, "rz-b");
  auto explain = kubectl({"explain", "application.spec.placement"});
  EXPECT_EQ(explain.exitCode, 0) << explain.err;
  EXPECT_NE(explain.out.find("replicasPerCell"), std::string::npos) << explain.out;
  auto audit =
      kubectl({"get", "auditevents", "--field-selector", "objectRef.name=rz-c,verb=patch"});
  EXPECT_EQ(audit.exitCode, 0) << audit.err;
  EXPECT_NE(audit.out.find("patch"), std::string::npos) << audit.out;
}

}  // namespace
}  // namespace tessera::testing
