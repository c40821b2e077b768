#pragma once
// Cleans device output before it is logged, audited or published: strips
// ANSI escape sequences, then applies redaction patterns.

#include <re2/re2.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace aiopsd::rules {

inline constexpr std::string_view kRedacted = "<redacted>";

class OutputFilter {
 public:
  // A pattern with capture groups redacts only the groups (keeps context such
  // as "password 7 "); without groups the whole match is redacted.
  static std::optional<OutputFilter> compile(const std::vector<std::string>& redact_patterns,
                                             std::vector<std::string>& errors);
  OutputFilter();

  std::string apply(std::string_view raw) const;

 private:
  std::shared_ptr<const RE2> ansi_;
  std::vector<std::shared_ptr<const RE2>> redact_;
};

std::string strip_ansi(std::string_view raw);

}  // namespace aiopsd::rules
