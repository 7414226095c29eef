// Helpers shared by the API integration tests (objects as JSON, paths, waiting for the
// server's own writes).
#pragma once

#include <boost/json.hpp>
#include <chrono>
#include <string>

#include "tests/support/http_client.h"
#include "tests/support/wait.h"

namespace tessera::testing {

inline constexpr char kApi[] = "/apis/tessera.io/v1";

inline std::string cellJson(const std::string& name, const std::string& region = "region-1",
                            const std::string& labels = "{}") {
  return R"({"apiVersion":"tessera.io/v1","kind":"Cell","metadata":{"name":")" + name +
         R"(","labels":)" + labels + R"(},"spec":{"type":"RZone","region":")" + region + R"("}})";
}

inline std::string clusterJson(const std::string& name, const std::string& zone = "dc-a") {
  return R"({"apiVersion":"tessera.io/v1","kind":"Cluster","metadata":{"name":")" + name +
         R"("},"spec":{"region":"region-1","zone":")" + zone +
         R"(","capacity":{"cpu":"16","memory":"64Gi","pods":100}}})";
}

inline std::string appJson(const std::string& ns, const std::string& name, int perCell = 2) {
  return R"({"apiVersion":"tessera.io/v1","kind":"Application","metadata":{"name":")" + name +
         R"(","namespace":")" + ns +
         R"("},"spec":{"template":{"command":["demo"],"ports":[{"name":"http","port":8080}]},)"
         R"("placement":{"cells":{"type":"RZone"},"replicasPerCell":)" +
         std::to_string(perCell) + "}}}";
}

inline std::string str(const boost::json::value& v, std::initializer_list<const char*> path) {
  const boost::json::value* cur = &v;
  for (const char* p : path) {
    if (!cur->is_object() || !cur->as_object().contains(p)) return "";
    cur = &cur->as_object().at(p);
  }
  if (cur->is_string()) return std::string(cur->as_string());
  return boost::json::serialize(*cur);
}

/// Waits (up to 20 s) until the server's scheduler has written the phase of cell `name`: its
/// one write to every new cell, which bumps the resourceVersion. A test that updates a new cell
/// by version waits for it first. `cell` holds the cell as last read.
inline bool waitForCellPhase(HttpClient& client, const std::string& name,
                             boost::json::value& cell) {
  return waitFor(
      [&] {
        cell = client.get(std::string(kApi) + "/cells/" + name).json();
        return !str(cell, {"status", "phase"}).empty();
      },
      std::chrono::seconds(20));
}

}  // namespace tessera::testing
