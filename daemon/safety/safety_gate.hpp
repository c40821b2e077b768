#pragma once
// Decides whether an automatic remediation may run now or must be held for a
// human: the global kill switch (automation paused), maintenance windows on
// device labels, and blast-radius breakers (at most N actions or N distinct
// devices per sliding window, globally or per rule). A tripped breaker holds
// everything in its scope until the window has passed since the trip
// (reset: auto) or an operator resets it (reset: manual).
//
// Held is not dropped: the caller turns the hold into a pending approval.
// Requested actions (intents) and approved ones do not pass through here.
//
// With a state store, the kill switch and every breaker (open or not, when
// it opened, the runs in its window) are written before the call that changed
// them returns, and read back at construction: a crash and Restart= neither
// resumes paused automation nor gives a breaker a fresh budget. When a run
// cannot be recorded, it does not run (held as state_store_error): a breaker
// whose count cannot be kept fails closed.
//
// Thread-safe (one mutex; admit() is called once per remediation, not per event).

#include <chrono>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/config.hpp"
#include "daemon/safety/safety_metrics.hpp"
#include "daemon/state/state_store.hpp"

namespace aiopsd::daemon {

class SafetyGate {
 public:
  using TimePoint = std::chrono::system_clock::time_point;

  struct Hold {
    std::string code;  // automation_paused | maintenance | breaker_open
    std::string message;
    std::string scope;         // breaker scope, or maintenance window name
    bool tripped_now = false;  // this call opened the breaker
  };
  struct BreakerState {
    std::string scope;
    bool open = false;
    std::size_t actions = 0;  // in the current window
    std::size_t devices = 0;
    TimePoint opened_at{};
  };

  // `store` may be null (no state.path): the state is then kept in memory only.
  SafetyGate(const SafetyConfig& config, SafetyMetrics& metrics, StateStore* store = nullptr);

  // nullopt: run it (and it counts against every breaker in scope).
  std::optional<Hold> admit(std::string_view rule, const DeviceConfig& device, TimePoint now);

  // Takes effect at once; false when it could not be made durable.
  bool set_paused(bool paused);
  bool paused() const;
  enum class ResetResult { kReset, kUnknownScope, kNotDurable };
  ResetResult reset(std::string_view scope);
  std::vector<BreakerState> breakers(TimePoint now) const;

 private:
  struct Breaker {
    BreakerConfig config;
    std::deque<std::pair<TimePoint, std::string>> runs;  // (when, device) in the window
    bool open = false;
    TimePoint opened_at{};
    prometheus::Gauge* gauge = nullptr;

    void prune(TimePoint now);
    std::size_t distinct_devices() const;
    std::optional<std::string> would_exceed(std::string_view device) const;
  };
  std::optional<Hold> check_breakers(std::string_view rule, const std::string& device,
                                     TimePoint now);
  void load();
  bool save_paused();
  bool save(const Breaker& b);

  const SafetyConfig& config_;
  SafetyMetrics& metrics_;
  StateStore* store_;
  mutable std::mutex mu_;
  bool paused_ = false;
  std::vector<Breaker> breakers_;
};

}  // namespace aiopsd::daemon
