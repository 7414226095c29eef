// The built-in kinds: realistic objects against each kind's schemas and whole-object rules,
// the kind registry, verbs, roles, and the authorization matrix.
#include "apiserver/kinds/kinds.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>
#include <vector>

#include "apiserver/auth.h"
#include "apiserver/kind.h"
#include "tests/apiserver/unit/test_json.h"

namespace tessera::apiserver {
namespace {

namespace json = boost::json;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using testutil::cause;
using testutil::parseJson;
using testutil::parseObject;

struct Outcome {
  std::vector<FieldCause> errors;
  std::vector<std::string> unknown;
};

Outcome validateSpec(const KindInfo& kind, std::string_view specJson) {
  Outcome o;
  kind.spec->validate(parseJson(specJson), "spec", o.errors, o.unknown);
  return o;
}

Outcome validateStatus(const KindInfo& kind, std::string_view statusJson) {
  Outcome o;
  kind.status->validate(parseJson(statusJson), "status", o.errors, o.unknown);
  return o;
}

// --- Cluster ---

constexpr std::string_view kClusterSpec = R"({
  "region": "region-1", "zone": "dc-a", "runtime": "process",
  "capacity": {"cpu": "16", "memory": "64Gi", "pods": 200},
  "taints": [{"key": "dedicated", "value": "payments", "effect": "NoSchedule"}]})";

TEST(ClusterKindTest, DocumentedExampleIsValid) {
  auto o = validateSpec(clusterKind(), kClusterSpec);
  EXPECT_THAT(o.errors, IsEmpty());
  EXPECT_THAT(o.unknown, IsEmpty());
}

TEST(ClusterKindTest, RegionAndZoneAreRequired) {
  EXPECT_THAT(validateSpec(clusterKind(), R"({"runtime": "process"})").errors,
              ElementsAre(cause("FieldValueRequired", "spec.region"),
                          cause("FieldValueRequired", "spec.zone")));
}

TEST(ClusterKindTest, RegionMustBeADnsLabel) {
  EXPECT_THAT(validateSpec(clusterKind(), R"({"region": "Region_1", "zone": "dc-a"})").errors,
              ElementsAre(cause("FieldValueInvalid", "spec.region",
                                "Invalid value: \"Region_1\": must be a lowercase RFC 1123 "
                                "label (e.g. 'dc-a')")));
}

TEST(ClusterKindTest, RuntimeIsAnEnumDefaultingToProcess) {
  EXPECT_THAT(
      validateSpec(clusterKind(), R"({"region": "r", "zone": "z", "runtime": "docker"})").errors,
      ElementsAre(cause("FieldValueNotSupported", "spec.runtime",
                        "Unsupported value: \"docker\": supported values: \"process\", "
                        "\"kubernetes\"")));
  json::value spec = parseJson(R"({"region": "r", "zone": "z"})");
  clusterKind().spec->applyDefaults(spec);
  EXPECT_EQ(spec.as_object().at("runtime"), json::value("process"));
}

TEST(ClusterKindTest, CapacityQuantitiesAreChecked) {
  auto o = validateSpec(clusterKind(), R"({"region": "r", "zone": "z",
                                           "capacity": {"cpu": "12 cores", "pods": -1}})");
  EXPECT_THAT(o.errors, ElementsAre(cause("FieldValueInvalid", "spec.capacity.cpu"),
                                    cause("FieldValueInvalid", "spec.capacity.pods")));
}

TEST(ClusterKindTest, TaintEffectIsAnEnum) {
  auto o = validateSpec(clusterKind(), R"({"region": "r", "zone": "z",
                                           "taints": [{"key": "k", "effect": "Sometimes"}]})");
  EXPECT_THAT(o.errors, ElementsAre(cause("FieldValueNotSupported", "spec.taints[0].effect")));
}

TEST(ClusterKindTest, StatusWithConditionsIsValid) {
  auto o = validateStatus(clusterKind(), R"({
    "conditions": [{"type": "Ready", "status": "True", "reason": "AgentHeartbeat",
                    "lastTransitionTime": "2026-11-27T07:34:35Z"}],
    "allocatable": {"cpu": "15500m", "memory": "60Gi", "pods": 190},
    "lastHeartbeatTime": "2026-11-27T07:35:00.123456Z", "observedGeneration": 3})");
  EXPECT_THAT(o.errors, IsEmpty());
  EXPECT_THAT(o.unknown, IsEmpty());
}

TEST(ClusterKindTest, StatusConditionsAreOnePerTypeWithAKnownStatus) {
  auto o = validateStatus(clusterKind(), R"({"conditions": [
    {"type": "Ready", "status": "True"},
    {"type": "Ready", "status": "Maybe"}]})");
  EXPECT_THAT(o.errors, ElementsAre(cause("FieldValueNotSupported", "status.conditions[1].status"),
                                    cause("FieldValueDuplicate", "status.conditions[1].type")));
}

TEST(ClusterKindTest, StatusTimestampsMustBeRfc3339) {
  EXPECT_THAT(validateStatus(clusterKind(), R"({"lastHeartbeatTime": "yesterday"})").errors,
              ElementsAre(cause("FieldValueInvalid", "status.lastHeartbeatTime",
                                "Invalid value: \"yesterday\": must be an RFC 3339 time such as "
                                "\"2026-11-27T07:34:35Z\"")));
}

// --- Cell ---

json::object cellObject(std::string_view name, std::string_view specJson) {
  json::object o;
  o["apiVersion"] = "tessera.io/v1";
  o["kind"] = "Cell";
  o["metadata"] = json::object{{"name", name}};
  o["spec"] = parseJson(specJson);
  return o;
}

TEST(CellKindTest, DocumentedExamplesAreValid) {
  EXPECT_THAT(validateSpec(cellKind(), R"({"type": "RZone", "region": "region-1",
                                           "clusters": ["cluster-a"], "standby": "rz-b"})")
                  .errors,
              IsEmpty());
  EXPECT_THAT(validateSpec(cellKind(), R"({"type": "GZone", "region": "region-1",
                                           "clusters": ["cluster-a", "cluster-b"]})")
                  .errors,
              IsEmpty());
}

TEST(CellKindTest, TypeAndRegionAreRequired) {
  EXPECT_THAT(validateSpec(cellKind(), R"({"clusters": []})").errors,
              ElementsAre(cause("FieldValueRequired", "spec.type"),
                          cause("FieldValueRequired", "spec.region")));
}

TEST(CellKindTest, TypeIsAnEnum) {
  EXPECT_THAT(validateSpec(cellKind(), R"({"type": "XZone", "region": "r"})").errors,
              ElementsAre(cause("FieldValueNotSupported", "spec.type")));
}

TEST(CellKindTest, DuplicateClustersAreReported) {
  EXPECT_THAT(
      validateSpec(cellKind(), R"({"type": "RZone", "region": "r",
                                           "clusters": ["a", "b", "a"]})")
          .errors,
      ElementsAre(cause("FieldValueDuplicate", "spec.clusters[2]", "Duplicate value: \"a\"")));
}

TEST(CellKindTest, ClusterNamesMustBeSubdomains) {
  EXPECT_THAT(validateSpec(cellKind(), R"({"type": "RZone", "region": "r",
                                           "clusters": ["ok", "Not_OK"]})")
                  .errors,
              ElementsAre(cause("FieldValueInvalid", "spec.clusters[1]")));
}

TEST(CellKindTest, ACellCannotBeItsOwnStandby) {
  std::vector<FieldCause> errors;
  cellKind().validateObject(
      cellObject("rz-a", R"({"type": "RZone", "region": "r", "standby": "rz-a"})"), errors);
  EXPECT_THAT(errors, ElementsAre(cause("FieldValueInvalid", "spec.standby",
                                        "Invalid value: \"rz-a\": a cell cannot be its own "
                                        "standby")));
}

TEST(CellKindTest, AnotherCellAsStandbyIsFine) {
  std::vector<FieldCause> errors;
  cellKind().validateObject(
      cellObject("rz-a", R"({"type": "RZone", "region": "r", "standby": "rz-b"})"), errors);
  cellKind().validateObject(cellObject("gz-1", R"({"type": "GZone", "region": "r"})"), errors);
  EXPECT_THAT(errors, IsEmpty());
}

TEST(CellKindTest, StatusPhaseIsAnEnum) {
  EXPECT_THAT(validateStatus(cellKind(), R"({"phase": "Active"})").errors, IsEmpty());
  EXPECT_THAT(validateStatus(cellKind(), R"({"phase": "Sleeping"})").errors,
              ElementsAre(cause("FieldValueNotSupported", "status.phase")));
}

// --- Application ---

constexpr std::string_view kAppSpec = R"({
  "template": {
    "command": ["tessera-demo-app"],
    "env": [{"name": "GREETING", "value": "hello"}],
    "ports": [{"name": "http", "port": 8080}],
    "resources": {"cpu": "250m", "memory": "128Mi"},
    "readinessProbe": {"httpGet": {"path": "/healthz"}}},
  "placement": {"cells": {"type": "RZone"}, "replicasPerCell": 2}})";

// kAppSpec with `placement` and `template` replaced where given.
std::string appSpec(std::string_view templateJson, std::string_view placementJson = "") {
  json::object spec = parseObject(kAppSpec);
  if (!templateJson.empty()) spec["template"] = parseJson(templateJson);
  if (!placementJson.empty()) spec["placement"] = parseJson(placementJson);
  return json::serialize(spec);
}

TEST(ApplicationKindTest, DocumentedExampleIsValid) {
  auto o = validateSpec(applicationKind(), kAppSpec);
  EXPECT_THAT(o.errors, IsEmpty());
  EXPECT_THAT(o.unknown, IsEmpty());
}

TEST(ApplicationKindTest, PlacementByCellNamesIsValid) {
  EXPECT_THAT(
      validateSpec(applicationKind(), appSpec("", R"({"cells": {"names": ["rz-a", "rz-b"]}})"))
          .errors,
      IsEmpty());
}

TEST(ApplicationKindTest, CellNamesAndTypeTogetherAreRejected) {
  EXPECT_THAT(validateSpec(applicationKind(),
                           appSpec("", R"({"cells": {"names": ["rz-a"], "type": "RZone"}})"))
                  .errors,
              ElementsAre(cause("FieldValueInvalid", "spec.placement.cells",
                                "exactly one of names, type or selector must be set")));
}

TEST(ApplicationKindTest, NeitherCellNamesNorTypeIsRejected) {
  EXPECT_THAT(validateSpec(applicationKind(), appSpec("", R"({"cells": {}})")).errors,
              ElementsAre(cause("FieldValueInvalid", "spec.placement.cells")));
}

TEST(ApplicationKindTest, EmptyCellNameListIsRejected) {
  EXPECT_THAT(validateSpec(applicationKind(), appSpec("", R"({"cells": {"names": []}})")).errors,
              ElementsAre(cause("FieldValueRequired", "spec.placement.cells.names")));
}

TEST(ApplicationKindTest, TemplateAndPlacementAreRequired) {
  EXPECT_THAT(validateSpec(applicationKind(), "{}").errors,
              ElementsAre(cause("FieldValueRequired", "spec.template"),
                          cause("FieldValueRequired", "spec.placement")));
}

TEST(ApplicationKindTest, TemplateCommandIsRequired) {
  EXPECT_THAT(validateSpec(applicationKind(), appSpec(R"({"args": ["--port=8080"]})")).errors,
              ElementsAre(cause("FieldValueRequired", "spec.template.command", "Required value")));
}

TEST(ApplicationKindTest, TemplateCommandMayNotBeEmpty) {
  EXPECT_THAT(validateSpec(applicationKind(), appSpec(R"({"command": []})")).errors,
              ElementsAre(cause("FieldValueRequired", "spec.template.command",
                                "Required value: must have at least 1 item")));
}

TEST(ApplicationKindTest, DuplicatePortNamesAreRejected) {
  auto o = validateSpec(applicationKind(), appSpec(R"({"command": ["app"], "ports": [
      {"name": "http", "port": 8080}, {"name": "http", "port": 8081}]})"));
  EXPECT_THAT(o.errors, ElementsAre(cause("FieldValueDuplicate", "spec.template.ports[1].name",
                                          "Duplicate value: \"http\"")));
}

TEST(ApplicationKindTest, DuplicatePortNumbersAreRejected) {
  auto o = validateSpec(applicationKind(), appSpec(R"({"command": ["app"], "ports": [
      {"name": "http", "port": 8080}, {"name": "metrics", "port": 9090},
      {"name": "admin", "port": 8080}]})"));
  EXPECT_THAT(o.errors, ElementsAre(cause("FieldValueDuplicate", "spec.template.ports[2].port",
                                          "Duplicate value: 8080")));
}

TEST(ApplicationKindTest, PortNumbersAreInRange) {
  auto o = validateSpec(applicationKind(), appSpec(R"({"command": ["app"], "ports": [
      {"name": "http", "port": 0}, {"name": "grpc", "port": 65536}]})"));
  EXPECT_THAT(o.errors, ElementsAre(cause("FieldValueInvalid", "spec.template.ports[0].port"),
                                    cause("FieldValueInvalid", "spec.template.ports[1].port")));
}

TEST(ApplicationKindTest, PortNamesAreShortDnsLabels) {
  auto o = validateSpec(applicationKind(), appSpec(R"({"command": ["app"], "ports": [
      {"name": "a-very-long-port-name", "port": 1}, {"name": "HTTP", "port": 2}]})"));
  EXPECT_THAT(o.errors, ElementsAre(cause("FieldValueTooLong", "spec.template.ports[0].name",
                                          "Too long: may not be longer than 15"),
                                    cause("FieldValueInvalid", "spec.template.ports[1].name")));
}

TEST(ApplicationKindTest, FreeTextQuantityIsRejected) {
  auto o = validateSpec(applicationKind(), appSpec(R"({"command": ["app"],
      "resources": {"cpu": "12 cores", "memory": "1Gi"}})"));
  EXPECT_THAT(o.errors, ElementsAre(cause("FieldValueInvalid", "spec.template.resources.cpu",
                                          "Invalid value: \"12 cores\": must be a non-negative "
                                          "quantity such as \"500m\", \"2\" or \"512Mi\"")));
}

TEST(ApplicationKindTest, EnvNamesAreValidatedAndUnique) {
  auto o = validateSpec(applicationKind(), appSpec(R"({"command": ["app"], "env": [
      {"name": "1BAD"}, {"name": "GOOD", "value": "x"}, {"name": "GOOD"}]})"));
  EXPECT_THAT(o.errors, ElementsAre(cause("FieldValueInvalid", "spec.template.env[0].name"),
                                    cause("FieldValueDuplicate", "spec.template.env[2].name")));
}

TEST(ApplicationKindTest, ReadinessProbePathMustBeAbsolute) {
  auto o = validateSpec(applicationKind(), appSpec(R"({"command": ["app"],
      "readinessProbe": {"httpGet": {"path": "healthz"}}})"));
  EXPECT_THAT(o.errors,
              ElementsAre(cause("FieldValueInvalid", "spec.template.readinessProbe.httpGet.path",
                                "Invalid value: \"healthz\": must start with '/'")));
}

TEST(ApplicationKindTest, ReplicasPerCellIsBounded) {
  EXPECT_THAT(validateSpec(applicationKind(),
                           appSpec("", R"({"cells": {"type": "RZone"}, "replicasPerCell": -1})"))
                  .errors,
              ElementsAre(cause("FieldValueInvalid", "spec.placement.replicasPerCell")));
}

TEST(ApplicationKindTest, PlacementPolicyFieldsAreChecked) {
  auto ok = validateSpec(applicationKind(), appSpec("", R"({
      "cells": {"selector": {"tier": "gold"}}, "totalReplicas": 12, "maxSkew": 2, "priority": 100,
      "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "pay", "effect": "NoSchedule"},
                      {"operator": "Exists"}],
      "failover": {"enabled": true, "gracePeriodSeconds": 120}})"));
  EXPECT_THAT(ok.errors, IsEmpty());
  EXPECT_THAT(ok.unknown, IsEmpty());
  auto bad = validateSpec(applicationKind(), appSpec("", R"({
      "cells": {"type": "RZone"}, "maxSkew": 0, "priority": 5000,
      "tolerations": [{"key": "k", "operator": "Maybe"}],
      "failover": {"gracePeriodSeconds": 1}})"));
  EXPECT_THAT(
      bad.errors,
      ElementsAre(cause("FieldValueInvalid", "spec.placement.maxSkew"),
                  cause("FieldValueNotSupported", "spec.placement.tolerations[0].operator"),
                  cause("FieldValueInvalid", "spec.placement.priority"),
                  cause("FieldValueInvalid", "spec.placement.failover.gracePeriodSeconds")));
}

TEST(ApplicationKindTest, ReplicasPerCellOrTotalNotBoth) {
  EXPECT_THAT(validateSpec(applicationKind(), appSpec("", R"({"cells": {"type": "RZone"},
                                                        "replicasPerCell": 2, "totalReplicas": 6})"))
                  .errors,
              ElementsAre(cause("FieldValueInvalid", "spec.placement",
                                "Invalid value: at most one of replicasPerCell and totalReplicas "
                                "may be set")));
  // The default of replicasPerCell does not get in the way of totalReplicas.
  json::value spec = parseJson(R"({"template": {"command": ["app"]},
                                   "placement": {"cells": {"type": "RZone"}, "totalReplicas": 6}})");
  applicationKind().spec->applyDefaults(spec);
  EXPECT_EQ(spec.as_object().at("placement").as_object().if_contains("replicasPerCell"), nullptr);
  EXPECT_EQ(spec.at_pointer("/placement/maxSkew"), json::value(1));
  EXPECT_EQ(spec.at_pointer("/placement/priority"), json::value(0));
  std::vector<FieldCause> errors;
  std::vector<std::string> unknown;
  applicationKind().spec->validate(spec, "spec", errors, unknown);
  EXPECT_THAT(errors, IsEmpty());
}

TEST(ApplicationKindTest, UnknownTemplateFieldsAreReported) {
  auto o = validateSpec(applicationKind(), appSpec(R"({"command": ["app"], "image": "nginx"})"));
  EXPECT_THAT(o.errors, IsEmpty());
  EXPECT_THAT(o.unknown, ElementsAre("spec.template.image"));
}

TEST(ApplicationKindTest, DefaultsFillReplicasAndProbeTimings) {
  json::value spec = parseJson(R"({
    "template": {"command": ["app"], "readinessProbe": {"httpGet": {"path": "/"}}},
    "placement": {"cells": {"type": "GZone"}}})");
  applicationKind().spec->applyDefaults(spec);
  EXPECT_EQ(spec.at_pointer("/placement/replicasPerCell"), json::value(1));
  EXPECT_EQ(spec.at_pointer("/template/readinessProbe/periodSeconds"), json::value(5));
  EXPECT_EQ(spec.at_pointer("/template/readinessProbe/timeoutSeconds"), json::value(1));
}

TEST(ApplicationKindTest, StatusCellsAreUniqueByName) {
  auto o = validateStatus(applicationKind(), R"({"replicas": 4, "readyReplicas": 3, "cells": [
      {"name": "rz-a", "replicas": 2, "readyReplicas": 2},
      {"name": "rz-a", "replicas": 2, "readyReplicas": 1}]})");
  EXPECT_THAT(o.errors, ElementsAre(cause("FieldValueDuplicate", "status.cells[1].name")));
}

// --- APIToken ---

TEST(ApiTokenKindTest, ValidSpec) {
  auto o = validateSpec(apiTokenKind(), R"({"user": "alice@example.com", "role": "operator",
      "expirationTimestamp": "2027-01-01T00:00:00Z", "description": "CI deploys"})");
  EXPECT_THAT(o.errors, IsEmpty());
  EXPECT_THAT(o.unknown, IsEmpty());
}

TEST(ApiTokenKindTest, UserAndRoleAreRequired) {
  EXPECT_THAT(validateSpec(apiTokenKind(), "{}").errors,
              ElementsAre(cause("FieldValueRequired", "spec.user"),
                          cause("FieldValueRequired", "spec.role")));
}

TEST(ApiTokenKindTest, UserNameCharactersAreRestricted) {
  EXPECT_THAT(validateSpec(apiTokenKind(), R"({"user": "alice smith", "role": "viewer"})").errors,
              ElementsAre(cause("FieldValueInvalid", "spec.user",
                                "Invalid value: \"alice smith\": must be letters, digits and "
                                "':._@-'")));
  EXPECT_THAT(validateSpec(apiTokenKind(), R"({"user": "-alice", "role": "viewer"})").errors,
              ElementsAre(cause("FieldValueInvalid", "spec.user")));
}

TEST(ApiTokenKindTest, RoleIsAnEnum) {
  EXPECT_THAT(validateSpec(apiTokenKind(), R"({"user": "alice", "role": "root"})").errors,
              ElementsAre(cause("FieldValueNotSupported", "spec.role",
                                "Unsupported value: \"root\": supported values: \"viewer\", "
                                "\"operator\", \"admin\", \"agent\", \"proxy\"")));
}

TEST(ApiTokenKindTest, ExpirationMustBeATimestamp) {
  EXPECT_THAT(validateSpec(apiTokenKind(), R"({"user": "alice", "role": "admin",
                                               "expirationTimestamp": "2027-02-30T00:00:00Z"})")
                  .errors,
              ElementsAre(cause("FieldValueInvalid", "spec.expirationTimestamp")));
}

TEST(ApiTokenKindTest, UpdateMayNotChangeTheUser) {
  std::vector<FieldCause> errors;
  apiTokenKind().validateUpdate(parseObject(R"({"spec": {"user": "alice", "role": "viewer"}})"),
                                parseObject(R"({"spec": {"user": "mallory", "role": "viewer"}})"),
                                errors);
  EXPECT_THAT(errors, ElementsAre(cause("FieldValueForbidden", "spec.user")));
}

TEST(ApiTokenKindTest, UpdateMayChangeTheRoleAndDescription) {
  std::vector<FieldCause> errors;
  apiTokenKind().validateUpdate(
      parseObject(R"({"spec": {"user": "alice", "role": "viewer"}})"),
      parseObject(R"({"spec": {"user": "alice", "role": "admin", "description": "promoted"}})"),
      errors);
  EXPECT_THAT(errors, IsEmpty());
}

TEST(ApiTokenKindTest, IssuesCredentialsAndIsAdminOnly) {
  EXPECT_TRUE(apiTokenKind().issuesCredential);
  EXPECT_TRUE(apiTokenKind().access.adminOnly);
  EXPECT_FALSE(apiTokenKind().hasStatus());
}

// --- shared schema helpers ---

TEST(SchemasHelpersTest, AtFollowsDottedPaths) {
  auto obj = parseObject(R"({"spec": {"placement": {"cells": {"type": "RZone"}}}, "n": 1})");
  EXPECT_EQ(schemas::at(obj, "spec.placement.cells.type"), json::value("RZone"));
  EXPECT_EQ(schemas::at(obj, "n"), json::value(1));
  EXPECT_TRUE(schemas::at(obj, "spec.missing.type").is_null());
  EXPECT_TRUE(schemas::at(obj, "n.deeper").is_null());
}

TEST(SchemasHelpersTest, ConditionStatusFindsTheConditionByType) {
  auto obj = parseObject(R"({"status": {"conditions": [
      {"type": "Scheduled", "status": "True"}, {"type": "Ready", "status": "False"}]}})");
  EXPECT_EQ(schemas::conditionStatus(obj, "Ready"), "False");
  EXPECT_EQ(schemas::conditionStatus(obj, "Scheduled"), "True");
  EXPECT_EQ(schemas::conditionStatus(obj, "Degraded"), "Unknown");
  EXPECT_EQ(schemas::conditionStatus(parseObject("{}"), "Ready"), "Unknown");
}

TEST(SchemasTest, SetConditionMovesTheTransitionTimeOnlyWhenTheStatusChanges) {
  json::object status;
  schemas::setCondition(status, "Ready", "True", "Up", "ok", "2026-01-01T00:00:00Z")["extra"] = 1;
  schemas::setCondition(status, "Ready", "True", "StillUp", "fine", "2026-01-02T00:00:00Z");
  EXPECT_EQ(json::value(status), parseJson(R"({"conditions": [{"type": "Ready", "status": "True",
      "reason": "StillUp", "message": "fine", "lastTransitionTime": "2026-01-01T00:00:00Z",
      "extra": 1}]})"));
  schemas::setCondition(status, "Ready", "False", "Down", "gone", "2026-01-03T00:00:00Z");
  schemas::setCondition(status, "Scheduled", "True", "Scheduled", "", "2026-01-03T00:00:00Z");
  EXPECT_EQ(schemas::conditionStatus(json::object{{"status", status}}, "Ready"), "False");
  EXPECT_EQ(status.at("conditions").at(0).at("lastTransitionTime"),
            json::value("2026-01-03T00:00:00Z"));
  EXPECT_EQ(status.at("conditions").as_array().size(), 2u);
}

// --- registry, verbs, roles ---

TEST(KindRegistryTest, BuiltinKindsInDiscoveryOrder) {
  const KindRegistry reg = builtinKinds();
  std::vector<std::string> names;
  for (const auto& k : reg.all()) names.push_back(k.kind);
  EXPECT_THAT(names, ElementsAre("Cluster", "Cell", "ShardMap", "Application", "ResourceQuota",
                                 "Binding", "Replica", "APIToken", "BootstrapToken", "AuditEvent",
                                 "PlacementReview", "Proxy"));
}

TEST(KindRegistryTest, LooksUpByPluralAndByKind) {
  const KindRegistry reg = builtinKinds();
  ASSERT_NE(reg.byPlural("cells"), nullptr);
  EXPECT_EQ(reg.byPlural("cells")->kind, "Cell");
  ASSERT_NE(reg.byKind("Application"), nullptr);
  EXPECT_EQ(reg.byKind("Application")->plural, "applications");
  EXPECT_EQ(reg.byPlural("apitokens"), reg.byKind("APIToken"));
}

TEST(KindRegistryTest, LookupsAreExact) {
  const KindRegistry reg = builtinKinds();
  EXPECT_EQ(reg.byPlural("pods"), nullptr);
  EXPECT_EQ(reg.byPlural("Cells"), nullptr);
  EXPECT_EQ(reg.byPlural("cell"), nullptr);
  EXPECT_EQ(reg.byKind("cell"), nullptr);
  EXPECT_EQ(reg.byKind(""), nullptr);
}

TEST(KindRegistryTest, EveryObjectKindHasASpecAndNamesThatFitTogether) {
  const KindRegistry reg = builtinKinds();
  for (const auto& k : reg.all()) {
    SCOPED_TRACE(k.kind);
    EXPECT_EQ(k.listKind(), k.kind + "List");
    EXPECT_FALSE(k.plural.empty());
    EXPECT_FALSE(k.singular.empty());
    EXPECT_EQ(k.spec.has_value(), !k.readOnly());
  }
}

TEST(KindRegistryTest, ScopeAndSubresources) {
  EXPECT_TRUE(applicationKind().namespaced);
  EXPECT_FALSE(clusterKind().namespaced);
  EXPECT_FALSE(cellKind().namespaced);
  EXPECT_TRUE(clusterKind().hasStatus());
  EXPECT_TRUE(cellKind().hasStatus());
  EXPECT_TRUE(applicationKind().hasStatus());
  EXPECT_TRUE(auditEventKind().readOnly());
  EXPECT_FALSE(clusterKind().readOnly());
}

TEST(KindInfoTest, ObjectKindsAdvertiseAllVerbs) {
  EXPECT_THAT(clusterKind().verbs(),
              ::testing::UnorderedElementsAre(Verb::kGet, Verb::kList, Verb::kWatch, Verb::kCreate,
                                              Verb::kUpdate, Verb::kPatch, Verb::kDelete));
}

TEST(KindInfoTest, AuditEventsAreOnlyReadable) {
  EXPECT_THAT(auditEventKind().verbs(), ElementsAre(Verb::kGet, Verb::kList));
}

TEST(KindInfoTest, VerbNamesAndReadVerbs) {
  EXPECT_EQ(verbName(Verb::kGet), "get");
  EXPECT_EQ(verbName(Verb::kList), "list");
  EXPECT_EQ(verbName(Verb::kWatch), "watch");
  EXPECT_EQ(verbName(Verb::kCreate), "create");
  EXPECT_EQ(verbName(Verb::kUpdate), "update");
  EXPECT_EQ(verbName(Verb::kPatch), "patch");
  EXPECT_EQ(verbName(Verb::kDelete), "delete");
  EXPECT_TRUE(isReadVerb(Verb::kGet));
  EXPECT_TRUE(isReadVerb(Verb::kList));
  EXPECT_TRUE(isReadVerb(Verb::kWatch));
  EXPECT_FALSE(isReadVerb(Verb::kCreate));
  EXPECT_FALSE(isReadVerb(Verb::kPatch));
}

TEST(KindInfoTest, RolesRoundTripThroughTheirNames) {
  for (Role r : {Role::kViewer, Role::kOperator, Role::kAdmin, Role::kAgent, Role::kProxy}) {
    EXPECT_EQ(parseRole(roleName(r)), r);
  }
  EXPECT_EQ(parseRole("Admin"), std::nullopt);
  EXPECT_EQ(parseRole("root"), std::nullopt);
  EXPECT_EQ(parseRole(""), std::nullopt);
}

TEST(KindInfoTest, AgentsAndProxiesMayDoNothingThroughTheRestApi) {
  const KindRegistry reg = builtinKinds();
  for (Role r : {Role::kAgent, Role::kProxy}) {
    for (const auto& k : reg.all()) {
      for (Verb v : {Verb::kGet, Verb::kList, Verb::kWatch, Verb::kCreate, Verb::kUpdate}) {
        EXPECT_FALSE(authorize(r, k, v, false)) << roleName(r) << " " << k.kind;
      }
    }
  }
  // Proxy objects are Tessera's own: read-only for everyone through the API.
  EXPECT_EQ(reg.byKind("Proxy")->verbs(),
            (std::vector<Verb>{Verb::kGet, Verb::kList, Verb::kWatch}));
}

// --- authorization ---

const Verb kAllVerbs[] = {Verb::kGet,    Verb::kList,  Verb::kWatch, Verb::kCreate,
                          Verb::kUpdate, Verb::kPatch, Verb::kDelete};
const Verb kWriteVerbs[] = {Verb::kCreate, Verb::kUpdate, Verb::kPatch, Verb::kDelete};

TEST(AuthorizeTest, AdminMayDoEverythingEverywhere) {
  const KindRegistry reg = builtinKinds();
  for (const auto& k : reg.all()) {
    for (Verb v : kAllVerbs) {
      EXPECT_TRUE(authorize(Role::kAdmin, k, v, false)) << k.kind << " " << verbName(v);
      EXPECT_TRUE(authorize(Role::kAdmin, k, v, true)) << k.kind << " " << verbName(v);
    }
  }
}

TEST(AuthorizeTest, ViewerReadsButNeverWrites) {
  for (const KindInfo& kind : {clusterKind(), cellKind(), applicationKind()}) {
    for (Verb v : {Verb::kGet, Verb::kList, Verb::kWatch}) {
      EXPECT_TRUE(authorize(Role::kViewer, kind, v, false)) << kind.kind << " " << verbName(v);
    }
    for (Verb v : kWriteVerbs) {
      EXPECT_FALSE(authorize(Role::kViewer, kind, v, false)) << kind.kind << " " << verbName(v);
      EXPECT_FALSE(authorize(Role::kViewer, kind, v, true)) << kind.kind << " " << verbName(v);
    }
  }
}

TEST(AuthorizeTest, OperatorRunsApplications) {
  const KindInfo app = applicationKind();
  for (Verb v : kAllVerbs) {
    EXPECT_TRUE(authorize(Role::kOperator, app, v, false)) << verbName(v);
  }
}

TEST(AuthorizeTest, OperatorOnlyReadsInfrastructureKinds) {
  for (const KindInfo& kind : {clusterKind(), cellKind()}) {
    EXPECT_TRUE(authorize(Role::kOperator, kind, Verb::kGet, false)) << kind.kind;
    EXPECT_TRUE(authorize(Role::kOperator, kind, Verb::kWatch, false)) << kind.kind;
    for (Verb v : kWriteVerbs) {
      EXPECT_FALSE(authorize(Role::kOperator, kind, v, false)) << kind.kind << " " << verbName(v);
    }
  }
}

TEST(AuthorizeTest, OnlyAdminsWriteTheStatusSubresource) {
  const KindInfo app = applicationKind();
  EXPECT_FALSE(authorize(Role::kOperator, app, Verb::kUpdate, true));
  EXPECT_FALSE(authorize(Role::kOperator, app, Verb::kPatch, true));
  EXPECT_TRUE(authorize(Role::kOperator, app, Verb::kGet, true));
  EXPECT_TRUE(authorize(Role::kViewer, app, Verb::kGet, true));
  EXPECT_TRUE(authorize(Role::kAdmin, app, Verb::kUpdate, true));
}

TEST(AuthorizeTest, ApiTokensAreInvisibleToNonAdmins) {
  const KindInfo token = apiTokenKind();
  for (Role r : {Role::kViewer, Role::kOperator}) {
    for (Verb v : kAllVerbs) {
      EXPECT_FALSE(authorize(r, token, v, false)) << roleName(r) << " " << verbName(v);
    }
  }
}

TEST(AuthorizeTest, EveryoneMayReadTheAuditLog) {
  const KindInfo audit = auditEventKind();
  for (Role r : {Role::kViewer, Role::kOperator, Role::kAdmin}) {
    EXPECT_TRUE(authorize(r, audit, Verb::kList, false)) << roleName(r);
    EXPECT_TRUE(authorize(r, audit, Verb::kGet, false)) << roleName(r);
  }
  EXPECT_FALSE(authorize(Role::kOperator, audit, Verb::kDelete, false));
}

}  // namespace
}  // namespace tessera::apiserver
