// The last gate before a device: allow and deny lists, full-match semantics.

#include "rules/command_policy.hpp"

#include <gtest/gtest.h>

namespace aiopsd::rules {
namespace {

CommandPolicy policy(const std::vector<std::string>& allow, const std::vector<std::string>& deny) {
  std::vector<std::string> errors;
  auto p = CommandPolicy::compile(allow, deny, errors);
  EXPECT_TRUE(p) << (errors.empty() ? "" : errors[0]);
  return p ? *p : CommandPolicy{};
}

TEST(CommandPolicyTest, AllowIsAFullMatch) {
  auto p = policy({"show [a-z ]+", "interface [0-9/]+ shutdown"}, {});
  EXPECT_TRUE(p.has_allow_list());
  EXPECT_FALSE(p.check("show version"));
  EXPECT_FALSE(p.check("interface 1/1/3 shutdown"));
  EXPECT_EQ(p.check("xshow version"), "command matches no allow pattern");
  EXPECT_EQ(p.check("show version 2"), "command matches no allow pattern");
  EXPECT_EQ(p.check("interface 1/1/3 shutdown now"), "command matches no allow pattern");
  EXPECT_EQ(p.check("no interface 1/1/3 shutdown"), "command matches no allow pattern");
}

TEST(CommandPolicyTest, DenyIsAFullMatchAndWins) {
  auto p = policy({"show .*", ".*"}, {".*reload.*", "write"});
  EXPECT_FALSE(p.check("show version"));
  EXPECT_EQ(p.check("show reload"), "command matches deny pattern ^.*reload.*$");
  EXPECT_EQ(p.check("reload"), "command matches deny pattern ^.*reload.*$");
  EXPECT_EQ(p.check("write"), "command matches deny pattern ^write$");
  EXPECT_FALSE(p.check("write memory"));  // "write" denies exactly "write"
  EXPECT_FALSE(p.check("rewrite"));
}

TEST(CommandPolicyTest, EmptyAllowListAllowsAnythingNotDenied) {
  auto open = policy({}, {});
  EXPECT_FALSE(open.has_allow_list());
  EXPECT_FALSE(open.check("anything goes"));
  EXPECT_FALSE(open.check("reload"));
  auto deny_only = policy({}, {"reload( .*)?"});
  EXPECT_FALSE(deny_only.has_allow_list());
  EXPECT_FALSE(deny_only.check("show version"));
  EXPECT_EQ(deny_only.check("reload in 5"), "command matches deny pattern ^reload( .*)?$");
  EXPECT_EQ(deny_only.check("reload"), "command matches deny pattern ^reload( .*)?$");
}

TEST(CommandPolicyTest, MultiLineAndControlCharactersAlwaysRefused) {
  // Even a policy that allows everything explicitly.
  for (const auto& p : {policy({}, {}), policy({".*", "(?s).*"}, {})}) {
    EXPECT_EQ(p.check("show version\nreload"), "multi-line command");
    EXPECT_EQ(p.check("show version\n"), "multi-line command");
    EXPECT_EQ(p.check("show version\r"), "multi-line command");
    EXPECT_EQ(p.check("show version\r\nreload"), "multi-line command");
    EXPECT_EQ(p.check(std::string("show\0x", 6)), "control character 0x00 in command");
    EXPECT_EQ(p.check("show\tversion"), "control character 0x09 in command");
    EXPECT_EQ(p.check("show\x1b[2J"), "control character 0x1b in command");
    EXPECT_EQ(p.check("show\x7f"), "control character 0x7f in command");
    EXPECT_EQ(p.check("show\x03"), "control character 0x03 in command");
    EXPECT_EQ(p.check(""), "empty command");
  }
}

// A device that reads Latin-1 or Unicode sees these as line breaks or
// terminal controls: refused like ASCII controls, whatever the lists say.
TEST(CommandPolicyTest, C1ControlsLineSeparatorsAndInvalidUtf8AlwaysRefused) {
  for (const auto& p : {policy({}, {}), policy({".*", "(?s).*"}, {})}) {
    EXPECT_EQ(p.check("show version\u2028reload"), "U+2028 (line separator) in command");
    EXPECT_EQ(p.check("show version\u2029reload"), "U+2029 (paragraph separator) in command");
    EXPECT_EQ(p.check("show\xc2\x85reload"), "C1 control character U+0085 in command");
    EXPECT_EQ(p.check("show\xc2\x9b"
                      "2J"),
              "C1 control character U+009B in command");
    EXPECT_EQ(p.check("show\x85reload"), "invalid UTF-8 byte 0x85 in command");
    EXPECT_EQ(p.check("show \xc0\x8a"), "invalid UTF-8 byte 0xc0 in command");  // overlong LF
    EXPECT_EQ(p.check("show \xe0\x80\x8a"), "invalid UTF-8 byte 0xe0 in command");
    EXPECT_EQ(p.check("show \xed\xa0\x80"), "invalid UTF-8 byte 0xed in command");  // surrogate
    EXPECT_EQ(p.check("show \xe2\x80"), "invalid UTF-8 byte 0xe2 in command");      // truncated
    // Printable non-ASCII text is not a control: a description in another script passes.
    EXPECT_FALSE(p.check("show interface description caf\u00e9 \u2027 \u00a0"));
  }
}

TEST(CommandPolicyTest, DenyIgnoresCase) {
  auto p = policy({".*"}, {".*\\breload\\b.*", "write erase"});
  EXPECT_EQ(p.check("Reload"), "command matches deny pattern ^.*\\breload\\b.*$");
  EXPECT_EQ(p.check("show RELOAD now"), "command matches deny pattern ^.*\\breload\\b.*$");
  EXPECT_EQ(p.check("WRITE Erase"), "command matches deny pattern ^write erase$");
  // Allow keeps its case: a narrow allow list never widens by accident.
  auto a = policy({"show version"}, {});
  EXPECT_EQ(a.check("SHOW VERSION"), "command matches no allow pattern");
}

// The global policy is a ceiling: an action's policy narrows it, never widens it.
TEST(CommandPolicyTest, NarrowedPolicyMustPassEveryLayer) {
  auto global = policy({"show .*", "interface [0-9/]+ (no )?shutdown"}, {".*reload.*"});
  auto action = policy({".*"}, {"show running-config"});
  auto p = global.narrowed_by(action);
  EXPECT_TRUE(p.has_allow_list());
  EXPECT_FALSE(p.check("show version"));
  EXPECT_FALSE(p.check("interface 1/1/3 shutdown"));
  // The action's allow-everything does not widen the global allow list.
  EXPECT_EQ(p.check("write memory"), "command matches no allow pattern of the global ssh.policy");
  // Both deny lists apply.
  EXPECT_EQ(p.check("show reload"), "command matches deny pattern ^.*reload.*$");
  EXPECT_EQ(p.check("Show Running-Config"), "command matches deny pattern ^show running-config$");
  // An action allow list narrows further.
  auto narrow = global.narrowed_by(policy({"show version"}, {}));
  EXPECT_FALSE(narrow.check("show version"));
  EXPECT_EQ(narrow.check("show clock"), "command matches no allow pattern");
  // A global policy with no allow list: the action's allow list decides.
  auto open_global = policy({}, {"write"});
  EXPECT_FALSE(open_global.narrowed_by(policy({}, {"x"})).has_allow_list());
  EXPECT_TRUE(open_global.narrowed_by(policy({"show .*"}, {})).has_allow_list());
  EXPECT_EQ(open_global.narrowed_by(policy({"show .*"}, {})).check("write"),
            "command matches deny pattern ^write$");
}

TEST(CommandPolicyTest, BadPatternsAreAllReported) {
  std::vector<std::string> errors;
  EXPECT_FALSE(CommandPolicy::compile({"show .*", "("}, {"[z-a]"}, errors));
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0], "allow[1]: invalid pattern '(': missing ): (");
  EXPECT_EQ(errors[1], "deny[0]: invalid pattern '[z-a]': invalid character class range: z-a");
}

}  // namespace
}  // namespace aiopsd::rules
