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

TEST(MergePatchTest, AppendixReplacesAMember) {
  EXPECT_EQ(merge(R"({"a":"b"})", R"({"a":"c"})"), parseJson(R"({"a":"c"})"));
}

TEST(MergePatchTest, AppendixAddsAMember) {
  EXPECT_EQ(merge(R"({"a":"b"})", R"({"b":"c"})"), parseJson(R"({"a":"b","b":"c"})"));
}

TEST(MergePatchTest, AppendixNullRemovesAMember) {
  EXPECT_EQ(merge(R"({"a":"b"})", R"({"a":null})"), parseJson(R"({})"));
  EXPECT_EQ(merge(R"({"a":"b","b":"c"})", R"({"a":null})"), parseJson(R"({"b":"c"})"));
}

TEST(MergePatchTest, AppendixArraysAreReplacedWhole) {
  EXPECT_EQ(merge(R"({"a":["b"]})", R"({"a":"c"})"), parseJson(R"({"a":"c"})"));
  EXPECT_EQ(merge(R"({"a":"c"})", R"({"a":["b"]})"), parseJson(R"({"a":["b"]})"));
  EXPECT_EQ(merge(R"({"a":[{"b":"c"}]})", R"({"a":[1]})"), parseJson(R"({"a":[1]})"));
  EXPECT_EQ(merge(R"(["a","b"])", R"(["c","d"])"), parseJson(R"(["c","d"])"));
}

TEST(MergePatchTest, AppendixNestedObjectsMerge) {
  EXPECT_EQ(merge(R"({"a":{"b":"c"}})", R"({"a":{"b":"d","c":null}})"),
            parseJson(R"({"a":{"b":"d"}})"));
}

TEST(MergePatchTest, AppendixNonObjectPatchReplacesTheTarget) {
  EXPECT_EQ(merge(R"({"a":"b"})", R"(["c"])"), parseJson(R"(["c"])"));
  EXPECT_EQ(merge(R"({"a":"foo"})", "null"), parseJson("null"));
  EXPECT_EQ(merge(R"({"a":"foo"})", R"("bar")"), parseJson(R"("bar")"));
}

TEST(MergePatchTest, AppendixNullsInTheTargetAreKept) {
  EXPECT_EQ(merge(R"({"e":null})", R"({"a":1})"), parseJson(R"({"e":null,"a":1})"));
}

TEST(MergePatchTest, AppendixObjectPatchReplacesANonObjectTarget) {
  EXPECT_EQ(merge(R"([1,2])", R"({"a":"b","c":null})"), parseJson(R"({"a":"b"})"));
}

TEST(MergePatchTest, AppendixNullsInsideNewObjectsAreDropped) {
  EXPECT_EQ(merge(R"({})", R"({"a":{"bb":{"ccc":null}}})"), parseJson(R"({"a":{"bb":{}}})"));
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

TEST(JsonPatchTest, A1AddsAnObjectMember) {
  EXPECT_EQ(patched(R"({"foo":"bar"})", R"([{"op":"add","path":"/baz","value":"qux"}])"),
            parseJson(R"({"baz":"qux","foo":"bar"})"));
}

TEST(JsonPatchTest, A2InsertsAnArrayElement) {
  EXPECT_EQ(patched(R"({"foo":["bar","baz"]})", R"([{"op":"add","path":"/foo/1","value":"qux"}])"),
            parseJson(R"({"foo":["bar","qux","baz"]})"));
}

TEST(JsonPatchTest, A3RemovesAnObjectMember) {
  EXPECT_EQ(patched(R"({"baz":"qux","foo":"bar"})", R"([{"op":"remove","path":"/baz"}])"),
            parseJson(R"({"foo":"bar"})"));
}

TEST(JsonPatchTest, A4RemovesAnArrayElement) {
  EXPECT_EQ(patched(R"({"foo":["bar","qux","baz"]})", R"([{"op":"remove","path":"/foo/1"}])"),
            parseJson(R"({"foo":["bar","baz"]})"));
}

TEST(JsonPatchTest, A5ReplacesAValue) {
  EXPECT_EQ(
      patched(R"({"baz":"qux","foo":"bar"})", R"([{"op":"replace","path":"/baz","value":"boo"}])"),
      parseJson(R"({"baz":"boo","foo":"bar"})"));
}

TEST(JsonPatchTest, A6MovesAValue) {
  EXPECT_EQ(patched(R"({"foo":{"bar":"baz","waldo":"fred"},"qux":{"corge":"grault"}})",
                    R"([{"op":"move","from":"/foo/waldo","path":"/qux/thud"}])"),
            parseJson(R"({"foo":{"bar":"baz"},"qux":{"corge":"grault","thud":"fred"}})"));
}

TEST(JsonPatchTest, A7MovesAnArrayElement) {
  EXPECT_EQ(patched(R"({"foo":["all","grass","cows","eat"]})",
                    R"([{"op":"move","from":"/foo/1","path":"/foo/3"}])"),
            parseJson(R"({"foo":["all","cows","eat","grass"]})"));
}

TEST(JsonPatchTest, A8SuccessfulTestsChangeNothing) {
  EXPECT_EQ(patched(R"({"baz":"qux","foo":["a",2,"c"]})", R"([
                {"op":"test","path":"/baz","value":"qux"},
                {"op":"test","path":"/foo/1","value":2}])"),
            parseJson(R"({"baz":"qux","foo":["a",2,"c"]})"));
}

TEST(JsonPatchTest, A9FailedTestIsAnError) {
  EXPECT_THAT(patchError(R"({"baz":"qux"})", R"([{"op":"test","path":"/baz","value":"bar"}])"),
              HasSubstr("test failed at /baz"));
}

TEST(JsonPatchTest, A10AddsANestedObject) {
  EXPECT_EQ(
      patched(R"({"foo":"bar"})", R"([{"op":"add","path":"/child","value":{"grandchild":{}}}])"),
      parseJson(R"({"foo":"bar","child":{"grandchild":{}}})"));
}

TEST(JsonPatchTest, A11IgnoresUnrecognizedMembersOfAnOperation) {
  EXPECT_EQ(patched(R"({"foo":"bar"})", R"([{"op":"add","path":"/baz","value":"qux","xyz":123}])"),
            parseJson(R"({"foo":"bar","baz":"qux"})"));
}

TEST(JsonPatchTest, A12AddingUnderAMissingParentIsAnError) {
  EXPECT_THAT(patchError(R"({"foo":"bar"})", R"([{"op":"add","path":"/baz/bat","value":"qux"}])"),
              HasSubstr("\"baz\" does not exist"));
}

TEST(JsonPatchTest, A14EscapesAreDecodedInTheRightOrder) {
  // "~01" is "~1" (a tilde then a one), not "/".
  EXPECT_EQ(patched(R"({"/":9,"~1":10})", R"([{"op":"test","path":"/~01","value":10}])"),
            parseJson(R"({"/":9,"~1":10})"));
}

TEST(JsonPatchTest, A15StringsAndNumbersAreNotEqual) {
  EXPECT_THAT(patchError(R"({"/":9,"~1":10})", R"([{"op":"test","path":"/~01","value":"10"}])"),
              HasSubstr("test failed"));
}

TEST(JsonPatchTest, A16AppendsAnArrayValueWithDash) {
  EXPECT_EQ(
      patched(R"({"foo":["bar"]})", R"([{"op":"add","path":"/foo/-","value":["abc","def"]}])"),
      parseJson(R"({"foo":["bar",["abc","def"]]})"));
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
}

TEST(JsonPatchTest, RemoveAnnotationWithEscapedKey) {
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

TEST(JsonPatchTest, RemoveOfAMissingMemberFails) {
  EXPECT_THAT(patchError(R"({"a":1})", R"([{"op":"remove","path":"/b"}])"),
              HasSubstr("\"b\" does not exist"));
}

TEST(JsonPatchTest, ReplaceOfAMissingMemberFails) {
  EXPECT_THAT(patchError(R"({"a":1})", R"([{"op":"replace","path":"/b","value":2}])"),
              HasSubstr("\"b\" does not exist"));
}

TEST(JsonPatchTest, ReplaceOfAMissingArrayElementFails) {
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

TEST(JsonPatchTest, PatchMustBeAnArray) {
  EXPECT_THAT(patchError(R"({})", R"({"op":"add","path":"/a","value":1})"),
              HasSubstr("must be an array of operations"));
}

TEST(JsonPatchTest, OperationMustBeAnObject) {
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
