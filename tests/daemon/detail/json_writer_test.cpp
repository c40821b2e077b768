#include "daemon/detail/json_writer.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "connectors/common/rfc3339.hpp"
#include "rules/event.hpp"

namespace aiopsd::daemon::detail {
namespace {

namespace json = boost::json;

TEST(JsonWriter, NestedContainersGetCommasRight) {
  std::string out;
  JsonWriter w(out);
  w.begin_object()
      .field("a", std::string("x"))
      .key("list")
      .begin_array()
      .begin_object()
      .field("n", 1)
      .end_object()
      .begin_object()
      .end_object()
      .value(false)
      .null()
      .end_array()
      .field("b", true)
      .key("raw")
      .raw(R"({"k":[1,2]})")
      .field("neg", std::int64_t{-5})
      .end_object();
  EXPECT_EQ(out, R"({"a":"x","list":[{"n":1},{},false,null],"b":true,"raw":{"k":[1,2]},"neg":-5})");
}

TEST(JsonWriter, EscapesEveryCharacterJsonRequires) {
  const std::string hostile =
      std::string("q\"b\\n\nr\rt\tz\x01\x1f\x7f", 14) + std::string(1, '\0');
  std::string out;
  JsonWriter(out).value(hostile);
  EXPECT_EQ(out, "\"q\\\"b\\\\n\\nr\\rt\\tz\\u0001\\u001f\x7f\\u0000\"");
  EXPECT_EQ(json::parse(out).as_string(), hostile);
}

TEST(JsonWriter, KeepsValidUtf8AndReplacesInvalidBytes) {
  std::string out;
  JsonWriter(out).value("ü → 𝄞");
  EXPECT_EQ(json::parse(out).as_string(), "ü → 𝄞");
  // A lone continuation byte, a truncated sequence, an overlong '/', a surrogate.
  out.clear();
  JsonWriter(out).value(
      "a\x80"
      "b\xE2\x82"
      "c\xC0\xAF"
      "d\xED\xA0\x80"
      "e");
  const std::string r = "\xEF\xBF\xBD";  // U+FFFD, one per byte that starts no valid sequence
  EXPECT_EQ(std::string(json::parse(out).as_string()),
            "a" + r + "b" + r + r + "c" + r + r + "d" + r + r + r + "e");
}

TEST(Rfc3339, FormatsMillisecondsInUtcAcrossTheCalendar) {
  using std::chrono::milliseconds;
  using TP = rules::TimePoint;
  EXPECT_EQ(rules::format_rfc3339(TP(milliseconds(0))), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(rules::format_rfc3339(TP(milliseconds(951782400123))), "2000-02-29T00:00:00.123Z");
  EXPECT_EQ(rules::format_rfc3339(TP(milliseconds(1795564799999))), "2026-11-24T23:59:59.999Z");
  EXPECT_EQ(rules::format_rfc3339(TP(milliseconds(-1))), "1969-12-31T23:59:59.999Z");
  // Round trip through the parser the decoders use.
  const auto t = TP(milliseconds(1795564799999));
  TP back{};
  EXPECT_EQ(wire::parse_rfc3339(rules::format_rfc3339(t), back), wire::TimestampParse::kOk);
  EXPECT_EQ(back, t);
}

}  // namespace
}  // namespace aiopsd::daemon::detail
