// The engine's changelog: every state entry that changed since the last
// drain is written under a key `kind | route | hash` (kind: g group, a alert,
// i inhibit source; route: the shard route, big-endian, so a store or a
// compacted topic can partition by it), and read back by restore() in this
// or another process. Also the reload handover (adopt_state), which moves
// the same state between two engines in memory.

#include <cstring>

#include "rules/detail/engine_impl.hpp"

namespace aiopsd::rules {

void Engine::Impl::write_member(Writer& w, const Member& m, const Interner& in) {
  w.u64(m.fingerprint);
  w.u8(static_cast<std::uint8_t>(m.status));
  w.time(m.starts_at);
  w.u64(m.labels.size());
  for (const Label& l : m.labels) {
    w.str(in.view(l.name));
    w.str(in.view(l.value));
  }
}

bool Engine::Impl::read_member(Reader& r, Member& m) {
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

void Engine::Impl::write_key(char kind, std::uint64_t route_of, std::uint64_t key) {
  Writer w(key_buf);
  w.u8(static_cast<std::uint8_t>(kind));
  w.u64(__builtin_bswap64(route_of));
  w.u64(key);
}

void Engine::Impl::drain_changes(StateSink& sink) {
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

bool Engine::Impl::serialize(char kind, std::uint64_t key) {
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

std::optional<std::uint32_t> Engine::Impl::rule_by_id(std::uint64_t id,
                                                      std::uint64_t signature) const {
  for (std::uint32_t r = 0; r < info.size(); ++r) {
    if (info[r].id == id) {
      if (info[r].signature != signature) return std::nullopt;
      return r;
    }
  }
  return std::nullopt;
}

bool Engine::Impl::restore(std::string_view key_bytes, std::string_view value) {
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

bool Engine::Impl::restore_group(std::uint32_t rule, std::uint64_t key, Reader& r) {
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

bool Engine::Impl::restore_alert(std::uint32_t rule, std::uint64_t key, Reader& r) {
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

bool Engine::Impl::restore_inhibit(std::uint64_t key, Reader& r) {
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
      now.dirty.push_back({Impl::kGroupRecord, key, gs.route});
    for (const auto& [key, a] : old.active) now.dirty.push_back({Impl::kAlertRecord, key, a.route});
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

}  // namespace aiopsd::rules
