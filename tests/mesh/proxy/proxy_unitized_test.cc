// Unitized routing with three real proxies, each its own datacenter with one cell and one
// backend: requests land in the cell that owns the user's bucket; a request reaching the wrong
// datacenter is forwarded exactly once; a loop config ends in 502, not in a loop.
#include <gtest/gtest.h>

#include "tests/mesh/proxy/proxy_test_util.h"
#include "tests/support/wait.h"

namespace tessera::testing {
namespace {

struct Dc {
  std::string name;  // dc-a
  std::string cell;  // rz-a
  std::unique_ptr<TestBackend> backend;
  uint16_t port = 0;  // the proxy's listener
  std::unique_ptr<ProxyProcess> proxy;
};

// The shard map every proxy gets: rz-a 0-39 (dc-a), rz-b 40-79 (dc-b), rz-c 80-99 (dc-c).
// `cellDcOverride` lets a test lie about where a cell lives (the loop test).
std::string proxyConfig(const std::vector<Dc*>& dcs, const Dc& self,
                        const std::map<std::string, std::string>& cellDcOverride = {}) {
  std::string y = "version: \"1\"\nlisteners:\n- {name: edge, address: 127.0.0.1, port: " +
                  std::to_string(self.port) + ", routeTable: edge}\n";
  y += R"(routeTables:
- name: edge
  routes:
  - name: unitized
    match: {prefix: /}
    unitized:
      userId: [{header: x-user-id}, {cookie: uid}, {query: uid}]
      shardMap: users
      cells:
        )" +
       self.cell + ": {cluster: cell-" + self.cell + "}\n      gateways:\n";
  for (const Dc* d : dcs) {
    if (d != &self) y += "        " + d->name + ": gw-" + d->name + "\n";
  }
  y += "clusters:\n";
  y += "- name: cell-" + self.cell +
       "\n  endpoints: [{address: 127.0.0.1, port: " + std::to_string(self.backend->port()) +
       "}]\n";
  for (const Dc* d : dcs) {
    if (d == &self) continue;
    y += "- name: gw-" + d->name +
         "\n  endpoints: [{address: 127.0.0.1, port: " + std::to_string(d->port) + "}]\n";
  }
  auto dcOf = [&](const std::string& cell, const std::string& dflt) {
    auto it = cellDcOverride.find(cell);
    return it == cellDcOverride.end() ? dflt : it->second;
  };
  y += R"(shardMaps:
- name: users
  version: 7
  bucketCount: 100
  assignments: [{cell: rz-a, buckets: "0-39"}, {cell: rz-b, buckets: "40-79"}, {cell: rz-c, buckets: "80-99"}]
  cells: {rz-a: {datacenter: )" +
       dcOf("rz-a", "dc-a") + "}, rz-b: {datacenter: " + dcOf("rz-b", "dc-b") +
       "}, rz-c: {datacenter: " + dcOf("rz-c", "dc-c") + "}}\n";
  return y;
}

class ProxyUnitizedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (auto [dc, cell] : {std::pair{"dc-a", "rz-a"}, {"dc-b", "rz-b"}, {"dc-c", "rz-c"}}) {
      auto d = std::make_unique<Dc>();
      d->name = dc;
      d->cell = cell;
      d->backend = std::make_unique<TestBackend>(cell);
      d->port = freePort();
      dcs_.push_back(std::move(d));
    }
  }

  void startAll(const std::map<std::string, std::map<std::string, std::string>>& overrides = {}) {
    std::vector<Dc*> all;
    for (auto& d : dcs_) all.push_back(d.get());
    for (auto& d : dcs_) {
      auto it = overrides.find(d->name);
      d->proxy = ProxyProcess::start(
          proxyConfig(all, *d,
                      it == overrides.end() ? std::map<std::string, std::string>{} : it->second),
          {"--datacenter", d->name});
      ASSERT_TRUE(d->proxy);
    }
  }

  double forwards(Dc& d) {
    return d.proxy
        ->stat("tessera_proxy_unitized_forwards_total",
               {{"route_table", "edge"}, {"route", "unitized"}})
        .value_or(-1);
  }

  std::vector<std::unique_ptr<Dc>> dcs_;
};

TEST_F(ProxyUnitizedTest, RoutesPerBucketAndForwardsExactlyOnce) {
  startAll();
  Dc& a = *dcs_[0];
  Dc& b = *dcs_[1];
  Dc& c = *dcs_[2];
  // Every user lands in its owning cell, whichever datacenter it enters.
  struct Case {
    std::string user;
    std::string cell;
    std::string bucket;
  };
  const std::vector<Case> cases = {{"user-1000", "rz-a", "0"},  {"user-1039", "rz-a", "39"},
                                   {"user-1040", "rz-b", "40"}, {"user-1079", "rz-b", "79"},
                                   {"user-1080", "rz-c", "80"}, {"user-1099", "rz-c", "99"}};
  for (auto& entry : dcs_) {
    StrictClient client("127.0.0.1", entry->port);
    for (const auto& k : cases) {
      auto r = client.get("/account", {{"x-user-id", k.user}});
      ASSERT_EQ(r.status, 200) << entry->name << " " << k.user << " " << r.error << r.body;
      EXPECT_EQ(r.body, k.cell) << "entered at " << entry->name << " user " << k.user;
      EXPECT_EQ(r.header("x-tessera-cell"), k.cell);
      EXPECT_EQ(r.header("x-tessera-bucket"), k.bucket);
    }
  }
  // 3 datacenters × 6 users: each backend got exactly its 2 users × 3 entries.
  for (auto& d : dcs_) EXPECT_EQ(d->backend->requests(), 6u) << d->name;
  // Each proxy forwarded the 4 users it does not own, once each; none forwarded further.
  for (auto& d : dcs_) EXPECT_EQ(forwards(*d), 4.0) << d->name;
  // The forwarded request carried the hop header naming the first datacenter.
  StrictClient viaB("127.0.0.1", b.port);
  ASSERT_EQ(viaB.get("/x", {{"x-user-id", "user-1005"}}).body, "rz-a");
  auto seen = a.backend->lastRequest();
  ASSERT_TRUE(seen);
  EXPECT_EQ(seen->headers["x-tessera-hop"], "dc-b");
  // Cookie and query parameter sources; no user id → the local cell.
  StrictClient viaC("127.0.0.1", c.port);
  EXPECT_EQ(viaC.get("/x", {{"Cookie", "theme=dark; uid=u-45"}}).body, "rz-b");
  EXPECT_EQ(viaC.get("/x?lang=en&uid=u-12").body, "rz-a");
  auto r = viaC.get("/x");
  EXPECT_EQ(r.body, "rz-c");
  EXPECT_EQ(r.header("x-tessera-bucket"), "none");
}

TEST_F(ProxyUnitizedTest, LoopConfigEndsIn502) {
  // dc-b's proxy believes rz-a lives in dc-c and dc-c's proxy believes it lives in dc-b.
  startAll({{"dc-b", {{"rz-a", "dc-c"}}}, {"dc-c", {{"rz-a", "dc-b"}}}});
  Dc& b = *dcs_[1];
  Dc& c = *dcs_[2];
  StrictClient client("127.0.0.1", b.port);
  auto r = client.get("/x", {{"x-user-id", "user-1001"}});
  EXPECT_EQ(r.status, 502) << r.body;
  EXPECT_NE(r.header("x-tessera-reason").find("already forwarded"), std::string::npos)
      << r.header("x-tessera-reason");
  EXPECT_EQ(forwards(b), 1.0);
  EXPECT_EQ(forwards(c), 0.0);
  EXPECT_EQ(c.proxy->stat("tessera_proxy_unitized_hop_refused_total",
                          {{"route_table", "edge"}, {"route", "unitized"}}),
            1.0);
  for (auto& d : dcs_) EXPECT_EQ(d->backend->requests(), 0u);
}

}  // namespace
}  // namespace tessera::testing
