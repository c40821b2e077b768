#include "connectors/alertmanager/alert_decoder.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace aiopsd::alertmanager {
namespace {

using namespace std::chrono;
using rules::Event;
using rules::EventSource;
using rules::EventStatus;

std::string load(const std::string& name) {
  std::ifstream in(std::string(AIOPSD_AM_TESTDATA) + "/" + name, std::ios::binary);
  EXPECT_TRUE(in) << name;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

rules::TimePoint utc(int y, unsigned m, unsigned d, int h, int mi, int s) {
  return rules::TimePoint{sys_days{year{y} / month{m} / day{d}} + hours{h} + minutes{mi} +
                          seconds{s}};
}

class AlertDecoderTest : public testing::Test {
 protected:
  rules::Interner interner_;
  AlertDecoder decoder_{interner_};
  std::vector<Event> out_;

  DecodeResult v2(std::string body) { return decoder_.decode_v2_alerts(body, out_); }
  DecodeResult webhook(std::string body) { return decoder_.decode_webhook(body, out_); }

  std::string label(const Event& e, std::string_view name) const {
    auto sym = interner_.find(name);
    if (!sym) return "<absent>";
    auto v = e.label(*sym);
    return v == rules::kNoSymbol ? "<absent>" : std::string(interner_.view(v));
  }
  std::string annotation(const Event& e, std::string_view name) const {
    auto sym = interner_.find(name);
    if (!sym) return "<absent>";
    auto v = e.annotation(*sym);
    return v ? std::string(*v) : "<absent>";
  }
  // The single error of a result, as "index code message".
  static std::string only_error(const DecodeResult& r) {
    if (r.errors.size() != 1) return fmt::format("{} errors", r.errors.size());
    const auto& e = r.errors.front();
    return fmt::format(
        "{} {} {}", e.index == DecodeError::kBody ? std::string("body") : std::to_string(e.index),
        e.code, e.message);
  }
};

template <typename T>
bool sorted_unique(const std::vector<T>& v) {
  return std::adjacent_find(v.begin(), v.end(),
                            [](const T& a, const T& b) { return a.name >= b.name; }) == v.end();
}

// --- valid payloads ---------------------------------------------------------

TEST_F(AlertDecoderTest, AlertmanagerDocumentationWebhookPayload) {
  auto r = webhook(load("webhook_alertmanager_doc.json"));
  ASSERT_TRUE(r.errors.empty()) << only_error(r);
  ASSERT_EQ(r.accepted, 2u);
  ASSERT_EQ(out_.size(), 2u);

  const Event& a = out_[0];
  EXPECT_EQ(a.source, EventSource::kAlertmanagerWebhook);
  EXPECT_EQ(a.status, EventStatus::kFiring);
  EXPECT_EQ(label(a, "alertname"), "InstanceDown");
  EXPECT_EQ(label(a, "instance"), "router1.example.com:9100");
  EXPECT_EQ(label(a, "severity"), "critical");
  EXPECT_EQ(a.labels.size(), 4u);
  EXPECT_TRUE(sorted_unique(a.labels));
  EXPECT_TRUE(sorted_unique(a.annotations));
  EXPECT_EQ(annotation(a, "summary"), "Instance down");
  EXPECT_EQ(annotation(a, "description"),
            "router1.example.com:9100 of job node has been down for more than 5 minutes.");
  EXPECT_EQ(a.starts_at, utc(2024, 1, 2, 3, 4, 5) + milliseconds{123});
  EXPECT_EQ(a.ends_at, rules::TimePoint{});  // zero time: unset
  EXPECT_EQ(a.generator_url,
            "http://prometheus.example.com:9090/graph?g0.expr=up+%3D%3D+0&g0.tab=1");
  EXPECT_EQ(a.fingerprint, 0x5a1b3f7c9d2e4f60u);

  const Event& b = out_[1];
  EXPECT_EQ(b.status, EventStatus::kResolved);
  EXPECT_EQ(label(b, "instance"), "router2.example.com:9100");
  EXPECT_EQ(b.starts_at, utc(2024, 1, 2, 0, 0, 0));  // 02:00+02:00
  EXPECT_EQ(b.ends_at, utc(2024, 1, 2, 3, 10, 0));
  EXPECT_EQ(b.fingerprint, 0x0123456789abcdefu);
}

TEST_F(AlertDecoderTest, PrometheusV2Post) {
  auto r = v2(load("v2_prometheus.json"));
  ASSERT_TRUE(r.errors.empty()) << only_error(r);
  ASSERT_EQ(out_.size(), 2u);
  const Event& a = out_[0];
  EXPECT_EQ(a.source, EventSource::kAlertmanagerV2);
  EXPECT_EQ(a.status, EventStatus::kFiring);  // endsAt in the future
  EXPECT_EQ(label(a, "device"), "core-sw1");
  EXPECT_EQ(label(a, "interface"), "Ethernet1/1");
  EXPECT_EQ(annotation(a, "runbook_url"), "https://runbooks.example.com/interface-errors");
  EXPECT_EQ(a.starts_at, utc(2024, 1, 2, 3, 4, 5) + nanoseconds{123456789});
  EXPECT_EQ(a.ends_at, utc(2200, 1, 1, 0, 0, 0));
  EXPECT_EQ(a.fingerprint, rules::fingerprint_of(a.labels, interner_));
  EXPECT_TRUE(sorted_unique(a.labels));

  const Event& b = out_[1];
  EXPECT_EQ(b.status, EventStatus::kResolved);  // endsAt in the past
  EXPECT_EQ(b.ends_at, utc(2024, 1, 2, 3, 0, 0));
  EXPECT_NE(a.fingerprint, b.fingerprint);
}

TEST_F(AlertDecoderTest, GrafanaWebhookWithExtraFields) {
  auto r = webhook(load("webhook_grafana.json"));
  ASSERT_TRUE(r.errors.empty()) << only_error(r);
  ASSERT_EQ(out_.size(), 1u);
  const Event& a = out_[0];
  EXPECT_EQ(a.status, EventStatus::kFiring);
  EXPECT_EQ(label(a, "alertname"), "High CPU");
  EXPECT_EQ(label(a, "__alert_rule_uid__"), "a1b2c3");
  EXPECT_EQ(label(a, "device"), "edge-rtr1");
  EXPECT_EQ(a.starts_at, utc(2024, 1, 2, 2, 4, 5));
  EXPECT_EQ(a.fingerprint, 0xc6eadffa33fcdf37u);
}

TEST_F(AlertDecoderTest, V2StatusFollowsEndsAt) {
  auto r = v2(R"([
    {"labels":{"n":"1"}},
    {"labels":{"n":"2"},"endsAt":"0001-01-01T00:00:00Z"},
    {"labels":{"n":"3"},"endsAt":"2020-01-01T00:00:00Z"},
    {"labels":{"n":"4"},"endsAt":"9999-12-31T23:59:59Z"},
    {"labels":{"n":"5"},"endsAt":null,"startsAt":null,"annotations":null,"generatorURL":null}
  ])");
  ASSERT_TRUE(r.errors.empty()) << only_error(r);
  ASSERT_EQ(out_.size(), 5u);
  EXPECT_EQ(out_[0].status, EventStatus::kFiring);
  EXPECT_EQ(out_[1].status, EventStatus::kFiring);
  EXPECT_EQ(out_[1].ends_at, rules::TimePoint{});
  EXPECT_EQ(out_[2].status, EventStatus::kResolved);
  EXPECT_EQ(out_[3].status, EventStatus::kFiring);
  EXPECT_EQ(out_[3].ends_at, rules::TimePoint::max());
  EXPECT_EQ(out_[4].status, EventStatus::kFiring);
}

TEST_F(AlertDecoderTest, WebhookUsesEachAlertsOwnStatus) {
  auto r = webhook(R"({"version":"4","status":"firing","alerts":[
    {"status":"resolved","labels":{"n":"1"},"endsAt":"2200-01-01T00:00:00Z"},
    {"status":"firing","labels":{"n":"2"},"endsAt":"2020-01-01T00:00:00Z"},
    {"labels":{"n":"3"},"endsAt":"2020-01-01T00:00:00Z"},
    {"labels":{"n":"4"}}
  ]})");
  ASSERT_TRUE(r.errors.empty()) << only_error(r);
  ASSERT_EQ(out_.size(), 4u);
  EXPECT_EQ(out_[0].status, EventStatus::kResolved);
  EXPECT_EQ(out_[1].status, EventStatus::kFiring);
  EXPECT_EQ(out_[2].status, EventStatus::kResolved);  // no status: derived from endsAt
  EXPECT_EQ(out_[3].status, EventStatus::kFiring);
  for (const auto& e : out_) EXPECT_EQ(e.source, EventSource::kAlertmanagerWebhook);
}

TEST_F(AlertDecoderTest, OnlyAlertsIsRequiredInWebhook) {
  auto r = webhook(R"({"alerts":[{"labels":{"a":"b"}}]})");
  ASSERT_TRUE(r.errors.empty()) << only_error(r);
  EXPECT_EQ(out_.size(), 1u);
  r = webhook(R"({"version":"4","alerts":[]})");
  EXPECT_TRUE(r.errors.empty());
  EXPECT_EQ(r.accepted, 0u);
}

TEST_F(AlertDecoderTest, ComputedFingerprintIgnoresLabelOrderAndInterner) {
  ASSERT_TRUE(
      v2(R"([{"labels":{"alertname":"X","device":"sw1","severity":"critical"}}])").errors.empty());
  // A second interner with different symbol ids for the same strings.
  rules::Interner other;
  for (auto s : {"zzz", "severity", "critical", "sw1", "device"}) other.intern(s);
  AlertDecoder d2(other);
  std::vector<Event> out2;
  std::string body = R"([{"labels":{"severity":"critical","device":"sw1","alertname":"X"}}])";
  ASSERT_TRUE(d2.decode_v2_alerts(body, out2).errors.empty());
  std::string hook = R"({"version":"4","alerts":[{"labels":{"device":"sw1","alertname":"X",
                         "severity":"critical"},"fingerprint":""}]})";
  ASSERT_TRUE(d2.decode_webhook(hook, out2).errors.empty());
  ASSERT_EQ(out_.size(), 1u);
  ASSERT_EQ(out2.size(), 2u);
  EXPECT_NE(out_[0].fingerprint, 0u);
  EXPECT_EQ(out_[0].fingerprint, out2[0].fingerprint);
  EXPECT_EQ(out_[0].fingerprint, out2[1].fingerprint);
  EXPECT_EQ(out_[0].fingerprint, rules::fingerprint_of(out2[0].labels, other));
}

TEST_F(AlertDecoderTest, ExplicitFingerprintWins) {
  auto r = webhook(
      R"({"version":"4","alerts":[{"labels":{"a":"b"},"fingerprint":"00000000000000ff"}]})");
  ASSERT_TRUE(r.errors.empty()) << only_error(r);
  EXPECT_EQ(out_[0].fingerprint, 0xffu);
}

TEST_F(AlertDecoderTest, HostileValuesAreAcceptedAsData) {
  auto r = v2(R"j([{"labels":{"alertname":"X","device":"sw1; reboot","cmd":"$(rm -rf /)",
      "multi":"line1\nline2\r\n","uni":"r\u00e9seau \u2603 日本 🚀","quote":"\"'`","empty":""},
      "annotations":{"summary":"<script>alert(1)</script>"}}])j");
  ASSERT_TRUE(r.errors.empty()) << only_error(r);
  ASSERT_EQ(out_.size(), 1u);
  EXPECT_EQ(label(out_[0], "device"), "sw1; reboot");
  EXPECT_EQ(label(out_[0], "cmd"), "$(rm -rf /)");
  EXPECT_EQ(label(out_[0], "multi"), "line1\nline2\r\n");
  EXPECT_EQ(label(out_[0], "uni"), "r\xc3\xa9seau \xe2\x98\x83 日本 🚀");
  EXPECT_EQ(label(out_[0], "quote"), "\"'`");
  EXPECT_EQ(label(out_[0], "empty"), "<absent>");  // Prometheus: an empty value is no label
  EXPECT_EQ(annotation(out_[0], "summary"), "<script>alert(1)</script>");
}

TEST_F(AlertDecoderTest, EscapedKeysAreUnescaped) {
  auto r = v2(R"([{"\u006cabels":{"a\u005fb":"c"}}])");
  ASSERT_TRUE(r.errors.empty()) << only_error(r);
  EXPECT_EQ(label(out_[0], "a_b"), "c");
}

// --- one bad alert ----------------------------------------------------------

struct BadCase {
  const char* alert;  // one alert object, posted as [alert] to v2
  const char* code;
  const char* message;
  friend void PrintTo(const BadCase& c, std::ostream* os) { *os << c.alert; }
};

class BadAlertTest : public AlertDecoderTest, public testing::WithParamInterface<BadCase> {};

TEST_P(BadAlertTest, NamedByIndexAndField) {
  const BadCase& c = GetParam();
  // Between two valid alerts so the index and the partial acceptance show.
  auto r = v2(std::string(R"([{"labels":{"ok":"1"}}, )") + c.alert + R"(, {"labels":{"ok":"2"}}])");
  EXPECT_EQ(only_error(r), fmt::format("1 {} {}", c.code, c.message));
  EXPECT_FALSE(r.body_rejected());
  EXPECT_EQ(r.accepted, 2u);
  EXPECT_EQ(out_.size(), 2u);
}

const std::string kLong(16 * 1024 + 1, 'x');
const std::string kLongAlert = R"({"labels":{"big":")" + kLong + R"("}})";
const std::string kLongAnn = R"({"labels":{"a":"b"},"annotations":{"d":")" + kLong + R"("}})";
const std::string kLongUrl = R"({"labels":{"a":"b"},"generatorURL":")" + kLong + R"("})";

std::string many_labels(const char* field, int n) {
  std::string s = R"({"labels":{"a":"b")";
  if (std::string_view(field) == "labels")
    s = R"({"labels":{)";
  else
    s += R"(},")" + std::string(field) + R"(":{)";
  for (int i = 0; i < n; ++i) s += fmt::format(R"({}"l{}":"v")", i ? "," : "", i);
  return s + "}}";
}
const std::string k65Labels = many_labels("labels", 65);
const std::string k65Annotations = many_labels("annotations", 65);

INSTANTIATE_TEST_SUITE_P(
    Cases, BadAlertTest,
    testing::Values(
        BadCase{R"({"labels":{"alertname":"X","severity":5}})", "wrong_type",
                "alerts[1].labels.severity: expected string"},
        BadCase{R"({"labels":{"severity":null}})", "wrong_type",
                "alerts[1].labels.severity: expected string"},
        BadCase{R"({"labels":{"severity":["a"]}})", "wrong_type",
                "alerts[1].labels.severity: expected string"},
        BadCase{R"({"labels":["a","b"]})", "wrong_type", "alerts[1].labels: expected object"},
        BadCase{R"({"labels":"a=b"})", "wrong_type", "alerts[1].labels: expected object"},
        BadCase{R"({"annotations":{"a":"b"}})", "missing_field",
                "alerts[1].labels: missing required field"},
        BadCase{R"({"labels":null})", "missing_field", "alerts[1].labels: missing required field"},
        BadCase{R"({})", "missing_field", "alerts[1].labels: missing required field"},
        BadCase{R"({"labels":{}})", "invalid_value", "alerts[1].labels: must not be empty"},
        BadCase{R"("alert")", "wrong_type", "alerts[1]: expected object"},
        BadCase{R"(null)", "wrong_type", "alerts[1]: expected object"},
        BadCase{R"({"labels":{"a":"b"},"annotations":{"d":1}})", "wrong_type",
                "alerts[1].annotations.d: expected string"},
        BadCase{R"({"labels":{"a":"b"},"annotations":"x"})", "wrong_type",
                "alerts[1].annotations: expected object"},
        BadCase{R"({"labels":{"a":"b"},"startsAt":"yesterday"})", "invalid_timestamp",
                R"(alerts[1].startsAt: invalid RFC 3339 timestamp "yesterday")"},
        BadCase{R"({"labels":{"a":"b"},"endsAt":"2024-01-02T03:04:05"})", "invalid_timestamp",
                R"(alerts[1].endsAt: invalid RFC 3339 timestamp "2024-01-02T03:04:05")"},
        BadCase{R"({"labels":{"a":"b"},"startsAt":1704164645})", "wrong_type",
                "alerts[1].startsAt: expected string"},
        BadCase{R"({"labels":{"a":"b"},"startsAt":"2024-01-02T04:00:00Z",
                    "endsAt":"2024-01-02T03:00:00Z"})",
                "invalid_value", "alerts[1].endsAt: before startsAt"},
        BadCase{R"({"labels":{"a":"b"},"generatorURL":42})", "wrong_type",
                "alerts[1].generatorURL: expected string"},
        BadCase{R"({"labels":{"1abc":"b"}})", "invalid_value",
                R"(alerts[1].labels: invalid label name "1abc")"},
        BadCase{R"({"labels":{"a-b":"b"}})", "invalid_value",
                R"(alerts[1].labels: invalid label name "a-b")"},
        BadCase{R"({"labels":{"":"b"}})", "invalid_value",
                R"(alerts[1].labels: invalid label name "")"},
        BadCase{R"({"labels":{"a b\n":"b"}})", "invalid_value",
                R"(alerts[1].labels: invalid label name "a b\n")"},
        BadCase{R"({"labels":{"a":"b"},"annotations":{"dé":"x"}})", "invalid_value",
                R"(alerts[1].annotations: invalid label name "dé")"},
        BadCase{R"({"labels":{"a":"1","b":"2","a":"3"}})", "invalid_value",
                R"(alerts[1].labels: duplicate label name "a")"},
        BadCase{kLongAlert.c_str(), "invalid_value",
                "alerts[1].labels.big: value is 16385 bytes, limit is 16384"},
        BadCase{kLongAnn.c_str(), "invalid_value",
                "alerts[1].annotations.d: value is 16385 bytes, limit is 16384"},
        BadCase{kLongUrl.c_str(), "invalid_value",
                "alerts[1].generatorURL: value is 16385 bytes, limit is 16384"},
        BadCase{k65Labels.c_str(), "too_many_labels", "alerts[1].labels: more than 64 entries"},
        BadCase{k65Annotations.c_str(), "too_many_labels",
                "alerts[1].annotations: more than 64 entries"},
        // Only the first problem of an alert is reported.
        BadCase{R"({"startsAt":"bad","labels":{"x":1}})", "invalid_timestamp",
                R"(alerts[1].startsAt: invalid RFC 3339 timestamp "bad")"}));

// Interned text is never freed, so senders cannot grow it past its budget:
// an alert bringing new label text then is refused (retry later); alerts made
// of known text still pass, and so does trusted interning (rules, config).
TEST_F(AlertDecoderTest, LabelTextBeyondTheBudgetIsRefusedAndKnownTextStillPasses) {
  ASSERT_TRUE(v2(R"([{"labels":{"alertname":"Known","instance":"a"}}])").errors.empty());
  interner_.set_budget(interner_.bytes() + 2 * (rules::Interner::kEntryOverhead + 8));
  std::size_t accepted = 0, refused = 0;
  for (int i = 0; i < 50; ++i) {
    auto r = v2(fmt::format(R"([{{"labels":{{"alertname":"Known","instance":"u{:06}"}}}}])", i));
    accepted += r.accepted;
    if (!r.errors.empty()) {
      ++refused;
      EXPECT_EQ(r.errors[0].code, "label_budget_exhausted");
      EXPECT_NE(
          r.errors[0].message.find("alerts[0].labels.instance: no room for a new label value"),
          std::string::npos)
          << r.errors[0].message;
    }
  }
  EXPECT_EQ(accepted, 2u);  // two new values fit the budget
  EXPECT_EQ(refused, 48u);
  const std::size_t held = interner_.bytes();
  EXPECT_LE(held, interner_.budget());
  EXPECT_TRUE(v2(R"([{"labels":{"alertname":"Known","instance":"a"}}])").errors.empty());
  EXPECT_EQ(interner_.bytes(), held);
  EXPECT_NE(interner_.intern("from-the-rules"), rules::kNoSymbol);  // trusted: not budgeted
}

TEST_F(AlertDecoderTest, SixtyFourLabelsAreFine) {
  auto r = v2("[" + many_labels("labels", 64) + "]");
  EXPECT_TRUE(r.errors.empty()) << only_error(r);
  ASSERT_EQ(out_.size(), 1u);
  EXPECT_EQ(out_[0].labels.size(), 64u);
}

TEST_F(AlertDecoderTest, LongValuesAreQuotedTruncated) {
  auto r = v2(R"([{"labels":{"a":"b"},"startsAt":")" + std::string(100, 'y') + R"("}])");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].message,
            "alerts[0].startsAt: invalid RFC 3339 timestamp \"" + std::string(64, 'y') + "\"...");
}

TEST_F(AlertDecoderTest, WebhookAlertErrors) {
  auto r = webhook(R"({"version":"4","alerts":[
    {"status":"pending","labels":{"a":"b"}},
    {"labels":{"a":"b"},"fingerprint":"xyz"},
    {"labels":{"a":"b"},"fingerprint":12},
    {"labels":{"a":"b"}},
    {"labels":{"severity":true}}
  ]})");
  ASSERT_EQ(r.errors.size(), 4u);
  EXPECT_EQ(r.accepted, 1u);
  EXPECT_EQ(out_.size(), 1u);
  EXPECT_EQ(r.errors[0].index, 0u);
  EXPECT_EQ(r.errors[0].code, "invalid_value");
  EXPECT_EQ(r.errors[0].message,
            R"(alerts[0].status: expected "firing" or "resolved", got "pending")");
  EXPECT_EQ(r.errors[1].message, R"(alerts[1].fingerprint: expected 16 hex digits, got "xyz")");
  EXPECT_EQ(r.errors[2].code, "wrong_type");
  EXPECT_EQ(r.errors[2].message, "alerts[2].fingerprint: expected string");
  EXPECT_EQ(r.errors[3].index, 4u);
  EXPECT_EQ(r.errors[3].message, "alerts[4].labels.severity: expected string");
}

TEST_F(AlertDecoderTest, PartialBatchKeepsValidAlertsInOrder) {
  std::string body = "[";
  for (int i = 0; i < 20; ++i) {
    if (i) body += ",";
    body += i == 17 ? R"({"labels":{"n":"17","severity":5}})"
                    : fmt::format(R"({{"labels":{{"n":"{}"}}}})", i);
  }
  body += "]";
  auto r = v2(body);
  EXPECT_EQ(only_error(r), "17 wrong_type alerts[17].labels.severity: expected string");
  EXPECT_EQ(r.accepted, 19u);
  ASSERT_EQ(out_.size(), 19u);
  EXPECT_EQ(label(out_[16], "n"), "16");
  EXPECT_EQ(label(out_[17], "n"), "18");
}

// --- whole body rejected ----------------------------------------------------

struct BadBody {
  bool webhook;
  std::string body;
  const char* code;
  const char* message;  // exact; empty: only the code is checked
  friend void PrintTo(const BadBody& c, std::ostream* os) { *os << c.body.substr(0, 120); }
};

class BadBodyTest : public AlertDecoderTest, public testing::WithParamInterface<BadBody> {};

TEST_P(BadBodyTest, RejectedWholeAndNothingAppended) {
  const BadBody& c = GetParam();
  // Something already in `out` must survive; nothing of this body may stay.
  ASSERT_TRUE(v2(R"([{"labels":{"before":"1"}}])").errors.empty());
  auto r = c.webhook ? webhook(c.body) : v2(c.body);
  ASSERT_TRUE(r.body_rejected()) << only_error(r);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].code, c.code);
  if (*c.message) {
    EXPECT_EQ(r.errors[0].message, c.message);
  }
  EXPECT_EQ(r.accepted, 0u);
  ASSERT_EQ(out_.size(), 1u);
  EXPECT_EQ(label(out_[0], "before"), "1");
}

const std::string kTruncated = R"([{"labels":{"a":"b"}}, {"labels":)";
std::string too_many(bool hook) {
  std::string s = hook ? R"({"version":"4","alerts":[)" : "[";
  for (int i = 0; i < 10'001; ++i) s += i ? R"(,{"labels":{"a":"b"}})" : R"({"labels":{"a":"b"}})";
  return s + (hook ? "]}" : "]");
}

INSTANTIATE_TEST_SUITE_P(
    Cases, BadBodyTest,
    testing::Values(
        BadBody{false, "", "invalid_json", ""}, BadBody{false, "   ", "invalid_json", ""},
        BadBody{false, "not json", "invalid_json", ""},
        BadBody{false, kTruncated, "invalid_json", ""},
        BadBody{false, R"([{"labels":{"a":"b"}}, {"labels":{"a":"b"}})", "invalid_json", ""},
        BadBody{false, R"([{"labels":{"a":"b"}}] [])", "invalid_json",
                "body: invalid JSON: trailing content"},
        BadBody{false, R"([{"labels":{"a":"b"}},])", "invalid_json", ""},
        BadBody{false, R"([{"labels":{"a":"b"} "x":1}])", "invalid_json", ""},
        // Syntax errors in values that are ignored or after the error of an alert.
        BadBody{false, R"([{"labels":{"a":"b"},"extra":[1,2,tru]}])", "invalid_json", ""},
        BadBody{false, R"([{"labels":{"a":"b"},"extra":{"x":nul}}])", "invalid_json", ""},
        BadBody{false, R"([{"labels":{"a":"b"},"extra":01}])", "invalid_json", ""},
        BadBody{false, R"([{"labels":{"a":5},"extra":-}])", "invalid_json", ""},
        BadBody{false, R"([{"labels":{"a":"b\q"}}])", "invalid_json", ""},
        BadBody{false, R"([{"labels":{"a":"b"}}, {"labels":{"a":"\ud800"}}])", "invalid_json", ""},
        BadBody{false, "[{\"labels\":{\"a\":\"\xff\xfe\"}}]", "invalid_json", ""},
        BadBody{false, "[{\"labels\":{\"a\":\"\xc3\x28\"}}]", "invalid_json", ""},
        BadBody{false, "[{\"labels\":{\"a\":\"tab\there\"}}]", "invalid_json", ""},
        BadBody{false, std::string(200, '[') + std::string(200, ']'), "invalid_json", ""},
        BadBody{
            false,
            R"([{"labels":{"a":"b"},"x":)" + std::string(100, '[') + std::string(100, ']') + "}]",
            "invalid_json", "body: nested deeper than 64 levels"},
        BadBody{false, R"({"labels":{"a":"b"}})", "wrong_type", "body: expected array of alerts"},
        BadBody{false, "42", "wrong_type", "body: expected array of alerts"},
        BadBody{false, R"("alerts")", "wrong_type", "body: expected array of alerts"},
        BadBody{false, "null", "wrong_type", "body: expected array of alerts"},
        BadBody{false, "nul", "invalid_json", ""}, BadBody{false, "true false", "invalid_json", ""},
        BadBody{true, "[]", "wrong_type", "body: expected object"},
        BadBody{false, R"({"labels":tru})", "invalid_json", ""},
        BadBody{true, "[1,2,", "invalid_json", ""},
        BadBody{false, too_many(false), "too_many_alerts", "body: more than 10000 alerts"},
        BadBody{true, "", "invalid_json", ""},
        BadBody{true, R"({"version":"4","alerts":[{"labels":{"a":"b"}}, {"labels":)",
                "invalid_json", ""},
        BadBody{true, R"({"alerts":[{"labels":{"a":"b"}}],"receiver":"x",)", "invalid_json", ""},
        BadBody{true, R"({"alerts":[{"labels":{"a":"b"}}]}})", "invalid_json",
                "body: invalid JSON: trailing content"},
        BadBody{true, R"([{"labels":{"a":"b"}}])", "wrong_type", "body: expected object"},
        BadBody{true, R"({"version":"4"})", "missing_field", "alerts: missing required field"},
        BadBody{true, R"({"version":"4","alerts":{"labels":{"a":"b"}}})", "wrong_type",
                "alerts: expected array"},
        BadBody{true, R"({"version":"4","alerts":null})", "wrong_type", "alerts: expected array"},
        BadBody{true, R"({"alerts":[{"labels":{"a":"b"}}],"version":"3"})", "invalid_value",
                R"(version: unsupported webhook version "3", expected "4")"},
        BadBody{true, R"({"version":4,"alerts":[]})", "wrong_type", "version: expected string"},
        BadBody{true, R"({"alerts":[],"alerts":[]})", "invalid_json",
                R"(body: duplicate field "alerts")"},
        BadBody{true, too_many(true), "too_many_alerts", "alerts: more than 10000 alerts"}));

TEST_F(AlertDecoderTest, CustomLimits) {
  AlertDecoder d(interner_, DecodeLimits{.max_labels = 2, .max_alerts = 2, .max_value_bytes = 3});
  std::string body = R"([{"labels":{"a":"b","c":"d","e":"f"}},{"labels":{"a":"abcd"}}])";
  auto r = d.decode_v2_alerts(body, out_);
  ASSERT_EQ(r.errors.size(), 2u);
  EXPECT_EQ(r.errors[0].message, "alerts[0].labels: more than 2 entries");
  EXPECT_EQ(r.errors[1].message, "alerts[1].labels.a: value is 4 bytes, limit is 3");
  body = R"([{"labels":{"a":"b"}},{"labels":{"a":"b"}},{"labels":{"a":"b"}}])";
  r = d.decode_v2_alerts(body, out_);
  EXPECT_EQ(only_error(r), "body too_many_alerts body: more than 2 alerts");
  EXPECT_TRUE(out_.empty());
}

// --- reuse ------------------------------------------------------------------

TEST_F(AlertDecoderTest, DecoderReusedAcrossManyBodies) {
  const std::string good_v2 = load("v2_prometheus.json");
  const std::string good_hook = load("webhook_alertmanager_doc.json");
  std::uint64_t fp = 0;
  for (int i = 0; i < 300; ++i) {
    out_.clear();
    std::string body;
    DecodeResult r;
    switch (i % 4) {
      case 0:
        body = good_v2;
        r = decoder_.decode_v2_alerts(body, out_);
        ASSERT_TRUE(r.errors.empty()) << i;
        ASSERT_EQ(out_.size(), 2u);
        if (fp == 0) fp = out_[0].fingerprint;
        EXPECT_EQ(out_[0].fingerprint, fp);
        break;
      case 1:
        body = kTruncated;
        r = decoder_.decode_v2_alerts(body, out_);
        ASSERT_TRUE(r.body_rejected());
        ASSERT_TRUE(out_.empty());
        break;
      case 2:
        body = good_hook;
        r = decoder_.decode_webhook(body, out_);
        ASSERT_TRUE(r.errors.empty()) << i;
        ASSERT_EQ(out_.size(), 2u);
        break;
      case 3:
        body = fmt::format(R"([{{"labels":{{"i":"{}"}}}},{{"labels":{{"i":5}}}}])", i);
        r = decoder_.decode_v2_alerts(body, out_);
        ASSERT_EQ(r.errors.size(), 1u);
        ASSERT_EQ(out_.size(), 1u);
        EXPECT_EQ(label(out_[0], "i"), std::to_string(i));
        break;
    }
  }
  // Bodies whose capacity already holds the padding, and bodies appended to a full `out`.
  std::string body = good_v2;
  body.reserve(body.size() + 4096);
  ASSERT_TRUE(decoder_.decode_v2_alerts(body, out_).errors.empty());
  EXPECT_EQ(body, good_v2);  // size and content unchanged
}

}  // namespace
}  // namespace aiopsd::alertmanager
