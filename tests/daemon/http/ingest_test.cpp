// The daemon in-process on port 0: HTTP ingest, bad input, queueing, routes,
// and the guarded action path in dry-run (no device needed).

#include <gtest/gtest.h>

#include <set>

#include <mutex>

#include "daemon/app.hpp"
#include "daemon/log.hpp"
#include "daemon/metrics.hpp"
#include "tests/daemon/test_support.hpp"

namespace aiopsd::daemon {
namespace {

using testing::HttpClient;
using testing::TempDir;

constexpr const char* kRules = R"(rules:
  - name: bounce
    match:
      alertname: InterfaceDown
    group_by: [device, interface]
    throttle: {once_within: 10m}
    dry_run: true
    actions:
      - ssh:
          device: "{{ labels.device }}"
          params: {labels.interface: '[0-9]+/[0-9]+/[0-9]+'}
          commands: ["show interface {{ labels.interface }} status", "interface {{ labels.interface }} shutdown"]
  - name: log-critical
    match: {severity: critical}
    actions: [{log: {message: "critical {{ labels.alertname }}"}}]
)";

constexpr const char* kSecret = "s3cr3t-Value-For-Test";

class DaemonHttp : public ::testing::Test {
 protected:
  void SetUp() override { start(1000, "64KiB"); }
  void TearDown() override {
    if (app_) app_->stop();
    log::set_sink(nullptr);
  }

  void start(std::size_t queue_capacity, const std::string& max_body) {
    ::setenv("AIOPSD_TEST_SW1_PASSWORD", kSecret, 1);
    dir_.write("rules.yaml", kRules);
    std::string path =
        dir_.write("aiopsd.yaml", fmt::format(R"(server: {{listen: "127.0.0.1:0", max_body: {}}}
audit: {{path: audit.log}}
engine: {{queue_capacity: {}}}
ssh:
  known_hosts: known_hosts
  policy: {{allow: ['show .*', 'interface [0-9/]+ (no )?shutdown'], deny: ['.*reload.*']}}
devices:
  - name: sw1
    host: 127.0.0.1
    port: 1
    credential: {{password_env: AIOPSD_TEST_SW1_PASSWORD}}
rules: [rules.yaml]
)",
                                              max_body, queue_capacity));
    rules::ConfigErrors errors(path);
    auto cfg = load_config(path, errors);
    ASSERT_TRUE(cfg) << errors.to_string();
    log::set_sink([this](std::string_view line) {
      std::lock_guard lock(log_mu_);
      logs_ += line;
    });
    AppOptions opts;
    opts.notify_systemd = false;
    opts.tick_interval = std::chrono::milliseconds(50);
    app_ = std::make_unique<App>(std::move(cfg), opts);
    app_->start();
  }

  std::vector<boost::json::object> audit() {
    EXPECT_TRUE(app_->wait_idle(std::chrono::seconds(10)));
    return testing::read_audit(dir_.file("audit.log"));
  }
  double metric(const std::string& series) {
    return testing::metric_value(app_->metrics().serialize(), series).value_or(-1);
  }
  std::string alert(const std::string& interface, const std::string& extra = "") {
    return fmt::format(
        R"({{"labels":{{"alertname":"InterfaceDown","device":"sw1","interface":"{}"{}}}}})",
        interface, extra);
  }

  TempDir dir_;
  std::unique_ptr<App> app_;
  std::mutex log_mu_;
  std::string logs_;
};

TEST_F(DaemonHttp, ValidAlertRunsTheGuardedActionOnce) {
  HttpClient c(app_->http_port());
  auto r = c.post("/api/v2/alerts", "[" + alert("1/1/3") + "]");
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.body, R"({"status":"success"})");
  auto records = audit();
  ASSERT_EQ(records.size(), 1u);
  const auto& rec = records[0];
  EXPECT_EQ(rec.at("rule"), "bounce");
  EXPECT_EQ(rec.at("outcome"), "dry_run");
  EXPECT_EQ(rec.at("device"), "sw1");
  EXPECT_EQ(rec.at("host"), "127.0.0.1:1");
  EXPECT_EQ(rec.at("group_key"), "device=sw1,interface=1/1/3");
  const auto& cmds = rec.at("commands").as_array();
  ASSERT_EQ(cmds.size(), 2u);
  EXPECT_EQ(cmds[0].at("command"), "show interface 1/1/3 status");
  EXPECT_EQ(cmds[1].at("command"), "interface 1/1/3 shutdown");
  EXPECT_EQ(rec.at("fingerprints").as_array().size(), 1u);
  EXPECT_EQ(metric(R"(aiopsd_events_received_total{connector="alertmanager_v2"})"), 1);
  EXPECT_EQ(metric(R"(aiopsd_rule_matches_total{rule="bounce"})"), 1);
  EXPECT_EQ(metric(R"(aiopsd_actions_total{action="ssh",outcome="dry_run",rule="bounce"})"), 1);
}

TEST_F(DaemonHttp, ResendsAreThrottledPerGroupKey) {
  HttpClient c(app_->http_port());
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(c.post("/api/v2/alerts", "[" + alert("1/1/3") + "]").status, 200u);
  EXPECT_EQ(c.post("/api/v2/alerts", "[" + alert("1/1/4") + "]").status, 200u);
  auto records = audit();
  ASSERT_EQ(records.size(), 2u);
  // Two groups may be decided by two engine workers: order only holds per group.
  std::set<std::string> groups;
  for (const auto& r : records) groups.emplace(r.at("group_key").as_string());
  EXPECT_EQ(groups,
            (std::set<std::string>{"device=sw1,interface=1/1/3", "device=sw1,interface=1/1/4"}));
  EXPECT_EQ(metric(R"(aiopsd_rule_matches_total{rule="bounce"})"), 4);
}

TEST_F(DaemonHttp, HostileLabelValueNeverReachesACommand) {
  HttpClient c(app_->http_port());
  for (const char* hostile : {"1/1/3; reload", "1/1/3 | reload", "$(reload)", "`reload`",
                              "1/1/3\\nreload", "1/1/3\\u037e reload"}) {
    EXPECT_EQ(c.post("/api/v2/alerts", "[" + alert(hostile) + "]").status, 200u) << hostile;
  }
  auto records = audit();
  ASSERT_EQ(records.size(), 6u);
  for (const auto& rec : records) {
    EXPECT_EQ(rec.at("outcome"), "failed");
    EXPECT_EQ(rec.at("error_code"), "policy_violation");
    EXPECT_NE(std::string(rec.at("error_message").as_string()).find("labels.interface"),
              std::string::npos);
    EXPECT_TRUE(rec.at("commands").as_array().empty());
  }
  EXPECT_EQ(metric(R"(aiopsd_actions_total{action="ssh",outcome="failed",rule="bounce"})"), 6);
}

TEST_F(DaemonHttp, UnknownDeviceFailsTheAction) {
  HttpClient c(app_->http_port());
  c.post("/api/v2/alerts",
         R"([{"labels":{"alertname":"InterfaceDown","device":"sw-nope:22","interface":"1/1/1"}}])");
  auto records = audit();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].at("error_code"), "unknown_device");
  EXPECT_EQ(records[0].at("error_message"), "device 'sw-nope' is not in the inventory");
}

TEST_F(DaemonHttp, MalformedJsonIsRejectedWhole) {
  HttpClient c(app_->http_port());
  auto r = c.post("/api/v2/alerts", "[" + alert("1/1/3") + R"(, {"labels":)");
  EXPECT_EQ(r.status, 400u);
  auto body = boost::json::parse(r.body).as_object();
  EXPECT_EQ(body.at("status"), "error");
  EXPECT_EQ(body.at("error").at("code"), "invalid_json");
  EXPECT_TRUE(audit().empty());
  EXPECT_EQ(
      metric(R"(aiopsd_events_rejected_total{connector="alertmanager_v2",reason="invalid_json"})"),
      1);
  EXPECT_EQ(metric(R"(aiopsd_events_received_total{connector="alertmanager_v2"})"), 0);
}

TEST_F(DaemonHttp, ValidAlertsOfABatchAreKeptAndInvalidOnesNamed) {
  HttpClient c(app_->http_port());
  auto r = c.post("/api/v2/alerts", "[" + alert("1/1/3") +
                                        R"(, {"labels":{"alertname":"X","severity":5}}, )" +
                                        alert("1/1/5") + "]");
  EXPECT_EQ(r.status, 400u);
  auto body = boost::json::parse(r.body).as_object();
  EXPECT_EQ(body.at("error").at("code"), "wrong_type");
  EXPECT_EQ(body.at("error").at("accepted"), 2);
  EXPECT_NE(
      std::string(body.at("error").at("message").as_string()).find("alerts[1].labels.severity"),
      std::string::npos)
      << r.body;
  EXPECT_EQ(audit().size(), 2u);
  EXPECT_EQ(
      metric(R"(aiopsd_events_rejected_total{connector="alertmanager_v2",reason="wrong_type"})"),
      1);
  EXPECT_EQ(metric(R"(aiopsd_events_received_total{connector="alertmanager_v2"})"), 2);
}

TEST_F(DaemonHttp, OversizeBodyGets413) {
  HttpClient c(app_->http_port());
  std::string big = "[" + alert("1/1/3", R"(,"pad":")" + std::string(70 * 1024, 'x') + "\"") + "]";
  auto r = c.post("/api/v2/alerts", big);
  EXPECT_EQ(r.status, 413u);
  EXPECT_EQ(boost::json::parse(r.body).at("error").at("code"), "body_too_large");
  EXPECT_EQ(
      metric(
          R"(aiopsd_events_rejected_total{connector="alertmanager_v2",reason="body_too_large"})"),
      1);
  EXPECT_TRUE(audit().empty());
}

TEST_F(DaemonHttp, RoutesAndKeepAlive) {
  HttpClient c(app_->http_port());  // every request below on one connection
  EXPECT_EQ(c.get("/healthz").status, 200u);
  EXPECT_EQ(c.get("/readyz").status, 200u);
  auto m = c.get("/metrics");
  EXPECT_EQ(m.status, 200u);
  EXPECT_EQ(m.content_type.rfind("text/plain", 0), 0u);
  EXPECT_NE(m.body.find("aiopsd_build_info{"), std::string::npos);
  EXPECT_NE(m.body.find("aiopsd_event_queue_depth"), std::string::npos);
  EXPECT_NE(m.body.find("aiopsd_ssh_sessions_active"), std::string::npos);
  EXPECT_EQ(c.get("/nope").status, 404u);
  EXPECT_EQ(c.get("/api/v2/alerts").status, 405u);
}

TEST_F(DaemonHttp, AnswersExpectContinueLikeCurlNeeds) {
  // curl adds the header itself for large bodies (over 1 MiB in curl 7.88); force it here.
  std::string body = "[" + alert("1/1/3", R"(,"pad":")" + std::string(4000, 'x') + "\"") + "]";
  std::string file = dir_.write("batch.json", body);
  std::string cmd = fmt::format(
      "curl -sv --expect100-timeout 30 -H 'Expect: 100-continue' -H 'Content-Type: "
      "application/json' "
      "--data-binary @{} "
      "http://127.0.0.1:{}/api/v2/alerts 2>&1",
      file, app_->http_port());
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  char buf[4096];
  while (std::size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  EXPECT_EQ(pclose(p), 0) << out;
  EXPECT_NE(out.find("< HTTP/1.1 100 Continue"), std::string::npos) << out;
  EXPECT_NE(out.find(R"({"status":"success"})"), std::string::npos) << out;
  EXPECT_EQ(audit().size(), 1u);
}

// With auth off, a web page open on the host must not be able to post
// alerts or flip the kill switch: cross-site Origin and non-JSON bodies are
// refused before any route sees them.
TEST_F(DaemonHttp, WebPagesCannotPostAlertsOrResumeAutomation) {
  auto curl = [&](const std::string& args) {
    std::string out;
    FILE* p = popen(
        fmt::format("curl -s --max-time 10 -o - -w ' HTTP%{{http_code}}' {} 2>&1", args).c_str(),
        "r");
    char buf[4096];
    while (std::size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
    pclose(p);
    return out;
  };
  const std::string base = fmt::format("http://127.0.0.1:{}", app_->http_port());
  const std::string body = "'[" + alert("1/1/3") + "]'";
  // A form post (text/plain and urlencoded are what a page may send cross-site unasked).
  for (const char* type :
       {"text/plain", "application/x-www-form-urlencoded", "multipart/form-data"}) {
    auto out = curl(fmt::format("-H 'Content-Type: {}' -d {} {}/api/v2/alerts", type, body, base));
    EXPECT_NE(out.find("HTTP415"), std::string::npos) << type << ": " << out;
    EXPECT_NE(out.find("unsupported_media_type"), std::string::npos) << out;
  }
  // JSON, but from a page on another origin.
  for (const char* origin : {"http://evil.example", "null", "http://127.0.0.1:1"}) {
    auto out = curl(
        fmt::format("-H 'Content-Type: application/json' -H 'Origin: {}' -d {} {}/api/v2/alerts",
                    origin, body, base));
    EXPECT_NE(out.find("HTTP403"), std::string::npos) << origin << ": " << out;
    EXPECT_NE(out.find("cross_origin"), std::string::npos) << out;
  }
  auto fetch =
      curl(fmt::format("-X POST -H 'Sec-Fetch-Site: cross-site' {}/api/v1/automation/pause", base));
  EXPECT_NE(fetch.find("HTTP403"), std::string::npos) << fetch;
  auto pause = curl(
      fmt::format("-X POST -H 'Origin: http://evil.example' {}/api/v1/automation/pause", base));
  EXPECT_NE(pause.find("HTTP403"), std::string::npos) << pause;
  EXPECT_EQ(metric("aiopsd_automation_paused"), 0);
  EXPECT_TRUE(audit().empty());
  EXPECT_EQ(metric(R"(aiopsd_events_received_total{connector="alertmanager_v2"})"), 0);
  // The same requests from a client that is not a browser (or the same origin) go through.
  auto same = curl(fmt::format(
      "-H 'Content-Type: application/json; charset=utf-8' -H 'Origin: {}' -d {} {}/api/v2/alerts",
      base, body, base));
  EXPECT_NE(same.find("HTTP200"), std::string::npos) << same;
  auto bodyless = curl(fmt::format("-X POST {}/api/v1/automation/pause", base));
  EXPECT_NE(bodyless.find("HTTP200"), std::string::npos) << bodyless;
  EXPECT_EQ(metric("aiopsd_automation_paused"), 1);
  EXPECT_EQ(audit().size(), 1u);
}

TEST_F(DaemonHttp, WebhookPayloadIsDecodedAndMatched) {
  HttpClient c(app_->http_port());
  auto r = c.post("/webhook/alertmanager", R"({"version":"4","status":"firing","receiver":"aiopsd",
    "groupKey":"{}:{}","truncatedAlerts":0,"groupLabels":{},"commonLabels":{},"commonAnnotations":{},
    "externalURL":"http://am","alerts":[{"status":"firing","labels":{"alertname":"InterfaceDown",
    "device":"sw1","interface":"2/1/1","severity":"critical"},"annotations":{},
    "startsAt":"2024-01-02T03:04:05Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://p",
    "fingerprint":"0123456789abcdef"}]})");
  EXPECT_EQ(r.status, 200u) << r.body;
  auto records = audit();
  ASSERT_EQ(records.size(), 2u);  // the ssh rule and the log rule
  EXPECT_EQ(metric(R"(aiopsd_events_received_total{connector="alertmanager_webhook"})"), 1);
  EXPECT_EQ(metric(R"(aiopsd_rule_matches_total{rule="log-critical"})"), 1);
  bool found = false;
  for (const auto& rec : records) {
    if (rec.at("rule") == "bounce") {
      found = true;
      EXPECT_EQ(rec.at("fingerprints").as_array()[0], "0123456789abcdef");
    }
  }
  EXPECT_TRUE(found);
}

TEST_F(DaemonHttp, SecretNeverAppearsInLogsAuditOrMetrics) {
  HttpClient c(app_->http_port());
  c.post("/api/v2/alerts", "[" + alert("1/1/3") + "]");
  c.post("/api/v2/alerts", "[" + alert("1/1/3; reload") + "]");
  audit();
  std::string audit_text;
  std::ifstream(dir_.file("audit.log")) >> std::noskipws >> audit_text;
  EXPECT_EQ(audit_text.find(kSecret), std::string::npos);
  EXPECT_EQ(app_->metrics().serialize().find(kSecret), std::string::npos);
  std::lock_guard lock(log_mu_);
  EXPECT_FALSE(logs_.empty());
  EXPECT_EQ(logs_.find(kSecret), std::string::npos);
}

class DaemonHttpTinyQueue : public DaemonHttp {
 protected:
  void SetUp() override { start(1, "64KiB"); }
};

TEST_F(DaemonHttpTinyQueue, FullQueueAnswers503WithRetryAfterAndDropsNothingSilently) {
  HttpClient c(app_->http_port());
  auto r = c.post("/api/v2/alerts", "[" + alert("1/1/3") + "," + alert("1/1/4") + "]");
  EXPECT_EQ(r.status, 503u);
  EXPECT_EQ(r.retry_after, "5");
  EXPECT_EQ(boost::json::parse(r.body).at("error").at("code"), "queue_full");
  EXPECT_EQ(
      metric(R"(aiopsd_events_rejected_total{connector="alertmanager_v2",reason="queue_full"})"),
      2);
  EXPECT_EQ(metric(R"(aiopsd_events_received_total{connector="alertmanager_v2"})"), 0);
  // A batch that fits goes through.
  EXPECT_EQ(c.post("/api/v2/alerts", "[" + alert("1/1/3") + "]").status, 200u);
  EXPECT_EQ(audit().size(), 1u);
}

}  // namespace
}  // namespace aiopsd::daemon
