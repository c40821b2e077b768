// Automatic remediations under the safety controls, against a real sshd:
// a blast-radius breaker under a burst, the kill switch, maintenance windows,
// and a rule action that requires approval.

#include <gtest/gtest.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <mutex>
#include <thread>

#include "tests/daemon/daemon_under_test.hpp"
#include "tests/daemon/e2e_peers.hpp"
#include "tests/harness/sshd_fixture.hpp"

namespace aiopsd::testing {
namespace {

namespace json = boost::json;
using boost::beast::http::verb;

constexpr const char* kRules = R"(rules:
  - name: bounce
    match: {alertname: PortDown}
    group_by: [device, interface]
    throttle: {once_within: 1h}
    actions:
      - ssh:
          device: "{{ labels.device }}"
          params: {labels.interface: '[0-9]+/[0-9]+/[0-9]+'}
          commands: ["interface {{ labels.interface }} shutdown"]
  - name: guarded
    match: {alertname: BgpDown}
    group_by: [device]
    actions:
      - run: {action: clear-bgp, device: "{{ labels.device }}", params: {peer: "{{ labels.peer }}"}}
)";

constexpr const char* kCatalog = R"(actions:
  - name: clear-bgp
    params: {peer: {type: string, pattern: '[0-9.]+'}}
    commands: ["clear bgp {{ params.peer }}"]
    approval: required
)";

std::string alert(const std::string& name, const std::string& device, const std::string& iface,
                  const std::string& extra = "") {
  return fmt::format(
      R"({{"labels":{{"alertname":"{}","device":"{}","interface":"{}"{}}},"endsAt":"2099-01-01T00:00:00Z"}})",
      name, device, iface, extra);
}

std::size_t pending(HttpClient& http) {
  auto r = http.request(verb::get, "/api/v1/approvals?status=pending");
  EXPECT_EQ(r.status, 200u) << r.body;
  return json::parse(r.body).at("approvals").as_array().size();
}

// 500 alerts on 200 devices against a global limit of 10 remediations: exactly
// 10 run, the other 490 are held as pending approvals, nothing is dropped.
TEST(SafetyEndToEnd, BreakerUnderABurstRunsExactlyTheLimitAndHoldsTheRest) {
  SshdFixture sshd;
  std::string devices = "devices:\n";
  for (int i = 0; i < 200; ++i) devices += sshd.device_yaml(fmt::format("d{}", i));
  TempDir state;
  DaemonUnderTest daemon(devices + fmt::format(R"(catalog: [catalog.yaml]
ssh: {{policy: {{allow: ['interface [0-9/]+ shutdown', 'clear bgp [0-9.]+']}}}}
state: {{path: {}}}
safety:
  unauthenticated_approvals: true  # no server.auth here: the body names the approver
  limits:
    - {{scope: global, max_actions: 10, window: 10m, reset: manual}}
)",
                                               state.file("state")),
                         kRules, {}, {{"catalog.yaml", kCatalog}});
  HttpClient http(daemon.port());
  for (int batch = 0; batch < 5; ++batch) {
    std::string body = "[";
    for (int j = 0; j < 100; ++j) {
      const int i = batch * 100 + j;
      if (j) body += ',';
      body +=
          alert("PortDown", fmt::format("d{}", i % 200), fmt::format("1/{}/{}", i / 200, i % 200));
    }
    body += "]";
    ASSERT_EQ(http.post("/api/v2/alerts", body).status, 200u);
  }
  ASSERT_TRUE(daemon.app().wait_idle(std::chrono::seconds(120)));
  EXPECT_EQ(sshd.commands_received().size(), 10u);
  EXPECT_EQ(pending(http), 490u);
  EXPECT_EQ(daemon.metric(R"(aiopsd_circuit_open{scope="global"})"), 1);
  EXPECT_EQ(daemon.metric(R"(aiopsd_actions_held_total{reason="breaker_open"})"), 490);
  EXPECT_EQ(daemon.metric(R"(aiopsd_actions_total{action="ssh",outcome="held",rule="bounce"})"),
            490);
  EXPECT_EQ(
      daemon.metric(R"(aiopsd_actions_total{action="ssh",outcome="succeeded",rule="bounce"})"), 10);
  auto status = json::parse(http.request(verb::get, "/api/v1/automation").body).as_object();
  EXPECT_TRUE(status.at("breakers").as_array()[0].as_object().at("open").as_bool());

  // An operator approves one held action: it runs, past the open breaker.
  auto list = json::parse(http.request(verb::get, "/api/v1/approvals?status=pending").body);
  const auto& first = list.at("approvals").as_array()[0].as_object();
  EXPECT_EQ(first.at("reason").as_string(), "breaker_open");
  const std::string id(first.at("id").as_string());
  auto ok = http.post("/api/v1/approvals/" + id + "/approve", R"({"approver":"oncall"})");
  ASSERT_EQ(ok.status, 200u) << ok.body;
  ASSERT_TRUE(daemon.app().wait_idle(std::chrono::seconds(30)));
  EXPECT_EQ(sshd.commands_received().size(), 11u);
  auto again = http.post("/api/v1/approvals/" + id + "/approve", R"({"approver":"oncall"})");
  EXPECT_EQ(again.status, 409u);
  bool audited = false;
  for (const auto& r : daemon.audit()) {
    if (r.contains("approval_id") && r.at("approval_id").as_string() == id &&
        r.at("outcome").as_string() == "succeeded") {
      audited = r.at("decided_by").as_string() == "oncall (unverified)";
    }
  }
  EXPECT_TRUE(audited);

  // Manual reset closes it; the next remediation runs.
  EXPECT_EQ(http.post("/api/v1/breakers/global/reset", "").status, 200u);
  EXPECT_EQ(http.post("/api/v1/breakers/nope/reset", "").status, 404u);
  EXPECT_EQ(daemon.metric(R"(aiopsd_circuit_open{scope="global"})"), 0);
  ASSERT_EQ(http.post("/api/v2/alerts", "[" + alert("PortDown", "d1", "9/9/9") + "]").status, 200u);
  ASSERT_TRUE(daemon.app().wait_idle(std::chrono::seconds(30)));
  EXPECT_EQ(sshd.commands_received().size(), 12u);
}

TEST(SafetyEndToEnd, KillSwitchMaintenanceAndRuleApprovalsHoldUntilReleased) {
  SshdFixture sshd;
  TempDir state;
  WebhookReceiver hook;
  ::setenv("AIOPSD_TEST_WEBHOOK_TOKEN", "hook-secret-123", 1);
  const std::string devices = "devices:\n" + sshd.device_yaml("prod1") + sshd.device_yaml("lab1") +
                              "    labels: {site: lab}\n";
  DaemonUnderTest daemon(devices + fmt::format(R"(catalog: [catalog.yaml]
ssh: {{policy: {{allow: ['interface [0-9/]+ shutdown', 'clear bgp [0-9.]+']}}}}
state: {{path: {}}}
safety:
  maintenance:
    - {{name: lab-upgrade, match: {{site: lab}}}}
  webhook: {{url: "http://127.0.0.1:{}/hooks/aiopsd", token: {{env: AIOPSD_TEST_WEBHOOK_TOKEN}}}}
)",
                                               state.file("state"), hook.port()),
                         kRules, {},
                         {{"catalog.yaml", kCatalog},
                          {"ingest.token", "ingest-0123456789abcdef"},
                          {"oncall.token", "oncall-0123456789abcdef"}},
                         R"(  auth:
    tokens:
      - {name: alertmanager, token: {file: ingest.token}, scopes: [ingest]}
      - {name: oncall, token: {file: oncall.token}, scopes: [admin]}
)");
  // Who approves is who authenticated: the token named "oncall".
  HttpClient http(daemon.port(), "oncall-0123456789abcdef");
  HttpClient ingest(daemon.port(), "ingest-0123456789abcdef");
  auto send = [&](const std::string& a) {
    ASSERT_EQ(ingest.post("/api/v2/alerts", "[" + a + "]").status, 200u);
    ASSERT_TRUE(daemon.app().wait_idle(std::chrono::seconds(30)));
  };
  send(alert("PortDown", "lab1", "1/1/1"));   // maintenance
  send(alert("PortDown", "prod1", "1/1/1"));  // runs
  EXPECT_EQ(sshd.commands_received(), std::vector<std::string>{"interface 1/1/1 shutdown"});
  ASSERT_EQ(http.post("/api/v1/automation/pause", "").status, 200u);
  EXPECT_EQ(daemon.metric("aiopsd_automation_paused"), 1);
  send(alert("PortDown", "prod1", "1/1/2"));  // paused: held, still ingested
  EXPECT_EQ(sshd.commands_received().size(), 1u);
  EXPECT_EQ(daemon.metric(R"(aiopsd_events_received_total{connector="alertmanager_v2"})"), 3);
  ASSERT_EQ(http.post("/api/v1/automation/resume", "").status, 200u);
  send(alert("PortDown", "prod1", "1/1/3"));  // runs
  EXPECT_EQ(sshd.commands_received().size(), 2u);
  send(alert("BgpDown", "prod1", "-", R"(,"peer":"10.0.0.1")"));  // requires approval
  EXPECT_EQ(sshd.commands_received().size(), 2u);

  auto list = json::parse(http.request(verb::get, "/api/v1/approvals?status=pending").body);
  std::map<std::string, std::string> by_reason;
  for (const auto& a : list.at("approvals").as_array()) {
    const auto& o = a.as_object();
    by_reason[std::string(o.at("reason").as_string())] = std::string(o.at("id").as_string());
  }
  ASSERT_EQ(by_reason.size(), 3u);
  EXPECT_TRUE(by_reason.contains("maintenance"));
  EXPECT_TRUE(by_reason.contains("automation_paused"));
  ASSERT_TRUE(by_reason.contains("approval_required"));
  // Rule actions are requested by "rule:NAME", so a person may approve them.
  auto bad = http.post("/api/v1/approvals/" + by_reason["approval_required"] + "/approve",
                       R"({"approver":"oncall","extra":1})");
  EXPECT_EQ(bad.status, 400u);
  EXPECT_NE(bad.body.find("extra: unknown field"), std::string::npos) << bad.body;
  // A body naming someone other than the token's holder is refused, not ignored.
  auto other = http.post("/api/v1/approvals/" + by_reason["approval_required"] + "/approve",
                         R"({"approver":"alice"})");
  EXPECT_EQ(other.status, 403u) << other.body;
  EXPECT_NE(other.body.find("approver_mismatch"), std::string::npos) << other.body;
  // The approver may be omitted: the token says who it is.
  ASSERT_EQ(
      http.post("/api/v1/approvals/" + by_reason["approval_required"] + "/approve", "{}").status,
      200u);
  ASSERT_EQ(http.post("/api/v1/approvals/" + by_reason["maintenance"] + "/deny",
                      R"({"approver":"oncall","comment":"lab is being rebuilt"})")
                .status,
            200u);
  ASSERT_TRUE(daemon.app().wait_idle(std::chrono::seconds(30)));
  EXPECT_EQ(sshd.commands_received(),
            (std::vector<std::string>{"interface 1/1/1 shutdown", "interface 1/1/3 shutdown",
                                      "clear bgp 10.0.0.1"}));
  EXPECT_EQ(daemon.metric(R"(aiopsd_actions_total{action="ssh",outcome="denied",rule="bounce"})"),
            1);
  EXPECT_EQ(pending(http), 1u);
  // Every hold and decision also reached the webhook, with the bearer token.
  ASSERT_TRUE(eventually([&] { return hook.bodies().size() >= 5; }, std::chrono::seconds(20)));
  std::size_t pending_records = 0;
  for (const auto& b : hook.bodies())
    pending_records += json::parse(b).at("kind").as_string() == "approval_pending" ? 1 : 0;
  EXPECT_EQ(pending_records, 3u);
  for (const auto& a : hook.auth()) EXPECT_EQ(a, "Bearer hook-secret-123");
  // The token is a secret: it never reaches the log or the audit log.
  bool approved_by_oncall = false;
  for (const auto& r : daemon.audit()) {
    EXPECT_EQ(json::serialize(r).find("hook-secret-123"), std::string::npos);
    // The simulated device knows only "clear bgp neighbor", so the approved run "failed".
    if (r.contains("approval_id") && r.contains("decided_by") &&
        r.at("approval_id").as_string() == by_reason["approval_required"])
      approved_by_oncall = r.at("decided_by").as_string() == "oncall";
  }
  EXPECT_TRUE(approved_by_oncall);
}

}  // namespace
}  // namespace aiopsd::testing
