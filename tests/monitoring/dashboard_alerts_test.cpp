// The Grafana dashboard (docs/grafana/aiopsd-dashboard.json) and the alerting
// rules (docs/prometheus/aiopsd-alerts.yaml) against the real thing: promtool
// checks the rule file, and a real Prometheus scraping a loaded aiopsd (real
// sshd device, embedded Kafka) evaluates every expression of both files.

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "connectors/kafka/kafka_client.hpp"
#include "tests/daemon/daemon_under_test.hpp"
#include "tests/harness/child_process.hpp"
#include "tests/harness/monitoring_fixtures.hpp"
#include "tests/harness/sshd_fixture.hpp"
#include "tests/monitoring/promql_check.hpp"

namespace aiopsd::testing {
namespace {

namespace json = boost::json;
using promql::Need;

std::string read_source(const std::string& relative) {
  std::ifstream in(std::string(AIOPSD_SOURCE_DIR) + "/" + relative);
  std::stringstream text;
  text << in.rdbuf();
  if (text.str().empty()) throw std::runtime_error("cannot read " + relative);
  return text.str();
}

const std::string kDashboardPath = "docs/grafana/aiopsd-dashboard.json";
const std::string kAlertsPath = "docs/prometheus/aiopsd-alerts.yaml";

// ---- the scanner and extraction, without Prometheus ----

TEST(PromqlSelectors, FindsMetricSelectorsAndSkipsEverythingElse) {
  using V = std::vector<std::string>;
  EXPECT_EQ(
      promql::selectors(
          R"(sum by (connector, reason) (rate(aiopsd_events_rejected_total{job=~"aiopsd", instance=~".+"}[1m])))"),
      V{R"(aiopsd_events_rejected_total{job=~"aiopsd", instance=~".+"})"});
  EXPECT_EQ(promql::selectors("histogram_quantile(0.99, sum by (le) (rate(x_bucket[5m])))"),
            V{"x_bucket"});
  EXPECT_EQ(promql::selectors(R"(up{job="aiopsd"} == 0 or absent(up{job="aiopsd"}))"),
            V{R"(up{job="aiopsd"})"});
  EXPECT_EQ(promql::selectors("sum(rate(a[5m] offset 1h)) / on (instance) group_left (version) b"),
            (V{"a", "b"}));
  EXPECT_EQ(promql::selectors(R"x(label_replace(m, "dst", "$1 {x}", "src", "(.*)"))x"), V{"m"});
  EXPECT_EQ(promql::selectors("max_over_time(m[10m:1m]) > bool 3e2 unless m2 > Inf"),
            (V{"m", "m2"}));
  EXPECT_EQ(promql::selectors("topk(10, sum without (le) (m {a='}'}))"), V{"m{a='}'}"});
  EXPECT_EQ(promql::selectors(R"({__name__=~"aiopsd_.*"})"), V{R"({__name__=~"aiopsd_.*"})"});
  EXPECT_EQ(promql::selectors("vector(1) + 0.5"), V{});
}

TEST(PromqlSubstitute, FillsGrafanaVariablesAndLeavesOthers) {
  const std::map<std::string, std::string> values{
      {"job", "aiopsd"}, {"instance", "127.0.0.1:9"}, {"__rate_interval", "1m"}};
  EXPECT_EQ(promql::substitute(
                R"(rate(x{job=~"$job", instance=~"${instance:regex}"}[$__rate_interval]))", values),
            R"(rate(x{job=~"aiopsd", instance=~"127.0.0.1:9"}[1m]))");
  // Unknown variables stay, so the expression fails to parse instead of passing.
  EXPECT_EQ(
      promql::substitute(R"x(x[$__range] + label_replace(y, "a", "$1", "b", "(.*)"))x", values),
      R"x(x[$__range] + label_replace(y, "a", "$1", "b", "(.*)"))x");
}

TEST(PromqlExtract, DashboardTargetsOfNestedRowsAndVariables) {
  const auto dashboard = json::parse(R"x({
    "panels": [
      {"type": "timeseries", "title": "top", "targets": [{"refId": "A", "expr": "a"}]},
      {"type": "row", "title": "folded", "collapsed": true, "panels": [
        {"type": "timeseries", "title": "inner",
         "targets": [{"refId": "A", "expr": "b"}, {"refId": "B", "expr": "c"}]}]},
      {"type": "text", "title": "notes"}],
    "templating": {"list": [
      {"name": "DS_PROMETHEUS", "type": "datasource", "query": "prometheus"},
      {"name": "job", "type": "query", "query": "label_values(m, job)"},
      {"name": "instance", "type": "query",
       "query": {"query": "label_values(m{job=~\"$job\", x=\"a,b\"}, instance)", "refId": "V"}},
      {"name": "names", "type": "query", "query": "label_values(job)"}]}
  })x");
  const auto exprs = promql::dashboard_exprs(dashboard);
  std::vector<std::string> got;
  got.reserve(exprs.size());
  for (const auto& e : exprs) got.push_back(e.where + ": " + e.expr);
  EXPECT_EQ(got,
            (std::vector<std::string>{R"(panel "top" target A: a)", R"(panel "inner" target A: b)",
                                      R"(panel "inner" target B: c)", "variable $job: m",
                                      R"(variable $instance: m{job=~"$job", x="a,b"})"}));
}

// Grafana imports the file as it is: one data source variable used by every
// panel and query variable, job/instance variables used by every query.
TEST(Dashboard, IsImportableAndEveryQueryIsScopedToJobAndInstance) {
  const json::object d = json::parse(read_source(kDashboardPath)).as_object();
  EXPECT_EQ(d.at("uid"), "aiopsd-overview");
  EXPECT_TRUE(d.at("id").is_null());  // a fixed id would clash on import
  std::vector<std::string> variables;
  for (const auto& v : d.at("templating").at("list").as_array())
    variables.emplace_back(v.at("name").as_string());
  EXPECT_EQ(variables, (std::vector<std::string>{"DS_PROMETHEUS", "job", "instance"}));

  std::set<std::int64_t> ids;
  std::size_t panels = 0;
  const json::object ds{{"type", "prometheus"}, {"uid", "${DS_PROMETHEUS}"}};
  std::function<void(const json::array&)> walk = [&](const json::array& list) {
    for (const auto& pv : list) {
      const auto& p = pv.as_object();
      const std::string title(p.at("title").as_string());
      EXPECT_TRUE(ids.insert(p.at("id").as_int64()).second) << "duplicate id: " << title;
      EXPECT_TRUE(p.contains("gridPos")) << title;
      if (p.at("type") == "row") {
        walk(p.at("panels").as_array());
        continue;
      }
      ++panels;
      EXPECT_EQ(p.at("datasource"), ds) << title;
      ASSERT_FALSE(p.at("targets").as_array().empty()) << title;
      for (const auto& t : p.at("targets").as_array()) {
        EXPECT_EQ(t.at("datasource"), ds) << title;
        const std::string expr(t.at("expr").as_string());
        EXPECT_NE(expr.find(R"(job=~"$job")"), std::string::npos) << title << ": " << expr;
        EXPECT_NE(expr.find(R"(instance=~"$instance")"), std::string::npos)
            << title << ": " << expr;
      }
    }
  };
  walk(d.at("panels").as_array());
  EXPECT_EQ(panels, 29u);
}

// ---- promtool ----

int promtool_check_rules(const std::string& path, std::string& output) {
  TempDir dir;
  ChildProcess promtool({"/usr/bin/promtool", "check", "rules", path}, dir.file("promtool.log"));
  const auto status = promtool.wait_exit(std::chrono::seconds(30));
  output = promtool.log();
  if (!status || !WIFEXITED(*status)) return -1;
  return WEXITSTATUS(*status);
}

TEST(AlertRules, PromtoolAcceptsTheFileAndRejectsABrokenCopy) {
  std::string output;
  EXPECT_EQ(promtool_check_rules(std::string(AIOPSD_SOURCE_DIR) + "/" + kAlertsPath, output), 0)
      << output;
  EXPECT_NE(output.find("SUCCESS: 13 rules found"), std::string::npos) << output;

  std::string broken = read_source(kAlertsPath);
  const std::string good = R"(expr: up{job="aiopsd"} == 0)";
  ASSERT_NE(broken.find(good), std::string::npos);
  broken.replace(broken.find(good), good.size(), R"(expr: sum(up{job="aiopsd"} == 0)");
  TempDir dir;
  EXPECT_NE(promtool_check_rules(dir.write("broken.yaml", broken), output), 0) << output;
  EXPECT_NE(output.find("unclosed left parenthesis"), std::string::npos) << output;
}

// ---- every expression against a real Prometheus scraping a loaded aiopsd ----

constexpr const char* kRules = R"(inhibit_rules:
  - name: unreachable
    source_match: {alertname: DeviceUnreachable}
    target_match: {alertname: InterfaceDown}
    equal: [device]
rules:
  - name: bounce
    match: {alertname: InterfaceDown}
    group_by: [device, interface]
    throttle: {once_within: 1h}
    actions:
      - ssh:
          device: "{{ labels.device }}"
          params: {labels.interface: '[0-9]+/[0-9]+/[0-9]+'}
          commands: ["interface {{ labels.interface }} shutdown", "interface {{ labels.interface }} no shutdown"]
)";

constexpr const char* kCatalog = R"(actions:
  - name: marker
    params: {tag: {type: string, pattern: '[a-z0-9-]{1,40}'}}
    commands: ["show marker {{ params.tag }}"]
)";

std::string config_for(const SshdFixture& sshd) {
  return R"(catalog: [catalog.yaml]
ssh: {policy: {allow: ['interface [0-9/]+ (no )?shutdown', 'show marker [a-z0-9-]+']}}
kafka:
  brokers: embedded
  embedded_partitions: 1
  group_id: aiopsd-monitoring-test
  topics: {intents: intents, results: results, dead_letter: dlq, alerts: alerts,
           approvals: approvals, escalations: escalations}
state: {path: state}
safety:
  unauthenticated_approvals: true  # no server.auth: the body names who decides
  limits: [{scope: "rule:bounce", max_actions: 1, window: 1h}]
devices:
)" + sshd.device_yaml("sw1");
}

// Produces one message and waits for the broker's acknowledgement.
void produce(kafka::Producer& producer, const std::string& topic, const std::string& value) {
  std::atomic<int> acked = 0;  // 1 ok, -1 failed
  producer.produce(topic, "k", value, {},
                   [&acked](const kafka::DeliveryReport& r) { acked = r.ok ? 1 : -1; });
  ASSERT_TRUE(eventually([&] { return acked != 0; }, std::chrono::seconds(15)));
  ASSERT_EQ(acked, 1) << "delivery to " << topic << " failed";
}

struct Checked {
  promql::Expr expr;
  Need need;
  std::string problems;
};

// Checks every expression, once.
std::vector<Checked> check_all(const PrometheusFixture& prometheus,
                               const std::vector<std::pair<promql::Expr, Need>>& exprs) {
  std::vector<Checked> out;
  out.reserve(exprs.size());
  for (const auto& [e, need] : exprs)
    out.push_back({e, need, promql::check(prometheus, e.expr, need)});
  return out;
}

bool all_fine(const std::vector<Checked>& checked) {
  return std::ranges::all_of(checked, [](const Checked& c) { return c.problems.empty(); });
}

TEST(Dashboard, EveryExpressionParsesAndReturnsDataFromARealPrometheus) {
  SshdFixture sshd;
  DaemonUnderTest daemon(config_for(sshd), kRules, {}, {{"catalog.yaml", kCatalog}});
  // The real rule file: Prometheus also evaluates every alert rule for us.
  PrometheusFixture prometheus(daemon.port(), read_source(kAlertsPath));

  // Load that creates every series the files use.
  HttpClient client(daemon.port());
  const std::string alert = R"([{"labels":{"alertname":"InterfaceDown","device":"sw1",
    "interface":"1/1/7"},"endsAt":"2099-01-01T00:00:00Z"}])";
  EXPECT_EQ(client.post("/api/v2/alerts", alert).status, 200u);  // match, ssh action
  EXPECT_EQ(client.post("/api/v2/alerts", alert).status, 200u);  // throttled
  // Another port: over the rule's limit of 1, held; then denied.
  EXPECT_EQ(client
                .post("/api/v2/alerts", R"([{"labels":{"alertname":"InterfaceDown","device":"sw1",
    "interface":"1/1/8"},"endsAt":"2099-01-01T00:00:00Z"}])")
                .status,
            200u);
  ASSERT_TRUE(daemon.app().wait_idle(std::chrono::seconds(30)));
  auto held = json::parse(client.get("/api/v1/approvals?status=pending").body);
  ASSERT_EQ(held.at("approvals").as_array().size(), 1u);
  const std::string id(held.at("approvals").as_array()[0].at("id").as_string());
  EXPECT_EQ(client.post("/api/v1/approvals/" + id + "/deny", R"({"approver":"test"})").status,
            200u);
  EXPECT_EQ(client.post("/api/v2/alerts", "{not json").status, 400u);
  EXPECT_EQ(client.post("/api/v2/alerts", R"([{"labels":{"alertname":7}}])").status, 400u);
  std::string error;
  auto producer = kafka::Producer::create({daemon.app().kafka_bootstrap(), {}}, error);
  ASSERT_TRUE(producer) << error;
  produce(*producer, "alerts", "not json either");  // rejected, dead-lettered
  produce(*producer, "intents",
          R"({"intent_id":"grafana-1","action":"marker","target":{"device":"sw1"},)"
          R"("params":{"tag":"grafana"},"requested_by":"monitoring-test"})");

  ASSERT_TRUE(eventually(
      [&] {
        return daemon.metric(
                   R"(aiopsd_actions_total{action="ssh",outcome="succeeded",rule="bounce"})") ==
                   1 &&
               daemon.metric(R"(aiopsd_intents_total{action="marker",status="succeeded"})") == 1 &&
               daemon.metric(R"(aiopsd_dead_letters_total{reason="invalid_json"})") == 1 &&
               // Lag is sampled every 5s once the consumer has its partitions.
               daemon.app().metrics().serialize().find("aiopsd_kafka_consumer_lag{") !=
                   std::string::npos;
      },
      std::chrono::seconds(40)))
      << daemon.app().metrics().serialize();

  const std::map<std::string, std::string> variables{
      {"job", "aiopsd"},
      {"instance", fmt::format("127.0.0.1:{}", daemon.port())},
      {"__rate_interval", "1m"},
      {"__interval", "15s"},
      {"__range", "5m"}};
  std::vector<std::pair<promql::Expr, Need>> exprs;
  const json::value dashboard = json::parse(read_source(kDashboardPath));
  for (auto e : promql::dashboard_exprs(dashboard)) {
    e.expr = promql::substitute(e.expr, variables);
    exprs.emplace_back(e, Need::kData);
  }
  const std::size_t dashboard_count = exprs.size();
  // Alert conditions are empty while aiopsd is healthy: their selectors must return data.
  const auto rules = promql::rule_exprs(read_source(kAlertsPath));
  for (const auto& e : rules) exprs.emplace_back(e, Need::kSelectors);
  ASSERT_GE(dashboard_count, 20u);
  ASSERT_EQ(rules.size(), 13u);

  // rate() needs two samples of a series that appeared at the last scrape:
  // give Prometheus (scraping every second) a few scrapes to catch up.
  std::vector<Checked> checked;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!all_fine(checked = check_all(prometheus, exprs)) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  for (const auto& c : checked) {
    EXPECT_EQ(c.problems, "") << c.expr.where << ": " << c.expr.expr;
  }
  std::cout << "checked " << dashboard_count << " dashboard and " << rules.size()
            << " alert rule expressions\n";
  RecordProperty("dashboard_expressions", static_cast<int>(dashboard_count));
  RecordProperty("alert_expressions", static_cast<int>(rules.size()));

  // Prometheus loaded the rule file and evaluated every rule without error.
  EXPECT_TRUE(eventually(
      [&] {
        const json::value body = json::parse(prometheus.get("/api/v1/rules"));
        std::size_t ok = 0;
        for (const auto& g : body.at("data").at("groups").as_array())
          for (const auto& r : g.at("rules").as_array()) ok += r.at("health") == "ok";
        return ok == rules.size();
      },
      std::chrono::seconds(10)))
      << prometheus.get("/api/v1/rules");

  // A misspelt metric name fails the same check, however it is written.
  EXPECT_NE(promql::check(prometheus, "sum(rate(aiopsd_events_recieved_total[1m]))", Need::kData),
            "");
  // ... behind `or`: the expression returns data, its selector does not.
  EXPECT_EQ(promql::check(prometheus, "sum(rate(aiopsd_events_received_total[1m])) or vector(0)",
                          Need::kData),
            "");
  EXPECT_EQ(promql::check(prometheus, "sum(rate(aiopsd_evnts_received_total[1m])) or vector(0)",
                          Need::kData),
            "selector aiopsd_evnts_received_total returns no data");
  // ... in an alert condition that is empty anyway.
  EXPECT_EQ(promql::check(prometheus, R"(aiopsd_kafka_consumer_lagg{job="aiopsd"} > 1000)",
                          Need::kSelectors),
            R"(selector aiopsd_kafka_consumer_lagg{job="aiopsd"} returns no data)");
  // ... and a syntax error.
  EXPECT_NE(promql::check(prometheus, "sum(rate(aiopsd_events_received_total[1m])", Need::kData)
                .find("does not evaluate: \"bad_data\""),
            std::string::npos);

  // A copy of the dashboard with one panel's metric misspelt fails on that panel only.
  std::string typo = json::serialize(dashboard);
  const std::string name = "aiopsd_event_queue_depth{";
  ASSERT_NE(typo.find(name), std::string::npos);
  typo.replace(typo.find(name), name.size(), "aiopsd_event_queue_dept{");
  std::vector<std::string> failing;
  for (const auto& e : promql::dashboard_exprs(json::parse(typo))) {
    if (!promql::check(prometheus, promql::substitute(e.expr, variables), Need::kData).empty())
      failing.push_back(e.where);
  }
  EXPECT_EQ(failing, std::vector<std::string>{R"(panel "Event queue depth" target A)"});
}

}  // namespace
}  // namespace aiopsd::testing
