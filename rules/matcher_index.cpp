#include "rules/matcher_index.hpp"

#include <fmt/format.h>
#include <re2/re2.h>
#include <re2/set.h>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <unordered_map>

namespace aiopsd::rules {

namespace {

std::uint64_t eq_key(Symbol name, Symbol value) {
  return (static_cast<std::uint64_t>(name) << 32) | value;
}

struct CompiledMatcher {
  Symbol name = kNoSymbol;
  MatchOp op = MatchOp::kEq;
  Symbol value = kNoSymbol;  // equality ops
  std::uint32_t group = 0;   // regex ops: regex group and pattern within it
  std::uint32_t pattern = 0;
};

// All regex matchers on one label name, evaluated together in one RE2::Set pass.
struct RegexGroup {
  Symbol name = kNoSymbol;
  std::unique_ptr<RE2::Set> set;
  std::vector<std::unique_ptr<RE2>> each;  // fallback if the set's DFA runs out of memory
  std::vector<std::uint8_t> matches_empty;
  std::unordered_map<std::string, std::uint32_t> by_pattern;
  std::vector<std::vector<std::uint32_t>> anchored;  // pattern -> units anchored on it
  bool has_anchored = false;
  // Label values repeat (alert names, severities, instances), and a regex's
  // verdict on a value never changes: remember the matching patterns per value
  // symbol, so most events run no regex at all. Bounded; cleared when full.
  std::unordered_map<Symbol, std::vector<std::uint32_t>> by_value;
  std::vector<std::uint32_t> empty_hits;  // patterns matching "" (label absent)
  // Per-event: the sorted matching patterns, valid while `epoch` is current.
  std::uint64_t epoch = 0;
  const std::vector<std::uint32_t>* hits = nullptr;
};

constexpr std::size_t kMaxCachedValuesPerGroup = 1 << 16;

bool contains(const std::vector<std::uint32_t>& sorted, std::uint32_t v) {
  return std::binary_search(sorted.begin(), sorted.end(), v);
}

// One matcher set: its compiled matchers and what the index checks.
struct Unit {
  std::vector<CompiledMatcher> matchers;        // equality first, regex last
  StatusFilter status = StatusFilter::kFiring;  // may be wider than the declared one
  std::uint8_t source_mask = 0xff;
};

}  // namespace

bool status_ok(StatusFilter filter, EventStatus status) {
  return filter == StatusFilter::kAny ||
         (filter == StatusFilter::kFiring) == (status == EventStatus::kFiring);
}

struct MatcherIndex::Impl {
  Interner& interner;
  std::vector<MatchUnit>& public_units;  // MatcherIndex::units_, parallel to `units`
  std::vector<Unit> units;
  std::unordered_map<std::uint64_t, std::vector<std::uint32_t>> eq_index;
  std::vector<RegexGroup> groups;
  std::unordered_map<Symbol, std::uint32_t> group_of_name;
  std::vector<std::uint32_t> unindexed;  // units with no usable anchor: always checked
  std::uint64_t epoch = 0;
  std::vector<int> set_hits;
  std::uint32_t rule_units = 0;

  Impl(Interner& i, std::vector<MatchUnit>& pub) : interner(i), public_units(pub) {}

  std::uint32_t regex_group_for(Symbol name) {
    if (auto it = group_of_name.find(name); it != group_of_name.end()) return it->second;
    auto idx = static_cast<std::uint32_t>(groups.size());
    RegexGroup& g = groups.emplace_back();
    g.name = name;
    RE2::Options opts;
    opts.set_log_errors(false);
    opts.set_max_mem(256 << 20);
    g.set = std::make_unique<RE2::Set>(opts, RE2::ANCHOR_BOTH);
    group_of_name.emplace(name, idx);
    return idx;
  }

  std::uint32_t add_pattern(RegexGroup& g, const std::string& pattern) {
    if (auto it = g.by_pattern.find(pattern); it != g.by_pattern.end()) return it->second;
    std::string err;
    int id = g.set->Add(pattern, &err);
    // The loader already compiled every pattern; a failure here is a bug.
    if (id < 0) throw std::logic_error(fmt::format("regex rejected by RE2::Set: {}", err));
    RE2::Options opts;
    opts.set_log_errors(false);
    auto re = std::make_unique<RE2>("^(?:" + pattern + ")$", opts);
    g.matches_empty.push_back(RE2::FullMatch("", *re) ? 1 : 0);
    g.each.push_back(std::move(re));
    g.anchored.emplace_back();
    g.by_pattern.emplace(pattern, static_cast<std::uint32_t>(id));
    return static_cast<std::uint32_t>(id);
  }

  Unit& add_unit(const MatcherSet& set, UnitOwner owner, std::uint32_t index, std::uint8_t step,
                 std::unordered_map<std::uint64_t, std::uint32_t>& eq_frequency) {
    MatchUnit& pub = public_units.emplace_back();
    pub.owner = owner;
    pub.index = index;
    pub.step = step;
    pub.declared = set.status;
    Unit& u = units.emplace_back();
    u.status = set.status;
    for (const LabelMatcher& m : set.matchers) {
      CompiledMatcher cm;
      cm.name = interner.intern(m.name);
      cm.op = m.op;
      if (m.op == MatchOp::kEq || m.op == MatchOp::kNeq) {
        cm.value = m.value.empty() ? kNoSymbol : interner.intern(m.value);
        if (m.op == MatchOp::kEq && cm.value != kNoSymbol)
          ++eq_frequency[eq_key(cm.name, cm.value)];
      } else {
        cm.group = regex_group_for(cm.name);
        cm.pattern = add_pattern(groups[cm.group], m.value);
      }
      u.matchers.push_back(cm);
    }
    std::stable_partition(u.matchers.begin(), u.matchers.end(), [](const CompiledMatcher& m) {
      return m.op == MatchOp::kEq || m.op == MatchOp::kNeq;
    });
    return u;
  }

  void compile(const RuleSet& rules) {
    std::unordered_map<std::uint64_t, std::uint32_t> eq_frequency;
    for (std::uint32_t r = 0; r < rules.rules.size(); ++r) {
      const Rule& rule = rules.rules[r];
      std::uint8_t mask = 0xff;
      if (!rule.sources.empty()) {
        mask = 0;
        for (EventSource s : rule.sources) mask |= 1U << static_cast<unsigned>(s);
      }
      for (std::size_t s = 0; s < rule.steps.size(); ++s) {
        Unit& u = add_unit(rule.steps[s], UnitOwner::kRule, r, static_cast<std::uint8_t>(s),
                           eq_frequency);
        u.source_mask = mask;
        // Count, all_of and per-alert state must hear when a member resolves.
        if ((rule.kind == RuleKind::kCount || rule.kind == RuleKind::kAllOf ||
             rule.kind == RuleKind::kSingle) &&
            rule.steps[s].status == StatusFilter::kFiring) {
          u.status = StatusFilter::kAny;
        }
      }
    }
    rule_units = static_cast<std::uint32_t>(units.size());
    for (std::uint32_t i = 0; i < rules.inhibit_rules.size(); ++i) {
      const InhibitRule& ir = rules.inhibit_rules[i];
      // Sources hear their resolution; targets are held back whatever their status.
      add_unit(ir.source, UnitOwner::kInhibitSource, i, 0, eq_frequency).status =
          StatusFilter::kAny;
      add_unit(ir.target, UnitOwner::kInhibitTarget, i, 1, eq_frequency).status =
          StatusFilter::kAny;
    }
    for (auto& g : groups) {
      if (!g.set->Compile()) throw std::runtime_error("RE2::Set compile failed (out of memory)");
      for (std::uint32_t p = 0; p < g.each.size(); ++p) {
        if (g.matches_empty[p]) g.empty_hits.push_back(p);
      }
    }
    std::unordered_map<std::uint64_t, std::uint32_t> re_frequency;
    for (const Unit& u : units) {
      for (const CompiledMatcher& m : u.matchers) {
        if (m.op == MatchOp::kRegex) ++re_frequency[re_key(m)];
      }
    }
    for (std::uint32_t u = 0; u < units.size(); ++u) index_unit(u, eq_frequency, re_frequency);
  }

  // Anchors a unit on the matcher with the smallest candidate bucket: an
  // equality key shared by the fewest units, or a regex (that needs its label
  // present) shared by the fewest units, weighted as less selective than an
  // equality. Units with neither are checked for every event.
  void index_unit(std::uint32_t u, const std::unordered_map<std::uint64_t, std::uint32_t>& eq_freq,
                  const std::unordered_map<std::uint64_t, std::uint32_t>& re_freq) {
    constexpr std::uint64_t kRegexWeight = 4;
    const CompiledMatcher* best = nullptr;
    std::uint64_t best_cost = UINT64_MAX;
    for (const CompiledMatcher& m : units[u].matchers) {
      std::uint64_t cost = UINT64_MAX;
      if (m.op == MatchOp::kEq && m.value != kNoSymbol) {
        cost = eq_freq.at(eq_key(m.name, m.value));
      } else if (m.op == MatchOp::kRegex && !groups[m.group].matches_empty[m.pattern]) {
        cost = kRegexWeight * re_freq.at(re_key(m));
      }
      if (cost < best_cost) {
        best_cost = cost;
        best = &m;
      }
    }
    if (!best) {
      unindexed.push_back(u);
    } else if (best->op == MatchOp::kEq) {
      eq_index[eq_key(best->name, best->value)].push_back(u);
    } else {
      groups[best->group].anchored[best->pattern].push_back(u);
      groups[best->group].has_anchored = true;
    }
  }

  static std::uint64_t re_key(const CompiledMatcher& m) {
    return (static_cast<std::uint64_t>(m.group) << 32) | m.pattern;
  }

  const std::vector<std::uint32_t>& regex_hits(std::uint32_t gi, const Event& event) {
    RegexGroup& g = groups[gi];
    if (g.epoch == epoch) return *g.hits;
    g.epoch = epoch;
    Symbol v = event.label(g.name);
    if (v == kNoSymbol) {
      g.hits = &g.empty_hits;
      return *g.hits;
    }
    if (auto it = g.by_value.find(v); it != g.by_value.end()) {
      g.hits = &it->second;
      return *g.hits;
    }
    if (g.by_value.size() >= kMaxCachedValuesPerGroup) g.by_value.clear();
    std::vector<std::uint32_t>& hits = g.by_value[v];
    std::string_view value = interner.view(v);
    RE2::Set::ErrorInfo info{};
    set_hits.clear();
    if (g.set->Match(value, &set_hits, &info)) {
      for (int id : set_hits) hits.push_back(static_cast<std::uint32_t>(id));
    } else if (info.kind != RE2::Set::kNoError) {  // DFA out of memory: one by one
      for (std::uint32_t i = 0; i < g.each.size(); ++i) {
        if (RE2::FullMatch(value, *g.each[i])) hits.push_back(i);
      }
    }
    std::sort(hits.begin(), hits.end());
    g.hits = &hits;
    return hits;
  }

  bool verify(std::uint32_t ui, const Event& event) {
    const Unit& u = units[ui];
    if (!status_ok(u.status, event.status)) return false;
    if (!(u.source_mask & (1U << static_cast<unsigned>(event.source)))) return false;
    for (const CompiledMatcher& m : u.matchers) {
      switch (m.op) {
        case MatchOp::kEq:
          if (event.label(m.name) != m.value) return false;
          break;
        case MatchOp::kNeq:
          if (event.label(m.name) == m.value) return false;
          break;
        case MatchOp::kRegex:
          if (!contains(regex_hits(m.group, event), m.pattern)) return false;
          break;
        case MatchOp::kNotRegex:
          if (contains(regex_hits(m.group, event), m.pattern)) return false;
          break;
      }
    }
    return true;
  }

  void match_units(const Event& event, std::vector<std::uint32_t>& out) {
    out.clear();
    ++epoch;
    for (const Label& l : event.labels) {
      if (auto it = eq_index.find(eq_key(l.name, l.value)); it != eq_index.end()) {
        for (std::uint32_t u : it->second) {
          if (verify(u, event)) out.push_back(u);
        }
      }
      if (auto git = group_of_name.find(l.name); git != group_of_name.end()) {
        const RegexGroup& g = groups[git->second];
        if (!g.has_anchored) continue;
        for (std::uint32_t p : regex_hits(git->second, event)) {
          for (std::uint32_t u : g.anchored[p]) {
            if (verify(u, event)) out.push_back(u);
          }
        }
      }
    }
    for (std::uint32_t u : unindexed) {
      if (verify(u, event)) out.push_back(u);
    }
    std::sort(out.begin(), out.end());
  }
};

MatcherIndex::MatcherIndex(const RuleSet& rules, Interner& interner)
    : impl_(std::make_unique<Impl>(interner, units_)) {
  impl_->compile(rules);
  rule_units_ = impl_->rule_units;
}

MatcherIndex::~MatcherIndex() = default;

void MatcherIndex::match_units(const Event& event, std::vector<std::uint32_t>& out) {
  impl_->match_units(event, out);
}

void MatcherIndex::match_rules(const Event& event, std::vector<std::uint32_t>& out) {
  match_units(event, scratch_);
  out.clear();
  for (std::uint32_t u : scratch_) {
    if (u >= rule_units_) break;
    if (!status_ok(units_[u].declared, event.status)) continue;
    if (out.empty() || out.back() != units_[u].index) out.push_back(units_[u].index);
  }
}

}  // namespace aiopsd::rules
