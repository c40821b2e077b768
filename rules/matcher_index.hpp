#pragma once
// The matcher index: the label matchers of every rule step and inhibit rule
// side, compiled once, answering "which of them does this event satisfy"
// without trying each. A matcher set (a "unit") is anchored on its most
// selective matcher: an equality, looked up by (name, value), or a regex; the
// regexes on one label name run together in one RE2::Set pass, and a regex's
// verdict is remembered per interned value, so most events run no regex at
// all. Units with no usable anchor are checked for every event.
//
// Threads: owned by one Engine and used from its thread only (matching
// updates the per-value caches). No allocation per event in steady state.

#include <cstdint>
#include <memory>
#include <vector>

#include "rules/event.hpp"
#include "rules/rule.hpp"

namespace aiopsd::rules {

enum class UnitOwner : std::uint8_t { kRule, kInhibitSource, kInhibitTarget };

// One matched unit as the engine sees it.
struct MatchUnit {
  UnitOwner owner = UnitOwner::kRule;
  std::uint32_t index = 0;  // rule, or inhibit rule
  std::uint8_t step = 0;    // rule step; inhibit: 0 source, 1 target
  // What the rule says. The index may match more widely (count, all_of and
  // single-alert steps also hear their alerts resolve), so a caller compares.
  StatusFilter declared = StatusFilter::kFiring;
};

bool status_ok(StatusFilter filter, EventStatus status);

class MatcherIndex {
 public:
  // Interns the matchers' names and values. Throws std::runtime_error when
  // RE2 cannot compile a label name's set (out of memory).
  MatcherIndex(const RuleSet& rules, Interner& interner);
  ~MatcherIndex();
  MatcherIndex(const MatcherIndex&) = delete;
  MatcherIndex& operator=(const MatcherIndex&) = delete;

  // The units the event satisfies, ascending: rule units first, in (rule,
  // step) order, then inhibit units. `out` is cleared first.
  void match_units(const Event& event, std::vector<std::uint32_t>& out);
  // The rules with a step whose matchers and declared status hold, ascending.
  void match_rules(const Event& event, std::vector<std::uint32_t>& out);

  const MatchUnit& unit(std::uint32_t u) const { return units_[u]; }
  // Units [0, rule_units()) belong to rules.
  std::uint32_t rule_units() const { return rule_units_; }
  std::size_t size() const { return units_.size(); }

 private:
  struct Impl;
  std::vector<MatchUnit> units_;
  std::uint32_t rule_units_ = 0;
  std::vector<std::uint32_t> scratch_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace aiopsd::rules
