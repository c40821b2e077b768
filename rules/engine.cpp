#include "rules/engine.hpp"

#include <fmt/format.h>
#include <re2/re2.h>
#include <re2/set.h>

#include <algorithm>
#include <unordered_map>

namespace aiopsd::rules {

namespace {

constexpr std::uint64_t kFnvOffset = 14695981039346656037ULL;
constexpr std::uint64_t kFnvPrime = 1099511628211ULL;
// An alert not re-sent for this long is forgotten (senders re-send firing
// alerts every minute or so; Alertmanager's resolve_timeout is 5m).
constexpr std::chrono::hours kIdleExpiry{1};

std::uint64_t mix(std::uint64_t h, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) {
    h ^= (v >> (i * 8)) & 0xff;
    h *= kFnvPrime;
  }
  return h;
}

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

struct CompiledRule {
  std::vector<CompiledMatcher> matchers;  // equality first, regex last
  StatusFilter status = StatusFilter::kFiring;
  std::uint8_t source_mask = 0xff;
  std::vector<Symbol> group_by;
  // Keys correlation state instead of the rule's index, so state stays
  // addressable when a reload reorders or adds rules.
  std::uint64_t id = 0;
};

// All regex matchers on one label name, evaluated together in one RE2::Set pass.
struct RegexGroup {
  Symbol name = kNoSymbol;
  std::unique_ptr<RE2::Set> set;
  std::vector<std::unique_ptr<RE2>> each;  // fallback if the set's DFA runs out of memory
  std::vector<std::uint8_t> matches_empty;
  std::unordered_map<std::string, std::uint32_t> by_pattern;
  std::vector<std::vector<std::uint32_t>> anchored;  // pattern -> rules anchored on it
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

struct GroupState {
  std::uint32_t rule = 0;
  std::vector<std::pair<TimePoint, std::uint64_t>> window;  // (time, fingerprint), distinct fps
  TimePoint throttled_until{};
  TimePoint last_seen{};
};

struct ActiveAlert {
  std::uint32_t rule = 0;
  TimePoint since{};
  TimePoint last_seen{};
  TimePoint ends_at{};
  bool fired = false;
  Event event;  // kept for rules with `for`, to act on when time comes
};

}  // namespace

struct Engine::Impl {
  const RuleSet& rules;
  Interner& interner;
  const Clock& clock;
  EngineObserver* observer;

  std::vector<CompiledRule> compiled;
  std::unordered_map<std::uint64_t, std::vector<std::uint32_t>> eq_index;
  std::vector<RegexGroup> groups;
  std::unordered_map<Symbol, std::uint32_t> group_of_name;
  std::vector<std::uint32_t> unindexed;  // rules with no usable anchor: always checked
  std::vector<std::uint32_t> for_rules;  // rules that keep per-alert state

  std::uint64_t epoch = 0;
  std::vector<int> set_hits;
  std::vector<std::uint32_t> matched_scratch;
  std::unordered_map<std::uint64_t, GroupState> group_state;
  std::unordered_map<std::uint64_t, ActiveAlert> active;  // key: (rule, fingerprint)

  Impl(const RuleSet& r, Interner& i, const Clock& c, EngineObserver* o)
      : rules(r), interner(i), clock(c), observer(o) {
    compile();
  }

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

  void compile() {
    compiled.resize(rules.rules.size());
    // Anchor each rule on its rarest equality matcher so candidate lists stay short.
    std::unordered_map<std::uint64_t, std::uint32_t> eq_frequency;
    for (std::size_t r = 0; r < rules.rules.size(); ++r) {
      const Rule& rule = rules.rules[r];
      CompiledRule& cr = compiled[r];
      cr.id = mix(kFnvOffset, std::hash<std::string>{}(rule.name));
      cr.status = rule.status;
      if (!rule.sources.empty()) {
        cr.source_mask = 0;
        for (EventSource s : rule.sources) cr.source_mask |= 1U << static_cast<unsigned>(s);
      }
      for (const auto& g : rule.group_by) cr.group_by.push_back(interner.intern(g));
      for (const LabelMatcher& m : rule.matchers) {
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
        cr.matchers.push_back(cm);
      }
      std::stable_partition(cr.matchers.begin(), cr.matchers.end(), [](const CompiledMatcher& m) {
        return m.op == MatchOp::kEq || m.op == MatchOp::kNeq;
      });
      if (rule.for_duration.count() > 0 || rule.count == 0) {
        for_rules.push_back(static_cast<std::uint32_t>(r));
      }
    }
    for (auto& g : groups) {
      if (!g.set->Compile()) throw std::runtime_error("RE2::Set compile failed (out of memory)");
      for (std::uint32_t p = 0; p < g.each.size(); ++p) {
        if (g.matches_empty[p]) g.empty_hits.push_back(p);
      }
    }
    std::unordered_map<std::uint64_t, std::uint32_t> re_frequency;
    for (const CompiledRule& cr : compiled) {
      for (const CompiledMatcher& m : cr.matchers) {
        if (m.op == MatchOp::kRegex) ++re_frequency[re_key(m)];
      }
    }
    for (std::size_t r = 0; r < compiled.size(); ++r) {
      index_rule(static_cast<std::uint32_t>(r), eq_frequency, re_frequency);
    }
  }

  // Anchors a rule on the matcher with the smallest candidate bucket: an
  // equality key shared by the fewest rules, or a regex (that needs its label
  // present) shared by the fewest rules, weighted as less selective than an
  // equality. Rules with neither are checked for every event.
  void index_rule(std::uint32_t r, const std::unordered_map<std::uint64_t, std::uint32_t>& eq_freq,
                  const std::unordered_map<std::uint64_t, std::uint32_t>& re_freq) {
    constexpr std::uint64_t kRegexWeight = 4;
    const CompiledMatcher* best = nullptr;
    std::uint64_t best_cost = UINT64_MAX;
    for (const CompiledMatcher& m : compiled[r].matchers) {
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
      unindexed.push_back(r);
    } else if (best->op == MatchOp::kEq) {
      eq_index[eq_key(best->name, best->value)].push_back(r);
    } else {
      groups[best->group].anchored[best->pattern].push_back(r);
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

  bool verify(std::uint32_t r, const Event& event) {
    const CompiledRule& cr = compiled[r];
    if (cr.status != StatusFilter::kAny &&
        (cr.status == StatusFilter::kFiring) != (event.status == EventStatus::kFiring)) {
      return false;
    }
    if (!(cr.source_mask & (1U << static_cast<unsigned>(event.source)))) return false;
    for (const CompiledMatcher& m : cr.matchers) {
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

  void match(const Event& event, std::vector<std::uint32_t>& out) {
    out.clear();
    ++epoch;
    for (const Label& l : event.labels) {
      if (auto it = eq_index.find(eq_key(l.name, l.value)); it != eq_index.end()) {
        for (std::uint32_t r : it->second) {
          if (verify(r, event)) out.push_back(r);
        }
      }
      if (auto git = group_of_name.find(l.name); git != group_of_name.end()) {
        const RegexGroup& g = groups[git->second];
        if (!g.has_anchored) continue;
        for (std::uint32_t p : regex_hits(git->second, event)) {
          for (std::uint32_t r : g.anchored[p]) {
            if (verify(r, event)) out.push_back(r);
          }
        }
      }
    }
    for (std::uint32_t r : unindexed) {
      if (verify(r, event)) out.push_back(r);
    }
    std::sort(out.begin(), out.end());
  }

  std::uint64_t group_hash(std::uint32_t r, const Event& event) const {
    std::uint64_t h = compiled[r].id;
    for (Symbol name : compiled[r].group_by) h = mix(h, event.label(name));
    return h;
  }

  std::string group_key(std::uint32_t r, const Event& event) const {
    std::string key;
    for (Symbol name : compiled[r].group_by) {
      if (!key.empty()) key += ',';
      key += interner.view(name);
      key += '=';
      key += interner.view(event.label(name));
    }
    return key;
  }

  void fire(std::uint32_t r, const Event& event, std::vector<std::uint64_t> fps,
            std::vector<Decision>& out) {
    const Rule& rule = rules.rules[r];
    TimePoint now = clock.now();
    GroupState& gs = group_state[group_hash(r, event)];
    gs.rule = r;
    gs.last_seen = now;
    if (rule.throttle.count() > 0) {
      if (now < gs.throttled_until) {
        if (observer) observer->on_throttled(r);
        return;
      }
      gs.throttled_until = now + rule.throttle;
    }
    out.push_back(Decision{r, group_key(r, event), event, std::move(fps)});
  }

  void process(const Event& event, std::vector<Decision>& out) {
    if (event.status == EventStatus::kResolved) forget_alert(event.fingerprint);
    match(event, matched_scratch);
    TimePoint now = clock.now();
    for (std::uint32_t r : matched_scratch) {
      if (observer) observer->on_match(r);
      const Rule& rule = rules.rules[r];
      if (rule.count > 0) {
        count_hit(r, event, now, out);
      } else if (event.status == EventStatus::kResolved) {
        fire(r, event, {event.fingerprint}, out);  // a rule on resolved alerts acts on each
      } else {
        track_alert(r, event, now, out);
      }
    }
  }

  void forget_alert(std::uint64_t fingerprint) {
    for (std::uint32_t r : for_rules) active.erase(mix(compiled[r].id, fingerprint));
  }

  // Rules without count: an alert acts once per firing episode (re-sends are
  // deduplicated), after `for` when set.
  void track_alert(std::uint32_t r, const Event& event, TimePoint now, std::vector<Decision>& out) {
    const Rule& rule = rules.rules[r];
    auto [it, inserted] = active.try_emplace(mix(compiled[r].id, event.fingerprint));
    ActiveAlert& a = it->second;
    a.last_seen = now;
    a.ends_at = event.ends_at;
    if (inserted) {
      a.rule = r;
      bool valid_start = event.starts_at != TimePoint{} && event.starts_at <= now;
      a.since = valid_start ? event.starts_at : now;
      if (rule.for_duration.count() > 0) a.event = event;
    }
    if (a.fired || now - a.since < rule.for_duration) return;
    a.fired = true;
    a.event.clear();
    fire(r, event, {event.fingerprint}, out);
  }

  void count_hit(std::uint32_t r, const Event& event, TimePoint now, std::vector<Decision>& out) {
    const Rule& rule = rules.rules[r];
    GroupState& gs = group_state[group_hash(r, event)];
    gs.rule = r;
    gs.last_seen = now;
    auto& w = gs.window;
    std::erase_if(w, [&](const auto& hit) { return now - hit.first >= rule.window; });
    // Re-sends of the same alert refresh it; only distinct alerts count.
    auto same = std::find_if(w.begin(), w.end(),
                             [&](const auto& hit) { return hit.second == event.fingerprint; });
    if (same != w.end()) {
      same->first = now;
    } else {
      w.emplace_back(now, event.fingerprint);
    }
    if (w.size() < rule.count) return;
    std::vector<std::uint64_t> fps;
    fps.reserve(w.size());
    for (const auto& hit : w) fps.push_back(hit.second);
    w.clear();
    fire(r, event, std::move(fps), out);
  }

  void tick(std::vector<Decision>& out) {
    TimePoint now = clock.now();
    for (auto it = active.begin(); it != active.end();) {
      ActiveAlert& a = it->second;
      const Rule& rule = rules.rules[a.rule];
      bool expired = (a.ends_at != TimePoint{} && a.ends_at <= now) ||
                     now - a.last_seen > kIdleExpiry + rule.for_duration;
      if (expired) {
        it = active.erase(it);
        continue;
      }
      if (!a.fired && rule.for_duration.count() > 0 && now - a.since >= rule.for_duration) {
        a.fired = true;
        Event ev = std::move(a.event);
        a.event.clear();
        fire(a.rule, ev, {ev.fingerprint}, out);
      }
      ++it;
    }
  }

  void expire_idle_state() {
    TimePoint now = clock.now();
    std::erase_if(group_state, [&](const auto& kv) {
      const GroupState& gs = kv.second;
      return gs.window.empty() && now >= gs.throttled_until && now - gs.last_seen > kIdleExpiry;
    });
  }
};

Engine::Engine(const RuleSet& rules, Interner& interner, const Clock& clock,
               EngineObserver* observer)
    : impl_(std::make_unique<Impl>(rules, interner, clock, observer)) {}
Engine::~Engine() = default;

void Engine::match(const Event& event, std::vector<std::uint32_t>& matched) {
  impl_->match(event, matched);
}
void Engine::process(const Event& event, std::vector<Decision>& out) { impl_->process(event, out); }
void Engine::tick(std::vector<Decision>& out) { impl_->tick(out); }
void Engine::expire_idle_state() { impl_->expire_idle_state(); }

std::size_t Engine::adopt_state(Engine& previous) {
  Impl& old = *previous.impl_;
  // Old rule index -> new index, for rules with the same name and definition.
  std::unordered_map<std::uint32_t, std::uint32_t> same;
  for (std::uint32_t n = 0; n < impl_->rules.rules.size(); ++n) {
    const Rule& now = impl_->rules.rules[n];
    for (std::uint32_t o = 0; o < old.rules.rules.size(); ++o) {
      const Rule& before = old.rules.rules[o];
      if (before.name == now.name && before.signature == now.signature) same.emplace(o, n);
    }
  }
  for (auto& [key, gs] : old.group_state) {
    auto it = same.find(gs.rule);
    if (it == same.end()) continue;
    gs.rule = it->second;
    impl_->group_state.insert_or_assign(key, std::move(gs));
  }
  for (auto& [key, a] : old.active) {
    auto it = same.find(a.rule);
    if (it == same.end()) continue;
    a.rule = it->second;
    impl_->active.insert_or_assign(key, std::move(a));
  }
  old.group_state.clear();
  old.active.clear();
  return same.size();
}
const RuleSet& Engine::rules() const { return impl_->rules; }
std::size_t Engine::pending_for() const {
  std::size_t n = 0;
  for (const auto& [k, a] : impl_->active) n += a.fired ? 0 : 1;
  return n;
}
std::size_t Engine::groups_tracked() const { return impl_->group_state.size(); }

}  // namespace aiopsd::rules
