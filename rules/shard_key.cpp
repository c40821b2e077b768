#include "rules/shard_key.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace aiopsd::rules {

namespace {

// The labels a rule's state is keyed by, when it keeps state per group.
std::optional<std::vector<std::string>> grouping(const Rule& r) {
  const bool grouped = r.kind != RuleKind::kSingle || r.throttle.count() > 0;
  if (!grouped) return std::nullopt;  // per alert: any route keeps an alert in one place
  return r.group_by;
}

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

}  // namespace

ShardKey::ShardKey(std::vector<std::string> labels, Interner& interner)
    : labels_(std::move(labels)), interner_(interner) {
  for (const auto& l : labels_) symbols_.push_back(interner.intern(l));
}

std::optional<std::vector<std::string>> ShardKey::plan(const RuleSet& rules, std::string& why) {
  std::optional<std::vector<std::string>> common;
  std::string first;
  auto meet = [&](const std::vector<std::string>& labels, const std::string& who) {
    if (!common) {
      common = sorted(labels);
      first = who;
      return;
    }
    std::vector<std::string> both;
    auto l = sorted(labels);
    std::set_intersection(common->begin(), common->end(), l.begin(), l.end(),
                          std::back_inserter(both));
    if (both.empty() && why.empty()) {
      why = fmt::format("{} and {} share no group_by label", first, who);
    }
    common = std::move(both);
  };
  for (const Rule& r : rules.rules) {
    if (auto g = grouping(r)) meet(*g, fmt::format("rule {}", r.name));
  }
  for (const InhibitRule& ir : rules.inhibit_rules) {
    meet(ir.equal, fmt::format("inhibit rule {} (equal)", ir.name));
  }
  if (!common) return std::vector<std::string>{};
  if (common->empty()) {
    if (why.empty()) why = fmt::format("{} groups all alerts together (no group_by)", first);
    return std::nullopt;
  }
  return common;
}

std::optional<std::string> ShardKey::incompatible(const RuleSet& rules) const {
  auto covers = [&](const std::vector<std::string>& labels) {
    return std::all_of(labels_.begin(), labels_.end(), [&](const std::string& l) {
      return std::find(labels.begin(), labels.end(), l) != labels.end();
    });
  };
  for (const Rule& r : rules.rules) {
    auto g = grouping(r);
    if (g && !covers(*g)) {
      return fmt::format(
          "rule {} does not group by [{}], which the running engine workers "
          "shard on",
          r.name, fmt::join(labels_, ", "));
    }
  }
  for (const InhibitRule& ir : rules.inhibit_rules) {
    if (!covers(ir.equal)) {
      return fmt::format(
          "inhibit rule {} does not list [{}] in equal, which the running engine "
          "workers shard on",
          ir.name, fmt::join(labels_, ", "));
    }
  }
  // Without labels the key is the fingerprint: only per-alert state is allowed.
  if (labels_.empty()) {
    for (const Rule& r : rules.rules) {
      if (grouping(r)) {
        return fmt::format(
            "rule {} keeps state per group, and the running engine workers "
            "shard by alert",
            r.name);
      }
    }
    if (!rules.inhibit_rules.empty()) {
      return "inhibit rules need the running engine workers to shard by their equal labels";
    }
  }
  return std::nullopt;
}

std::uint64_t ShardKey::route(const Event& e) const noexcept {
  if (symbols_.empty()) return e.fingerprint;
  return label_values_hash(e.labels, symbols_, interner_, 14695981039346656037ULL);
}

}  // namespace aiopsd::rules
