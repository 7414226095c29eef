// Server-side printing: makeTable's columns, cells, ages, list metadata and includeObject.
#include "apiserver/table.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <string>
#include <vector>

#include "apiserver/kinds/kinds.h"
#include "common/time_util.h"
#include "tests/apiserver/unit/test_json.h"

namespace tessera::apiserver {
namespace {

namespace json = boost::json;
using ::testing::ElementsAre;
using testutil::parseJson;
using testutil::parseObject;

std::string createdAgo(std::chrono::seconds age) {
  return formatRfc3339(std::chrono::system_clock::now() - age);
}

json::object clusterA() {
  json::object o = parseObject(R"({
    "apiVersion": "tessera.io/v1", "kind": "Cluster",
    "metadata": {"name": "cluster-a", "resourceVersion": "17", "labels": {"tessera.io/zone": "dc-a"}},
    "spec": {"region": "region-1", "zone": "dc-a", "runtime": "process"},
    "status": {"conditions": [{"type": "Ready", "status": "True"}],
               "lastHeartbeatTime": "2026-11-27T07:34:35Z"}})");
  o["metadata"].as_object()["creationTimestamp"] = createdAgo(std::chrono::hours(3));
  return o;
}

std::vector<std::string> columnNames(const json::object& table) {
  std::vector<std::string> names;
  for (const auto& c : table.at("columnDefinitions").as_array()) {
    names.emplace_back(c.at("name").as_string());
  }
  return names;
}

const json::array& cellsOfRow(const json::object& table, std::size_t row) {
  return table.at("rows").as_array().at(row).at("cells").as_array();
}

TEST(MakeTableTest, IsAMetaV1Table) {
  auto t = makeTable(clusterKind(), {}, IncludeObject::kNone, "", "");
  EXPECT_EQ(t.at("kind"), json::value("Table"));
  EXPECT_EQ(t.at("apiVersion"), json::value("meta.k8s.io/v1"));
  EXPECT_TRUE(t.at("rows").as_array().empty());
}

TEST(MakeTableTest, ColumnsAreNameThenKindColumnsThenAge) {
  auto t = makeTable(clusterKind(), {}, IncludeObject::kNone, "", "");
  EXPECT_THAT(columnNames(t),
              ElementsAre("Name", "Region", "Zone", "Runtime", "Ready", "Heartbeat", "Age"));
}

TEST(MakeTableTest, ColumnDefinitionsCarryTypeFormatAndPriority) {
  auto t = makeTable(clusterKind(), {}, IncludeObject::kNone, "", "");
  const auto& cols = t.at("columnDefinitions").as_array();
  EXPECT_EQ(cols.at(0), parseJson(R"({"name": "Name", "type": "string", "format": "name",
                                      "description": "Name of the object", "priority": 0})"));
  EXPECT_EQ(cols.at(5), parseJson(R"({"name": "Heartbeat", "type": "string", "format": "",
                                      "description": "Last heartbeat", "priority": 1})"));
  EXPECT_EQ(cols.at(6).at("name"), json::value("Age"));
  EXPECT_EQ(cols.at(6).at("priority"), json::value(0));
}

TEST(MakeTableTest, RowCellsFollowTheColumns) {
  auto t = makeTable(clusterKind(), {clusterA()}, IncludeObject::kNone, "", "");
  EXPECT_THAT(cellsOfRow(t, 0),
              ElementsAre(json::value("cluster-a"), json::value("region-1"), json::value("dc-a"),
                          json::value("process"), json::value("True"),
                          json::value("2026-11-27T07:34:35Z"), json::value("3h")));
}

TEST(MakeTableTest, MissingValuesPrintAsNone) {
  json::object o = parseObject(R"({"metadata": {"name": "cluster-b"},
                                   "spec": {"region": "region-1", "zone": "", "runtime": null}})");
  auto t = makeTable(clusterKind(), {o}, IncludeObject::kNone, "", "");
  const auto& cells = cellsOfRow(t, 0);
  EXPECT_EQ(cells.at(2), json::value("<none>"));   // empty string
  EXPECT_EQ(cells.at(3), json::value("<none>"));   // null
  EXPECT_EQ(cells.at(4), json::value("Unknown"));  // no Ready condition
  EXPECT_EQ(cells.at(5), json::value("<none>"));   // no status at all
}

TEST(MakeTableTest, NumbersStayNumbers) {
  json::object app = parseObject(R"({"metadata": {"name": "demo", "namespace": "payments"},
      "spec": {"placement": {"cells": {"names": ["rz-a", "rz-b"]}, "replicasPerCell": 2}},
      "status": {"replicas": 4, "readyReplicas": 3}})");
  auto t = makeTable(applicationKind(), {app}, IncludeObject::kNone, "", "");
  EXPECT_THAT(cellsOfRow(t, 0),
              ElementsAre(json::value("demo"), json::value("rz-a,rz-b"), json::value(2),
                          json::value("3/4"), json::value("<unknown>")));
}

TEST(MakeTableTest, AgeIsUnknownWithoutAValidCreationTimestamp) {
  json::object noTimestamp = parseObject(R"({"metadata": {"name": "a"}})");
  json::object badTimestamp =
      parseObject(R"({"metadata": {"name": "b", "creationTimestamp": "yesterday"}})");
  auto t = makeTable(cellKind(), {noTimestamp, badTimestamp}, IncludeObject::kNone, "", "");
  EXPECT_EQ(cellsOfRow(t, 0).back(), json::value("<unknown>"));
  EXPECT_EQ(cellsOfRow(t, 1).back(), json::value("<unknown>"));
}

TEST(MakeTableTest, AgeUsesKubectlUnits) {
  json::object young = parseObject(R"({"metadata": {"name": "young"}})");
  young["metadata"].as_object()["creationTimestamp"] = createdAgo(std::chrono::seconds(30));
  json::object old = parseObject(R"({"metadata": {"name": "old"}})");
  old["metadata"].as_object()["creationTimestamp"] = createdAgo(std::chrono::hours(24 * 5));
  auto t = makeTable(cellKind(), {young, old}, IncludeObject::kNone, "", "");
  EXPECT_THAT(std::string(cellsOfRow(t, 0).back().as_string()), ::testing::MatchesRegex("[0-9]+s"));
  EXPECT_EQ(cellsOfRow(t, 1).back(), json::value("5d"));
}

TEST(MakeTableTest, MissingNameIsAnEmptyCell) {
  auto t = makeTable(cellKind(), {parseObject(R"({"spec": {}})")}, IncludeObject::kNone, "", "");
  EXPECT_EQ(cellsOfRow(t, 0).front(), json::value(""));
}

TEST(MakeTableTest, RowsKeepTheOrderOfTheObjects) {
  std::vector<json::object> objects;
  for (const char* name : {"c", "a", "b"}) {
    objects.push_back(json::object{{"metadata", json::object{{"name", name}}}});
  }
  auto t = makeTable(cellKind(), objects, IncludeObject::kNone, "", "");
  ASSERT_EQ(t.at("rows").as_array().size(), 3u);
  EXPECT_EQ(cellsOfRow(t, 0).front(), json::value("c"));
  EXPECT_EQ(cellsOfRow(t, 1).front(), json::value("a"));
  EXPECT_EQ(cellsOfRow(t, 2).front(), json::value("b"));
}

TEST(MakeTableTest, ListMetadataCarriesResourceVersionAndContinue) {
  auto t = makeTable(clusterKind(), {}, IncludeObject::kNone, "42", "tok");
  EXPECT_EQ(t.at("metadata"), parseJson(R"({"resourceVersion": "42", "continue": "tok"})"));
}

TEST(MakeTableTest, EmptyListMetadataFieldsAreOmitted) {
  auto t = makeTable(clusterKind(), {}, IncludeObject::kNone, "", "");
  EXPECT_EQ(t.at("metadata"), json::value(json::object()));
}

TEST(MakeTableTest, IncludeObjectNoneOmitsTheObject) {
  auto t = makeTable(clusterKind(), {clusterA()}, IncludeObject::kNone, "", "");
  EXPECT_FALSE(t.at("rows").as_array().at(0).as_object().contains("object"));
}

TEST(MakeTableTest, IncludeObjectObjectEmbedsTheWholeObject) {
  const json::object obj = clusterA();
  auto t = makeTable(clusterKind(), {obj}, IncludeObject::kObject, "", "");
  EXPECT_EQ(t.at("rows").as_array().at(0).at("object"), json::value(obj));
}

TEST(MakeTableTest, IncludeObjectMetadataEmbedsPartialObjectMetadata) {
  const json::object obj = clusterA();
  auto t = makeTable(clusterKind(), {obj}, IncludeObject::kMetadata, "", "");
  const auto& embedded = t.at("rows").as_array().at(0).at("object").as_object();
  EXPECT_EQ(embedded.at("kind"), json::value("PartialObjectMetadata"));
  EXPECT_EQ(embedded.at("apiVersion"), json::value("meta.k8s.io/v1"));
  EXPECT_EQ(embedded.at("metadata"), obj.at("metadata"));
  EXPECT_FALSE(embedded.contains("spec"));
  EXPECT_FALSE(embedded.contains("status"));
}

TEST(MakeTableTest, IncludeObjectMetadataWithoutMetadataIsEmpty) {
  auto t =
      makeTable(cellKind(), {parseObject(R"({"spec": {}})")}, IncludeObject::kMetadata, "", "");
  EXPECT_EQ(t.at("rows").as_array().at(0).at("object").at("metadata"), json::value(json::object()));
}

}  // namespace
}  // namespace tessera::apiserver
