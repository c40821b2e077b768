#pragma once
// Silences, as in Alertmanager: label matchers and a time range during which
// matching alerts are muted (they match no rule and are counted). Created,
// listed and expired over HTTP (the Alertmanager v2 silence document), and
// persisted in the StateStore so a restart forgets none.
//
// Thread-safe: HTTP threads change them; the engine thread takes a snapshot
// per batch, so its check costs no lock per event.

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "daemon/engine/engine_metrics.hpp"
#include "daemon/state/state_store.hpp"
#include "rules/event.hpp"

namespace re2 {
class RE2;
}

namespace aiopsd::daemon {

struct Silence {
  using TimePoint = std::chrono::system_clock::time_point;
  struct Matcher {
    std::string name;
    std::string value;
    bool regex = false;
    bool equal = true;  // false: the label must NOT match
  };
  enum class State { kPending, kActive, kExpired };

  std::string id;
  std::vector<Matcher> matchers;
  TimePoint starts_at{};
  TimePoint ends_at{};
  std::string created_by;
  std::string comment;
  TimePoint updated_at{};

  State state(TimePoint now) const;
};

std::string_view to_string(Silence::State s);
std::string to_json(const Silence& s, Silence::TimePoint now);

class Silences {
 public:
  using TimePoint = Silence::TimePoint;

  // The active silences at one moment, compiled: what the engine thread checks.
  class Snapshot {
   public:
    // True when an active silence matches every one of its matchers.
    bool matches(const rules::Event& event, TimePoint now) const;
    bool empty() const { return entries_.empty(); }

   private:
    friend class Silences;
    struct CompiledMatcher {
      rules::Symbol name = rules::kNoSymbol;
      rules::Symbol value = rules::kNoSymbol;  // equality matchers
      std::shared_ptr<re2::RE2> re;            // regex matchers
      bool equal = true;
    };
    struct Entry {
      TimePoint starts_at{};
      TimePoint ends_at{};
      std::vector<CompiledMatcher> matchers;
    };
    const rules::Interner* interner_ = nullptr;
    std::vector<Entry> entries_;
  };

  Silences(StateStore* store, rules::Interner& interner, EngineMetrics& metrics);

  // Parses and checks a silence document (Alertmanager v2 PostableSilence);
  // the error names the field.
  std::variant<Silence, std::string> parse(std::string_view json, TimePoint now) const;
  // Stores it (a new id); nullopt when it could not be persisted.
  std::optional<Silence> add(Silence s, TimePoint now);
  // Ends it now; false when unknown or already expired.
  bool expire(std::string_view id, TimePoint now);
  std::vector<Silence> list() const;
  std::optional<Silence> find(std::string_view id) const;

  std::shared_ptr<const Snapshot> snapshot() const;
  // Drops silences expired for more than a day; refreshes the gauges.
  void housekeeping(TimePoint now);

 private:
  void rebuild();  // with mu_ held

  StateStore* store_;
  rules::Interner& interner_;
  EngineMetrics& metrics_;
  mutable std::mutex mu_;
  std::vector<Silence> silences_;
  std::shared_ptr<const Snapshot> snapshot_;
};

}  // namespace aiopsd::daemon
