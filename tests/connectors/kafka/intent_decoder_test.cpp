#include "connectors/kafka/intent_decoder.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <simdjson.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace aiopsd::kafka {
namespace {

using namespace std::chrono;
using rules::ParamValue;

std::string describe(const IntentDecodeResult& r) {
  if (r.error) {
    return fmt::format("{} [{}] {} (id {:?})", r.error->code, r.error->field, r.error->message,
                       r.intent_id);
  }
  return fmt::format("ok (id {:?})", r.intent_id);
}

system_clock::time_point utc(int y, unsigned m, unsigned d, int h, int mi, int s) {
  return system_clock::time_point{sys_days{year{y} / month{m} / day{d}} + hours{h} + minutes{mi} +
                                  seconds{s}};
}

// --- schema examples --------------------------------------------------------------

std::vector<std::string> schema_examples() {
  simdjson::dom::parser parser;
  simdjson::dom::element schema;
  const std::string path = std::string(AIOPSD_SOURCE_DIR) + "/schemas/intent.schema.json";
  EXPECT_EQ(parser.load(path).get(schema), simdjson::SUCCESS) << path;
  simdjson::dom::array examples;
  EXPECT_EQ(schema["examples"].get_array().get(examples), simdjson::SUCCESS);
  std::vector<std::string> out;
  for (simdjson::dom::element ex : examples) out.push_back(simdjson::minify(ex));
  return out;
}

TEST(IntentDecoder, EverySchemaExampleDecodes) {
  const auto examples = schema_examples();
  ASSERT_GE(examples.size(), 4u);
  IntentDecoder decoder;
  for (const auto& ex : examples) {
    const auto r = decoder.decode(ex);
    ASSERT_TRUE(r.intent) << ex << "\n" << describe(r);
    EXPECT_FALSE(r.error);
    EXPECT_EQ(r.intent_id, r.intent->intent_id);
    // The fields agree with an independent parse of the same example.
    simdjson::dom::parser parser;
    simdjson::dom::element doc = parser.parse(ex);
    EXPECT_EQ(r.intent->intent_id, std::string_view(doc["intent_id"]));
    EXPECT_EQ(r.intent->action, std::string_view(doc["action"]));
    EXPECT_EQ(r.intent->device, std::string_view(doc["target"]["device"]));
    simdjson::dom::object params;
    if (doc["params"].get_object().get(params) == simdjson::SUCCESS) {
      EXPECT_EQ(r.intent->params.size(), params.size()) << ex;
      for (auto [key, value] : params) {
        auto it = r.intent->params.find(std::string(key));
        ASSERT_NE(it, r.intent->params.end()) << key;
        if (value.is_string()) {
          EXPECT_EQ(std::get<std::string>(it->second), std::string_view(value));
        } else if (value.is_bool()) {
          EXPECT_EQ(std::get<bool>(it->second), bool(value));
        } else {
          EXPECT_EQ(std::get<std::int64_t>(it->second), std::int64_t(value));
        }
      }
    } else {
      EXPECT_TRUE(r.intent->params.empty());
    }
    bool dry_run = false;
    if (doc["dry_run"].get_bool().get(dry_run) != simdjson::SUCCESS) dry_run = false;
    EXPECT_EQ(r.intent->dry_run, dry_run) << ex;
    EXPECT_EQ(r.intent->deadline.has_value(), doc["deadline"].error() == simdjson::SUCCESS) << ex;
  }
}

TEST(IntentDecoder, FullIntent) {
  IntentDecoder decoder;
  const auto r = decoder.decode(R"({
    "deadline": "2024-06-01T14:30:00.250+02:00",
    "params": {"port": "Ethernet1/7", "vlan": 120, "force": false, "neg": -3},
    "dry_run": true,
    "target": {"device": "leaf-12.dc1.example.net"},
    "action": "bounce_port",
    "intent_id": "01HQ7Z3K9V6G2M8N4P5R7T1X0Y",
    "requested_by": "alice@example.com",
    "environment": "prod",
    "correlation_id": "INC-20931"
  })");
  ASSERT_TRUE(r.intent) << describe(r);
  const rules::Intent& in = *r.intent;
  EXPECT_EQ(r.intent_id, "01HQ7Z3K9V6G2M8N4P5R7T1X0Y");
  EXPECT_EQ(in.intent_id, "01HQ7Z3K9V6G2M8N4P5R7T1X0Y");
  EXPECT_EQ(in.action, "bounce_port");
  EXPECT_EQ(in.device, "leaf-12.dc1.example.net");
  ASSERT_EQ(in.params.size(), 4u);
  EXPECT_EQ(in.params.at("port"), ParamValue(std::string("Ethernet1/7")));
  EXPECT_EQ(in.params.at("vlan"), ParamValue(std::int64_t{120}));
  EXPECT_EQ(in.params.at("force"), ParamValue(false));
  EXPECT_EQ(in.params.at("neg"), ParamValue(std::int64_t{-3}));
  EXPECT_EQ(in.requested_by, "alice@example.com");
  EXPECT_EQ(in.environment, "prod");
  EXPECT_EQ(in.correlation_id, "INC-20931");
  EXPECT_TRUE(in.dry_run);
  ASSERT_TRUE(in.deadline);
  EXPECT_EQ(*in.deadline, utc(2024, 6, 1, 12, 30, 0) + milliseconds{250});
}

TEST(IntentDecoder, MinimalIntentHasDefaults) {
  IntentDecoder decoder;
  const auto r = decoder.decode(R"({"intent_id":"a","action":"x","target":{"device":"r1"}})");
  ASSERT_TRUE(r.intent) << describe(r);
  EXPECT_FALSE(r.intent->dry_run);
  EXPECT_FALSE(r.intent->deadline);
  EXPECT_TRUE(r.intent->params.empty());
  EXPECT_EQ(r.intent->requested_by, "");
}

TEST(IntentDecoder, Deadlines) {
  struct Case {
    std::string_view text;
    system_clock::time_point want;
  };
  const Case cases[] = {
      {"2024-06-01T12:30:00Z", utc(2024, 6, 1, 12, 30, 0)},
      {"2024-06-01t12:30:00z", utc(2024, 6, 1, 12, 30, 0)},
      {"2024-06-01T12:30:00-01:30", utc(2024, 6, 1, 14, 0, 0)},
      {"2024-02-29T00:00:00.000000001Z", utc(2024, 2, 29, 0, 0, 0) + nanoseconds{1}},
      {"2024-02-29T00:00:00.1234567899Z", utc(2024, 2, 29, 0, 0, 0) + nanoseconds{123456789}},
      // Outside what system_clock holds: clamped; Go's zero time is long past.
      {"9999-12-31T23:59:59Z", system_clock::time_point::max()},
      {"0001-01-01T00:00:00Z", system_clock::time_point::min()},
  };
  IntentDecoder decoder;
  for (const auto& c : cases) {
    const auto r = decoder.decode(fmt::format(
        R"({{"intent_id":"a","action":"x","target":{{"device":"r1"}},"deadline":"{}"}})", c.text));
    ASSERT_TRUE(r.intent) << c.text << ": " << describe(r);
    ASSERT_TRUE(r.intent->deadline) << c.text;
    EXPECT_EQ(*r.intent->deadline, c.want) << c.text;
  }
}

TEST(IntentDecoder, HostileValuesArePreservedByteExact) {
  const std::string hostile = "\"; reboot\n\r\t\\ \x01 \xC3\xA9 \xF0\x9F\x99\x8F {{x}} $(id)";
  std::string escaped;
  for (unsigned char c : hostile) {
    if (c == '"' || c == '\\') {
      escaped += '\\';
      escaped += static_cast<char>(c);
    } else if (c < 0x20) {
      escaped += fmt::format("\\u{:04x}", c);
    } else {
      escaped += static_cast<char>(c);
    }
  }
  IntentDecoder decoder;
  const auto r = decoder.decode(fmt::format(
      R"({{"intent_id":"a","action":"x","target":{{"device":"r1"}},"requested_by":"{0}",)"
      R"("environment":"\u00e9\ud83d\ude4f\u0000","correlation_id":"{0}","params":{{"note":"{0}"}}}})",
      escaped));
  ASSERT_TRUE(r.intent) << describe(r);
  EXPECT_EQ(r.intent->requested_by, hostile);
  EXPECT_EQ(r.intent->correlation_id, hostile);
  EXPECT_EQ(std::get<std::string>(r.intent->params.at("note")), hostile);
  EXPECT_EQ(r.intent->environment, std::string("\xC3\xA9\xF0\x9F\x99\x8F\0", 7));
}

TEST(IntentDecoder, LengthsCountCodePoints) {
  // 64 two-byte characters: 128 bytes, within environment's 64 characters.
  std::string env;
  for (int i = 0; i < 64; ++i) env += "\xC3\xA9";
  IntentDecoder decoder;
  const auto base =
      R"({{"intent_id":"a","action":"x","target":{{"device":"r1"}},"environment":"{}"}})";
  auto r = decoder.decode(fmt::format(fmt::runtime(base), env));
  ASSERT_TRUE(r.intent) << describe(r);
  EXPECT_EQ(r.intent->environment, env);
  r = decoder.decode(fmt::format(fmt::runtime(base), env + "e"));
  EXPECT_EQ(describe(r),
            R"(schema_violation [environment] environment: longer than 64 characters (id "a"))");
}

TEST(IntentDecoder, ParserIsReusedAcrossDocumentsOfAnySize) {
  IntentDecoder decoder;
  std::string big = R"({"intent_id":"a","action":"x","target":{"device":"r1"},"params":{)";
  for (int i = 0; i < 32; ++i) {
    if (i) big += ',';
    big += fmt::format(R"("p{}":"{}")", i, std::string(1000, 'x'));
  }
  big += "}}";
  for (int round = 0; round < 3; ++round) {
    auto r = decoder.decode(big);
    ASSERT_TRUE(r.intent) << describe(r);
    EXPECT_EQ(r.intent->params.size(), 32u);
    r = decoder.decode(R"({"intent_id":"b","action":"y","target":{"device":"r2"}})");
    ASSERT_TRUE(r.intent) << describe(r);
    EXPECT_TRUE(r.intent->params.empty());
    EXPECT_EQ(r.intent->intent_id, "b");
    r = decoder.decode(R"({"intent_id":"c","action":"y","target":{"device":"r2"},"x":1})");
    EXPECT_FALSE(r.intent);
    EXPECT_EQ(r.intent_id, "c");
  }
}

// --- rejections -------------------------------------------------------------------

struct Bad {
  std::string_view name;
  std::string doc;
  // "code [field] message (id "recovered")"
  std::string want;
};

// A valid intent with `extra` spliced in before the closing brace.
std::string with(std::string_view extra) {
  return fmt::format(R"({{"intent_id":"id-1","action":"x","target":{{"device":"r1"}}{}}})", extra);
}

std::string params_entries(int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s += fmt::format(R"({}"p{}":{})", i ? "," : "", i, i);
  return s;
}

std::vector<Bad> bad_cases() {
  return {
      // Not JSON, not an object, trailing content.
      {"empty", "", R"(invalid_json [] document: invalid JSON: Empty: no JSON found (id ""))"},
      {"array", "[1,2]",
       R"(invalid_json [] document: invalid JSON: expected an object, got array (id ""))"},
      {"string", R"("intent")",
       R"(invalid_json [] document: invalid JSON: expected an object, got string (id ""))"},
      {"unclosed", R"({"intent_id":"id-1","action":)",
       R"(invalid_json [] document: invalid JSON: JSON document ended early in the middle of an object or array. (id ""))"},
      {"trailing", with("") + " {}",
       R"(invalid_json [] document: invalid JSON: trailing content (id "id-1"))"},
      {"bad_literal_after_violation", R"({"intent_id":"id-1","dryrun":1,"x":tru})",
       R"(invalid_json [] document: invalid JSON at byte 35: malformed value (id "id-1"))"},
      {"bad_param_number", with(R"(,"params":{"n":-})"),
       R"(invalid_json [params] params: invalid JSON at byte 72: malformed value (id "id-1"))"},
      {"too_deep", with(R"(,"x":)" + std::string(70, '[') + std::string(70, ']')),
       R"(invalid_json [] document: invalid JSON: nested deeper than 64 levels (id "id-1"))"},
      // Required fields.
      {"missing_intent_id", R"({"action":"x","target":{"device":"r1"}})",
       R"(schema_violation [intent_id] intent_id: missing required field (id ""))"},
      {"missing_action", R"({"intent_id":"id-1","target":{"device":"r1"}})",
       R"(schema_violation [action] action: missing required field (id "id-1"))"},
      {"missing_target", R"({"intent_id":"id-1","action":"x"})",
       R"(schema_violation [target] target: missing required field (id "id-1"))"},
      {"missing_device", R"({"intent_id":"id-1","action":"x","target":{}})",
       R"(schema_violation [target.device] target.device: missing required field (id "id-1"))"},
      {"empty_object", "{}",
       R"(schema_violation [intent_id] intent_id: missing required field (id ""))"},
      // Unknown and duplicate fields.
      {"misspelt_dry_run", with(R"(,"dryrun":true)"),
       R"(schema_violation [dryrun] dryrun: unknown field (id "id-1"))"},
      {"unknown_target_field",
       R"({"intent_id":"id-1","action":"x","target":{"device":"r1","port":1}})",
       R"(schema_violation [target.port] target.port: unknown field (id "id-1"))"},
      {"hostile_unknown_key", with(R"(,"dry run\n\u0007":true)"),
       R"(schema_violation ["dry run\n\x07"] "dry run\n\x07": unknown field (id "id-1"))"},
      {"duplicate_dry_run", with(R"(,"dry_run":false,"dry_run":true)"),
       R"(schema_violation [dry_run] dry_run: duplicate field (id "id-1"))"},
      {"duplicate_intent_id", with(R"(,"intent_id":"id-2")"),
       R"(schema_violation [intent_id] intent_id: duplicate field (id ""))"},
      {"duplicate_device",
       R"({"intent_id":"id-1","action":"x","target":{"device":"r1","device":"r2"}})",
       R"(schema_violation [target.device] target.device: duplicate field (id "id-1"))"},
      {"duplicate_param", with(R"(,"params":{"port":1,"port":2})"),
       R"(schema_violation [params.port] params.port: duplicate field (id "id-1"))"},
      // Types.
      {"action_not_string", R"({"intent_id":"id-1","action":7,"target":{"device":"r1"}})",
       R"(schema_violation [action] action: expected string (id "id-1"))"},
      {"intent_id_not_string", R"({"intent_id":42,"action":"x","target":{"device":"r1"}})",
       R"(schema_violation [intent_id] intent_id: expected string (id ""))"},
      {"target_not_object", R"({"intent_id":"id-1","action":"x","target":"r1"})",
       R"(schema_violation [target] target: expected object (id "id-1"))"},
      {"device_not_string", R"({"intent_id":"id-1","action":"x","target":{"device":["r1"]}})",
       R"(schema_violation [target.device] target.device: expected string (id "id-1"))"},
      {"device_null", R"({"intent_id":"id-1","action":"x","target":{"device":null}})",
       R"(schema_violation [target.device] target.device: expected string (id "id-1"))"},
      {"params_not_object", with(R"(,"params":[])"),
       R"(schema_violation [params] params: expected object (id "id-1"))"},
      {"param_object", with(R"(,"params":{"port":{"name":"Et1"}})"),
       R"(schema_violation [params.port] params.port: expected string, integer or boolean, got object (id "id-1"))"},
      {"param_array", with(R"(,"params":{"port":[1]})"),
       R"(schema_violation [params.port] params.port: expected string, integer or boolean, got array (id "id-1"))"},
      {"param_null", with(R"(,"params":{"port":null})"),
       R"(schema_violation [params.port] params.port: expected string, integer or boolean, got null (id "id-1"))"},
      {"param_float", with(R"(,"params":{"ratio":1.5})"),
       R"(schema_violation [params.ratio] params.ratio: expected string, integer or boolean, got number "1.5" (id "id-1"))"},
      {"param_integral_float", with(R"(,"params":{"n":1.0 })"),
       R"(schema_violation [params.n] params.n: expected string, integer or boolean, got number "1.0" (id "id-1"))"},
      {"param_exponent", with(R"(,"params":{"n":1e2})"),
       R"(schema_violation [params.n] params.n: expected string, integer or boolean, got number "1e2" (id "id-1"))"},
      {"param_above_int64", with(R"(,"params":{"n":9223372036854775808})"),
       R"(schema_violation [params.n] params.n: integer out of range (int64) (id "id-1"))"},
      {"param_below_int64", with(R"(,"params":{"n":-9223372036854775809})"),
       R"(schema_violation [params.n] params.n: integer out of range (int64) (id "id-1"))"},
      {"param_huge", with(R"(,"params":{"n":123456789012345678901234567890})"),
       R"(schema_violation [params.n] params.n: integer out of range (int64) (id "id-1"))"},
      {"dry_run_string", with(R"(,"dry_run":"false")"),
       R"(schema_violation [dry_run] dry_run: expected boolean (id "id-1"))"},
      {"dry_run_number", with(R"(,"dry_run":0)"),
       R"(schema_violation [dry_run] dry_run: expected boolean (id "id-1"))"},
      {"requested_by_number", with(R"(,"requested_by":1)"),
       R"(schema_violation [requested_by] requested_by: expected string (id "id-1"))"},
      {"deadline_number", with(R"(,"deadline":1717245000)"),
       R"(schema_violation [deadline] deadline: expected string (id "id-1"))"},
      // Values.
      {"deadline_tomorrow", with(R"(,"deadline":"tomorrow")"),
       R"(schema_violation [deadline] deadline: invalid RFC 3339 timestamp "tomorrow" (id "id-1"))"},
      {"deadline_no_offset", with(R"(,"deadline":"2024-06-01T12:30:00")"),
       R"(schema_violation [deadline] deadline: invalid RFC 3339 timestamp "2024-06-01T12:30:00" (id "id-1"))"},
      {"deadline_space", with(R"(,"deadline":"2024-06-01 12:30:00Z")"),
       R"(schema_violation [deadline] deadline: invalid RFC 3339 timestamp "2024-06-01 12:30:00Z" (id "id-1"))"},
      {"deadline_feb_30", with(R"(,"deadline":"2024-02-30T00:00:00Z")"),
       R"(schema_violation [deadline] deadline: invalid RFC 3339 timestamp "2024-02-30T00:00:00Z" (id "id-1"))"},
      {"deadline_leap_second", with(R"(,"deadline":"2016-12-31T23:59:60Z")"),
       R"(schema_violation [deadline] deadline: invalid RFC 3339 timestamp "2016-12-31T23:59:60Z" (id "id-1"))"},
      {"intent_id_empty", R"({"intent_id":"","action":"x","target":{"device":"r1"}})",
       R"(schema_violation [intent_id] intent_id: must match ^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$, got "" (id ""))"},
      {"intent_id_leading_dash", R"({"intent_id":"-1","action":"x","target":{"device":"r1"}})",
       R"(schema_violation [intent_id] intent_id: must match ^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$, got "-1" (id ""))"},
      {"intent_id_too_long",
       fmt::format(R"({{"intent_id":"{}","action":"x","target":{{"device":"r1"}}}})",
                   std::string(129, 'a')),
       fmt::format(
           R"(schema_violation [intent_id] intent_id: must match ^[A-Za-z0-9][A-Za-z0-9_.:-]{{0,127}}$, got "{}"... (id ""))",
           std::string(64, 'a'))},
      {"action_space", R"({"intent_id":"id-1","action":"show run","target":{"device":"r1"}})",
       R"(schema_violation [action] action: must match ^[A-Za-z0-9_.:-]{1,128}$, got "show run" (id "id-1"))"},
      {"action_empty", R"({"intent_id":"id-1","action":"","target":{"device":"r1"}})",
       R"(schema_violation [action] action: must match ^[A-Za-z0-9_.:-]{1,128}$, got "" (id "id-1"))"},
      {"device_newline", R"({"intent_id":"id-1","action":"x","target":{"device":"r1\n"}})",
       R"(schema_violation [target.device] target.device: must match ^[A-Za-z0-9_.:-]{1,253}$, got "r1\n" (id "id-1"))"},
      {"device_injection", R"({"intent_id":"id-1","action":"x","target":{"device":"r1;reboot"}})",
       R"(schema_violation [target.device] target.device: must match ^[A-Za-z0-9_.:-]{1,253}$, got "r1;reboot" (id "id-1"))"},
      {"device_too_long",
       fmt::format(R"({{"intent_id":"id-1","action":"x","target":{{"device":"{}"}}}})",
                   std::string(254, 'd')),
       fmt::format(
           R"(schema_violation [target.device] target.device: must match ^[A-Za-z0-9_.:-]{{1,253}}$, got "{}"... (id "id-1"))",
           std::string(64, 'd'))},
      {"deadline_trailing_newline", with(R"(,"deadline":"2024-06-01T12:30:00Z\n")"),
       R"(schema_violation [deadline] deadline: invalid RFC 3339 timestamp "2024-06-01T12:30:00Z\n" (id "id-1"))"},
      {"param_name_too_long", with(R"(,"params":{")" + std::string(65, 'p') + R"(":1})"),
       fmt::format(
           R"(schema_violation [params] params: invalid parameter name "{}"...: must match ^[A-Za-z_][A-Za-z0-9_]{{0,63}}$ (id "id-1"))",
           std::string(64, 'p'))},
      {"environment_too_long", with(R"(,"environment":")" + std::string(130, 'x') + R"(")"),
       R"(schema_violation [environment] environment: longer than 64 characters (id "id-1"))"},
      {"param_leading_zero", with(R"(,"params":{"n":01})"),
       R"(invalid_json [params] params: invalid JSON at byte 72: Problem while parsing a number (id "id-1"))"},
      {"too_many_params", with(R"(,"params":{)" + params_entries(33) + "}"),
       R"(schema_violation [params] params: more than 32 entries (id "id-1"))"},
      {"param_name_digit", with(R"(,"params":{"1port":1})"),
       R"(schema_violation [params] params: invalid parameter name "1port": must match ^[A-Za-z_][A-Za-z0-9_]{0,63}$ (id "id-1"))"},
      {"param_name_dot", with(R"(,"params":{"a.b":1})"),
       R"(schema_violation [params] params: invalid parameter name "a.b": must match ^[A-Za-z_][A-Za-z0-9_]{0,63}$ (id "id-1"))"},
      {"param_string_too_long", with(R"(,"params":{"s":")" + std::string(1025, 'x') + R"("})"),
       R"(schema_violation [params.s] params.s: longer than 1024 characters (id "id-1"))"},
      {"requested_by_too_long", with(R"(,"requested_by":")" + std::string(257, 'x') + R"(")"),
       R"(schema_violation [requested_by] requested_by: longer than 256 characters (id "id-1"))"},
      {"correlation_id_too_long", with(R"(,"correlation_id":")" + std::string(129, 'x') + R"(")"),
       R"(schema_violation [correlation_id] correlation_id: longer than 128 characters (id "id-1"))"},
      // The first violation is reported; intent_id is recovered wherever it is.
      {"first_violation_wins",
       R"({"dryrun":true,"action":7,"target":{"device":"r1"},"intent_id":"late-id"})",
       R"(schema_violation [dryrun] dryrun: unknown field (id "late-id"))"},
      {"id_after_bad_params",
       R"({"action":"x","params":{"a":{}},"target":{"device":"r1"},"intent_id":"late-id"})",
       R"(schema_violation [params.a] params.a: expected string, integer or boolean, got object (id "late-id"))"},
      {"invalid_id_not_recovered", R"({"intent_id":"bad id","dryrun":true})",
       R"(schema_violation [intent_id] intent_id: must match ^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$, got "bad id" (id ""))"},
  };
}

TEST(IntentDecoder, Rejections) {
  IntentDecoder decoder;
  for (const auto& c : bad_cases()) {
    const auto r = decoder.decode(c.doc);
    EXPECT_FALSE(r.intent) << c.name;
    EXPECT_EQ(describe(r), c.want) << c.name;
    ASSERT_TRUE(r.error) << c.name;
    // Messages are single-line and bounded whatever the input.
    EXPECT_EQ(r.error->message.find_first_of("\n\r"), std::string::npos) << c.name;
    EXPECT_LE(r.error->message.size(), 400u) << c.name;
  }
}

TEST(IntentDecoder, RejectionThenSuccessLeavesNoState) {
  IntentDecoder decoder;
  auto r = decoder.decode(with(R"(,"params":{"port":"Et1"},"dry_run":true,"dryrun":1)"));
  ASSERT_FALSE(r.intent);
  r = decoder.decode(with(""));
  ASSERT_TRUE(r.intent) << describe(r);
  EXPECT_TRUE(r.intent->params.empty());
  EXPECT_FALSE(r.intent->dry_run);
}

}  // namespace
}  // namespace aiopsd::kafka
