#pragma once
// A strict, allocation-free RFC 3339 timestamp parser (the subset Prometheus,
// Alertmanager and Grafana emit): YYYY-MM-DDTHH:MM:SS[.fraction](Z|+hh:mm|-hh:mm).
// Shared by the Alertmanager and Kafka decoders, the config and the daemon.

#include <string_view>

#include "rules/event.hpp"

namespace aiopsd::wire {

enum class TimestampParse {
  kOk,       // `out` holds the instant
  kZero,     // Go's zero time 0001-01-01T00:00:00Z: "unset"; `out` is the epoch
  kInvalid,  // not RFC 3339
  kClamped,  // valid, but outside what rules::TimePoint holds (about 1678..2261 with
             // libstdc++'s nanosecond clock): `out` is TimePoint::max() or min()
};

// Fractional seconds may have any number of digits; digits past nanoseconds are
// dropped. Lowercase 't' and 'z' are accepted (RFC 3339 section 5.6 note);
// leap seconds (:60) are not, as in Go's time.Parse.
TimestampParse parse_rfc3339(std::string_view s, rules::TimePoint& out) noexcept;

}  // namespace aiopsd::wire
