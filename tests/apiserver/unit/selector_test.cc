// Label and field selectors: Kubernetes syntax, errors, and matching semantics.
#include "apiserver/selector.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>
#include <vector>

#include "tests/apiserver/unit/test_json.h"

namespace tessera::apiserver {
namespace {

namespace json = boost::json;
using Op = LabelRequirement::Op;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testutil::parseObject;

LabelSelector mustParse(std::string_view text) {
  auto r = LabelSelector::parse(text);
  EXPECT_TRUE(r.isOk()) << text << ": " << r.status().toString();
  return r.isOk() ? std::move(r).value() : LabelSelector();
}

bool selects(std::string_view selector, std::string_view labelsJson) {
  json::object labels = parseObject(labelsJson);
  return mustParse(selector).matches(&labels);
}

void expectParseError(std::string_view text, std::string_view why) {
  auto r = LabelSelector::parse(text);
  ASSERT_FALSE(r.isOk()) << "parsed: " << text;
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr(std::string(why))) << text;
}

// --- parsing ---

TEST(LabelSelectorParseTest, EmptyStringSelectsEverything) {
  auto sel = mustParse("");
  EXPECT_TRUE(sel.empty());
  EXPECT_TRUE(sel.matches(nullptr));
  json::object labels = parseObject(R"({"a": "b"})");
  EXPECT_TRUE(sel.matches(&labels));
  EXPECT_TRUE(mustParse("   ").empty());
}

TEST(LabelSelectorParseTest, ParsesEquality) {
  auto sel = mustParse("tier=web");
  ASSERT_EQ(sel.requirements().size(), 1u);
  EXPECT_EQ(sel.requirements()[0].key, "tier");
  EXPECT_EQ(sel.requirements()[0].op, Op::kEquals);
  EXPECT_THAT(sel.requirements()[0].values, ElementsAre("web"));
  auto doubled = mustParse("tier==web");
  ASSERT_EQ(doubled.requirements().size(), 1u);
  EXPECT_EQ(doubled.requirements()[0].op, Op::kEquals);
  EXPECT_THAT(doubled.requirements()[0].values, ElementsAre("web"));
}

TEST(LabelSelectorParseTest, ParsesInequality) {
  auto sel = mustParse("env!=prod");
  ASSERT_EQ(sel.requirements().size(), 1u);
  EXPECT_EQ(sel.requirements()[0].key, "env");
  EXPECT_EQ(sel.requirements()[0].op, Op::kNotEquals);
  EXPECT_THAT(sel.requirements()[0].values, ElementsAre("prod"));
}

TEST(LabelSelectorParseTest, ParsesSetMembership) {
  auto sel = mustParse("zone in (dc-a,dc-b),tier notin (db)");
  ASSERT_EQ(sel.requirements().size(), 2u);
  EXPECT_EQ(sel.requirements()[0].key, "zone");
  EXPECT_EQ(sel.requirements()[0].op, Op::kIn);
  EXPECT_THAT(sel.requirements()[0].values, ElementsAre("dc-a", "dc-b"));
  EXPECT_EQ(sel.requirements()[1].key, "tier");
  EXPECT_EQ(sel.requirements()[1].op, Op::kNotIn);
  EXPECT_THAT(sel.requirements()[1].values, ElementsAre("db"));
}

TEST(LabelSelectorParseTest, ParsesExistenceAndAbsence) {
  auto sel = mustParse("canary,!legacy");
  ASSERT_EQ(sel.requirements().size(), 2u);
  EXPECT_EQ(sel.requirements()[0].key, "canary");
  EXPECT_EQ(sel.requirements()[0].op, Op::kExists);
  EXPECT_TRUE(sel.requirements()[0].values.empty());
  EXPECT_EQ(sel.requirements()[1].key, "legacy");
  EXPECT_EQ(sel.requirements()[1].op, Op::kDoesNotExist);
}

TEST(LabelSelectorParseTest, ParsesTheHeaderExample) {
  auto sel = mustParse("tier=web,env!=prod,zone in (dc-a,dc-b),!legacy,canary");
  ASSERT_EQ(sel.requirements().size(), 5u);
  EXPECT_EQ(sel.requirements()[0].op, Op::kEquals);
  EXPECT_EQ(sel.requirements()[1].op, Op::kNotEquals);
  EXPECT_EQ(sel.requirements()[2].op, Op::kIn);
  EXPECT_EQ(sel.requirements()[3].op, Op::kDoesNotExist);
  EXPECT_EQ(sel.requirements()[4].op, Op::kExists);
}

TEST(LabelSelectorParseTest, IgnoresWhitespaceAroundTokens) {
  auto sel = mustParse("  tier = web ,  zone in ( dc-a , dc-b ) , ! legacy ");
  ASSERT_EQ(sel.requirements().size(), 3u);
  EXPECT_EQ(sel.requirements()[0].key, "tier");
  EXPECT_THAT(sel.requirements()[0].values, ElementsAre("web"));
  EXPECT_THAT(sel.requirements()[1].values, ElementsAre("dc-a", "dc-b"));
  EXPECT_EQ(sel.requirements()[2].key, "legacy");
  EXPECT_EQ(sel.requirements()[2].op, Op::kDoesNotExist);
}

TEST(LabelSelectorParseTest, AcceptsPrefixedKeys) {
  auto sel = mustParse("tessera.io/zone=dc-a");
  ASSERT_EQ(sel.requirements().size(), 1u);
  EXPECT_EQ(sel.requirements()[0].key, "tessera.io/zone");
}

TEST(LabelSelectorParseTest, AcceptsAnEmptyValue) {
  auto sel = mustParse("tier=");
  ASSERT_EQ(sel.requirements().size(), 1u);
  EXPECT_THAT(sel.requirements()[0].values, ElementsAre(""));
}

TEST(LabelSelectorParseTest, KeyNamedInIsAnExistenceTest) {
  auto sel = mustParse("in");
  ASSERT_EQ(sel.requirements().size(), 1u);
  EXPECT_EQ(sel.requirements()[0].key, "in");
  EXPECT_EQ(sel.requirements()[0].op, Op::kExists);
}

TEST(LabelSelectorParseTest, RejectsAMissingKey) {
  expectParseError("=web", "a label key is required");
  expectParseError("!", "a label key is required");
  expectParseError("tier=web,", "a label key is required");
}

TEST(LabelSelectorParseTest, RejectsInvalidKeys) {
  expectParseError("-tier=web", "invalid label key \"-tier\"");
  expectParseError("a/b/c=web", "invalid label key");
  expectParseError("Bad_Prefix.io/x=y", "invalid label key");
  expectParseError(std::string(64, 'k') + "=v", "invalid label key");
}

TEST(LabelSelectorParseTest, RejectsInvalidValues) {
  expectParseError("tier=-web", "invalid label value: \"-web\"");
  expectParseError("tier=web/1", "invalid label value");
  expectParseError("zone in (dc-a,dc_b_)", "invalid label value: \"dc_b_\"");
  expectParseError("tier=" + std::string(64, 'v'), "invalid label value");
}

TEST(LabelSelectorParseTest, RejectsMalformedValueSets) {
  expectParseError("zone in ()", "values set can't be empty");
  expectParseError("zone notin ()", "values set can't be empty");
  expectParseError("zone in (dc-a", "expected ',' or ')'");
  expectParseError("zone in (dc-a dc-b)", "expected ',' or ')'");
  expectParseError("zone in dc-a", "unexpected text");
}

TEST(LabelSelectorParseTest, RejectsOrderingOperators) {
  expectParseError("replicas<3", "operators < and > are not supported");
  expectParseError("replicas > 3", "operators < and > are not supported");
}

TEST(LabelSelectorParseTest, RejectsMissingCommaBetweenRequirements) {
  expectParseError("tier=web env=prod", "found unexpected text at position");
  expectParseError("a=b=c", "unexpected text");
  expectParseError("!legacy=1", "unexpected text");
}

TEST(LabelSelectorParseTest, ErrorQuotesTheWholeSelector) {
  auto r = LabelSelector::parse("tier=web,=x");
  ASSERT_FALSE(r.isOk());
  EXPECT_THAT(r.status().message(),
              HasSubstr("unable to parse requirement in label selector \"tier=web,=x\""));
}

// --- matching ---

TEST(LabelSelectorMatchTest, EqualityNeedsTheKeyWithThatValue) {
  EXPECT_TRUE(selects("tier=web", R"({"tier": "web", "env": "prod"})"));
  EXPECT_FALSE(selects("tier=web", R"({"tier": "db"})"));
  EXPECT_FALSE(selects("tier=web", R"({})"));
  EXPECT_TRUE(selects("tier==web", R"({"tier": "web"})"));
  EXPECT_FALSE(selects("tier=web", R"({"tier": "Web"})"));  // case-sensitive
  EXPECT_FALSE(selects("Tier=web", R"({"tier": "web"})"));
}

TEST(LabelSelectorMatchTest, InequalityMatchesOtherValues) {
  EXPECT_TRUE(selects("env!=prod", R"({"env": "dev"})"));
  EXPECT_FALSE(selects("env!=prod", R"({"env": "prod"})"));
}

TEST(LabelSelectorMatchTest, InequalityMatchesWhenTheKeyIsAbsent) {
  EXPECT_TRUE(selects("env!=prod", R"({"tier": "web"})"));
  EXPECT_TRUE(mustParse("env!=prod").matches(nullptr));
}

TEST(LabelSelectorMatchTest, InMatchesAnyListedValue) {
  EXPECT_TRUE(selects("zone in (dc-a,dc-b)", R"({"zone": "dc-a"})"));
  EXPECT_TRUE(selects("zone in (dc-a,dc-b)", R"({"zone": "dc-b"})"));
  EXPECT_FALSE(selects("zone in (dc-a,dc-b)", R"({"zone": "dc-c"})"));
}

TEST(LabelSelectorMatchTest, InDoesNotMatchWhenTheKeyIsAbsent) {
  EXPECT_FALSE(selects("zone in (dc-a,dc-b)", R"({})"));
  EXPECT_FALSE(mustParse("zone in (dc-a)").matches(nullptr));
}

TEST(LabelSelectorMatchTest, NotInExcludesListedValues) {
  EXPECT_FALSE(selects("zone notin (dc-a,dc-b)", R"({"zone": "dc-a"})"));
  EXPECT_TRUE(selects("zone notin (dc-a,dc-b)", R"({"zone": "dc-c"})"));
}

TEST(LabelSelectorMatchTest, NotInMatchesWhenTheKeyIsAbsent) {
  EXPECT_TRUE(selects("zone notin (dc-a,dc-b)", R"({"tier": "web"})"));
  EXPECT_TRUE(mustParse("zone notin (dc-a)").matches(nullptr));
}

TEST(LabelSelectorMatchTest, ExistsNeedsTheKeyWithAnyValue) {
  EXPECT_TRUE(selects("canary", R"({"canary": "true"})"));
  EXPECT_TRUE(selects("canary", R"({"canary": ""})"));
  EXPECT_FALSE(selects("canary", R"({"stable": "true"})"));
  EXPECT_FALSE(mustParse("canary").matches(nullptr));
}

TEST(LabelSelectorMatchTest, DoesNotExistNeedsTheKeyAbsent) {
  EXPECT_TRUE(selects("!legacy", R"({"tier": "web"})"));
  EXPECT_FALSE(selects("!legacy", R"({"legacy": "yes"})"));
  EXPECT_TRUE(mustParse("!legacy").matches(nullptr));
}

TEST(LabelSelectorMatchTest, AllRequirementsMustHold) {
  const char* sel = "tier=web,env!=prod,zone in (dc-a,dc-b),!legacy,canary";
  EXPECT_TRUE(selects(sel, R"({"tier": "web", "env": "dev", "zone": "dc-b", "canary": "1"})"));
  EXPECT_FALSE(selects(sel, R"({"tier": "web", "env": "dev", "zone": "dc-b"})"));
  EXPECT_FALSE(selects(
      sel, R"({"tier": "web", "env": "dev", "zone": "dc-b", "canary": "1", "legacy": ""})"));
  EXPECT_FALSE(selects(sel, R"({"tier": "web", "env": "prod", "zone": "dc-b", "canary": "1"})"));
}

TEST(LabelSelectorMatchTest, EmptyValueEqualityMatchesAnEmptyLabel) {
  EXPECT_TRUE(selects("tier=", R"({"tier": ""})"));
  EXPECT_FALSE(selects("tier=", R"({"tier": "web"})"));
  EXPECT_FALSE(selects("tier=", R"({})"));
}

// --- field selectors ---

const std::vector<std::string> kMetaFields = {"metadata.name", "metadata.namespace"};

FieldSelector mustParseFields(std::string_view text,
                              const std::vector<std::string>& supported = kMetaFields) {
  auto r = FieldSelector::parse(text, supported);
  EXPECT_TRUE(r.isOk()) << text << ": " << r.status().toString();
  return r.isOk() ? std::move(r).value() : FieldSelector();
}

TEST(FieldSelectorTest, EmptyStringSelectsEverything) {
  auto sel = mustParseFields("");
  EXPECT_TRUE(sel.empty());
  EXPECT_TRUE(sel.matches(parseObject(R"({"metadata": {"name": "x"}})")));
  EXPECT_TRUE(mustParseFields(" , ").empty());
}

TEST(FieldSelectorTest, ParsesEqualsDoubleEqualsAndNotEquals) {
  auto sel = mustParseFields("metadata.name=c1, metadata.namespace==prod ,metadata.name!=c2");
  ASSERT_EQ(sel.requirements().size(), 3u);
  EXPECT_EQ(sel.requirements()[0].field, "metadata.name");
  EXPECT_EQ(sel.requirements()[0].value, "c1");
  EXPECT_FALSE(sel.requirements()[0].negate);
  EXPECT_EQ(sel.requirements()[1].field, "metadata.namespace");
  EXPECT_EQ(sel.requirements()[1].value, "prod");
  EXPECT_FALSE(sel.requirements()[1].negate);
  EXPECT_EQ(sel.requirements()[2].value, "c2");
  EXPECT_TRUE(sel.requirements()[2].negate);
}

TEST(FieldSelectorTest, TrimsSpacesAroundTheOperator) {
  auto sel = mustParseFields("metadata.name = c1");
  ASSERT_EQ(sel.requirements().size(), 1u);
  EXPECT_EQ(sel.requirements()[0].field, "metadata.name");
  EXPECT_EQ(sel.requirements()[0].value, "c1");
}

TEST(FieldSelectorTest, RejectsATermWithoutOperator) {
  auto r = FieldSelector::parse("metadata.name", kMetaFields);
  ASSERT_FALSE(r.isOk());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("field=value or field!=value"));
}

TEST(FieldSelectorTest, RejectsUnsupportedFieldsListingTheSupportedOnes) {
  auto r = FieldSelector::parse("spec.region=r1", kMetaFields);
  ASSERT_FALSE(r.isOk());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(),
            "field label not supported: \"spec.region\" (supported: metadata.name, "
            "metadata.namespace)");
}

TEST(FieldSelectorTest, ExtraSupportedFieldsAreAccepted) {
  auto sel = mustParseFields("verb=create,responseStatus.code=403",
                             {"metadata.name", "verb", "responseStatus.code"});
  EXPECT_EQ(sel.requirements().size(), 2u);
}

TEST(FieldSelectorTest, MatchesByDottedPath) {
  auto obj = parseObject(R"({"metadata": {"name": "c1", "namespace": "prod"}})");
  EXPECT_TRUE(mustParseFields("metadata.name=c1").matches(obj));
  EXPECT_FALSE(mustParseFields("metadata.name=c2").matches(obj));
  EXPECT_TRUE(mustParseFields("metadata.name=c1,metadata.namespace=prod").matches(obj));
  EXPECT_FALSE(mustParseFields("metadata.name=c1,metadata.namespace=dev").matches(obj));
}

TEST(FieldSelectorTest, NotEqualsMatchesOtherValues) {
  auto obj = parseObject(R"({"metadata": {"name": "c1", "namespace": "prod"}})");
  EXPECT_TRUE(mustParseFields("metadata.namespace!=kube-system").matches(obj));
  EXPECT_FALSE(mustParseFields("metadata.namespace!=prod").matches(obj));
}

TEST(FieldSelectorTest, MissingNamespaceEqualsTheEmptyString) {
  // Cluster-scoped objects have no namespace; Kubernetes treats it as "".
  auto obj = parseObject(R"({"metadata": {"name": "c1"}})");
  EXPECT_TRUE(mustParseFields("metadata.namespace=").matches(obj));
  EXPECT_FALSE(mustParseFields("metadata.namespace=prod").matches(obj));
  EXPECT_TRUE(mustParseFields("metadata.namespace!=prod").matches(obj));
}

TEST(FieldSelectorTest, MissingFieldDoesNotEqualAValue) {
  auto obj = parseObject(R"({"metadata": {}})");
  EXPECT_FALSE(mustParseFields("metadata.name=c1").matches(obj));
  EXPECT_TRUE(mustParseFields("metadata.name!=c1").matches(obj));
}

TEST(FieldSelectorTest, NumbersCompareByTheirTextForm) {
  auto obj = parseObject(R"({"verb": "create", "responseStatus": {"code": 403}})");
  const std::vector<std::string> audit = {"verb", "responseStatus.code"};
  EXPECT_TRUE(mustParseFields("responseStatus.code=403", audit).matches(obj));
  EXPECT_FALSE(mustParseFields("responseStatus.code=200", audit).matches(obj));
  EXPECT_TRUE(mustParseFields("responseStatus.code!=200,verb=create", audit).matches(obj));
}

}  // namespace
}  // namespace tessera::apiserver
