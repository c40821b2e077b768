#include "daemon/engine/engine_metrics.hpp"

namespace aiopsd::daemon {

EngineMetrics::EngineMetrics(prometheus::Registry& registry)
    : rule_matches(
          counter_family(registry, "aiopsd_rule_matches_total", "Events that matched a rule")),
      rule_throttled(counter_family(registry, "aiopsd_rule_throttled_total",
                                    "Rule firings suppressed by throttle.once_within")),
      rule_state_unavailable(counter_family(
          registry, "aiopsd_rule_state_unavailable_total",
          "Events a rule matched but could not track, so they neither counted nor acted: the "
          "rule's state is full of state guarding actions (fails closed)")),
      correlation_evictions(counter_family(registry, "aiopsd_correlation_evictions_total",
                                           "Correlation state dropped, oldest first, because a "
                                           "rule (or the engine) reached its limit")),
      correlation_groups(gauge_family(registry, "aiopsd_correlation_groups",
                                      "Correlation state entries per rule and engine worker: "
                                      "groups, or alerts for rules without correlation")),
      correlation_alerts(gauge_family(registry, "aiopsd_correlation_alerts",
                                      "Alerts held in correlation state (windows, steps, timers, "
                                      "deduplication), per engine worker")),
      inhibiting_alerts(gauge_family(registry, "aiopsd_inhibiting_alerts",
                                     "Firing alerts that currently inhibit others, per engine "
                                     "worker")),
      events_inhibited(counter_family(registry, "aiopsd_events_inhibited_total",
                                      "Alerts held back by an inhibit rule: they matched no rule")),
      events_silenced(counter_family(registry, "aiopsd_events_silenced_total",
                                     "Alerts muted by a silence: they matched no rule")
                          .Add({})),
      silences(gauge_family(registry, "aiopsd_silences",
                            "Silences by state (pending, active, expired)")) {}

}  // namespace aiopsd::daemon
