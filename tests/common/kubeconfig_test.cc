#include "common/kubeconfig.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace tessera
