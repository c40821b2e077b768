// Kafka intents end to end: the broker is librdkafka's mock cluster in its own
// process (tests/harness/kafka_mock), intents are produced and results read by
// python3-kafka (an independent implementation of the protocol) and kcat, and
// the device is a real OpenSSH server running the device simulator.

#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <map>
#include <set>

#include "daemon/state/state_store.hpp"
#include "rules/event.hpp"
#include "tests/daemon/daemon_under_test.hpp"
#include "tests/daemon/e2e_peers.hpp"
#include "tests/harness/child_process.hpp"
#include "tests/harness/kafka_fixture.hpp"
#include "tests/harness/sshd_fixture.hpp"

namespace aiopsd::testing {
namespace {

namespace json = boost::json;

constexpr const char* kCatalog = R"(actions:
  - name: interface-status
    params: {port: {type: string, pattern: '[0-9]+/[0-9]+/[0-9]+'}}
    commands: ["show interface {{ params.port }} status"]
  - name: port-bounce
    params: {port: {type: string, pattern: '[0-9]+/[0-9]+/[0-9]+'}}
    commands: ["interface {{ params.port }} shutdown", "interface {{ params.port }} no shutdown"]
  - name: port-shutdown
    params: {port: {type: string, pattern: '[0-9]+/[0-9]+/[0-9]+'}}
    commands: ["interface {{ params.port }} shutdown"]
    approval: required
  - name: marker
    params: {tag: {type: string, pattern: '[a-z0-9-]{1,40}'}}
    commands: ["show marker {{ params.tag }}"]
  - name: slow-check
    params: {seconds: {type: integer, min: 1, max: 10}}
    commands: ["sleep {{ params.seconds }}"]
)";

const std::vector<KafkaTopic> kTopics = {{"intents", 4}, {"results", 1},   {"dlq", 1},
                                         {"alerts", 1},  {"approvals", 1}, {"escalations", 1}};

std::string kafka_yaml(const std::string& bootstrap, const std::string& state,
                       const std::string& extra = "") {
  return fmt::format(R"(catalog: [catalog.yaml]
kafka:
  brokers: "{}"
  group_id: aiopsd-test
  topics: {{intents: intents, results: results, dead_letter: dlq, alerts: alerts,
           approvals: approvals, escalations: escalations}}
  # The mock broker holds a rejoining group for the old member's session timeout.
  properties: {{session.timeout.ms: "6000"}}
state: {{path: {}}}
{})",
                     bootstrap, state, extra);
}

std::string devices_yaml(const SshdFixture& sshd, int n) {
  std::string out = R"(ssh:
  connect_timeout: 10s
  command_timeout: 60s
  max_sessions: 16
  policy: {allow: ['show .*', 'interface [0-9/]+ (no )?shutdown', 'sleep [0-9]+']}
devices:
)";
  out += sshd.device_yaml("sw1");
  for (int i = 0; i < n; ++i) out += sshd.device_yaml(fmt::format("dev{}", i));
  return out;
}

std::string intent(const std::string& id, const std::string& action, const std::string& device,
                   const std::string& params, const std::string& extra = "") {
  return fmt::format(
      R"({{"intent_id":"{}","action":"{}","target":{{"device":"{}"}},"params":{{{}}},"requested_by":"test"{}}})",
      id, action, device, params, extra);
}

std::string str(const json::object& o, const char* key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}
std::string error_of(const json::object& o, const char* key) {
  const json::value* e = o.if_contains("error");
  return e && e->is_object() ? str(e->as_object(), key) : std::string();
}

// Final results (not `accepted`) by intent id.
std::map<std::string, std::vector<json::object>> finals(const std::vector<Record>& results) {
  std::map<std::string, std::vector<json::object>> out;
  for (const auto& r : results) {
    const std::string status = str(r.value, "status");
    if (status != "accepted" && status != "pending_approval")
      out[str(r.value, "intent_id")].push_back(r.value);
  }
  return out;
}

class IntentEndToEnd : public ::testing::Test {
 protected:
  // Reads `n` results, each `pending_approval`: intent id -> approval id.
  std::map<std::string, std::string> pending_approvals(std::size_t n) {
    std::map<std::string, std::string> out;
    for (const auto& r : consume(kafka_.bootstrap(), "results", n, "intent-result.schema.json")) {
      EXPECT_EQ(str(r.value, "status"), "pending_approval");
      out[str(r.value, "intent_id")] = str(r.value.at("approval").as_object(), "id");
    }
    return out;
  }

  SshdFixture sshd_;
  KafkaFixture kafka_{kTopics};
  TempDir state_dir_;
  std::unique_ptr<DaemonUnderTest> daemon_;

  void start(int devices = 0, const std::string& rules = "rules: []\n",
             const std::string& extra = "") {
    daemon_ = std::make_unique<DaemonUnderTest>(
        devices_yaml(sshd_, devices) +
            kafka_yaml(kafka_.bootstrap(), state_dir_.file("state"), extra),
        rules, daemon::AppOptions{},
        std::map<std::string, std::string>{{"catalog.yaml", kCatalog}});
  }
};

TEST_F(IntentEndToEnd, IntentsRunOnTheDeviceAndAnswerOnKafka) {
  start();
  produce(
      kafka_.bootstrap(), "intents",
      {{"sw1", intent("i-1", "interface-status", "sw1", R"("port":"1/1/3")",
                      R"(,"correlation_id":"INC-1")")},
       {"sw1", intent("i-2", "port-bounce", "sw1", R"("port":"1/1/4")")},
       {"sw1", intent("i-3", "port-bounce", "sw1", R"("port":"1/1/5")", R"(,"dry_run":true)")}});
  // accepted + final for i-1 and i-2; a dry run answers once.
  auto results = consume(kafka_.bootstrap(), "results", 5, "intent-result.schema.json");
  ASSERT_EQ(results.size(), 5u);
  auto by_id = finals(results);
  ASSERT_EQ(by_id["i-1"].size(), 1u);
  const json::object& r1 = by_id["i-1"][0];
  EXPECT_EQ(str(r1, "status"), "succeeded");
  EXPECT_EQ(str(r1, "correlation_id"), "INC-1");
  EXPECT_EQ(str(r1, "requested_by"), "test");
  const auto& cmds = r1.at("commands").as_array();
  ASSERT_EQ(cmds.size(), 1u);
  EXPECT_EQ(str(cmds[0].as_object(), "command"), "show interface 1/1/3 status");
  // ANSI colour codes in the device output never reach the result.
  EXPECT_EQ(str(cmds[0].as_object(), "output"), "Interface 1/1/3 is down, line protocol is down\n");
  EXPECT_EQ(str(by_id["i-2"][0], "status"), "succeeded");
  EXPECT_EQ(str(by_id["i-3"][0], "status"), "succeeded");
  EXPECT_TRUE(by_id["i-3"][0].at("dry_run").as_bool());
  for (const auto& r : results) EXPECT_EQ(r.key, str(r.value, "intent_id"));
  EXPECT_EQ(sshd_.commands_received(),
            (std::vector<std::string>{"show interface 1/1/3 status", "interface 1/1/4 shutdown",
                                      "interface 1/1/4 no shutdown"}));
  ASSERT_TRUE(daemon_->app().wait_idle(std::chrono::seconds(10)));
  std::map<std::string, json::object> audit;
  for (auto& a : daemon_->audit()) audit[str(a, "intent_id")] = a;
  ASSERT_EQ(audit.size(), 3u);
  EXPECT_EQ(str(audit["i-1"], "action"), "intent:interface-status");
  EXPECT_EQ(str(audit["i-1"], "outcome"), "succeeded");
  EXPECT_EQ(str(audit["i-1"], "requested_by"), "test");
  EXPECT_EQ(str(audit["i-3"], "outcome"), "dry_run");
  EXPECT_EQ(daemon_->metric(R"(aiopsd_intents_total{action="port-bounce",status="succeeded"})"), 2);
  EXPECT_EQ(daemon_->metric(R"(aiopsd_kafka_messages_consumed_total{topic="intents"})"), 3);
}

TEST_F(IntentEndToEnd, BadMessagesAreRejectedDeadLetteredAndDoNotBlockTheNext) {
  start();
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"k", "{not json"},
      {"k",
       R"({"intent_id":"b-2","action":"interface-status","target":{"device":"sw1"},"params":{"port":"1/1/3"},"dryrun":true})"},
      {"k", intent("b-3", "reload-everything", "sw1", "")},
      {"k", intent("b-4", "interface-status", "sw-unknown", R"("port":"1/1/3")")},
      {"k", intent("b-5", "interface-status", "sw1", R"("port":"1/1/3; reload")")},
      {"k", intent("b-6", "interface-status", "sw1", R"("port":42)")},
      {"k", intent("b-7", "port-shutdown", "sw1", R"("port":"1/1/3")")},
      {"k", intent("b-8", "interface-status", "sw1", R"("port":"1/1/3")",
                   R"(,"deadline":"2020-01-01T00:00:00Z")")},
      {"k", intent("good", "interface-status", "sw1", R"("port":"1/1/9")")},
  };
  produce(kafka_.bootstrap(), "intents", bad);
  auto results = consume(kafka_.bootstrap(), "results", 10, "intent-result.schema.json");
  auto by_id = finals(results);
  const auto pending = std::count_if(results.begin(), results.end(), [](const Record& r) {
    return str(r.value, "intent_id") == "b-7" && str(r.value, "status") == "pending_approval";
  });
  EXPECT_EQ(pending, 1);
  ASSERT_EQ(by_id[""].size(), 1u);
  EXPECT_EQ(error_of(by_id[""][0], "code"), "invalid_json");
  const std::map<std::string, std::pair<std::string, std::string>> want = {
      {"b-2", {"schema_violation", "dryrun: unknown field"}},
      {"b-3", {"unknown_action", "action: \"reload-everything\" is not in the action catalog"}},
      {"b-4", {"unknown_device", "target.device: \"sw-unknown\" is not in the inventory"}},
      {"b-5",
       {"invalid_params", "params.port: \"1/1/3; reload\" does not match ^[0-9]+/[0-9]+/[0-9]+$"}},
      {"b-6", {"invalid_params", "params.port: expected a string, got 42"}},
  };
  for (const auto& [id, codes] : want) {
    ASSERT_EQ(by_id[id].size(), 1u) << id;
    EXPECT_EQ(str(by_id[id][0], "status"), "rejected") << id;
    EXPECT_EQ(error_of(by_id[id][0], "code"), codes.first) << id;
    EXPECT_EQ(error_of(by_id[id][0], "message"), codes.second) << id;
  }
  // Held, not rejected: nothing ran, and no final result until someone decides.
  EXPECT_TRUE(by_id["b-7"].empty());
  ASSERT_EQ(by_id["b-8"].size(), 1u);
  EXPECT_EQ(str(by_id["b-8"][0], "status"), "expired");
  ASSERT_EQ(by_id["good"].size(), 1u);
  EXPECT_EQ(str(by_id["good"][0], "status"), "succeeded");
  // Only the good intent reached the device.
  EXPECT_EQ(sshd_.commands_received(), std::vector<std::string>{"show interface 1/1/9 status"});
  // The undecodable and invalid ones are in the dead-letter topic, bytes intact.
  auto dlq = consume(kafka_.bootstrap(), "dlq", 6);
  ASSERT_EQ(dlq.size(), 6u);
  std::multiset<std::string> codes;
  for (const auto& d : dlq) {
    codes.insert(d.headers.at("aiopsd.error.code"));
    EXPECT_EQ(d.headers.at("aiopsd.source.topic"), "intents");
    EXPECT_FALSE(d.headers.at("aiopsd.source.offset").empty());
  }
  EXPECT_EQ(codes,
            (std::multiset<std::string>{"invalid_json", "schema_violation", "unknown_action",
                                        "unknown_device", "invalid_params", "invalid_params"}));
  ASSERT_TRUE(daemon_->app().wait_idle(std::chrono::seconds(10)));
  EXPECT_EQ(daemon_->metric(R"(aiopsd_dead_letters_total{reason="invalid_params"})"), 2);
  EXPECT_EQ(daemon_->metric(R"(aiopsd_dead_letters_total{reason="invalid_json"})"), 1);
}

// An action that requires approval is held: approved over Kafka it runs,
// denied over HTTP it is rejected, undecided it expires; the requester cannot
// approve their own request, and a decision for an unknown approval is
// dead-lettered. Nothing runs without an approval.
TEST_F(IntentEndToEnd, ApprovalsOverKafkaAndHttpRunDenyExpireAndRefuseSelfApproval) {
  // Kafka decisions carry no credentials: this deployment trusts typed names.
  start(0, "rules: []\n", "safety: {approval_timeout: 15s, unauthenticated_approvals: true}\n");
  produce(kafka_.bootstrap(), "intents",
          {{"sw1", intent("a-ok", "port-shutdown", "sw1", R"("port":"1/1/1")")},
           {"sw1", intent("a-deny", "port-shutdown", "sw1", R"("port":"1/1/2")")},
           {"sw1", intent("a-self", "port-shutdown", "sw1", R"("port":"1/1/3")")}});
  auto approval_of = pending_approvals(3);
  ASSERT_EQ(approval_of.size(), 3u);
  EXPECT_TRUE(sshd_.commands_received().empty());

  HttpClient http(daemon_->port());
  auto self = http.request(boost::beast::http::verb::post,
                           "/api/v1/approvals/" + approval_of["a-self"] + "/approve",
                           R"({"approver":"test"})");
  EXPECT_EQ(self.status, 403u) << self.body;
  EXPECT_NE(self.body.find("self_approval"), std::string::npos);
  auto deny = http.request(boost::beast::http::verb::post,
                           "/api/v1/approvals/" + approval_of["a-deny"] + "/deny",
                           R"({"approver":"carol","comment":"not in business hours"})");
  EXPECT_EQ(deny.status, 200u) << deny.body;
  auto listed = http.request(boost::beast::http::verb::get, "/api/v1/approvals?status=pending");
  ASSERT_EQ(listed.status, 200u);
  EXPECT_EQ(json::parse(listed.body).at("approvals").as_array().size(), 2u);
  produce(kafka_.bootstrap(), "approvals",
          {{approval_of["a-ok"], fmt::format(R"({{"approval_id":"{}","decision":"approve",)"
                                             R"("approver":"bob","comment":"CHG-42"}})",
                                             approval_of["a-ok"])},
           {"x", R"({"approval_id":"apr-0000000000000000","decision":"approve","approver":"bob"})"},
           {"y", R"({"approval_id":"x","decision":"maybe","approver":"bob"})"}});

  // 3 pending, then: a-ok accepted + succeeded, a-deny rejected, a-self expired.
  auto results = consume(kafka_.bootstrap(), "results", 7, "intent-result.schema.json", 90);
  auto by_id = finals(results);
  ASSERT_EQ(by_id["a-ok"].size(), 1u);
  EXPECT_EQ(str(by_id["a-ok"][0], "status"), "succeeded");
  ASSERT_EQ(by_id["a-deny"].size(), 1u);
  EXPECT_EQ(str(by_id["a-deny"][0], "status"), "rejected");
  EXPECT_EQ(error_of(by_id["a-deny"][0], "code"), "approval_denied");
  EXPECT_NE(error_of(by_id["a-deny"][0], "message").find("carol"), std::string::npos);
  ASSERT_EQ(by_id["a-self"].size(), 1u);
  EXPECT_EQ(str(by_id["a-self"][0], "status"), "expired");
  EXPECT_EQ(error_of(by_id["a-self"][0], "code"), "approval_expired");
  EXPECT_EQ(sshd_.commands_received(), std::vector<std::string>{"interface 1/1/1 shutdown"});

  auto dlq = consume(kafka_.bootstrap(), "dlq", 2);
  std::multiset<std::string> codes;
  for (const auto& d : dlq) codes.insert(d.headers.at("aiopsd.error.code"));
  EXPECT_EQ(codes, (std::multiset<std::string>{"not_found", "schema_violation"}));
  // Each pending approval and each decision was announced.
  auto escalations = consume(kafka_.bootstrap(), "escalations", 6, "escalation.schema.json");
  std::multiset<std::string> kinds;
  for (const auto& e : escalations) kinds.insert(str(e.value, "kind"));
  EXPECT_EQ(kinds.count("approval_pending"), 3u);
  EXPECT_EQ(kinds.count("approval_decided"), 3u);
  EXPECT_EQ(daemon_->metric(R"(aiopsd_approvals_total{outcome="approved"})"), 1);
  EXPECT_EQ(daemon_->metric(R"(aiopsd_approvals_total{outcome="denied"})"), 1);
  EXPECT_EQ(daemon_->metric(R"(aiopsd_approvals_total{outcome="expired"})"), 1);
  EXPECT_EQ(daemon_->metric("aiopsd_approvals_pending"), 0);
  // A redelivered held intent is not held twice, nor run.
  produce(kafka_.bootstrap(), "intents",
          {{"sw1", intent("a-deny", "port-shutdown", "sw1", R"("port":"1/1/2")")}});
  ASSERT_TRUE(daemon_->app().wait_idle(std::chrono::seconds(10)));
  std::this_thread::sleep_for(std::chrono::seconds(2));
  EXPECT_EQ(sshd_.commands_received().size(), 1u);
  auto all = http.request(boost::beast::http::verb::get, "/api/v1/approvals");
  EXPECT_EQ(json::parse(all.body).at("approvals").as_array().size(), 3u);
}

TEST_F(IntentEndToEnd, ARedeliveredIntentRunsOnceAndGetsItsStoredResultAgain) {
  start();
  const std::string once = intent("dup-1", "interface-status", "sw1", R"("port":"1/1/7")");
  produce(kafka_.bootstrap(), "intents", {{"sw1", once}});
  ASSERT_EQ(consume(kafka_.bootstrap(), "results", 2).size(), 2u);
  produce(kafka_.bootstrap(), "intents", {{"sw1", once}});
  auto results = consume(kafka_.bootstrap(), "results", 3, "intent-result.schema.json");
  auto by_id = finals(results);
  ASSERT_EQ(by_id["dup-1"].size(), 2u);
  EXPECT_EQ(json::serialize(by_id["dup-1"][0]), json::serialize(by_id["dup-1"][1]));
  EXPECT_EQ(sshd_.commands_received(), std::vector<std::string>{"show interface 1/1/7 status"});
}

// An intent queued behind a slow one on the same device expires if its
// deadline passes before its turn: nothing is sent for it.
TEST_F(IntentEndToEnd, ADeadlinePassingWhileQueuedExpiresTheIntent) {
  start();
  produce(kafka_.bootstrap(), "intents",
          {{"sw1", intent("slow", "slow-check", "sw1", R"("seconds":8)")}});
  ASSERT_TRUE(
      eventually([&] { return sshd_.commands_received().size() == 1; }, std::chrono::seconds(30)));
  const auto deadline = std::chrono::system_clock::now() + std::chrono::seconds(3);
  produce(kafka_.bootstrap(), "intents",
          {{"sw1", intent("late", "interface-status", "sw1", R"("port":"1/1/2")",
                          fmt::format(R"(,"deadline":"{}")", rules::format_rfc3339(deadline)))}});
  // slow: accepted, succeeded; late: accepted (in time), then expired in the queue.
  auto results = consume(kafka_.bootstrap(), "results", 4, "intent-result.schema.json");
  auto by_id = finals(results);
  ASSERT_EQ(by_id["late"].size(), 1u);
  EXPECT_EQ(str(by_id["late"][0], "status"), "expired");
  EXPECT_EQ(error_of(by_id["late"][0], "code"), "deadline_exceeded");
  EXPECT_EQ(str(by_id["slow"][0], "status"), "succeeded");
  EXPECT_EQ(results.size(), 4u);
  EXPECT_EQ(sshd_.commands_received(), std::vector<std::string>{"sleep 8"});
}

// A consumer that starts from the earliest offset (a new group, or a daemon
// down for a day) must not replay stale requests; and a dead letter too big
// for the producer is cut, with a marker, instead of being retried forever.
TEST_F(IntentEndToEnd, StaleIntentsExpireAndHugeDeadLettersAreTruncated) {
  start();
  const auto two_hours_ago =
      std::chrono::duration_cast<std::chrono::milliseconds>(
          (std::chrono::system_clock::now() - std::chrono::hours(2)).time_since_epoch())
          .count();
  produce(kafka_.bootstrap(), "intents",
          {{"sw1", intent("stale", "port-bounce", "sw1", R"("port":"1/1/1")")}}, two_hours_ago);
  produce(kafka_.bootstrap(), "intents",
          {{"sw1", "{" + std::string(300 * 1024, 'x')},
           {"sw1", intent("fresh", "interface-status", "sw1", R"("port":"1/1/2")")}});
  auto by_id = finals(consume(kafka_.bootstrap(), "results", 4));
  ASSERT_EQ(by_id["stale"].size(), 1u);
  EXPECT_EQ(str(by_id["stale"][0], "status"), "expired");
  EXPECT_EQ(error_of(by_id["stale"][0], "code"), "too_old");
  ASSERT_EQ(by_id["fresh"].size(), 1u);
  EXPECT_EQ(str(by_id["fresh"][0], "status"), "succeeded");
  auto dlq = consume(kafka_.bootstrap(), "dlq", 1);
  ASSERT_EQ(dlq.size(), 1u);
  EXPECT_EQ(dlq[0].headers.at("aiopsd.error.code"), "invalid_json");
  EXPECT_EQ(dlq[0].headers.at("aiopsd.truncated"), std::to_string(300 * 1024 + 1));
  EXPECT_EQ(dlq[0].value_bytes, 256u * 1024);
  ASSERT_TRUE(daemon_->app().wait_idle(std::chrono::seconds(10)));
  EXPECT_EQ(sshd_.commands_received(), std::vector<std::string>{"show interface 1/1/2 status"});
}

// An intent recorded as started whose final record was never written (the
// store refused it, or the restart report did) may have reached the device:
// a redelivery does not run it again, it is reported interrupted.
TEST_F(IntentEndToEnd, AStartedIntentWithoutAFinalRecordIsNotRunAgain) {
  start();
  ASSERT_TRUE(daemon_->app().state_store()->record_started("half-done"));
  produce(kafka_.bootstrap(), "intents",
          {{"sw1", intent("half-done", "port-bounce", "sw1", R"("port":"1/1/1")")},
           {"sw1", intent("next", "interface-status", "sw1", R"("port":"1/1/2")")}});
  auto by_id = finals(consume(kafka_.bootstrap(), "results", 3, "intent-result.schema.json"));
  ASSERT_EQ(by_id["half-done"].size(), 1u);
  EXPECT_EQ(str(by_id["half-done"][0], "status"), "interrupted");
  EXPECT_EQ(error_of(by_id["half-done"][0], "code"), "interrupted");
  ASSERT_TRUE(daemon_->app().wait_idle(std::chrono::seconds(10)));
  EXPECT_EQ(sshd_.commands_received(), std::vector<std::string>{"show interface 1/1/2 status"});
  // Its final record is now written: a later redelivery gets the same answer from the store.
  ASSERT_TRUE(daemon_->app().state_store()->find("half-done")->finished);
}

// An approval does not lift the intent's other conditions: approved after its
// deadline it expires; approved after the operator switched dry-run on, it
// runs dry. Nothing reaches the device in either case.
// By default a decision names no verified approver unless authentication
// says who it is: one on the approvals topic (no credentials) is dead-lettered
// and one over HTTP without a token is refused; the approval stays pending and
// nothing runs.
TEST_F(IntentEndToEnd, DecisionsWithoutAVerifiedApproverAreRefusedByDefault) {
  start();
  produce(kafka_.bootstrap(), "intents",
          {{"sw1", intent("held", "port-shutdown", "sw1", R"("port":"1/1/1")")}});
  auto approval_of = pending_approvals(1);
  ASSERT_EQ(approval_of.size(), 1u);
  const std::string id = approval_of["held"];
  produce(
      kafka_.bootstrap(), "approvals",
      {{id, fmt::format(R"({{"approval_id":"{}","decision":"approve","approver":"bob"}})", id)}});
  auto dlq = consume(kafka_.bootstrap(), "dlq", 1);
  ASSERT_EQ(dlq.size(), 1u);
  EXPECT_EQ(dlq[0].headers.at("aiopsd.error.code"), "unauthenticated_approver");
  HttpClient http(daemon_->port());
  auto r = http.post("/api/v1/approvals/" + id + "/approve", R"({"approver":"bob"})");
  EXPECT_EQ(r.status, 403u) << r.body;
  EXPECT_NE(r.body.find("unauthenticated_approver"), std::string::npos) << r.body;
  auto still =
      json::parse(http.request(boost::beast::http::verb::get, "/api/v1/approvals/" + id).body);
  EXPECT_EQ(still.at("status").as_string(), "pending");
  EXPECT_EQ(daemon_->metric(R"(aiopsd_approvals_total{outcome="approved"})"), -1);
  EXPECT_TRUE(sshd_.commands_received().empty());
}

TEST_F(IntentEndToEnd, AnApprovedIntentStillHonoursItsDeadlineAndTheDryRunSwitch) {
  start(0, "rules: []\n", "safety: {unauthenticated_approvals: true}\n");
  // Long enough for the consumer group to form and the intent to be held first.
  const auto deadline = std::chrono::system_clock::now() + std::chrono::seconds(15);
  produce(kafka_.bootstrap(), "intents",
          {{"sw1", intent("late", "port-shutdown", "sw1", R"("port":"1/1/1")",
                          fmt::format(R"(,"deadline":"{}")", rules::format_rfc3339(deadline)))},
           {"sw1", intent("dry", "port-shutdown", "sw1", R"("port":"1/1/2")")}});
  auto approval_of = pending_approvals(2);
  ASSERT_EQ(approval_of.size(), 2u);
  // The operator turns dry-run on while both wait; the deadline passes.
  {
    std::ifstream in(daemon_->dir().file("aiopsd.yaml"));
    std::string text((std::istreambuf_iterator<char>(in)), {});
    daemon_->dir().write("aiopsd.yaml", text + "engine: {dry_run: true}\n");
  }
  ASSERT_EQ(daemon_->app().reload(), "");
  std::this_thread::sleep_for(deadline - std::chrono::system_clock::now() +
                              std::chrono::seconds(1));
  HttpClient http(daemon_->port());
  for (const char* id : {"late", "dry"}) {
    auto r =
        http.post("/api/v1/approvals/" + approval_of[id] + "/approve", R"({"approver":"bob"})");
    EXPECT_EQ(r.status, 200u) << r.body;
  }
  auto by_id = finals(consume(kafka_.bootstrap(), "results", 4, "intent-result.schema.json"));
  ASSERT_EQ(by_id["late"].size(), 1u);
  EXPECT_EQ(str(by_id["late"][0], "status"), "expired");
  EXPECT_EQ(error_of(by_id["late"][0], "code"), "deadline_exceeded");
  ASSERT_EQ(by_id["dry"].size(), 1u);
  EXPECT_EQ(str(by_id["dry"][0], "status"), "succeeded");
  EXPECT_TRUE(by_id["dry"][0].at("dry_run").as_bool());
  ASSERT_TRUE(daemon_->app().wait_idle(std::chrono::seconds(10)));
  EXPECT_TRUE(sshd_.commands_received().empty());
}

// Alertmanager webhook payloads on the alerts topic go through the same
// decoder and rules as HTTP; a rule's `run:` reaches the catalog action with
// values from the labels, still checked against the parameter types.
TEST_F(IntentEndToEnd, AlertsFromKafkaRunCatalogActionsThroughTheSameGuards) {
  start(0, R"(rules:
  - name: bounce-from-kafka
    match: {alertname: InterfaceDown}
    sources: [kafka]
    group_by: [device, interface]
    actions:
      - run: {action: port-bounce, device: "{{ labels.device }}", params: {port: "{{ labels.interface }}"}}
)");
  auto payload = [](const std::string& iface) {
    return fmt::format(
        R"({{"version":"4","status":"firing","receiver":"aiopsd","groupKey":"g","truncatedAlerts":0,"groupLabels":{{}},"commonLabels":{{}},"commonAnnotations":{{}},"externalURL":"http://am","alerts":[{{"status":"firing","labels":{{"alertname":"InterfaceDown","device":"sw1","interface":"{}"}},"annotations":{{}},"startsAt":"2026-11-24T10:00:00Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"","fingerprint":"{}"}}]}})",
        iface, iface == "1/1/3" ? "00000000000000a1" : "00000000000000a2");
  };
  produce(kafka_.bootstrap(), "alerts",
          {{"a", payload("1/1/3")},
           {"b", payload("1/1/4; reload")},
           {"c", R"({"version":"4","alerts":[{"labels":{"alertname":1}}]})"}});
  ASSERT_TRUE(eventually([&] { return daemon_->audit().size() >= 2; }, std::chrono::seconds(30)));
  ASSERT_TRUE(daemon_->app().wait_idle(std::chrono::seconds(10)));
  std::map<std::string, json::object> by_outcome;
  for (auto& a : daemon_->audit()) by_outcome[str(a, "outcome")] = a;
  EXPECT_EQ(str(by_outcome["succeeded"], "action"), "run:port-bounce");
  EXPECT_EQ(str(by_outcome["failed"], "error_code"), "policy_violation");
  EXPECT_EQ(str(by_outcome["failed"], "error_message"),
            "params.port: \"1/1/4; reload\" does not match ^[0-9]+/[0-9]+/[0-9]+$");
  EXPECT_EQ(sshd_.commands_received(),
            (std::vector<std::string>{"interface 1/1/3 shutdown", "interface 1/1/3 no shutdown"}));
  EXPECT_EQ(daemon_->metric(R"(aiopsd_events_received_total{connector="kafka"})"), 2);
  auto dlq = consume(kafka_.bootstrap(), "dlq", 1);
  ASSERT_EQ(dlq.size(), 1u);
  EXPECT_EQ(dlq[0].headers.at("aiopsd.source.topic"), "alerts");
}

// Many intents over many devices while the broker goes down and comes back:
// every intent gets a final result, every command reaches its device exactly
// once, and each device sees its intents in the order they were produced.
TEST_F(IntentEndToEnd, ManyIntentsAcrossDevicesSurviveABrokerOutage) {
  const int devices = 50;
  const char* env = std::getenv("AIOPSD_INTENT_LOAD");
  const int total = env ? std::atoi(env) : 600;
  start(devices);
  std::vector<std::pair<std::string, std::string>> first, second;
  for (int i = 0; i < total; ++i) {
    const std::string dev = fmt::format("dev{}", i % devices);
    const std::string tag = fmt::format("{}-{}", dev, i / devices);
    auto& batch = i < total / 2 ? first : second;
    batch.emplace_back(
        dev, intent(fmt::format("load-{}", i), "marker", dev, fmt::format(R"("tag":"{}")", tag)));
  }
  produce(kafka_.bootstrap(), "intents", first);
  kafka_.down(1);
  std::this_thread::sleep_for(std::chrono::seconds(3));
  kafka_.up(1);
  produce(kafka_.bootstrap(), "intents", second);
  auto results = consume(kafka_.bootstrap(), "results", static_cast<std::size_t>(2 * total), "",
                         std::max(300, total / 4));  // cold SSH sessions: ~0.1 s of CPU each
  auto by_id = finals(results);
  EXPECT_EQ(by_id.size(), static_cast<std::size_t>(total));
  for (const auto& [id, rs] : by_id) {
    for (const auto& r : rs)
      EXPECT_EQ(str(r, "status"), "succeeded") << id << ": " << json::serialize(r);
  }
  // Exactly once on the devices, in order per device.
  std::map<std::string, int> seen;
  std::map<std::string, int> last_seq;
  for (const std::string& c : sshd_.commands_received()) {
    ASSERT_EQ(c.rfind("show marker dev", 0), 0u) << c;
    const std::string tag = c.substr(12);
    ++seen[tag];
    const auto dash = tag.rfind('-');
    const std::string dev = tag.substr(0, dash);
    const int seq = std::stoi(tag.substr(dash + 1));
    auto it = last_seq.find(dev);
    EXPECT_TRUE(it == last_seq.end() || it->second < seq) << "out of order on " << dev;
    last_seq[dev] = seq;
  }
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(total));
  for (const auto& [tag, n] : seen) EXPECT_EQ(n, 1) << tag;
}

// The daemon killed with SIGKILL while an intent runs, then restarted: the
// running intent is reported `interrupted` and never re-run, the others are
// neither lost nor run twice, and redeliveries get the stored results again.
TEST(IntentRestart, SigkillMidStreamLosesNothingAndRunsNothingTwice) {
  SshdFixture sshd;
  KafkaFixture kafka{kTopics};
  TempDir dir;
  const std::uint16_t port = free_loopback_port();
  dir.write("catalog.yaml", kCatalog);
  dir.write("rules.yaml", "rules: []\n");
  const std::string config =
      dir.write("aiopsd.yaml",
                fmt::format("server: {{listen: \"127.0.0.1:{}\"}}\naudit: {{path: audit.log}}\n"
                            "rules: [rules.yaml]\n",
                            port) +
                    devices_yaml(sshd, 0) + sshd.device_yaml("sw2") +
                    kafka_yaml(kafka.bootstrap(), dir.file("state")));
  int runs = 0;
  auto start = [&] {
    auto p = std::make_unique<ChildProcess>(
        std::vector<std::string>{AIOPSD_BINARY, "run", "--config", config},
        dir.file(fmt::format("aiopsd-{}.log", runs++)));
    EXPECT_TRUE(wait_for_port(port, std::chrono::seconds(30))) << p->log();
    return p;
  };
  auto daemon = start();
  std::vector<std::pair<std::string, std::string>> intents{
      {"sw1", intent("slow-1", "slow-check", "sw1", R"("seconds":5)")}};
  for (int i = 0; i < 10; ++i) {
    intents.emplace_back(
        "sw2", intent(fmt::format("q-{}", i), "marker", "sw2", fmt::format(R"("tag":"q-{}")", i)));
  }
  produce(kafka.bootstrap(), "intents", intents);
  auto received = [&](const std::string& cmd) {
    auto all = sshd.commands_received();
    return std::count(all.begin(), all.end(), cmd);
  };
  ASSERT_TRUE(eventually([&] { return received("sleep 5") == 1; }, std::chrono::seconds(60)))
      << daemon->log();
  ::kill(daemon->pid(), SIGKILL);
  daemon->wait_exit(std::chrono::seconds(10));
  daemon = start();

  std::map<std::string, std::vector<json::object>> by_id;
  ASSERT_TRUE(eventually(
      [&] {
        by_id = finals(consume(kafka.bootstrap(), "results", 1000, "", 3));
        if (by_id["slow-1"].empty()) return false;
        for (int i = 0; i < 10; ++i)
          if (by_id[fmt::format("q-{}", i)].empty()) return false;
        return true;
      },
      std::chrono::seconds(120)))
      << daemon->log();
  for (const auto& r : by_id["slow-1"]) {
    EXPECT_EQ(str(r, "status"), "interrupted");
    EXPECT_EQ(error_of(r, "code"), "interrupted");
    // What the intent was survives the crash, so a human knows what to check.
    EXPECT_EQ(str(r, "device"), "sw1");
    EXPECT_EQ(str(r, "action"), "slow-check");
    EXPECT_FALSE(str(r, "started_at").empty());
  }
  // sw2's intents run one at a time: at most one was in flight at the kill,
  // and only that one may be `interrupted` (its command may have reached the device).
  int interrupted = 0;
  for (int i = 0; i < 10; ++i) {
    const auto& rs = by_id[fmt::format("q-{}", i)];
    const std::string status = str(rs.front(), "status");
    for (const auto& r : rs) {
      EXPECT_EQ(json::serialize(r), json::serialize(rs.front())) << "a redelivery re-ran";
    }
    const auto n = received(fmt::format("show marker q-{}", i));
    if (status == "interrupted") {
      ++interrupted;
      EXPECT_LE(n, 1) << i;
    } else {
      EXPECT_EQ(status, "succeeded") << i;
      EXPECT_EQ(n, 1) << i;
    }
  }
  EXPECT_LE(interrupted, 1);
  // Give a wrongful re-run every chance to show, then check once more.
  std::this_thread::sleep_for(std::chrono::seconds(2));
  EXPECT_EQ(received("sleep 5"), 1);
}

}  // namespace
}  // namespace aiopsd::testing
