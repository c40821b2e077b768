#pragma once
// The rule engine: an index over compiled rules that matches an event in time
// independent of the number of equality rules, then inhibition, then
// correlation (count in a window, all-of, sequence, absence, `for`) and
// throttling per group key, producing Decisions.
//
// Lifecycle and threads: built by the daemon from a RuleSet; every method is
// called from the single engine thread. No allocation per event in steady
// state on the match path (scratch buffers are reused).
//
// State is keyed by stable hashes of rule names and label values, never by
// process-local ids, so it can be written out as a changelog (drain_changes)
// and restored in another process (restore): the unit a later step can map
// onto Kafka partitions and a compacted topic.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rules/clock.hpp"
#include "rules/event.hpp"
#include "rules/rule.hpp"

namespace aiopsd::rules {

// What a rule decided: run its actions for this group.
struct Decision {
  std::uint32_t rule = 0;                   // index into the RuleSet
  std::string group_key;                    // "instance=10.0.0.1,job=node", "" when no group_by
  Event event;                              // the alert that completed the condition
  std::vector<Member> members;              // the incident's alerts, in the rule's step order
  std::vector<std::uint64_t> fingerprints;  // the members' fingerprints, same order

  TemplateContext context() const { return TemplateContext(event, members); }
};

// Receives per-rule outcomes; the daemon binds metric handles resolved once.
class EngineObserver {
 public:
  virtual ~EngineObserver() = default;
  virtual void on_match(std::uint32_t rule) = 0;
  virtual void on_throttled(std::uint32_t rule) = 0;
  virtual void on_inhibited(std::uint32_t /*inhibit_rule*/) {}
  virtual void on_evicted(std::uint32_t /*rule*/) {}
  // An event the rule matched but could not track, so it neither counts nor
  // acts: every slot of the rule (or of the engine) holds state that guards
  // an action. Fails closed: an action whose throttle cannot be kept does not run.
  virtual void on_state_unavailable(std::uint32_t /*rule*/) {}
};

struct EngineOptions {
  // The labels events are sharded by over engine workers (ShardKey); state
  // entries carry the hash of their values, the key a changelog is
  // partitioned by. Empty: the alert's fingerprint.
  std::vector<std::string> shard_by;
  // Groups (or alerts, for rules without correlation) one rule may track;
  // a rule's `max_groups` overrides it. Beyond it the oldest state that
  // guards no action (no running throttle, no fired incident) is evicted;
  // when there is none, the new state is not kept and a throttled rule does
  // not act.
  std::size_t max_groups_per_rule = 100'000;
  std::size_t max_tracked = 2'000'000;  // all rules together
  // How long after its last arrival an all_of/sequence member may still
  // pair with a member that arrives late.
  std::chrono::milliseconds lateness{60'000};
};

// Where the changelog goes: a key's latest value, or its deletion.
class StateSink {
 public:
  virtual ~StateSink() = default;
  virtual void put(std::string_view key, std::string_view value) = 0;
  virtual void erase(std::string_view key) = 0;
};

class Engine {
 public:
  // Keeps a reference to `rules`, `interner` and `clock`; they must outlive it.
  Engine(const RuleSet& rules, Interner& interner, const Clock& clock,
         EngineObserver* observer = nullptr, EngineOptions limits = {});
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Indices of matching rules, ascending. Pure: no correlation state changes.
  void match(const Event& event, std::vector<std::uint32_t>& matched);

  // Inhibits, matches, correlates and throttles one event; appends decisions.
  void process(const Event& event, std::vector<Decision>& out);

  // Fires the timers whose time has come (`for`, absence) and, every few
  // seconds, drops idle state; call periodically.
  void tick(std::vector<Decision>& out);

  // Drops correlation state idle for longer than the rules can use it.
  void expire_idle_state();

  // When the earliest timer (`for`, absence) is due; nullopt with none armed.
  // May be earlier than needed (a timer since answered), never later: a
  // virtual-clock driver ticks at these times instead of every second.
  std::optional<TimePoint> next_due() const;

  // After a reload: takes over `previous`'s correlation state (windows,
  // throttles, alerts waiting out `for`, timers, inhibitions) for every rule
  // whose name and definition are unchanged; state of changed or removed rules
  // is dropped. Returns how many rules kept their state. `previous` is left empty.
  std::size_t adopt_state(Engine& previous);

  // Changelog: with tracking on, every state entry changed since the last
  // drain is written to `sink` (its latest value, or its erasure). A key is
  // 17 bytes: kind, the entry's shard route (big-endian: see route_of_key),
  // and the entry's own hash.
  void track_changes(bool on);
  void drain_changes(StateSink& sink);
  // Loads one changelog record. False when it belongs to a rule that no
  // longer exists or changed its definition (the caller may erase it).
  bool restore(std::string_view key, std::string_view value);
  // The shard route a changelog key belongs to (ShardKey::route of its alerts).
  static std::optional<std::uint64_t> route_of_key(std::string_view key);

  const RuleSet& rules() const;
  std::size_t pending_for() const;     // alerts waiting out a `for`
  std::size_t groups_tracked() const;  // correlation/throttle groups in memory
  std::size_t alerts_tracked() const;  // alerts in windows, steps, timers and dedup state
  std::size_t tracked(std::uint32_t rule) const;  // state entries of one rule
  std::size_t inhibiting() const;                 // source alerts currently inhibiting

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace aiopsd::rules
