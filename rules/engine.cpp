#include "rules/engine.hpp"

#include <fmt/format.h>
#include <re2/re2.h>
#include <re2/set.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <deque>
#include <queue>
#include <tuple>
#include <unordered_map>

#include "rules/detail/state_codec.hpp"
#include "rules/shard_key.hpp"

namespace aiopsd::rules {

namespace {

using detail::Reader;
using detail::Writer;

constexpr std::uint64_t kFnvOffset = 14695981039346656037ULL;
// An alert not re-sent for this long is forgotten (senders re-send firing
// alerts every minute or so; Alertmanager's resolve_timeout is 5m).
constexpr std::chrono::hours kIdleExpiry{1};
// An inhibiting alert without endsAt stops inhibiting this long after it was
// last sent (Alertmanager's resolve_timeout).
constexpr std::chrono::minutes kInhibitTimeout{5};
constexpr std::chrono::seconds kSweepEvery{10};

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

// One matcher set of a rule step or an inhibit rule side: the unit the index
// matches. Rule units come first, ordered by (rule, step), so one sorted
// match result groups each rule's steps together.
enum class Owner : std::uint8_t { kRule, kInhibitSource, kInhibitTarget };

struct Unit {
  std::vector<CompiledMatcher> matchers;          // equality first, regex last
  StatusFilter status = StatusFilter::kFiring;    // what the index checks
  StatusFilter declared = StatusFilter::kFiring;  // what the rule says
  std::uint8_t source_mask = 0xff;
  Owner owner = Owner::kRule;
  std::uint32_t index = 0;  // rule or inhibit rule
  std::uint8_t step = 0;
};

struct RuleInfo {
  // Keys correlation state instead of the rule's index, so state stays
  // addressable when a reload reorders rules, and across processes.
  std::uint64_t id = 0;
  std::uint64_t signature = 0;
  std::vector<Symbol> group_by;
  std::size_t max_groups = 0;
  std::size_t tracked = 0;
  // Insertion order of this rule's state keys, for eviction (lazy: keys
  // erased meanwhile are skipped when popped).
  std::deque<std::uint64_t> order;
};

struct InhibitInfo {
  std::uint64_t id = 0;
  std::vector<Symbol> equal;
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

bool status_ok(StatusFilter f, EventStatus s) {
  return f == StatusFilter::kAny || (f == StatusFilter::kFiring) == (s == EventStatus::kFiring);
}

// State kinds, the first byte of a changelog key.
constexpr char kGroupRecord = 'g';
constexpr char kAlertRecord = 'a';
constexpr char kInhibitRecord = 'i';

// An alert held in a group: a count window's hit, an all_of/sequence step,
// an absence's `after`. One type, one vector per group: most groups hold one
// alert, so the group itself stays small.
struct Entry {
  TimePoint at{};      // last received; 0: an empty step
  bool fired = false;  // count: already part of an incident, counts no more
  Member member;
};

struct GroupState {
  std::uint32_t rule = 0;
  bool fired = false;       // all_of/sequence: these steps already made an incident
  std::uint64_t route = 0;  // the shard route of its alerts
  TimePoint last_seen{};
  TimePoint throttled_until{};
  TimePoint deadline{};        // absence: when the timer fires; 0 when none
  std::vector<Entry> entries;  // count: the window; all_of/sequence: one per step; absence: after
};

struct ActiveAlert {
  std::uint32_t rule = 0;
  bool fired = false;
  std::uint64_t route = 0;
  TimePoint since{};
  TimePoint last_seen{};
  TimePoint ends_at{};
  std::unique_ptr<Event> event;  // rules with `for`, until it fires
};

struct InhibitSource {
  std::uint32_t rule = 0;
  std::uint64_t route = 0;
  std::vector<std::pair<std::uint64_t, TimePoint>> alerts;  // (fingerprint, inhibits until)
};

struct Timer {
  TimePoint due;
  std::uint64_t key;
  bool alert;  // an ActiveAlert's `for`; else a group's absence deadline
  bool operator>(const Timer& o) const { return due > o.due; }
};

}  // namespace

struct Engine::Impl {
  const RuleSet& rules;
  Interner& interner;
  const Clock& clock;
  EngineObserver* observer;
  EngineOptions limits;
  ShardKey shard;
  std::uint64_t route = 0;  // of the event (or timer) being handled: new entries take it

  std::vector<Unit> units;
  std::vector<RuleInfo> info;
  std::vector<InhibitInfo> inhibit;
  std::uint32_t rule_units = 0;  // units [0, rule_units) belong to rules
  std::unordered_map<std::uint64_t, std::vector<std::uint32_t>> eq_index;
  std::vector<RegexGroup> groups;
  std::unordered_map<Symbol, std::uint32_t> group_of_name;
  std::vector<std::uint32_t> unindexed;  // units with no usable anchor: always checked

  std::uint64_t epoch = 0;
  std::vector<int> set_hits;
  std::vector<std::uint32_t> unit_scratch;
  std::unordered_map<std::uint64_t, GroupState> group_state;
  std::unordered_map<std::uint64_t, ActiveAlert> active;           // key: (rule, fingerprint)
  std::unordered_map<std::uint64_t, InhibitSource> inhibit_state;  // key: (inhibit rule, equal)
  std::priority_queue<Timer, std::vector<Timer>, std::greater<>> timers;
  TimePoint last_sweep{};

  bool tracking = false;
  // Changed entries: kind, key, and the route the entry had (an erased one
  // is gone by drain time, and its erasure goes to the same key).
  struct Dirty {
    char kind;
    std::uint64_t key;
    std::uint64_t route;
    bool operator==(const Dirty&) const = default;
    bool operator<(const Dirty& o) const {
      return std::tie(kind, key, route) < std::tie(o.kind, o.key, o.route);
    }
  };
  std::vector<Dirty> dirty;
  std::string key_buf, value_buf;

  Impl(const RuleSet& r, Interner& i, const Clock& c, EngineObserver* o, EngineOptions l)
      : rules(r),
        interner(i),
        clock(c),
        observer(o),
        limits(std::move(l)),
        shard(limits.shard_by, i) {
    compile();
  }

  // ---- compiling and matching -------------------------------------------

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

  Unit& add_unit(const MatcherSet& set, Owner owner, std::uint32_t index, std::uint8_t step,
                 std::unordered_map<std::uint64_t, std::uint32_t>& eq_frequency) {
    Unit& u = units.emplace_back();
    u.owner = owner;
    u.index = index;
    u.step = step;
    u.status = u.declared = set.status;
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

  void compile() {
    std::unordered_map<std::uint64_t, std::uint32_t> eq_frequency;
    info.resize(rules.rules.size());
    for (std::uint32_t r = 0; r < rules.rules.size(); ++r) {
      const Rule& rule = rules.rules[r];
      RuleInfo& ri = info[r];
      ri.id = hash_combine(kFnvOffset, hash_bytes(rule.name));
      ri.signature = hash_bytes(rule.signature);
      ri.max_groups = rule.max_groups ? rule.max_groups : limits.max_groups_per_rule;
      for (const auto& g : rule.group_by) ri.group_by.push_back(interner.intern(g));
      std::uint8_t mask = 0xff;
      if (!rule.sources.empty()) {
        mask = 0;
        for (EventSource s : rule.sources) mask |= 1U << static_cast<unsigned>(s);
      }
      for (std::size_t s = 0; s < rule.steps.size(); ++s) {
        Unit& u =
            add_unit(rule.steps[s], Owner::kRule, r, static_cast<std::uint8_t>(s), eq_frequency);
        u.source_mask = mask;
        // Count, all_of and per-alert state must hear when a member resolves.
        if ((rule.kind == RuleKind::kCount || rule.kind == RuleKind::kAllOf ||
             rule.kind == RuleKind::kSingle) &&
            u.declared == StatusFilter::kFiring) {
          u.status = StatusFilter::kAny;
        }
      }
    }
    rule_units = static_cast<std::uint32_t>(units.size());
    for (std::uint32_t i = 0; i < rules.inhibit_rules.size(); ++i) {
      const InhibitRule& ir = rules.inhibit_rules[i];
      InhibitInfo& ii = inhibit.emplace_back();
      ii.id = hash_combine(kFnvOffset ^ 1, hash_bytes(ir.name));
      for (const auto& e : ir.equal) ii.equal.push_back(interner.intern(e));
      // Sources hear their resolution; targets are held back whatever their status.
      add_unit(ir.source, Owner::kInhibitSource, i, 0, eq_frequency).status = StatusFilter::kAny;
      add_unit(ir.target, Owner::kInhibitTarget, i, 1, eq_frequency).status = StatusFilter::kAny;
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

  void match(const Event& event, std::vector<std::uint32_t>& out) {
    match_units(event, unit_scratch);
    out.clear();
    for (std::uint32_t u : unit_scratch) {
      if (u >= rule_units) break;
      if (!status_ok(units[u].declared, event.status)) continue;
      if (out.empty() || out.back() != units[u].index) out.push_back(units[u].index);
    }
  }

  // ---- keys, tracking, limits -------------------------------------------

  std::uint64_t group_hash(std::uint32_t r, const std::vector<Label>& labels) const {
    return label_values_hash(labels, info[r].group_by, interner, info[r].id);
  }

  std::string group_key(std::uint32_t r, const std::vector<Label>& labels) const {
    std::string key;
    for (Symbol name : info[r].group_by) {
      if (!key.empty()) key += ',';
      key += interner.view(name);
      key += '=';
      if (const Symbol v = label_value(labels, name); v != kNoSymbol) key += interner.view(v);
    }
    return key;
  }

  // The entry at `key` changed (or is about to be erased): the changelog
  // writes it, under its route, at the next drain.
  void touch(std::uint64_t key, const GroupState& gs) {
    if (tracking) dirty.push_back({kGroupRecord, key, gs.route});
  }
  void touch(std::uint64_t key, const ActiveAlert& a) {
    if (tracking) dirty.push_back({kAlertRecord, key, a.route});
  }
  void touch(std::uint64_t key, const InhibitSource& src) {
    if (tracking) dirty.push_back({kInhibitRecord, key, src.route});
  }

  std::size_t total_tracked() const { return group_state.size() + active.size(); }

  // Makes room for one more entry of rule `r`: evicts its oldest entries
  // while it is at its limit (or all rules are at theirs). False when there
  // is nothing of its own to evict: the new state is then not kept.
  bool make_room(std::uint32_t r) {
    RuleInfo& ri = info[r];
    while (ri.tracked >= ri.max_groups || total_tracked() >= limits.max_tracked) {
      if (!evict_oldest(r)) {
        if (observer) observer->on_state_unavailable(r);
        return false;
      }
    }
    return true;
  }

  // State that keeps an action from running again: a throttle still running,
  // or an incident already fired (dedup). Evicting it would let a flood of
  // new groups re-run a real group's action, so it goes last: never.
  bool guards_action(const GroupState& gs, TimePoint now) const {
    if (now < gs.throttled_until || gs.fired) return true;
    return std::any_of(gs.entries.begin(), gs.entries.end(),
                       [](const Entry& e) { return e.fired; });
  }

  // Evicts the oldest of rule r's entries that guards no action. Guarding
  // ones met on the way go to the back of the queue; at most kEvictScan are
  // looked at per call, so a table full of guards costs bounded time and the
  // new state is simply not kept.
  static constexpr std::size_t kEvictScan = 256;
  bool evict_oldest(std::uint32_t r) {
    RuleInfo& ri = info[r];
    const TimePoint now = clock.now();
    for (std::size_t scanned = 0; !ri.order.empty() && scanned < kEvictScan;) {
      std::uint64_t key = ri.order.front();
      ri.order.pop_front();
      if (auto it = group_state.find(key); it != group_state.end() && it->second.rule == r) {
        ++scanned;
        if (guards_action(it->second, now)) {
          ri.order.push_back(key);
          continue;
        }
        erase_group(it);
      } else if (auto at = active.find(key); at != active.end() && at->second.rule == r) {
        erase_alert(at);
      } else {
        continue;  // erased meanwhile
      }
      if (observer) observer->on_evicted(r);
      return true;
    }
    if (observer) observer->on_evicted(r);
    return false;
  }

  void remember_order(std::uint32_t r, std::uint64_t key) {
    RuleInfo& ri = info[r];
    ++ri.tracked;
    ri.order.push_back(key);
    // Keys erased by expiry stay in the queue until popped; compact it when
    // they outnumber the live ones so it stays O(tracked).
    if (ri.order.size() > 2 * ri.tracked + 64) {
      std::erase_if(ri.order, [&](std::uint64_t k) {
        auto g = group_state.find(k);
        if (g != group_state.end() && g->second.rule == r) return false;
        auto a = active.find(k);
        return !(a != active.end() && a->second.rule == r);
      });
    }
  }

  GroupState* group_for(std::uint32_t r, std::uint64_t key) {
    if (auto it = group_state.find(key); it != group_state.end()) return &it->second;
    if (!make_room(r)) return nullptr;
    GroupState& gs = group_state[key];
    gs.rule = r;
    gs.route = route;
    remember_order(r, key);
    return &gs;
  }

  void erase_group(std::unordered_map<std::uint64_t, GroupState>::iterator it) {
    --info[it->second.rule].tracked;
    touch(it->first, it->second);
    group_state.erase(it);
  }

  std::unordered_map<std::uint64_t, ActiveAlert>::iterator erase_alert(
      std::unordered_map<std::uint64_t, ActiveAlert>::iterator it) {
    --info[it->second.rule].tracked;
    touch(it->first, it->second);
    return active.erase(it);
  }

  // ---- processing ---------------------------------------------------------

  static TimePoint event_time(const Event& e, TimePoint now) {
    return e.starts_at != TimePoint{} && e.starts_at <= now ? e.starts_at : now;
  }

  static Event event_of(const Member& m) {
    Event e;
    e.fingerprint = m.fingerprint;
    e.status = m.status;
    e.starts_at = m.starts_at;
    e.labels = m.labels;
    return e;
  }

  void fire(std::uint32_t r, std::uint64_t key, const Event& event, std::vector<Member> members,
            std::vector<Decision>& out) {
    const Rule& rule = rules.rules[r];
    TimePoint now = clock.now();
    if (rule.throttle.count() > 0) {
      // Fails closed: an action whose throttle cannot be remembered does not run.
      GroupState* gs = group_for(r, key);
      if (!gs) return;
      gs->last_seen = now;
      if (now < gs->throttled_until) {
        if (observer) observer->on_throttled(r);
        return;
      }
      gs->throttled_until = now + rule.throttle;
      touch(key, *gs);
    }
    Decision& d = out.emplace_back();
    d.rule = r;
    d.group_key = group_key(r, event.labels);
    d.event = event;
    d.fingerprints.reserve(members.size());
    for (const Member& m : members) d.fingerprints.push_back(m.fingerprint);
    d.members = std::move(members);
  }

  void process(const Event& event, std::vector<Decision>& out) {
    route = shard.route(event);
    match_units(event, unit_scratch);
    const TimePoint now = clock.now();
    // An inhibited alert acts on no rule; when it resolves, the state it left
    // (dedup, windows, steps, an absence it answers) is still cleaned up.
    const bool held = !inhibit.empty() && inhibited(event, now);
    if (held && event.status == EventStatus::kFiring) return;
    const std::size_t n = unit_scratch.size();
    for (std::size_t i = 0; i < n && unit_scratch[i] < rule_units;) {
      const std::uint32_t r = units[unit_scratch[i]].index;
      std::uint32_t steps = 0;     // steps whose matchers and declared status hold
      std::uint32_t resolves = 0;  // steps that only hear this alert resolve
      for (; i < n && unit_scratch[i] < rule_units && units[unit_scratch[i]].index == r; ++i) {
        const Unit& u = units[unit_scratch[i]];
        (status_ok(u.declared, event.status) ? steps : resolves) |= 1U << u.step;
      }
      if (held) {
        const bool absence = rules.rules[r].kind == RuleKind::kAbsence;
        resolves |= steps;
        steps = absence ? steps & 2U : 0;  // an answer to an absence timer is no action
      }
      if (steps && observer) observer->on_match(r);
      on_rule(r, steps, resolves, event, now, out);
    }
  }

  void on_rule(std::uint32_t r, std::uint32_t steps, std::uint32_t resolves, const Event& event,
               TimePoint now, std::vector<Decision>& out) {
    const Rule& rule = rules.rules[r];
    switch (rule.kind) {
      case RuleKind::kSingle:
        if (event.status == EventStatus::kResolved) {
          // Its firing episode is over; a rule on resolved alerts acts on each.
          forget_alert(r, event.fingerprint);
          if (steps) fire(r, group_hash(r, event.labels), event, {Member::of(event)}, out);
        } else if (steps) {
          track_alert(r, event, now, out);
        }
        break;
      case RuleKind::kCount:
        if (steps) {
          count_hit(r, event, now, out);
        } else if (resolves) {
          drop_member(r, event, now);
        }
        break;
      case RuleKind::kAllOf:
      case RuleKind::kSequence:
        if (steps) {
          fill_step(r, steps, event, now, out);
        } else if (resolves) {
          drop_member(r, event, now);
        }
        break;
      case RuleKind::kAbsence:
        absence_hit(r, steps, event, now);
        break;
    }
  }

  void forget_alert(std::uint32_t r, std::uint64_t fingerprint) {
    if (auto it = active.find(hash_combine(info[r].id, fingerprint)); it != active.end())
      erase_alert(it);
  }

  // Rules without correlation: an alert acts once per firing episode
  // (re-sends are deduplicated), after `for` when set.
  void track_alert(std::uint32_t r, const Event& event, TimePoint now, std::vector<Decision>& out) {
    const Rule& rule = rules.rules[r];
    const std::uint64_t key = hash_combine(info[r].id, event.fingerprint);
    auto it = active.find(key);
    if (it == active.end()) {
      if (!make_room(r)) return;
      it = active.try_emplace(key).first;
      remember_order(r, key);
      ActiveAlert& a = it->second;
      a.rule = r;
      a.route = route;
      a.since = event_time(event, now);
      if (rule.for_duration.count() > 0) {
        a.event = std::make_unique<Event>(event);
        timers.push({a.since + rule.for_duration, key, true});
      }
      touch(key, a);
    }
    ActiveAlert& a = it->second;
    a.last_seen = now;
    a.ends_at = event.ends_at;
    if (a.fired || now - a.since < rule.for_duration) return;
    fire_alert(key, a, event, out);
  }

  void fire_alert(std::uint64_t key, ActiveAlert& a, const Event& event,
                  std::vector<Decision>& out) {
    a.fired = true;
    a.event.reset();
    touch(key, a);
    fire(a.rule, group_hash(a.rule, event.labels), event, {Member::of(event)}, out);
  }

  void count_hit(std::uint32_t r, const Event& event, TimePoint now, std::vector<Decision>& out) {
    const Rule& rule = rules.rules[r];
    const std::uint64_t key = group_hash(r, event.labels);
    GroupState* gs = group_for(r, key);
    if (!gs) return;
    gs->last_seen = now;
    auto& w = gs->entries;
    const std::size_t before = w.size();
    std::erase_if(w, [&](const Entry& hit) { return now - hit.at >= rule.window; });
    // Re-sends of the same alert refresh it; only distinct alerts count, and
    // an alert that already made an incident counts no more while it fires.
    auto same = std::find_if(w.begin(), w.end(), [&](const Entry& hit) {
      return hit.member.fingerprint == event.fingerprint;
    });
    if (same != w.end()) {
      same->at = now;
      if (w.size() != before) touch(key, *gs);
      return;
    }
    w.push_back(Entry{now, false, Member::of(event)});
    touch(key, *gs);
    const auto fresh = static_cast<std::size_t>(
        std::count_if(w.begin(), w.end(), [](const Entry& h) { return !h.fired; }));
    if (fresh < rule.count) return;
    std::vector<Member> members;
    members.reserve(fresh);
    for (Entry& hit : w) {
      if (hit.fired) continue;
      hit.fired = true;
      members.push_back(hit.member);
    }
    fire(r, key, event, std::move(members), out);
  }

  // A member resolved: it leaves the count window or the all_of step it held.
  void drop_member(std::uint32_t r, const Event& event, TimePoint now) {
    const std::uint64_t key = group_hash(r, event.labels);
    auto it = group_state.find(key);
    if (it == group_state.end()) return;
    GroupState& gs = it->second;
    gs.last_seen = now;
    const std::uint64_t fp = event.fingerprint;
    bool changed = false;
    if (rules.rules[r].kind == RuleKind::kCount) {
      changed =
          std::erase_if(gs.entries, [&](const Entry& h) { return h.member.fingerprint == fp; }) > 0;
    } else {
      for (Entry& s : gs.entries) {  // a step stays in place, emptied
        if (s.at != TimePoint{} && s.member.fingerprint == fp) {
          s = Entry{};
          changed = true;
        }
      }
    }
    if (changed) touch(key, gs);
  }

  bool slot_live(const Entry& s, const Rule& rule, TimePoint now) const {
    return s.at != TimePoint{} && now - s.at <= rule.window + limits.lateness;
  }

  // all_of and sequence: the alert takes the first step it matches that is
  // free or already its own (so one alert never fills two steps), else it
  // replaces the first step's older alert.
  void fill_step(std::uint32_t r, std::uint32_t steps, const Event& event, TimePoint now,
                 std::vector<Decision>& out) {
    const Rule& rule = rules.rules[r];
    const std::uint64_t key = group_hash(r, event.labels);
    GroupState* gs = group_for(r, key);
    if (!gs) return;
    gs->last_seen = now;
    gs->entries.resize(rule.steps.size());
    int target = -1;
    for (std::uint32_t m = steps; m; m &= m - 1) {
      const int s = std::countr_zero(m);
      const Entry& slot = gs->entries[s];
      if (!slot_live(slot, rule, now) || slot.member.fingerprint == event.fingerprint) {
        target = s;
        break;
      }
    }
    if (target < 0) target = std::countr_zero(steps);
    Entry& slot = gs->entries[target];
    const TimePoint at = event_time(event, now);
    if (!slot_live(slot, rule, now) || slot.member.fingerprint != event.fingerprint ||
        slot.member.starts_at != at) {
      slot.member = Member::of(event);
      slot.member.starts_at = at;
      gs->fired = false;
      touch(key, *gs);
    }
    slot.at = now;
    if (gs->fired || !complete(*gs, rule, now)) return;
    gs->fired = true;
    std::vector<Member> members;
    members.reserve(gs->entries.size());
    for (const Entry& s : gs->entries) members.push_back(s.member);
    fire(r, key, event, std::move(members), out);
  }

  // Every step holds a live alert, their start times lie within the window
  // and, for a sequence, follow the steps' order.
  bool complete(const GroupState& gs, const Rule& rule, TimePoint now) const {
    TimePoint lo = TimePoint::max();
    TimePoint hi = TimePoint::min();
    TimePoint prev = TimePoint::min();
    for (const Entry& s : gs.entries) {
      if (!slot_live(s, rule, now)) return false;
      const TimePoint t = s.member.starts_at;
      if (rule.kind == RuleKind::kSequence && t < prev) return false;
      prev = t;
      lo = std::min(lo, t);
      hi = std::max(hi, t);
    }
    return hi - lo <= rule.window;
  }

  // absence: `expect` (step 1) answers an open timer; `after` (step 0) opens
  // one unless one is open. In that order, so a heartbeat that is both
  // (a dead man's switch) re-arms its own timer.
  void absence_hit(std::uint32_t r, std::uint32_t steps, const Event& event, TimePoint now) {
    const Rule& rule = rules.rules[r];
    const std::uint64_t key = group_hash(r, event.labels);
    auto it = group_state.find(key);
    if ((steps & 2U) && it != group_state.end() && it->second.deadline != TimePoint{}) {
      it->second.deadline = TimePoint{};
      it->second.entries.clear();
      it->second.last_seen = now;
      touch(key, it->second);
    }
    if (!(steps & 1U)) return;
    GroupState* gs = group_for(r, key);
    if (!gs) return;
    gs->last_seen = now;
    if (gs->deadline != TimePoint{}) return;
    gs->deadline = now + rule.window;
    gs->entries.assign(1, Entry{now, false, Member::of(event)});
    timers.push({gs->deadline, key, false});
    touch(key, *gs);
  }

  // Inhibit sources are recorded (or dropped when they resolve) first, then
  // the event is held back if a live source inhibits it. An alert never
  // inhibits itself.
  bool inhibited(const Event& event, TimePoint now) {
    for (std::uint32_t u : unit_scratch) {
      if (u < rule_units || units[u].owner != Owner::kInhibitSource) continue;
      record_source(units[u].index, event, now);
    }
    for (std::uint32_t u : unit_scratch) {
      if (u < rule_units || units[u].owner != Owner::kInhibitTarget) continue;
      const std::uint32_t i = units[u].index;
      auto it = inhibit_state.find(
          label_values_hash(event.labels, inhibit[i].equal, interner, inhibit[i].id));
      if (it == inhibit_state.end()) continue;
      for (const auto& [fp, until] : it->second.alerts) {
        if (fp != event.fingerprint && until > now) {
          if (observer) observer->on_inhibited(i);
          return true;
        }
      }
    }
    return false;
  }

  void record_source(std::uint32_t i, const Event& event, TimePoint now) {
    const std::uint64_t key =
        label_values_hash(event.labels, inhibit[i].equal, interner, inhibit[i].id);
    auto& src = inhibit_state[key];
    src.rule = i;
    src.route = route;
    auto& alerts = src.alerts;
    auto same = std::find_if(alerts.begin(), alerts.end(),
                             [&](const auto& a) { return a.first == event.fingerprint; });
    if (event.status == EventStatus::kResolved) {
      if (same != alerts.end()) alerts.erase(same);
    } else {
      const TimePoint until =
          event.ends_at > now ? event.ends_at : now + std::chrono::milliseconds(kInhibitTimeout);
      if (same != alerts.end()) {
        same->second = until;
      } else {
        alerts.emplace_back(event.fingerprint, until);
      }
    }
    touch(key, src);  // before erasing: the key carries the entry's route
    if (alerts.empty()) inhibit_state.erase(key);
  }

  // ---- timers and expiry --------------------------------------------------

  void tick(std::vector<Decision>& out) {
    const TimePoint now = clock.now();
    while (!timers.empty() && timers.top().due <= now) {
      const Timer t = timers.top();
      timers.pop();
      if (t.alert) {
        fire_for(t, now, out);
      } else {
        fire_absence(t, now, out);
      }
    }
    if (now - last_sweep >= kSweepEvery) sweep(now);
  }

  void fire_for(const Timer& t, TimePoint now, std::vector<Decision>& out) {
    auto it = active.find(t.key);
    if (it == active.end()) return;
    ActiveAlert& a = it->second;
    const Rule& rule = rules.rules[a.rule];
    if (a.fired || !a.event || now - a.since < rule.for_duration) return;
    if (alert_expired(a, rule, now)) return;  // gone quiet: the sweep drops it
    route = a.route;
    Event ev = std::move(*a.event);
    fire_alert(t.key, a, ev, out);
  }

  void fire_absence(const Timer& t, TimePoint now, std::vector<Decision>& out) {
    auto it = group_state.find(t.key);
    if (it == group_state.end()) return;
    GroupState& gs = it->second;
    // A timer re-armed or answered since this entry was queued is stale.
    if (gs.deadline == TimePoint{} || gs.deadline != t.due || gs.entries.empty()) return;
    gs.deadline = TimePoint{};
    gs.last_seen = now;
    route = gs.route;
    std::vector<Member> members{std::move(gs.entries[0].member)};
    gs.entries.clear();
    touch(t.key, gs);
    const Event ev = event_of(members[0]);
    fire(gs.rule, t.key, ev, std::move(members), out);
  }

  static bool alert_expired(const ActiveAlert& a, const Rule& rule, TimePoint now) {
    return (a.ends_at != TimePoint{} && a.ends_at <= now) ||
           now - a.last_seen > kIdleExpiry + rule.for_duration;
  }

  void sweep(TimePoint now) {
    last_sweep = now;
    for (auto it = active.begin(); it != active.end();) {
      if (alert_expired(it->second, rules.rules[it->second.rule], now)) {
        it = erase_alert(it);
      } else {
        ++it;
      }
    }
    for (auto it = group_state.begin(); it != group_state.end();) {
      GroupState& gs = it->second;
      const Rule& rule = rules.rules[gs.rule];
      const std::size_t before = gs.entries.size();
      bool live = false;
      if (rule.kind == RuleKind::kCount) {
        std::erase_if(gs.entries, [&](const Entry& h) { return now - h.at >= rule.window; });
        live = !gs.entries.empty();
      } else if (gs.deadline == TimePoint{}) {
        for (Entry& s : gs.entries) {
          if (s.at != TimePoint{} && !slot_live(s, rule, now)) s = Entry{};
          live = live || s.at != TimePoint{};
        }
      } else {
        live = true;  // an armed absence timer
      }
      const bool idle = !live && now >= gs.throttled_until && now - gs.last_seen > kIdleExpiry;
      auto next = std::next(it);
      if (idle) {
        erase_group(it);
      } else if (gs.entries.size() != before) {
        touch(it->first, it->second);
      }
      it = next;
    }
    for (auto it = inhibit_state.begin(); it != inhibit_state.end();) {
      auto& alerts = it->second.alerts;
      if (std::erase_if(alerts, [&](const auto& a) { return a.second <= now; }) > 0) {
        touch(it->first, it->second);
      }
      it = alerts.empty() ? inhibit_state.erase(it) : std::next(it);
    }
  }

  // ---- changelog ------------------------------------------------------------

  static void write_member(Writer& w, const Member& m, const Interner& in) {
    w.u64(m.fingerprint);
    w.u8(static_cast<std::uint8_t>(m.status));
    w.time(m.starts_at);
    w.u64(m.labels.size());
    for (const Label& l : m.labels) {
      w.str(in.view(l.name));
      w.str(in.view(l.value));
    }
  }

  bool read_member(Reader& r, Member& m) {
    m.fingerprint = r.u64();
    m.status = r.u8() ? EventStatus::kResolved : EventStatus::kFiring;
    m.starts_at = r.time();
    const std::uint64_t n = r.u64();
    if (!r.ok() || n > 4096) return false;
    m.labels.clear();
    for (std::uint64_t i = 0; i < n && r.ok(); ++i) {
      const Symbol name = interner.intern(r.str());
      const Symbol value = interner.intern(r.str());
      m.labels.push_back({name, value});
    }
    return r.ok() && normalize_labels(m.labels);
  }

  // kind, route big-endian (so a store or topic can range over a shard), key.
  void write_key(char kind, std::uint64_t route_of, std::uint64_t key) {
    Writer w(key_buf);
    w.u8(static_cast<std::uint8_t>(kind));
    w.u64(__builtin_bswap64(route_of));
    w.u64(key);
  }

  void drain_changes(StateSink& sink) {
    if (dirty.empty()) return;
    std::sort(dirty.begin(), dirty.end());
    dirty.erase(std::unique(dirty.begin(), dirty.end()), dirty.end());
    for (const auto& [kind, key, route_of] : dirty) {
      write_key(kind, route_of, key);
      if (serialize(kind, key)) {
        sink.put(key_buf, value_buf);
      } else {
        sink.erase(key_buf);
      }
    }
    dirty.clear();
  }

  // The entry's current value into value_buf; false when it no longer exists.
  bool serialize(char kind, std::uint64_t key) {
    Writer w(value_buf);
    if (kind == kGroupRecord) {
      auto it = group_state.find(key);
      if (it == group_state.end()) return false;
      const GroupState& gs = it->second;
      w.u64(info[gs.rule].id);
      w.u64(info[gs.rule].signature);
      w.u8(gs.fired ? 1 : 0);
      w.time(gs.last_seen);
      w.time(gs.throttled_until);
      w.time(gs.deadline);
      w.u64(gs.entries.size());
      for (const Entry& h : gs.entries) {
        w.time(h.at);
        w.u8(h.fired ? 1 : 0);
        write_member(w, h.member, interner);
      }
      return true;
    }
    if (kind == kAlertRecord) {
      auto it = active.find(key);
      if (it == active.end()) return false;
      const ActiveAlert& a = it->second;
      w.u64(info[a.rule].id);
      w.u64(info[a.rule].signature);
      w.u8(a.fired ? 1 : 0);
      w.time(a.since);
      w.time(a.last_seen);
      w.time(a.ends_at);
      w.u8(a.event ? 1 : 0);
      if (a.event) {
        write_member(w, Member::of(*a.event), interner);
        w.u64(a.event->annotations.size());
        for (const Annotation& an : a.event->annotations) {
          w.str(interner.view(an.name));
          w.str(std::string_view(a.event->annotation_text).substr(an.offset, an.size));
        }
        w.u8(static_cast<std::uint8_t>(a.event->source));
        w.time(a.event->ends_at);
        w.str(a.event->generator_url);
      }
      return true;
    }
    auto it = inhibit_state.find(key);
    if (it == inhibit_state.end()) return false;
    w.u64(inhibit[it->second.rule].id);
    w.u64(it->second.alerts.size());
    for (const auto& [fp, until] : it->second.alerts) {
      w.u64(fp);
      w.time(until);
    }
    return true;
  }

  std::optional<std::uint32_t> rule_by_id(std::uint64_t id, std::uint64_t signature) const {
    for (std::uint32_t r = 0; r < info.size(); ++r) {
      if (info[r].id == id) {
        if (info[r].signature != signature) return std::nullopt;
        return r;
      }
    }
    return std::nullopt;
  }

  bool restore(std::string_view key_bytes, std::string_view value) {
    Reader kr(key_bytes);
    const char kind = static_cast<char>(kr.u8());
    route = __builtin_bswap64(kr.u64());
    const std::uint64_t key = kr.u64();
    if (!kr.ok() || !kr.done()) return false;
    Reader r(value);
    if (kind == kInhibitRecord) return restore_inhibit(key, r);
    const std::uint64_t id = r.u64();
    const std::uint64_t sig = r.u64();
    auto rule = rule_by_id(id, sig);
    if (!rule || !r.ok()) return false;
    if (kind == kGroupRecord) return restore_group(*rule, key, r);
    if (kind == kAlertRecord) return restore_alert(*rule, key, r);
    return false;
  }

  bool restore_group(std::uint32_t rule, std::uint64_t key, Reader& r) {
    GroupState gs;
    gs.rule = rule;
    gs.route = route;
    gs.fired = r.u8() != 0;
    gs.last_seen = r.time();
    gs.throttled_until = r.time();
    gs.deadline = r.time();
    const std::uint64_t ne = r.u64();
    for (std::uint64_t i = 0; i < ne && r.ok() && i < 1'000'000; ++i) {
      Entry& h = gs.entries.emplace_back();
      h.at = r.time();
      h.fired = r.u8() != 0;
      if (!read_member(r, h.member)) return false;
    }
    if (!r.ok() || !r.done()) return false;
    if (gs.deadline != TimePoint{}) timers.push({gs.deadline, key, false});
    if (!group_state.contains(key)) remember_order(rule, key);
    group_state.insert_or_assign(key, std::move(gs));
    return true;
  }

  bool restore_alert(std::uint32_t rule, std::uint64_t key, Reader& r) {
    ActiveAlert a;
    a.rule = rule;
    a.route = route;
    a.fired = r.u8() != 0;
    a.since = r.time();
    a.last_seen = r.time();
    a.ends_at = r.time();
    if (r.u8()) {
      Member m;
      if (!read_member(r, m)) return false;
      auto ev = std::make_unique<Event>(event_of(m));
      const std::uint64_t na = r.u64();
      for (std::uint64_t i = 0; i < na && r.ok() && i < 4096; ++i) {
        const Symbol name = interner.intern(r.str());
        const std::string_view text = r.str();
        ev->annotations.push_back({name, static_cast<std::uint32_t>(ev->annotation_text.size()),
                                   static_cast<std::uint32_t>(text.size())});
        ev->annotation_text += text;
      }
      ev->source = static_cast<EventSource>(std::min<std::uint8_t>(r.u8(), 2));
      ev->ends_at = r.time();
      ev->generator_url = std::string(r.str());
      a.event = std::move(ev);
    }
    if (!r.ok() || !r.done()) return false;
    const Rule& def = rules.rules[rule];
    if (a.event && !a.fired) timers.push({a.since + def.for_duration, key, true});
    if (!active.contains(key)) remember_order(rule, key);
    active.insert_or_assign(key, std::move(a));
    return true;
  }

  bool restore_inhibit(std::uint64_t key, Reader& r) {
    const std::uint64_t id = r.u64();
    std::optional<std::uint32_t> which;
    for (std::uint32_t i = 0; i < inhibit.size(); ++i) {
      if (inhibit[i].id == id) which = i;
    }
    if (!which) return false;
    InhibitSource src;
    src.rule = *which;
    src.route = route;
    const std::uint64_t n = r.u64();
    for (std::uint64_t i = 0; i < n && r.ok() && i < 1'000'000; ++i) {
      const std::uint64_t fp = r.u64();
      src.alerts.emplace_back(fp, r.time());
    }
    if (!r.ok() || !r.done()) return false;
    inhibit_state.insert_or_assign(key, std::move(src));
    return true;
  }
};

Engine::Engine(const RuleSet& rules, Interner& interner, const Clock& clock,
               EngineObserver* observer, EngineOptions limits)
    : impl_(std::make_unique<Impl>(rules, interner, clock, observer, std::move(limits))) {}
Engine::~Engine() = default;

void Engine::match(const Event& event, std::vector<std::uint32_t>& matched) {
  impl_->match(event, matched);
}
void Engine::process(const Event& event, std::vector<Decision>& out) { impl_->process(event, out); }
void Engine::tick(std::vector<Decision>& out) { impl_->tick(out); }
void Engine::expire_idle_state() { impl_->sweep(impl_->clock.now()); }
std::optional<TimePoint> Engine::next_due() const {
  if (impl_->timers.empty()) return std::nullopt;
  return impl_->timers.top().due;
}

std::size_t Engine::adopt_state(Engine& previous) {
  Impl& old = *previous.impl_;
  Impl& now = *impl_;
  // Old rule index -> new index, for rules with the same name and definition.
  std::unordered_map<std::uint32_t, std::uint32_t> same;
  for (std::uint32_t n = 0; n < now.info.size(); ++n) {
    for (std::uint32_t o = 0; o < old.info.size(); ++o) {
      if (old.info[o].id == now.info[n].id && old.info[o].signature == now.info[n].signature) {
        same.emplace(o, n);
      }
    }
  }
  for (auto& [key, gs] : old.group_state) {
    auto it = same.find(gs.rule);
    if (it == same.end()) continue;
    gs.rule = it->second;
    if (gs.deadline != TimePoint{}) now.timers.push({gs.deadline, key, false});
    now.remember_order(gs.rule, key);
    now.group_state.insert_or_assign(key, std::move(gs));
  }
  for (auto& [key, a] : old.active) {
    auto it = same.find(a.rule);
    if (it == same.end()) continue;
    a.rule = it->second;
    if (a.event && !a.fired) {
      now.timers.push({a.since + now.rules.rules[a.rule].for_duration, key, true});
    }
    now.remember_order(a.rule, key);
    now.active.insert_or_assign(key, std::move(a));
  }
  // Inhibitions in force carry over to inhibit rules of the same name.
  for (auto& [key, src] : old.inhibit_state) {
    for (std::uint32_t i = 0; i < now.inhibit.size(); ++i) {
      if (now.inhibit[i].id == old.inhibit[src.rule].id) {
        src.rule = i;
        now.inhibit_state.insert_or_assign(key, std::move(src));
        break;
      }
    }
  }
  // The changelog follows: dropped entries are erased, kept ones re-written.
  if (old.tracking) {
    for (const auto& [key, gs] : old.group_state)
      now.dirty.push_back({kGroupRecord, key, gs.route});
    for (const auto& [key, a] : old.active) now.dirty.push_back({kAlertRecord, key, a.route});
    for (const auto& d : old.dirty) now.dirty.push_back(d);
  }
  old.group_state.clear();
  old.active.clear();
  old.inhibit_state.clear();
  old.dirty.clear();
  return same.size();
}

void Engine::track_changes(bool on) { impl_->tracking = on; }
void Engine::drain_changes(StateSink& sink) { impl_->drain_changes(sink); }
bool Engine::restore(std::string_view key, std::string_view value) {
  return impl_->restore(key, value);
}
std::optional<std::uint64_t> Engine::route_of_key(std::string_view key) {
  if (key.size() != 17) return std::nullopt;
  std::uint64_t be = 0;
  std::memcpy(&be, key.data() + 1, 8);
  return __builtin_bswap64(be);
}

const RuleSet& Engine::rules() const { return impl_->rules; }
std::size_t Engine::pending_for() const {
  std::size_t n = 0;
  for (const auto& [k, a] : impl_->active) n += (!a.fired && a.event) ? 1 : 0;
  return n;
}
std::size_t Engine::groups_tracked() const { return impl_->group_state.size(); }
std::size_t Engine::alerts_tracked() const {
  std::size_t n = impl_->active.size();
  for (const auto& [k, gs] : impl_->group_state) {
    for (const Entry& e : gs.entries) n += e.at != TimePoint{} ? 1 : 0;
  }
  return n;
}
std::size_t Engine::tracked(std::uint32_t rule) const {
  return rule < impl_->info.size() ? impl_->info[rule].tracked : 0;
}
std::size_t Engine::inhibiting() const {
  std::size_t n = 0;
  for (const auto& [k, src] : impl_->inhibit_state) n += src.alerts.size();
  return n;
}

}  // namespace aiopsd::rules
