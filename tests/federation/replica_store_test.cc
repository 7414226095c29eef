// The process runtime's pieces that need no process: its record of replicas (replicas.json),
// the spec hash, and log tails across a rotation.
#include "federation/runtime/replica_store.h"

#include <gtest/gtest.h>

#include <fstream>

#include "federation/runtime/host_process.h"
#include "tests/support/process.h"

namespace tessera::runtime {
namespace {

WorkloadSpec sampleSpec() {
  WorkloadSpec s;
  s.key = "retail/shop/r7/rz01";
  s.ns = "retail";
  s.application = "shop";
  s.revision = "r7";
  s.cell = "rz01";
  s.replicas = 3;
  s.command = {"/usr/bin/shop", "--serve"};
  s.args = {"--verbose"};
  s.env = {{"MODE", "fast"}, {"QUOTE", "a \"b\" \\c"}};
  s.ports = {PortSpec{"http", 8080}, PortSpec{"admin-api", 9090}};
  ProbeSpec probe;
  probe.path = "/ready";
  probe.portName = "http";
  probe.periodSeconds = 2;
  probe.timeoutSeconds = 3;
  s.readiness = probe;
  s.cpuMillis = 250;
  s.memoryBytes = 128LL * 1024 * 1024;
  return s;
}

TEST(ReplicaStoreTest, SpecHashIgnoresOnlyTheReplicaCount) {
  const WorkloadSpec base = sampleSpec();
  WorkloadSpec scaled = base;
  scaled.replicas = 7;
  EXPECT_EQ(specHash(base), specHash(scaled));

  std::vector<WorkloadSpec> changed(6, base);
  changed[0].args.push_back("--more");
  changed[1].env[0].second = "slow";
  changed[2].ports[1].port = 9091;
  changed[3].readiness->path = "/healthz";
  changed[4].cpuMillis = 500;
  changed[5].revision = "r8";
  for (const auto& c : changed) EXPECT_NE(specHash(base), specHash(c));
  WorkloadSpec noProbe = base;
  noProbe.readiness.reset();
  EXPECT_NE(specHash(base), specHash(noProbe));
}

TEST(ReplicaStoreTest, StateRoundTrips) {
  StoredState st;
  st.bootId = "0f4a1c52-3b7d-4d6e-9a8b-112233445566";
  const WorkloadSpec spec = sampleSpec();
  const std::string hash = specHash(spec);
  st.specs.emplace(hash, spec);
  StoredReplica r;
  r.name = "shop-r7-rz01-0";
  r.workloadKey = spec.key;
  r.specHash = hash;
  r.ordinal = 0;
  r.pid = 4242;
  r.startTicks = 123456789012ULL;
  r.ports = {{"http", 20001}, {"admin-api", 20002}};
  r.restarts = 4;
  r.startedAt = parseRfc3339("2026-11-27T07:34:35.123456Z");
  st.replicas.push_back(r);
  StoredReplica r2 = r;
  r2.name = "shop-r7-rz01-1";
  r2.ordinal = 1;
  r2.startedAt.reset();
  st.replicas.push_back(r2);

  const std::string text = encodeStoredState(st);
  auto back = decodeStoredState(text);
  ASSERT_TRUE(back.isOk()) << back.status().toString();
  EXPECT_EQ(encodeStoredState(*back), text);
  EXPECT_EQ(back->bootId, st.bootId);
  ASSERT_EQ(back->replicas.size(), 2u);
  const auto& b = back->replicas[0];
  EXPECT_EQ(b.name, r.name);
  EXPECT_EQ(b.pid, 4242);
  EXPECT_EQ(b.startTicks, 123456789012ULL);
  EXPECT_EQ(b.ports, r.ports);
  EXPECT_EQ(b.restarts, 4);
  EXPECT_EQ(b.startedAt, r.startedAt);
  EXPECT_FALSE(back->replicas[1].startedAt.has_value());
  const WorkloadSpec& s = back->specs.at(hash);
  EXPECT_EQ(specHash(s), hash);
  EXPECT_EQ(s.replicas, 3);
  EXPECT_EQ(s.env[1].second, "a \"b\" \\c");
  ASSERT_TRUE(s.readiness.has_value());
  EXPECT_EQ(s.readiness->timeoutSeconds, 3);
}

TEST(ReplicaStoreTest, RefusesMalformedState) {
  for (const char* text : {"", "{", "[]", R"({"version":2,"bootId":"","specs":{},"replicas":[]})",
                           R"({"version":1,"bootId":"","specs":{},"replicas":[{"name":1}]})"}) {
    auto r = decodeStoredState(text);
    EXPECT_FALSE(r.isOk()) << text;
  }
  EXPECT_TRUE(decodeStoredState(R"({"version":1,"bootId":"x","specs":{},"replicas":[]})").isOk());
}

TEST(ReplicaStoreTest, WritesAtomically) {
  testing::TempDir dir("tessera-store");
  const std::string path = dir.path() + "/replicas.json";
  ASSERT_TRUE(writeFileAtomically(path, "one").isOk());
  ASSERT_TRUE(writeFileAtomically(path, "two").isOk());
  EXPECT_EQ(testing::readFile(path), "two");
  EXPECT_FALSE(std::ifstream(path + ".tmp").good());
  EXPECT_FALSE(writeFileAtomically(dir.path() + "/missing/replicas.json", "x").isOk());
}

TEST(LogTailTest, ReadsTheLastLinesAcrossARotation) {
  testing::TempDir dir("tessera-logs");
  const std::string path = dir.path() + "/r.log";
  std::string older, newer;
  for (int i = 0; i < 10; ++i) older += "line " + std::to_string(i) + "\n";
  for (int i = 10; i < 13; ++i) newer += "line " + std::to_string(i) + "\n";
  newer += "partial";  // no newline yet
  testing::writeFile(path, older);
  EXPECT_FALSE(rotateLogIfLarger(path, 1000));
  EXPECT_TRUE(rotateLogIfLarger(path, 10));
  EXPECT_EQ(testing::readFile(path), "");
  EXPECT_EQ(testing::readFile(path + ".1"), older);
  testing::writeFile(path, newer);

  EXPECT_EQ(tailLog(path, 2), (std::vector<std::string>{"line 12", "partial"}));
  EXPECT_EQ(tailLog(path, 6), (std::vector<std::string>{"line 8", "line 9", "line 10", "line 11",
                                                        "line 12", "partial"}));
  EXPECT_EQ(tailLog(path, 1000).size(), 14u);
  EXPECT_TRUE(tailLog(path, 0).empty());
  EXPECT_TRUE(tailLog(dir.path() + "/none.log", 5).empty());
}

TEST(LogTailTest, ReadsLongFilesFromTheEnd) {
  testing::TempDir dir("tessera-logs");
  const std::string path = dir.path() + "/big.log";
  std::string content;
  for (int i = 0; i < 50000; ++i)
    content += "entry " + std::to_string(i) + " " + std::string(40, 'x') + "\n";
  testing::writeFile(path, content);
  auto lines = tailLog(path, 3);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0].rfind("entry 49997 ", 0), 0u);
  EXPECT_EQ(lines[2].rfind("entry 49999 ", 0), 0u);
  EXPECT_EQ(tailLog(path, 20000).front().rfind("entry 30000 ", 0), 0u);
}

}  // namespace
}  // namespace tessera::runtime
