#include "daemon/http/http_metrics.hpp"

namespace aiopsd::daemon {

namespace {

std::array<prometheus::Counter*, 4> connection_events(prometheus::Registry& registry) {
  auto& f = counter_family(
      registry, "aiopsd_http_connections_total",
      "HTTP connections by what happened: accepted, evicted_idle (closed to make room at "
      "server.max_connections), refused_full (at the limit with every connection busy), "
      "accept_error (out of descriptors or memory; accepting backs off)");
  return {&f.Add({{"event", "accepted"}}), &f.Add({{"event", "evicted_idle"}}),
          &f.Add({{"event", "refused_full"}}), &f.Add({{"event", "accept_error"}})};
}

}  // namespace

HttpMetrics::HttpMetrics(prometheus::Registry& registry)
    : requests(counter_family(registry, "aiopsd_http_requests_total",
                              "HTTP requests by route and status code")),
      auth_failures(counter_family(registry, "aiopsd_http_auth_failures_total",
                                   "HTTP requests refused by authentication: missing, invalid or "
                                   "forbidden (valid token, scope lacking) or unavailable "
                                   "(OIDC keys not known yet)")),
      connections(connection_events(registry)),
      oidc_jwks_fetches(
          counter_family(registry, "aiopsd_oidc_jwks_fetches_total",
                         "Fetches of the OIDC provider's JWKS by outcome (ok, error); "
                         "a failed fetch keeps the last good keys")),
      oidc_jwks_keys(gauge_family(registry, "aiopsd_oidc_jwks_keys",
                                  "Signing keys of the OIDC provider in use (0: OIDC tokens "
                                  "are answered 503 until the JWKS is fetched)")
                         .Add({})) {}

}  // namespace aiopsd::daemon
