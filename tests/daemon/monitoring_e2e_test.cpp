// Real Prometheus and Alertmanager (Debian packages) driving aiopsd.

#include <gtest/gtest.h>

#include "tests/daemon/daemon_under_test.hpp"
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

std::string config_for(const SshdFixture& sshd) { return "devices:\n" + sshd.device_yaml("sw1"); }

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

}  // namespace
}  // namespace aiopsd::testing
