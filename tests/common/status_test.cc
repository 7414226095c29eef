// Status and Result<T>: codes, messages, toString, value access.
#include "common/status.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace tessera {
namespace {

TEST(StatusTest, DefaultIsOk) {
  Status s;
  EXPECT_TRUE(s.isOk());
  EXPECT_EQ(s.code(), StatusCode::kOk);
  EXPECT_EQ(s.message(), "");
  EXPECT_TRUE(Status::ok().isOk());
}

TEST(StatusTest, OkToStringIsOK) {
  EXPECT_EQ(Status::ok().toString(), "OK");
}

TEST(StatusTest, ErrorToStringIsCodeNameColonMessage) {
  EXPECT_EQ(notFound("cell \"c1\" not found").toString(), "NotFound: cell \"c1\" not found");
}

TEST(StatusTest, HelpersSetTheirCodes) {
  EXPECT_EQ(invalidArgument("m").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(notFound("m").code(), StatusCode::kNotFound);
  EXPECT_EQ(alreadyExists("m").code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(conflict("m").code(), StatusCode::kConflict);
  EXPECT_EQ(gone("m").code(), StatusCode::kGone);
  EXPECT_EQ(unavailable("m").code(), StatusCode::kUnavailable);
  EXPECT_EQ(internalError("m").code(), StatusCode::kInternal);
  EXPECT_EQ(resourceExhausted("m").code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(conflict("the message").message(), "the message");
  EXPECT_FALSE(conflict("m").isOk());
}

TEST(StatusTest, EveryCodeHasADistinctName) {
  EXPECT_EQ(statusCodeName(StatusCode::kOk), "OK");
  EXPECT_EQ(statusCodeName(StatusCode::kInvalidArgument), "InvalidArgument");
  EXPECT_EQ(statusCodeName(StatusCode::kNotFound), "NotFound");
  EXPECT_EQ(statusCodeName(StatusCode::kAlreadyExists), "AlreadyExists");
  EXPECT_EQ(statusCodeName(StatusCode::kConflict), "Conflict");
  EXPECT_EQ(statusCodeName(StatusCode::kGone), "Gone");
  EXPECT_EQ(statusCodeName(StatusCode::kUnauthenticated), "Unauthenticated");
  EXPECT_EQ(statusCodeName(StatusCode::kPermissionDenied), "PermissionDenied");
  EXPECT_EQ(statusCodeName(StatusCode::kResourceExhausted), "ResourceExhausted");
  EXPECT_EQ(statusCodeName(StatusCode::kUnavailable), "Unavailable");
  EXPECT_EQ(statusCodeName(StatusCode::kDeadlineExceeded), "DeadlineExceeded");
  EXPECT_EQ(statusCodeName(StatusCode::kFailedPrecondition), "FailedPrecondition");
  EXPECT_EQ(statusCodeName(StatusCode::kUnimplemented), "Unimplemented");
  EXPECT_EQ(statusCodeName(StatusCode::kInternal), "Internal");
}

// Built in a function: GCC 12 warns falsely (-Wmaybe-uninitialized) on a Result<int>
// initialized in place and destroyed in the same scope.
Result<int> fortyTwo() {
  return 42;
}

TEST(ResultTest, HoldsAValue) {
  const Result<int> r = fortyTwo();
  EXPECT_TRUE(r.isOk());
  EXPECT_TRUE(static_cast<bool>(r));
  EXPECT_EQ(r.value(), 42);
  EXPECT_EQ(*r, 42);
  EXPECT_TRUE(r.status().isOk());
}

TEST(ResultTest, HoldsAnError) {
  Result<int> r(notFound("nope"));
  EXPECT_FALSE(r.isOk());
  EXPECT_FALSE(static_cast<bool>(r));
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(r.status().message(), "nope");
}

TEST(ResultTest, DefaultConstructedIsInternalError) {
  Result<std::string> r;
  EXPECT_FALSE(r.isOk());
  EXPECT_EQ(r.status().code(), StatusCode::kInternal);
}

TEST(ResultTest, ArrowAccessesMembersOfTheValue) {
  Result<std::string> r(std::string("hello"));
  EXPECT_EQ(r->size(), 5u);
  r.value() += " world";
  EXPECT_EQ(*r, "hello world");
}

TEST(ResultTest, RvalueValueMovesOutMoveOnlyTypes) {
  Result<std::unique_ptr<int>> r(std::make_unique<int>(7));
  std::unique_ptr<int> p = std::move(r).value();
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(*p, 7);
}

}  // namespace
}  // namespace tessera
