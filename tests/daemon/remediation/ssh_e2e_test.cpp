// An alert posted to aiopsd runs the rule's commands on a real OpenSSH server
// whose ForceCommand is the device simulator.

#include <gtest/gtest.h>

#include "tests/daemon/daemon_under_test.hpp"
#include "tests/harness/sshd_fixture.hpp"

namespace aiopsd::testing {
namespace {

constexpr const char* kRules = R"(rules:
  - name: bounce
    match: {alertname: InterfaceDown}
    group_by: [device, interface]
    actions:
      - ssh:
          device: "{{ labels.device }}"
          params: {labels.interface: '[0-9]+/[0-9]+/[0-9]+'}
          commands: ["show interface {{ labels.interface }} status", "interface {{ labels.interface }} shutdown"]
  - name: config-dump
    match: {alertname: ConfigDrift}
    actions:
      - ssh:
          device: "{{ labels.instance }}"
          commands: ["show running-config"]
  - name: rehearsal
    match: {alertname: Rehearsal}
    dry_run: true
    actions:
      - ssh: {device: sw1, commands: ["show version"]}
)";

std::string config_for(const SshdFixture& sshd) {
  return R"(ssh:
  connect_timeout: 5s
  command_timeout: 5s
  redact: ['password \d+ (\S+)', 'community (\S+)']
  policy: {allow: ['show .*', 'interface [0-9/]+ (no )?shutdown']}
devices:
)" + sshd.device_yaml("sw1");
}

std::string alert(const std::string& name, const std::string& labels) {
  return fmt::format(R"([{{"labels":{{"alertname":"{}",{}}}}}])", name, labels);
}

class SshEndToEnd : public ::testing::Test {
 protected:
  SshdFixture sshd_;
  std::unique_ptr<DaemonUnderTest> daemon_;
  void SetUp() override { daemon_ = std::make_unique<DaemonUnderTest>(config_for(sshd_), kRules); }

  std::vector<boost::json::object> wait_audit(std::size_t n) {
    EXPECT_TRUE(eventually([&] { return daemon_->audit().size() >= n; }, std::chrono::seconds(30)));
    EXPECT_TRUE(daemon_->app().wait_idle(std::chrono::seconds(10)));
    return daemon_->audit();
  }
};

TEST_F(SshEndToEnd, AlertRunsTheRulesCommandsOnTheDevice) {
  HttpClient c(daemon_->port());
  ASSERT_EQ(
      c.post("/api/v2/alerts", alert("InterfaceDown", R"("device":"sw1","interface":"1/1/3")"))
          .status,
      200u);
  auto records = wait_audit(1);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].at("outcome"), "succeeded") << boost::json::serialize(records[0]);
  const auto& cmds = records[0].at("commands").as_array();
  ASSERT_EQ(cmds.size(), 2u);
  EXPECT_EQ(cmds[0].at("exit_status"), 0);
  EXPECT_FALSE(std::string(cmds[0].at("output").as_string()).empty());
  EXPECT_EQ(sshd_.commands_received(),
            (std::vector<std::string>{"show interface 1/1/3 status", "interface 1/1/3 shutdown"}));
  EXPECT_EQ(
      daemon_->metric(R"(aiopsd_actions_total{action="ssh",outcome="succeeded",rule="bounce"})"),
      1);
  EXPECT_EQ(daemon_->metric("aiopsd_ssh_sessions_active"), 0);
  EXPECT_EQ(daemon_->metric("aiopsd_action_duration_seconds_count"), 1);
}

TEST_F(SshEndToEnd, TheNextActionOnTheDeviceReusesItsSessionAndMetricsSayHow) {
  HttpClient c(daemon_->port());
  c.post("/api/v2/alerts", alert("InterfaceDown", R"("device":"sw1","interface":"1/1/3")"));
  wait_audit(1);
  EXPECT_TRUE(eventually([&] { return daemon_->metric("aiopsd_ssh_sessions_idle") == 1; }));
  c.post("/api/v2/alerts", alert("InterfaceDown", R"("device":"sw1","interface":"1/1/4")"));
  auto records = wait_audit(2);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[1].at("outcome"), "succeeded") << boost::json::serialize(records[1]);
  EXPECT_EQ(daemon_->metric(R"(aiopsd_ssh_sessions_total{event="opened"})"), 1);
  EXPECT_EQ(daemon_->metric(R"(aiopsd_ssh_sessions_total{event="reused"})"), 1);
  EXPECT_EQ(daemon_->metric(R"(aiopsd_ssh_sessions_total{event="reconnected"})"), 0);
  EXPECT_TRUE(eventually([&] { return daemon_->metric("aiopsd_ssh_sessions_idle") == 1; }));
  EXPECT_EQ(sshd_.commands_received().size(), 4u);
}

TEST_F(SshEndToEnd, DeviceOutputIsRedactedBeforeItIsAudited) {
  HttpClient c(daemon_->port());
  c.post("/api/v2/alerts", alert("ConfigDrift", R"("instance":"127.0.0.1:9100")"));
  auto records = wait_audit(1);
  ASSERT_EQ(records.size(), 1u);
  std::string output(records[0].at("commands").as_array()[0].at("output").as_string());
  EXPECT_NE(output.find("<redacted>"), std::string::npos) << output;
  EXPECT_EQ(output.find("s3cr3t-community"), std::string::npos) << output;
  EXPECT_EQ(output.find("0822455D0A16"), std::string::npos) << output;
}

TEST_F(SshEndToEnd, ChangedHostKeyIsRefusedAndNothingIsSent) {
  sshd_.regenerate_host_key();
  HttpClient c(daemon_->port());
  c.post("/api/v2/alerts", alert("InterfaceDown", R"("device":"sw1","interface":"1/1/3")"));
  auto records = wait_audit(1);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].at("outcome"), "failed");
  EXPECT_EQ(records[0].at("error_code"), "host_key_mismatch");
  EXPECT_TRUE(sshd_.commands_received().empty());
}

TEST_F(SshEndToEnd, DeviceDownFailsTheActionAndTheDaemonKeepsServing) {
  sshd_.stop();
  HttpClient c(daemon_->port());
  c.post("/api/v2/alerts", alert("InterfaceDown", R"("device":"sw1","interface":"1/1/3")"));
  auto records = wait_audit(1);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].at("outcome"), "failed");
  EXPECT_EQ(records[0].at("error_code"), "ssh_error");
  EXPECT_EQ(daemon_->metric(R"(aiopsd_actions_total{action="ssh",outcome="failed",rule="bounce"})"),
            1);
  EXPECT_EQ(c.get("/healthz").status, 200u);
  EXPECT_EQ(
      c.post("/api/v2/alerts", alert("InterfaceDown", R"("device":"sw1","interface":"1/1/4")"))
          .status,
      200u);
  EXPECT_EQ(wait_audit(2).size(), 2u);
}

TEST_F(SshEndToEnd, DryRunRuleOpensNoSession) {
  HttpClient c(daemon_->port());
  c.post("/api/v2/alerts", alert("Rehearsal", R"("device":"sw1")"));
  auto records = wait_audit(1);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].at("outcome"), "dry_run");
  EXPECT_TRUE(sshd_.commands_received().empty());
}

}  // namespace
}  // namespace aiopsd::testing
