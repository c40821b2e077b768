#include "daemon/remediation/remediation_metrics.hpp"

namespace aiopsd::daemon {

namespace {

std::array<prometheus::Counter*, 4> pool_events(prometheus::Registry& registry) {
  auto& f = counter_family(
      registry, "aiopsd_ssh_sessions_total",
      "SSH sessions by what happened: opened (connected and authenticated), reused (a job ran "
      "on a pooled session), reconnected (a pooled session was found dead and replaced), "
      "idle_closed");
  return {&f.Add({{"event", "opened"}}), &f.Add({{"event", "reused"}}),
          &f.Add({{"event", "reconnected"}}), &f.Add({{"event", "idle_closed"}})};
}

}  // namespace

RemediationMetrics::RemediationMetrics(prometheus::Registry& registry)
    : actions(counter_family(registry, "aiopsd_actions_total",
                             "Action attempts by rule, action kind and outcome")),
      action_duration(
          histogram_family(registry, "aiopsd_action_duration_seconds",
                           "Time from decision to action outcome")
              .Add({}, prometheus::Histogram::BucketBoundaries{0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                               0.5, 1, 2.5, 5, 10, 30, 60})),
      ssh_sessions_active(
          gauge_family(registry, "aiopsd_ssh_sessions_active", "Open SSH sessions to devices")
              .Add({})),
      ssh_sessions_idle(gauge_family(registry, "aiopsd_ssh_sessions_idle",
                                     "SSH sessions kept open for the next job (warm pool)")
                            .Add({})),
      ssh_pool_events(pool_events(registry)) {}

}  // namespace aiopsd::daemon
