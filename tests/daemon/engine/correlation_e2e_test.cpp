// The correlation engine through the real daemon process: an all_of incident
// published to Kafka (read back by python3-kafka, checked against
// schemas/incident.schema.json) and POSTed to a webhook receiver; and every
// kind of correlation state surviving SIGKILL and restart.

#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>

#include <algorithm>

#include "tests/daemon/e2e_peers.hpp"
#include "tests/daemon/test_support.hpp"
#include "tests/harness/child_process.hpp"
#include "tests/harness/kafka_fixture.hpp"

namespace aiopsd::testing {
namespace {

namespace json = boost::json;

constexpr const char* kRules = R"(rules:
  - name: restart-once
    match: {alertname: Down}
    group_by: [instance]
    throttle: {once_within: 30m}
    actions: [{log: {message: "restart {{ group.instance }}"}}]
  - name: link-and-bgp
    all_of:
      - match: {alertname: LinkDown}
      - match: {alertname: BGPSessionDown}
    group_by: [device]
    window: 10m
    actions:
      - kafka: {topic: incidents}
      - webhook: {receiver: chatops}
      - log: {message: "{{ group.device }} {{ members[0].labels.interface }} {{ members[1].labels.peer }}"}
  - name: verify
    absence:
      after: {match: {alertname: DiskFull}}
      expect: resolved
    group_by: [instance]
    window: 3s
    actions: [{log: {message: "still full on {{ members[0].labels.instance }}"}}]
  - name: noise
    match: {alertname: Noise}
    actions: [{log: {message: noise}}]
  - name: sentinel
    match: {alertname: Sentinel}
    actions: [{log: {message: "sentinel {{ labels.n }}"}}]
)";

std::string alert(const std::string& labels) {
  return fmt::format(R"({{"labels":{{{}}},"endsAt":"2099-01-01T00:00:00Z"}})", labels);
}

class CorrelationRestart : public ::testing::Test {
 protected:
  void SetUp() override {
    ::setenv("AIOPSD_TEST_HOOK_TOKEN", "hook-secret-4711", 1);
    port_ = free_loopback_port();
    dir_.write("rules.yaml", kRules);
    config_ = dir_.write("aiopsd.yaml", fmt::format(R"(server: {{listen: "127.0.0.1:{}"}}
audit: {{path: audit.log}}
rules: [rules.yaml]
kafka:
  brokers: "{}"
  group_id: aiopsd-test
  topics: {{intents: intents, results: results, dead_letter: dlq, alerts: ""}}
  properties: {{session.timeout.ms: "6000"}}
state: {{path: state}}
webhooks:
  chatops: {{url: "http://127.0.0.1:{}/hooks/incidents", token: {{env: AIOPSD_TEST_HOOK_TOKEN}}}}
)",
                                                    port_, kafka_.bootstrap(), hook_.port()));
  }
  std::unique_ptr<ChildProcess> start() {
    auto p = std::make_unique<ChildProcess>(
        std::vector<std::string>{AIOPSD_BINARY, "run", "--config", config_},
        dir_.file(fmt::format("aiopsd-{}.log", runs_++)));
    EXPECT_TRUE(wait_for_port(port_, std::chrono::seconds(30))) << p->log();
    return p;
  }
  void post(const std::string& alerts) {
    HttpClient http(port_);
    auto r = http.post("/api/v2/alerts", "[" + alerts + "]");
    ASSERT_EQ(r.status, 200u) << r.body;
  }
  std::vector<json::object> records_of(const std::string& rule) {
    auto all = read_audit(dir_.file("audit.log"));
    std::erase_if(all, [&](const json::object& r) { return r.at("rule").as_string() != rule; });
    return all;
  }
  // Everything posted before the sentinel has been decided once its action is audited.
  void sync(int n) {
    post(alert(fmt::format(R"("alertname":"Sentinel","n":"{}")", n)));
    ASSERT_TRUE(
        eventually([&] { return records_of("sentinel").size() == static_cast<std::size_t>(n); },
                   std::chrono::seconds(30)));
  }

  KafkaFixture kafka_{{{"intents", 1}, {"results", 1}, {"dlq", 1}, {"incidents", 1}}};
  WebhookReceiver hook_;
  TempDir dir_;
  std::uint16_t port_ = 0;
  std::string config_;
  int runs_ = 0;
};

TEST_F(CorrelationRestart, SigkillKeepsWindowsThrottlesTimersAndSilences) {
  auto daemon = start();
  post(alert(R"("alertname":"Down","instance":"web1","n":"1")") + "," +
       alert(R"("alertname":"LinkDown","device":"sw1","interface":"e1")") + "," +
       alert(R"("alertname":"DiskFull","instance":"db1")"));
  {
    HttpClient http(port_);
    auto r = http.post(
        "/api/v1/silences",
        R"({"matchers":[{"name":"alertname","value":"Noise","isRegex":false}],"startsAt":"2020-01-01T00:00:00Z","endsAt":"2099-01-01T00:00:00Z","createdBy":"alice","comment":"known noise"})");
    ASSERT_EQ(r.status, 200u) << r.body;
  }
  sync(1);
  ASSERT_EQ(records_of("restart-once").size(), 1u);
  EXPECT_TRUE(records_of("verify").empty());  // its timer has 3s to go

  ::kill(daemon->pid(), SIGKILL);
  daemon->wait_exit(std::chrono::seconds(10));
  daemon = start();

  // The throttle held: another Down on web1 (a new alert) is not acted on again.
  post(alert(R"("alertname":"Down","instance":"web1","n":"2")"));
  // The silence held.
  post(alert(R"("alertname":"Noise")"));
  // The all_of window stayed open: the second member completes the incident.
  post(alert(R"("alertname":"BGPSessionDown","device":"sw1","peer":"10.0.0.2")"));
  sync(2);
  EXPECT_EQ(records_of("restart-once").size(), 1u) << daemon->log();
  EXPECT_TRUE(records_of("noise").empty());
  // The absence timer ran out while the daemon was down: it fires after restart.
  ASSERT_TRUE(
      eventually([&] { return records_of("verify").size() == 1; }, std::chrono::seconds(10)))
      << daemon->log();

  auto incident = records_of("link-and-bgp");
  ASSERT_EQ(incident.size(), 3u) << daemon->log();
  std::vector<std::string> actions;
  for (const auto& r : incident) {
    actions.emplace_back(r.at("action").as_string());
    EXPECT_EQ(r.at("outcome").as_string(), "succeeded") << json::serialize(r);
    EXPECT_EQ(r.at("fingerprints").as_array().size(), 2u);
  }
  std::sort(actions.begin(), actions.end());
  EXPECT_EQ(actions, (std::vector<std::string>{"kafka:incidents", "log", "webhook:chatops"}));

  auto published = consume(kafka_.bootstrap(), "incidents", 1, "incident.schema.json");
  ASSERT_EQ(published.size(), 1u);
  const json::object& rec = published[0].value;
  EXPECT_EQ(published[0].key, "device=sw1");
  EXPECT_EQ(rec.at("rule").as_string(), "link-and-bgp");
  EXPECT_EQ(rec.at("rule_kind").as_string(), "all_of");
  EXPECT_EQ(rec.at("group").at("device").as_string(), "sw1");
  const auto& members = rec.at("members").as_array();
  ASSERT_EQ(members.size(), 2u);
  EXPECT_EQ(members[0].at("labels").at("interface").as_string(), "e1");
  EXPECT_EQ(members[1].at("labels").at("peer").as_string(), "10.0.0.2");

  ASSERT_TRUE(eventually([&] { return hook_.bodies().size() == 1; }));
  EXPECT_EQ(json::parse(hook_.bodies()[0]).at("id"), rec.at("id"));
  EXPECT_EQ(hook_.auth()[0], "Bearer hook-secret-4711");
  std::stringstream audit;
  audit << std::ifstream(dir_.file("audit.log")).rdbuf();
  EXPECT_EQ(audit.str().find("hook-secret-4711"), std::string::npos);

  HttpClient http(port_);
  const std::string metrics = http.get("/metrics").body;
  EXPECT_EQ(metric_value(metrics, "aiopsd_events_silenced_total"), 1);
  EXPECT_EQ(metric_value(metrics, R"(aiopsd_rule_throttled_total{rule="restart-once"})"), 1);
}

// The kill switch is safety state: after SIGKILL (and systemd's Restart=)
// automation an operator paused is still paused, and a resume sticks too.
TEST_F(CorrelationRestart, SigkillKeepsTheKillSwitch) {
  auto paused = [&] {
    HttpClient http(port_);
    auto r = http.get("/api/v1/automation");
    EXPECT_EQ(r.status, 200u) << r.body;
    return json::parse(r.body).at("paused").as_bool();
  };
  auto daemon = start();
  EXPECT_FALSE(paused());
  {
    HttpClient http(port_);
    auto r = http.post("/api/v1/automation/pause", "");
    ASSERT_EQ(r.status, 200u) << r.body;
  }
  ::kill(daemon->pid(), SIGKILL);
  daemon->wait_exit(std::chrono::seconds(10));
  daemon = start();
  EXPECT_TRUE(paused()) << daemon->log();
  {
    HttpClient http(port_);
    ASSERT_EQ(http.post("/api/v1/automation/resume", "").status, 200u);
  }
  ::kill(daemon->pid(), SIGKILL);
  daemon->wait_exit(std::chrono::seconds(10));
  daemon = start();
  EXPECT_FALSE(paused()) << daemon->log();
}

}  // namespace
}  // namespace aiopsd::testing
