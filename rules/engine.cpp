#include "rules/engine.hpp"

#include <fmt/format.h>

#include <bit>
#include <cstring>

#include "rules/detail/engine_impl.hpp"

namespace aiopsd::rules {

Engine::Impl::Impl(const RuleSet& r, Interner& i, const Clock& c, EngineObserver* o,
                   EngineOptions l)
    : rules(r),
      interner(i),
      clock(c),
      observer(o),
      limits(std::move(l)),
      shard(limits.shard_by, i),
      index(r, i) {
  describe_rules();
}

void Engine::Impl::describe_rules() {
  info.resize(rules.rules.size());
  for (std::uint32_t r = 0; r < rules.rules.size(); ++r) {
    const Rule& rule = rules.rules[r];
    RuleInfo& ri = info[r];
    ri.id = hash_combine(kFnvOffset, hash_bytes(rule.name));
    ri.signature = hash_bytes(rule.signature);
    ri.max_groups = rule.max_groups ? rule.max_groups : limits.max_groups_per_rule;
    for (const auto& g : rule.group_by) ri.group_by.push_back(interner.intern(g));
  }
  for (const InhibitRule& ir : rules.inhibit_rules) {
    InhibitInfo& ii = inhibit.emplace_back();
    ii.id = hash_combine(kFnvOffset ^ 1, hash_bytes(ir.name));
    for (const auto& e : ir.equal) ii.equal.push_back(interner.intern(e));
  }
}

std::uint64_t Engine::Impl::group_hash(std::uint32_t r, const std::vector<Label>& labels) const {
  return label_values_hash(labels, info[r].group_by, interner, info[r].id);
}

std::string Engine::Impl::group_key(std::uint32_t r, const std::vector<Label>& labels) const {
  std::string key;
  for (Symbol name : info[r].group_by) {
    if (!key.empty()) key += ',';
    key += interner.view(name);
    key += '=';
    if (const Symbol v = label_value(labels, name); v != kNoSymbol) key += interner.view(v);
  }
  return key;
}

void Engine::Impl::touch(std::uint64_t key, const GroupState& gs) {
  if (tracking) dirty.push_back({kGroupRecord, key, gs.route});
}

void Engine::Impl::touch(std::uint64_t key, const ActiveAlert& a) {
  if (tracking) dirty.push_back({kAlertRecord, key, a.route});
}

void Engine::Impl::touch(std::uint64_t key, const InhibitSource& src) {
  if (tracking) dirty.push_back({kInhibitRecord, key, src.route});
}

bool Engine::Impl::make_room(std::uint32_t r) {
  RuleInfo& ri = info[r];
  while (ri.tracked >= ri.max_groups || total_tracked() >= limits.max_tracked) {
    if (!evict_oldest(r)) {
      if (observer) observer->on_state_unavailable(r);
      return false;
    }
  }
  return true;
}

bool Engine::Impl::guards_action(const GroupState& gs, TimePoint now) const {
  if (now < gs.throttled_until || gs.fired) return true;
  return std::any_of(gs.entries.begin(), gs.entries.end(), [](const Entry& e) { return e.fired; });
}

bool Engine::Impl::evict_oldest(std::uint32_t r) {
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

void Engine::Impl::remember_order(std::uint32_t r, std::uint64_t key) {
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

Engine::Impl::GroupState* Engine::Impl::group_for(std::uint32_t r, std::uint64_t key) {
  if (auto it = group_state.find(key); it != group_state.end()) return &it->second;
  if (!make_room(r)) return nullptr;
  GroupState& gs = group_state[key];
  gs.rule = r;
  gs.route = route;
  remember_order(r, key);
  return &gs;
}

void Engine::Impl::erase_group(std::unordered_map<std::uint64_t, GroupState>::iterator it) {
  --info[it->second.rule].tracked;
  touch(it->first, it->second);
  group_state.erase(it);
}

std::unordered_map<std::uint64_t, Engine::Impl::ActiveAlert>::iterator Engine::Impl::erase_alert(
    std::unordered_map<std::uint64_t, ActiveAlert>::iterator it) {
  --info[it->second.rule].tracked;
  touch(it->first, it->second);
  return active.erase(it);
}

TimePoint Engine::Impl::event_time(const Event& e, TimePoint now) {
  return e.starts_at != TimePoint{} && e.starts_at <= now ? e.starts_at : now;
}

Event Engine::Impl::event_of(const Member& m) {
  Event e;
  e.fingerprint = m.fingerprint;
  e.status = m.status;
  e.starts_at = m.starts_at;
  e.labels = m.labels;
  return e;
}

void Engine::Impl::fire(std::uint32_t r, std::uint64_t key, const Event& event,
                        std::vector<Member> members, std::vector<Decision>& out) {
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

void Engine::Impl::process(const Event& event, std::vector<Decision>& out) {
  route = shard.route(event);
  index.match_units(event, unit_scratch);
  const TimePoint now = clock.now();
  // An inhibited alert acts on no rule; when it resolves, the state it left
  // (dedup, windows, steps, an absence it answers) is still cleaned up.
  const bool held = !inhibit.empty() && inhibited(event, now);
  if (held && event.status == EventStatus::kFiring) return;
  const std::size_t n = unit_scratch.size();
  const std::uint32_t rule_units = index.rule_units();
  for (std::size_t i = 0; i < n && unit_scratch[i] < rule_units;) {
    const std::uint32_t r = index.unit(unit_scratch[i]).index;
    std::uint32_t steps = 0;     // steps whose matchers and declared status hold
    std::uint32_t resolves = 0;  // steps that only hear this alert resolve
    for (; i < n && unit_scratch[i] < rule_units && index.unit(unit_scratch[i]).index == r; ++i) {
      const MatchUnit& u = index.unit(unit_scratch[i]);
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

void Engine::Impl::on_rule(std::uint32_t r, std::uint32_t steps, std::uint32_t resolves,
                           const Event& event, TimePoint now, std::vector<Decision>& out) {
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

void Engine::Impl::forget_alert(std::uint32_t r, std::uint64_t fingerprint) {
  if (auto it = active.find(hash_combine(info[r].id, fingerprint)); it != active.end())
    erase_alert(it);
}

void Engine::Impl::track_alert(std::uint32_t r, const Event& event, TimePoint now,
                               std::vector<Decision>& out) {
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

void Engine::Impl::fire_alert(std::uint64_t key, ActiveAlert& a, const Event& event,
                              std::vector<Decision>& out) {
  a.fired = true;
  a.event.reset();
  touch(key, a);
  fire(a.rule, group_hash(a.rule, event.labels), event, {Member::of(event)}, out);
}

void Engine::Impl::count_hit(std::uint32_t r, const Event& event, TimePoint now,
                             std::vector<Decision>& out) {
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

void Engine::Impl::drop_member(std::uint32_t r, const Event& event, TimePoint now) {
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

bool Engine::Impl::slot_live(const Entry& s, const Rule& rule, TimePoint now) const {
  return s.at != TimePoint{} && now - s.at <= rule.window + limits.lateness;
}

void Engine::Impl::fill_step(std::uint32_t r, std::uint32_t steps, const Event& event,
                             TimePoint now, std::vector<Decision>& out) {
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

bool Engine::Impl::complete(const GroupState& gs, const Rule& rule, TimePoint now) const {
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

void Engine::Impl::absence_hit(std::uint32_t r, std::uint32_t steps, const Event& event,
                               TimePoint now) {
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

bool Engine::Impl::inhibited(const Event& event, TimePoint now) {
  for (std::uint32_t u : unit_scratch) {
    if (index.unit(u).owner != UnitOwner::kInhibitSource) continue;
    record_source(index.unit(u).index, event, now);
  }
  for (std::uint32_t u : unit_scratch) {
    if (index.unit(u).owner != UnitOwner::kInhibitTarget) continue;
    const std::uint32_t i = index.unit(u).index;
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

void Engine::Impl::record_source(std::uint32_t i, const Event& event, TimePoint now) {
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

void Engine::Impl::tick(std::vector<Decision>& out) {
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

void Engine::Impl::fire_for(const Timer& t, TimePoint now, std::vector<Decision>& out) {
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

void Engine::Impl::fire_absence(const Timer& t, TimePoint now, std::vector<Decision>& out) {
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

bool Engine::Impl::alert_expired(const ActiveAlert& a, const Rule& rule, TimePoint now) {
  return (a.ends_at != TimePoint{} && a.ends_at <= now) ||
         now - a.last_seen > kIdleExpiry + rule.for_duration;
}

void Engine::Impl::sweep(TimePoint now) {
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

Engine::Engine(const RuleSet& rules, Interner& interner, const Clock& clock,
               EngineObserver* observer, EngineOptions limits)
    : impl_(std::make_unique<Impl>(rules, interner, clock, observer, std::move(limits))) {}
Engine::~Engine() = default;

void Engine::match(const Event& event, std::vector<std::uint32_t>& matched) {
  impl_->index.match_rules(event, matched);
}
void Engine::process(const Event& event, std::vector<Decision>& out) { impl_->process(event, out); }
void Engine::tick(std::vector<Decision>& out) { impl_->tick(out); }
void Engine::expire_idle_state() { impl_->sweep(impl_->clock.now()); }
std::optional<TimePoint> Engine::next_due() const {
  if (impl_->timers.empty()) return std::nullopt;
  return impl_->timers.top().due;
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
    for (const Impl::Entry& e : gs.entries) n += e.at != TimePoint{} ? 1 : 0;
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
