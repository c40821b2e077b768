#pragma once
// The rule engine: an index over compiled rules that matches an event in time
// independent of the number of equality rules, then correlation (count in a
// window, `for`), then throttling per group key, producing Decisions.
//
// Lifecycle and threads: built by the daemon from a RuleSet; every method is
// called from the single engine thread. No allocation per event in steady
// state on the match path (scratch buffers are reused).

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "rules/clock.hpp"
#include "rules/event.hpp"
#include "rules/rule.hpp"

namespace aiopsd::rules {

// What a rule decided: run its actions for this group, triggered by `event`.
struct Decision {
  std::uint32_t rule = 0;                   // index into the RuleSet
  std::string group_key;                    // "instance=10.0.0.1,job=node", "" when no group_by
  Event event;                              // the alert that completed the condition
  std::vector<std::uint64_t> fingerprints;  // every alert that contributed
};

// Receives per-rule outcomes; the daemon binds metric handles resolved once.
class EngineObserver {
 public:
  virtual ~EngineObserver() = default;
  virtual void on_match(std::uint32_t rule) = 0;
  virtual void on_throttled(std::uint32_t rule) = 0;
};

class Engine {
 public:
  // Keeps a reference to `rules`, `interner` and `clock`; they must outlive it.
  Engine(const RuleSet& rules, Interner& interner, const Clock& clock,
         EngineObserver* observer = nullptr);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Indices of matching rules, ascending. Pure: no correlation state changes.
  void match(const Event& event, std::vector<std::uint32_t>& matched);

  // Matches, correlates and throttles one event; appends decisions.
  void process(const Event& event, std::vector<Decision>& out);

  // Fires `for` conditions whose time has come; call periodically.
  void tick(std::vector<Decision>& out);

  // Drops correlation state idle for longer than the rules can use it.
  void expire_idle_state();

  // After a reload: takes over `previous`'s correlation state (windows,
  // throttles, alerts waiting out `for`) for every rule whose name and
  // definition are unchanged; state of changed or removed rules is dropped.
  // Returns how many rules kept their state. `previous` is left empty.
  std::size_t adopt_state(Engine& previous);

  const RuleSet& rules() const;
  std::size_t pending_for() const;     // alerts waiting out a `for`
  std::size_t groups_tracked() const;  // correlation/throttle groups in memory

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace aiopsd::rules
