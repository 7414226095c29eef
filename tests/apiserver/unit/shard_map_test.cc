// ShardMap: every bucket has exactly one owner, errors name the buckets at fault, and every
// change is recorded (version, who, when, why, what moved).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "apiserver/kinds/kinds.h"
#include "tests/apiserver/unit/test_json.h"

namespace tessera::apiserver {
namespace {

namespace json = boost::json;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using testutil::cause;
using testutil::parseObject;

json::object shardMap(std::string_view assignments, int count = 10) {
  return parseObject(R"({"metadata": {"name": "default"}, "spec": {"bucketCount": )" +
                     std::to_string(count) + R"(, "assignments": )" + std::string(assignments) +
                     "}}");
}

std::vector<FieldCause> check(const json::object& obj) {
  std::vector<FieldCause> errs;
  std::vector<std::string> unknown;
  shardMapKind().spec->validate(obj.at("spec"), "spec", errs, unknown);
  if (errs.empty()) shardMapKind().validateObject(obj, errs);
  return errs;
}

TEST(ShardMapKindTest, EveryBucketOwnedOnceIsValid) {
  EXPECT_THAT(check(shardMap(R"([{"cell": "rz-a", "buckets": "0-4"},
                                 {"cell": "rz-b", "buckets": "5-7,9"},
                                 {"cell": "rz-c", "buckets": "8"}])")),
              IsEmpty());
}

TEST(ShardMapKindTest, BucketCountDefaultsToOneHundred) {
  json::value spec = testutil::parseJson(R"({"assignments": []})");
  shardMapKind().spec->applyDefaults(spec);
  EXPECT_EQ(spec.as_object().at("bucketCount"), json::value(100));
}

TEST(ShardMapKindTest, UnownedBucketsAreNamed) {
  EXPECT_THAT(check(shardMap(R"([{"cell": "rz-a", "buckets": "0-4"},
                                 {"cell": "rz-b", "buckets": "6-7"}])")),
              ElementsAre(cause("FieldValueRequired", "spec.assignments",
                                "Required value: buckets 5,8-9 are owned by no cell (every bucket "
                                "needs exactly one owner)")));
}

TEST(ShardMapKindTest, BucketsOwnedTwiceAreNamedWithTheirOwners) {
  EXPECT_THAT(check(shardMap(R"([{"cell": "rz-a", "buckets": "0-6"},
                                 {"cell": "rz-b", "buckets": "5-9"}])")),
              ElementsAre(cause("FieldValueDuplicate", "spec.assignments",
                                "Duplicate value: buckets 5-6 are owned by more than one cell "
                                "(rz-a, rz-b)")));
}

TEST(ShardMapKindTest, MalformedRangesAndRepeatedCellsAreRefused) {
  EXPECT_THAT(check(shardMap(R"([{"cell": "rz-a", "buckets": "0-4"},
                                 {"cell": "rz-b", "buckets": "9-5"}])")),
              ElementsAre(cause("FieldValueInvalid", "spec.assignments[1].buckets",
                                "Invalid value: \"9-5\": a range must go upwards")));
  EXPECT_THAT(check(shardMap(R"([{"cell": "rz-a", "buckets": "0-10"}])")),
              ElementsAre(cause("FieldValueInvalid", "spec.assignments[0].buckets",
                                "Invalid value: \"0-10\": buckets are 0 to 9")));
  EXPECT_THAT(check(shardMap(R"([{"cell": "rz-a", "buckets": "0-4"},
                                 {"cell": "rz-a", "buckets": "5-9"}])")),
              ElementsAre(cause("FieldValueDuplicate", "spec.assignments[1].cell")));
}

TEST(ShardMapKindTest, EveryChangeIsVersionedWithWhoWhenWhyAndWhat) {
  const auto now = SystemTime(std::chrono::seconds(1'800'000'000));
  json::object first = shardMap(R"([{"cell": "rz-a", "buckets": "0-9"}])");
  shardMapKind().onSpecChange(nullptr, first, "vera", now);
  EXPECT_EQ(schemas::at(first, "status.version"), json::value(1));
  EXPECT_EQ(schemas::at(first, "status.history"),
            testutil::parseJson(R"j([{"version": 1, "time": "2027-01-15T08:00:00Z", "user": "vera",
                                      "reason": "(no reason given)", "change": "rz-a +0-9"}])j"));

  json::object second = shardMap(R"([{"cell": "rz-a", "buckets": "0-6"},
                                     {"cell": "rz-b", "buckets": "7-9"}])");
  second["spec"].as_object()["reason"] = "drain rz-a for maintenance";
  second["status"] = first["status"];
  shardMapKind().onSpecChange(&first, second, "sam", now + std::chrono::minutes(1));
  EXPECT_EQ(schemas::at(second, "status.version"), json::value(2));
  const json::value historyValue = schemas::at(second, "status.history");
  const auto& history = historyValue.as_array();
  ASSERT_EQ(history.size(), 2u);
  EXPECT_EQ(history[1], testutil::parseJson(R"({"version": 2, "time": "2027-01-15T08:01:00Z",
      "user": "sam", "reason": "drain rz-a for maintenance", "change": "rz-a -7-9; rz-b +7-9"})"));
}

TEST(ShardMapKindTest, HistoryKeepsTheLatestFifty) {
  json::object prev = shardMap(R"([{"cell": "rz-a", "buckets": "0-9"}])");
  shardMapKind().onSpecChange(nullptr, prev, "u", SystemTime());
  for (int i = 0; i < 60; ++i) {
    json::object next = prev;
    shardMapKind().onSpecChange(&prev, next, "u", SystemTime());
    prev = next;
  }
  EXPECT_EQ(schemas::at(prev, "status.version"), json::value(61));
  const json::value historyValue = schemas::at(prev, "status.history");
  const auto& history = historyValue.as_array();
  ASSERT_EQ(history.size(), 50u);
  EXPECT_EQ(history.front().as_object().at("version"), json::value(12));
  EXPECT_EQ(history.back().as_object().at("change"), json::value("no bucket moved"));
}

}  // namespace
}  // namespace tessera::apiserver
