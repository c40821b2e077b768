#include "rules/command_policy.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace aiopsd::rules {

namespace {

// Length of the UTF-8 sequence starting at text[i], and its code point;
// 0 when the bytes there are not valid UTF-8 (overlong, surrogate, > U+10FFFF,
// truncated).
std::size_t utf8_sequence(std::string_view text, std::size_t i, char32_t& cp) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(text[i + k]); };
  const unsigned char c = b(0);
  std::size_t n = 0;
  if (c < 0x80) {
    cp = c;
    return 1;
  }
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
    cp = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    cp = c & 0x0F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > text.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    if ((b(k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b(k) & 0x3F);
  }
  if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
      (cp >= 0xD800 && cp <= 0xDFFF)) {
    return 0;
  }
  return n;
}

}  // namespace

std::optional<ForbiddenCharacter> find_forbidden_character(std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    char32_t cp = 0;
    const std::size_t n = utf8_sequence(text, i, cp);
    if (n == 0) {
      return ForbiddenCharacter{
          i, fmt::format("invalid UTF-8 byte 0x{:02x}", static_cast<unsigned char>(text[i]))};
    }
    if (cp < 0x20 || cp == 0x7F) {
      return ForbiddenCharacter{
          i, fmt::format("control character 0x{:02x}", static_cast<unsigned>(cp))};
    }
    if (cp >= 0x80 && cp <= 0x9F) {
      return ForbiddenCharacter{
          i, fmt::format("C1 control character U+{:04X}", static_cast<unsigned>(cp))};
    }
    if (cp == 0x2028) return ForbiddenCharacter{i, "U+2028 (line separator)"};
    if (cp == 0x2029) return ForbiddenCharacter{i, "U+2029 (paragraph separator)"};
    i += n;
  }
  return std::nullopt;
}

std::optional<CommandPolicy> CommandPolicy::compile(const std::vector<std::string>& allow,
                                                    const std::vector<std::string>& deny,
                                                    std::vector<std::string>& errors) {
  Layer layer;
  auto add = [&](const std::vector<std::string>& in, auto& out, std::string_view list,
                 bool case_sensitive) {
    RE2::Options opts;
    opts.set_log_errors(false);
    opts.set_case_sensitive(case_sensitive);
    for (std::size_t i = 0; i < in.size(); ++i) {
      auto re = std::make_shared<const RE2>(in[i], opts);
      if (!re->ok()) {
        errors.push_back(
            fmt::format("{}[{}]: invalid pattern '{}': {}", list, i, in[i], re->error()));
        continue;
      }
      out.push_back(std::move(re));
    }
  };
  std::size_t before = errors.size();
  add(allow, layer.allow, "allow", true);
  add(deny, layer.deny, "deny", false);
  if (errors.size() != before) return std::nullopt;
  CommandPolicy p;
  p.layers_.push_back(std::move(layer));
  return p;
}

bool CommandPolicy::has_allow_list() const {
  return std::any_of(layers_.begin(), layers_.end(),
                     [](const Layer& l) { return !l.allow.empty(); });
}

CommandPolicy CommandPolicy::narrowed_by(const CommandPolicy& inner) const {
  CommandPolicy p = *this;
  p.layers_.insert(p.layers_.end(), inner.layers_.begin(), inner.layers_.end());
  return p;
}

std::optional<std::string> CommandPolicy::check(std::string_view command) const {
  if (command.empty()) return std::string("empty command");
  if (command.find_first_of("\r\n") != std::string_view::npos) {
    return std::string("multi-line command");
  }
  if (auto bad = find_forbidden_character(command)) {
    return fmt::format("{} in command", bad->description);
  }
  for (const Layer& layer : layers_) {
    for (const auto& re : layer.deny) {
      if (RE2::FullMatch(command, *re)) {
        return fmt::format("command matches deny pattern ^{}$", re->pattern());
      }
    }
  }
  for (const Layer& layer : layers_) {
    if (layer.allow.empty()) continue;
    const bool allowed = std::any_of(layer.allow.begin(), layer.allow.end(),
                                     [&](const auto& re) { return RE2::FullMatch(command, *re); });
    if (!allowed) {
      return std::string(layers_.size() > 1 && &layer == &layers_.front()
                             ? "command matches no allow pattern of the global ssh.policy"
                             : "command matches no allow pattern");
    }
  }
  return std::nullopt;
}

}  // namespace aiopsd::rules
