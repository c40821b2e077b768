// Real Prometheus and Alertmanager (Debian packages) driving aiopsd.

#include <gtest/gtest.h>

#include "tests/daemon/daemon_under_test.hpp"
#include "tests/daemon/tls_support.hpp"
#include "tests/harness/monitoring_fixtures.hpp"
#include "tests/harness/sshd_fixture.hpp"

namespace aiopsd::testing {
namespace {

constexpr const char* kRules = R"(rules:
  - name: bounce
    match: {alertname: InterfaceDown, source_system: {"!=": "test"}}
    group_by: [device, interface]
    throttle: {once_within: 1h}
    actions:
      - ssh:
          device: "{{ labels.device }}"
          params: {labels.interface: '[0-9]+/[0-9]+/[0-9]+'}
          commands: ["interface {{ labels.interface }} shutdown", "interface {{ labels.interface }} no shutdown"]
)";

std::string config_for(const SshdFixture& sshd) {
  return "ssh: {policy: {allow: ['interface [0-9/]+ (no )?shutdown']}}\ndevices:\n" +
         sshd.device_yaml("sw1");
}

TEST(Prometheus, FiringAlertTriggersRemediationAndPrometheusScrapesAiopsd) {
  SshdFixture sshd;
  DaemonUnderTest daemon(config_for(sshd), kRules);
  PrometheusFixture prometheus(daemon.port(), R"(groups:
  - name: aiopsd-test
    rules:
      - alert: InterfaceDown
        expr: vector(1)
        labels: {device: sw1, interface: "1/1/7", severity: critical}
        annotations: {summary: "port 1/1/7 down"}
)");
  const std::vector<std::string> expected{"interface 1/1/7 shutdown",
                                          "interface 1/1/7 no shutdown"};
  EXPECT_TRUE(
      eventually([&] { return sshd.commands_received() == expected; }, std::chrono::seconds(60)))
      << prometheus.log();
  EXPECT_GE(daemon.metric(R"(aiopsd_events_received_total{connector="alertmanager_v2"})"), 1);
  EXPECT_TRUE(eventually(
      [&] {
        return prometheus.query(R"(aiopsd_events_received_total{connector="alertmanager_v2"})")
                   .value_or(0) > 0;
      },
      std::chrono::seconds(60)))
      << prometheus.log();
  // Prometheus re-sends the firing alert every second; it runs once.
  std::this_thread::sleep_for(std::chrono::seconds(3));
  EXPECT_EQ(sshd.commands_received(), expected);
}

TEST(Alertmanager, WebhookTriggersRemediationOnceAcrossResends) {
  SshdFixture sshd;
  DaemonUnderTest daemon(config_for(sshd), kRules);
  AlertmanagerFixture am(daemon.port(), std::chrono::seconds(2));
  HttpClient client(am.port());
  auto r = client.post("/api/v2/alerts", R"([{"labels":{"alertname":"InterfaceDown","device":"sw1",
    "interface":"1/1/9","severity":"critical"},"annotations":{"summary":"down"},
    "endsAt":"2099-01-01T00:00:00Z"}])");
  ASSERT_EQ(r.status, 200u) << r.body;
  // Wait until Alertmanager has re-sent the notification at least twice.
  EXPECT_TRUE(eventually(
      [&] {
        return daemon.metric(R"(aiopsd_events_received_total{connector="alertmanager_webhook"})") >=
               3;
      },
      std::chrono::seconds(60)))
      << am.log();
  ASSERT_TRUE(daemon.app().wait_idle(std::chrono::seconds(10)));
  EXPECT_EQ(sshd.commands_received(),
            (std::vector<std::string>{"interface 1/1/9 shutdown", "interface 1/1/9 no shutdown"}));
  auto records = daemon.audit();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].at("outcome"), "succeeded");
  EXPECT_EQ(
      daemon.metric(R"(aiopsd_actions_total{action="ssh",outcome="succeeded",rule="bounce"})"), 1);
}

// The same deliveries over TLS with bearer tokens, as a hardened install runs them.
constexpr const char* kPrometheusToken = "prometheus-0123456789abcdef-token";
constexpr const char* kAlertmanagerToken = "alertmanager-0123456789abcdef-token";

// server.tls and server.auth for the daemon: one token for Prometheus (alerts
// and scrapes with private metrics), one for Alertmanager (alerts only).
std::string secured_server(const TestPki& pki, bool client_certificates) {
  std::string yaml = fmt::format("  tls:\n    cert_file: {}\n    key_file: {}\n", pki.server_cert(),
                                 pki.server_key());
  if (client_certificates) yaml += fmt::format("    client_ca_file: {}\n", pki.ca());
  yaml += R"(  auth:
    metrics_public: false
    tokens:
      - {name: prometheus, token: {file: prometheus.token}, scopes: [ingest, read]}
      - {name: alertmanager, token: {file: alertmanager.token}, scopes: [ingest]}
)";
  return yaml;
}

const std::map<std::string, std::string> kTokenFiles{
    {"prometheus.token", std::string(kPrometheusToken) + "\n"},
    {"alertmanager.token", std::string(kAlertmanagerToken) + "\n"}};

double auth_failures(DaemonUnderTest& daemon) {
  double n = 0;
  for (const char* reason : {"missing", "invalid", "forbidden"}) {
    n += daemon.metric(fmt::format(R"(aiopsd_http_auth_failures_total{{reason="{}"}})", reason));
  }
  return n;
}

TEST(Prometheus, DeliversAlertsAndScrapesOverTlsWithABearerToken) {
  TestPki pki;
  DaemonUnderTest daemon("", R"(rules:
  - name: note
    match: {alertname: InterfaceDown}
    actions: [{log: {message: "down {{ labels.interface }}"}}]
)",
                         {}, kTokenFiles, secured_server(pki, false));
  PrometheusFixture prometheus(AiopsdEndpoint{.port = daemon.port(),
                                              .ca_file = pki.ca(),
                                              .token_file = daemon.dir().file("prometheus.token")},
                               R"(groups:
  - name: aiopsd-test
    rules:
      - alert: InterfaceDown
        expr: vector(1)
        labels: {device: sw1, interface: "1/1/7"}
)");
  EXPECT_TRUE(eventually(
      [&] {
        return daemon.metric(R"(aiopsd_events_received_total{connector="alertmanager_v2"})") >= 1;
      },
      std::chrono::seconds(60)))
      << prometheus.log();
  EXPECT_EQ(daemon.metric(R"(aiopsd_rule_matches_total{rule="note"})"),
            daemon.metric(R"(aiopsd_events_received_total{connector="alertmanager_v2"})"));
  // The scrape of the private /metrics went through too: https, CA-verified, token.
  EXPECT_TRUE(eventually(
      [&] {
        return prometheus.query(R"(aiopsd_events_received_total{connector="alertmanager_v2"})")
                   .value_or(0) > 0;
      },
      std::chrono::seconds(60)))
      << prometheus.log();
  EXPECT_EQ(prometheus.query(R"(up{job="aiopsd"})"), 1.0);
  EXPECT_EQ(auth_failures(daemon), 0) << prometheus.log();
}

TEST(Alertmanager, DeliversWebhooksOverMutualTlsWithABearerToken) {
  TestPki pki;
  DaemonUnderTest daemon("", "rules: []\n", {}, kTokenFiles, secured_server(pki, true));
  AlertmanagerFixture am(AiopsdEndpoint{.port = daemon.port(),
                                        .ca_file = pki.ca(),
                                        .cert_file = pki.client_cert(),
                                        .key_file = pki.client_key(),
                                        .token_file = daemon.dir().file("alertmanager.token")},
                         std::chrono::seconds(2));
  auto r = HttpClient(am.port()).post("/api/v2/alerts",
                                      R"([{"labels":{"alertname":"InterfaceDown","device":"sw1"},
    "endsAt":"2099-01-01T00:00:00Z"}])");
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_TRUE(eventually(
      [&] {
        return daemon.metric(R"(aiopsd_events_received_total{connector="alertmanager_webhook"})") >=
               2;  // the first notification and a re-send
      },
      std::chrono::seconds(60)))
      << am.log();
  EXPECT_EQ(auth_failures(daemon), 0) << am.log();
}

TEST(Alertmanager, WebhookWithAWrongTokenIsRefusedAndCounted) {
  TestPki pki;
  DaemonUnderTest daemon("", "rules: []\n", {}, kTokenFiles, secured_server(pki, false));
  daemon.dir().write("stale.token", "a-rotated-out-token-0123456789\n");
  AlertmanagerFixture am(AiopsdEndpoint{.port = daemon.port(),
                                        .ca_file = pki.ca(),
                                        .token_file = daemon.dir().file("stale.token")},
                         std::chrono::seconds(2));
  auto r = HttpClient(am.port()).post("/api/v2/alerts",
                                      R"([{"labels":{"alertname":"InterfaceDown","device":"sw1"},
    "endsAt":"2099-01-01T00:00:00Z"}])");
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_TRUE(eventually(
      [&] { return daemon.metric(R"(aiopsd_http_auth_failures_total{reason="invalid"})") >= 1; },
      std::chrono::seconds(60)))
      << am.log();
  EXPECT_EQ(daemon.metric(R"(aiopsd_events_received_total{connector="alertmanager_webhook"})"), 0);
  EXPECT_EQ(
      daemon.metric(R"(aiopsd_http_requests_total{code="401",route="/webhook/alertmanager"})"),
      daemon.metric(R"(aiopsd_http_auth_failures_total{reason="invalid"})"));
}

}  // namespace
}  // namespace aiopsd::testing
