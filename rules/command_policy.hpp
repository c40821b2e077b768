#pragma once
// The last gate before a command reaches a device: allow and deny lists of
// fully-anchored RE2 patterns, and an unconditional ban on multi-line input,
// control characters (ASCII and C1), Unicode line separators and bytes that
// are not UTF-8 (a device reading Latin-1 sees 0x85 as a new line).
//
// Policies stack: the global `ssh.policy` is a ceiling that an action's own
// policy can only narrow (narrowed_by): a command must pass every layer's
// deny list and, in each layer that has one, its allow list. Deny patterns
// ignore case (`reload` also denies `Reload`); allow patterns do not, so an
// allow list never widens by accident.

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
  // True when some layer has an allow list: not every command passes.
  bool has_allow_list() const;
  // This policy with `inner`'s layers added: a command passes only when it
  // passes both.
  CommandPolicy narrowed_by(const CommandPolicy& inner) const;

 private:
  struct Layer {
    std::vector<std::shared_ptr<const RE2>> allow;
    std::vector<std::shared_ptr<const RE2>> deny;
  };
  std::vector<Layer> layers_;
};

// The first character of `text` that no device command may hold: an ASCII or
// C1 control, U+2028/U+2029, or a byte that is not part of valid UTF-8;
// nullopt when there is none. Shared by the policy and the parameter checks.
struct ForbiddenCharacter {
  std::size_t offset;
  std::string description;  // "control character 0x1b", "U+2028 (line separator)", ...
};
std::optional<ForbiddenCharacter> find_forbidden_character(std::string_view text);

}  // namespace aiopsd::rules
