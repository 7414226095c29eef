// Schema: validation (messages, reasons, field paths), unknown fields, defaulting, dropping
// unknown fields, and the OpenAPI output.
#include "apiserver/schema.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>
#include <vector>

#include "tests/apiserver/unit/test_json.h"

namespace tessera::apiserver {
namespace {

namespace json = boost::json;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using testutil::cause;
using testutil::parseJson;

struct Outcome {
  std::vector<FieldCause> errors;
  std::vector<std::string> unknown;
};

Outcome checkValue(const Schema& schema, const json::value& v, const std::string& path = "spec") {
  Outcome o;
  schema.validate(v, path, o.errors, o.unknown);
  return o;
}

/// Validates the JSON text `jsonText` at `path`.
Outcome check(const Schema& schema, std::string_view jsonText, const std::string& path = "spec") {
  return checkValue(schema, parseJson(jsonText), path);
}

// --- scalar types ---

TEST(SchemaTest, StringAcceptsAString) {
  auto o = check(Schema::string(), R"("hello")");
  EXPECT_THAT(o.errors, IsEmpty());
  EXPECT_THAT(o.unknown, IsEmpty());
}

TEST(SchemaTest, TypeMismatchNamesTheValueAndTheExpectedType) {
  EXPECT_THAT(check(Schema::string(), "5", "spec.name").errors,
              ElementsAre(cause("FieldValueTypeInvalid", "spec.name",
                                "Invalid value: 5: must be of type string")));
  EXPECT_THAT(check(Schema::integer(), R"("3")", "spec.port").errors,
              ElementsAre(cause("FieldValueTypeInvalid", "spec.port",
                                "Invalid value: \"3\": must be of type integer")));
  EXPECT_THAT(check(Schema::boolean(), R"("true")", "spec.on").errors,
              ElementsAre(cause("FieldValueTypeInvalid", "spec.on",
                                "Invalid value: \"true\": must be of type boolean")));
}

TEST(SchemaTest, IntegerAcceptsWholeNumbersIncludingIntegralDoubles) {
  EXPECT_THAT(check(Schema::integer(), "3").errors, IsEmpty());
  EXPECT_THAT(check(Schema::integer(), "-7").errors, IsEmpty());
  EXPECT_THAT(check(Schema::integer(), "3.0").errors, IsEmpty());
  EXPECT_THAT(check(Schema::integer(), "18446744073709551615").errors, IsEmpty());
}

TEST(SchemaTest, IntegerRejectsFractions) {
  EXPECT_THAT(check(Schema::integer(), "3.5").errors,
              ElementsAre(cause("FieldValueTypeInvalid", "spec")));
}

TEST(SchemaTest, NumberAcceptsIntegersAndFractionsButNotStrings) {
  EXPECT_THAT(check(Schema::number(), "3").errors, IsEmpty());
  EXPECT_THAT(check(Schema::number(), "0.25").errors, IsEmpty());
  EXPECT_THAT(check(Schema::number(), R"("0.25")").errors,
              ElementsAre(cause("FieldValueTypeInvalid", "spec",
                                "Invalid value: \"0.25\": must be of type number")));
}

TEST(SchemaTest, BooleanAcceptsTrueAndFalse) {
  EXPECT_THAT(check(Schema::boolean(), "true").errors, IsEmpty());
  EXPECT_THAT(check(Schema::boolean(), "false").errors, IsEmpty());
  EXPECT_THAT(check(Schema::boolean(), "0").errors,
              ElementsAre(cause("FieldValueTypeInvalid", "spec")));
}

// --- constraints ---

TEST(SchemaTest, MinimumViolationMessage) {
  auto s = Schema::integer().min(1).max(65535);
  EXPECT_THAT(check(s, "0", "spec.port").errors,
              ElementsAre(cause("FieldValueInvalid", "spec.port",
                                "Invalid value: 0: must be greater than or equal to 1")));
}

TEST(SchemaTest, MaximumViolationMessage) {
  auto s = Schema::integer().min(1).max(65535);
  EXPECT_THAT(check(s, "70000", "spec.port").errors,
              ElementsAre(cause("FieldValueInvalid", "spec.port",
                                "Invalid value: 70000: must be less than or equal to 65535")));
}

TEST(SchemaTest, MinimumAndMaximumAreInclusive) {
  auto s = Schema::integer().min(1).max(65535);
  EXPECT_THAT(check(s, "1").errors, IsEmpty());
  EXPECT_THAT(check(s, "65535").errors, IsEmpty());
  EXPECT_THAT(check(Schema::integer().min(-10), "-10").errors, IsEmpty());
  EXPECT_THAT(check(Schema::integer().min(-10), "-11").errors,
              ElementsAre(cause("FieldValueInvalid", "spec",
                                "Invalid value: -11: must be greater than or equal to -10")));
}

TEST(SchemaTest, MaxLengthViolation) {
  auto s = Schema::string().maxLength(3);
  EXPECT_THAT(check(s, R"("abc")").errors, IsEmpty());
  EXPECT_THAT(
      check(s, R"("abcd")", "spec.code").errors,
      ElementsAre(cause("FieldValueTooLong", "spec.code", "Too long: may not be longer than 3")));
}

TEST(SchemaTest, EnumListsTheSupportedValues) {
  auto s = Schema::string().oneOf({"RZone", "GZone", "CZone"});
  EXPECT_THAT(check(s, R"("GZone")").errors, IsEmpty());
  EXPECT_THAT(check(s, R"("rzone")", "spec.type").errors,
              ElementsAre(cause("FieldValueNotSupported", "spec.type",
                                "Unsupported value: \"rzone\": supported values: \"RZone\", "
                                "\"GZone\", \"CZone\"")));
}

// --- objects ---

TEST(SchemaTest, MissingRequiredFieldIsReportedAtItsPath) {
  auto s = Schema::object({requiredField("region", Schema::string())});
  EXPECT_THAT(check(s, "{}").errors,
              ElementsAre(cause("FieldValueRequired", "spec.region", "Required value")));
}

TEST(SchemaTest, NullCountsAsMissingForRequiredFields) {
  auto s = Schema::object({requiredField("region", Schema::string())});
  EXPECT_THAT(check(s, R"({"region": null})").errors,
              ElementsAre(cause("FieldValueRequired", "spec.region")));
}

TEST(SchemaTest, OptionalFieldsMayBeMissingOrNull) {
  auto s = Schema::object({field("zone", Schema::string())});
  EXPECT_THAT(check(s, "{}").errors, IsEmpty());
  EXPECT_THAT(check(s, R"({"zone": null})").errors, IsEmpty());
}

TEST(SchemaTest, ObjectRejectsNonObjects) {
  auto s = Schema::object({field("zone", Schema::string())});
  EXPECT_THAT(check(s, "[]").errors,
              ElementsAre(cause("FieldValueTypeInvalid", "spec",
                                "Invalid value: []: must be of type object")));
}

TEST(SchemaTest, ReportsEveryProblemInDeclarationOrder) {
  auto s = Schema::object({
      requiredField("region", Schema::string()),
      field("replicas", Schema::integer().min(0)),
      requiredField("zone", Schema::string()),
  });
  EXPECT_THAT(check(s, R"({"replicas": -1})").errors,
              ElementsAre(cause("FieldValueRequired", "spec.region"),
                          cause("FieldValueInvalid", "spec.replicas"),
                          cause("FieldValueRequired", "spec.zone")));
}

TEST(SchemaTest, UnknownFieldsGoToTheUnknownListNotToErrors) {
  auto s = Schema::object({field("zone", Schema::string())});
  auto o = check(s, R"({"zone": "dc-a", "zoen": "typo", "extra": 1})");
  EXPECT_THAT(o.errors, IsEmpty());
  EXPECT_THAT(o.unknown, ::testing::UnorderedElementsAre("spec.zoen", "spec.extra"));
}

TEST(SchemaTest, UnknownFieldsAtTheRootHaveNoLeadingDot) {
  auto s = Schema::object({field("zone", Schema::string())});
  EXPECT_THAT(check(s, R"({"extra": 1})", "").unknown, ElementsAre("extra"));
}

TEST(SchemaTest, UnknownFieldsInsideArraysCarryTheIndex) {
  auto s = Schema::object({
      field("template", Schema::object({
                            field("ports", Schema::arrayOf(Schema::object({
                                               field("name", Schema::string()),
                                           }))),
                        })),
  });
  auto o = check(s, R"({"template": {"ports": [{"name": "a"}, {"name": "b", "proto": "tcp"}]}})");
  EXPECT_THAT(o.errors, IsEmpty());
  EXPECT_THAT(o.unknown, ElementsAre("spec.template.ports[1].proto"));
}

TEST(SchemaTest, NestedFieldPathIncludesArrayIndex) {
  auto s = Schema::object({
      field("template",
            Schema::object({
                field("ports", Schema::arrayOf(Schema::object({
                                   requiredField("port", Schema::integer().min(1).max(65535)),
                               }))),
            })),
  });
  auto o = check(s, R"({"template": {"ports": [{"port": 80}, {"port": 0}, {}]}})");
  EXPECT_THAT(o.errors, ElementsAre(cause("FieldValueInvalid", "spec.template.ports[1].port"),
                                    cause("FieldValueRequired", "spec.template.ports[2].port")));
}

// --- arrays ---

TEST(SchemaTest, ArrayRejectsNonArrays) {
  EXPECT_THAT(check(Schema::arrayOf(Schema::string()), R"("a")").errors,
              ElementsAre(cause("FieldValueTypeInvalid", "spec",
                                "Invalid value: \"a\": must be of type array")));
}

TEST(SchemaTest, ArrayItemsAreValidatedWithIndexedPaths) {
  EXPECT_THAT(check(Schema::arrayOf(Schema::string()), R"(["a", 2, "c", false])", "args").errors,
              ElementsAre(cause("FieldValueTypeInvalid", "args[1]"),
                          cause("FieldValueTypeInvalid", "args[3]")));
}

TEST(SchemaTest, MinItemsOfOneSaysItem) {
  auto s = Schema::arrayOf(Schema::string()).minItems(1);
  EXPECT_THAT(check(s, R"(["x"])").errors, IsEmpty());
  EXPECT_THAT(check(s, "[]", "spec.command").errors,
              ElementsAre(cause("FieldValueRequired", "spec.command",
                                "Required value: must have at least 1 item")));
}

TEST(SchemaTest, MinItemsAboveOneSaysItems) {
  auto s = Schema::arrayOf(Schema::string()).minItems(2);
  EXPECT_THAT(check(s, R"(["x"])").errors,
              ElementsAre(cause("FieldValueRequired", "spec",
                                "Required value: must have at least 2 items")));
}

TEST(SchemaTest, UniqueByReportsTheLaterDuplicate) {
  auto s = Schema::arrayOf(Schema::object({
                               requiredField("name", Schema::string()),
                               field("port", Schema::integer()),
                           }))
               .uniqueBy("name");
  auto o = check(s, R"([{"name": "http"}, {"name": "grpc"}, {"name": "http"}])", "spec.ports");
  EXPECT_THAT(o.errors, ElementsAre(cause("FieldValueDuplicate", "spec.ports[2].name",
                                          "Duplicate value: \"http\"")));
}

TEST(SchemaTest, UniqueByAcceptsDistinctValuesAndItemsWithoutTheField) {
  auto s = Schema::arrayOf(Schema::object({
                               field("name", Schema::string()),
                           }))
               .uniqueBy("name");
  EXPECT_THAT(check(s, R"([{"name": "a"}, {"name": "b"}, {}, {}])").errors, IsEmpty());
}

// --- quantities ---

TEST(SchemaTest, QuantityAcceptsKubernetesForms) {
  for (const char* q : {R"("500m")", R"("2")", R"("512Mi")", R"("1.5Gi")", R"("64Gi")", R"("100k")",
                        R"("1e3")", R"(".5")", R"("0")", "2", "0.5", "0"}) {
    EXPECT_THAT(check(Schema::quantity(), q).errors, IsEmpty()) << q;
  }
}

TEST(SchemaTest, QuantityRejectsFreeText) {
  EXPECT_THAT(check(Schema::quantity(), R"("12 cores")", "spec.capacity.cpu").errors,
              ElementsAre(cause("FieldValueInvalid", "spec.capacity.cpu",
                                "Invalid value: \"12 cores\": must be a non-negative quantity "
                                "such as \"500m\", \"2\" or \"512Mi\"")));
}

TEST(SchemaTest, QuantityRejectsMalformedStrings) {
  for (const char* q : {R"("")", R"("Mi")", R"("1KB")", R"("1ki")", R"("1.5.5")", R"("1 Gi")",
                        R"("0x10")", R"("1Gi ")"}) {
    EXPECT_THAT(check(Schema::quantity(), q).errors,
                ElementsAre(cause("FieldValueInvalid", "spec")))
        << q;
  }
}

TEST(SchemaTest, QuantityRejectsNegativesAndOtherJsonTypes) {
  for (const char* q : {R"("-1")", "-1", "-0.5", "true", "[]", "{}", "null"}) {
    EXPECT_THAT(check(Schema::quantity(), q).errors,
                ElementsAre(cause("FieldValueInvalid", "spec")))
        << q;
  }
}

TEST(SchemaTest, QuantityRejectsOverlongStrings) {
  json::value longQuantity(std::string(65, '1'));
  EXPECT_THAT(checkValue(Schema::quantity(), longQuantity).errors,
              ElementsAre(cause("FieldValueInvalid", "spec")));
}

// --- string maps ---

TEST(SchemaTest, StringMapAcceptsStringValues) {
  auto o = check(Schema::stringMap(), R"({"team": "payments", "tessera.io/zone": "dc-a"})");
  EXPECT_THAT(o.errors, IsEmpty());
  EXPECT_THAT(o.unknown, IsEmpty());
}

TEST(SchemaTest, StringMapRejectsNonStringValuesAtTheKeysPath) {
  EXPECT_THAT(check(Schema::stringMap(), R"({"team": "a", "replicas": 3})", "spec.labels").errors,
              ElementsAre(cause("FieldValueTypeInvalid", "spec.labels.replicas",
                                "Invalid value: 3: must be of type string")));
}

TEST(SchemaTest, StringMapRejectsNonObjects) {
  EXPECT_THAT(check(Schema::stringMap(), R"(["a"])").errors,
              ElementsAre(cause("FieldValueTypeInvalid", "spec")));
}

// --- formats and rules ---

Schema lowercaseString() {
  return Schema::string().maxLength(8).format(
      "lowercase", [](const json::value& v) -> std::optional<std::string> {
        for (char c : v.get_string()) {
          if (c >= 'A' && c <= 'Z') return "must be lowercase";
        }
        return std::nullopt;
      });
}

TEST(SchemaTest, FormatCheckFailureNamesTheValue) {
  EXPECT_THAT(check(lowercaseString(), R"("ok")").errors, IsEmpty());
  EXPECT_THAT(check(lowercaseString(), R"("NotOk")", "spec.name").errors,
              ElementsAre(cause("FieldValueInvalid", "spec.name",
                                "Invalid value: \"NotOk\": must be lowercase")));
}

TEST(SchemaTest, FormatCheckDoesNotRunOnAValueOfTheWrongType) {
  // The check calls get_string(); it must only ever see strings.
  EXPECT_THAT(check(lowercaseString(), "42").errors,
              ElementsAre(cause("FieldValueTypeInvalid", "spec")));
}

TEST(SchemaTest, FormatCheckDoesNotRunWhenTooLong) {
  EXPECT_THAT(check(lowercaseString(), R"("FAR-TOO-LONG")").errors,
              ElementsAre(cause("FieldValueTooLong", "spec")));
}

TEST(SchemaTest, RuleSeesTheValueAndPathAndMayAddCauses) {
  auto s =
      Schema::object({field("a", Schema::integer()), field("b", Schema::integer())})
          .rule([](const json::value& v, const std::string& path, std::vector<FieldCause>& errors) {
            const auto& o = v.get_object();
            if (o.contains("a") && o.contains("b")) {
              errors.push_back({"FieldValueInvalid", "a and b are exclusive", path});
            }
          });
  EXPECT_THAT(check(s, R"({"a": 1})").errors, IsEmpty());
  EXPECT_THAT(check(s, R"({"a": 1, "b": 2})", "spec.x").errors,
              ElementsAre(cause("FieldValueInvalid", "spec.x", "a and b are exclusive")));
}

TEST(SchemaTest, RuleDoesNotRunOnAValueOfTheWrongType) {
  int calls = 0;
  auto s = Schema::object({}).rule(
      [&calls](const json::value&, const std::string&, std::vector<FieldCause>&) { ++calls; });
  EXPECT_THAT(check(s, "3").errors, ElementsAre(cause("FieldValueTypeInvalid", "spec")));
  EXPECT_EQ(calls, 0);
  EXPECT_THAT(check(s, "{}").errors, IsEmpty());
  EXPECT_EQ(calls, 1);
}

// --- builders ---

TEST(SchemaTest, BuildersCopyOnWriteSoSharedSchemasAreNotMutated) {
  const Schema base = Schema::string();
  Schema limited = base;
  limited.maxLength(2).describe("limited");
  EXPECT_THAT(check(base, R"("abc")").errors, IsEmpty());
  EXPECT_THAT(check(limited, R"("abc")").errors, ElementsAre(cause("FieldValueTooLong", "spec")));
  EXPECT_EQ(base.description(), "");
  EXPECT_EQ(limited.description(), "limited");
}

TEST(SchemaTest, TypeReportsTheDeclaredType) {
  EXPECT_EQ(Schema::string().type(), Schema::Type::kString);
  EXPECT_EQ(Schema::quantity().type(), Schema::Type::kQuantity);
  EXPECT_EQ(Schema::stringMap().type(), Schema::Type::kStringMap);
  EXPECT_EQ(Schema::arrayOf(Schema::integer()).type(), Schema::Type::kArray);
  EXPECT_EQ(Schema::object({}).type(), Schema::Type::kObject);
}

// --- defaults ---

Schema probeSchema() {
  return Schema::object({
      requiredField("path", Schema::string()),
      field("periodSeconds", Schema::integer().defaultsTo(5)),
      field("timeoutSeconds", Schema::integer().defaultsTo(1)),
  });
}

TEST(SchemaTest, ApplyDefaultsFillsMissingFields) {
  json::value v = parseJson(R"({"path": "/healthz"})");
  probeSchema().applyDefaults(v);
  EXPECT_EQ(v, parseJson(R"({"path": "/healthz", "periodSeconds": 5, "timeoutSeconds": 1})"));
}

TEST(SchemaTest, ApplyDefaultsReplacesNull) {
  json::value v = parseJson(R"({"periodSeconds": null})");
  probeSchema().applyDefaults(v);
  EXPECT_EQ(v.as_object().at("periodSeconds"), json::value(5));
}

TEST(SchemaTest, ApplyDefaultsKeepsValuesThatAreSet) {
  json::value v = parseJson(R"({"periodSeconds": 30, "timeoutSeconds": 0})");
  probeSchema().applyDefaults(v);
  EXPECT_EQ(v, parseJson(R"({"periodSeconds": 30, "timeoutSeconds": 0})"));
}

TEST(SchemaTest, ApplyDefaultsRecursesIntoPresentObjectsAndArrayItems) {
  auto s = Schema::object({
      field("probe", probeSchema()),
      field("probes", Schema::arrayOf(probeSchema())),
  });
  json::value v = parseJson(R"({"probe": {}, "probes": [{"periodSeconds": 9}, {}]})");
  s.applyDefaults(v);
  EXPECT_EQ(v, parseJson(R"({
    "probe": {"periodSeconds": 5, "timeoutSeconds": 1},
    "probes": [{"periodSeconds": 9, "timeoutSeconds": 1},
               {"periodSeconds": 5, "timeoutSeconds": 1}]})"));
}

TEST(SchemaTest, ApplyDefaultsDoesNotCreateAbsentObjectsWithoutADefault) {
  auto s = Schema::object({field("probe", probeSchema())});
  json::value v = json::object();
  s.applyDefaults(v);
  EXPECT_EQ(v, json::value(json::object()));
}

TEST(SchemaTest, ApplyDefaultsFillsInsideADefaultedObject) {
  auto s = Schema::object({field("probe", probeSchema().defaultsTo(json::object()))});
  json::value v = json::object();
  s.applyDefaults(v);
  EXPECT_EQ(v, parseJson(R"({"probe": {"periodSeconds": 5, "timeoutSeconds": 1}})"));
}

TEST(SchemaTest, ApplyDefaultsLeavesValuesOfTheWrongTypeAlone) {
  json::value v = parseJson(R"("not an object")");
  probeSchema().applyDefaults(v);
  EXPECT_EQ(v, json::value("not an object"));
}

// --- dropping unknown fields ---

TEST(SchemaTest, DropUnknownRemovesUndeclaredFieldsAtEveryLevel) {
  auto s = Schema::object({
      field("name", Schema::string()),
      field("probe", probeSchema()),
      field("ports", Schema::arrayOf(Schema::object({field("port", Schema::integer())}))),
  });
  json::value v = parseJson(R"({
    "name": "x", "extra": true,
    "probe": {"path": "/", "bogus": 1},
    "ports": [{"port": 80, "proto": "tcp"}, {"port": 81}]})");
  s.dropUnknown(v);
  EXPECT_EQ(v, parseJson(R"({
    "name": "x",
    "probe": {"path": "/"},
    "ports": [{"port": 80}, {"port": 81}]})"));
}

TEST(SchemaTest, DropUnknownKeepsStringMapEntries) {
  auto s = Schema::object({field("labels", Schema::stringMap())});
  json::value v = parseJson(R"({"labels": {"any": "thing", "other": "x"}})");
  s.dropUnknown(v);
  EXPECT_EQ(v, parseJson(R"({"labels": {"any": "thing", "other": "x"}})"));
}

TEST(SchemaTest, ValidateAfterDropUnknownReportsNothingUnknown) {
  auto s = Schema::object({field("probe", probeSchema())});
  json::value v = parseJson(R"({"probe": {"path": "/", "bogus": 1}, "x": 2})");
  s.dropUnknown(v);
  EXPECT_THAT(checkValue(s, v).unknown, IsEmpty());
}

// --- OpenAPI ---

TEST(SchemaTest, OpenApiScalarTypes) {
  EXPECT_EQ(json::value(Schema::string().openApi()), parseJson(R"({"type": "string"})"));
  EXPECT_EQ(json::value(Schema::integer().openApi()), parseJson(R"({"type": "integer"})"));
  EXPECT_EQ(json::value(Schema::number().openApi()), parseJson(R"({"type": "number"})"));
  EXPECT_EQ(json::value(Schema::boolean().openApi()), parseJson(R"({"type": "boolean"})"));
}

TEST(SchemaTest, OpenApiQuantityIsIntOrString) {
  EXPECT_EQ(json::value(Schema::quantity().openApi()), parseJson(R"({
    "x-kubernetes-int-or-string": true,
    "anyOf": [{"type": "integer"}, {"type": "string"}]})"));
}

TEST(SchemaTest, OpenApiStringMapHasStringAdditionalProperties) {
  EXPECT_EQ(json::value(Schema::stringMap().openApi()), parseJson(R"({
    "type": "object", "additionalProperties": {"type": "string"}})"));
}

TEST(SchemaTest, OpenApiShowsConstraints) {
  EXPECT_EQ(
      json::value(Schema::integer().min(1).max(10).defaultsTo(5).describe("Count.").openApi()),
      parseJson(R"({"type": "integer", "description": "Count.", "minimum": 1,
                          "maximum": 10, "default": 5})"));
  EXPECT_EQ(json::value(Schema::string().oneOf({"a", "b"}).maxLength(4).openApi()),
            parseJson(R"({"type": "string", "enum": ["a", "b"], "maxLength": 4})"));
  EXPECT_EQ(json::value(lowercaseString().openApi()),
            parseJson(R"({"type": "string", "maxLength": 8, "format": "lowercase"})"));
}

TEST(SchemaTest, OpenApiObjectListsPropertiesAndRequired) {
  auto s = Schema::object({
      requiredField("region", Schema::string()),
      field("replicas", Schema::integer()),
  });
  EXPECT_EQ(json::value(s.openApi()), parseJson(R"({
    "type": "object",
    "properties": {"region": {"type": "string"}, "replicas": {"type": "integer"}},
    "required": ["region"]})"));
}

TEST(SchemaTest, OpenApiObjectWithoutRequiredFieldsOmitsRequired) {
  auto api = Schema::object({field("a", Schema::string())}).openApi();
  EXPECT_FALSE(api.contains("required"));
  EXPECT_TRUE(api.contains("properties"));
}

TEST(SchemaTest, OpenApiArrayIsAtomicWithItems) {
  EXPECT_EQ(json::value(Schema::arrayOf(Schema::string()).minItems(1).openApi()), parseJson(R"({
    "type": "array", "minItems": 1, "items": {"type": "string"},
    "x-kubernetes-list-type": "atomic"})"));
}

// --- helpers ---

TEST(SchemaHelpersTest, JoinPath) {
  EXPECT_EQ(joinPath("", "spec"), "spec");
  EXPECT_EQ(joinPath("spec", "region"), "spec.region");
  EXPECT_EQ(joinPath("spec.ports[0]", "port"), "spec.ports[0].port");
}

TEST(SchemaHelpersTest, DescribeValueQuotesStringsAndSerializesOthers) {
  EXPECT_EQ(describeValue(json::value("dc-a")), "\"dc-a\"");
  EXPECT_EQ(describeValue(json::value(42)), "42");
  EXPECT_EQ(describeValue(json::value(true)), "true");
  EXPECT_EQ(describeValue(json::value(nullptr)), "null");
  EXPECT_EQ(describeValue(parseJson(R"({"a":[1,2]})")), R"({"a":[1,2]})");
}

TEST(SchemaHelpersTest, DescribeValueTruncatesLongValues) {
  const std::string d = describeValue(json::value(std::string(200, 'x')));
  EXPECT_EQ(d.size(), 80u);
  EXPECT_EQ(d.substr(0, 4), "\"xxx");
  EXPECT_EQ(d.substr(77), "...");
}

}  // namespace
}  // namespace tessera::apiserver
