#include "common/kubeconfig.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "common/crypto.h"

namespace tessera {
namespace {

TEST(KubeconfigTokenTest, FindsTheUsersToken) {
  EXPECT_EQ(kubeconfigToken("users:\n- name: a\n  user:\n    token: tsr_abc\n"), "tsr_abc");
  EXPECT_EQ(kubeconfigToken("    token: \"tsr_quoted\"\r\n"), "tsr_quoted");
}

TEST(KubeconfigTokenTest, EmptyWithoutOne) {
  EXPECT_EQ(kubeconfigToken("apiVersion: v1\nkind: Config\n"), "");
  EXPECT_EQ(kubeconfigToken("    token:\n"), "");
  EXPECT_EQ(kubeconfigToken(""), "");
}

constexpr char kTwoContexts[] = R"(apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: https://127.0.0.1:8443
    certificate-authority-data: @CA@
- name: lab
  cluster:
    server: https://lab.example:443
    insecure-skip-tls-verify: true
users:
- name: admin
  user:
    token: tsr_admin
- name: vera
  user: {token: "tsr_vera"}
contexts:
- name: tessera
  context: {cluster: local, user: admin, namespace: pay}
- name: lab
  context: {cluster: lab, user: vera}
current-context: tessera
)";

std::string twoContexts() {
  std::string s = kTwoContexts;
  s.replace(s.find("@CA@"), 4, base64Encode("-----BEGIN CERTIFICATE-----\nMII\n"));
  return s;
}

TEST(KubeconfigTest, ResolvesTheCurrentContext) {
  auto k = parseKubeconfig(twoContexts());
  ASSERT_TRUE(k.isOk()) << k.status().toString();
  EXPECT_EQ(k->context, "tessera");
  EXPECT_EQ(k->server, "https://127.0.0.1:8443");
  EXPECT_EQ(k->caPem, "-----BEGIN CERTIFICATE-----\nMII\n");
  EXPECT_FALSE(k->insecureSkipTlsVerify);
  EXPECT_EQ(k->token, "tsr_admin");
  EXPECT_EQ(k->namespace_, "pay");
  // The quick scan still finds the first token.
  EXPECT_EQ(kubeconfigToken(twoContexts()), "tsr_admin");
}

TEST(KubeconfigTest, ResolvesANamedContext) {
  auto k = parseKubeconfig(twoContexts(), "lab");
  ASSERT_TRUE(k.isOk()) << k.status().toString();
  EXPECT_EQ(k->server, "https://lab.example:443");
  EXPECT_TRUE(k->insecureSkipTlsVerify);
  EXPECT_EQ(k->token, "tsr_vera");
  EXPECT_EQ(k->namespace_, "");
}

TEST(KubeconfigTest, ReadsACertificateAuthorityFileRelativeToTheKubeconfig) {
  const std::string dir = ::testing::TempDir();
  std::ofstream(dir + "/kc-test-ca.crt") << "PEM";
  auto k = parseKubeconfig(
      "clusters: [{name: c, cluster: {server: 'https://h:1', certificate-authority: "
      "kc-test-ca.crt}}]\ncontexts: [{name: x, context: {cluster: c}}]\ncurrent-context: x\n",
      "", dir);
  std::remove((dir + "/kc-test-ca.crt").c_str());
  ASSERT_TRUE(k.isOk()) << k.status().toString();
  EXPECT_EQ(k->caPem, "PEM");
  EXPECT_EQ(k->token, "");
}

TEST(KubeconfigTest, SaysWhatIsMissingWithoutPrintingSecrets) {
  auto noContext = parseKubeconfig(twoContexts(), "prod");
  ASSERT_FALSE(noContext.isOk());
  EXPECT_EQ(noContext.status().message(), "context \"prod\" not found");
  auto noCurrent = parseKubeconfig("clusters: []\n");
  ASSERT_FALSE(noCurrent.isOk());
  EXPECT_NE(noCurrent.status().message().find("current-context"), std::string::npos);
  auto malformed = parseKubeconfig("users:\n- name: a\n  user: {token: tsr_secret\n");
  ASSERT_FALSE(malformed.isOk());
  EXPECT_EQ(malformed.status().message().find("tsr_secret"), std::string::npos)
      << malformed.status().message();
  EXPECT_EQ(loadKubeconfig("/nonexistent/kubeconfig").status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace tessera
