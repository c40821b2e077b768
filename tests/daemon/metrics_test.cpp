// The metric names are the dashboards' and alert rules' contract: each room
// registers its own families now, and a running daemon still exposes every
// one of them under the name it always had.
#include <gtest/gtest.h>
#include <prometheus/summary.h>

#include <stdexcept>
#include <string>

#include "tests/daemon/daemon_under_test.hpp"

namespace aiopsd::testing {
namespace {

constexpr const char* kFamilies[] = {
    "aiopsd_action_duration_seconds",
    "aiopsd_actions_held_total",
    "aiopsd_actions_total",
    "aiopsd_approvals_pending",
    "aiopsd_approvals_total",
    "aiopsd_automation_paused",
    "aiopsd_build_info",
    "aiopsd_circuit_open",
    "aiopsd_config_last_reload_success_timestamp_seconds",
    "aiopsd_config_last_reload_successful",
    "aiopsd_correlation_alerts",
    "aiopsd_correlation_evictions_total",
    "aiopsd_correlation_groups",
    "aiopsd_dead_letters_total",
    "aiopsd_escalation_webhook_failures_total",
    "aiopsd_event_queue_depth",
    "aiopsd_events_inhibited_total",
    "aiopsd_events_received_total",
    "aiopsd_events_rejected_total",
    "aiopsd_events_silenced_total",
    "aiopsd_http_auth_failures_total",
    "aiopsd_http_connections_total",
    "aiopsd_http_requests_total",
    "aiopsd_inhibiting_alerts",
    "aiopsd_intent_duration_seconds",
    "aiopsd_intents_total",
    "aiopsd_kafka_consumer_lag",
    "aiopsd_kafka_messages_consumed_total",
    "aiopsd_kafka_produce_errors_total",
    "aiopsd_label_bytes",
    "aiopsd_rule_matches_total",
    "aiopsd_rule_state_unavailable_total",
    "aiopsd_rule_throttled_total",
    "aiopsd_silences",
    "aiopsd_ssh_sessions_active",
    "aiopsd_ssh_sessions_idle",
    "aiopsd_ssh_sessions_total",
};

// prometheus-cpp exposes a family only once it has a series, and offers no
// listing; but it refuses a name already registered as another type, and the
// daemon has no summaries: a name is registered exactly when a summary of
// that name is refused.
TEST(DaemonMetrics, EveryRoomRegistersItsFamiliesOnTheOneRegistryUnderTheirNames) {
  DaemonUnderTest daemon("", "rules: []\n");
  prometheus::Registry& registry = *daemon.app().metrics().registry;
  for (const char* name : kFamilies) {
    EXPECT_THROW(prometheus::BuildSummary().Name(name).Register(registry), std::invalid_argument)
        << name;
  }
  EXPECT_NO_THROW(prometheus::BuildSummary().Name("aiopsd_not_a_family").Register(registry));
  EXPECT_EQ(daemon.metric("aiopsd_config_last_reload_successful"), 1);
  EXPECT_EQ(daemon.metric("aiopsd_automation_paused"), 0);
}

}  // namespace
}  // namespace aiopsd::testing
