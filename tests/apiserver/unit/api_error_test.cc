// ApiError: the Kubernetes Status JSON, the named constructors, invalid()/unknownFields()
// messages, and the mapping from storage Status codes.
#include "apiserver/api_error.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>

#include "tests/apiserver/unit/test_json.h"

namespace tessera::apiserver {
namespace {

namespace json = boost::json;
using ::testing::ElementsAre;
using testutil::cause;
using testutil::parseJson;

json::value statusJson(const ApiError& e) {
  return parseJson(e.toJson());
}

// --- toJson ---

TEST(ApiErrorJsonTest, MinimalFailureStatus) {
  EXPECT_EQ(statusJson(ApiError::badRequest("bad thing")), parseJson(R"({
    "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
    "message": "bad thing", "reason": "BadRequest", "code": 400})"));
}

TEST(ApiErrorJsonTest, DetailsCarryNameGroupKindAndCauses) {
  ApiError e = ApiError::notFound("gone");
  e.name = "demo";
  e.group = "tessera.io";
  e.kind = "applications";
  e.causes = {{"FieldValueRequired", "Required value", "spec.template"},
              {"FieldValueInvalid", "no field here", ""}};
  EXPECT_EQ(statusJson(e).at("details"), parseJson(R"({
    "name": "demo", "group": "tessera.io", "kind": "applications",
    "causes": [
      {"reason": "FieldValueRequired", "message": "Required value", "field": "spec.template"},
      {"reason": "FieldValueInvalid", "message": "no field here"}]})"));
}

TEST(ApiErrorJsonTest, RetryAfterGoesIntoDetails) {
  EXPECT_EQ(statusJson(ApiError::tooManyRequests("slow down", 7)).at("details"),
            parseJson(R"({"retryAfterSeconds": 7})"));
}

TEST(ApiErrorJsonTest, MessagesAreEscaped) {
  const std::string msg = "Cell \"a\\b\" is invalid\n";
  EXPECT_EQ(statusJson(ApiError::badRequest(msg)).at("message"), json::value(msg));
}

TEST(ApiErrorJsonTest, SuccessStatus) {
  EXPECT_EQ(parseJson(successStatusJson("demo", "applications")), parseJson(R"({
    "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
    "details": {"name": "demo", "group": "tessera.io", "kind": "applications"}})"));
}

// --- named constructors ---

TEST(ApiErrorTest, NamedConstructorsSetCodeAndReason) {
  struct Case {
    ApiError e;
    int code;
    const char* reason;
  };
  const Case cases[] = {
      {ApiError::badRequest("m"), 400, "BadRequest"},
      {ApiError::unauthorized("m"), 401, "Unauthorized"},
      {ApiError::forbidden("m"), 403, "Forbidden"},
      {ApiError::notFound("m"), 404, "NotFound"},
      {ApiError::methodNotAllowed("m"), 405, "MethodNotAllowed"},
      {ApiError::notAcceptable("m"), 406, "NotAcceptable"},
      {ApiError::gone("m"), 410, "Expired"},
      {ApiError::entityTooLarge("m"), 413, "RequestEntityTooLarge"},
      {ApiError::unsupportedMediaType("m"), 415, "UnsupportedMediaType"},
      {ApiError::tooManyRequests("m", 1), 429, "TooManyRequests"},
      {ApiError::internal("m"), 500, "InternalError"},
      {ApiError::serviceUnavailable("m"), 503, "ServiceUnavailable"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(c.e.code, c.code) << c.reason;
    EXPECT_EQ(c.e.reason, c.reason);
    EXPECT_EQ(c.e.message, "m");
  }
}

TEST(ApiErrorTest, ServiceUnavailableAsksForARetry) {
  EXPECT_EQ(ApiError::serviceUnavailable("down").retryAfterSeconds, 1);
  EXPECT_EQ(ApiError::serviceUnavailable("down", 5).retryAfterSeconds, 5);
  EXPECT_EQ(ApiError::badRequest("m").retryAfterSeconds, std::nullopt);
}

// --- invalid ---

TEST(ApiErrorInvalidTest, OneCauseIsNotBracketed) {
  auto e = ApiError::invalid(
      "Cell", "cells", "rz-a",
      {{"FieldValueInvalid", "Invalid value: \"rz-a\": a cell cannot be its own standby",
        "spec.standby"}});
  EXPECT_EQ(e.code, 422);
  EXPECT_EQ(e.reason, "Invalid");
  EXPECT_EQ(e.message,
            "Cell \"rz-a\" is invalid: spec.standby: Invalid value: \"rz-a\": a cell cannot be "
            "its own standby");
}

TEST(ApiErrorInvalidTest, SeveralCausesAreBracketedAndCommaSeparated) {
  auto e = ApiError::invalid(
      "Application", "applications", "demo",
      {{"FieldValueRequired", "Required value", "spec.template.command"},
       {"FieldValueInvalid", "exactly one of names or type must be set", "spec.placement.cells"}});
  EXPECT_EQ(e.message,
            "Application \"demo\" is invalid: [spec.template.command: Required value, "
            "spec.placement.cells: exactly one of names or type must be set]");
}

TEST(ApiErrorInvalidTest, CauseWithoutFieldIsJustItsMessage) {
  auto e = ApiError::invalid("Cell", "cells", "c", {{"FieldValueInvalid", "something wrong", ""}});
  EXPECT_EQ(e.message, "Cell \"c\" is invalid: something wrong");
}

TEST(ApiErrorInvalidTest, DetailsNameTheObjectAndKeepTheCauses) {
  auto e = ApiError::invalid("Application", "applications", "demo",
                             {{"FieldValueRequired", "Required value", "spec.template"}});
  EXPECT_EQ(e.name, "demo");
  EXPECT_EQ(e.group, "tessera.io");
  EXPECT_EQ(e.kind, "applications");
  EXPECT_THAT(e.causes, ElementsAre(cause("FieldValueRequired", "spec.template")));
  EXPECT_EQ(statusJson(e).at("details").at("causes").at(0).at("field"),
            json::value("spec.template"));
}

// --- unknownFields ---

TEST(ApiErrorUnknownFieldsTest, ListsEachUnknownField) {
  auto e = ApiError::unknownFields({"spec.zoen", "metadata.lables"});
  EXPECT_EQ(e.code, 400);
  EXPECT_EQ(e.reason, "BadRequest");
  EXPECT_EQ(e.message,
            "strict decoding error: unknown field \"spec.zoen\", unknown field "
            "\"metadata.lables\"");
  EXPECT_THAT(e.causes,
              ElementsAre(cause("FieldValueInvalid", "spec.zoen", "unknown field \"spec.zoen\""),
                          cause("FieldValueInvalid", "metadata.lables",
                                "unknown field \"metadata.lables\"")));
}

// --- fromStatus ---

TEST(ApiErrorFromStatusTest, NotFoundNamesTheResource) {
  auto e = ApiError::fromStatus(notFound("no row"), "applications", "demo");
  EXPECT_EQ(e.code, 404);
  EXPECT_EQ(e.reason, "NotFound");
  EXPECT_EQ(e.message, "applications.tessera.io \"demo\" not found");
  EXPECT_EQ(e.name, "demo");
  EXPECT_EQ(e.group, "tessera.io");
  EXPECT_EQ(e.kind, "applications");
}

TEST(ApiErrorFromStatusTest, AlreadyExistsIs409) {
  auto e = ApiError::fromStatus(alreadyExists("dup"), "cells", "rz-a");
  EXPECT_EQ(e.code, 409);
  EXPECT_EQ(e.reason, "AlreadyExists");
  EXPECT_EQ(e.message, "cells.tessera.io \"rz-a\" already exists");
}

TEST(ApiErrorFromStatusTest, ConflictUsesTheKubernetesWording) {
  auto e = ApiError::fromStatus(conflict("rv mismatch"), "cells", "rz-a");
  EXPECT_EQ(e.code, 409);
  EXPECT_EQ(e.reason, "Conflict");
  EXPECT_EQ(e.message,
            "Operation cannot be fulfilled on cells.tessera.io \"rz-a\": the object has been "
            "modified; please apply your changes to the latest version and try again");
}

TEST(ApiErrorFromStatusTest, GoneIs410ExpiredWithTheStorageMessage) {
  auto e = ApiError::fromStatus(gone("too old resource version: 5 (42)"), "cells", "");
  EXPECT_EQ(e.code, 410);
  EXPECT_EQ(e.reason, "Expired");
  EXPECT_EQ(e.message, "too old resource version: 5 (42)");
}

TEST(ApiErrorFromStatusTest, InvalidArgumentIs400) {
  auto e = ApiError::fromStatus(invalidArgument("bad selector"), "cells", "");
  EXPECT_EQ(e.code, 400);
  EXPECT_EQ(e.reason, "BadRequest");
  EXPECT_EQ(e.message, "bad selector");
}

TEST(ApiErrorFromStatusTest, UnavailableIs503WithRetryAndNoObjectDetails) {
  auto e = ApiError::fromStatus(unavailable("connection refused"), "cells", "rz-a");
  EXPECT_EQ(e.code, 503);
  EXPECT_EQ(e.reason, "ServiceUnavailable");
  EXPECT_EQ(e.message, "storage unavailable: connection refused");
  EXPECT_EQ(e.retryAfterSeconds, 1);
  EXPECT_EQ(e.name, "");
  EXPECT_EQ(e.kind, "");
}

TEST(ApiErrorFromStatusTest, ResourceExhaustedIs429WithRetry) {
  auto e = ApiError::fromStatus(resourceExhausted("queue full"), "cells", "rz-a");
  EXPECT_EQ(e.code, 429);
  EXPECT_EQ(e.reason, "TooManyRequests");
  EXPECT_EQ(e.message, "server is overloaded: queue full");
  EXPECT_EQ(e.retryAfterSeconds, 1);
}

TEST(ApiErrorFromStatusTest, DeadlineExceededIs504Timeout) {
  auto e = ApiError::fromStatus(Status(StatusCode::kDeadlineExceeded, "slow"), "cells", "x");
  EXPECT_EQ(e.code, 504);
  EXPECT_EQ(e.reason, "Timeout");
}

TEST(ApiErrorFromStatusTest, PermissionDeniedIs403) {
  auto e = ApiError::fromStatus(Status(StatusCode::kPermissionDenied, "no"), "apitokens", "t");
  EXPECT_EQ(e.code, 403);
  EXPECT_EQ(e.reason, "Forbidden");
  EXPECT_EQ(e.name, "t");
}

TEST(ApiErrorFromStatusTest, AnythingElseIs500WithoutObjectDetails) {
  auto e = ApiError::fromStatus(internalError("boom"), "cells", "rz-a");
  EXPECT_EQ(e.code, 500);
  EXPECT_EQ(e.reason, "InternalError");
  EXPECT_EQ(e.message, "boom");
  EXPECT_EQ(e.name, "");
}

}  // namespace
}  // namespace tessera::apiserver
