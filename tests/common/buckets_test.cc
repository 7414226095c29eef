#include "common/buckets.h"

#include <gtest/gtest.h>

namespace tessera {
namespace {

TEST(BucketsTest, ParsesRangesAndSingles) {
  auto b = parseBuckets("0-3, 7,5-5", 10);
  ASSERT_TRUE(b.isOk()) << b.status().toString();
  EXPECT_EQ(*b, (std::vector<int>{0, 1, 2, 3, 5, 7}));
  EXPECT_TRUE(parseBuckets("", 10)->empty());
  EXPECT_EQ(*parseBuckets("3,1-2,2", 10), (std::vector<int>{1, 2, 3}));
}

TEST(BucketsTest, RefusesWithTheOffendingPart) {
  auto outOfRange = parseBuckets("0-9,10", 10);
  ASSERT_FALSE(outOfRange.isOk());
  EXPECT_EQ(outOfRange.status().message(), "\"10\": buckets are 0 to 9");
  EXPECT_EQ(parseBuckets("7-3", 10).status().message(), "\"7-3\": a range must go upwards");
  EXPECT_EQ(parseBuckets("a", 10).status().message(), "\"a\": not a bucket number or range");
  EXPECT_EQ(parseBuckets("1-", 10).status().message(), "\"1-\": a range is FIRST-LAST");
  EXPECT_EQ(parseBuckets("1,,2", 10).status().message(), "\"\": not a bucket number or range");
  EXPECT_FALSE(parseBuckets("-1", 10).isOk());
}

TEST(BucketsTest, FormatsTheShortestRanges) {
  EXPECT_EQ(formatBuckets({5, 0, 1, 2, 9, 8}), "0-2,5,8-9");
  EXPECT_EQ(formatBuckets({}), "");
  EXPECT_EQ(formatBuckets({4, 4}), "4");
  EXPECT_EQ(*parseBuckets(formatBuckets({0, 1, 2, 50, 99}), 100),
            (std::vector<int>{0, 1, 2, 50, 99}));
}

}  // namespace
}  // namespace tessera
