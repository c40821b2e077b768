#include "connectors/common/rfc3339.hpp"

#include <gtest/gtest.h>

#include <chrono>

namespace aiopsd::wire {
namespace {

using namespace std::chrono;

rules::TimePoint utc(int y, unsigned m, unsigned d, int h, int mi, int s) {
  return rules::TimePoint{sys_days{year{y} / month{m} / day{d}} + hours{h} + minutes{mi} +
                          seconds{s}};
}

TEST(Rfc3339, ParsesUtcAndFractions) {
  rules::TimePoint t;
  ASSERT_EQ(parse_rfc3339("2024-01-02T03:04:05Z", t), TimestampParse::kOk);
  EXPECT_EQ(t, utc(2024, 1, 2, 3, 4, 5));
  ASSERT_EQ(parse_rfc3339("2024-01-02T03:04:05.123Z", t), TimestampParse::kOk);
  EXPECT_EQ(t, utc(2024, 1, 2, 3, 4, 5) + milliseconds{123});
  ASSERT_EQ(parse_rfc3339("2024-01-02T03:04:05.123456789Z", t), TimestampParse::kOk);
  EXPECT_EQ(t, utc(2024, 1, 2, 3, 4, 5) + nanoseconds{123456789});
  ASSERT_EQ(parse_rfc3339("2024-01-02T03:04:05.1234567891234z", t), TimestampParse::kOk);
  EXPECT_EQ(t, utc(2024, 1, 2, 3, 4, 5) + nanoseconds{123456789});
  ASSERT_EQ(parse_rfc3339("1970-01-01t00:00:00Z", t), TimestampParse::kOk);
  EXPECT_EQ(t, rules::TimePoint{});
}

TEST(Rfc3339, ParsesOffsets) {
  rules::TimePoint t;
  ASSERT_EQ(parse_rfc3339("2024-01-02T05:04:05+02:00", t), TimestampParse::kOk);
  EXPECT_EQ(t, utc(2024, 1, 2, 3, 4, 5));
  ASSERT_EQ(parse_rfc3339("2024-01-01T22:34:05.5-04:30", t), TimestampParse::kOk);
  EXPECT_EQ(t, utc(2024, 1, 2, 3, 4, 5) + milliseconds{500});
  ASSERT_EQ(parse_rfc3339("2024-02-29T00:00:00+00:00", t), TimestampParse::kOk);
}

TEST(Rfc3339, ZeroTimeMeansUnset) {
  rules::TimePoint t = utc(2024, 1, 1, 0, 0, 0);
  EXPECT_EQ(parse_rfc3339("0001-01-01T00:00:00Z", t), TimestampParse::kZero);
  EXPECT_EQ(t, rules::TimePoint{});
}

TEST(Rfc3339, ClampsOutOfRange) {
  rules::TimePoint t;
  EXPECT_EQ(parse_rfc3339("9999-12-31T23:59:59Z", t), TimestampParse::kClamped);
  EXPECT_EQ(t, rules::TimePoint::max());
  EXPECT_EQ(parse_rfc3339("0001-01-01T00:00:01Z", t), TimestampParse::kClamped);
  EXPECT_EQ(t, rules::TimePoint::min());
}

TEST(Rfc3339, RejectsMalformed) {
  rules::TimePoint t;
  for (const char* s :
       {"", "yesterday", "2024-01-02", "2024-01-02T03:04:05", "2024-01-02 03:04:05Z",
        "2024-1-02T03:04:05Z", "2024-13-02T03:04:05Z", "2023-02-29T03:04:05Z",
        "2024-01-32T03:04:05Z", "2024-01-02T24:00:00Z", "2024-01-02T03:60:05Z",
        "2024-01-02T03:04:60Z", "2024-01-02T03:04:05.Z", "2024-01-02T03:04:05+0200",
        "2024-01-02T03:04:05+24:00", "2024-01-02T03:04:05Zjunk", "2024-01-02T03:04:05 Z",
        "+2024-01-02T03:04:05Z", "1712345678"}) {
    EXPECT_EQ(parse_rfc3339(s, t), TimestampParse::kInvalid) << s;
  }
}

}  // namespace
}  // namespace aiopsd::wire
