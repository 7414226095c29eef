// JSON merge patch (RFC 7386) and JSON patch (RFC 6902), including the RFCs' own examples.
#include "apiserver/patch.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>

#include "tests/apiserver/unit/test_json.h"

namespace tessera::apiserver {
namespace {

namespace json = boost::json;
using ::testing::HasSubstr;
using testutil::parseJson;

json::value merge(std::string_view target, std::string_view patch) {
  return applyMergePatch(parseJson(target), parseJson(patch));
}

Result<json::value> jsonPatch(std::string_view target, std::string_view patch) {
  return applyJsonPatch(parseJson(target), parseJson(patch));
}

// Applies a JSON patch that must succeed and returns the result.
json::value patched(std::string_view target, std::string_view patch) {
  auto r = jsonPatch(target, patch);
  EXPECT_TRUE(r.isOk()) << r.status().toString();
  return r.isOk() ? std::move(r).value() : json::value();
}

// Applies a JSON patch that must fail and returns the error message.
std::string patchError(std::string_view target, std::string_view patch) {
  auto r = jsonPatch(target, patch);
  EXPECT_FALSE(r.isOk()) << "unexpectedly applied: " << (r.isOk() ? json::serialize(*r) : "");
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  return r.status().message();
}

// --- RFC 7386 merge patch ---

TEST(MergePatchTest, Rfc7386Section3Example) {
  EXPECT_EQ(merge(R"({
      "title": "Goodbye!",
      "author": {"givenName": "John", "familyName": "Doe"},
      "tags": ["example", "sample"],
      "content": "This will be unchanged"})",
                  R"({
      "title": "Hello!",
      "phoneNumber": "+01-123-456-7890",
      "author": {"familyName": null},
      "tags": ["example"]})"),
            parseJson(R"({
      "title": "Hello!",
      "author": {"givenName": "John"},
      "tags": ["example"],
      "content": "This will be unchanged",
      "phoneNumber": "+01-123-456-7890"})"));
}

struct PatchCase {
  const char* what;
  const char* target;
  const char* patch;
  const char* result;
};

TEST(MergePatchTest, Rfc7386AppendixExamples) {
  const PatchCase cases[] = {
      {"replaces a member", R"({"a":"b"})", R"({"a":"c"})", R"({"a":"c"})"},
      {"adds a member", R"({"a":"b"})", R"({"b":"c"})", R"({"a":"b","b":"c"})"},
      {"null removes the only member", R"({"a":"b"})", R"({"a":null})", R"({})"},
      {"null removes one member", R"({"a":"b","b":"c"})", R"({"a":null})", R"({"b":"c"})"},
      {"array replaced by string", R"({"a":["b"]})", R"({"a":"c"})", R"({"a":"c"})"},
      {"string replaced by array", R"({"a":"c"})", R"({"a":["b"]})", R"({"a":["b"]})"},
      {"nested objects merge", R"({"a":{"b":"c"}})", R"({"a":{"b":"d","c":null}})",
       R"({"a":{"b":"d"}})"},
      {"arrays are replaced whole", R"({"a":[{"b":"c"}]})", R"({"a":[1]})", R"({"a":[1]})"},
      {"array patch replaces array", R"(["a","b"])", R"(["c","d"])", R"(["c","d"])"},
      {"array patch replaces object", R"({"a":"b"})", R"(["c"])", R"(["c"])"},
      {"null patch replaces everything", R"({"a":"foo"})", "null", "null"},
      {"string patch replaces everything", R"({"a":"foo"})", R"("bar")", R"("bar")"},
      {"nulls in the target are kept", R"({"e":null})", R"({"a":1})", R"({"e":null,"a":1})"},
      {"object patch replaces an array", R"([1,2])", R"({"a":"b","c":null})", R"({"a":"b"})"},
      {"nulls inside new objects are dropped", R"({})", R"({"a":{"bb":{"ccc":null}}})",
       R"({"a":{"bb":{}}})"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(merge(c.target, c.patch), parseJson(c.result)) << c.what;
  }
}

TEST(MergePatchTest, EmptyPatchChangesNothing) {
  EXPECT_EQ(merge(R"({"a":{"b":1}})", "{}"), parseJson(R"({"a":{"b":1}})"));
}

TEST(MergePatchTest, RemovingAnAbsentMemberIsHarmless) {
  EXPECT_EQ(merge(R"({"a":1})", R"({"zzz":null})"), parseJson(R"({"a":1})"));
}

TEST(MergePatchTest, DoesNotModifyItsInputs) {
  const json::value target = parseJson(R"({"spec":{"replicas":1,"zone":"a"}})");
  const json::value patch = parseJson(R"({"spec":{"replicas":3,"zone":null}})");
  EXPECT_EQ(applyMergePatch(target, patch), parseJson(R"({"spec":{"replicas":3}})"));
  EXPECT_EQ(target, parseJson(R"({"spec":{"replicas":1,"zone":"a"}})"));
  EXPECT_EQ(patch, parseJson(R"({"spec":{"replicas":3,"zone":null}})"));
}

// --- RFC 6902 JSON patch: the appendix examples ---

TEST(JsonPatchTest, Rfc6902AppendixExamplesThatApply) {
  const PatchCase cases[] = {
      {"A.1 add an object member", R"({"foo":"bar"})",
       R"([{"op":"add","path":"/baz","value":"qux"}])", R"({"baz":"qux","foo":"bar"})"},
      {"A.2 add an array element", R"({"foo":["bar","baz"]})",
       R"([{"op":"add","path":"/foo/1","value":"qux"}])", R"({"foo":["bar","qux","baz"]})"},
      {"A.3 remove an object member", R"({"baz":"qux","foo":"bar"})",
       R"([{"op":"remove","path":"/baz"}])", R"({"foo":"bar"})"},
      {"A.4 remove an array element", R"({"foo":["bar","qux","baz"]})",
       R"([{"op":"remove","path":"/foo/1"}])", R"({"foo":["bar","baz"]})"},
      {"A.5 replace a value", R"({"baz":"qux","foo":"bar"})",
       R"([{"op":"replace","path":"/baz","value":"boo"}])", R"({"baz":"boo","foo":"bar"})"},
      {"A.6 move a value", R"({"foo":{"bar":"baz","waldo":"fred"},"qux":{"corge":"grault"}})",
       R"([{"op":"move","from":"/foo/waldo","path":"/qux/thud"}])",
       R"({"foo":{"bar":"baz"},"qux":{"corge":"grault","thud":"fred"}})"},
      {"A.7 move an array element", R"({"foo":["all","grass","cows","eat"]})",
       R"([{"op":"move","from":"/foo/1","path":"/foo/3"}])",
       R"({"foo":["all","cows","eat","grass"]})"},
      {"A.8 successful tests", R"({"baz":"qux","foo":["a",2,"c"]})",
       R"([{"op":"test","path":"/baz","value":"qux"},{"op":"test","path":"/foo/1","value":2}])",
       R"({"baz":"qux","foo":["a",2,"c"]})"},
      {"A.10 add a nested member object", R"({"foo":"bar"})",
       R"([{"op":"add","path":"/child","value":{"grandchild":{}}}])",
       R"({"foo":"bar","child":{"grandchild":{}}})"},
      {"A.11 unrecognized members are ignored", R"({"foo":"bar"})",
       R"([{"op":"add","path":"/baz","value":"qux","xyz":123}])", R"({"foo":"bar","baz":"qux"})"},
      {"A.14 ~01 is ~1, not /", R"({"/":9,"~1":10})", R"([{"op":"test","path":"/~01","value":10}])",
       R"({"/":9,"~1":10})"},
      {"A.16 add an array value with -", R"({"foo":["bar"]})",
       R"([{"op":"add","path":"/foo/-","value":["abc","def"]}])",
       R"({"foo":["bar",["abc","def"]]})"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(patched(c.target, c.patch), parseJson(c.result)) << c.what;
  }
}

TEST(JsonPatchTest, Rfc6902AppendixExamplesThatFail) {
  EXPECT_THAT(patchError(R"({"baz":"qux"})", R"([{"op":"test","path":"/baz","value":"bar"}])"),
              HasSubstr("test failed at /baz"))
      << "A.9 failed test";
  EXPECT_THAT(patchError(R"({"foo":"bar"})", R"([{"op":"add","path":"/baz/bat","value":"qux"}])"),
              HasSubstr("\"baz\" does not exist"))
      << "A.12 add to a nonexistent target";
  EXPECT_THAT(patchError(R"({"/":9,"~1":10})", R"([{"op":"test","path":"/~01","value":"10"}])"),
              HasSubstr("test failed"))
      << "A.15 strings and numbers are not equal";
}

// --- JSON patch: further behaviour ---

TEST(JsonPatchTest, EmptyPatchReturnsTheTarget) {
  EXPECT_EQ(patched(R"({"a":1})", "[]"), parseJson(R"({"a":1})"));
}

TEST(JsonPatchTest, OperationsApplyInOrder) {
  EXPECT_EQ(patched(R"({})", R"([
                {"op":"add","path":"/a","value":1},
                {"op":"replace","path":"/a","value":2},
                {"op":"copy","from":"/a","path":"/b"},
                {"op":"test","path":"/b","value":2}])"),
            parseJson(R"({"a":2,"b":2})"));
}

TEST(JsonPatchTest, AddReplacesAnExistingMember) {
  EXPECT_EQ(patched(R"({"a":1})", R"([{"op":"add","path":"/a","value":[1]}])"),
            parseJson(R"({"a":[1]})"));
}

TEST(JsonPatchTest, AddAtTheArrayLengthAppends) {
  EXPECT_EQ(patched(R"({"a":[1,2]})", R"([{"op":"add","path":"/a/2","value":3}])"),
            parseJson(R"({"a":[1,2,3]})"));
}

TEST(JsonPatchTest, AddBeyondTheArrayLengthFails) {
  EXPECT_THAT(patchError(R"({"a":[1,2]})", R"([{"op":"add","path":"/a/3","value":3}])"),
              HasSubstr("out of range"));
}

TEST(JsonPatchTest, ArrayIndicesMustBeCanonicalNumbers) {
  EXPECT_THAT(patchError(R"({"a":[1,2]})", R"([{"op":"replace","path":"/a/01","value":3}])"),
              HasSubstr("invalid array index \"01\""));
  EXPECT_THAT(patchError(R"({"a":[1,2]})", R"([{"op":"remove","path":"/a/-1"}])"),
              HasSubstr("invalid array index"));
  EXPECT_THAT(patchError(R"({"a":[1,2]})", R"([{"op":"remove","path":"/a/x"}])"),
              HasSubstr("invalid array index"));
}

TEST(JsonPatchTest, DashIsOnlyValidForAdd) {
  EXPECT_THAT(patchError(R"({"a":[1,2]})", R"([{"op":"replace","path":"/a/-","value":3}])"),
              HasSubstr("invalid array index \"-\""));
  patchError(R"({"a":[1,2]})", R"([{"op":"remove","path":"/a/-"}])");
  patchError(R"({"a":[1,2]})", R"([{"op":"test","path":"/a/-","value":2}])");
}

TEST(JsonPatchTest, EscapedPointerTokensAddressKeysWithSlashAndTilde) {
  EXPECT_EQ(patched(R"({})", R"([
                {"op":"add","path":"/tessera.io~1zone","value":"dc-a"},
                {"op":"add","path":"/a~0b","value":1}])"),
            parseJson(R"({"tessera.io/zone":"dc-a","a~b":1})"));
  EXPECT_EQ(patched(R"({"metadata":{"annotations":{"tessera.io/owner":"x","keep":"y"}}})",
                    R"([{"op":"remove","path":"/metadata/annotations/tessera.io~1owner"}])"),
            parseJson(R"({"metadata":{"annotations":{"keep":"y"}}})"));
}

TEST(JsonPatchTest, RejectsBadEscapes) {
  EXPECT_THAT(patchError(R"({})", R"([{"op":"add","path":"/a~2b","value":1}])"),
              HasSubstr("bad escape"));
  EXPECT_THAT(patchError(R"({})", R"([{"op":"add","path":"/a~","value":1}])"),
              HasSubstr("bad escape"));
}

TEST(JsonPatchTest, PointerMustStartWithSlash) {
  EXPECT_THAT(patchError(R"({})", R"([{"op":"add","path":"a","value":1}])"),
              HasSubstr("must start with '/'"));
}

TEST(JsonPatchTest, SlashAloneAddressesTheEmptyKey) {
  EXPECT_EQ(patched(R"({})", R"([{"op":"add","path":"/","value":1}])"), parseJson(R"({"":1})"));
}

TEST(JsonPatchTest, EmptyPathAddressesTheWholeDocument) {
  EXPECT_EQ(patched(R"({"a":1})", R"([{"op":"replace","path":"","value":{"b":2}}])"),
            parseJson(R"({"b":2})"));
  EXPECT_EQ(patched(R"({"a":1})", R"([{"op":"test","path":"","value":{"a":1}}])"),
            parseJson(R"({"a":1})"));
}

TEST(JsonPatchTest, RemovingTheWholeDocumentFails) {
  EXPECT_THAT(patchError(R"({"a":1})", R"([{"op":"remove","path":""}])"),
              HasSubstr("cannot remove the whole document"));
}

TEST(JsonPatchTest, RemoveAndReplaceNeedAnExistingTarget) {
  EXPECT_THAT(patchError(R"({"a":1})", R"([{"op":"remove","path":"/b"}])"),
              HasSubstr("\"b\" does not exist"));
  EXPECT_THAT(patchError(R"({"a":1})", R"([{"op":"replace","path":"/b","value":2}])"),
              HasSubstr("\"b\" does not exist"));
  EXPECT_THAT(patchError(R"({"a":[1]})", R"([{"op":"replace","path":"/a/1","value":2}])"),
              HasSubstr("out of range"));
}

TEST(JsonPatchTest, PathThroughAScalarFails) {
  EXPECT_THAT(patchError(R"({"a":1})", R"([{"op":"add","path":"/a/b/c","value":2}])"),
              HasSubstr("not a container"));
  patchError(R"({"a":1})", R"([{"op":"add","path":"/a/b","value":2}])");
}

TEST(JsonPatchTest, CopyDuplicatesAValue) {
  EXPECT_EQ(
      patched(R"({"a":{"x":[1,2]},"b":{}})", R"([{"op":"copy","from":"/a/x","path":"/b/y"}])"),
      parseJson(R"({"a":{"x":[1,2]},"b":{"y":[1,2]}})"));
}

TEST(JsonPatchTest, CopyIntoAnArrayInserts) {
  EXPECT_EQ(patched(R"({"a":[1,2],"v":9})", R"([{"op":"copy","from":"/v","path":"/a/0"}])"),
            parseJson(R"({"a":[9,1,2],"v":9})"));
}

TEST(JsonPatchTest, MoveFromAMissingLocationFails) {
  EXPECT_THAT(patchError(R"({"a":1})", R"([{"op":"move","from":"/b","path":"/c"}])"),
              HasSubstr("does not exist"));
}

TEST(JsonPatchTest, MoveIntoItsOwnChildFails) {
  patchError(R"({"a":{"b":1}})", R"([{"op":"move","from":"/a","path":"/a/c"}])");
}

TEST(JsonPatchTest, MoveToTheSameLocationIsANoOp) {
  EXPECT_EQ(patched(R"({"a":{"b":1}})", R"([{"op":"move","from":"/a","path":"/a"}])"),
            parseJson(R"({"a":{"b":1}})"));
}

TEST(JsonPatchTest, TestComparesObjectsRegardlessOfMemberOrder) {
  EXPECT_EQ(
      patched(R"({"a":{"x":1,"y":2}})", R"([{"op":"test","path":"/a","value":{"y":2,"x":1}}])"),
      parseJson(R"({"a":{"x":1,"y":2}})"));
}

TEST(JsonPatchTest, TestComparesNumbersByValue) {
  // RFC 6902 §4.6: numbers are equal when their values are numerically equal.
  EXPECT_EQ(patched(R"({"replicas":3})", R"([{"op":"test","path":"/replicas","value":3.0}])"),
            parseJson(R"({"replicas":3})"));
  EXPECT_EQ(
      patched(R"({"a":[1.0,{"b":2}]})", R"([{"op":"test","path":"/a","value":[1,{"b":2.0}]}])"),
      parseJson(R"({"a":[1.0,{"b":2}]})"));
  patchError(R"({"replicas":3})", R"([{"op":"test","path":"/replicas","value":3.5}])");
}

TEST(JsonPatchTest, TestOfAMissingPathFails) {
  patchError(R"({"a":1})", R"([{"op":"test","path":"/b","value":null}])");
}

TEST(JsonPatchTest, NullIsAValidValue) {
  EXPECT_EQ(patched(R"({"a":1})", R"([{"op":"replace","path":"/a","value":null}])"),
            parseJson(R"({"a":null})"));
}

TEST(JsonPatchTest, AFailingOperationLeavesNothingApplied) {
  const json::value target = parseJson(R"({"spec":{"replicas":1}})");
  auto r = applyJsonPatch(target, parseJson(R"([
      {"op":"replace","path":"/spec/replicas","value":5},
      {"op":"add","path":"/spec/zone","value":"dc-a"},
      {"op":"remove","path":"/spec/missing"}])"));
  ASSERT_FALSE(r.isOk());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("operation 2"));
  EXPECT_EQ(target, parseJson(R"({"spec":{"replicas":1}})"));
}

TEST(JsonPatchTest, ErrorNamesTheOperationAndPath) {
  EXPECT_EQ(patchError(R"({"a":1})", R"([{"op":"test","path":"/a","value":1},
                                           {"op":"remove","path":"/b"}])"),
            "operation 1 (remove /b): path \"b\" does not exist");
}

// --- JSON patch: malformed patch documents ---

TEST(JsonPatchTest, PatchMustBeAnArrayOfObjects) {
  EXPECT_THAT(patchError(R"({})", R"({"op":"add","path":"/a","value":1})"),
              HasSubstr("must be an array of operations"));
  EXPECT_THAT(patchError(R"({})", R"(["add"])"), HasSubstr("operation 0 is not an object"));
}

TEST(JsonPatchTest, OperationNeedsOpAndPathStrings) {
  EXPECT_THAT(patchError(R"({})", R"([{"path":"/a","value":1}])"),
              HasSubstr("needs \"op\" and \"path\""));
  EXPECT_THAT(patchError(R"({})", R"([{"op":"add","value":1}])"),
              HasSubstr("needs \"op\" and \"path\""));
  EXPECT_THAT(patchError(R"({})", R"([{"op":"add","path":3,"value":1}])"),
              HasSubstr("needs \"op\" and \"path\""));
}

TEST(JsonPatchTest, AddReplaceAndTestNeedAValue) {
  EXPECT_THAT(patchError(R"({})", R"([{"op":"add","path":"/a"}])"), HasSubstr("needs \"value\""));
  EXPECT_THAT(patchError(R"({"a":1})", R"([{"op":"replace","path":"/a"}])"),
              HasSubstr("needs \"value\""));
  EXPECT_THAT(patchError(R"({"a":1})", R"([{"op":"test","path":"/a"}])"),
              HasSubstr("needs \"value\""));
}

TEST(JsonPatchTest, MoveAndCopyNeedFrom) {
  EXPECT_THAT(patchError(R"({"a":1})", R"([{"op":"move","path":"/b"}])"),
              HasSubstr("needs \"from\""));
  EXPECT_THAT(patchError(R"({"a":1})", R"([{"op":"copy","path":"/b"}])"),
              HasSubstr("needs \"from\""));
}

TEST(JsonPatchTest, UnknownOperationIsRejected) {
  EXPECT_THAT(patchError(R"({})", R"([{"op":"merge","path":"/a","value":1}])"),
              HasSubstr("unknown op \"merge\""));
}

}  // namespace
}  // namespace tessera::apiserver
