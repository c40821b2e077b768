#include "rules/template.hpp"

#include <charconv>

#include <fmt/format.h>

namespace aiopsd::rules {

namespace {
std::shared_ptr<const RE2> compile(const std::string& pattern) {
  RE2::Options opts;
  opts.set_log_errors(false);
  return std::make_shared<const RE2>(pattern, opts);
}
}  // namespace

std::string quote_value(std::string_view v) {
  std::string out = "\"";
  std::size_t n = 0;
  for (unsigned char c : v) {
    if (++n > 64) {
      out += "...";
      break;
    }
    if (c < 0x20 || c == 0x7f) {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  out += '"';
  return out;
}

// Every rule, action and catalog entry has a ParamPatterns: they share one
// compiled default (RE2 matches from any thread) instead of compiling it each
// time, which was a tenth of a rules file's load.
ParamPatterns::ParamPatterns() {
  static const std::shared_ptr<const RE2> shared_default =
      compile(std::string(kDefaultParamPattern));
  default_ = shared_default;
}

std::optional<std::string> ParamPatterns::set(const std::string& ref, const std::string& pattern) {
  auto re = compile(pattern);
  if (!re->ok()) return fmt::format("invalid pattern '{}': {}", pattern, re->error());
  by_ref_[ref] = std::move(re);
  return std::nullopt;
}

const RE2& ParamPatterns::for_ref(std::string_view ref) const {
  if (auto it = by_ref_.find(ref); it != by_ref_.end()) return *it->second;
  return *default_;
}

const std::string& ParamPatterns::pattern_text(std::string_view ref) const {
  return for_ref(ref).pattern();
}

bool Template::parse_reference(std::string_view ref, Segment& seg, std::string_view& name,
                               std::string& error) {
  if (ref.starts_with("labels.")) {
    name = ref.substr(7);
  } else if (ref.starts_with("annotations.")) {
    seg.kind = Segment::Kind::kAnnotation;
    name = ref.substr(12);
  } else if (ref.starts_with("group.")) {
    seg.kind = Segment::Kind::kGroup;
    name = ref.substr(6);
  } else if (ref.starts_with("members[")) {
    seg.kind = Segment::Kind::kMemberLabel;
    const std::size_t close = ref.find(']');
    const std::string_view index = ref.substr(8, close == std::string_view::npos ? 0 : close - 8);
    auto [end, ec] = std::from_chars(index.data(), index.data() + index.size(), seg.member);
    if (index.empty() || ec != std::errc{} || end != index.data() + index.size() ||
        seg.member > 63 || !ref.substr(close + 1).starts_with(".labels.")) {
      error = fmt::format("invalid member reference '{}' (expected members[N].labels.NAME, N < 64)",
                          ref);
      return false;
    }
    name = ref.substr(close + 9);
  } else {
    error = fmt::format(
        "unknown reference '{}' (expected labels.NAME, annotations.NAME, group.NAME or "
        "members[N].labels.NAME)",
        ref);
    return false;
  }
  return true;
}

std::optional<Template> Template::parse(std::string_view text, std::string& error,
                                        Interner& interner) {
  Template t;
  t.source_ = std::string(text);
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t open = text.find("{{", pos);
    if (open == std::string_view::npos) {
      t.segments_.push_back({Segment::Kind::kLiteral, std::string(text.substr(pos)), kNoSymbol});
      break;
    }
    if (open > pos) {
      t.segments_.push_back(
          {Segment::Kind::kLiteral, std::string(text.substr(pos, open - pos)), kNoSymbol});
    }
    std::size_t close = text.find("}}", open + 2);
    if (close == std::string_view::npos) {
      error = fmt::format("unclosed '{{{{' at offset {}", open);
      return std::nullopt;
    }
    std::string_view ref = text.substr(open + 2, close - open - 2);
    while (!ref.empty() && ref.front() == ' ') ref.remove_prefix(1);
    while (!ref.empty() && ref.back() == ' ') ref.remove_suffix(1);
    Segment seg{Segment::Kind::kLabel, std::string(ref), kNoSymbol};
    std::string_view name;
    if (!parse_reference(ref, seg, name, error)) return std::nullopt;
    if (name.empty()) {
      error = fmt::format("empty name in reference '{}'", ref);
      return std::nullopt;
    }
    seg.name = interner.intern(name);
    t.segments_.push_back(std::move(seg));
    pos = close + 2;
  }
  return t;
}

std::optional<std::string_view> Template::Segment::value_in(const TemplateContext& ctx,
                                                            const Interner& interner) const {
  if (kind == Kind::kAnnotation) return ctx.event.annotation(name);
  Symbol v = kNoSymbol;
  if (kind == Kind::kMemberLabel) {
    if (member < ctx.members.size()) v = ctx.members[member].label(name);
  } else {
    // A group label has one value across the group: the event carries it.
    v = ctx.event.label(name);
  }
  if (v == kNoSymbol) return std::nullopt;
  return interner.view(v);
}

RenderResult Template::render(const TemplateContext& ctx, const Interner& interner,
                              const ParamPatterns& patterns) const {
  RenderResult r;
  for (const Segment& seg : segments_) {
    if (seg.kind == Segment::Kind::kLiteral) {
      r.text += seg.text;
      continue;
    }
    std::optional<std::string_view> found = seg.value_in(ctx, interner);
    if (!found) {
      r.error = RenderError{
          "template_error",
          fmt::format("{}: missing in the {}", seg.text,
                      seg.kind == Segment::Kind::kMemberLabel ? "incident's members" : "alert")};
      r.text.clear();
      return r;
    }
    std::string_view value = *found;
    const RE2& re = patterns.for_ref(seg.text);
    if (!RE2::FullMatch(value, re)) {
      r.error = RenderError{"policy_violation", fmt::format("{}: {} does not match ^{}$", seg.text,
                                                            quote_value(value), re.pattern())};
      r.text.clear();
      return r;
    }
    r.text += value;
  }
  return r;
}

std::string Template::render_text(const TemplateContext& ctx, const Interner& interner) const {
  std::string out;
  for (const Segment& seg : segments_) {
    if (seg.kind == Segment::Kind::kLiteral) {
      out += seg.text;
    } else {
      out += seg.value_in(ctx, interner).value_or("");
    }
  }
  return out;
}

std::vector<std::string> Template::references() const {
  std::vector<std::string> out;
  for (const Segment& seg : segments_) {
    if (seg.kind != Segment::Kind::kLiteral) out.push_back(seg.text);
  }
  return out;
}

std::optional<std::uint32_t> Template::max_member() const {
  std::optional<std::uint32_t> max;
  for (const Segment& seg : segments_) {
    if (seg.kind == Segment::Kind::kMemberLabel) max = std::max(max.value_or(0), seg.member);
  }
  return max;
}

std::vector<std::string> Template::group_labels() const {
  std::vector<std::string> out;
  for (const Segment& seg : segments_) {
    if (seg.kind == Segment::Kind::kGroup) out.push_back(seg.text.substr(6));
  }
  return out;
}

std::string_view strip_port(std::string_view host) {
  if (host.starts_with('[')) {
    auto close = host.find(']');
    if (close != std::string_view::npos) return host.substr(1, close - 1);
    return host;
  }
  auto colon = host.rfind(':');
  if (colon == std::string_view::npos || host.find(':') != colon) return host;  // none, or IPv6
  std::string_view port = host.substr(colon + 1);
  if (port.empty()) return host;
  for (char c : port) {
    if (c < '0' || c > '9') return host;
  }
  return host.substr(0, colon);
}

}  // namespace aiopsd::rules
