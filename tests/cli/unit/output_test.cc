#include "cli/output.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "cli/resources.h"

namespace tessera::cli {
namespace {

namespace json = boost::json;

TEST(OutputTest, TablesAlignLikeKubectl) {
  EXPECT_EQ(renderTable({"NAME", "TYPE"}, {{"rz-a", "RZone"}, {"global-1", "GZone"}}),
            "NAME       TYPE\n"
            "rz-a       RZone\n"
            "global-1   GZone\n");
}

TEST(OutputTest, ServerTablesKeepPriorityZeroColumnsUnlessWide) {
  json::value t = json::parse(R"({"kind":"Table","apiVersion":"meta.k8s.io/v1",
    "columnDefinitions":[{"name":"Name","priority":0},{"name":"Region","priority":0},
                         {"name":"Clusters","priority":1},{"name":"Age","priority":0}],
    "rows":[{"cells":["rz-a","region-1",2,"5m"],
             "object":{"metadata":{"name":"rz-a","namespace":"pay"}}},
            {"cells":["rz-b",null,0,"1h"],"object":{"metadata":{"name":"rz-b","namespace":"x"}}}]})");
  std::vector<std::string> headers;
  std::vector<std::vector<std::string>> rows;
  ASSERT_TRUE(tableRows(t, {}, headers, rows).isOk());
  EXPECT_EQ(headers, (std::vector<std::string>{"NAME", "REGION", "AGE"}));
  EXPECT_EQ(rows[1], (std::vector<std::string>{"rz-b", "<none>", "1h"}));
  rows.clear();
  TableOptions wide;
  wide.wide = true;
  wide.withNamespace = true;
  ASSERT_TRUE(tableRows(t, wide, headers, rows).isOk());
  EXPECT_EQ(headers, (std::vector<std::string>{"NAMESPACE", "NAME", "REGION", "CLUSTERS", "AGE"}));
  EXPECT_EQ(rows[0], (std::vector<std::string>{"pay", "rz-a", "region-1", "2", "5m"}));
  EXPECT_FALSE(tableRows(json::parse(R"({"kind":"CellList"})"), {}, headers, rows).isOk());
}

TEST(OutputTest, YamlQuotesStringsThatWouldReadBackAsOtherTypes) {
  json::value v = json::parse(
      R"({"metadata":{"name":"a","resourceVersion":"2064520","labels":{"on":"yes","n":"1.5"}},
          "spec":{"count":3,"ratio":0.5,"flag":true,"none":null,"empty":"","list":["x","007"],
                  "text":"two\nlines"}})");
  const std::string y = toYaml(v);
  EXPECT_NE(y.find("resourceVersion: \"2064520\""), std::string::npos) << y;
  EXPECT_NE(y.find("\"on\": \"yes\""), std::string::npos) << y;
  EXPECT_NE(y.find("count: 3"), std::string::npos) << y;
  EXPECT_NE(y.find("- \"007\""), std::string::npos) << y;
  // And it reads back to the same JSON.
  auto back = parseDocuments(y);
  ASSERT_TRUE(back.isOk()) << back.status().toString();
  ASSERT_EQ(back->size(), 1u);
  EXPECT_EQ((*back)[0], v) << json::serialize((*back)[0]);
}

TEST(OutputTest, DocumentsFromYamlStreamsAndJson) {
  auto docs = parseDocuments(
      "---\nkind: Cell\nmetadata: {name: a}\n---\n# nothing\n---\n"
      "kind: Cell\nmetadata:\n  name: b\nspec:\n  replicas: 2\n");
  ASSERT_TRUE(docs.isOk());
  ASSERT_EQ(docs->size(), 2u);
  EXPECT_EQ(text((*docs)[1], "spec.replicas"), "2");
  EXPECT_TRUE(at((*docs)[1], "spec.replicas")->is_int64());
  auto js = parseDocuments(R"( {"kind":"Cell"} {"kind":"Cluster"} )");
  ASSERT_TRUE(js.isOk());
  EXPECT_EQ(js->size(), 2u);
  auto bad = parseDocuments("kind: [unclosed\n");
  ASSERT_FALSE(bad.isOk());
  EXPECT_NE(bad.status().message().find("line"), std::string::npos);
  EXPECT_FALSE(parseDocuments("{\"kind\": ").isOk());
}

TEST(OutputTest, ServerErrorsShowTheMessageAndEachCause) {
  EXPECT_EQ(describeHttpError(422, R"({"kind":"Status","apiVersion":"v1","status":"Failure",
      "code":422,"reason":"Invalid","message":"Cluster \"c1\" is invalid: spec.region: Required value",
      "details":{"causes":[{"reason":"FieldValueRequired","message":"Required value",
      "field":"spec.region"}]}})"),
            "Error from server (Invalid): Cluster \"c1\" is invalid: spec.region: Required value\n"
            "  - spec.region: Required value\n");
  EXPECT_EQ(describeHttpError(502, "bad gateway\n"), "Error from server (HTTP 502): bad gateway\n");
}

TEST(OutputTest, KindsResolveByEveryName) {
  auto c = ResourceCatalog::fromDiscovery(json::parse(R"({"resources":[
      {"name":"shardmaps","singularName":"shardmap","namespaced":false,"kind":"ShardMap",
       "verbs":["get","list"],"shortNames":["sm"]},
      {"name":"replicas","singularName":"replica","namespaced":true,"kind":"Replica",
       "verbs":["get"]},
      {"name":"replicas/log","singularName":"","namespaced":true,"kind":"Replica","verbs":["get"]}]})"));
  ASSERT_TRUE(c.isOk());
  for (const char* n : {"sm", "SM", "shardmap", "shardmaps", "ShardMap"}) {
    auto r = c->resolve(n);
    ASSERT_TRUE(r.isOk()) << n;
    EXPECT_EQ(r->plural, "shardmaps");
  }
  auto rep = c->resolve("replica");
  ASSERT_TRUE(rep.isOk());
  EXPECT_TRUE(rep->hasLog);
  EXPECT_EQ(rep->itemPath("pay", "demo-r1.cluster-a"),
            "/apis/tessera.io/v1/namespaces/pay/replicas/demo-r1.cluster-a");
  EXPECT_EQ(rep->collectionPath(""), "/apis/tessera.io/v1/replicas");
  auto none = c->resolve("pods");
  ASSERT_FALSE(none.isOk());
  EXPECT_EQ(none.status().code(), StatusCode::kNotFound);
  EXPECT_NE(none.status().message().find("shardmaps, replicas"), std::string::npos);
}

}  // namespace
}  // namespace tessera::cli
