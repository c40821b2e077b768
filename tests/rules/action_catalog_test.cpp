#include "rules/action_catalog.hpp"

#include <gtest/gtest.h>

#include <string>

namespace aiopsd::rules {
namespace {

constexpr const char* kCatalog = R"(actions:
  - name: port-bounce
    params:
      port: {type: string, pattern: '[0-9]+/[0-9]+/[0-9]+'}
    commands: ["interface {{ params.port }} shutdown", "interface {{params.port}} no shutdown"]
    timeout: 30s
  - name: recent-log
    params:
      lines: {type: integer, min: 1, max: 500, default: "50"}
    commands: ["show logging last {{ params.lines }}"]
  - name: restart-service
    params:
      service: {type: enum, values: [node-exporter, snmpd]}
    commands: ["restart service {{ params.service }}"]
  - name: ping-from
    params:
      peer: {type: device}
      note: {type: string, required: false}
    commands: ["ping {{ params.peer }}"]
    approval: required
)";

class ActionCatalogTest : public ::testing::Test {
 protected:
  ActionCatalog catalog_;
  void SetUp() override {
    ConfigErrors errors;
    load_catalog_text(kCatalog, "catalog.yaml", catalog_, errors);
    ASSERT_TRUE(errors.empty()) << errors.to_string();
  }
  // The rendered commands, or "code field: message".
  std::string resolve(const std::string& action, std::map<std::string, ParamValue> params) {
    const CatalogAction* a = catalog_.find(action);
    if (!a) return "no such action";
    auto r = catalog_.resolve(*a, params, [](std::string_view d) { return d == "sw-1"; });
    if (auto* e = std::get_if<ActionError>(&r)) return e->code + " " + e->field + ": " + e->message;
    std::string out;
    for (const auto& c : std::get<ResolvedAction>(r).commands) out += c + ";";
    return out;
  }
};

TEST_F(ActionCatalogTest, LoadsEveryField) {
  ASSERT_EQ(catalog_.actions().size(), 4u);
  const CatalogAction* a = catalog_.find("port-bounce");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->timeout, std::chrono::seconds(30));
  EXPECT_EQ(a->approval, Approval::kNone);
  EXPECT_EQ(catalog_.find("ping-from")->approval, Approval::kRequired);
  EXPECT_EQ(catalog_.find("recent-log")->params[0].default_value, "50");
  EXPECT_EQ(catalog_.find("missing"), nullptr);
}

TEST_F(ActionCatalogTest, RendersValidParameters) {
  EXPECT_EQ(resolve("port-bounce", {{"port", std::string("1/1/3")}}),
            "interface 1/1/3 shutdown;interface 1/1/3 no shutdown;");
  EXPECT_EQ(resolve("recent-log", {{"lines", std::int64_t{20}}}), "show logging last 20;");
  EXPECT_EQ(resolve("recent-log", {{"lines", std::string("20")}}), "show logging last 20;");
  EXPECT_EQ(resolve("recent-log", {}), "show logging last 50;");
  EXPECT_EQ(resolve("restart-service", {{"service", std::string("snmpd")}}),
            "restart service snmpd;");
  EXPECT_EQ(resolve("ping-from", {{"peer", std::string("sw-1")}}), "ping sw-1;");
}

TEST_F(ActionCatalogTest, EachBadParameterIsNamedPrecisely) {
  EXPECT_EQ(resolve("port-bounce", {{"port", std::string("1/1/3; reload")}}),
            "invalid_params params.port: params.port: \"1/1/3; reload\" does not match "
            "^[0-9]+/[0-9]+/[0-9]+$");
  EXPECT_EQ(resolve("port-bounce", {}),
            "invalid_params params.port: params.port: missing required parameter");
  EXPECT_EQ(resolve("port-bounce", {{"port", std::int64_t{3}}}),
            "invalid_params params.port: params.port: expected a string, got 3");
  EXPECT_EQ(resolve("port-bounce", {{"port", std::string("1/1/3")}, {"force", true}}),
            "invalid_params params.force: params.force: unknown parameter of action "
            "'port-bounce'");
  EXPECT_EQ(resolve("recent-log", {{"lines", std::int64_t{501}}}),
            "invalid_params params.lines: params.lines: 501 is out of range [1, 500]");
  EXPECT_EQ(resolve("recent-log", {{"lines", std::string("20; reload")}}),
            "invalid_params params.lines: params.lines: expected an integer, got \"20; reload\"");
  EXPECT_EQ(resolve("recent-log", {{"lines", true}}),
            "invalid_params params.lines: params.lines: expected an integer, got true");
  EXPECT_EQ(resolve("restart-service", {{"service", std::string("sshd")}}),
            "invalid_params params.service: params.service: \"sshd\" is not one of "
            "[node-exporter, snmpd]");
  EXPECT_EQ(resolve("ping-from", {{"peer", std::string("sw-9")}}),
            "invalid_params params.peer: params.peer: device \"sw-9\" is not in the inventory");
}

// Nothing hostile ever becomes part of a command: each attempt fails its type.
TEST_F(ActionCatalogTest, InjectionAttemptsNeverRender) {
  for (const std::string hostile :
       {"1/1/3;reload", "1/1/3 && reload", "$(reboot)", "`reboot`", "1/1/3'", "1/1/3\nreload",
        "1/1/3\xEF\xBC\x9Breload", "1/1/3\xE2\x80\xA8reload", "", "1/1/3 ", " 1/1/3"}) {
    const std::string got = resolve("port-bounce", {{"port", hostile}});
    EXPECT_EQ(got.rfind("invalid_params params.port: ", 0), 0u) << got;
    for (unsigned char c : got) EXPECT_FALSE(c < 0x20 || c == 0x7f) << got;
  }
}

std::string catalog_errors(const std::string& yaml) {
  ActionCatalog c;
  ConfigErrors errors;
  load_catalog_text(yaml, "catalog.yaml", c, errors);
  return errors.to_string();
}

TEST(ActionCatalogLoad, EachErrorExactly) {
  EXPECT_EQ(catalog_errors("actions:\n  - name: a\n    commands: [\"x {{ params.y }}\"]\n"),
            "catalog.yaml:3:16: actions[0].commands[0]: params.y is not a declared parameter\n");
  EXPECT_EQ(catalog_errors("actions:\n  - name: a\n    commands: [\"x {{ labels.y }}\"]\n"),
            "catalog.yaml:3:16: actions[0].commands[0]: '{{ labels.y }}': expected {{ "
            "params.NAME }}\n");
  EXPECT_EQ(catalog_errors("actions:\n  - name: a\n    params: {p: {type: float}}\n"
                           "    commands: [x]\n"),
            "catalog.yaml:3:24: actions[0].params.p.type: unknown type 'float' (expected string, "
            "enum, integer or device)\n");
  EXPECT_EQ(catalog_errors("actions:\n  - name: a\n    params: {p: {type: enum}}\n"
                           "    commands: [x]\n"),
            "catalog.yaml:3:17: actions[0].params.p.values: an enum needs a non-empty list of "
            "values\n");
  EXPECT_EQ(catalog_errors("actions:\n  - name: a\n    params: {p: {type: integer, min: 5, max: "
                           "1}}\n    commands: [x]\n"),
            "catalog.yaml:3:17: actions[0].params.p: min is greater than max\n");
  EXPECT_EQ(catalog_errors("actions:\n  - name: a\n    params: {p: {type: string, pattern: "
                           "'[0-9]+', default: x}}\n    commands: [x]\n"),
            "catalog.yaml:3:60: actions[0].params.p.default: default does not pass its own "
            "type: params.p: \"x\" does not match ^[0-9]+$\n");
  EXPECT_EQ(catalog_errors("actions:\n  - name: a\n    commands: [x]\n    approval: maybe\n"),
            "catalog.yaml:4:15: actions[0].approval: unknown approval 'maybe' (expected none or "
            "required)\n");
  EXPECT_EQ(catalog_errors("actions:\n  - name: a\n    commands: [x]\n  - name: a\n"
                           "    commands: [y]\n"),
            "catalog.yaml:4:11: actions[1].name: duplicate action name 'a'\n");
  EXPECT_EQ(catalog_errors("actions:\n  - name: a\n    comands: [x]\n"),
            "catalog.yaml:3:5: actions[0].comands: unknown field\n"
            "catalog.yaml:2:11: actions[0].commands: expected a non-empty list of command "
            "templates\n");
}

TEST(ActionCatalogLoad, ShippedExampleCatalogLoads) {
  ActionCatalog c;
  ConfigErrors errors;
  load_catalog_file(std::string(AIOPSD_SOURCE_DIR) + "/examples/catalog/network.yaml", c, errors);
  EXPECT_TRUE(errors.empty()) << errors.to_string();
  for (const char* name :
       {"interface-status", "poe-status", "bgp-summary", "port-bounce", "clear-bgp-session"}) {
    EXPECT_NE(c.find(name), nullptr) << name;
  }
}

}  // namespace
}  // namespace aiopsd::rules
