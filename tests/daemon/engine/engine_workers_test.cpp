// The daemon with two engine workers: alerts of one group meet in one worker
// whatever the order and batching they arrive in, both workers carry state,
// and a reload that would split a group across workers is refused.

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>

#include "tests/daemon/daemon_under_test.hpp"

namespace aiopsd::testing {
namespace {

constexpr const char* kRules = R"(rules:
  - name: link-and-bgp
    all_of:
      - match: {alertname: LinkDown}
      - match: {alertname: BGPSessionDown}
    group_by: [device]
    window: 10m
    actions: [{log: {message: "{{ group.device }}"}}]
  - name: port-flaps
    match: {alertname: PortFlap}
    group_by: [device, interface]
    count: 3
    window: 10m
    actions: [{log: {message: "{{ group.device }} {{ group.interface }}"}}]
)";

TEST(EngineWorkers, GroupsMeetInOneWorkerWhateverTheArrivalOrder) {
  DaemonUnderTest daemon("engine: {workers: 2}\n", kRules);
  std::vector<std::string> alerts;
  constexpr int kDevices = 300;
  for (int d = 0; d < kDevices; ++d) {
    alerts.push_back(fmt::format(R"({{"labels":{{"alertname":"LinkDown","device":"sw{}"}}}})", d));
    alerts.push_back(
        fmt::format(R"({{"labels":{{"alertname":"BGPSessionDown","device":"sw{}"}}}})", d));
    for (int f = 0; f < 3; ++f) {
      alerts.push_back(fmt::format(
          R"({{"labels":{{"alertname":"PortFlap","device":"sw{}","interface":"e1","n":"{}"}}}})", d,
          f));
    }
  }
  std::mt19937 rng(7);
  std::shuffle(alerts.begin(), alerts.end(), rng);
  HttpClient http(daemon.port());
  for (std::size_t i = 0; i < alerts.size(); i += 37) {
    std::string body = "[";
    for (std::size_t j = i; j < std::min(alerts.size(), i + 37); ++j) {
      body += (j == i ? "" : ",") + alerts[j];
    }
    ASSERT_EQ(http.post("/api/v2/alerts", body + "]").status, 200u);
  }
  ASSERT_TRUE(daemon.app().wait_idle(std::chrono::seconds(30)));
  std::map<std::string, std::set<std::string>> groups;
  for (const auto& r : daemon.audit()) {
    groups[std::string(r.at("rule").as_string())].insert(
        std::string(r.at("group_key").as_string()));
  }
  EXPECT_EQ(groups["link-and-bgp"].size(), static_cast<std::size_t>(kDevices));
  EXPECT_EQ(groups["port-flaps"].size(), static_cast<std::size_t>(kDevices));
  EXPECT_EQ(daemon.audit().size(), 2u * kDevices);  // each incident once
  // Both workers hold a share of the groups (sampled every tick).
  ASSERT_TRUE(eventually([&] {
    return daemon.metric(R"(aiopsd_correlation_groups{rule="link-and-bgp",worker="0"})") +
               daemon.metric(R"(aiopsd_correlation_groups{rule="link-and-bgp",worker="1"})") ==
           kDevices;
  }));
  EXPECT_GT(daemon.metric(R"(aiopsd_correlation_groups{rule="link-and-bgp",worker="0"})"), 50);
  EXPECT_GT(daemon.metric(R"(aiopsd_correlation_groups{rule="link-and-bgp",worker="1"})"), 50);

  // A rule grouping by another label would split its groups over the workers.
  daemon.dir().write("rules.yaml", std::string(kRules) + R"(  - name: by-instance
    match: {alertname: Down}
    group_by: [instance]
    throttle: {once_within: 1h}
    actions: [{log: {message: m}}]
)");
  auto r = http.post("/-/reload", "");
  EXPECT_EQ(r.status, 400u);
  EXPECT_NE(r.body.find("rule by-instance does not group by [device]"), std::string::npos)
      << r.body;
  EXPECT_EQ(daemon.metric("aiopsd_config_last_reload_successful"), 0);
}

}  // namespace
}  // namespace aiopsd::testing
