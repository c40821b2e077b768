// Fuzz target: the render path, from alert labels (or intent parameters) to a
// command the policy lets through, with a property checked on every command
// that comes out:
//
//   a command rendered by a template and accepted by the command policy
//   full-matches one of the policy's allow patterns and holds no ASCII
//   control character, no C1 control (U+0080..U+009F in UTF-8) and no
//   U+2028/U+2029.
//
// Violations abort(). Two paths, chosen by the first byte of the input:
//   - a rule template (rules::Template, "{{ labels.x }}", "{{ annotations.y }}",
//     "{{ group.x }}", "{{ members[N].labels.x }}") rendered against an event
//     with its parameter patterns (rules::ParamPatterns);
//   - a catalog command (rules::CommandTemplate, "{{ params.x }}") resolved
//     by rules::ActionCatalog::resolve against typed parameters (string with
//     a pattern, enum, integer, device).
// Then rules::CommandPolicy::check, with the demo's policy
// (examples/aiopsd.yaml) or with allow/deny patterns from the input. A policy
// always has an allow list here: a policy without one allows everything, and
// refusing that is the config loader's job (issue 11, section 3).
//
// Input layout (tests/fuzz/fuzz_input.hpp): a mode byte, then the fields
// template, parameter pattern, allow pattern, deny pattern, then label (or
// parameter) name/value pairs.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "rules/action_catalog.hpp"
#include "rules/command_policy.hpp"
#include "rules/event.hpp"
#include "rules/intent.hpp"
#include "rules/template.hpp"
#include "tests/fuzz/fuzz_input.hpp"
#include "tests/fuzz/reused_state.hpp"

namespace {

using namespace aiopsd;

// examples/aiopsd.yaml, ssh.policy.
const std::vector<std::string> kDemoAllow = {
    "show [A-Za-z0-9 /._:-]+",
    "interface [0-9]+/[0-9]+/[0-9]+ (no )?shutdown",
    "clear bgp neighbor [0-9A-Fa-f.:]+",
    "restart service [a-z0-9_-]+",
};
const std::vector<std::string> kDemoDeny = {".*\\b(reload|erase|format|delete)\\b.*"};

// Mode byte.
constexpr std::uint8_t kCatalogPath = 1;     // else a rule template
constexpr std::uint8_t kInputPolicy = 2;     // else the demo's policy
constexpr std::uint8_t kInputPattern = 4;    // else the demo's/default parameter patterns
constexpr std::uint8_t kIntegerValues = 8;   // catalog: values that parse as integers are integers
constexpr std::uint8_t kParamTypeShift = 4;  // catalog: bits 4-5 pick every parameter's type

[[noreturn]] void violated(const char* what, std::string_view command) {
  std::fprintf(stderr, "render property violated: %s\ncommand (%zu bytes):", what, command.size());
  for (unsigned char c : command) std::fprintf(stderr, " %02x", c);
  std::fprintf(stderr, "\n");
  std::abort();
}

// The property, checked independently of CommandPolicy's own code (the
// allow patterns compiled again, by the target).
void check_accepted(std::string_view command, const std::vector<std::unique_ptr<RE2>>& allow) {
  bool matched = false;
  for (const auto& re : allow) {
    if (RE2::FullMatch(command, *re)) {
      matched = true;
      break;
    }
  }
  if (!matched) violated("accepted command matches no allow pattern", command);
  for (std::size_t i = 0; i < command.size(); ++i) {
    const auto c = static_cast<unsigned char>(command[i]);
    const auto next = [&](std::size_t k) {
      return i + k < command.size() ? static_cast<unsigned char>(command[i + k]) : 0;
    };
    if (c < 0x20 || c == 0x7f) violated("ASCII control character in accepted command", command);
    if (c == 0xc2 && next(1) >= 0x80 && next(1) <= 0x9f) {
      violated("C1 control character in accepted command", command);
    }
    if (c == 0xe2 && next(1) == 0x80 && (next(2) == 0xa8 || next(2) == 0xa9)) {
      violated("U+2028/U+2029 in accepted command", command);
    }
  }
}

struct Policy {
  rules::CommandPolicy policy;
  std::vector<std::unique_ptr<RE2>> allow;  // the property's own copy
};

std::unique_ptr<Policy> make_policy(const std::vector<std::string>& allow,
                                    const std::vector<std::string>& deny) {
  std::vector<std::string> errors;
  auto compiled = rules::CommandPolicy::compile(allow, deny, errors);
  if (!compiled) return nullptr;  // refused at load
  auto p = std::make_unique<Policy>();
  p->policy = std::move(*compiled);
  RE2::Options opts;
  opts.set_log_errors(false);
  for (const auto& a : allow) p->allow.push_back(std::make_unique<RE2>(a, opts));
  return p;
}

void check_commands(const Policy& p, std::span<const std::string> commands) {
  for (const auto& cmd : commands) {
    if (!p.policy.check(cmd)) check_accepted(cmd, p.allow);
  }
}

// examples/rules/demo.yaml
const rules::ParamPatterns& demo_patterns() {
  static const rules::ParamPatterns patterns = [] {
    rules::ParamPatterns p;
    p.set("labels.interface", "[0-9]+/[0-9]+/[0-9]+");
    p.set("labels.neighbor", "[0-9A-Fa-f.:]{2,39}");
    return p;
  }();
  return patterns;
}

void rule_template_path(std::uint8_t mode, fuzz::FieldReader& in, const std::string& text,
                        const std::string& pattern, const Policy& policy) {
  rules::Interner& interner = fuzz::reused_state<rules::Interner>();
  std::string error;
  auto t = rules::Template::parse(text, error, interner);
  if (!t) return;
  std::optional<rules::ParamPatterns> input_patterns;
  if (mode & kInputPattern) {
    input_patterns.emplace();
    for (const auto& ref : t->references()) {
      if (input_patterns->set(ref, pattern)) return;  // refused at load
    }
  }
  const rules::ParamPatterns& patterns = input_patterns ? *input_patterns : demo_patterns();
  rules::Event event;
  for (int i = 0; i < 16 && !in.empty(); ++i) {
    const std::string name = in.next(64);
    const std::string value = in.next(1024);
    event.labels.push_back({interner.intern(name), interner.intern(value)});
    rules::Annotation a;
    a.name = event.labels.back().name;
    a.offset = static_cast<std::uint32_t>(event.annotation_text.size());
    a.size = static_cast<std::uint32_t>(value.size());
    event.annotation_text += value;
    event.annotations.push_back(a);
  }
  if (!rules::normalize_labels(event.labels) || !rules::normalize_annotations(event.annotations)) {
    return;  // the decoders refuse repeated names
  }
  const std::vector<rules::Member> members = {rules::Member::of(event), rules::Member::of(event)};
  const rules::TemplateContext ctx(event, members);
  auto r = t->render(ctx, interner, patterns);
  (void)t->render_text(ctx, interner);
  if (r.ok()) check_commands(policy, std::span(&r.text, 1));
}

void catalog_path(std::uint8_t mode, fuzz::FieldReader& in, const std::string& text,
                  const std::string& pattern, const Policy& policy) {
  std::string error;
  auto ct = rules::CommandTemplate::parse(text, error);
  if (!ct) return;
  rules::CatalogAction action;
  action.name = "fuzz";
  action.commands.push_back(*ct);
  RE2::Options opts;
  opts.set_log_errors(false);
  static const auto default_re =
      std::make_shared<const RE2>(std::string(rules::kDefaultParamPattern), opts);
  auto re = (mode & kInputPattern) ? std::make_shared<const RE2>(pattern, opts) : default_re;
  if (!re->ok()) return;  // refused at load
  std::map<std::string, rules::ParamValue> values;
  for (int i = 0; i < 16 && !in.empty(); ++i) {
    std::string name = in.next(64);
    std::string value = in.next(1024);
    char* end = nullptr;
    const long long n = std::strtoll(value.c_str(), &end, 10);
    if ((mode & kIntegerValues) && !value.empty() && end == value.c_str() + value.size()) {
      values.emplace(std::move(name), static_cast<std::int64_t>(n));
    } else {
      values.emplace(std::move(name), std::move(value));
    }
  }
  const auto type = static_cast<rules::ParamType>((mode >> kParamTypeShift) & 3);
  for (const auto& ref : ct->references()) {
    if (action.param(ref)) continue;
    rules::ParamSpec spec;
    spec.name = ref;
    spec.type = type;
    spec.pattern = re;
    if (type == rules::ParamType::kEnum) spec.values = {pattern, "up", "down"};
    if (type == rules::ParamType::kInteger) {
      spec.min = -1000;
      spec.max = 1'000'000;
    }
    action.params.push_back(std::move(spec));
  }
  rules::ActionCatalog catalog;
  auto resolved = catalog.resolve(action, values, [](std::string_view device) {
    return device == "sw-core-1" || device == "10.0.0.1";
  });
  if (auto* ok = std::get_if<rules::ResolvedAction>(&resolved))
    check_commands(policy, ok->commands);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::FieldReader in(data, size);
  const std::uint8_t mode = in.byte();
  const std::string text = in.next(1024);
  const std::string pattern = in.next(256);
  const std::string allow = in.next(256);
  const std::string deny = in.next(256);
  static const std::unique_ptr<Policy> demo_policy = make_policy(kDemoAllow, kDemoDeny);
  std::unique_ptr<Policy> input_policy;
  if (mode & kInputPolicy) {
    // The input's allow pattern (the demo's list when empty), its deny pattern if any.
    input_policy = make_policy(allow.empty() ? kDemoAllow : std::vector<std::string>{allow},
                               deny.empty() ? std::vector<std::string>{} : std::vector{deny});
    if (!input_policy) return 0;
  }
  const Policy* policy = input_policy ? input_policy.get() : demo_policy.get();
  if (mode & kCatalogPath) {
    catalog_path(mode, in, text, pattern, *policy);
  } else {
    rule_template_path(mode, in, text, pattern, *policy);
  }
  return 0;
}
