// tessctl logs: a replica's recent log through the API, from a real agent running the demo
// app (the federation fixture; its server speaks plain HTTP on loopback, which tessctl also
// accepts there).
#include <gtest/gtest.h>

#include "tests/cli/tessctl_util.h"
#include "tests/federation/federation_fixture.h"

namespace tessera::testing {
namespace {

class TessctlLogsTest : public FederationTest {};

TEST_F(TessctlLogsTest, LogsOfAReplica) {
  dcs_ = {kDcs[0]};
  registerAll();
  createApplicationAndBinding(1, {kDcs[0]});
  ASSERT_TRUE(waitFor([&] { return readyReplicas() == 1; }, seconds(60))) << readyReplicas();
  const std::string name = str(replicas()[0], {"metadata", "name"});
  // Traffic, so that the log has lines.
  const std::string endpoint = str(replicas()[0], {"status", "endpoint"});
  HttpClient app(
      Endpoint{"127.0.0.1",
               static_cast<std::uint16_t>(std::stoi(endpoint.substr(endpoint.find(':') + 1))), ""});
  for (int i = 0; i < 3; ++i) ASSERT_EQ(app.get("/").status, 200);

  const std::vector<std::string> env = {"KUBECONFIG=" + server_->kubeconfigPath()};
  CommandResult r;
  ASSERT_TRUE(waitFor(
      [&] {
        r = runCommand({TESSCTL_BIN, "logs", name, "-n", "pay", "--tail", "2"}, env);
        return r.exitCode == 0 && r.out.find("method=GET path=/ ") != std::string::npos;
      },
      seconds(20), std::chrono::milliseconds(200)))
      << r.exitCode << "\n"
      << r.out << r.err;
  // --tail bounds the lines.
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 2) << r.out;
  auto missing = runCommand({TESSCTL_BIN, "logs", "nope.cluster-a", "-n", "pay"}, env);
  EXPECT_EQ(missing.exitCode, 4) << missing.err;
  EXPECT_NE(missing.err.find("NotFound"), std::string::npos) << missing.err;
  // The replica is in the table too, by its short name.
  auto get = runCommand({TESSCTL_BIN, "get", "rep", "-n", "pay", "-o", "name"}, env);
  EXPECT_EQ(get.out, "replica/" + name + "\n") << get.err;
}

}  // namespace
}  // namespace tessera::testing
