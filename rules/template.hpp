#pragma once
// Safe command templating: "{{ labels.x }}", "{{ annotations.y }}",
// "{{ group.x }}" (a group_by label) and "{{ members[N].labels.x }}" (the
// labels of an incident's N-th member) only.
// Every substituted value must fully match its parameter pattern before it
// can become part of a device command; otherwise rendering fails with
// policy_violation and nothing is produced.

#include <re2/re2.h>

#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "rules/event.hpp"

namespace aiopsd::rules {

inline constexpr std::string_view kDefaultParamPattern = "[A-Za-z0-9_./:-]{1,128}";

// Parameter patterns keyed by reference ("labels.interface"); compiled once.
class ParamPatterns {
 public:
  ParamPatterns();  // default pattern only
  // Returns an error message when a pattern does not compile.
  std::optional<std::string> set(const std::string& ref, const std::string& pattern);
  const RE2& for_ref(std::string_view ref) const;
  const std::string& pattern_text(std::string_view ref) const;

 private:
  std::shared_ptr<const RE2> default_;
  std::map<std::string, std::shared_ptr<const RE2>, std::less<>> by_ref_;
};

// What a template renders from: the event that completed a rule's condition
// and, for correlated rules, the incident's members in the rule's order.
// Explicit from an event alone, so a caller that forgets the members does
// not compile by accident.
struct TemplateContext {
  explicit TemplateContext(const Event& e, std::span<const Member> m = {}) : event(e), members(m) {}
  const Event& event;
  std::span<const Member> members;
};

struct RenderError {
  std::string code;  // policy_violation | template_error
  std::string message;
};

struct RenderResult {
  std::string text;
  std::optional<RenderError> error;
  bool ok() const { return !error.has_value(); }
};

class Template {
 public:
  // Parses once at load; on error returns nullopt and sets `error`.
  static std::optional<Template> parse(std::string_view text, std::string& error,
                                       Interner& interner);

  RenderResult render(const TemplateContext& ctx, const Interner& interner,
                      const ParamPatterns& patterns) const;
  // For log messages only, never for device commands: substitutes values
  // without pattern checks (missing ones render empty).
  std::string render_text(const TemplateContext& ctx, const Interner& interner) const;
  const std::string& source() const { return source_; }
  // References used, such as "labels.instance", for validation at load.
  std::vector<std::string> references() const;
  // The highest N in "members[N]" references, or nullopt when there are none.
  std::optional<std::uint32_t> max_member() const;
  // Label names used as "group.NAME" (each must be in the rule's group_by).
  std::vector<std::string> group_labels() const;

 private:
  struct Segment {
    enum class Kind : std::uint8_t { kLiteral, kLabel, kAnnotation, kGroup, kMemberLabel } kind;
    std::string text;  // literal text, or the reference ("labels.x")
    Symbol name = kNoSymbol;
    std::uint32_t member = 0;  // kMemberLabel: the index N
    std::optional<std::string_view> value_in(const TemplateContext& ctx,
                                             const Interner& interner) const;
  };
  static bool parse_reference(std::string_view ref, Segment& seg, std::string_view& name,
                              std::string& error);
  std::string source_;
  std::vector<Segment> segments_;
};

// A hostile value for an error message: quoted, control characters escaped,
// at most 64 bytes shown.
std::string quote_value(std::string_view v);

// "10.0.0.1:9100" -> "10.0.0.1", "[::1]:9100" -> "::1", "sw-1" -> "sw-1".
std::string_view strip_port(std::string_view host);

}  // namespace aiopsd::rules
