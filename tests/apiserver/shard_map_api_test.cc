// ShardMaps through a real tessera-server: only existing, Active RZone cells may own buckets,
// refusals name the cells and buckets at fault, and every change is recorded with its author.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "tests/apiserver/api_test_util.h"
#include "tests/mesh/control/shard_map_util.h"
#include "tests/support/server_instance.h"

namespace tessera::testing {
namespace {

namespace json = boost::json;

class ShardMapApiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = ServerInstance::start(sharedPostgres()).release();
    auto c = server_->client();
    for (const char* name : {"rz-a", "rz-b"}) {
      ASSERT_EQ(c.post(std::string(kApi) + "/cells", cellJson(name)).status, 201);
    }
    const std::string gz =
        R"({"apiVersion":"tessera.io/v1","kind":"Cell","metadata":{"name":"gz"},)"
        R"("spec":{"type":"GZone","region":"region-1"}})";
    ASSERT_EQ(c.post(std::string(kApi) + "/cells", gz).status, 201);
    ASSERT_EQ(c.post(std::string(kApi) + "/cells", cellJson("rz-down")).status, 201);
    // After the scheduler's own write of the phase (Active), which would make this one stale.
    json::value down;
    ASSERT_TRUE(waitForCellPhase(c, "rz-down", down)) << json::serialize(down);
    down.as_object()["status"] = json::object{{"phase", "Down"}};
    ASSERT_EQ(c.put(std::string(kApi) + "/cells/rz-down/status", json::serialize(down)).status,
              200);
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  static std::string shardMap(const std::string& name, const std::string& assignments,
                              const std::string& reason = "") {
    return R"({"apiVersion":"tessera.io/v1","kind":"ShardMap","metadata":{"name":")" + name +
           R"("},"spec":{"bucketCount":10,"assignments":)" + assignments +
           (reason.empty() ? "" : R"(,"reason":")" + reason + "\"") + "}}";
  }
  static std::string path(const std::string& name = "") {
    return std::string(kApi) + "/shardmaps" + (name.empty() ? "" : "/" + name);
  }
  static ServerInstance* server_;
};
ServerInstance* ShardMapApiTest::server_ = nullptr;

TEST_F(ShardMapApiTest, OnlyActiveRZoneCellsThatExistOwnBuckets) {
  auto c = server_->client();
  auto r = c.post(path(), shardMap("bad", R"([{"cell":"rz-a","buckets":"0-3"},
      {"cell":"gz","buckets":"4-5"},{"cell":"nope","buckets":"6-7"},{"cell":"rz-down","buckets":"8-9"}])"));
  ASSERT_EQ(r.status, 422) << r.body;
  const std::string msg = str(r.json(), {"message"});
  EXPECT_NE(msg.find("spec.assignments[1].cell: Invalid value: \"gz\": only RZone cells own "
                     "buckets (it is GZone)"),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("spec.assignments[2].cell: Not found: \"nope\": no such cell"),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("\"rz-down\": the cell is Down; only Active cells own buckets"),
            std::string::npos)
      << msg;
  EXPECT_EQ(c.get(path("bad")).status, 404);  // nothing was written
}

TEST_F(ShardMapApiTest, UnownedBucketsAreRefusedByName) {
  auto r = server_->client().post(path(), shardMap("gap", R"([{"cell":"rz-a","buckets":"0-3"},
      {"cell":"rz-b","buckets":"5-8"}])"));
  ASSERT_EQ(r.status, 422) << r.body;
  EXPECT_NE(str(r.json(), {"message"}).find("buckets 4,9 are owned by no cell"), std::string::npos)
      << r.body;
}

TEST_F(ShardMapApiTest, ChangesAreVersionedWithTheirAuthorAndReason) {
  auto c = server_->client();
  auto created =
      c.post(path(), shardMap("default", R"([{"cell":"rz-a","buckets":"0-9"}])", "initial split"));
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(str(created.json(), {"status", "version"}), "1");

  // The mesh control plane writes status.rollout once per version (no proxies are connected),
  // which bumps the resourceVersion: update from the map as it is after that write.
  json::value moved;
  ASSERT_TRUE(waitForRollout(server_->client(), 1, moved)) << json::serialize(moved);
  moved.as_object()["spec"] = json::parse(
      R"({"bucketCount":10,"assignments":[{"cell":"rz-a","buckets":"0-4"},{"cell":"rz-b","buckets":"5-9"}],
          "reason":"move half of the users to rz-b"})");
  auto updated = c.put(path("default"), json::serialize(moved));
  ASSERT_EQ(updated.status, 200) << updated.body;
  auto o = updated.json();
  EXPECT_EQ(str(o, {"status", "version"}), "2");
  const auto& history = o.at("status").at("history").as_array();
  ASSERT_EQ(history.size(), 2u);
  EXPECT_EQ(str(history[1], {"user"}), "admin");
  EXPECT_EQ(str(history[1], {"reason"}), "move half of the users to rz-b");
  EXPECT_EQ(str(history[1], {"change"}), "rz-a -5-9; rz-b +5-9");
  EXPECT_FALSE(str(history[1], {"time"}).empty());

  // A write that changes nothing is not a new version.
  json::value current;
  ASSERT_TRUE(waitForRollout(server_->client(), 2, current)) << json::serialize(current);
  auto again = c.put(path("default"), json::serialize(current));
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(str(again.json(), {"status", "version"}), "2");

  // An invalid change leaves the current map alone.
  json::value broken = updated.json();
  broken.as_object()["spec"].as_object()["assignments"] =
      json::parse(R"([{"cell":"rz-a","buckets":"0-9"},{"cell":"rz-b","buckets":"5-9"}])");
  auto refused = c.put(path("default"), json::serialize(broken));
  EXPECT_EQ(refused.status, 422) << refused.body;
  EXPECT_NE(str(refused.json(), {"message"})
                .find("buckets 5-9 are owned by more than one cell "
                      "(rz-a, rz-b)"),
            std::string::npos)
      << refused.body;
  EXPECT_EQ(str(c.get(path("default")).json(), {"status", "version"}), "2");
}

TEST_F(ShardMapApiTest, ACellLivesInOneDatacenter) {
  auto c = server_->client();
  ASSERT_EQ(c.post(std::string(kApi) + "/clusters", clusterJson("east-1", "dc-east")).status, 201);
  ASSERT_EQ(c.post(std::string(kApi) + "/clusters", clusterJson("east-2", "dc-east")).status, 201);
  ASSERT_EQ(c.post(std::string(kApi) + "/clusters", clusterJson("west-1", "dc-west")).status, 201);
  auto cell = [](const std::string& clusters) {
    return R"({"apiVersion":"tessera.io/v1","kind":"Cell","metadata":{"name":"rz-east"},)"
           R"("spec":{"type":"RZone","region":"region-1","clusters":)" +
           clusters + "}}";
  };
  auto r = c.post(std::string(kApi) + "/cells", cell(R"(["east-1","west-1"])"));
  ASSERT_EQ(r.status, 422) << r.body;
  EXPECT_NE(str(r.json(), {"message"})
                .find("spec.clusters[1]: Invalid value: \"west-1\": it is in datacenter dc-west "
                      "and east-1 in dc-east; a cell lives in one datacenter"),
            std::string::npos)
      << r.body;
  // Clusters of one datacenter, and clusters not registered yet, are fine.
  EXPECT_EQ(c.post(std::string(kApi) + "/cells", cell(R"(["east-1","east-2","east-3"])")).status,
            201);
}

}  // namespace
}  // namespace tessera::testing
