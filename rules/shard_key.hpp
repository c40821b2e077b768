#pragma once
// How events are spread over engine workers. Every rule that keeps state per
// group (count, all_of, sequence, absence, a throttle) and every inhibit rule
// needs all alerts of one group in one worker; routing by labels that all of
// them group by guarantees it, the way Kafka Streams co-partitions by key.
// A route is a hash of those labels' values as text, the same in every
// process, so shards can later map onto Kafka partitions owned by different
// aiopsd instances, each restoring its shards' state from a changelog.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "rules/event.hpp"
#include "rules/rule.hpp"

namespace aiopsd::rules {

class ShardKey {
 public:
  // Routes by `labels`' values; with none, by the alert's fingerprint.
  ShardKey(std::vector<std::string> labels, Interner& interner);

  // The labels every grouped rule and inhibit rule of `rules` shares. Empty
  // with `why` unset when no rule groups (any alert may go anywhere);
  // nullopt with `why` set when grouped rules share no label, so the rules
  // must run in one worker.
  static std::optional<std::vector<std::string>> plan(const RuleSet& rules, std::string& why);
  // Why `rules` cannot run sharded by these labels (a reload must not change
  // the key the running workers use); nullopt when they can.
  std::optional<std::string> incompatible(const RuleSet& rules) const;

  std::uint64_t route(const Event& e) const noexcept;
  const std::vector<std::string>& labels() const { return labels_; }

 private:
  std::vector<std::string> labels_;
  std::vector<Symbol> symbols_;
  const Interner& interner_;
};

}  // namespace aiopsd::rules
