#pragma once
// Builds events and rule sets for rules/ tests.

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "rules/engine.hpp"
#include "rules/rule.hpp"

namespace aiopsd::rules::test {

inline Event make_event(Interner& in, const std::map<std::string, std::string>& labels,
                        EventStatus status = EventStatus::kFiring,
                        const std::map<std::string, std::string>& annotations = {}) {
  Event e;
  e.status = status;
  for (const auto& [k, v] : labels) e.labels.push_back({in.intern(k), in.intern(v)});
  normalize_labels(e.labels);
  for (const auto& [k, v] : annotations) {
    e.annotations.push_back({in.intern(k), static_cast<std::uint32_t>(e.annotation_text.size()),
                             static_cast<std::uint32_t>(v.size())});
    e.annotation_text += v;
  }
  normalize_annotations(e.annotations);
  e.fingerprint = fingerprint_of(e.labels, in);
  return e;
}

inline RuleSet load(Interner& in, const std::string& yaml) {
  RuleSet set;
  ConfigErrors errors("rules.yaml");
  load_rules_text(yaml, "rules.yaml", in, set, errors);
  EXPECT_TRUE(errors.empty()) << errors.to_string();
  return set;
}

inline std::string errors_of(const std::string& yaml) {
  Interner in;
  RuleSet set;
  ConfigErrors errors("rules.yaml");
  load_rules_text(yaml, "rules.yaml", in, set, errors);
  return errors.to_string();
}

}  // namespace aiopsd::rules::test
