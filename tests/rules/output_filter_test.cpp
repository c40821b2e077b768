// Device output is cleaned before it is logged, audited or published.

#include "rules/output_filter.hpp"

#include <gtest/gtest.h>

namespace aiopsd::rules {
namespace {

OutputFilter filter(const std::vector<std::string>& patterns) {
  std::vector<std::string> errors;
  auto f = OutputFilter::compile(patterns, errors);
  EXPECT_TRUE(f) << (errors.empty() ? "" : errors[0]);
  return f ? *f : OutputFilter{};
}

TEST(OutputFilterTest, StripsAnsiSequences) {
  OutputFilter f;
  EXPECT_EQ(f.apply("Interface is \x1b[31mdown\x1b[0m"), "Interface is down");
  EXPECT_EQ(f.apply("\x1b[1;32mok\x1b[m"), "ok");
  EXPECT_EQ(f.apply("\x1b[38;5;196mred\x1b[39m"), "red");
  // Cursor moves, erase, hide/show cursor.
  EXPECT_EQ(f.apply("\x1b[2J\x1b[H\x1b[10;20Hx\x1b[3A\x1b[K\x1b[?25ly\x1b[?25h"), "xy");
  // OSC window title, terminated by BEL or by ST.
  EXPECT_EQ(f.apply("\x1b]0;router title\x07prompt#"), "prompt#");
  EXPECT_EQ(f.apply("\x1b]2;title\x1b\\prompt#"), "prompt#");
  // Two-byte escapes: reverse index, index.
  EXPECT_EQ(f.apply("a\x1bMb\x1b"
                    "Dc"),
            "abc");
  EXPECT_EQ(f.apply("plain text\nline 2\n"), "plain text\nline 2\n");
  EXPECT_EQ(strip_ansi("\x1b[31mred\x1b[0m \x1b]0;t\x07x"), "red x");
}

// No raw ESC may survive into logs and audit: save/restore cursor (ESC 7,
// ESC 8), keypad modes (ESC =, ESC >), charset selection (ESC ( B, which
// `tput sgr0` emits) and full reset (ESC c) are common in device output.
TEST(OutputFilterTest, StripsOtherEscapeSequences) {
  OutputFilter f;
  EXPECT_EQ(f.apply("a\x1b"
                    "7b\x1b"
                    "8c"),
            "abc");
  EXPECT_EQ(f.apply("a\x1b=b\x1b>c"), "abc");
  EXPECT_EQ(f.apply("\x1b(Bok\x1b[m"), "ok");
  EXPECT_EQ(f.apply("\x1b"
                    "cok"),
            "ok");
}

TEST(OutputFilterTest, RedactsOnlyCaptureGroups) {
  auto f = filter({R"(password \d+ (\S+))", R"(snmp-server community (\S+))"});
  EXPECT_EQ(f.apply("password 7 0822455D0A16"), "password 7 <redacted>");
  EXPECT_EQ(f.apply("username admin password 7 0822455D0A16\nsnmp-server community s3cr3t ro\n"),
            "username admin password 7 <redacted>\nsnmp-server community <redacted> ro\n");
}

TEST(OutputFilterTest, RedactsWholeMatchWithoutGroups) {
  auto f = filter({R"(secret-token-\w+)"});
  EXPECT_EQ(f.apply("a secret-token-abc and secret-token-def."), "a <redacted> and <redacted>.");
}

TEST(OutputFilterTest, MultipleMatchesAndGroups) {
  auto f = filter({R"(password \d+ (\S+))", R"(key (\S+) value (\S+))"});
  EXPECT_EQ(f.apply("password 7 AAA\n password 0 BBB\npassword 5 CCC"),
            "password 7 <redacted>\n password 0 <redacted>\npassword 5 <redacted>");
  EXPECT_EQ(f.apply("key k1 value v1 and key k2 value v2"),
            "key <redacted> value <redacted> and key <redacted> value <redacted>");
}

TEST(OutputFilterTest, NoMatchLeavesTextAlone) {
  auto f = filter({R"(password \d+ (\S+))"});
  EXPECT_EQ(f.apply("nothing to hide"), "nothing to hide");
  EXPECT_EQ(f.apply(""), "");
  EXPECT_EQ(filter({}).apply("password 7 x"), "password 7 x");
}

TEST(OutputFilterTest, AnsiIsStrippedBeforeRedaction) {
  auto f = filter({R"(password \d+ (\S+))"});
  EXPECT_EQ(f.apply("password \x1b[1m7\x1b[0m secret"), "password 7 <redacted>");
}

TEST(OutputFilterTest, BadPatternsAreReported) {
  std::vector<std::string> errors;
  EXPECT_FALSE(OutputFilter::compile({"ok", "(bad"}, errors));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0], "redact[1]: invalid pattern '(bad': missing ): (bad");
}

}  // namespace
}  // namespace aiopsd::rules
