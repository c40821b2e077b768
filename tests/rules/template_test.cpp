// Templates and parameter patterns: what stands between an alert's label
// values and a device command.

#include "rules/template.hpp"

#include <gtest/gtest.h>

#include "tests/rules/rules_test_util.hpp"

namespace aiopsd::rules {
namespace {

class TemplateTest : public ::testing::Test {
 protected:
  Template parse(const std::string& text) {
    std::string err;
    auto t = Template::parse(text, err, in_);
    EXPECT_TRUE(t) << err;
    return t ? *t : Template{};
  }
  std::string parse_error(const std::string& text) {
    std::string err;
    EXPECT_FALSE(Template::parse(text, err, in_)) << text;
    return err;
  }
  Event event(const std::string& iface) {
    return test::make_event(in_, {{"interface", iface}, {"device", "sw1"}}, EventStatus::kFiring,
                            {{"summary", "port down"}, {"runbook", "rb-17"}});
  }
  RenderResult render(const std::string& text, const std::string& iface) {
    return parse(text).render(TemplateContext(event(iface)), in_, patterns_);
  }
  Interner in_;
  ParamPatterns patterns_;
};

TEST_F(TemplateTest, SubstitutesLabelsAndAnnotations) {
  auto r = render("interface {{ labels.interface }} shutdown on {{labels.device}}", "1/1/3");
  ASSERT_TRUE(r.ok()) << r.error->message;
  EXPECT_EQ(r.text, "interface 1/1/3 shutdown on sw1");
  r = render("show {{ annotations.runbook }}", "1/1/3");
  ASSERT_TRUE(r.ok()) << r.error->message;
  EXPECT_EQ(r.text, "show rb-17");
  r = render("no references at all", "1/1/3");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.text, "no references at all");
}

TEST_F(TemplateTest, RenderTextIsForLogsOnlyAndSkipsPatterns) {
  Template t = parse("{{ annotations.summary }} on {{ labels.interface }}{{ labels.nope }}");
  EXPECT_EQ(t.render_text(TemplateContext(event("1/1/3; reload")), in_),
            "port down on 1/1/3; reload");
  // The same template for a command refuses both the space and the missing label.
  EXPECT_FALSE(t.render(TemplateContext(event("1/1/3")), in_, patterns_).ok());
}

TEST_F(TemplateTest, ReferencesAndParseErrors) {
  EXPECT_EQ(parse("a {{ labels.x }} b {{annotations.y}}").references(),
            (std::vector<std::string>{"labels.x", "annotations.y"}));
  EXPECT_EQ(parse("a {{ labels.x }}").source(), "a {{ labels.x }}");
  EXPECT_EQ(parse_error("show {{ labels.x"), "unclosed '{{' at offset 5");
  EXPECT_EQ(parse_error("{{ lables.x }}"),
            "unknown reference 'lables.x' (expected labels.NAME, annotations.NAME, group.NAME or "
            "members[N].labels.NAME)");
  EXPECT_EQ(parse_error("{{ labels. }}"), "empty name in reference 'labels.'");
  EXPECT_EQ(parse_error("{{ env.HOME }}"),
            "unknown reference 'env.HOME' (expected labels.NAME, annotations.NAME, group.NAME or "
            "members[N].labels.NAME)");
}

TEST_F(TemplateTest, MissingLabelIsATemplateError) {
  auto r = render("show {{ labels.nope }}", "1/1/1");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error->code, "template_error");
  EXPECT_EQ(r.error->message, "labels.nope: missing in the alert");
  EXPECT_TRUE(r.text.empty());
  r = render("show {{ labels.interface }} {{ annotations.nope }}", "1/1/1");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error->code, "template_error");
  EXPECT_EQ(r.error->message, "annotations.nope: missing in the alert");
  EXPECT_TRUE(r.text.empty());  // no partial text either
}

TEST_F(TemplateTest, DefaultPatternAcceptsHostsAndInterfaces) {
  for (const std::string& ok :
       std::vector<std::string>{"1/1/3", "GigabitEthernet0/1", "10.0.0.1:9100", "sw-1.dc1",
                                "fe80::1", "a_b", std::string(128, 'a')}) {
    auto r = render("x {{ labels.interface }}", ok);
    ASSERT_TRUE(r.ok()) << ok << ": " << r.error->message;
    EXPECT_EQ(r.text, "x " + ok);
  }
}

TEST_F(TemplateTest, InjectionAttemptsAreRefusedAndProduceNothing) {
  const std::vector<std::string> attempts = {
      "1/1/3; reload",
      "1/1/3 | reload",
      "1/1/3 && reload",
      "$(reboot)",
      "`reboot`",
      "1/1/3'",
      "1/1/3\"",
      "'; reload; '",
      "1/1/3\nreload",
      "1/1/3\rreload",
      "1/1/3\treload",
      std::string("1/1/3\0reload", 12),
      "1/1/3\xEF\xBC\x9B reload",  // fullwidth semicolon U+FF1B
      "1/1/3\xEF\xBC\x9Breload",   // same, no space
      "\xEF\xBD\x92"
      "eload",                    // fullwidth small r U+FF52
      "1/1/3\xE2\x80\xA8reload",  // U+2028 line separator
      "1/1/3\xC2\x85reload",      // U+0085 next line
      "\xD0\xB0",                 // Cyrillic a
      "1/1/3 reload",             // a plain space
      "1/1/3>out",
      "1/1/3*",
      std::string(129, 'a'),
  };
  for (const std::string& hostile : attempts) {
    auto r = render("interface {{ labels.interface }} shutdown", hostile);
    ASSERT_FALSE(r.ok()) << hostile;
    EXPECT_EQ(r.error->code, "policy_violation") << hostile;
    EXPECT_TRUE(r.text.empty()) << hostile;
    EXPECT_NE(r.error->message.find("does not match ^[A-Za-z0-9_./:-]{1,128}$"), std::string::npos)
        << r.error->message;
    // Hostile values are quoted safely: no raw control characters in the message.
    for (unsigned char c : r.error->message) EXPECT_FALSE(c < 0x20 || c == 0x7f) << hostile;
  }
}

// An empty value is an absent label (Prometheus semantics): it renders nothing.
TEST_F(TemplateTest, EmptyValueIsAMissingLabel) {
  auto r = render("interface {{ labels.interface }} shutdown", "");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error->code, "template_error");
  EXPECT_TRUE(r.text.empty());
  EXPECT_NE(r.error->message.find("labels.interface: missing"), std::string::npos)
      << r.error->message;
}

TEST_F(TemplateTest, ErrorMessageQuotesAndBoundsTheValue) {
  auto r = render("{{ labels.interface }}", "a\nb");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error->message,
            R"(labels.interface: "a\x0ab" does not match ^[A-Za-z0-9_./:-]{1,128}$)");
  r = render("{{ labels.interface }}", std::string(200, 'z'));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error->message, "labels.interface: \"" + std::string(64, 'z') +
                                  "...\" does not match ^[A-Za-z0-9_./:-]{1,128}$");
}

TEST_F(TemplateTest, InjectionThroughAnAnnotationIsRefusedToo) {
  Event e = test::make_event(in_, {{"device", "sw1"}}, EventStatus::kFiring,
                             {{"iface", "1/1/3; reload"}});
  auto r = parse("interface {{ annotations.iface }}").render(TemplateContext(e), in_, patterns_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error->code, "policy_violation");
  EXPECT_TRUE(r.text.empty());
}

TEST_F(TemplateTest, DeclaredPatternReplacesTheDefaultForThatReferenceOnly) {
  ASSERT_FALSE(patterns_.set("labels.interface", "[0-9]+/[0-9]+/[0-9]+"));
  EXPECT_EQ(patterns_.pattern_text("labels.interface"), "[0-9]+/[0-9]+/[0-9]+");
  EXPECT_EQ(patterns_.pattern_text("labels.device"), kDefaultParamPattern);
  EXPECT_TRUE(render("interface {{ labels.interface }}", "1/1/3").ok());
  auto r = render("interface {{ labels.interface }}", "eth0");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error->code, "policy_violation");
  EXPECT_EQ(r.error->message, R"(labels.interface: "eth0" does not match ^[0-9]+/[0-9]+/[0-9]+$)");
  // Custom patterns are fully anchored too.
  EXPECT_FALSE(render("interface {{ labels.interface }}", "1/1/3; reload").ok());
  EXPECT_FALSE(render("interface {{ labels.interface }}", "x1/1/3").ok());
  // The default still guards the other reference.
  EXPECT_TRUE(render("{{ labels.interface }} {{ labels.device }}", "1/1/3").ok());
}

TEST_F(TemplateTest, CustomPatternCanWidenDeliberately) {
  ASSERT_FALSE(patterns_.set("labels.interface", "[A-Za-z]+ [0-9/]+"));
  auto r = render("interface {{ labels.interface }}", "Gi 1/0/1");
  ASSERT_TRUE(r.ok()) << r.error->message;
  EXPECT_EQ(r.text, "interface Gi 1/0/1");
  EXPECT_FALSE(render("interface {{ labels.interface }}", "Gi 1/0/1\nreload").ok());
}

TEST_F(TemplateTest, InvalidPatternIsReported) {
  auto err = patterns_.set("labels.x", "(unclosed");
  ASSERT_TRUE(err);
  EXPECT_EQ(*err, "invalid pattern '(unclosed': missing ): (unclosed");
  EXPECT_EQ(patterns_.pattern_text("labels.x"), kDefaultParamPattern);  // not replaced
}

TEST(StripPort, HostForms) {
  EXPECT_EQ(strip_port("10.0.0.1:9100"), "10.0.0.1");
  EXPECT_EQ(strip_port("[::1]:9100"), "::1");
  EXPECT_EQ(strip_port("[fe80::1]"), "fe80::1");
  EXPECT_EQ(strip_port("sw-1"), "sw-1");
  EXPECT_EQ(strip_port("sw-1:22"), "sw-1");
  EXPECT_EQ(strip_port("fe80::1"), "fe80::1");
  EXPECT_EQ(strip_port("2001:db8::9100"), "2001:db8::9100");
  EXPECT_EQ(strip_port("sw-1:"), "sw-1:");
  EXPECT_EQ(strip_port("sw-1:http"), "sw-1:http");
  EXPECT_EQ(strip_port(""), "");
}

}  // namespace
}  // namespace aiopsd::rules
