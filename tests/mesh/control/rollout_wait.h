// Waiting for a ShardMap rollout: shared by the mesh control-plane and end-to-end tests.
#pragma once

#include <boost/json.hpp>
#include <chrono>
#include <cstdint>
#include <string>

#include "tests/apiserver/api_test_util.h"
#include "tests/support/http_client.h"
#include "tests/support/wait.h"

namespace tessera::testing {

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
