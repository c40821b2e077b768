// Silences: the Alertmanager v2 document checked field by field, matching
// with Alertmanager semantics, persistence, and muting alerts end to end.

#include "daemon/engine/silences.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "tests/daemon/daemon_under_test.hpp"

namespace aiopsd::daemon {
namespace {

using namespace std::chrono_literals;
using aiopsd::testing::TempDir;
using Clock = std::chrono::system_clock;

std::string doc(const std::string& matchers, const std::string& starts = "2020-01-01T00:00:00Z",
                const std::string& ends = "2099-01-01T00:00:00Z") {
  return fmt::format(
      R"({{"matchers":{},"startsAt":"{}","endsAt":"{}","createdBy":"alice","comment":"maintenance"}})",
      matchers, starts, ends);
}

rules::Event event(rules::Interner& in, const std::map<std::string, std::string>& labels) {
  rules::Event e;
  for (const auto& [k, v] : labels) e.labels.push_back({in.intern(k), in.intern(v)});
  rules::normalize_labels(e.labels);
  return e;
}

std::string parse_error(Silences& s, const std::string& text) {
  auto r = s.parse(text, Clock::now());
  return std::holds_alternative<std::string>(r) ? std::get<std::string>(r) : "";
}

TEST(Silences, DocumentsAreCheckedFieldByField) {
  rules::Interner in;
  prometheus::Registry registry;
  EngineMetrics m{registry};
  Silences s(nullptr, in, m);
  EXPECT_EQ(parse_error(s, "{"), "body: not valid JSON");
  EXPECT_EQ(parse_error(s, doc("[]")), "matchers: required, a non-empty array");
  EXPECT_EQ(parse_error(s, doc(R"([{"name":"a","value":"b","isRegex":"no"}])")),
            "matchers[0].isRegex: expected true or false");
  EXPECT_EQ(parse_error(s, doc(R"([{"name":"a","value":"(","isRegex":true}])")).substr(0, 34),
            "matchers[0].value: invalid regex: ");
  EXPECT_EQ(parse_error(s, doc(R"([{"name":"a b","value":"x"}])")),
            "matchers[0].name: required, a label name");
  EXPECT_EQ(parse_error(s, doc(R"([{"name":"a","value":".*","isRegex":true}])")),
            "matchers: would match every alert (and no labels)");
  EXPECT_EQ(parse_error(s, doc(R"([{"name":"a","value":"b"}])", "2020-01-01T00:00:00Z",
                               "2020-01-02T00:00:00Z")),
            "endsAt: is in the past");
  EXPECT_EQ(parse_error(s, doc(R"([{"name":"a","value":"b"}])", "tomorrow")),
            "startsAt: \"tomorrow\" is not an RFC 3339 time");
  EXPECT_EQ(parse_error(s, R"({"matchers":[{"name":"a","value":"b"}],"x":1})"), "x: unknown field");
  EXPECT_EQ(parse_error(s, doc(R"([{"name":"a","value":"b"}])")), "");
}

TEST(Silences, MatchLikeAlertmanagerAndOnlyWhileActive) {
  rules::Interner in;
  prometheus::Registry registry;
  EngineMetrics m{registry};
  Silences s(nullptr, in, m);
  const auto now = Clock::now();
  auto add = [&](const std::string& matchers) {
    auto parsed = s.parse(doc(matchers), now);
    ASSERT_TRUE(std::holds_alternative<Silence>(parsed)) << std::get<std::string>(parsed);
    ASSERT_TRUE(s.add(std::get<Silence>(parsed), now));
  };
  add(R"([{"name":"site","value":"lab"},{"name":"severity","value":"crit.*","isRegex":true},
          {"name":"team","value":"core","isEqual":false}])");
  auto muted = [&](const std::map<std::string, std::string>& labels) {
    return s.snapshot()->matches(event(in, labels), now);
  };
  EXPECT_TRUE(muted({{"site", "lab"}, {"severity", "critical"}}));  // team absent: != core
  EXPECT_FALSE(muted({{"site", "lab"}, {"severity", "critical"}, {"team", "core"}}));
  EXPECT_FALSE(muted({{"site", "lab"}, {"severity", "warning"}}));
  EXPECT_FALSE(muted({{"site", "par"}, {"severity", "critical"}}));
  EXPECT_FALSE(muted({{"severity", "critical"}}));  // site absent is "", not "lab"
  const std::string id = s.list().front().id;
  EXPECT_TRUE(s.expire(id, now));
  EXPECT_FALSE(s.expire(id, now));
  EXPECT_FALSE(s.snapshot()->matches(event(in, {{"site", "lab"}, {"severity", "critical"}}), now));
  EXPECT_EQ(s.find(id)->state(now), Silence::State::kExpired);
}

TEST(Silences, SurviveARestart) {
  TempDir dir;
  rules::Interner in;
  prometheus::Registry registry;
  EngineMetrics m{registry};
  std::string id;
  {
    StateStore store({dir.file("state")});
    Silences s(&store, in, m);
    auto added =
        s.add(std::get<Silence>(s.parse(doc(R"([{"name":"a","value":"b"}])"), Clock::now())),
              Clock::now());
    ASSERT_TRUE(added);
    id = added->id;
  }
  StateStore store({dir.file("state")});
  Silences s(&store, in, m);
  ASSERT_TRUE(s.find(id));
  EXPECT_EQ(s.find(id)->created_by, "alice");
  EXPECT_TRUE(s.snapshot()->matches(event(in, {{"a", "b"}}), Clock::now()));
}

TEST(SilencesEndToEnd, ASilencedAlertMatchesNoRuleUntilTheSilenceIsExpired) {
  aiopsd::testing::DaemonUnderTest daemon("", R"(rules:
  - name: note
    match: {alertname: Note}
    group_by: [id]
    actions: [{log: {message: "noted {{ labels.id }}"}}]
)");
  aiopsd::testing::HttpClient http(daemon.port());
  auto created = http.post("/api/v1/silences", doc(R"([{"name":"site","value":"lab"}])"));
  ASSERT_EQ(created.status, 200u) << created.body;
  const std::string id(boost::json::parse(created.body).at("silenceID").as_string());
  EXPECT_EQ(http.post("/api/v1/silences", doc("[]")).status, 400u);
  auto alert = [&](const std::string& id_label, const std::string& site) {
    return http.post("/api/v2/alerts",
                     fmt::format(R"([{{"labels":{{"alertname":"Note","id":"{}","site":"{}"}}}}])",
                                 id_label, site));
  };
  ASSERT_EQ(alert("1", "lab").status, 200u);
  ASSERT_EQ(alert("2", "par").status, 200u);
  ASSERT_TRUE(daemon.app().wait_idle(std::chrono::seconds(10)));
  EXPECT_EQ(daemon.audit().size(), 1u);  // only the unsilenced one
  EXPECT_EQ(daemon.metric("aiopsd_events_silenced_total"), 1);
  EXPECT_EQ(daemon.metric(R"(aiopsd_silences{state="active"})"), 1);
  auto listed = boost::json::parse(http.get("/api/v1/silences").body).as_array();
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].at("status").at("state").as_string(), "active");
  EXPECT_EQ(http.request(boost::beast::http::verb::delete_, "/api/v1/silences/" + id).status, 200u);
  EXPECT_EQ(http.request(boost::beast::http::verb::delete_, "/api/v1/silences/" + id).status, 404u);
  ASSERT_EQ(alert("3", "lab").status, 200u);
  ASSERT_TRUE(daemon.app().wait_idle(std::chrono::seconds(10)));
  EXPECT_EQ(daemon.audit().size(), 2u);
  EXPECT_EQ(daemon.metric(R"(aiopsd_silences{state="expired"})"), 1);
}

}  // namespace
}  // namespace aiopsd::daemon
