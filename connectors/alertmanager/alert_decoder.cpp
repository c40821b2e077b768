#include "connectors/alertmanager/alert_decoder.hpp"

#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <utility>

#include "connectors/common/ondemand.hpp"
#include "connectors/common/rfc3339.hpp"

namespace aiopsd::alertmanager {

namespace od = simdjson::ondemand;
using simdjson::error_code;
using simdjson::SUCCESS;

namespace {

using json::kInvalidJson;
using json::kMaxDepth;
using json::quote;
constexpr std::string_view kWrongType = "wrong_type";
constexpr std::string_view kMissingField = "missing_field";
constexpr std::string_view kInvalidTimestamp = "invalid_timestamp";
constexpr std::string_view kInvalidValue = "invalid_value";
constexpr std::string_view kTooManyLabels = "too_many_labels";
constexpr std::string_view kTooManyAlerts = "too_many_alerts";
// The interner's budget (engine.max_label_bytes) is spent: a server-side
// limit, not a fault of the alert; answered 503 so the sender retries.
constexpr std::string_view kLabelBudget = "label_budget_exhausted";

bool is_label_name(std::string_view s) noexcept {
  if (s.empty()) return false;
  auto alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; };
  if (!alpha(s[0])) return false;
  return std::all_of(s.begin() + 1, s.end(),
                     [&](char c) { return alpha(c) || (c >= '0' && c <= '9'); });
}


int hex_digit(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool parse_fingerprint(std::string_view s, std::uint64_t& out) noexcept {
  if (s.size() != 16) return false;
  std::uint64_t v = 0;
  for (char c : s) {
    const int d = hex_digit(c);
    if (d < 0) return false;
    v = (v << 4) | static_cast<std::uint64_t>(d);
  }
  out = v;
  return true;
}

enum class Kind { kV2, kWebhook };

}  // namespace

struct AlertDecoder::Impl {
  Impl(rules::Interner& in, DecodeLimits l, const rules::Clock* c)
      : interner(in), cache(in), limits(l), clock(c) {}

  rules::Interner& interner;
  rules::InternCache cache;  // this decoder's thread only: no lock per label
  DecodeLimits limits;
  const rules::Clock* clock;  // null: the system clock
  od::parser parser;

  // Per-alert scratch, reused across alerts and bodies so that decoding itself
  // allocates nothing once warm; only the appended Event's own storage is allocated.
  std::vector<rules::Label> labels;
  std::vector<rules::Annotation> annotations;
  std::string annotation_text;
  std::string generator_url;
  rules::TimePoint starts_at{};
  rules::TimePoint ends_at{};
  bool has_status = false;
  rules::EventStatus status = rules::EventStatus::kFiring;
  bool has_fingerprint = false;
  std::uint64_t fingerprint = 0;
  bool has_labels = false;

  // The current alert's first error (one per alert).
  std::size_t index = 0;
  bool failed = false;
  std::string fail_code;
  std::string fail_message;

  rules::TimePoint now{};

  // --- error helpers ------------------------------------------------------

  template <typename... Args>
  void fail(std::string_view code, fmt::format_string<Args...> fmt, Args&&... args) {
    if (failed) return;
    failed = true;
    fail_code.assign(code);
    fail_message = fmt::format("alerts[{}].", index);
    fmt::format_to(std::back_inserter(fail_message), fmt, std::forward<Args>(args)...);
  }

  // --- generic validating walk ------------------------------------------

  error_code skip(od::value v) { return json::validating_skip(v, kMaxDepth); }

  // Reads an optional string field. Returns a JSON error, or SUCCESS with
  // `present` false (null, wrong type recorded as the alert's error) or true.
  error_code optional_string(od::value v, std::string_view field, std::string_view& out,
                             bool& present) {
    present = false;
    od::json_type t;
    if (auto e = v.type().get(t)) return e;
    if (t == od::json_type::null) return skip(v);
    if (t != od::json_type::string) {
      fail(kWrongType, "{}: expected string", field);
      return skip(v);
    }
    if (auto e = v.get_string().get(out)) return e;
    present = true;
    return SUCCESS;
  }

  // --- fields -------------------------------------------------------------

  // A null object counts as absent (`present` false).
  // Decodes a string map into interned labels (`labels` set) or into
  // annotations whose values go to annotation_text (`labels` null).
  error_code label_set(od::value v, std::string_view field, std::vector<rules::Label>* labels_out,
                       bool& present) {
    if (labels_out) labels_out->clear();
    std::size_t entries = 0;
    present = false;
    od::json_type t;
    if (auto e = v.type().get(t)) return e;
    if (t == od::json_type::null) return skip(v);
    present = true;
    if (t != od::json_type::object) {
      fail(kWrongType, "{}: expected object", field);
      return skip(v);
    }
    od::object o;
    if (auto e = v.get_object().get(o)) return e;
    for (auto f : o) {
      od::field fl;
      if (auto e = std::move(f).get(fl)) return e;
      std::string_view name;
      if (auto e = fl.unescaped_key().get(name)) return e;
      od::value val = fl.value();
      if (failed) {
        if (auto e = skip(val)) return e;
        continue;
      }
      if (entries == limits.max_labels) {
        fail(kTooManyLabels, "{}: more than {} entries", field, limits.max_labels);
        if (auto e = skip(val)) return e;
        continue;
      }
      if (!is_label_name(name)) {
        fail(kInvalidValue, "{}: invalid label name {}", field, quote(name));
        if (auto e = skip(val)) return e;
        continue;
      }
      od::json_type vt;
      if (auto e = val.type().get(vt)) return e;
      if (vt != od::json_type::string) {
        fail(kWrongType, "{}.{}: expected string", field, name);
        if (auto e = skip(val)) return e;
        continue;
      }
      // `name` lives in the parser's string buffer, which get_string() appends
      // to without moving, so it stays valid here.
      std::string_view value;
      if (auto e = val.get_string().get(value)) return e;
      if (value.size() > limits.max_value_bytes) {
        fail(kInvalidValue, "{}.{}: value is {} bytes, limit is {}", field, name, value.size(),
             limits.max_value_bytes);
        continue;
      }
      ++entries;
      // Names and values come from the sender: interned within the budget.
      const std::optional<rules::Symbol> name_id = cache.try_intern(name);
      const std::optional<rules::Symbol> value_id =
          labels_out ? cache.try_intern(value) : std::optional<rules::Symbol>(rules::kNoSymbol);
      if (!name_id || !value_id) {
        fail(kLabelBudget,
             "{}.{}: no room for a new label {} (the daemon holds {} bytes of label "
             "text, its engine.max_label_bytes); retry later",
             field, name, name_id ? "value" : "name", interner.bytes());
        continue;
      }
      if (labels_out) {
        labels_out->push_back({*name_id, *value_id});
      } else {
        annotations.push_back({*name_id, static_cast<std::uint32_t>(annotation_text.size()),
                               static_cast<std::uint32_t>(value.size())});
        annotation_text.append(value);
      }
    }
    if (failed) return SUCCESS;
    if (labels_out && !rules::normalize_labels(*labels_out)) {
      auto dup = std::adjacent_find(
          labels_out->begin(), labels_out->end(),
          [](const rules::Label& a, const rules::Label& b) { return a.name == b.name; });
      fail(kInvalidValue, "{}: duplicate label name {}", field, quote(interner.view(dup->name)));
    } else if (!labels_out && !rules::normalize_annotations(annotations)) {
      auto dup = std::adjacent_find(
          annotations.begin(), annotations.end(),
          [](const rules::Annotation& a, const rules::Annotation& b) { return a.name == b.name; });
      fail(kInvalidValue, "{}: duplicate label name {}", field, quote(interner.view(dup->name)));
    }
    return SUCCESS;
  }

  error_code timestamp(od::value v, std::string_view field, rules::TimePoint& out) {
    out = rules::TimePoint{};
    std::string_view s;
    bool present = false;
    if (auto e = optional_string(v, field, s, present)) return e;
    if (!present || failed) return SUCCESS;
    switch (wire::parse_rfc3339(s, out)) {
      case wire::TimestampParse::kOk:
      case wire::TimestampParse::kZero:
      case wire::TimestampParse::kClamped:  // e.g. "9999-12-31T23:59:59Z" for "never ends"
        break;
      case wire::TimestampParse::kInvalid:
        fail(kInvalidTimestamp, "{}: invalid RFC 3339 timestamp {}", field, quote(s));
        break;
    }
    return SUCCESS;
  }

  error_code alert(od::value v, Kind kind) {
    failed = false;
    labels.clear();
    annotations.clear();
    annotation_text.clear();
    generator_url.clear();
    starts_at = ends_at = rules::TimePoint{};
    has_status = has_fingerprint = has_labels = false;
    status = rules::EventStatus::kFiring;
    fingerprint = 0;

    od::json_type t;
    if (auto e = v.type().get(t)) return e;
    if (t != od::json_type::object) {
      failed = true;
      fail_code.assign(kWrongType);
      fail_message = fmt::format("alerts[{}]: expected object", index);
      return skip(v);
    }
    od::object o;
    if (auto e = v.get_object().get(o)) return e;
    for (auto f : o) {
      od::field fl;
      if (auto e = std::move(f).get(fl)) return e;
      std::string_view key;
      if (auto e = fl.unescaped_key().get(key)) return e;
      od::value val = fl.value();
      error_code e = SUCCESS;
      if (failed) {
        e = skip(val);
      } else if (key == "labels") {
        e = label_set(val, "labels", &labels, has_labels);
      } else if (key == "annotations") {
        bool present = false;
        annotations.clear();
        annotation_text.clear();
        e = label_set(val, "annotations", nullptr, present);
      } else if (key == "startsAt") {
        e = timestamp(val, "startsAt", starts_at);
      } else if (key == "endsAt") {
        e = timestamp(val, "endsAt", ends_at);
      } else if (key == "generatorURL") {
        std::string_view s;
        bool present = false;
        e = optional_string(val, "generatorURL", s, present);
        if (!e && present) {
          if (s.size() > limits.max_value_bytes) {
            fail(kInvalidValue, "generatorURL: value is {} bytes, limit is {}", s.size(),
                 limits.max_value_bytes);
          } else {
            generator_url.assign(s);
          }
        }
      } else if (kind == Kind::kWebhook && key == "status") {
        std::string_view s;
        bool present = false;
        e = optional_string(val, "status", s, present);
        if (!e && present) {
          if (s == "firing") {
            has_status = true;
            status = rules::EventStatus::kFiring;
          } else if (s == "resolved") {
            has_status = true;
            status = rules::EventStatus::kResolved;
          } else {
            fail(kInvalidValue, "status: expected \"firing\" or \"resolved\", got {}", quote(s));
          }
        }
      } else if (kind == Kind::kWebhook && key == "fingerprint") {
        std::string_view s;
        bool present = false;
        e = optional_string(val, "fingerprint", s, present);
        if (!e && present && !s.empty()) {
          if (parse_fingerprint(s, fingerprint)) {
            has_fingerprint = true;
          } else {
            fail(kInvalidValue, "fingerprint: expected 16 hex digits, got {}", quote(s));
          }
        }
      } else {
        e = skip(val);  // unknown fields are ignored, but must be valid JSON
      }
      if (e) return e;
    }
    if (failed) return SUCCESS;
    if (!has_labels) {
      fail(kMissingField, "labels: missing required field");
    } else if (labels.empty()) {
      fail(kInvalidValue, "labels: must not be empty");
    } else if (ends_at != rules::TimePoint{} && starts_at != rules::TimePoint{} &&
               ends_at < starts_at) {
      fail(kInvalidValue, "endsAt: before startsAt");
    }
    return SUCCESS;
  }

  void append(Kind kind, std::vector<rules::Event>& out) {
    rules::Event& ev = out.emplace_back();
    ev.source = kind == Kind::kV2 ? rules::EventSource::kAlertmanagerV2
                                  : rules::EventSource::kAlertmanagerWebhook;
    if (has_status) {
      ev.status = status;
    } else {
      // Alertmanager's rule for v2 posts: resolved once endsAt has passed.
      const bool ended = ends_at != rules::TimePoint{} && ends_at <= now;
      ev.status = ended ? rules::EventStatus::kResolved : rules::EventStatus::kFiring;
    }
    ev.labels.assign(labels.begin(), labels.end());
    ev.annotations.assign(annotations.begin(), annotations.end());
    ev.annotation_text.assign(annotation_text);
    ev.starts_at = starts_at;
    ev.ends_at = ends_at;
    ev.generator_url.assign(generator_url);
    ev.fingerprint = has_fingerprint ? fingerprint : rules::fingerprint_of(labels, interner);
  }

  // Decodes the array of alerts; returns a JSON error, or too_many_alerts via `too_many`.
  error_code alerts(od::array arr, Kind kind, std::vector<rules::Event>& out, DecodeResult& result,
                    bool& too_many) {
    index = 0;
    for (auto el : arr) {
      od::value v;
      if (auto e = el.get(v)) return e;
      if (index == limits.max_alerts) {
        too_many = true;
        return SUCCESS;
      }
      if (auto e = alert(v, kind)) return e;
      if (failed) {
        result.errors.push_back({index, fail_code, fail_message});
      } else {
        append(kind, out);
        ++result.accepted;
      }
      ++index;
    }
    return SUCCESS;
  }

  // Reads a top-level document of the wrong shape to the end, so that
  // `nonsense` is reported as invalid JSON rather than as a value of the wrong type.
  error_code validate_document(od::document& doc, od::json_type t) {
    error_code e = SUCCESS;
    switch (t) {
      case od::json_type::number: {
        double d;
        e = doc.get_double().get(d);
        break;
      }
      case od::json_type::string: {
        std::string_view s;
        e = doc.get_string().get(s);
        break;
      }
      case od::json_type::boolean: {
        bool b;
        e = doc.get_bool().get(b);
        break;
      }
      case od::json_type::null: {
        bool n = false;
        e = doc.is_null().get(n);
        if (!e && !n) e = simdjson::N_ATOM_ERROR;
        break;
      }
      case od::json_type::array:
      case od::json_type::object: {
        od::value v;
        e = doc.get_value().get(v);
        if (!e) e = skip(v);
        break;
      }
    }
    if (!e && !json::at_end(doc)) e = simdjson::TRAILING_CONTENT;
    return e;
  }

  // --- bodies -------------------------------------------------------------

  static DecodeResult reject(std::vector<rules::Event>& out, std::size_t base,
                             std::string_view code, std::string message) {
    out.erase(out.begin() + static_cast<std::ptrdiff_t>(base), out.end());
    DecodeResult r;
    r.errors.push_back({DecodeError::kBody, std::string(code), std::move(message)});
    return r;
  }

  static DecodeResult reject_json(std::vector<rules::Event>& out, std::size_t base, error_code e) {
    if (e == simdjson::DEPTH_ERROR) {
      return reject(out, base, kInvalidJson,
                    fmt::format("body: nested deeper than {} levels", kMaxDepth));
    }
    return reject(out, base, kInvalidJson,
                  fmt::format("body: invalid JSON: {}", simdjson::error_message(e)));
  }

  simdjson::simdjson_result<od::document> start(std::string& body) {
    body.reserve(body.size() + simdjson::SIMDJSON_PADDING);
    now = clock ? clock->now() : std::chrono::system_clock::now();
    return parser.iterate(simdjson::padded_string_view(body.data(), body.size(), body.capacity()));
  }

  DecodeResult v2(std::string& body, std::vector<rules::Event>& out) {
    const std::size_t base = out.size();
    od::document doc;
    if (auto e = start(body).get(doc)) return reject_json(out, base, e);
    od::json_type t;
    if (auto e = doc.type().get(t)) return reject_json(out, base, e);
    if (t != od::json_type::array) {
      if (auto e = validate_document(doc, t)) return reject_json(out, base, e);
      return reject(out, base, kWrongType, std::string("body: expected array of alerts"));
    }
    od::array arr;
    if (auto e = doc.get_array().get(arr)) return reject_json(out, base, e);
    DecodeResult result;
    bool too_many = false;
    if (auto e = alerts(arr, Kind::kV2, out, result, too_many)) return reject_json(out, base, e);
    if (too_many) {
      return reject(out, base, kTooManyAlerts,
                    fmt::format("body: more than {} alerts", limits.max_alerts));
    }
    if (!json::at_end(doc)) {
      return reject(out, base, kInvalidJson, "body: invalid JSON: trailing content");
    }
    return result;
  }

  DecodeResult webhook(std::string& body, std::vector<rules::Event>& out) {
    const std::size_t base = out.size();
    od::document doc;
    if (auto e = start(body).get(doc)) return reject_json(out, base, e);
    od::json_type t;
    if (auto e = doc.type().get(t)) return reject_json(out, base, e);
    if (t != od::json_type::object) {
      if (auto e = validate_document(doc, t)) return reject_json(out, base, e);
      return reject(out, base, kWrongType, std::string("body: expected object"));
    }
    od::object obj;
    if (auto e = doc.get_object().get(obj)) return reject_json(out, base, e);
    DecodeResult result;
    bool seen_alerts = false;
    for (auto f : obj) {
      od::field fl;
      if (auto e = std::move(f).get(fl)) return reject_json(out, base, e);
      std::string_view key;
      if (auto e = fl.unescaped_key().get(key)) return reject_json(out, base, e);
      od::value val = fl.value();
      if (key == "alerts") {
        if (seen_alerts) {
          return reject(out, base, kInvalidJson, "body: duplicate field \"alerts\"");
        }
        seen_alerts = true;
        od::json_type at;
        if (auto e = val.type().get(at)) return reject_json(out, base, e);
        if (at != od::json_type::array) {
          return reject(out, base, kWrongType, std::string("alerts: expected array"));
        }
        od::array arr;
        if (auto e = val.get_array().get(arr)) return reject_json(out, base, e);
        bool too_many = false;
        if (auto e = alerts(arr, Kind::kWebhook, out, result, too_many)) {
          return reject_json(out, base, e);
        }
        if (too_many) {
          return reject(out, base, kTooManyAlerts,
                        fmt::format("alerts: more than {} alerts", limits.max_alerts));
        }
      } else if (key == "version") {
        od::json_type vt;
        if (auto e = val.type().get(vt)) return reject_json(out, base, e);
        if (vt != od::json_type::string) {
          return reject(out, base, kWrongType, std::string("version: expected string"));
        }
        std::string_view version;
        if (auto e = val.get_string().get(version)) return reject_json(out, base, e);
        // "4" is Alertmanager's payload; Grafana's webhook contact point sends the
        // same shape (plus extra fields) as version "1".
        if (version != "4" && version != "1") {
          return reject(out, base, kInvalidValue,
                        fmt::format("version: unsupported webhook version {}, expected \"4\"",
                                    quote(version)));
        }
      } else if (auto e = skip(val)) {
        return reject_json(out, base, e);
      }
    }
    if (!json::at_end(doc)) {
      return reject(out, base, kInvalidJson, "body: invalid JSON: trailing content");
    }
    if (!seen_alerts) return reject(out, base, kMissingField, "alerts: missing required field");
    return result;
  }
};

AlertDecoder::AlertDecoder(rules::Interner& interner, DecodeLimits limits,
                           const rules::Clock* clock)
    : impl_(std::make_unique<Impl>(interner, limits, clock)) {}

AlertDecoder::~AlertDecoder() = default;

DecodeResult AlertDecoder::decode_v2_alerts(std::string& body, std::vector<rules::Event>& out) {
  return impl_->v2(body, out);
}

DecodeResult AlertDecoder::decode_webhook(std::string& body, std::vector<rules::Event>& out) {
  return impl_->webhook(body, out);
}

}  // namespace aiopsd::alertmanager
