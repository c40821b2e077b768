#pragma once
// Engine::Impl, shared by the engine's two halves: engine.cpp (matching
// through MatcherIndex, correlation, inhibition, timers, eviction) and
// engine_changelog.cpp (the changelog: drain, serialize, restore, and the
// state handed over on reload). Not a public header: only those two include it.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <queue>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include "rules/detail/state_codec.hpp"
#include "rules/engine.hpp"
#include "rules/matcher_index.hpp"
#include "rules/shard_key.hpp"

namespace aiopsd::rules {

struct Engine::Impl {
  using Reader = detail::Reader;
  using Writer = detail::Writer;

  static constexpr std::uint64_t kFnvOffset = 14695981039346656037ULL;
  // An alert not re-sent for this long is forgotten (senders re-send firing
  // alerts every minute or so; Alertmanager's resolve_timeout is 5m).
  static constexpr std::chrono::hours kIdleExpiry{1};
  // An inhibiting alert without endsAt stops inhibiting this long after it was
  // last sent (Alertmanager's resolve_timeout).
  static constexpr std::chrono::minutes kInhibitTimeout{5};
  static constexpr std::chrono::seconds kSweepEvery{10};

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

  // State kinds, the first byte of a changelog key.
  static constexpr char kGroupRecord = 'g';
  static constexpr char kAlertRecord = 'a';
  static constexpr char kInhibitRecord = 'i';

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

  const RuleSet& rules;
  Interner& interner;
  const Clock& clock;
  EngineObserver* observer;
  EngineOptions limits;
  ShardKey shard;
  std::uint64_t route = 0;  // of the event (or timer) being handled: new entries take it

  MatcherIndex index;
  std::vector<RuleInfo> info;
  std::vector<InhibitInfo> inhibit;
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

  Impl(const RuleSet& r, Interner& i, const Clock& c, EngineObserver* o, EngineOptions l);

  // Stable ids (name hashes) and interned group_by names, for state keys.
  void describe_rules();

  // ---- keys, tracking, limits -------------------------------------------

  std::uint64_t group_hash(std::uint32_t r, const std::vector<Label>& labels) const;

  std::string group_key(std::uint32_t r, const std::vector<Label>& labels) const;

  // The entry at `key` changed (or is about to be erased): the changelog
  // writes it, under its route, at the next drain.
  void touch(std::uint64_t key, const GroupState& gs);
  void touch(std::uint64_t key, const ActiveAlert& a);
  void touch(std::uint64_t key, const InhibitSource& src);

  std::size_t total_tracked() const { return group_state.size() + active.size(); }

  // Makes room for one more entry of rule `r`: evicts its oldest entries
  // while it is at its limit (or all rules are at theirs). False when there
  // is nothing of its own to evict: the new state is then not kept.
  bool make_room(std::uint32_t r);

  // State that keeps an action from running again: a throttle still running,
  // or an incident already fired (dedup). Evicting it would let a flood of
  // new groups re-run a real group's action, so it goes last: never.
  bool guards_action(const GroupState& gs, TimePoint now) const;

  // Evicts the oldest of rule r's entries that guards no action. Guarding
  // ones met on the way go to the back of the queue; at most kEvictScan are
  // looked at per call, so a table full of guards costs bounded time and the
  // new state is simply not kept.
  static constexpr std::size_t kEvictScan = 256;
  bool evict_oldest(std::uint32_t r);

  void remember_order(std::uint32_t r, std::uint64_t key);

  GroupState* group_for(std::uint32_t r, std::uint64_t key);

  void erase_group(std::unordered_map<std::uint64_t, GroupState>::iterator it);

  std::unordered_map<std::uint64_t, ActiveAlert>::iterator erase_alert(
      std::unordered_map<std::uint64_t, ActiveAlert>::iterator it);

  // ---- processing ---------------------------------------------------------

  static TimePoint event_time(const Event& e, TimePoint now);

  static Event event_of(const Member& m);

  void fire(std::uint32_t r, std::uint64_t key, const Event& event, std::vector<Member> members,
            std::vector<Decision>& out);

  void process(const Event& event, std::vector<Decision>& out);

  void on_rule(std::uint32_t r, std::uint32_t steps, std::uint32_t resolves, const Event& event,
               TimePoint now, std::vector<Decision>& out);

  void forget_alert(std::uint32_t r, std::uint64_t fingerprint);

  // Rules without correlation: an alert acts once per firing episode
  // (re-sends are deduplicated), after `for` when set.
  void track_alert(std::uint32_t r, const Event& event, TimePoint now, std::vector<Decision>& out);

  void fire_alert(std::uint64_t key, ActiveAlert& a, const Event& event,
                  std::vector<Decision>& out);

  void count_hit(std::uint32_t r, const Event& event, TimePoint now, std::vector<Decision>& out);

  // A member resolved: it leaves the count window or the all_of step it held.
  void drop_member(std::uint32_t r, const Event& event, TimePoint now);

  bool slot_live(const Entry& s, const Rule& rule, TimePoint now) const;

  // all_of and sequence: the alert takes the first step it matches that is
  // free or already its own (so one alert never fills two steps), else it
  // replaces the first step's older alert.
  void fill_step(std::uint32_t r, std::uint32_t steps, const Event& event, TimePoint now,
                 std::vector<Decision>& out);

  // Every step holds a live alert, their start times lie within the window
  // and, for a sequence, follow the steps' order.
  bool complete(const GroupState& gs, const Rule& rule, TimePoint now) const;

  // absence: `expect` (step 1) answers an open timer; `after` (step 0) opens
  // one unless one is open. In that order, so a heartbeat that is both
  // (a dead man's switch) re-arms its own timer.
  void absence_hit(std::uint32_t r, std::uint32_t steps, const Event& event, TimePoint now);

  // Inhibit sources are recorded (or dropped when they resolve) first, then
  // the event is held back if a live source inhibits it. An alert never
  // inhibits itself.
  bool inhibited(const Event& event, TimePoint now);

  void record_source(std::uint32_t i, const Event& event, TimePoint now);

  // ---- timers and expiry --------------------------------------------------

  void tick(std::vector<Decision>& out);

  void fire_for(const Timer& t, TimePoint now, std::vector<Decision>& out);

  void fire_absence(const Timer& t, TimePoint now, std::vector<Decision>& out);

  static bool alert_expired(const ActiveAlert& a, const Rule& rule, TimePoint now);

  void sweep(TimePoint now);

  // ---- changelog ------------------------------------------------------------

  static void write_member(Writer& w, const Member& m, const Interner& in);

  bool read_member(Reader& r, Member& m);

  // kind, route big-endian (so a store or topic can range over a shard), key.
  void write_key(char kind, std::uint64_t route_of, std::uint64_t key);

  void drain_changes(StateSink& sink);

  // The entry's current value into value_buf; false when it no longer exists.
  bool serialize(char kind, std::uint64_t key);

  std::optional<std::uint32_t> rule_by_id(std::uint64_t id, std::uint64_t signature) const;

  bool restore(std::string_view key_bytes, std::string_view value);

  bool restore_group(std::uint32_t rule, std::uint64_t key, Reader& r);

  bool restore_alert(std::uint32_t rule, std::uint64_t key, Reader& r);

  bool restore_inhibit(std::uint64_t key, Reader& r);
};

}  // namespace aiopsd::rules
