// Object metadata: DNS-1123 names, qualified names, label values, and validateObjectMeta.
#include "apiserver/object_meta.h"

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
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testutil::cause;
using testutil::parseJson;

struct Outcome {
  std::vector<FieldCause> errors;
  std::vector<std::string> unknown;
};

Outcome validateMeta(std::string_view metaJson, bool allowGenerateName = true) {
  Outcome o;
  validateObjectMeta(parseJson(metaJson), allowGenerateName, o.errors, o.unknown);
  return o;
}

// --- name formats ---

TEST(Dns1123LabelTest, AcceptsLowercaseAlphanumericsAndInnerDashes) {
  EXPECT_TRUE(isDns1123Label("dc-a"));
  EXPECT_TRUE(isDns1123Label("a"));
  EXPECT_TRUE(isDns1123Label("0"));
  EXPECT_TRUE(isDns1123Label("region-1"));
  EXPECT_TRUE(isDns1123Label("a--b"));
  EXPECT_TRUE(isDns1123Label(std::string(63, 'a')));
}

TEST(Dns1123LabelTest, RejectsBadLabels) {
  EXPECT_FALSE(isDns1123Label(""));
  EXPECT_FALSE(isDns1123Label(std::string(64, 'a')));
  EXPECT_FALSE(isDns1123Label("-dc"));
  EXPECT_FALSE(isDns1123Label("dc-"));
  EXPECT_FALSE(isDns1123Label("Dc-a"));
  EXPECT_FALSE(isDns1123Label("dc.a"));
  EXPECT_FALSE(isDns1123Label("dc_a"));
  EXPECT_FALSE(isDns1123Label("dc a"));
}

TEST(Dns1123SubdomainTest, AcceptsDottedLabels) {
  EXPECT_TRUE(isDns1123Subdomain("cluster-a"));
  EXPECT_TRUE(isDns1123Subdomain("cluster-a.dc-a"));
  EXPECT_TRUE(isDns1123Subdomain("a.b.c.d"));
  EXPECT_TRUE(isDns1123Subdomain("tessera.io"));
}

TEST(Dns1123SubdomainTest, AcceptsUpTo253Characters) {
  std::string name;
  while (name.size() < 253) name += name.empty() ? "a" : ".a";
  ASSERT_EQ(name.size(), 253u);
  EXPECT_TRUE(isDns1123Subdomain(name));
  EXPECT_FALSE(isDns1123Subdomain(name + "b"));
}

TEST(Dns1123SubdomainTest, RejectsBadSubdomains) {
  EXPECT_FALSE(isDns1123Subdomain(""));
  EXPECT_FALSE(isDns1123Subdomain(".a"));
  EXPECT_FALSE(isDns1123Subdomain("a."));
  EXPECT_FALSE(isDns1123Subdomain("a..b"));
  EXPECT_FALSE(isDns1123Subdomain("a.-b"));
  EXPECT_FALSE(isDns1123Subdomain("a-.b"));
  EXPECT_FALSE(isDns1123Subdomain("Cluster-A"));
  EXPECT_FALSE(isDns1123Subdomain("cluster_a"));
  EXPECT_FALSE(isDns1123Subdomain("cluster/a"));
}

TEST(QualifiedNameTest, AcceptsPlainAndPrefixedNames) {
  EXPECT_TRUE(isQualifiedName("app"));
  EXPECT_TRUE(isQualifiedName("App_Name.v1-x"));
  EXPECT_TRUE(isQualifiedName("tessera.io/zone"));
  EXPECT_TRUE(isQualifiedName("app.kubernetes.io/Name"));
  EXPECT_TRUE(isQualifiedName(std::string(63, 'n')));
}

TEST(QualifiedNameTest, RejectsBadNames) {
  EXPECT_FALSE(isQualifiedName(""));
  EXPECT_FALSE(isQualifiedName("_app"));
  EXPECT_FALSE(isQualifiedName("app-"));
  EXPECT_FALSE(isQualifiedName("app name"));
  EXPECT_FALSE(isQualifiedName(std::string(64, 'n')));
}

TEST(QualifiedNameTest, RejectsBadPrefixes) {
  EXPECT_FALSE(isQualifiedName("/zone"));
  EXPECT_FALSE(isQualifiedName("tessera.io/"));
  EXPECT_FALSE(isQualifiedName("Tessera.io/zone"));
  EXPECT_FALSE(isQualifiedName("tessera_io/zone"));
  EXPECT_FALSE(isQualifiedName("a/b/c"));
}

TEST(LabelValueTest, AcceptsEmptyAndLabelLikeValues) {
  EXPECT_TRUE(isLabelValue(""));
  EXPECT_TRUE(isLabelValue("payments"));
  EXPECT_TRUE(isLabelValue("v1.2_3-Beta"));
  EXPECT_TRUE(isLabelValue(std::string(63, 'v')));
}

TEST(LabelValueTest, RejectsBadValues) {
  EXPECT_FALSE(isLabelValue(std::string(64, 'v')));
  EXPECT_FALSE(isLabelValue("-v"));
  EXPECT_FALSE(isLabelValue("v."));
  EXPECT_FALSE(isLabelValue("a/b"));
  EXPECT_FALSE(isLabelValue("a b"));
}

// --- validateObjectMeta ---

TEST(ValidateObjectMetaTest, AcceptsATypicalMetadataObject) {
  auto o = validateMeta(R"({
    "name": "demo", "namespace": "payments",
    "labels": {"team": "payments", "tessera.io/zone": "dc-a", "empty": ""},
    "annotations": {"tessera.io/note": "anything at all: / spaces ok"}})");
  EXPECT_THAT(o.errors, IsEmpty());
  EXPECT_THAT(o.unknown, IsEmpty());
}

TEST(ValidateObjectMetaTest, AcceptsServerSetFieldsSentBackByClients) {
  auto o = validateMeta(R"({
    "name": "demo", "uid": "u", "resourceVersion": "12", "generation": 3,
    "creationTimestamp": "2026-11-27T07:34:35Z", "managedFields": []})");
  EXPECT_THAT(o.errors, IsEmpty());
  EXPECT_THAT(o.unknown, IsEmpty());
}

TEST(ValidateObjectMetaTest, MetadataMustBeAnObject) {
  EXPECT_THAT(validateMeta(R"("demo")").errors,
              ElementsAre(cause("FieldValueTypeInvalid", "metadata", "must be an object")));
}

TEST(ValidateObjectMetaTest, NameIsRequired) {
  EXPECT_THAT(validateMeta("{}").errors, ElementsAre(cause("FieldValueRequired", "metadata.name",
                                                           "name or generateName is required")));
}

TEST(ValidateObjectMetaTest, InvalidNameExplainsTheFormat) {
  auto o = validateMeta(R"({"name": "Demo_App"})");
  ASSERT_THAT(o.errors, ElementsAre(cause("FieldValueInvalid", "metadata.name")));
  EXPECT_THAT(o.errors[0].message, HasSubstr("Invalid value: \"Demo_App\""));
  EXPECT_THAT(o.errors[0].message, HasSubstr("lowercase RFC 1123 subdomain"));
}

TEST(ValidateObjectMetaTest, NonStringNameIsATypeError) {
  auto o = validateMeta(R"({"name": 42})");
  EXPECT_THAT(o.errors, ::testing::Contains(
                            cause("FieldValueTypeInvalid", "metadata.name", "must be a string")));
}

TEST(ValidateObjectMetaTest, GenerateNameStandsInForTheName) {
  EXPECT_THAT(validateMeta(R"({"generateName": "demo-"})").errors, IsEmpty());
}

TEST(ValidateObjectMetaTest, GenerateNameIsRefusedWhereNotAllowed) {
  EXPECT_THAT(validateMeta(R"({"generateName": "demo-"})", false).errors,
              ElementsAre(cause("FieldValueRequired", "metadata.name")));
}

TEST(ValidateObjectMetaTest, GenerateNameMustPrefixAValidName) {
  EXPECT_THAT(validateMeta(R"({"generateName": "Demo-"})").errors,
              ElementsAre(cause("FieldValueInvalid", "metadata.generateName",
                                "Invalid value: \"Demo-\": a prefix of a lowercase RFC 1123 "
                                "subdomain")));
  EXPECT_THAT(validateMeta(R"({"generateName": "-demo"})").errors,
              ElementsAre(cause("FieldValueInvalid", "metadata.generateName")));
}

TEST(ValidateObjectMetaTest, GenerateNameLeavesRoomForTheSuffix) {
  json::object meta{{"generateName", std::string(247, 'a')}};
  std::vector<FieldCause> errors;
  std::vector<std::string> unknown;
  validateObjectMeta(meta, true, errors, unknown);
  EXPECT_THAT(errors, IsEmpty());
  meta["generateName"] = std::string(248, 'a');
  validateObjectMeta(meta, true, errors, unknown);
  EXPECT_THAT(errors, ElementsAre(cause("FieldValueInvalid", "metadata.generateName")));
}

TEST(ValidateObjectMetaTest, ExplicitNameWinsOverGenerateName) {
  EXPECT_THAT(validateMeta(R"({"name": "demo", "generateName": "NOT VALID"})").errors, IsEmpty());
}

TEST(ValidateObjectMetaTest, NamespaceMustBeADnsLabel) {
  auto o = validateMeta(R"({"name": "demo", "namespace": "team.payments"})");
  ASSERT_THAT(o.errors, ElementsAre(cause("FieldValueInvalid", "metadata.namespace")));
  EXPECT_THAT(o.errors[0].message, HasSubstr("\"team.payments\""));
}

TEST(ValidateObjectMetaTest, UnknownFieldsAreReportedWithTheirPath) {
  auto o = validateMeta(R"({"name": "demo", "lables": {}, "ownerReferences": []})");
  EXPECT_THAT(o.errors, IsEmpty());
  EXPECT_THAT(o.unknown,
              ::testing::UnorderedElementsAre("metadata.lables", "metadata.ownerReferences"));
}

TEST(ValidateObjectMetaTest, KnownFieldsListMatchesWhatIsAccepted) {
  EXPECT_THAT(knownMetadataFields(),
              ::testing::UnorderedElementsAre("name", "generateName", "namespace", "uid",
                                              "resourceVersion", "generation", "creationTimestamp",
                                              "labels", "annotations", "managedFields"));
}

TEST(ValidateObjectMetaTest, InvalidLabelKey) {
  auto o = validateMeta(R"({"name": "demo", "labels": {"-team": "payments"}})");
  ASSERT_THAT(o.errors, ElementsAre(cause("FieldValueInvalid", "metadata.labels")));
  EXPECT_THAT(o.errors[0].message, HasSubstr("Invalid value: \"-team\""));
}

TEST(ValidateObjectMetaTest, InvalidLabelValue) {
  auto o = validateMeta(R"({"name": "demo", "labels": {"team": "pay ments"}})");
  ASSERT_THAT(o.errors, ElementsAre(cause("FieldValueInvalid", "metadata.labels")));
  EXPECT_THAT(o.errors[0].message, HasSubstr("Invalid value: \"pay ments\""));
  EXPECT_THAT(o.errors[0].message, HasSubstr("a valid label must be an empty string"));
}

TEST(ValidateObjectMetaTest, NonStringLabelValue) {
  EXPECT_THAT(validateMeta(R"({"name": "demo", "labels": {"replicas": 3}})").errors,
              ElementsAre(cause("FieldValueTypeInvalid", "metadata.labels.replicas",
                                "label values must be strings")));
}

TEST(ValidateObjectMetaTest, LabelsMustBeAnObject) {
  EXPECT_THAT(validateMeta(R"({"name": "demo", "labels": ["team"]})").errors,
              ElementsAre(cause("FieldValueTypeInvalid", "metadata.labels")));
  EXPECT_THAT(validateMeta(R"({"name": "demo", "labels": null})").errors, IsEmpty());
}

TEST(ValidateObjectMetaTest, EveryBadLabelIsReported) {
  auto o = validateMeta(R"({"name": "demo", "labels": {"a/b/c": "x", "ok": "-bad", "n": 1}})");
  EXPECT_EQ(o.errors.size(), 3u);
}

TEST(ValidateObjectMetaTest, InvalidAnnotationKey) {
  auto o = validateMeta(R"({"name": "demo", "annotations": {"not valid": "x"}})");
  ASSERT_THAT(o.errors, ElementsAre(cause("FieldValueInvalid", "metadata.annotations")));
  EXPECT_THAT(o.errors[0].message, HasSubstr("\"not valid\""));
}

TEST(ValidateObjectMetaTest, NonStringAnnotationValue) {
  EXPECT_THAT(validateMeta(R"({"name": "demo", "annotations": {"note": {"x": 1}}})").errors,
              ElementsAre(cause("FieldValueTypeInvalid", "metadata.annotations.note",
                                "annotation values must be strings")));
}

TEST(ValidateObjectMetaTest, AnnotationsMustBeAnObject) {
  EXPECT_THAT(validateMeta(R"({"name": "demo", "annotations": "x"})").errors,
              ElementsAre(cause("FieldValueTypeInvalid", "metadata.annotations")));
}

TEST(ValidateObjectMetaTest, AnnotationsAreLimitedTo256KiBInTotal) {
  json::object meta{{"name", "demo"},
                    {"annotations", json::object{{"a", std::string(128 * 1024, 'x')},
                                                 {"b", std::string(128 * 1024 - 2, 'x')}}}};
  std::vector<FieldCause> errors;
  std::vector<std::string> unknown;
  validateObjectMeta(meta, true, errors, unknown);
  EXPECT_THAT(errors, IsEmpty());  // exactly 262144 bytes of keys and values

  meta["annotations"].as_object()["c"] = "";
  validateObjectMeta(meta, true, errors, unknown);
  EXPECT_THAT(errors, ElementsAre(cause("FieldValueTooLong", "metadata.annotations",
                                        "Too long: must have at most 262144 bytes")));
}

}  // namespace
}  // namespace tessera::apiserver
