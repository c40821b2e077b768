#include "daemon/safety/safety_metrics.hpp"

#include <string>

namespace aiopsd::daemon {

SafetyMetrics::SafetyMetrics(prometheus::Registry& registry)
    : circuit_open(gauge_family(registry, "aiopsd_circuit_open",
                                "1 while the blast-radius breaker of this scope holds "
                                "remediations")),
      automation_paused(gauge_family(registry, "aiopsd_automation_paused",
                                     "1 while the kill switch holds every automatic action")
                            .Add({})),
      approvals_pending(gauge_family(registry, "aiopsd_approvals_pending",
                                     "Actions waiting for an approval decision")
                            .Add({})),
      approvals(counter_family(registry, "aiopsd_approvals_total",
                               "Approval decisions by outcome (approved, denied, expired)")),
      actions_held(counter_family(registry, "aiopsd_actions_held_total",
                                  "Actions held as pending approvals, by reason")) {}

void SafetyMetrics::held(std::string_view reason, std::size_t pending) {
  actions_held.Add({{"reason", std::string(reason)}}).Increment();
  approvals_pending.Set(static_cast<double>(pending));
}

}  // namespace aiopsd::daemon
