#include "rules/rule_test.hpp"

#include <gtest/gtest.h>

#include <string>

namespace aiopsd::rules {
namespace {

const std::string kData = std::string(AIOPSD_RULES_TEST_DATA) + "/rule_test/";

TEST(RuleTest, PassingFileRunsEveryTest) {
  auto outcome = run_rule_test_file(kData + "pass_test.yaml");
  ASSERT_FALSE(outcome.invalid()) << outcome.errors.to_string();
  EXPECT_EQ(outcome.tests, 2u);
  EXPECT_EQ(outcome.failed, 0u);
  EXPECT_EQ(outcome.diff, "");
}

TEST(RuleTest, FailingFilePrintsDiffPerTime) {
  auto outcome = run_rule_test_file(kData + "fail_test.yaml");
  ASSERT_FALSE(outcome.invalid()) << outcome.errors.to_string();
  EXPECT_EQ(outcome.tests, 2u);
  EXPECT_EQ(outcome.failed, 1u);
  EXPECT_EQ(outcome.diff,
            R"(  FAILED: wrong time, wrong commands and an extra decision
    at 0s:
      exp: []
      got: [bounce{device=sw1,port=1/3} commands=["interface 1/3 shutdown", "interface 1/3 no shutdown"] at 0s]
    at 1m:
      exp: [bounce{device=sw1,port=1/3}]
      got: []
    at 2m:
      exp: [bounce{device=sw1,port=1/4} commands=["interface 1/4 shutdown"]]
      got: [bounce{device=sw1,port=1/4} commands=["interface 1/4 shutdown", "interface 1/4 no shutdown"] at 2m]
    at 3m:
      exp: []
      got: [bounce{device=sw2,port=1/1} commands=["interface 1/1 shutdown", "interface 1/1 no shutdown"] at 3m]
)");
}

TEST(RuleTest, InvalidFileReportsEveryErrorLocated) {
  const std::string file = kData + "invalid_test.yaml";
  auto outcome = run_rule_test_file(file);
  ASSERT_TRUE(outcome.invalid());
  EXPECT_EQ(outcome.tests, 0u);
  EXPECT_EQ(outcome.errors.to_string(),
            file +
                ":4:15: tests[0].interval: invalid duration '1 minute' (expected e.g. 500ms, "
                "30s, 5m, 1h)\n" +
                file +
                ":6:14: tests[0].input_alerts[0].at: invalid duration 'soon' (expected "
                "e.g. 0s, 30s, 5m)\n" +
                file + ":7:18: tests[0].input_alerts[1].label: unknown field\n" + file +
                ":7:9: tests[0].input_alerts[1].labels: missing required field\n" + file +
                ":9:14: tests[0].expect[0].at: window '5m..1m' ends before it starts\n" + file +
                ":10:24: tests[0].expect[1].rule: unknown rule 'no-such-rule' (not in "
                "rule_files)\n");
}

TEST(RuleTest, RulesFileErrorsAreReported) {
  auto outcome =
      run_rule_test_text("rule_files: [missing.yaml]\ntests: []\n", kData + "inline_test.yaml");
  ASSERT_TRUE(outcome.invalid());
  EXPECT_EQ(outcome.errors.to_string(), kData + "missing.yaml: cannot open file\n");
}

TEST(RuleTest, BrokenRulesFileDoesNotCascadeIntoUnknownRules) {
  auto outcome = run_rule_test_text(
      "rule_files: [missing.yaml]\ntests:\n  - name: t\n    expect: [{at: 0s, rule: bounce}]\n",
      kData + "inline_test.yaml");
  ASSERT_TRUE(outcome.invalid());
  EXPECT_EQ(outcome.errors.to_string(), kData + "missing.yaml: cannot open file\n");
}

TEST(RuleTest, SyntaxErrorIsLocated) {
  auto outcome = run_rule_test_text("tests: [\n", "t.yaml");
  ASSERT_TRUE(outcome.invalid());
  EXPECT_TRUE(outcome.errors.to_string().starts_with("t.yaml:")) << outcome.errors.to_string();
}

TEST(RuleTest, ExampleRulesPass) {
  auto outcome =
      run_rule_test_file(std::string(AIOPSD_SOURCE_DIR) + "/examples/rules/demo_test.yaml");
  ASSERT_FALSE(outcome.invalid()) << outcome.errors.to_string();
  EXPECT_GT(outcome.tests, 0u);
  EXPECT_EQ(outcome.failed, 0u) << outcome.diff;
}

TEST(RuleTest, FormatsDurations) {
  using std::chrono::milliseconds;
  EXPECT_EQ(format_test_duration(milliseconds{0}), "0s");
  EXPECT_EQ(format_test_duration(milliseconds{90'000}), "1m30s");
  EXPECT_EQ(format_test_duration(milliseconds{1'500}), "1s500ms");
  EXPECT_EQ(format_test_duration(milliseconds{3'600'000}), "1h");
}

}  // namespace
}  // namespace aiopsd::rules
