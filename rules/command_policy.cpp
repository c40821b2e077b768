#include "rules/command_policy.hpp"

#include <fmt/format.h>

namespace aiopsd::rules {

std::optional<CommandPolicy> CommandPolicy::compile(const std::vector<std::string>& allow,
                                                    const std::vector<std::string>& deny,
                                                    std::vector<std::string>& errors) {
  CommandPolicy p;
  RE2::Options opts;
  opts.set_log_errors(false);
  auto add = [&](const std::vector<std::string>& in, auto& out, std::string_view list) {
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
  add(allow, p.allow_, "allow");
  add(deny, p.deny_, "deny");
  if (errors.size() != before) return std::nullopt;
  return p;
}

std::optional<std::string> CommandPolicy::check(std::string_view command) const {
  if (command.empty()) return std::string("empty command");
  for (unsigned char c : command) {
    if (c == '\n' || c == '\r') return std::string("multi-line command");
    if (c < 0x20 || c == 0x7f) return fmt::format("control character 0x{:02x} in command", c);
  }
  for (const auto& re : deny_) {
    if (RE2::FullMatch(command, *re)) {
      return fmt::format("command matches deny pattern ^{}$", re->pattern());
    }
  }
  if (!allow_.empty()) {
    for (const auto& re : allow_) {
      if (RE2::FullMatch(command, *re)) return std::nullopt;
    }
    return std::string("command matches no allow pattern");
  }
  return std::nullopt;
}

}  // namespace aiopsd::rules
