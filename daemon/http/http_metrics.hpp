#pragma once
// The HTTP room's metrics (aiopsd_http_*).

#include <array>

#include "daemon/metrics.hpp"

namespace aiopsd::daemon {

struct HttpMetrics {
  explicit HttpMetrics(prometheus::Registry& registry);

  prometheus::Family<prometheus::Counter>& requests;       // {route, code}
  prometheus::Family<prometheus::Counter>& auth_failures;  // {reason}
  // By ConnectionEvent, in enum order: accepted, evicted_idle, refused_full, accept_error.
  std::array<prometheus::Counter*, 4> connections;
  // The OIDC provider's JWKS: fetches by outcome (ok, error) and the keys in use.
  prometheus::Family<prometheus::Counter>& oidc_jwks_fetches;
  prometheus::Gauge& oidc_jwks_keys;
};

}  // namespace aiopsd::daemon
