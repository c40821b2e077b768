#pragma once
// Decodes one Kafka message value into a rules::Intent (simdjson ondemand),
// checking it against schemas/intent.schema.json: required fields, types,
// lengths, unknown fields (rejected: a misspelt `dry_run` must never run for
// real), deadline as RFC 3339. Catalog checks (unknown action or device,
// parameter types) are the daemon's, not the decoder's.
//
// Threads: one decoder per consumer thread; not thread-safe.

#include <memory>
#include <string>
#include <string_view>

#include "rules/intent.hpp"

namespace aiopsd::kafka {

struct IntentDecodeError {
  std::string code;     // invalid_json | schema_violation
  std::string field;    // JSON path of the offending field ("params.port", "target.device"), or ""
  std::string message;  // precise, names the field: "target.device: expected string"
};

struct IntentDecodeResult {
  std::optional<rules::Intent> intent;
  std::optional<IntentDecodeError> error;
  // Best-effort id for the result record even when decoding failed (empty if
  // not recoverable), so a producer can correlate its rejection.
  std::string intent_id;
};

class IntentDecoder {
 public:
  IntentDecoder();
  ~IntentDecoder();
  IntentDecodeResult decode(std::string_view bytes);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace aiopsd::kafka
