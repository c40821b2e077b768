#pragma once
// The last gate before a command reaches a device: allow and deny lists of
// fully-anchored RE2 patterns, and an unconditional ban on multi-line input
// and control characters.

#include <re2/re2.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace aiopsd::rules {

class CommandPolicy {
 public:
  // Each returned string is an error naming the bad pattern; empty means ok.
  static std::optional<CommandPolicy> compile(const std::vector<std::string>& allow,
                                              const std::vector<std::string>& deny,
                                              std::vector<std::string>& errors);
  CommandPolicy() = default;

  // nullopt when allowed, else the reason.
  std::optional<std::string> check(std::string_view command) const;
  bool has_allow_list() const { return !allow_.empty(); }

 private:
  std::vector<std::shared_ptr<const RE2>> allow_;
  std::vector<std::shared_ptr<const RE2>> deny_;
};

}  // namespace aiopsd::rules
