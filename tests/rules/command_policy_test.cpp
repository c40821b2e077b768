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

TEST(CommandPolicyTest, BadPatternsAreAllReported) {
  std::vector<std::string> errors;
  EXPECT_FALSE(CommandPolicy::compile({"show .*", "("}, {"[z-a]"}, errors));
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0], "allow[1]: invalid pattern '(': missing ): (");
  EXPECT_EQ(errors[1], "deny[0]: invalid pattern '[z-a]': invalid character class range: z-a");
}

}  // namespace
}  // namespace aiopsd::rules
