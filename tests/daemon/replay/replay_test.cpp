// `aiopsd replay`: recorded events through the real decoders and rules on a
// virtual clock. Config and rules: tests/data/replay/.

#include "daemon/replay/replay.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "connectors/common/rfc3339.hpp"
#include "tests/daemon/test_support.hpp"

namespace aiopsd::daemon {
namespace {

using aiopsd::testing::TempDir;

const std::string kData = AIOPSD_SOURCE_DIR "/tests/data/replay";

const Config& config() {
  static const std::unique_ptr<Config> cfg = [] {
    rules::ConfigErrors errors;
    auto c = load_config(kData + "/aiopsd.yaml", errors);
    EXPECT_TRUE(c) << errors.to_string();
    return c;
  }();
  return *cfg;
}

struct Run {
  ReplayResult result;
  std::vector<boost::json::object> lines;  // stdout, parsed
  std::string out;
  std::string err;
};

Run replay(const std::string& events, ReplayOptions options = {}) {
  std::istringstream in(events);
  std::ostringstream out, err;
  Run r;
  r.result = replay_events(config(), in, "events.jsonl", events.size(), options, out, err);
  r.out = out.str();
  r.err = err.str();
  std::istringstream lines(r.out);
  for (std::string l; std::getline(lines, l);) r.lines.push_back(boost::json::parse(l).as_object());
  return r;
}

std::string str(const boost::json::value& v) { return std::string(v.as_string()); }
std::vector<std::string> strs(const boost::json::value& v) {
  std::vector<std::string> out;
  for (const auto& s : v.as_array()) out.emplace_back(s.as_string());
  return out;
}

// One v2 line: `labels` is the JSON object text of the labels.
std::string v2(const std::string& at, const std::string& labels, const std::string& extra = "") {
  return fmt::format(R"({{"at":"{}","source":"alertmanager_v2","payload":[{{"labels":{}{}}}]}})",
                     at, labels, extra) +
         "\n";
}

std::string flap(const std::string& at, const std::string& as) {
  return v2(at, fmt::format(R"({{"alertname":"BGPSessionFlapping","device":"sw-1",)"
                            R"("neighbor":"10.0.0.2","peer_as":"{}"}})",
                            as));
}

TEST(Replay, CountWindowDecisionWithRenderedCommands) {
  auto r = replay(flap("2026-03-02T10:00:00Z", "1") + flap("2026-03-02T10:04:00Z", "2") +
                  flap("2026-03-02T10:09:00Z", "3") +
                  // A fourth, in the throttle (1h): no second decision.
                  flap("2026-03-02T10:12:00Z", "4") + flap("2026-03-02T10:13:00Z", "5") +
                  flap("2026-03-02T10:14:00Z", "6"));
  EXPECT_EQ(r.err, "");
  ASSERT_EQ(r.lines.size(), 1u) << r.out;
  const auto& d = r.lines[0];
  EXPECT_EQ(str(d.at("at")), "2026-03-02T10:09:00.000Z");
  EXPECT_EQ(str(d.at("rule")), "clear-flapping-bgp");
  EXPECT_EQ(str(d.at("group_key")), "device=sw-1,neighbor=10.0.0.2");
  EXPECT_EQ(str(d.at("action")), "ssh");
  EXPECT_EQ(str(d.at("device")), "sw-1");
  EXPECT_EQ(strs(d.at("commands")),
            (std::vector<std::string>{"show bgp summary", "clear bgp neighbor 10.0.0.2"}));
  EXPECT_EQ(d.at("fingerprints").as_array().size(), 3u);
  EXPECT_EQ(str(d.at("fingerprints").as_array()[0]).size(), 16u);  // hex
  EXPECT_FALSE(d.contains("error"));
  EXPECT_EQ(r.result.alerts, 6u);
  EXPECT_EQ(r.result.decisions, 1u);
  EXPECT_EQ(r.result.bad_lines, 0u);
}

TEST(Replay, CountWindowNeedsTheAlertsWithinTheWindow) {
  // 10m window: the third flap comes 10m after the first, which has left it.
  auto r = replay(flap("2026-03-02T10:00:00Z", "1") + flap("2026-03-02T10:05:00Z", "2") +
                  flap("2026-03-02T10:10:00Z", "3"));
  EXPECT_EQ(r.lines.size(), 0u) << r.out;
}

const std::string kNodeDown =
    R"({"at":"2026-03-02T10:00:30Z","source":"alertmanager_webhook","payload":{"version":"4",)"
    R"("status":"firing","alerts":[{"status":"firing","labels":{"alertname":"NodeExporterDown",)"
    R"("instance":"srv-1:9100"},"startsAt":"2026-03-02T10:00:30Z"}]}})"
    "\n";

TEST(Replay, ForRuleFiresOnATimerWithNoFurtherEvent) {
  auto r = replay(kNodeDown);
  ASSERT_EQ(r.lines.size(), 1u) << r.out << r.err;
  EXPECT_EQ(str(r.lines[0].at("at")), "2026-03-02T10:02:30.000Z");
  EXPECT_EQ(str(r.lines[0].at("rule")), "restart-node-exporter");
  EXPECT_EQ(str(r.lines[0].at("device")), "srv-1");  // ":9100" stripped
  EXPECT_EQ(strs(r.lines[0].at("commands")),
            std::vector<std::string>{"systemctl restart node-exporter"});
}

TEST(Replay, UntilCutsTheHorizonShort) {
  ReplayOptions o;
  o.until_after = std::chrono::minutes(1);  // before the `for` (2m) is due
  EXPECT_EQ(replay(kNodeDown, o).lines.size(), 0u);
  o.until_after.reset();
  rules::TimePoint t;
  ASSERT_EQ(wire::parse_rfc3339("2026-03-02T10:02:30Z", t), wire::TimestampParse::kOk);
  o.until = t;  // inclusive
  EXPECT_EQ(replay(kNodeDown, o).lines.size(), 1u);
}

TEST(Replay, ForRuleDoesNotActWhenResolvedFirst) {
  const std::string resolved =
      R"({"at":"2026-03-02T10:01:30Z","source":"alertmanager_webhook","payload":{"version":"4",)"
      R"("status":"resolved","alerts":[{"status":"resolved","labels":{"alertname":)"
      R"("NodeExporterDown","instance":"srv-1:9100"},"startsAt":"2026-03-02T10:00:30Z"}]}})"
      "\n";
  EXPECT_EQ(replay(kNodeDown + resolved).lines.size(), 0u);
}

std::string port_down(const std::string& at, const char* status = nullptr) {
  return fmt::format(
      R"({{"at":"{}","source":"kafka","payload":{{"alerts":[{{"status":"{}","labels":)"
      R"({{"alertname":"InterfaceDown","device":"sw-1","interface":"1/1/3"}}}}]}}}})"
      "\n",
      at, status ? status : "firing");
}

TEST(Replay, ThrottleSuppressesTheSameGroupWithinItsWindow) {
  // Each firing episode acts once; the throttle (10m) also holds back a new
  // episode of the same group 2m later, not one 11m later.
  auto r =
      replay(port_down("2026-03-02T10:00:00Z") + port_down("2026-03-02T10:01:00Z", "resolved") +
             port_down("2026-03-02T10:02:00Z") + port_down("2026-03-02T10:03:00Z", "resolved") +
             port_down("2026-03-02T10:11:00Z"));
  std::vector<std::string> got;
  for (const auto& l : r.lines) got.push_back(str(l.at("at")) + " " + str(l.at("action")));
  EXPECT_EQ(got, (std::vector<std::string>{
                     "2026-03-02T10:00:00.000Z ssh", "2026-03-02T10:00:00.000Z log",
                     "2026-03-02T10:11:00.000Z ssh", "2026-03-02T10:11:00.000Z log"}))
      << r.out;
  EXPECT_EQ(str(r.lines[1].at("message")), "bounced 1/1/3 on sw-1");
  EXPECT_EQ(r.result.decisions, 2u);
  EXPECT_EQ(r.result.actions, 4u);
}

TEST(Replay, IsDryRunWhateverTheConfigSays) {
  // engine.dry_run is off and sw-1 is 127.0.0.1:1, where nothing listens: a
  // real run would fail to connect and write the audit log. Replay only plans.
  ASSERT_FALSE(config().engine.dry_run);
  const auto audit = std::filesystem::path(config().audit_path);
  std::filesystem::remove(audit);
  auto r = replay(port_down("2026-03-02T10:00:00Z"));
  ASSERT_EQ(r.lines.size(), 2u);
  EXPECT_FALSE(r.lines[0].contains("error")) << r.out;
  EXPECT_EQ(strs(r.lines[0].at("commands")).size(), 2u);
  EXPECT_FALSE(std::filesystem::exists(audit));
}

TEST(Replay, RenderAndPolicyErrorsAreThoseTheDaemonRecords) {
  auto r =
      replay(v2("2026-03-02T10:00:00Z", R"({"alertname":"DeviceHung","device":"sw-1"})") +
             v2("2026-03-02T10:00:01Z", R"({"alertname":"DeviceHung","device":"sw-9"})") +
             v2("2026-03-02T10:00:02Z",
                R"({"alertname":"InterfaceDown","device":"sw-1","interface":"1/1/3; reload"})"));
  ASSERT_EQ(r.lines.size(), 4u) << r.out;
  auto error = [](const boost::json::object& l) {
    return str(l.at("error").at("code")) + ": " + str(l.at("error").at("message"));
  };
  EXPECT_EQ(error(r.lines[0]),
            "policy_violation: commands[0]: command matches deny pattern ^reload$");
  EXPECT_EQ(str(r.lines[0].at("device")), "sw-1");
  EXPECT_TRUE(r.lines[0].at("commands").as_array().empty());
  EXPECT_EQ(error(r.lines[1]), "unknown_device: device 'sw-9' is not in the inventory");
  EXPECT_TRUE(r.lines[1].at("device").is_null());
  EXPECT_EQ(error(r.lines[2]),
            "policy_violation: commands[0]: labels.interface: \"1/1/3; reload\" does not match "
            "^[0-9]+/[0-9]+/[0-9]+$");
  EXPECT_EQ(str(r.lines[3].at("action")), "log");  // the log action still runs
  EXPECT_EQ(r.result.bad_lines, 0u);               // a refused action is a decision, not a bad line
}

TEST(Replay, MalformedLinesAreReportedExactlyAndSkipped) {
  const std::string good1 = port_down("2026-03-02T10:00:00Z");
  const std::string good2 =
      v2("2026-03-02T10:00:20Z", R"({"alertname":"DeviceHung","device":"sw-1"})");
  const std::string events =
      good1 +                                                                              // 1
      "{\"at\":\"2026-03-02T10:00:01Z\",\"source\":\"alertmanager_v3\",\"payload\":[]}\n"  // 2
      "not json\n"                                                                         // 3
      "\n"                                                                                 // 4
      "[1,2]\n"                                                                            // 5
      "{\"at\":\"yesterday\",\"source\":\"kafka\",\"payload\":{}}\n"                       // 6
      "{\"at\":\"2026-03-02T10:00:02Z\",\"source\":\"kafka\"}\n"                           // 7
      "{\"at\":\"2026-03-02T10:00:02Z\",\"source\":\"kafka\",\"payload\":{},\"x\":1}\n"    // 8
      "{\"at\":5,\"source\":\"kafka\",\"payload\":{}}\n"                                   // 9
      "{\"at\":\"2026-03-02T10:00:03Z\",\"source\":\"kafka\",\"payload\":{}}\n"            // 10
      "{\"at\":\"2026-03-02T10:00:03Z\",\"source\":\"alertmanager_v2\",\"payload\":"
      "[{\"labels\":{\"alertname\":\"A\"}},{\"labels\":{\"severity\":3}}]}\n"                // 11
      "{\"at\":\"2026-03-02T10:00:04Z\",\"source\":\"alertmanager_v2\",\"payload\":{}}\n" +  // 12
      good2;                                                                                 // 13
  auto r = replay(events);
  EXPECT_EQ(r.err,
            "events.jsonl:2: source: unknown source \"alertmanager_v3\" (expected "
            "alertmanager_v2, alertmanager_webhook or kafka)\n"
            "events.jsonl:3: invalid JSON: syntax error\n"
            "events.jsonl:5: expected a JSON object with at, source and payload\n"
            "events.jsonl:6: at: invalid RFC 3339 time \"yesterday\"\n"
            "events.jsonl:7: payload: missing required field\n"
            "events.jsonl:8: \"x\": unknown field (expected at, source and payload)\n"
            "events.jsonl:9: at: expected a string (an RFC 3339 time)\n"
            "events.jsonl:10: payload.alerts: missing required field\n"
            "events.jsonl:11: payload[1].labels.severity: expected string\n"
            "events.jsonl:12: payload: expected array of alerts\n");
  EXPECT_EQ(r.result.bad_lines, 10u);
  EXPECT_EQ(r.result.lines, 12u);  // the blank line is not counted
  // The good lines around them, and the valid alert of line 11, still went through.
  EXPECT_EQ(r.result.alerts, 3u);
  ASSERT_EQ(r.lines.size(), 3u) << r.out;
  EXPECT_EQ(str(r.lines[0].at("rule")), "bounce-port");
  EXPECT_EQ(str(r.lines[2].at("rule")), "reload-on-hang");
}

TEST(Replay, OutOfOrderLinesWithinLatenessAreSortedBackIntoPlace) {
  // Arrival order 3, 1, 2 (all within 5s): the window sees 1, 2, 3 and the
  // decision comes at the third in time, 10:00:03, carrying all three.
  auto r = replay(flap("2026-03-02T10:00:03Z", "3") + flap("2026-03-02T10:00:01Z", "1") +
                  flap("2026-03-02T10:00:02Z", "2"));
  EXPECT_EQ(r.err, "");
  ASSERT_EQ(r.lines.size(), 1u);
  EXPECT_EQ(str(r.lines[0].at("at")), "2026-03-02T10:00:03.000Z");
  EXPECT_EQ(r.lines[0].at("fingerprints").as_array().size(), 3u);
}

TEST(Replay, OutOfOrderLinesBeyondLatenessAreErrors) {
  auto r = replay(flap("2026-03-02T10:00:10Z", "1") + flap("2026-03-02T10:00:04Z", "2") +
                  flap("2026-03-02T10:00:05Z", "3") + flap("2026-03-02T10:00:11Z", "4"));
  EXPECT_EQ(r.err,
            "events.jsonl:2: at: 2026-03-02T10:00:04.000Z is 6s before the latest event so far "
            "(2026-03-02T10:00:10.000Z), more than the allowed lateness of 5s\n");
  EXPECT_EQ(r.result.bad_lines, 1u);
  ASSERT_EQ(r.lines.size(), 1u);  // 1, 3 and 4 still count
  EXPECT_EQ(str(r.lines[0].at("at")), "2026-03-02T10:00:11.000Z");
  // With no lateness allowed, line 3 is late too.
  ReplayOptions strict;
  strict.lateness = std::chrono::milliseconds(0);
  EXPECT_EQ(replay(flap("2026-03-02T10:00:10Z", "1") + flap("2026-03-02T10:00:09Z", "2"), strict)
                .result.bad_lines,
            1u);
}

TEST(Replay, V2StatusIsDecidedAtTheLinesTimeNotTheReplays) {
  // endsAt is long past today, but not when the line arrived: still firing.
  auto r = replay(v2("2026-03-02T10:00:00Z",
                     R"({"alertname":"InterfaceDown","device":"sw-1","interface":"1/1/3"})",
                     R"(,"endsAt":"2026-03-02T10:05:00Z")"));
  EXPECT_EQ(r.lines.size(), 2u) << r.out;
}

// Property: the same events arriving in another order, each displaced by
// less than the allowed lateness, give the same decisions, byte for byte.
TEST(Replay, ArrivalOrderWithinLatenessDoesNotChangeDecisions) {
  std::mt19937 rng(20260302);
  const auto base = std::chrono::sys_days{std::chrono::year{2026} / 3 / 2};
  std::map<std::string, int> fired;  // rounds in which each correlation rule decided
  for (int round = 0; round < 20; ++round) {
    struct Line {
      std::int64_t ms;
      std::string text;
    };
    std::vector<Line> lines;
    std::int64_t t = 0;
    // As a real sender: an alert keeps its startsAt until it resolves.
    std::map<std::string, std::int64_t> started;
    for (int i = 0; i < 300; ++i) {
      // Distinct times; now and then a quiet hour, after which re-sends act again.
      t += 1 + static_cast<std::int64_t>(rng() % 4000) +
           (rng() % 100 == 0 ? 3'600'000 + static_cast<std::int64_t>(rng() % 600'000) : 0);
      const std::string at =
          rules::format_rfc3339(rules::TimePoint(base) + std::chrono::milliseconds(t));
      const int device = static_cast<int>(rng() % 3);
      std::string text;
      switch (rng() % 7) {
        case 4:
        case 5:
        case 6: {
          const char* name =
              rng() % 3 == 0 ? "DiskFull" : (rng() % 2 ? "LinkDown" : "BGPSessionDown");
          const bool resolved = rng() % 5 == 0;
          const std::string key = fmt::format("{}/{}", name, device);
          const std::int64_t since = started.try_emplace(key, t).first->second;
          if (resolved) started.erase(key);
          text = v2(at, fmt::format(R"({{"alertname":"{}","device":"sw-{}"}})", name, device),
                    fmt::format(R"(,"startsAt":"{}"{})",
                                rules::format_rfc3339(rules::TimePoint(base) +
                                                      std::chrono::milliseconds(since)),
                                resolved ? fmt::format(R"(,"endsAt":"{}")", at) : ""));
          break;
        }
        case 0:
          text = flap(at, std::to_string(rng() % 5));
          break;
        case 1:
          text = port_down(at, rng() % 3 == 0 ? "resolved" : "firing");
          break;
        case 2:
          text = fmt::format(
              R"({{"at":"{}","source":"kafka","payload":{{"alerts":[{{"status":"{}","labels":)"
              R"({{"alertname":"NodeExporterDown","instance":"srv-{}:9100"}}}}]}}}})"
              "\n",
              at, rng() % 4 == 0 ? "resolved" : "firing", device);
          break;
        default:
          // endsAt: the episode ends on its own, and a later re-send acts again.
          text = v2(at, fmt::format(R"({{"alertname":"DeviceHung","device":"sw-{}"}})", device),
                    fmt::format(R"(,"endsAt":"{}")",
                                rules::format_rfc3339(
                                    rules::TimePoint(base) +
                                    std::chrono::milliseconds(
                                        t + 1 + static_cast<std::int64_t>(rng() % 60'000)))));
      }
      lines.push_back({t, text});
    }
    std::string in_order;
    for (const auto& l : lines) in_order += l.text;
    // Sort by time plus a jitter below the lateness: every line then arrives
    // less than `lateness` after any line later in time.
    ReplayOptions o;
    o.lateness = std::chrono::seconds(5);
    std::vector<std::pair<std::int64_t, const Line*>> keyed;
    for (const auto& l : lines)
      keyed.emplace_back(l.ms + static_cast<std::int64_t>(rng() % 5000), &l);
    std::sort(keyed.begin(), keyed.end());
    std::string shuffled;
    for (const auto& [k, l] : keyed) shuffled += l->text;
    ASSERT_NE(in_order, shuffled);
    auto a = replay(in_order, o);
    auto b = replay(shuffled, o);
    EXPECT_EQ(a.err, "");
    EXPECT_EQ(b.err, "") << "round " << round;
    EXPECT_GT(a.result.decisions, 0u);
    EXPECT_EQ(a.out, b.out) << "round " << round;
    for (const char* rule : {"link-and-bgp", "link-then-bgp", "disk-must-resolve"}) {
      if (a.out.find(fmt::format(R"("rule":"{}")", rule)) != std::string::npos) ++fired[rule];
    }
    // And ticking only where it matters decides as ticking every second.
    o.every_tick = true;
    auto c = replay(shuffled, o);
    EXPECT_EQ(a.out, c.out) << "round " << round;
  }
  // The property covered the correlation constructs, not only the simple rules.
  EXPECT_GT(fired["link-and-bgp"], 0);
  EXPECT_GT(fired["link-then-bgp"], 0);
  EXPECT_GT(fired["disk-must-resolve"], 0);
}

// The binary: stdout, stderr and exit status.
struct Exit {
  int code = -1;
  std::string out;
  std::string err;
};

Exit run_aiopsd(const std::string& args) {
  TempDir dir;
  const std::string cmd =
      fmt::format("{} {} --no-progress 2>{}", AIOPSD_BINARY, args, dir.file("stderr"));
  Exit e;
  FILE* p = popen(cmd.c_str(), "r");
  std::array<char, 4096> buf{};
  while (std::size_t n = fread(buf.data(), 1, buf.size(), p)) e.out.append(buf.data(), n);
  e.code = WEXITSTATUS(pclose(p));
  std::ifstream in(dir.file("stderr"));
  e.err.assign(std::istreambuf_iterator<char>(in), {});
  return e;
}

TEST(ReplayBinary, ExitCodes) {
  const std::string cfg = "--config " + kData + "/aiopsd.yaml";
  auto ok = run_aiopsd("replay " + cfg + " --events " + kData + "/events.jsonl");
  EXPECT_EQ(ok.code, 0) << ok.err;
  EXPECT_EQ(std::count(ok.out.begin(), ok.out.end(), '\n'), 4) << ok.out;
  EXPECT_NE(ok.out.find("\"at\":\"2026-03-02T10:02:30.000Z\",\"rule\":\"restart-node-exporter\""),
            std::string::npos)
      << ok.out;
  EXPECT_EQ(ok.err, "replayed " + kData +
                        "/events.jsonl: 5 lines, 5 alerts, 3 decisions (4 actions), 0 bad lines\n");

  auto bad = run_aiopsd("replay " + cfg + " --events " + kData + "/bad_events.jsonl");
  EXPECT_EQ(bad.code, 1);
  EXPECT_NE(bad.err.find(kData + "/bad_events.jsonl:2: source: unknown source"), std::string::npos)
      << bad.err;
  EXPECT_NE(bad.err.find("1 bad lines"), std::string::npos) << bad.err;
  EXPECT_EQ(std::count(bad.out.begin(), bad.out.end(), '\n'), 3) << bad.out;

  TempDir dir;
  const std::string invalid = dir.write("aiopsd.yaml", "audit: {path: a.log}\nbogus: 1\n");
  EXPECT_EQ(run_aiopsd("replay --config " + invalid + " --events " + kData + "/events.jsonl").code,
            2);
  EXPECT_EQ(run_aiopsd("replay " + cfg).code, 2);  // no --events
  EXPECT_EQ(run_aiopsd("replay " + cfg + " --events " + dir.file("missing.jsonl")).code, 2);
  EXPECT_EQ(run_aiopsd("replay " + cfg + " --events x --tick 0s").code, 2);
  EXPECT_EQ(run_aiopsd("replay --help").code, 0);
}

}  // namespace
}  // namespace aiopsd::daemon
