#pragma once
// The rule model: what a rules file says, validated and with templates and
// patterns compiled once at load. The Engine indexes these for matching.

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "rules/command_policy.hpp"
#include "rules/config_error.hpp"
#include "rules/event.hpp"
#include "rules/template.hpp"

namespace aiopsd::rules {

enum class MatchOp : std::uint8_t { kEq, kNeq, kRegex, kNotRegex };
std::string_view to_string(MatchOp op);

struct LabelMatcher {
  std::string name;
  MatchOp op = MatchOp::kEq;
  std::string value;  // literal, or an RE2 pattern (fully anchored) for regex ops
};

enum class StatusFilter : std::uint8_t { kFiring, kResolved, kAny };

struct SshAction {
  Template device;  // rendered, ":port" stripped, then looked up in the inventory
  std::vector<Template> commands;
  ParamPatterns params;
  std::optional<std::chrono::milliseconds> timeout;
  std::optional<std::uint64_t> output_limit;
  std::optional<CommandPolicy> policy;  // narrows the global ssh.policy when set
  ConfigError where;                    // locates load-time checks against the daemon config
};

struct LogAction {
  Template message;
};

// Runs a catalog action: parameter values are rendered from the alert, then
// checked against the action's typed parameters before any command exists.
// The action name and parameter names are checked against the catalog when
// the config is loaded (`where` locates the errors).
struct RunAction {
  std::string action;
  Template device;
  ParamPatterns device_patterns;  // the default parameter pattern
  std::map<std::string, Template> params;
  ParamPatterns value_patterns;  // permissive: the catalog's types are the check
  ConfigError where;
};

// Publishes the incident record (schemas/incident.schema.json) to a Kafka
// topic: escalation to ChatOps, ticketing or another automation.
struct KafkaAction {
  std::string topic;
};

// POSTs the same incident record to a receiver named in the daemon config
// (`webhooks:`), which holds its URL and token reference: rules files carry
// neither addresses nor secrets. `where` locates the name for that check.
struct WebhookAction {
  std::string receiver;
  ConfigError where;
};

struct Action {
  std::string kind;  // "ssh" | "log" | "run" | "kafka" | "webhook"; the metrics label
  std::variant<SshAction, LogAction, RunAction, KafkaAction, WebhookAction> spec;
};

// One condition on one alert: label matchers and the status it must have.
struct MatcherSet {
  std::vector<LabelMatcher> matchers;
  StatusFilter status = StatusFilter::kFiring;
};

enum class RuleKind : std::uint8_t {
  kSingle,    // each matching alert (after `for`)
  kCount,     // `count` distinct alerts within `window`
  kAllOf,     // one alert for each of `steps`, started within `window` of each other
  kSequence,  // `steps` in the order of their start times, within `window`
  kAbsence,   // steps[0] and then no steps[1] within `window` (a timer fires)
};
std::string_view to_string(RuleKind k);

struct Rule {
  std::string name;
  std::string signature;  // the rule's definition, normalized: equal means unchanged
  std::string file;
  int line = 0;
  RuleKind kind = RuleKind::kSingle;
  // kSingle and kCount: one step (the rule's `match` and `status`); kAllOf
  // and kSequence: the listed steps; kAbsence: {after, expect}.
  std::vector<MatcherSet> steps;
  std::vector<EventSource> sources;  // empty: any source
  std::vector<std::string> group_by;
  std::uint32_t count = 0;  // 0: no count correlation
  std::chrono::milliseconds window{0};
  std::chrono::milliseconds for_duration{0};
  std::chrono::milliseconds throttle{0};  // 0: no throttle
  std::uint32_t max_groups = 0;           // 0: the engine's default
  std::optional<bool> dry_run;
  std::vector<Action> actions;
};

// Alertmanager's inhibition: while an alert matching `source` fires, alerts
// matching `target` with the same values of the `equal` labels match no rule.
struct InhibitRule {
  std::string name;  // for metrics and logs; "inhibit_rules[N]" when not given
  std::string file;
  int line = 0;
  MatcherSet source;
  MatcherSet target;
  std::vector<std::string> equal;
};

struct RuleSet {
  std::vector<Rule> rules;
  std::vector<InhibitRule> inhibit_rules;
};

// Parses and validates one rules file, appending to `out`. Every problem is
// reported to `errors` with file:line:col and path; nothing stops at the first.
void load_rules_file(const std::string& path, Interner& interner, RuleSet& out,
                     ConfigErrors& errors);
// Same, from text (for tests); `file` names it in errors.
void load_rules_text(const std::string& text, const std::string& file, Interner& interner,
                     RuleSet& out, ConfigErrors& errors);

}  // namespace aiopsd::rules
