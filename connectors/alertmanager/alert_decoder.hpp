#pragma once
// Decodes Alertmanager v2 API bodies (POST /api/v2/alerts, sent by Prometheus
// and the Loki ruler) and Alertmanager webhook payloads (version "4") into
// rules::Event, with simdjson ondemand.
//
// Lifecycle: one decoder per thread (it owns a simdjson parser); the Interner
// is shared and thread-safe. Reusing the decoder and the output vector means
// no allocation per alert in steady state.

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "rules/clock.hpp"
#include "rules/event.hpp"

namespace aiopsd::alertmanager {

struct DecodeLimits {
  std::size_t max_labels = 64;      // per alert, labels and annotations counted apart
  std::size_t max_alerts = 10'000;  // per body
  std::size_t max_value_bytes = 16 * 1024;
};

struct DecodeError {
  static constexpr std::size_t kBody = static_cast<std::size_t>(-1);
  std::size_t index = kBody;  // alert index in the batch, or kBody when the whole body is bad
  std::string code;           // reason label: invalid_json, wrong_type, missing_field,
                              // invalid_timestamp, invalid_value, too_many_labels,
                              // too_many_alerts, label_budget_exhausted (the interner's
                              // budget is spent: retry later, not the sender's fault)
  std::string message;        // names the field: "alerts[17].labels.severity: expected string"
};

struct DecodeResult {
  std::size_t accepted = 0;         // events appended to `out`
  std::vector<DecodeError> errors;  // empty when every alert was accepted
  bool body_rejected() const {
    return !errors.empty() && errors.front().index == DecodeError::kBody;
  }
};

class AlertDecoder {
 public:
  // `clock` decides whether a v2 alert without `status` has ended (endsAt <=
  // now); null means the system clock. `aiopsd replay` passes its virtual
  // clock so recorded alerts are read as they were when they arrived.
  AlertDecoder(rules::Interner& interner, DecodeLimits limits = {},
               const rules::Clock* clock = nullptr);
  ~AlertDecoder();

  // `body` is grown in capacity (not size) to hold simdjson's padding, so
  // callers pass the buffer they received into. Valid alerts of a well-formed
  // batch are appended to `out` even when others in it are invalid; a body
  // that is not valid JSON (or not the expected top-level shape) appends nothing.
  DecodeResult decode_v2_alerts(std::string& body, std::vector<rules::Event>& out);
  DecodeResult decode_webhook(std::string& body, std::vector<rules::Event>& out);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace aiopsd::alertmanager
