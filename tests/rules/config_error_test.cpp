// Durations, sizes and the located error format.

#include "rules/config_error.hpp"

#include <gtest/gtest.h>

namespace aiopsd::rules {
namespace {

using namespace std::chrono_literals;

TEST(ParseDuration, Accepts) {
  EXPECT_EQ(parse_duration("500ms"), 500ms);
  EXPECT_EQ(parse_duration("30s"), 30s);
  EXPECT_EQ(parse_duration("5m"), 5min);
  EXPECT_EQ(parse_duration("1h"), 1h);
  EXPECT_EQ(parse_duration("1h30m"), 90min);
  EXPECT_EQ(parse_duration("1m30s500ms"), 90500ms);
  EXPECT_EQ(parse_duration("7d"), 168h);
  EXPECT_EQ(parse_duration("0"), 0ms);
  EXPECT_EQ(parse_duration("0s"), 0ms);
}

TEST(ParseDuration, Rejects) {
  for (const char* bad : {"", "5", "5x", "-5s", "+5s", "1.5h", "5 m", " 5m", "5m ", "m", "5M",
                          "5sec", "1y", "ms", "5m-", "1h 30m"}) {
    EXPECT_FALSE(parse_duration(bad)) << bad;
  }
  EXPECT_FALSE(parse_duration("99999999999s"));  // too many digits
}

TEST(ParseSize, AcceptsAndRejects) {
  EXPECT_EQ(parse_size("4096"), 4096u);
  EXPECT_EQ(parse_size("0"), 0u);
  EXPECT_EQ(parse_size("10B"), 10u);
  EXPECT_EQ(parse_size("256KiB"), 256u << 10);
  EXPECT_EQ(parse_size("4MiB"), 4u << 20);
  EXPECT_EQ(parse_size("1GiB"), 1u << 30);
  EXPECT_EQ(parse_size("64KB"), 64'000u);
  EXPECT_EQ(parse_size("2MB"), 2'000'000u);
  for (const char* bad : {"", "lots", "4 MiB", "4mib", "KiB", "-1", "1.5MiB", "4TiB", "4MiBs"}) {
    EXPECT_FALSE(parse_size(bad)) << bad;
  }
}

TEST(ParseSize, HugeValuesAreRejectedNotWrapped) {
  // 2^34 GiB is 2^64 bytes: must not come back as 0 (or any wrapped value).
  auto v = parse_size("17179869184GiB");
  EXPECT_FALSE(v) << "parsed as " << *v;
  auto w = parse_size("1099511627776MiB");
  EXPECT_FALSE(w) << "parsed as " << *w;
}

TEST(ConfigErrorFormat, FileLineColumnPathMessage) {
  EXPECT_EQ((ConfigError{"rules.yaml", 12, 7, "rules[3].match.severity", "boom"}.to_string()),
            "rules.yaml:12:7: rules[3].match.severity: boom");
  EXPECT_EQ((ConfigError{"rules.yaml", 0, 0, "rules", "boom"}.to_string()),
            "rules.yaml: rules: boom");
  EXPECT_EQ((ConfigError{"rules.yaml", 3, 1, "", "boom"}.to_string()), "rules.yaml:3:1: boom");
  EXPECT_EQ((ConfigError{"", 0, 0, "", "boom"}.to_string()), "boom");
}

TEST(ConfigErrorFormat, CollectsAndLocates) {
  YAML::Node root = YAML::Load("a: 1\nb:\n  c: x\n");
  ConfigErrors errors("f.yaml");
  errors.add(root["b"]["c"], "b.c", "bad");
  errors.add(root["missing"], "missing", "absent");
  errors.add_unlocated("", "no place");
  EXPECT_EQ(errors.to_string(),
            "f.yaml:3:6: b.c: bad\nf.yaml: missing: absent\nf.yaml: no place\n");
}

TEST(YamlMapTest, StrictKeysAndTypedGetters) {
  YAML::Node root = YAML::Load(R"(name: x
n: 12
big: 99
flag: yes
d: 5q
s: 4MiB
list: [a, [b], c]
extra: 1
)");
  ConfigErrors errors("f.yaml");
  YamlMap m(root, "top", errors, {"name", "n", "big", "flag", "d", "s", "list", "absent"});
  EXPECT_TRUE(m.valid());
  EXPECT_EQ(m.string("name"), "x");
  EXPECT_EQ(m.integer("n", 0, 20), 12);
  EXPECT_FALSE(m.integer("big", 0, 20));
  EXPECT_FALSE(m.boolean("flag"));
  EXPECT_FALSE(m.duration("d"));
  EXPECT_EQ(m.size("s"), 4u << 20);
  EXPECT_EQ(m.string_list("list"), (std::vector<std::string>{"a", "c"}));
  EXPECT_FALSE(m.string("absent", true));
  EXPECT_EQ(errors.to_string(),
            "f.yaml:8:1: top.extra: unknown field\n"
            "f.yaml:3:6: top.big: 99 is out of range [0, 20]\n"
            "f.yaml:4:7: top.flag: expected true or false\n"
            "f.yaml:5:4: top.d: invalid duration '5q' (expected e.g. 500ms, 30s, 5m, 1h)\n"
            "f.yaml:7:11: top.list[1]: expected a string\n"
            "f.yaml:1:1: top.absent: missing required field\n");
}

}  // namespace
}  // namespace aiopsd::rules
