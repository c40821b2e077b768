#pragma once
// The daemon's own metrics. Families are created once; per-rule handles are
// resolved at load so the hot path never looks a label set up.

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <memory>
#include <string>
#include <string_view>

namespace aiopsd::daemon {

struct Metrics {
  Metrics();
  std::string serialize() const;  // Prometheus text exposition format

  std::shared_ptr<prometheus::Registry> registry;
  prometheus::Family<prometheus::Counter>& events_received;
  prometheus::Family<prometheus::Counter>& events_rejected;
  prometheus::Family<prometheus::Counter>& rule_matches;
  prometheus::Family<prometheus::Counter>& rule_throttled;
  prometheus::Family<prometheus::Counter>& rule_state_unavailable;
  prometheus::Family<prometheus::Counter>& actions;
  prometheus::Family<prometheus::Histogram>& action_duration_family;
  prometheus::Family<prometheus::Gauge>& event_queue_depth_family;
  prometheus::Family<prometheus::Gauge>& ssh_sessions_active_family;
  prometheus::Family<prometheus::Counter>& ssh_pool_events_family;  // {event}
  prometheus::Family<prometheus::Gauge>& ssh_sessions_idle_family;
  prometheus::Family<prometheus::Gauge>& build_info;
  prometheus::Family<prometheus::Counter>& http_requests;
  prometheus::Family<prometheus::Counter>& kafka_consumed;
  prometheus::Family<prometheus::Gauge>& kafka_lag;
  prometheus::Family<prometheus::Counter>& intents;
  prometheus::Family<prometheus::Histogram>& intent_duration_family;
  prometheus::Family<prometheus::Counter>& kafka_produce_errors_family;
  prometheus::Family<prometheus::Counter>& dead_letters;
  prometheus::Family<prometheus::Gauge>& circuit_open;
  prometheus::Family<prometheus::Gauge>& automation_paused_family;
  prometheus::Family<prometheus::Gauge>& approvals_pending_family;
  prometheus::Family<prometheus::Counter>& approvals;  // {outcome}
  prometheus::Family<prometheus::Gauge>& config_reload_successful;
  prometheus::Family<prometheus::Gauge>& config_reload_timestamp;
  prometheus::Family<prometheus::Counter>& actions_held;      // {reason}
  prometheus::Family<prometheus::Counter>& webhook_failures;  // {reason}
  prometheus::Family<prometheus::Gauge>& silences;            // {state}
  prometheus::Counter& events_silenced;
  prometheus::Family<prometheus::Counter>& events_inhibited;       // {inhibit_rule}
  prometheus::Family<prometheus::Counter>& correlation_evictions;  // {rule}
  prometheus::Family<prometheus::Gauge>& correlation_groups;       // {rule, worker}
  prometheus::Family<prometheus::Gauge>& correlation_alerts;       // {worker}
  prometheus::Family<prometheus::Gauge>& inhibiting_alerts;        // {worker}
  prometheus::Family<prometheus::Counter>& http_auth_failures;
  prometheus::Family<prometheus::Counter>& http_connections_family;  // {event}
  prometheus::Family<prometheus::Gauge>& label_bytes_family;

  prometheus::Histogram& action_duration;
  prometheus::Gauge& event_queue_depth;
  prometheus::Gauge& ssh_sessions_active;
  prometheus::Gauge& ssh_sessions_idle;
  // By ssh::PoolEvent, in enum order: opened, reused, reconnected, idle_closed.
  std::array<prometheus::Counter*, 4> ssh_pool_events;
  // By ConnectionEvent, in enum order: accepted, evicted_idle, refused_full, accept_error.
  std::array<prometheus::Counter*, 4> http_connections;
  prometheus::Histogram& intent_duration;
  prometheus::Counter& kafka_produce_errors;
  prometheus::Gauge& automation_paused;
  prometheus::Gauge& approvals_pending;
  prometheus::Gauge& label_bytes;

  prometheus::Counter& rejected(std::string_view connector, std::string_view reason);
};

}  // namespace aiopsd::daemon
