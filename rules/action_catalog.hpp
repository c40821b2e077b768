#pragma once
// The action catalog: the one place that says what may run on a device.
// Each named action declares typed parameters (string with a pattern, enum,
// integer with a range, device reference), command templates over those
// parameters ("{{ params.port }}"), and its guards (command policy, timeout,
// output limit, redaction, approval). Kafka intents name an action directly;
// alert rules reach it with `run: {action: NAME, params: {...}}`.
//
// Loaded once at config load; immutable afterwards, so any thread may read it.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "rules/command_policy.hpp"
#include "rules/config_error.hpp"
#include "rules/intent.hpp"
#include "rules/output_filter.hpp"

namespace aiopsd::rules {

enum class ParamType : std::uint8_t { kString, kEnum, kInteger, kDevice };
std::string_view to_string(ParamType t);

struct ParamSpec {
  std::string name;
  ParamType type = ParamType::kString;
  std::string description;
  std::shared_ptr<const RE2> pattern;  // kString, kDevice: full match
  std::vector<std::string> values;     // kEnum
  std::int64_t min = INT64_MIN;        // kInteger
  std::int64_t max = INT64_MAX;
  bool required = true;
  std::optional<std::string> default_value;  // canonical text, already valid
};

enum class Approval : std::uint8_t { kNone, kRequired };

// "show interfaces {{ params.port }} status": literal text and parameters.
class CommandTemplate {
 public:
  static std::optional<CommandTemplate> parse(std::string_view text, std::string& error);
  // `values` holds a canonical value for every parameter referenced.
  std::string render(const std::map<std::string, std::string, std::less<>>& values) const;
  const std::string& source() const { return source_; }
  std::vector<std::string> references() const;

 private:
  struct Segment {
    bool is_param = false;
    std::string text;  // literal text, or the parameter name
  };
  std::string source_;
  std::vector<Segment> segments_;
};

struct CatalogAction {
  std::string name;
  std::string description;
  std::string file;
  int line = 0;
  std::vector<ParamSpec> params;
  std::vector<CommandTemplate> commands;
  std::optional<CommandPolicy> policy;  // narrows the global ssh.policy when set
  ConfigError where;                    // the action's entry, for checks against the daemon config
  std::optional<std::chrono::milliseconds> timeout;
  std::optional<std::uint64_t> output_limit;
  std::optional<OutputFilter> redact;  // applied after the global redaction
  Approval approval = Approval::kNone;

  const ParamSpec* param(std::string_view name) const;
};

// Why a request cannot run. `code` is the wire code (unknown_action,
// invalid_params, approval_required, policy_violation); `field` names the
// offending field ("params.port"), `message` says precisely what is wrong.
struct ActionError {
  std::string code;
  std::string field;
  std::string message;
};

using ParamValues = std::map<std::string, std::string, std::less<>>;

// Parameters checked against their types, and the commands they render.
struct ResolvedAction {
  const CatalogAction* action = nullptr;
  ParamValues params;  // canonical text of every parameter, defaults filled in
  std::vector<std::string> commands;
};

class ActionCatalog {
 public:
  const CatalogAction* find(std::string_view name) const;
  const std::vector<CatalogAction>& actions() const { return actions_; }

  // Checks every parameter against its declared type (unknown, missing and
  // mistyped ones are errors) and renders the commands. `device_exists`
  // answers for kDevice parameters. Nothing is rendered unless every value
  // passed its check.
  using DeviceExists = std::function<bool(std::string_view)>;
  std::variant<ResolvedAction, ActionError> resolve(const CatalogAction& action,
                                                    const std::map<std::string, ParamValue>& params,
                                                    const DeviceExists& device_exists) const;

  void add(CatalogAction action) { actions_.push_back(std::move(action)); }

 private:
  std::vector<CatalogAction> actions_;
};

// Parses `actions:` from a catalog file; every problem is reported located,
// none stops the rest. Names must be unique across files.
void load_catalog_file(const std::string& path, ActionCatalog& out, ConfigErrors& errors);
void load_catalog_text(const std::string& text, const std::string& file, ActionCatalog& out,
                       ConfigErrors& errors);

}  // namespace aiopsd::rules
