// ShardMap helpers shared by the mesh control-plane, mesh end-to-end and ShardMap API tests.
#pragma once

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdint>
#include <string>

#include "tests/apiserver/api_test_util.h"
#include "tests/support/http_client.h"
#include "tests/support/wait.h"

namespace tessera::testing {

/// Writes the ShardMap "default" the mesh tests use, with 100 buckets: rz-a owns
/// 0..boundary-1, rz-b boundary..69 and rz-c 70..99. Creates it or replaces its spec, and
/// returns the new status.version (-1 after a failure, which it reports). The control plane
/// writes status.rollout whenever proxies acknowledge, and each of those writes bumps the
/// resourceVersion: a 409 means one came between this read and this write, so it reads again
/// and retries, at most 10 times.
inline std::int64_t putShardMap(HttpClient client, int boundary) {
  namespace json = boost::json;
  const std::string path = std::string(kApi) + "/shardmaps/default";
  json::object sm{
      {"apiVersion", "tessera.io/v1"},
      {"kind", "ShardMap"},
      {"metadata", json::object{{"name", "default"}}},
      {"spec",
       json::object{
           {"bucketCount", 100},
           {"assignments",
            json::array{
                json::object{{"cell", "rz-a"}, {"buckets", "0-" + std::to_string(boundary - 1)}},
                json::object{{"cell", "rz-b"}, {"buckets", std::to_string(boundary) + "-69"}},
                json::object{{"cell", "rz-c"}, {"buckets", "70-99"}}}}}}};
  auto cur = client.get(path);
  for (int attempt = 0; attempt < 10; ++attempt) {
    HttpResult r;
    if (cur.status == 200) {
      sm["metadata"].as_object()["resourceVersion"] =
          str(cur.json(), {"metadata", "resourceVersion"});
      r = client.put(path, json::serialize(sm));
    } else {
      r = client.post(std::string(kApi) + "/shardmaps", json::serialize(sm));
    }
    if (r.status == 200 || r.status == 201) return std::stoll(str(r.json(), {"status", "version"}));
    EXPECT_EQ(r.status, 409) << r.body;
    cur = client.get(path);
  }
  ADD_FAILURE() << "could not write the ShardMap: 10 conflicts in a row";
  return -1;
}

/// Waits (up to 20 s) until the rollout of ShardMap `name` at `version` is done: every reachable
/// proxy has acknowledged it. `sm` holds the ShardMap as last read, for assertions and for the
/// failure message.
inline bool waitForRollout(HttpClient client, std::int64_t version, boost::json::value& sm,
                           const std::string& name = "default") {
  return waitFor(
      [&] {
        sm = client.get(std::string(kApi) + "/shardmaps/" + name).json();
        return str(sm, {"status", "rollout", "version"}) == std::to_string(version) &&
               str(sm, {"status", "rollout", "done"}) == "true";
      },
      std::chrono::seconds(20));
}

}  // namespace tessera::testing
