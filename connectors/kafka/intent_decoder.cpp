#include "connectors/kafka/intent_decoder.hpp"

#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <iterator>
#include <utility>

#include "connectors/common/ondemand.hpp"
#include "connectors/common/rfc3339.hpp"

namespace aiopsd::kafka {

namespace od = simdjson::ondemand;
using simdjson::error_code;
using simdjson::SUCCESS;

namespace {

using json::kInvalidJson;
using json::kMaxDepth;
using json::kMaxQuoted;
using json::quote;
constexpr std::string_view kSchemaViolation = "schema_violation";

// Limits of schemas/intent.schema.json; lengths in Unicode code points.
constexpr std::size_t kMaxIdLength = 128;
constexpr std::size_t kMaxActionLength = 128;
constexpr std::size_t kMaxDeviceLength = 253;
constexpr std::size_t kMaxParams = 32;
constexpr std::size_t kMaxParamNameLength = 64;
constexpr std::size_t kMaxParamStringLength = 1024;
constexpr std::size_t kMaxRequestedByLength = 256;
constexpr std::size_t kMaxEnvironmentLength = 64;
constexpr std::size_t kMaxCorrelationIdLength = 128;

constexpr std::string_view kIdPattern = "^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$";
constexpr std::string_view kActionPattern = "^[A-Za-z0-9_.:-]{1,128}$";
constexpr std::string_view kDevicePattern = "^[A-Za-z0-9_.:-]{1,253}$";
constexpr std::string_view kParamNamePattern = "^[A-Za-z_][A-Za-z0-9_]{0,63}$";

bool is_alnum(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
bool is_name_char(char c) noexcept {  // [A-Za-z0-9_.:-]
  return is_alnum(c) || c == '_' || c == '.' || c == ':' || c == '-';
}

// [A-Za-z0-9_.:-]{1,max}
bool is_name(std::string_view s, std::size_t max) noexcept {
  return !s.empty() && s.size() <= max && std::all_of(s.begin(), s.end(), is_name_char);
}

bool is_intent_id(std::string_view s) noexcept {
  return is_name(s, kMaxIdLength) && is_alnum(s.front());
}

bool is_param_name(std::string_view s) noexcept {
  if (s.empty() || s.size() > kMaxParamNameLength) return false;
  auto first = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; };
  if (!first(s.front())) return false;
  return std::all_of(s.begin() + 1, s.end(), [](char c) { return is_alnum(c) || c == '_'; });
}

// Unicode code points in valid UTF-8 (simdjson has validated it), which is
// what JSON Schema's maxLength counts.
std::size_t code_points(std::string_view s) noexcept {
  return static_cast<std::size_t>(std::count_if(
      s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}


// A key as a path segment: bare when it is a plain name, quoted otherwise.
std::string segment(std::string_view key) {
  const bool plain = !key.empty() && key.size() <= kMaxQuoted &&
                     std::all_of(key.begin(), key.end(),
                                 [](char c) { return is_alnum(c) || c == '_' || c == '-'; });
  return plain ? std::string(key) : quote(key);
}

std::string_view type_name(od::json_type t) noexcept {
  switch (t) {
    case od::json_type::array:
      return "array";
    case od::json_type::object:
      return "object";
    case od::json_type::number:
      return "number";
    case od::json_type::string:
      return "string";
    case od::json_type::boolean:
      return "boolean";
    case od::json_type::null:
      return "null";
  }
  return "value";
}

// Top-level fields, as bits of a "seen" mask.
enum Field : unsigned {
  kIntentId = 1u << 0,
  kAction = 1u << 1,
  kTarget = 1u << 2,
  kParams = 1u << 3,
  kRequestedBy = 1u << 4,
  kEnvironment = 1u << 5,
  kCorrelationId = 1u << 6,
  kDryRun = 1u << 7,
  kDeadline = 1u << 8,
};

struct FieldSpec {
  std::string_view name;
  Field bit;
};
constexpr FieldSpec kFields[] = {
    {"intent_id", kIntentId},
    {"action", kAction},
    {"target", kTarget},
    {"params", kParams},
    {"requested_by", kRequestedBy},
    {"environment", kEnvironment},
    {"correlation_id", kCorrelationId},
    {"dry_run", kDryRun},
    {"deadline", kDeadline},
};

}  // namespace

struct IntentDecoder::Impl {
  od::parser parser;
  // Copy of the message with simdjson's padding; its capacity is kept across
  // calls, so steady-state decoding allocates only the Intent's own strings.
  std::string buffer;

  // Per-decode state.
  rules::Intent intent;
  bool failed = false;
  IntentDecodeError error;
  unsigned seen = 0;
  std::size_t id_fields = 0;  // occurrences of "intent_id"
  bool id_valid = false;      // the (single) intent_id is a valid string
  std::string_view where;     // path being read, for invalid_json messages

  void reset() {
    intent.intent_id.clear();
    intent.action.clear();
    intent.device.clear();
    intent.params.clear();
    intent.requested_by.clear();
    intent.environment.clear();
    intent.correlation_id.clear();
    intent.dry_run = false;
    intent.deadline.reset();
    failed = false;
    error.code.clear();
    error.field.clear();
    error.message.clear();
    seen = 0;
    id_fields = 0;
    id_valid = false;
    where = {};
  }

  // Records the first schema violation: field `path`, message "<path>: <what>".
  template <typename... Args>
  void fail(std::string_view path, fmt::format_string<Args...> fmt, Args&&... args) {
    if (failed) return;
    failed = true;
    error.code.assign(kSchemaViolation);
    error.field.assign(path);
    error.message.assign(path.empty() ? std::string_view("document") : path);
    error.message.append(": ");
    fmt::format_to(std::back_inserter(error.message), fmt, std::forward<Args>(args)...);
  }

  // --- generic validating walk ---------------------------------------------

  error_code skip(od::value v) { return json::validating_skip(v, kMaxDepth); }

  // Reads a string value; a value of another type is a violation at `path`
  // (`ok` false, value consumed).
  error_code string_value(od::value v, std::string_view path, std::string_view& out, bool& ok) {
    ok = false;
    od::json_type t;
    if (auto e = v.type().get(t)) return e;
    if (t != od::json_type::string) {
      fail(path, "expected string");
      return skip(v);
    }
    if (auto e = v.get_string().get(out)) return e;
    ok = true;
    return SUCCESS;
  }

  // A restricted name ([A-Za-z0-9_.:-]) such as action or target.device.
  error_code name_field(od::value v, std::string_view path, std::string_view pattern,
                        std::size_t max, std::string& out) {
    std::string_view s;
    bool ok = false;
    if (auto e = string_value(v, path, s, ok)) return e;
    if (!ok || failed) return SUCCESS;
    if (!is_name(s, max)) {
      fail(path, "must match {}, got {}", pattern, quote(s));
      return SUCCESS;
    }
    out.assign(s);
    return SUCCESS;
  }

  // A free-text string of at most `max` code points.
  error_code text_field(od::value v, std::string_view path, std::size_t max, std::string& out) {
    std::string_view s;
    bool ok = false;
    if (auto e = string_value(v, path, s, ok)) return e;
    if (!ok || failed) return SUCCESS;
    if (code_points(s) > max) {
      fail(path, "longer than {} characters", max);
      return SUCCESS;
    }
    out.assign(s);
    return SUCCESS;
  }

  // intent_id is read even after an earlier violation, so that a rejection
  // can still be correlated.
  error_code intent_id_field(od::value v) {
    od::json_type t;
    if (auto e = v.type().get(t)) return e;
    if (t != od::json_type::string) {
      id_valid = false;
      fail("intent_id", "expected string");
      return skip(v);
    }
    std::string_view s;
    if (auto e = v.get_string().get(s)) return e;
    id_valid = is_intent_id(s);
    if (id_valid) {
      intent.intent_id.assign(s);
    } else {
      fail("intent_id", "must match {}, got {}", kIdPattern, quote(s));
    }
    return SUCCESS;
  }

  error_code dry_run_field(od::value v) {
    od::json_type t;
    if (auto e = v.type().get(t)) return e;
    if (t != od::json_type::boolean) {
      fail("dry_run", "expected boolean");
      return skip(v);
    }
    bool b = false;
    if (auto e = v.get_bool().get(b)) return e;
    if (!failed) intent.dry_run = b;
    return SUCCESS;
  }

  error_code deadline_field(od::value v) {
    std::string_view s;
    bool ok = false;
    if (auto e = string_value(v, "deadline", s, ok)) return e;
    if (!ok || failed) return SUCCESS;
    rules::TimePoint t{};
    switch (wire::parse_rfc3339(s, t)) {
      case wire::TimestampParse::kOk:
      case wire::TimestampParse::kClamped:
        intent.deadline = t;
        break;
      case wire::TimestampParse::kZero:
        // Go's zero time is "unset" for alerts; as a deadline it is long past.
        intent.deadline = rules::TimePoint::min();
        break;
      case wire::TimestampParse::kInvalid:
        fail("deadline", "invalid RFC 3339 timestamp {}", quote(s));
        break;
    }
    return SUCCESS;
  }

  error_code target_field(od::value v) {
    od::json_type t;
    if (auto e = v.type().get(t)) return e;
    if (t != od::json_type::object) {
      fail("target", "expected object");
      return skip(v);
    }
    od::object o;
    if (auto e = v.get_object().get(o)) return e;
    bool has_device = false;
    for (auto f : o) {
      where = "target";
      od::field fl;
      if (auto e = std::move(f).get(fl)) return e;
      std::string_view key;
      if (auto e = fl.unescaped_key().get(key)) return e;
      od::value val = fl.value();
      if (failed) {
        if (auto e = skip(val)) return e;
      } else if (key == "device") {
        if (has_device) fail("target.device", "duplicate field");
        has_device = true;
        where = "target.device";
        if (auto e =
                name_field(val, "target.device", kDevicePattern, kMaxDeviceLength, intent.device)) {
          return e;
        }
      } else {
        const std::string path = fmt::format("target.{}", segment(key));
        fail(path, "unknown field");
        if (auto e = skip(val)) return e;
      }
    }
    if (!has_device) fail("target.device", "missing required field");
    return SUCCESS;
  }

  error_code param_value(od::value v, std::string name) {
    const std::string path = fmt::format("params.{}", name);
    od::json_type t;
    if (auto e = v.type().get(t)) return e;
    rules::ParamValue value;
    switch (t) {
      case od::json_type::string: {
        std::string_view s;
        if (auto e = v.get_string().get(s)) return e;
        if (code_points(s) > kMaxParamStringLength) {
          fail(path, "longer than {} characters", kMaxParamStringLength);
          return SUCCESS;
        }
        value.emplace<std::string>(s);
        break;
      }
      case od::json_type::boolean: {
        bool b = false;
        if (auto e = v.get_bool().get(b)) return e;
        value = b;
        break;
      }
      case od::json_type::number: {
        // JSON Schema's integer includes 1.0 and 1e2; the decoder takes only
        // integers written as such (documented in the schema).
        std::string_view raw = v.raw_json_token();
        raw = raw.substr(0, raw.find_last_not_of(" \t\r\n") + 1);
        double d = 0;
        if (auto e = v.get_double().get(d)) return e;  // validates the number
        if (raw.find_first_of(".eE") != std::string_view::npos) {
          fail(path, "expected string, integer or boolean, got number {}", quote(raw));
          return SUCCESS;
        }
        std::int64_t i = 0;
        const auto [end, ec] = std::from_chars(raw.data(), raw.data() + raw.size(), i);
        if (ec != std::errc{} || end != raw.data() + raw.size()) {
          fail(path, "integer out of range (int64)");
          return SUCCESS;
        }
        value = i;
        break;
      }
      case od::json_type::array:
      case od::json_type::object:
      case od::json_type::null:
        fail(path, "expected string, integer or boolean, got {}", type_name(t));
        return skip(v);
    }
    if (!failed) intent.params.emplace(std::move(name), std::move(value));
    return SUCCESS;
  }

  error_code params_field(od::value v) {
    od::json_type t;
    if (auto e = v.type().get(t)) return e;
    if (t != od::json_type::object) {
      fail("params", "expected object");
      return skip(v);
    }
    od::object o;
    if (auto e = v.get_object().get(o)) return e;
    std::size_t entries = 0;
    for (auto f : o) {
      where = "params";
      od::field fl;
      if (auto e = std::move(f).get(fl)) return e;
      std::string_view key;
      if (auto e = fl.unescaped_key().get(key)) return e;
      od::value val = fl.value();
      if (failed) {
        if (auto e = skip(val)) return e;
        continue;
      }
      std::string name;
      if (entries == kMaxParams) {
        fail("params", "more than {} entries", kMaxParams);
      } else if (!is_param_name(key)) {
        fail("params", "invalid parameter name {}: must match {}", quote(key), kParamNamePattern);
      } else if (name.assign(key); intent.params.contains(name)) {
        fail(fmt::format("params.{}", name), "duplicate field");
      }
      if (failed) {
        if (auto e = skip(val)) return e;
        continue;
      }
      ++entries;
      if (auto e = param_value(val, std::move(name))) return e;
    }
    return SUCCESS;
  }

  error_code field(std::string_view key, od::value val) {
    const FieldSpec* spec = nullptr;
    for (const FieldSpec& f : kFields) {
      if (f.name == key) spec = &f;
    }
    if (spec == nullptr) {
      fail(segment(key), "unknown field");
      return skip(val);
    }
    where = spec->name;
    if (spec->bit == kIntentId) ++id_fields;
    if ((seen & spec->bit) != 0) fail(spec->name, "duplicate field");
    seen |= spec->bit;
    if (spec->bit == kIntentId) return intent_id_field(val);
    if (failed) return skip(val);
    switch (spec->bit) {
      case kIntentId:
        break;
      case kAction:
        return name_field(val, "action", kActionPattern, kMaxActionLength, intent.action);
      case kTarget:
        return target_field(val);
      case kParams:
        return params_field(val);
      case kRequestedBy:
        return text_field(val, "requested_by", kMaxRequestedByLength, intent.requested_by);
      case kEnvironment:
        return text_field(val, "environment", kMaxEnvironmentLength, intent.environment);
      case kCorrelationId:
        return text_field(val, "correlation_id", kMaxCorrelationIdLength, intent.correlation_id);
      case kDryRun:
        return dry_run_field(val);
      case kDeadline:
        return deadline_field(val);
    }
    return skip(val);
  }

  // --- document ---------------------------------------------------------------

  IntentDecodeResult reject_json(std::string_view what) {
    IntentDecodeResult r;
    r.error = IntentDecodeError{
        std::string(kInvalidJson), std::string(where),
        fmt::format("{}: invalid JSON{}", where.empty() ? "document" : where, what)};
    if (id_fields == 1 && id_valid) r.intent_id = intent.intent_id;
    return r;
  }

  IntentDecodeResult reject_json(od::document& doc, error_code e) {
    if (e == simdjson::DEPTH_ERROR) {
      return reject_json(fmt::format(": nested deeper than {} levels", kMaxDepth));
    }
    // Inside this walk INCORRECT_TYPE means a token that is not what its
    // first character promised ("tru", "-x"): simdjson's text would mislead.
    const std::string_view what =
        e == simdjson::INCORRECT_TYPE ? "malformed value" : simdjson::error_message(e);
    // Where the walk stopped; at byte 0, or for a truncated document, that says nothing.
    const char* loc = nullptr;
    if (e != simdjson::INCOMPLETE_ARRAY_OR_OBJECT && doc.current_location().get(loc) == SUCCESS &&
        loc > buffer.data() && loc <= buffer.data() + buffer.size()) {
      return reject_json(fmt::format(" at byte {}: {}", loc - buffer.data(), what));
    }
    return reject_json(fmt::format(": {}", what));
  }

  IntentDecodeResult decode(std::string_view bytes) {
    reset();
    buffer.reserve(bytes.size() + simdjson::SIMDJSON_PADDING);
    buffer.assign(bytes);
    od::document doc;
    if (auto e = parser
                     .iterate(simdjson::padded_string_view(buffer.data(), buffer.size(),
                                                           buffer.capacity()))
                     .get(doc)) {
      return reject_json(fmt::format(": {}", simdjson::error_message(e)));
    }
    od::json_type t;
    if (auto e = doc.type().get(t)) return reject_json(doc, e);
    if (t != od::json_type::object) {
      return reject_json(fmt::format(": expected an object, got {}", type_name(t)));
    }
    od::object obj;
    if (auto e = doc.get_object().get(obj)) return reject_json(doc, e);
    for (auto f : obj) {
      where = {};
      od::field fl;
      if (auto e = std::move(f).get(fl)) return reject_json(doc, e);
      std::string_view key;
      if (auto e = fl.unescaped_key().get(key)) return reject_json(doc, e);
      if (auto e = field(key, fl.value())) return reject_json(doc, e);
    }
    where = {};
    if (!json::at_end(doc)) return reject_json(": trailing content");

    if ((seen & kIntentId) == 0) {
      fail("intent_id", "missing required field");
    } else if ((seen & kAction) == 0) {
      fail("action", "missing required field");
    } else if ((seen & kTarget) == 0) {
      fail("target", "missing required field");
    }

    IntentDecodeResult r;
    if (id_fields == 1 && id_valid) r.intent_id = intent.intent_id;
    if (failed) {
      r.error = std::move(error);
      error = IntentDecodeError{};
    } else {
      r.intent = std::move(intent);
      intent = rules::Intent{};
    }
    return r;
  }
};

IntentDecoder::IntentDecoder() : impl_(std::make_unique<Impl>()) {}

IntentDecoder::~IntentDecoder() = default;

IntentDecodeResult IntentDecoder::decode(std::string_view bytes) { return impl_->decode(bytes); }

}  // namespace aiopsd::kafka
