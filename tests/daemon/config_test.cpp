#include "daemon/config.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "daemon/http/auth.hpp"
#include "tests/daemon/test_support.hpp"
#include "tests/daemon/tls_support.hpp"

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
  EXPECT_EQ(r.config->ssh.limits.idle_timeout, std::chrono::seconds(60));
  EXPECT_EQ(r.config->ssh.max_idle_sessions, 256u);
  EXPECT_EQ(r.config->audit_path, dir.file("audit.log"));  // relative to the config file
}

TEST(Config, SshWarmPoolSettings) {
  TempDir dir;
  auto r = load(dir, R"(audit: {path: audit.log}
ssh: {known_hosts: known_hosts, idle_timeout: 0, max_idle_sessions: 10}
rules: [rules.yaml]
)");
  ASSERT_TRUE(r.config) << r.errors;
  EXPECT_EQ(r.config->ssh.limits.idle_timeout, std::chrono::milliseconds(0));
  EXPECT_EQ(r.config->ssh.max_idle_sessions, 10u);

  r = load(dir, R"(audit: {path: audit.log}
ssh: {known_hosts: known_hosts, idle_timeout: 2h, max_idle_sessions: -1}
rules: [rules.yaml]
)");
  EXPECT_FALSE(r.config);
  EXPECT_EQ(r.errors,
            "aiopsd.yaml:2:70: ssh.max_idle_sessions: -1 is out of range [0, 100000]\n"
            "aiopsd.yaml:2:47: ssh.idle_timeout: must be at most 1h (0 disables)\n");
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
  ::unsetenv("AIOPSD_TEST_UNSET_P");
  auto r = load(dir, R"(server:
  listen: localhost
  bogus: 1
audit: {path: audit.log}
ssh: {known_hosts: kh, output_limit: lots}
devices:
  - name: a
    host: h
    credential: {key_file: k, password_env: AIOPSD_TEST_UNSET_P}
  - name: a
    host: h2
    port: 70000
    credential: {password_env: AIOPSD_TEST_UNSET_P}
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
      "aiopsd.yaml:13:32: devices[1].credential.password_env: environment variable "
      "AIOPSD_TEST_UNSET_P is not set\n"
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

TEST(AiopsdBinary, CheckWarnsAboutRulesButExitsZeroUnlessStrict) {
  TempDir dir;
  dir.write("rules.yaml",
            "rules:\n  - name: x\n    match: {a: {\"=\": b, \"!=\": b}}\n"
            "    actions: [{log: {message: m}}]\n");
  std::string path = dir.write("aiopsd.yaml", "audit: {path: a.log}\nrules: [rules.yaml]\n");
  auto [code, out] = run_binary("check --config " + path);
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find(dir.file("rules.yaml") +
                     ":2: warning: rules[0].match.a: the rule can never match: a=\"b\" and "
                     "a!=\"b\" cannot both hold\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("OK (1 rules, 0 inhibit rules, 0 devices, 1 warnings; "), std::string::npos)
      << out;
  auto [strict_code, strict_out] = run_binary("check --strict --config " + path);
  EXPECT_EQ(strict_code, 1) << strict_out;
  EXPECT_EQ(strict_out.find("OK"), std::string::npos) << strict_out;
}

// The listener beyond loopback with no authentication loads, but is warned about.
TEST(AiopsdBinary, CheckWarnsAboutAnUnauthenticatedListenerBeyondLoopback) {
  TempDir dir;
  dir.write("rules.yaml", "rules: []\n");
  const std::string open =
      dir.write("open.yaml",
                "server: {listen: \"0.0.0.0:9095\"}\naudit: {path: a.log}\nrules: [rules.yaml]\n");
  auto [code, out] = run_binary("check --config " + open);
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find(open + ":0: warning: server.listen: '0.0.0.0' is reachable beyond this host "
                            "and server.auth has no tokens"),
            std::string::npos)
      << out;
  for (const char* listen : {"127.0.0.1:9095", "[::1]:9095", "localhost:9095"}) {
    const std::string local = dir.write(
        "local.yaml", fmt::format("server: {{listen: \"{}\"}}\naudit: {{path: a.log}}\nrules: "
                                  "[rules.yaml]\n",
                                  listen));
    auto [lcode, lout] = run_binary("check --config " + local);
    EXPECT_EQ(lcode, 0) << lout;
    EXPECT_EQ(lout.find("warning"), std::string::npos) << listen << ": " << lout;
  }
}

// Every SSH action runs under an allow list: the global one (a ceiling) or its own.
TEST(Config, SshActionWithoutAnyAllowListIsRefused) {
  TempDir dir;
  dir.write("catalog.yaml", R"(actions:
  - name: port-bounce
    params: {port: {type: string, pattern: '[0-9/]+'}}
    commands: ["interface {{ params.port }} shutdown"]
  - name: narrow
    commands: ["show version"]
    policy: {allow: ['show version']}
  - name: deny-only
    commands: ["show version"]
    policy: {deny: ['reload']}
)");
  const std::string rules = R"(rules:
  - name: a
    match: {alertname: X}
    actions:
      - ssh: {device: sw1, commands: ["show clock"]}
      - ssh: {device: sw1, commands: ["show clock"], policy: {allow: ['show clock']}}
)";
  const std::string no_policy =
      "audit: {path: audit.log}\nssh: {known_hosts: kh}\n"
      "rules: [rules.yaml]\ncatalog: [catalog.yaml]\n";
  auto r = load(dir, no_policy, rules);
  EXPECT_FALSE(r.config);
  const std::string why =
      ": no command allow list: set ssh.policy.allow in the daemon config (a ceiling for every "
      "action) or policy.allow on this action\n";
  EXPECT_EQ(r.errors, "catalog.yaml:2:5: actions[0].policy.allow" + why +
                          "catalog.yaml:8:5: actions[2].policy.allow" + why +
                          "rules.yaml:5:14: rules[0].actions[0].ssh.policy.allow" + why);
  // A global allow list covers every action; a deny-only global does not.
  auto deny_only = load(dir,
                        "audit: {path: audit.log}\nssh: {known_hosts: kh, policy: {deny: [x]}}\n"
                        "rules: [rules.yaml]\ncatalog: [catalog.yaml]\n",
                        rules);
  EXPECT_FALSE(deny_only.config);
  auto global = load(dir,
                     "audit: {path: audit.log}\nssh: {known_hosts: kh, policy: {allow: ['.*']}}\n"
                     "rules: [rules.yaml]\ncatalog: [catalog.yaml]\n",
                     rules);
  EXPECT_TRUE(global.config) << global.errors;
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

// Every secret reference is read once at load (and wiped): `aiopsd check`
// names a missing variable or an unreadable file where it is written,
// instead of the daemon failing at start or at the first SSH session.
TEST(SecretRefs, EveryUnreadableSecretIsALocatedErrorAtLoad) {
  TempDir dir;
  ::unsetenv("AIOPSD_TEST_UNSET_SECRET");
  dir.write("blank.pw", "\n");
  auto r = load(dir, std::string(kMinimal) + R"(devices:
  - name: sw1
    host: 10.0.0.1
    credential: {password_file: missing.pw}
  - name: sw2
    host: 10.0.0.2
    credential: {key_file: id, passphrase_env: AIOPSD_TEST_UNSET_SECRET}
kafka:
  brokers: "k1:9092"
  properties:
    sasl.password: {env: AIOPSD_TEST_UNSET_SECRET}
    ssl.key.password: {file: blank.pw}
safety:
  webhook: {url: "http://127.0.0.1:9000/a", token: {file: missing.token}}
webhooks:
  chatops: {url: "http://127.0.0.1:9000/b", token: {env: AIOPSD_TEST_UNSET_SECRET}}
state: {path: state}
)");
  EXPECT_FALSE(r.config);
  EXPECT_EQ(r.errors,
            "aiopsd.yaml:7:33: devices[0].credential.password_file: cannot read missing.pw: No "
            "such file or directory\n"
            "aiopsd.yaml:10:48: devices[1].credential.passphrase_env: environment variable "
            "AIOPSD_TEST_UNSET_SECRET is not set\n"
            "aiopsd.yaml:14:26: kafka.properties.sasl.password.env: environment variable "
            "AIOPSD_TEST_UNSET_SECRET is not set\n"
            "aiopsd.yaml:15:30: kafka.properties.ssl.key.password.file: file blank.pw is empty\n"
            "aiopsd.yaml:17:59: safety.webhook.token.file: cannot read missing.token: No such "
            "file or directory\n"
            "aiopsd.yaml:19:58: webhooks.chatops.token.env: environment variable "
            "AIOPSD_TEST_UNSET_SECRET is not set\n");
}

TEST(KafkaConfig, ParsesEveryFieldAndResolvesPaths) {
  TempDir dir;
  ::setenv("AIOPSD_TEST_KAFKA_PW", "kafka-secret", 1);
  std::filesystem::create_directories(dir.file("secrets"));
  std::ofstream(dir.file("secrets/key.pw")) << "key-secret\n";
  auto r = load(dir, std::string(kMinimal) + R"(kafka:
  brokers: "k1:9092,k2:9092"
  group_id: ops
  topics: {intents: i, results: r, dead_letter: d, alerts: ""}
  max_message_bytes: 64KiB
  properties:
    security.protocol: SASL_SSL
    sasl.password: {env: AIOPSD_TEST_KAFKA_PW}
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
  EXPECT_EQ(k.properties.at("sasl.password").secret.env, "AIOPSD_TEST_KAFKA_PW");
  EXPECT_EQ(k.properties.at("ssl.key.password").secret.file, dir.file("secrets/key.pw"));
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

TEST(SafetyConfig, LimitsMaintenanceAndWebhookAreValidatedWithLocations) {
  TempDir dir;
  ::setenv("AIOPSD_TEST_HOOK_TOKEN", "hook-secret", 1);
  auto ok = load(dir, std::string(kMinimal) + R"(safety:
  paused: true
  approval_timeout: 5m
  four_eyes: false
  limits:
    - {scope: global, max_actions: 10, max_devices: 5, window: 10m, reset: manual}
  maintenance:
    - {name: lab, match: {site: lab}, start: "2026-12-01T22:00:00Z", end: "2026-12-02T04:00:00Z"}
  webhook: {url: "http://127.0.0.1:9000/hooks/a", token: {env: AIOPSD_TEST_HOOK_TOKEN}}
)");
  ASSERT_TRUE(ok.config) << ok.errors;
  const SafetyConfig& s = ok.config->safety;
  EXPECT_TRUE(s.paused);
  EXPECT_FALSE(s.four_eyes);
  EXPECT_EQ(s.approval_timeout, std::chrono::minutes(5));
  ASSERT_EQ(s.limits.size(), 1u);
  EXPECT_EQ(s.limits[0].max_actions, 10u);
  EXPECT_EQ(s.limits[0].max_devices, 5u);
  EXPECT_TRUE(s.limits[0].manual_reset);
  ASSERT_EQ(s.maintenance.size(), 1u);
  EXPECT_EQ(s.maintenance[0].match.at("site"), "lab");
  EXPECT_EQ(s.webhook_token.env, "AIOPSD_TEST_HOOK_TOKEN");

  auto bad = load(dir, std::string(kMinimal) + R"(safety:
  limits:
    - {scope: "rule:nope", max_actions: 1}
    - {scope: sideways, window: 0s}
  maintenance:
    - {name: m, match: {}, start: tomorrow}
  webhook: {url: "https://x", token: s3cr3t}
)");
  EXPECT_FALSE(bad.config);
  for (const char* want :
       {"safety.limits[0].scope: no rule named 'nope'",
        "safety.limits[1].scope: 'sideways' is not a scope (expected global or rule:NAME)",
        "safety.limits[1]: needs max_actions, max_devices or both",
        "safety.limits[1].window: must be positive",
        "safety.maintenance[0].match: needs at least one device label to match",
        "safety.maintenance[0].start: 'tomorrow' is not an RFC 3339 time",
        "safety.webhook.url: 'https://x' is not an http://host[:port][/path] URL",
        "safety.webhook.token: expected a mapping"}) {
    EXPECT_NE(bad.errors.find(want), std::string::npos) << want << "\n" << bad.errors;
  }
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
    policy: {allow: ['interface [0-9/]+ shutdown']}
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

namespace aiopsd::daemon {
namespace {

TEST(ServerAuthConfig, TokensAreReadHashedAndScoped) {
  TempDir dir;
  ::setenv("AIOPSD_TEST_TOKEN_A", "env-token-0123456789abcdef", 1);
  dir.write("b.token", "  file-token-0123456789abcdef\r\n");
  auto r = load(dir, std::string(kMinimal) + R"(server:
  auth:
    metrics_public: false
    tokens:
      - {name: prometheus, token: {env: AIOPSD_TEST_TOKEN_A}, scopes: [ingest, read]}
      - {name: ops.team_1, token: {file: b.token}, scopes: [admin]}
)");
  ASSERT_TRUE(r.config) << r.errors;
  const AuthConfig& auth = r.config->server.auth;
  EXPECT_TRUE(auth.enabled());
  EXPECT_FALSE(auth.metrics_public);
  ASSERT_EQ(auth.tokens.size(), 2u);
  EXPECT_EQ(auth.tokens[0].name, "prometheus");
  EXPECT_EQ(auth.tokens[0].ref.env, "AIOPSD_TEST_TOKEN_A");
  EXPECT_TRUE(auth.tokens[0].has(ApiScope::kIngest));
  EXPECT_TRUE(auth.tokens[0].has(ApiScope::kRead));
  EXPECT_FALSE(auth.tokens[0].has(ApiScope::kAdmin));
  EXPECT_EQ(auth.tokens[0].digest, token_digest("env-token-0123456789abcdef"));
  EXPECT_EQ(auth.tokens[1].ref.file, dir.file("b.token"));
  // Surrounding blanks and the line end are not part of the token.
  EXPECT_EQ(auth.tokens[1].digest, token_digest("file-token-0123456789abcdef"));
  EXPECT_EQ(auth.tokens[1].scopes, static_cast<std::uint8_t>(ApiScope::kAdmin));

  auto none = load(dir, kMinimal);
  ASSERT_TRUE(none.config) << none.errors;
  EXPECT_FALSE(none.config->server.auth.enabled());
  EXPECT_TRUE(none.config->server.auth.metrics_public);
  EXPECT_FALSE(none.config->server.tls.enabled());
}

TEST(ServerAuthConfig, EveryTokenErrorIsLocatedAndNoValueIsPrinted) {
  TempDir dir;
  ::setenv("AIOPSD_TEST_TOKEN_A", "env-token-0123456789abcdef", 1);
  ::unsetenv("AIOPSD_TEST_TOKEN_UNSET");
  dir.write("short.token", "short\n");
  dir.write("good.token", "file-token-0123456789abcdef\n");
  dir.write("same.token", "env-token-0123456789abcdef");
  dir.write("spaced.token", "file token 0123456789abcdef");
  auto r = load(dir, std::string(kMinimal) + R"(server:
  auth:
    metrics_public: maybe
    tokens:
      - {name: a, token: {env: AIOPSD_TEST_TOKEN_A}, scopes: [ingest]}
      - {name: b, token: hunter2-0123456789abcdef, scopes: [admin]}
      - {name: c, token: {env: AIOPSD_TEST_TOKEN_UNSET}, scopes: [admin]}
      - {name: d, token: {file: short.token}, scopes: [admin]}
      - {name: e, token: {file: missing.token}, scopes: [admin]}
      - {name: a, token: {file: good.token}, scopes: [approve, read]}
      - {name: "f g", token: {file: same.token}, scopes: []}
      - {name: h, token: {env: X, file: y}}
      - {name: i, token: {file: spaced.token}, scopes: [read], extra: 1}
)");
  EXPECT_FALSE(r.config);
  EXPECT_EQ(r.errors,
            "aiopsd.yaml:6:21: server.auth.metrics_public: expected true or false\n"
            "aiopsd.yaml:9:26: server.auth.tokens[1].token: inline secrets are not allowed: use "
            "{env: VAR} or {file: PATH}\n"
            "aiopsd.yaml:10:32: server.auth.tokens[2].token.env: environment variable "
            "AIOPSD_TEST_TOKEN_UNSET is not set\n"
            "aiopsd.yaml:11:33: server.auth.tokens[3].token: token is shorter than 16 characters\n"
            "aiopsd.yaml:12:33: server.auth.tokens[4].token.file: cannot read missing.token: No "
            "such file or directory\n"
            "aiopsd.yaml:13:16: server.auth.tokens[5].name: duplicate token name 'a'\n"
            "aiopsd.yaml:13:55: server.auth.tokens[5].scopes[0]: unknown scope 'approve' "
            "(expected ingest, admin or read)\n"
            "aiopsd.yaml:14:16: server.auth.tokens[6].name: invalid token name 'f g' (1 to 64 "
            "letters, digits, '.', '_', '-')\n"
            "aiopsd.yaml:14:58: server.auth.tokens[6].scopes: expected at least one scope\n"
            "aiopsd.yaml:14:30: server.auth.tokens[6].token: same token as 'a'\n"
            "aiopsd.yaml:15:9: server.auth.tokens[7].scopes: missing required field\n"
            "aiopsd.yaml:15:26: server.auth.tokens[7].token: expected exactly one of env or file\n"
            "aiopsd.yaml:16:64: server.auth.tokens[8].extra: unknown field\n"
            "aiopsd.yaml:16:33: server.auth.tokens[8].token: token contains whitespace or "
            "control characters\n");
  for (const char* secret : {"hunter2", "env-token", "file-token", "short\n", "file token"})
    EXPECT_EQ(r.errors.find(secret), std::string::npos) << secret;

  auto empty = load(dir, std::string(kMinimal) + "server: {auth: {metrics_public: true}}\n");
  EXPECT_EQ(empty.errors,
            "aiopsd.yaml:4:16: server.auth.tokens: expected a non-empty list of tokens (or "
            "server.auth.oidc)\n");
}

TEST(ServerTlsConfig, CertificatesAreLoadedAtConfigTime) {
  TempDir dir;
  testing::TestPki pki;
  auto r =
      load(dir, std::string(kMinimal) + fmt::format(R"(server:
  tls:
    cert_file: {}
    key_file: {}
    client_ca_file: {}
    min_version: "1.3"
)",
                                                    pki.server_cert(), pki.server_key(), pki.ca()));
  ASSERT_TRUE(r.config) << r.errors;
  const TlsConfig& tls = r.config->server.tls;
  EXPECT_TRUE(tls.enabled());
  EXPECT_EQ(tls.cert_file, pki.server_cert());
  EXPECT_EQ(tls.client_ca_file, pki.ca());
  EXPECT_EQ(tls.min_version, TlsVersion::k1_3);

  // Relative paths are relative to the config file; 1.2 is the default.
  std::filesystem::copy_file(pki.server_cert(), dir.file("server.pem"));
  std::filesystem::copy_file(pki.server_key(), dir.file("server.key"));
  auto rel = load(dir, std::string(kMinimal) +
                           "server: {tls: {cert_file: server.pem, key_file: server.key}}\n");
  ASSERT_TRUE(rel.config) << rel.errors;
  EXPECT_EQ(rel.config->server.tls.key_file, dir.file("server.key"));
  EXPECT_EQ(rel.config->server.tls.min_version, TlsVersion::k1_2);
  EXPECT_TRUE(rel.config->server.tls.client_ca_file.empty());
}

TEST(ServerTlsConfig, BadFilesAndVersionsAreLocatedErrors) {
  TempDir dir;
  testing::TestPki pki;
  auto check = [&](const std::string& tls_yaml) {
    return load(dir, std::string(kMinimal) + "server:\n  tls:\n" + tls_yaml).errors;
  };
  EXPECT_EQ(check("    cert_file: a.pem\n    min_version: 1.1\n    bogus: x\n"),
            "aiopsd.yaml:8:5: server.tls.bogus: unknown field\n"
            "aiopsd.yaml:6:5: server.tls.key_file: missing required field\n"
            "aiopsd.yaml:7:18: server.tls.min_version: unsupported TLS version '1.1' (expected "
            "\"1.2\" or \"1.3\")\n");
  std::string missing =
      check("    cert_file: missing.pem\n    key_file: " + pki.server_key() + "\n");
  EXPECT_EQ(missing.rfind("aiopsd.yaml:6:16: server.tls.cert_file: cannot load certificate "
                          "chain missing.pem: ",
                          0),
            0u)
      << missing;
  // The client's key with the server's certificate.
  std::string mismatch = check(
      fmt::format("    cert_file: {}\n    key_file: {}\n", pki.server_cert(), pki.client_key()));
  EXPECT_NE(mismatch.find("aiopsd.yaml:7:15: server.tls.key_file: "), std::string::npos)
      << mismatch;
  EXPECT_NE(mismatch.find("mismatch"), std::string::npos) << mismatch;
  // A private key where the CA file should be.
  std::string ca =
      check(fmt::format("    cert_file: {}\n    key_file: {}\n    client_ca_file: {}\n",
                        pki.server_cert(), pki.server_key(), pki.server_key()));
  EXPECT_NE(ca.find("aiopsd.yaml:8:21: server.tls.client_ca_file: "), std::string::npos) << ca;
}

}  // namespace
}  // namespace aiopsd::daemon
