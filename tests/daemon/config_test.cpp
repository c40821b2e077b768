#include "daemon/config.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdio>

#include "tests/daemon/test_support.hpp"

namespace aiopsd::daemon {
namespace {

using testing::TempDir;

struct Loaded {
  std::unique_ptr<Config> config;
  std::string errors;
};

Loaded load(const TempDir& dir, const std::string& yaml,
            const std::string& rules_yaml = "rules: []\n") {
  dir.write("rules.yaml", rules_yaml);
  std::string path = dir.write("aiopsd.yaml", yaml);
  rules::ConfigErrors errors(path);
  auto cfg = load_config(path, errors);
  std::string text = errors.to_string();
  // Make messages independent of the temporary directory.
  for (std::size_t pos; (pos = text.find(dir.path().string() + "/")) != std::string::npos;) {
    text.erase(pos, dir.path().string().size() + 1);
  }
  return {std::move(cfg), text};
}

constexpr const char* kMinimal = R"(audit: {path: audit.log}
ssh: {known_hosts: known_hosts}
rules: [rules.yaml]
)";

TEST(Config, MinimalConfigGetsDefaults) {
  TempDir dir;
  auto r = load(dir, kMinimal);
  ASSERT_TRUE(r.config) << r.errors;
  EXPECT_EQ(r.config->server.port, 9095);
  EXPECT_EQ(r.config->server.max_body_bytes, 4u * 1024 * 1024);
  EXPECT_EQ(r.config->ssh.max_sessions, 64u);
  EXPECT_EQ(r.config->ssh.limits.output_limit, 256u * 1024);
  EXPECT_EQ(r.config->audit_path, dir.file("audit.log"));  // relative to the config file
}

TEST(Config, ListenAcceptsBracketedIpv6) {
  TempDir dir;
  auto r = load(dir, std::string("server: {listen: \"[::1]:9100\"}\n") + kMinimal);
  ASSERT_TRUE(r.config) << r.errors;
  EXPECT_EQ(r.config->server.address, "::1");
  EXPECT_EQ(r.config->server.port, 9100);
}

TEST(Config, ShippedExampleIsValid) {
  rules::ConfigErrors errors;
  auto cfg = load_config(AIOPSD_SOURCE_DIR "/examples/aiopsd.yaml", errors);
  ASSERT_TRUE(cfg) << errors.to_string();
  EXPECT_GE(cfg->rules.rules.size(), 3u);
  ASSERT_EQ(cfg->devices.size(), 1u);
  EXPECT_EQ(cfg->devices[0].ssh.name, "sw-core-1");
}

TEST(Config, InlinePasswordIsRefused) {
  TempDir dir;
  auto r = load(dir, std::string(kMinimal) + R"(devices:
  - name: sw1
    host: 10.0.0.1
    credential:
      password: hunter2
)");
  EXPECT_FALSE(r.config);
  EXPECT_EQ(r.errors,
            "aiopsd.yaml:8:17: devices[0].credential.password: inline secrets are not allowed: use "
            "key_file, password_env or password_file\n");
  EXPECT_EQ(r.errors.find("hunter2"), std::string::npos);
}

TEST(Config, EveryErrorIsReportedWithLocation) {
  TempDir dir;
  auto r = load(dir, R"(server:
  listen: localhost
  bogus: 1
audit: {path: audit.log}
ssh: {known_hosts: kh, output_limit: lots}
devices:
  - name: a
    host: h
    credential: {key_file: k, password_env: P}
  - name: a
    host: h2
    port: 70000
    credential: {password_env: P}
rules: [rules.yaml]
)",
                R"(rules:
  - name: r1
    match: {severity: {"==": critical}}
    actions: [{log: {message: hi}}]
)");
  EXPECT_FALSE(r.config);
  EXPECT_EQ(
      r.errors,
      "aiopsd.yaml:3:3: server.bogus: unknown field\n"
      "aiopsd.yaml:2:11: server.listen: invalid address 'localhost' (expected HOST:PORT)\n"
      "aiopsd.yaml:5:38: ssh.output_limit: invalid size 'lots' (expected e.g. 4096, 256KiB, 4MiB)\n"
      "aiopsd.yaml:9:17: devices[0].credential: expected exactly one of key_file, password_env, "
      "password_file\n"
      "aiopsd.yaml:10:11: devices[1].name: duplicate device name 'a'\n"
      "aiopsd.yaml:12:11: devices[1].port: 70000 is out of range [1, 65535]\n"
      "rules.yaml:3:24: rules[0].match.severity: unknown operator '==' (expected =, !=, =~ or "
      "!~)\n");
}

TEST(Config, MissingRulesFileIsAnError) {
  TempDir dir;
  std::string path = dir.write("aiopsd.yaml", "audit: {path: a.log}\nrules: [nope.yaml]\n");
  rules::ConfigErrors errors(path);
  EXPECT_FALSE(load_config(path, errors));
  EXPECT_NE(errors.to_string().find("nope.yaml: cannot open file"), std::string::npos)
      << errors.to_string();
}

// `aiopsd check` is what operators and ExecStartPre run.
std::pair<int, std::string> run_binary(const std::string& args) {
  std::string cmd = std::string(AIOPSD_BINARY) + " " + args + " 2>&1";
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  std::array<char, 4096> buf{};
  while (std::size_t n = fread(buf.data(), 1, buf.size(), p)) out.append(buf.data(), n);
  int status = pclose(p);
  return {WEXITSTATUS(status), out};
}

TEST(AiopsdBinary, CheckExitsZeroOnValidConfig) {
  auto [code, out] = run_binary("check --config " AIOPSD_SOURCE_DIR "/examples/aiopsd.yaml");
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("OK"), std::string::npos);
}

TEST(AiopsdBinary, CheckExitsOneAndListsErrors) {
  TempDir dir;
  dir.write(
      "rules.yaml",
      "rules:\n  - name: x\n    match: {a: {\"==\": b}}\n    actions: [{log: {message: m}}]\n");
  std::string path = dir.write("aiopsd.yaml", "audit: {path: a.log}\nrules: [rules.yaml]\n");
  auto [code, out] = run_binary("check --config " + path);
  EXPECT_EQ(code, 1);
  EXPECT_NE(out.find("rules.yaml:3:17: rules[0].match.a: unknown operator '=='"), std::string::npos)
      << out;
}

TEST(AiopsdBinary, HelpAndVersion) {
  for (const char* sub : {"run --help", "check --help", "version --help", "--help"}) {
    auto [code, out] = run_binary(sub);
    EXPECT_EQ(code, 0) << sub;
    EXPECT_NE(out.find("Usage"), std::string::npos) << sub;
  }
  auto [code, out] = run_binary("version");
  EXPECT_EQ(code, 0);
  EXPECT_EQ(out.rfind("aiopsd 0.1.0", 0), 0u) << out;
  EXPECT_EQ(run_binary("bogus").first, 2);
  EXPECT_EQ(run_binary("run").first, 2);
}

}  // namespace
}  // namespace aiopsd::daemon

namespace aiopsd::daemon {
namespace {

TEST(KafkaConfig, ParsesEveryFieldAndResolvesPaths) {
  TempDir dir;
  auto r = load(dir, std::string(kMinimal) + R"(kafka:
  brokers: "k1:9092,k2:9092"
  group_id: ops
  topics: {intents: i, results: r, dead_letter: d, alerts: ""}
  max_message_bytes: 64KiB
  properties:
    security.protocol: SASL_SSL
    sasl.password: {env: KAFKA_PW}
    ssl.key.password: {file: secrets/key.pw}
state: {path: state, retention: 30d}
)");
  ASSERT_TRUE(r.config) << r.errors;
  EXPECT_EQ(r.config->state.retention, std::chrono::hours(24 * 30));
  const KafkaConfig& k = r.config->kafka;
  EXPECT_TRUE(k.enabled);
  EXPECT_FALSE(k.embedded);
  EXPECT_EQ(k.brokers, "k1:9092,k2:9092");
  EXPECT_EQ(k.group_id, "ops");
  EXPECT_EQ(k.topics.intents, "i");
  EXPECT_EQ(k.topics.alerts, "");
  EXPECT_EQ(k.max_message_bytes, 64u * 1024);
  EXPECT_EQ(k.properties.at("security.protocol").value, "SASL_SSL");
  EXPECT_EQ(k.properties.at("sasl.password").env, "KAFKA_PW");
  EXPECT_EQ(k.properties.at("ssl.key.password").file, dir.file("secrets/key.pw"));
  EXPECT_EQ(r.config->state.path, dir.file("state"));
}

TEST(StateConfig, RetentionDefaultsToSevenDaysAndRefusesTooShort) {
  TempDir dir;
  auto ok = load(dir, std::string(kMinimal) + "state: {path: s}\n");
  ASSERT_TRUE(ok.config) << ok.errors;
  EXPECT_EQ(ok.config->state.retention, std::chrono::hours(24 * 7));
  auto bad = load(dir, std::string(kMinimal) + "state: {path: s, retention: 10s}\n");
  EXPECT_FALSE(bad.config);
  EXPECT_NE(bad.errors.find("state.retention: must be at least 1m"), std::string::npos)
      << bad.errors;
}

TEST(KafkaConfig, InlineSecretsAndMissingStateAreRefused) {
  TempDir dir;
  auto r = load(dir, std::string(kMinimal) + R"(kafka:
  brokers: embedded
  properties:
    sasl.password: hunter2
    sasl.oauthbearer.client.secret: s3cr3t
    sasl.username: {env: A, file: b}
)");
  EXPECT_FALSE(r.config);
  EXPECT_EQ(r.errors,
            "aiopsd.yaml:7:20: kafka.properties.sasl.password: inline secrets are not allowed: "
            "use {env: VAR} or {file: PATH}\n"
            "aiopsd.yaml:8:37: kafka.properties.sasl.oauthbearer.client.secret: inline secrets "
            "are not allowed: use {env: VAR} or {file: PATH}\n"
            "aiopsd.yaml:9:20: kafka.properties.sasl.username: expected exactly one of env or "
            "file\n"
            "aiopsd.yaml:1:1: state.path: required when kafka is configured (at-most-once "
            "execution)\n");
  EXPECT_EQ(r.errors.find("hunter2"), std::string::npos);
}

TEST(KafkaConfig, RuleRunActionsAreCheckedAgainstTheCatalog) {
  TempDir dir;
  dir.write("catalog.yaml", R"(actions:
  - name: port-bounce
    params: {port: {type: string, pattern: '[0-9/]+'}}
    commands: ["interface {{ params.port }} shutdown"]
)");
  auto r = load(dir, std::string(kMinimal) + "catalog: [catalog.yaml]\n", R"(rules:
  - name: a
    match: {alertname: X}
    actions:
      - run: {action: no-such-action, device: sw1}
      - run: {action: port-bounce, device: sw1, params: {prot: "{{ labels.port }}"}}
)");
  EXPECT_FALSE(r.config);
  EXPECT_EQ(r.errors,
            "rules.yaml:5:14: rules[0].actions[0].run.action: unknown action 'no-such-action' "
            "(not in the action catalog)\n"
            "rules.yaml:6:14: rules[0].actions[1].run.params.prot: action 'port-bounce' has no "
            "parameter 'prot'\n"
            "rules.yaml:6:14: rules[0].actions[1].run.params: missing required parameter 'port' "
            "of action 'port-bounce'\n");
}

}  // namespace
}  // namespace aiopsd::daemon
