#pragma once
// `aiopsd replay`: recorded events (JSON lines: `at`, `source`, `payload` as
// it arrived) go through the daemon's own decoders and the config's rules on
// a virtual clock, always in dry-run; every action a decision would take is
// printed as one JSON line, planned by plan_action() exactly as ActionRunner
// plans it. How an operator checks a rule change against last week's alerts.
//
// Time: events are processed at their `at`; between them the clock advances
// in steps of `tick` and Engine::tick runs at every step, as the daemon's
// engine thread does every second, so `for` fires with no further event.
// Lines up to `lateness` out of order are sorted back into place by a bounded
// buffer; later ones are reported as errors.
//
// Lifecycle and threads: one call streams one file; everything it builds
// (engine, decoder, clock) is local to the call. Any thread.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>

#include "daemon/config.hpp"
#include "rules/event.hpp"

namespace aiopsd::daemon {

struct ReplayOptions {
  std::chrono::milliseconds tick{1000};      // virtual-clock step between Engine::tick calls
  std::chrono::milliseconds lateness{5000};  // how far out of order a line may arrive
  // Where ticking stops after the last event: an absolute time, else the last
  // event plus `until_after`, else the last event plus the longest window,
  // `for` or throttle of the rules (so every pending timer resolves).
  std::optional<rules::TimePoint> until;
  std::optional<std::chrono::milliseconds> until_after;
  bool progress = false;  // a progress bar on `err`, from bytes read
  // Tick at every step, as the daemon does, instead of only at the steps
  // that can change an outcome (see advance_to in replay.cpp): slower, for
  // cross-checking.
  bool every_tick = false;
};

struct ReplayResult {
  std::size_t lines = 0;      // non-blank lines read
  std::size_t alerts = 0;     // alerts decoded and given to the engine
  std::size_t decisions = 0;  // rule decisions
  std::size_t actions = 0;    // JSON lines written (one per action of a decision)
  std::size_t bad_lines = 0;  // lines reported on `err`
};

// Streams `events` (named `name` in errors; `total_bytes` sizes the progress
// bar, 0 if unknown), writes one JSON line per planned action to `out`, and
// "NAME:LINE: message" per bad line, the progress bar and nothing else to `err`.
ReplayResult replay_events(const Config& config, std::istream& events, const std::string& name,
                           std::uint64_t total_bytes, const ReplayOptions& options,
                           std::ostream& out, std::ostream& err);

}  // namespace aiopsd::daemon
