#include "common/quantity.h"

#include <gtest/gtest.h>

namespace tessera {
namespace {

TEST(QuantityTest, CpuInMillicores) {
  EXPECT_EQ(parseQuantityMilli("250m"), 250);
  EXPECT_EQ(parseQuantityMilli("2"), 2000);
  EXPECT_EQ(parseQuantityMilli("1.5"), 1500);
  EXPECT_EQ(parseQuantityMilli("0.1"), 100);
  EXPECT_EQ(parseQuantityMilli("100u"), 1);  // rounded up
}

TEST(QuantityTest, MemoryInBytes) {
  EXPECT_EQ(parseQuantity("128Mi"), 134217728);
  EXPECT_EQ(parseQuantity("1Gi"), 1073741824);
  EXPECT_EQ(parseQuantity("1k"), 1000);
  EXPECT_EQ(parseQuantity("64"), 64);
  EXPECT_EQ(parseQuantity("2e3"), 2000);
  EXPECT_EQ(parseQuantity("1.5Ki"), 1536);
}

TEST(QuantityTest, RejectsMalformed) {
  EXPECT_FALSE(parseQuantity("").has_value());
  EXPECT_FALSE(parseQuantity("12 cores").has_value());
  EXPECT_FALSE(parseQuantity("1.2.3").has_value());
  EXPECT_FALSE(parseQuantity("Mi").has_value());
  EXPECT_FALSE(parseQuantity("-1").has_value());
  EXPECT_FALSE(parseQuantity("1e").has_value());
  EXPECT_FALSE(parseQuantity("1Zi").has_value());
}

TEST(QuantityTest, FormatsTheWayKubernetesPrints) {
  EXPECT_EQ(formatMilli(2000), "2");
  EXPECT_EQ(formatMilli(250), "250m");
  EXPECT_EQ(formatMilli(0), "0");
  EXPECT_EQ(formatBytes(std::int64_t{1} << 30), "1Gi");
  EXPECT_EQ(formatBytes(3 << 20), "3Mi");
  EXPECT_EQ(formatBytes(25276510208), "24684092Ki");
  EXPECT_EQ(formatBytes(1536), "1536");
  EXPECT_EQ(formatBytes(0), "0");
  for (std::int64_t b : {std::int64_t{1} << 30, std::int64_t{25276510208}, std::int64_t{1536}}) {
    EXPECT_EQ(parseQuantity(formatBytes(b)), b);
  }
}

}  // namespace
}  // namespace tessera
