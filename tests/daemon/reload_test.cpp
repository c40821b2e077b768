// Live reload (POST /-/reload; SIGHUP calls the same App::reload) during a
// stream of alerts: a valid config takes effect with nothing lost and the
// state of unchanged rules kept; an invalid one is rejected and changes nothing.

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "tests/daemon/daemon_under_test.hpp"

namespace aiopsd::testing {
namespace {

constexpr const char* kRulesBefore = R"(rules:
  - name: note
    match: {alertname: Note}
    group_by: [id]
    throttle: {once_within: 1h}
    actions: [{log: {message: "noted {{ labels.id }}"}}]
)";

constexpr const char* kRulesAfter = R"(rules:
  - name: added
    match: {alertname: Added}
    actions: [{log: {message: "added"}}]
  - name: note
    match: {alertname: Note}
    group_by: [id]
    throttle: {once_within: 1h}
    actions: [{log: {message: "noted {{ labels.id }}"}}]
)";

std::string note(const std::string& id, const std::string& extra = "") {
  return fmt::format(
      R"({{"labels":{{"alertname":"Note","id":"{}"{}}},"endsAt":"2099-01-01T00:00:00Z"}})", id,
      extra);
}

std::size_t audited(DaemonUnderTest& d, const std::string& rule) {
  std::size_t n = 0;
  for (const auto& r : d.audit()) n += r.at("rule").as_string() == rule ? 1 : 0;
  return n;
}

TEST(Reload, UnderAStreamOfAlertsLosesNothingAndKeepsUnchangedRulesState) {
  DaemonUnderTest daemon("", kRulesBefore);
  HttpClient http(daemon.port());
  // A throttled group before the reload.
  ASSERT_EQ(http.post("/api/v2/alerts", "[" + note("held-1") + "]").status, 200u);
  ASSERT_TRUE(daemon.app().wait_idle(std::chrono::seconds(10)));
  EXPECT_EQ(audited(daemon, "note"), 1u);

  constexpr int kBatches = 40;
  constexpr int kPerBatch = 50;
  std::atomic<bool> sender_ok{true};
  std::thread sender([&] {
    HttpClient c(daemon.port());
    for (int b = 0; b < kBatches; ++b) {
      std::string body = "[";
      for (int i = 0; i < kPerBatch; ++i) {
        if (i) body += ',';
        body += note(fmt::format("s-{}-{}", b, i));
      }
      body += ']';
      if (c.post("/api/v2/alerts", body).status != 200) sender_ok = false;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  });
  // Invalid, valid, invalid again, while the stream runs.
  daemon.dir().write("rules.yaml", "rules:\n  - name: broken\n    match: {alertname: [x\n");
  auto bad = http.post("/-/reload", "");
  EXPECT_EQ(bad.status, 400u);
  EXPECT_NE(bad.body.find("rules.yaml:"), std::string::npos) << bad.body;
  EXPECT_EQ(daemon.metric("aiopsd_config_last_reload_successful"), 0);
  daemon.dir().write("rules.yaml", kRulesAfter);
  auto good = http.post("/-/reload", "");
  EXPECT_EQ(good.status, 200u) << good.body;
  EXPECT_EQ(daemon.metric("aiopsd_config_last_reload_successful"), 1);
  daemon.dir().write("rules.yaml", std::string(kRulesAfter) + "  - name: note\n");
  EXPECT_EQ(http.post("/-/reload", "").status, 400u);  // duplicate rule name
  sender.join();
  ASSERT_TRUE(sender_ok);
  ASSERT_TRUE(daemon.app().wait_idle(std::chrono::seconds(60)));

  // Every streamed alert was received and acted on exactly once.
  EXPECT_EQ(daemon.metric(R"(aiopsd_events_received_total{connector="alertmanager_v2"})"),
            1 + kBatches * kPerBatch);
  EXPECT_EQ(audited(daemon, "note"), 1u + kBatches * kPerBatch);
  // The throttle of the unchanged rule survived: a new alert in its group is held back.
  ASSERT_EQ(http.post("/api/v2/alerts", "[" + note("held-1", R"(,"x":"2")") + "]").status, 200u);
  // The added rule is live (it came after the invalid reload, which changed nothing).
  ASSERT_EQ(http.post("/api/v2/alerts",
                      R"([{"labels":{"alertname":"Added"},"endsAt":"2099-01-01T00:00:00Z"}])")
                .status,
            200u);
  ASSERT_TRUE(daemon.app().wait_idle(std::chrono::seconds(10)));
  EXPECT_EQ(audited(daemon, "note"), 1u + kBatches * kPerBatch);
  EXPECT_EQ(audited(daemon, "added"), 1u);
  EXPECT_EQ(daemon.metric(R"(aiopsd_rule_throttled_total{rule="note"})"), 1);
}

TEST(Reload, OnlyPostReloads) {
  DaemonUnderTest daemon("", kRulesBefore);
  HttpClient http(daemon.port());
  EXPECT_EQ(http.get("/-/reload").status, 405u);
  EXPECT_EQ(http.post("/-/reload", "").status, 200u);
  EXPECT_EQ(daemon.metric("aiopsd_config_last_reload_successful"), 1);
}

}  // namespace
}  // namespace aiopsd::testing
