// Crypto helpers: random tokens, SHA-256, UUIDs, base64 (standard and URL-safe), comparison.
#include "common/crypto.h"

#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <string>

namespace tessera {
namespace {

bool onlyCharsFrom(const std::string& s, std::string_view alphabet) {
  return s.find_first_not_of(alphabet) == std::string::npos;
}

constexpr std::string_view kUrlAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string allBytes() {
  std::string s;
  for (int i = 0; i < 256; ++i) s += static_cast<char>(i);
  return s;
}

// --- randomToken ---

TEST(RandomTokenTest, IsUnpaddedBase64UrlOfTheRequestedBytes) {
  EXPECT_EQ(randomToken(32).size(), 43u);  // ceil(32 * 4 / 3), no padding
  EXPECT_EQ(randomToken(3).size(), 4u);
  EXPECT_EQ(randomToken(1).size(), 2u);
  EXPECT_EQ(randomToken(0), "");
  EXPECT_TRUE(onlyCharsFrom(randomToken(64), kUrlAlphabet));
  std::string raw;
  ASSERT_TRUE(base64UrlDecode(randomToken(32), raw));
  EXPECT_EQ(raw.size(), 32u);
}

TEST(RandomTokenTest, SuccessiveTokensDiffer) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) seen.insert(randomToken(16));
  EXPECT_EQ(seen.size(), 100u);
}

// --- sha256Hex ---

TEST(Sha256HexTest, MatchesKnownVectors) {
  EXPECT_EQ(sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(Sha256HexTest, HashesEmbeddedNulBytes) {
  const std::string withNul("a\0b", 3);
  EXPECT_NE(sha256Hex(withNul), sha256Hex("a"));
  EXPECT_EQ(sha256Hex(withNul).size(), 64u);
  EXPECT_TRUE(onlyCharsFrom(sha256Hex(withNul), "0123456789abcdef"));
}

// --- newUuid ---

TEST(NewUuidTest, IsCanonicalVersion4) {
  static const std::regex re(
      "^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
  for (int i = 0; i < 50; ++i) {
    std::string u = newUuid();
    EXPECT_TRUE(std::regex_match(u, re)) << u;
  }
}

TEST(NewUuidTest, SuccessiveUuidsDiffer) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) seen.insert(newUuid());
  EXPECT_EQ(seen.size(), 100u);
}

// --- randomSuffix ---

TEST(RandomSuffixTest, HasTheRequestedLength) {
  static const std::regex re("^[a-z0-9]{5}$");
  EXPECT_TRUE(std::regex_match(randomSuffix(5), re));
  EXPECT_EQ(randomSuffix(0), "");
}

TEST(RandomSuffixTest, UsesOnlyTheKubernetesAlphabet) {
  // Kubernetes' alphabet: [a-z0-9] without vowels and the look-alikes 0, 1, 3.
  const std::string s = randomSuffix(2000);
  EXPECT_TRUE(onlyCharsFrom(s, "bcdfghjklmnpqrstvwxz2456789")) << s;
  EXPECT_TRUE(onlyCharsFrom(s, "abcdefghijklmnopqrstuvwxyz0123456789"));
}

TEST(RandomSuffixTest, UsesEveryCharacterOfTheAlphabet) {
  const std::string s = randomSuffix(5000);
  for (char c : std::string_view("bcdfghjklmnpqrstvwxz2456789")) {
    EXPECT_NE(s.find(c), std::string::npos) << "never produced '" << c << "'";
  }
}

// --- constantTimeEquals ---

TEST(ConstantTimeEqualsTest, ComparesContent) {
  EXPECT_TRUE(constantTimeEquals("secret", "secret"));
  EXPECT_TRUE(constantTimeEquals("", ""));
  EXPECT_FALSE(constantTimeEquals("secret", "secreT"));
  EXPECT_FALSE(constantTimeEquals("Secret", "secret"));
  EXPECT_FALSE(constantTimeEquals(std::string_view("a\0b", 3), std::string_view("a\0c", 3)));
  EXPECT_TRUE(constantTimeEquals(std::string_view("a\0b", 3), std::string_view("a\0b", 3)));
}

TEST(ConstantTimeEqualsTest, DifferentLengthsCompareUnequal) {
  EXPECT_FALSE(constantTimeEquals("secret", "secret2"));
  EXPECT_FALSE(constantTimeEquals("secret", ""));
  EXPECT_FALSE(constantTimeEquals("", "x"));
}

// --- base64 ---

TEST(Base64Test, EncodesRfc4648Vectors) {
  EXPECT_EQ(base64Encode(""), "");
  EXPECT_EQ(base64Encode("f"), "Zg==");
  EXPECT_EQ(base64Encode("fo"), "Zm8=");
  EXPECT_EQ(base64Encode("foo"), "Zm9v");
  EXPECT_EQ(base64Encode("foob"), "Zm9vYg==");
  EXPECT_EQ(base64Encode("fooba"), "Zm9vYmE=");
  EXPECT_EQ(base64Encode("foobar"), "Zm9vYmFy");
}

TEST(Base64Test, DecodesRfc4648Vectors) {
  std::string out;
  ASSERT_TRUE(base64Decode("", out));
  EXPECT_EQ(out, "");
  ASSERT_TRUE(base64Decode("Zg==", out));
  EXPECT_EQ(out, "f");
  ASSERT_TRUE(base64Decode("Zm8=", out));
  EXPECT_EQ(out, "fo");
  ASSERT_TRUE(base64Decode("Zm9v", out));
  EXPECT_EQ(out, "foo");
  ASSERT_TRUE(base64Decode("Zm9vYmE=", out));
  EXPECT_EQ(out, "fooba");
  ASSERT_TRUE(base64Decode("Zm9vYmFy", out));
  EXPECT_EQ(out, "foobar");
}

TEST(Base64Test, StandardAlphabetUsesPlusAndSlash) {
  EXPECT_EQ(base64Encode("\xfb\xff"), "+/8=");
}

TEST(Base64Test, RoundTripsEveryByteValue) {
  const std::string data = allBytes();
  std::string out;
  ASSERT_TRUE(base64Decode(base64Encode(data), out));
  EXPECT_EQ(out, data);
}

TEST(Base64Test, RoundTripsEveryLengthModuloThree) {
  for (std::size_t n = 0; n < 10; ++n) {
    const std::string data = allBytes().substr(250 - n, n);
    std::string out;
    ASSERT_TRUE(base64Decode(base64Encode(data), out)) << n;
    EXPECT_EQ(out, data) << n;
  }
}

TEST(Base64Test, RejectsCharactersOutsideTheAlphabet) {
  std::string out;
  EXPECT_FALSE(base64Decode("Zm9v!", out));
  EXPECT_FALSE(base64Decode("Zm 9v", out));
  EXPECT_FALSE(base64Decode("Zm9\n", out));
  EXPECT_FALSE(base64Decode("-_8=", out));  // the URL-safe alphabet
}

TEST(Base64Test, RejectsMisplacedOrExcessPadding) {
  std::string out;
  EXPECT_FALSE(base64Decode("Zg==Zm8=", out));
  EXPECT_FALSE(base64Decode("Zg==garbage", out));
  EXPECT_FALSE(base64Decode("Zg=g", out));
  EXPECT_FALSE(base64Decode("Zg===", out));
  EXPECT_FALSE(base64Decode("Zm8==", out));
  EXPECT_FALSE(base64Decode("====", out));
}

TEST(Base64Test, RejectsALoneTrailingCharacter) {
  // Five characters: the fifth carries six bits, which cannot encode a byte.
  std::string out;
  EXPECT_FALSE(base64Decode("Zm9vY", out));
  EXPECT_FALSE(base64Decode("Z", out));
}

TEST(Base64UrlTest, UsesDashAndUnderscoreWithoutPadding) {
  EXPECT_EQ(base64UrlEncode("\xfb\xff"), "-_8");
  EXPECT_EQ(base64UrlEncode("f"), "Zg");
  EXPECT_EQ(base64UrlEncode("fo"), "Zm8");
  EXPECT_EQ(base64UrlEncode("foo"), "Zm9v");
}

TEST(Base64UrlTest, RoundTripsEveryByteValue) {
  const std::string data = allBytes();
  const std::string encoded = base64UrlEncode(data);
  EXPECT_TRUE(onlyCharsFrom(encoded, kUrlAlphabet));
  std::string out;
  ASSERT_TRUE(base64UrlDecode(encoded, out));
  EXPECT_EQ(out, data);
}

TEST(Base64UrlTest, RoundTripsEveryLengthModuloThree) {
  for (std::size_t n = 0; n < 10; ++n) {
    const std::string data = allBytes().substr(n * 7, n);
    std::string out;
    ASSERT_TRUE(base64UrlDecode(base64UrlEncode(data), out)) << n;
    EXPECT_EQ(out, data) << n;
  }
}

TEST(Base64UrlTest, RejectsTheStandardAlphabetAndPadding) {
  std::string out;
  EXPECT_FALSE(base64UrlDecode("+/8", out));
  EXPECT_FALSE(base64UrlDecode("Zg==", out));
  EXPECT_FALSE(base64UrlDecode("Zm9v.", out));
}

TEST(Base64UrlTest, RejectsALoneTrailingCharacter) {
  std::string out;
  EXPECT_FALSE(base64UrlDecode("Zm9vY", out));
}

TEST(Base64UrlTest, ClearsTheOutputBeforeDecoding) {
  std::string out = "stale";
  ASSERT_TRUE(base64UrlDecode("Zm9v", out));
  EXPECT_EQ(out, "foo");
}

}  // namespace
}  // namespace tessera
