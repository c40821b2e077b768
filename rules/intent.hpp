#pragma once
// An intent: a structured request from another system (ChatOps bot, LLM
// intent parser, portal) to run one catalog action on one device. Decoded
// from Kafka by connectors/kafka, validated against the ActionCatalog, run by
// the daemon's intent service. The wire format is schemas/intent.schema.json.

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>

namespace aiopsd::rules {

// Parameters arrive as JSON strings, integers or booleans; the catalog decides
// which type each parameter must have.
using ParamValue = std::variant<std::string, std::int64_t, bool>;

struct Intent {
  std::string intent_id;  // required, unique: the idempotency key
  std::string action;     // catalog action name
  std::string device;     // target.device: inventory name
  std::map<std::string, ParamValue> params;
  std::string requested_by;
  std::string environment;
  std::string correlation_id;
  bool dry_run = false;
  std::optional<std::chrono::system_clock::time_point> deadline;
};

}  // namespace aiopsd::rules
