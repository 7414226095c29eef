// RFC 3339 formatting and parsing, durations, and kubectl-style ages.
#include "common/time_util.h"

#include <gtest/gtest.h>

namespace tessera {
namespace {

using std::chrono::hours;
using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

SystemTime fromUnix(std::int64_t secs) {
  return SystemTime(seconds(secs));
}

constexpr std::int64_t k20261127T073435 = 1795764875;  // 2026-11-27T07:34:35Z

// --- formatting ---

TEST(FormatRfc3339Test, PrintsWholeSecondsInUtc) {
  EXPECT_EQ(formatRfc3339(fromUnix(0)), "1970-01-01T00:00:00Z");
  EXPECT_EQ(formatRfc3339(fromUnix(k20261127T073435)), "2026-11-27T07:34:35Z");
  EXPECT_EQ(formatRfc3339(fromUnix(k20261127T073435) + milliseconds(999)), "2026-11-27T07:34:35Z");
}

TEST(FormatRfc3339Test, FloorsInstantsBeforeTheEpoch) {
  EXPECT_EQ(formatRfc3339(fromUnix(0) - milliseconds(500)), "1969-12-31T23:59:59Z");
  EXPECT_EQ(formatRfc3339Micro(fromUnix(0) - milliseconds(500)), "1969-12-31T23:59:59.500000Z");
}

TEST(FormatRfc3339MicroTest, PrintsSixFractionDigits) {
  EXPECT_EQ(formatRfc3339Micro(fromUnix(k20261127T073435) + microseconds(123456)),
            "2026-11-27T07:34:35.123456Z");
  EXPECT_EQ(formatRfc3339Micro(fromUnix(k20261127T073435) + microseconds(7)),
            "2026-11-27T07:34:35.000007Z");
  EXPECT_EQ(formatRfc3339Micro(fromUnix(0)), "1970-01-01T00:00:00.000000Z");
}

// --- parsing ---

TEST(ParseRfc3339Test, ParsesUtc) {
  EXPECT_EQ(parseRfc3339("2026-11-27T07:34:35Z"), fromUnix(k20261127T073435));
  EXPECT_EQ(parseRfc3339("2026-11-27t07:34:35z"), fromUnix(k20261127T073435));
}

TEST(ParseRfc3339Test, AppliesNumericOffsets) {
  EXPECT_EQ(parseRfc3339("2026-11-27T09:34:35+02:00"), fromUnix(k20261127T073435));
  EXPECT_EQ(parseRfc3339("2026-11-27T02:04:35-05:30"), fromUnix(k20261127T073435));
  EXPECT_EQ(parseRfc3339("2026-11-26T23:34:35-08:00"), fromUnix(k20261127T073435));
  EXPECT_EQ(parseRfc3339("2026-11-27T07:34:35+00:00"), fromUnix(k20261127T073435));
}

TEST(ParseRfc3339Test, ParsesFractionsToMicroseconds) {
  const SystemTime base = fromUnix(k20261127T073435);
  EXPECT_EQ(parseRfc3339("2026-11-27T07:34:35.123456Z"), base + microseconds(123456));
  EXPECT_EQ(parseRfc3339("2026-11-27T07:34:35.5Z"), base + milliseconds(500));
  EXPECT_EQ(parseRfc3339("2026-11-27T08:34:35.25+01:00"), base + milliseconds(250));
}

TEST(ParseRfc3339Test, TruncatesNanosecondsToMicroseconds) {
  EXPECT_EQ(parseRfc3339("2026-11-27T07:34:35.123456789Z"),
            fromUnix(k20261127T073435) + microseconds(123456));
}

TEST(ParseRfc3339Test, AcceptsLeapDayOfALeapYear) {
  EXPECT_EQ(parseRfc3339("2024-02-29T12:00:00Z"), fromUnix(1709208000));
}

TEST(ParseRfc3339Test, RoundTripsFormatRfc3339Micro) {
  const SystemTime t = fromUnix(k20261127T073435) + microseconds(654321);
  auto parsed = parseRfc3339(formatRfc3339Micro(t));
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(*parsed, t);
}

TEST(ParseRfc3339Test, RejectsMalformedLayouts) {
  for (const char* bad : {"", "2026-11-27", "2026-11-27T07:34", "2026-11-27T07:34:35",
                          "2026-11-27T07:34:35.", "2026-11-27T07:34:35.Z", "2026-11-27 07:34:35Z",
                          "2026/11/27T07:34:35Z", "2026-11-27T07.34.35Z", "2O26-11-27T07:34:35Z",
                          "2026-11-27T07:3a:35Z", "+026-11-27T07:34:35Z"}) {
    EXPECT_EQ(parseRfc3339(bad), std::nullopt) << bad;
  }
}

TEST(ParseRfc3339Test, RejectsOutOfRangeFields) {
  EXPECT_FALSE(parseRfc3339("2026-00-27T07:34:35Z"));
  EXPECT_FALSE(parseRfc3339("2026-13-27T07:34:35Z"));
  EXPECT_FALSE(parseRfc3339("2026-11-00T07:34:35Z"));
  EXPECT_FALSE(parseRfc3339("2026-11-32T07:34:35Z"));
  EXPECT_FALSE(parseRfc3339("2026-11-27T24:00:00Z"));
  EXPECT_FALSE(parseRfc3339("2026-11-27T07:60:35Z"));
  EXPECT_FALSE(parseRfc3339("2026-11-27T07:34:61Z"));
}

TEST(ParseRfc3339Test, RejectsDaysBeyondTheEndOfTheMonth) {
  EXPECT_FALSE(parseRfc3339("2026-02-29T00:00:00Z"));  // not a leap year
  EXPECT_FALSE(parseRfc3339("2024-02-30T00:00:00Z"));
  EXPECT_FALSE(parseRfc3339("2026-04-31T00:00:00Z"));
  EXPECT_FALSE(parseRfc3339("1900-02-29T00:00:00Z"));  // century, not a leap year
  EXPECT_TRUE(parseRfc3339("2000-02-29T00:00:00Z"));   // divisible by 400
  EXPECT_TRUE(parseRfc3339("2026-12-31T23:59:59Z"));
}

TEST(ParseRfc3339Test, RejectsMalformedOffsets) {
  EXPECT_FALSE(parseRfc3339("2026-11-27T07:34:35+0200"));
  EXPECT_FALSE(parseRfc3339("2026-11-27T07:34:35+02"));
  EXPECT_FALSE(parseRfc3339("2026-11-27T07:34:35+2:00"));
  EXPECT_FALSE(parseRfc3339("2026-11-27T07:34:35 +02:00"));
  EXPECT_FALSE(parseRfc3339("2026-11-27T07:34:35UTC"));
}

TEST(ParseRfc3339Test, RejectsOutOfRangeOffsets) {
  EXPECT_FALSE(parseRfc3339("2026-11-27T07:34:35+24:00"));
  EXPECT_FALSE(parseRfc3339("2026-11-27T07:34:35-99:00"));
  EXPECT_FALSE(parseRfc3339("2026-11-27T07:34:35+02:60"));
}

TEST(ParseRfc3339Test, RejectsTrailingText) {
  EXPECT_FALSE(parseRfc3339("2026-11-27T07:34:35Zjunk"));
  EXPECT_FALSE(parseRfc3339("2026-11-27T07:34:35+02:00:00"));
  EXPECT_FALSE(parseRfc3339("2026-11-27T07:34:35Z "));
}

// --- durations ---

TEST(ParseDurationTest, ParsesEachUnit) {
  EXPECT_EQ(parseDuration("250ms"), milliseconds(250));
  EXPECT_EQ(parseDuration("90s"), seconds(90));
  EXPECT_EQ(parseDuration("5m"), minutes(5));
  EXPECT_EQ(parseDuration("1h"), hours(1));
  EXPECT_EQ(parseDuration("2d"), hours(48));
}

TEST(ParseDurationTest, PlainNumberIsSeconds) {
  EXPECT_EQ(parseDuration("30"), seconds(30));
  EXPECT_EQ(parseDuration("0"), milliseconds(0));
}

TEST(ParseDurationTest, RejectsMalformedDurations) {
  EXPECT_FALSE(parseDuration(""));
  EXPECT_FALSE(parseDuration("s"));
  EXPECT_FALSE(parseDuration("ms"));
  EXPECT_FALSE(parseDuration("5x"));
  EXPECT_FALSE(parseDuration("5 s"));
  EXPECT_FALSE(parseDuration("-5s"));
  EXPECT_FALSE(parseDuration("1.5h"));
  EXPECT_FALSE(parseDuration("5S"));
  EXPECT_FALSE(parseDuration("5sec"));
}

TEST(ParseDurationTest, RejectsNumbersTooLongToParse) {
  EXPECT_FALSE(parseDuration("99999999999999999999999s"));
}

TEST(ParseDurationTest, RejectsValuesThatDoNotFitInMilliseconds) {
  // 10^12 days is 8.64e19 ms, beyond int64; it must not wrap around to a bogus duration.
  EXPECT_FALSE(parseDuration("1000000000000d"));
  EXPECT_FALSE(parseDuration("9000000000000h"));
}

TEST(ParseDurationTest, LargeValuesThatFitAreExact) {
  EXPECT_EQ(parseDuration("100000d"), hours(2400000));
  EXPECT_EQ(parseDuration("1000000000000ms"), milliseconds(1000000000000LL));
}

// --- ages ---

TEST(HumanAgeTest, SwitchesToTheLargerUnitAtTwoOfIt) {
  EXPECT_EQ(humanAge(seconds(0)), "0s");
  EXPECT_EQ(humanAge(seconds(45)), "45s");
  EXPECT_EQ(humanAge(seconds(119)), "119s");
  EXPECT_EQ(humanAge(seconds(120)), "2m");
  EXPECT_EQ(humanAge(minutes(12) + seconds(59)), "12m");
  EXPECT_EQ(humanAge(hours(2) - seconds(1)), "119m");
  EXPECT_EQ(humanAge(hours(2)), "2h");
  EXPECT_EQ(humanAge(hours(5) + minutes(59)), "5h");
  EXPECT_EQ(humanAge(hours(48) - seconds(1)), "47h");
  EXPECT_EQ(humanAge(hours(48)), "2d");
  EXPECT_EQ(humanAge(hours(24 * 3 + 5)), "3d");
  EXPECT_EQ(humanAge(hours(24 * 729)), "729d");
  EXPECT_EQ(humanAge(hours(24 * 730)), "2y");
  EXPECT_EQ(humanAge(hours(24 * 365 * 10)), "10y");
}

TEST(HumanAgeTest, NegativeAgeIsZero) {
  // Clock skew between servers can make a creation time lie in the future.
  EXPECT_EQ(humanAge(seconds(-30)), "0s");
}

}  // namespace
}  // namespace tessera

namespace tessera {
namespace {

TEST(ParseRfc3339Range, RefusesYearsTheClockCannotHold) {
  EXPECT_FALSE(parseRfc3339("2999-01-01T00:00:00Z").has_value());
  EXPECT_FALSE(parseRfc3339("1500-01-01T00:00:00Z").has_value());
  ASSERT_TRUE(parseRfc3339("2200-01-01T00:00:00Z").has_value());
  EXPECT_EQ(formatRfc3339(*parseRfc3339("2200-01-01T00:00:00Z")), "2200-01-01T00:00:00Z");
}

}  // namespace
}  // namespace tessera
