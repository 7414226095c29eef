// Accept-header negotiation and continue tokens.
#include "apiserver/request_options.h"

#include <gtest/gtest.h>

#include <string>

#include "common/crypto.h"

namespace tessera::apiserver {
namespace {

// --- negotiateOutput ---

TEST(NegotiateOutputTest, KubectlGetAsksForATable) {
  EXPECT_EQ(negotiateOutput("application/json;as=Table;v=v1;g=meta.k8s.io,application/json;"
                            "as=Table;v=v1beta1;g=meta.k8s.io,application/json"),
            OutputFormat::kTable);
}

TEST(NegotiateOutputTest, PlainJsonIsJson) {
  EXPECT_EQ(negotiateOutput("application/json"), OutputFormat::kJson);
}

TEST(NegotiateOutputTest, MissingAcceptHeaderIsJson) {
  EXPECT_EQ(negotiateOutput(""), OutputFormat::kJson);
  EXPECT_EQ(negotiateOutput("   "), OutputFormat::kJson);
}

TEST(NegotiateOutputTest, ProtobufOnlyIsNotAcceptable) {
  EXPECT_EQ(negotiateOutput("application/vnd.kubernetes.protobuf"), std::nullopt);
  EXPECT_EQ(negotiateOutput("application/vnd.kubernetes.protobuf;as=Table;v=v1;g=meta.k8s.io"),
            std::nullopt);
}

TEST(NegotiateOutputTest, ProtobufWithJsonFallbackIsJson) {
  EXPECT_EQ(negotiateOutput("application/vnd.kubernetes.protobuf,application/json"),
            OutputFormat::kJson);
}

TEST(NegotiateOutputTest, WildcardsAreJson) {
  EXPECT_EQ(negotiateOutput("*/*"), OutputFormat::kJson);
  EXPECT_EQ(negotiateOutput("application/*"), OutputFormat::kJson);
  EXPECT_EQ(negotiateOutput("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
            OutputFormat::kJson);
}

TEST(NegotiateOutputTest, UnrelatedMediaTypesAreNotAcceptable) {
  EXPECT_EQ(negotiateOutput("text/plain"), std::nullopt);
  EXPECT_EQ(negotiateOutput("application/yaml"), std::nullopt);
}

TEST(NegotiateOutputTest, MediaTypeIsCaseInsensitive) {
  EXPECT_EQ(negotiateOutput("Application/JSON"), OutputFormat::kJson);
}

TEST(NegotiateOutputTest, ParametersOtherThanAsDoNotMatter) {
  EXPECT_EQ(negotiateOutput("application/json;q=0.9;charset=utf-8"), OutputFormat::kJson);
}

TEST(NegotiateOutputTest, TableParametersInAnyOrderAndWithSpaces) {
  EXPECT_EQ(negotiateOutput("application/json; g=meta.k8s.io; v=v1; as=Table"),
            OutputFormat::kTable);
}

TEST(NegotiateOutputTest, TableWithoutGroupOrVersionIsMetaV1Table) {
  EXPECT_EQ(negotiateOutput("application/json;as=Table"), OutputFormat::kTable);
}

TEST(NegotiateOutputTest, OnlyV1beta1TableIsNotAcceptable) {
  EXPECT_EQ(negotiateOutput("application/json;as=Table;v=v1beta1;g=meta.k8s.io"), std::nullopt);
}

TEST(NegotiateOutputTest, TableOfAnotherGroupIsSkipped) {
  EXPECT_EQ(negotiateOutput("application/json;as=Table;v=v1;g=example.com"), std::nullopt);
  EXPECT_EQ(negotiateOutput("application/json;as=Table;v=v1;g=example.com,application/json"),
            OutputFormat::kJson);
}

TEST(NegotiateOutputTest, UnsupportedAsFallsThroughToTheNextRange) {
  EXPECT_EQ(negotiateOutput("application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io,"
                            "application/json"),
            OutputFormat::kJson);
  EXPECT_EQ(negotiateOutput("application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io"),
            std::nullopt);
}

TEST(NegotiateOutputTest, FirstAcceptableRangeWins) {
  EXPECT_EQ(negotiateOutput("application/json,application/json;as=Table;v=v1;g=meta.k8s.io"),
            OutputFormat::kJson);
}

// --- continue tokens ---

TEST(ContinueTokenTest, RoundTripsAnObjectPosition) {
  ContinueToken t;
  t.rv = 12345;
  t.ns = "payments";
  t.name = "demo";
  auto r = decodeContinue(encodeContinue(t));
  ASSERT_TRUE(r.isOk()) << r.status().toString();
  EXPECT_EQ(r->rv, 12345);
  EXPECT_EQ(r->ns, "payments");
  EXPECT_EQ(r->name, "demo");
  EXPECT_EQ(r->auditId, 0);
}

TEST(ContinueTokenTest, RoundTripsAClusterScopedPosition) {
  ContinueToken t;
  t.rv = 7;
  t.name = "cluster-a";
  auto r = decodeContinue(encodeContinue(t));
  ASSERT_TRUE(r.isOk()) << r.status().toString();
  EXPECT_EQ(r->rv, 7);
  EXPECT_EQ(r->ns, "");
  EXPECT_EQ(r->name, "cluster-a");
}

TEST(ContinueTokenTest, RoundTripsAnAuditPosition) {
  ContinueToken t;
  t.auditId = 987654321;
  auto r = decodeContinue(encodeContinue(t));
  ASSERT_TRUE(r.isOk()) << r.status().toString();
  EXPECT_EQ(r->auditId, 987654321);
  EXPECT_EQ(r->rv, 0);
  EXPECT_EQ(r->name, "");
}

TEST(ContinueTokenTest, RoundTripsNamesWithUnusualCharacters) {
  ContinueToken t;
  t.rv = 1;
  t.ns = "ns";
  t.name = "a\"b\\c/d";
  auto r = decodeContinue(encodeContinue(t));
  ASSERT_TRUE(r.isOk());
  EXPECT_EQ(r->name, "a\"b\\c/d");
}

TEST(ContinueTokenTest, IsUrlSafe) {
  ContinueToken t;
  t.rv = 99999;
  t.ns = "payments";
  t.name = "a-very-long-name-to-get-several-base64-groups";
  const std::string token = encodeContinue(t);
  EXPECT_EQ(
      token.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
      std::string::npos)
      << token;
}

void expectRejected(std::string_view token) {
  auto r = decodeContinue(token);
  ASSERT_FALSE(r.isOk()) << "accepted: " << token;
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
}

TEST(ContinueTokenTest, RejectsGarbage) {
  expectRejected("");
  expectRejected("!!!");
  expectRejected("not a token");
  expectRejected("abc");
}

TEST(ContinueTokenTest, RejectsTruncatedTokens) {
  ContinueToken t;
  t.rv = 42;
  t.ns = "payments";
  t.name = "demo";
  const std::string token = encodeContinue(t);
  for (std::size_t cut = 1; cut < token.size(); ++cut) {
    expectRejected(token.substr(0, token.size() - cut));
  }
}

TEST(ContinueTokenTest, RejectsTokensWithAppendedCharacters) {
  ContinueToken t;
  t.rv = 42;
  t.ns = "payments";
  t.name = "demo";
  const std::string token = encodeContinue(t);
  expectRejected(token + "A");
  expectRejected(token + "AA");
  expectRejected(token + "=");
}

TEST(ContinueTokenTest, RejectsOverlongTokens) {
  expectRejected(std::string(4096, 'A'));
}

TEST(ContinueTokenTest, RejectsWellFormedJsonOfTheWrongShape) {
  expectRejected(base64UrlEncode(R"([1,2])"));
  expectRejected(base64UrlEncode(R"({"rv":5,"ns":"","n":"x"})"));          // no version
  expectRejected(base64UrlEncode(R"({"v":2,"rv":5,"ns":"","n":"x"})"));    // unknown version
  expectRejected(base64UrlEncode(R"({"v":1,"rv":"5","ns":"","n":"x"})"));  // rv not a number
  expectRejected(base64UrlEncode(R"({"v":1,"rv":0,"ns":"","n":"x"})"));    // rv not positive
  expectRejected(base64UrlEncode(R"({"v":1,"rv":5,"n":"x"})"));            // no namespace
  expectRejected(base64UrlEncode(R"({"v":1,"rv":5,"ns":"","n":7})"));      // name not a string
  expectRejected(base64UrlEncode(R"({"v":1,"a":-3})"));                    // audit id negative
}

TEST(ContinueTokenTest, UnknownVersionIsNamedInTheError) {
  auto r = decodeContinue(base64UrlEncode(R"({"v":9,"rv":5,"ns":"","n":"x"})"));
  ASSERT_FALSE(r.isOk());
  EXPECT_EQ(r.status().message(), "invalid continue token: unknown version");
}

}  // namespace
}  // namespace tessera::apiserver
