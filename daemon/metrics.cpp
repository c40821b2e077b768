#include "daemon/metrics.hpp"

#include <prometheus/text_serializer.h>

#include "daemon/version.hpp"

namespace aiopsd::daemon {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;

Metrics::Metrics()
    : registry(std::make_shared<prometheus::Registry>()),
      events_received(BuildCounter()
                          .Name("aiopsd_events_received_total")
                          .Help("Events accepted from a connector")
                          .Register(*registry)),
      events_rejected(BuildCounter()
                          .Name("aiopsd_events_rejected_total")
                          .Help("Events or requests rejected, by connector and reason")
                          .Register(*registry)),
      rule_matches(BuildCounter()
                       .Name("aiopsd_rule_matches_total")
                       .Help("Events that matched a rule")
                       .Register(*registry)),
      rule_throttled(BuildCounter()
                         .Name("aiopsd_rule_throttled_total")
                         .Help("Rule firings suppressed by throttle.once_within")
                         .Register(*registry)),
      rule_state_unavailable(
          BuildCounter()
              .Name("aiopsd_rule_state_unavailable_total")
              .Help("Events a rule matched but could not track, so they neither counted nor "
                    "acted: the rule's state is full of state guarding actions (fails closed)")
              .Register(*registry)),
      actions(BuildCounter()
                  .Name("aiopsd_actions_total")
                  .Help("Action attempts by rule, action kind and outcome")
                  .Register(*registry)),
      action_duration_family(BuildHistogram()
                                 .Name("aiopsd_action_duration_seconds")
                                 .Help("Time from decision to action outcome")
                                 .Register(*registry)),
      event_queue_depth_family(BuildGauge()
                                   .Name("aiopsd_event_queue_depth")
                                   .Help("Events waiting for the rule engine")
                                   .Register(*registry)),
      ssh_sessions_active_family(BuildGauge()
                                     .Name("aiopsd_ssh_sessions_active")
                                     .Help("Open SSH sessions to devices")
                                     .Register(*registry)),
      ssh_pool_events_family(
          BuildCounter()
              .Name("aiopsd_ssh_sessions_total")
              .Help("SSH sessions by what happened: opened (connected and authenticated), reused "
                    "(a job ran on a pooled session), reconnected (a pooled session was found "
                    "dead and replaced), idle_closed")
              .Register(*registry)),
      ssh_sessions_idle_family(BuildGauge()
                                   .Name("aiopsd_ssh_sessions_idle")
                                   .Help("SSH sessions kept open for the next job (warm pool)")
                                   .Register(*registry)),
      build_info(
          BuildGauge().Name("aiopsd_build_info").Help("Build information").Register(*registry)),
      http_requests(BuildCounter()
                        .Name("aiopsd_http_requests_total")
                        .Help("HTTP requests by route and status code")
                        .Register(*registry)),
      kafka_consumed(BuildCounter()
                         .Name("aiopsd_kafka_messages_consumed_total")
                         .Help("Kafka messages consumed by topic")
                         .Register(*registry)),
      kafka_lag(BuildGauge()
                    .Name("aiopsd_kafka_consumer_lag")
                    .Help("Messages behind the high watermark by topic and partition")
                    .Register(*registry)),
      intents(BuildCounter()
                  .Name("aiopsd_intents_total")
                  .Help("Intents by catalog action and final status")
                  .Register(*registry)),
      intent_duration_family(BuildHistogram()
                                 .Name("aiopsd_intent_duration_seconds")
                                 .Help("Time from an intent's arrival to its final result")
                                 .Register(*registry)),
      kafka_produce_errors_family(BuildCounter()
                                      .Name("aiopsd_kafka_produce_errors_total")
                                      .Help("Kafka deliveries that failed for good (retried)")
                                      .Register(*registry)),
      dead_letters(BuildCounter()
                       .Name("aiopsd_dead_letters_total")
                       .Help("Messages sent to the dead-letter topic by reason")
                       .Register(*registry)),
      circuit_open(BuildGauge()
                       .Name("aiopsd_circuit_open")
                       .Help("1 while the blast-radius breaker of this scope holds remediations")
                       .Register(*registry)),
      automation_paused_family(BuildGauge()
                                   .Name("aiopsd_automation_paused")
                                   .Help("1 while the kill switch holds every automatic action")
                                   .Register(*registry)),
      approvals_pending_family(BuildGauge()
                                   .Name("aiopsd_approvals_pending")
                                   .Help("Actions waiting for an approval decision")
                                   .Register(*registry)),
      approvals(BuildCounter()
                    .Name("aiopsd_approvals_total")
                    .Help("Approval decisions by outcome (approved, denied, expired)")
                    .Register(*registry)),
      config_reload_successful(BuildGauge()
                                   .Name("aiopsd_config_last_reload_successful")
                                   .Help("1 if the last config (re)load succeeded, 0 if rejected")
                                   .Register(*registry)),
      config_reload_timestamp(BuildGauge()
                                  .Name("aiopsd_config_last_reload_success_timestamp_seconds")
                                  .Help("When the config in force was loaded (Unix seconds)")
                                  .Register(*registry)),
      actions_held(BuildCounter()
                       .Name("aiopsd_actions_held_total")
                       .Help("Actions held as pending approvals, by reason")
                       .Register(*registry)),
      webhook_failures(BuildCounter()
                           .Name("aiopsd_escalation_webhook_failures_total")
                           .Help("Escalation records the webhook could not deliver, by reason")
                           .Register(*registry)),
      silences(BuildGauge()
                   .Name("aiopsd_silences")
                   .Help("Silences by state (pending, active, expired)")
                   .Register(*registry)),
      events_silenced(BuildCounter()
                          .Name("aiopsd_events_silenced_total")
                          .Help("Alerts muted by a silence: they matched no rule")
                          .Register(*registry)
                          .Add({})),
      events_inhibited(BuildCounter()
                           .Name("aiopsd_events_inhibited_total")
                           .Help("Alerts held back by an inhibit rule: they matched no rule")
                           .Register(*registry)),
      correlation_evictions(BuildCounter()
                                .Name("aiopsd_correlation_evictions_total")
                                .Help("Correlation state dropped, oldest first, because a rule "
                                      "(or the engine) reached its limit")
                                .Register(*registry)),
      correlation_groups(BuildGauge()
                             .Name("aiopsd_correlation_groups")
                             .Help("Correlation state entries per rule and engine worker: "
                                   "groups, or alerts for rules without correlation")
                             .Register(*registry)),
      correlation_alerts(BuildGauge()
                             .Name("aiopsd_correlation_alerts")
                             .Help("Alerts held in correlation state (windows, steps, timers, "
                                   "deduplication), per engine worker")
                             .Register(*registry)),
      inhibiting_alerts(BuildGauge()
                            .Name("aiopsd_inhibiting_alerts")
                            .Help("Firing alerts that currently inhibit others, per engine worker")
                            .Register(*registry)),
      http_auth_failures(BuildCounter()
                             .Name("aiopsd_http_auth_failures_total")
                             .Help("HTTP requests refused by authentication: missing, invalid or "
                                   "forbidden (valid token, scope lacking)")
                             .Register(*registry)),
      http_connections_family(
          BuildCounter()
              .Name("aiopsd_http_connections_total")
              .Help("HTTP connections by what happened: accepted, evicted_idle (closed to make "
                    "room at server.max_connections), refused_full (at the limit with every "
                    "connection busy), accept_error (out of descriptors or memory; accepting "
                    "backs off)")
              .Register(*registry)),
      label_bytes_family(BuildGauge()
                             .Name("aiopsd_label_bytes")
                             .Help("Bytes of interned label names and values (never freed until "
                                   "restart); new ones from senders stop at engine.max_label_bytes")
                             .Register(*registry)),
      action_duration(action_duration_family.Add(
          {}, prometheus::Histogram::BucketBoundaries{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
                                                      2.5, 5, 10, 30, 60})),
      event_queue_depth(event_queue_depth_family.Add({})),
      ssh_sessions_active(ssh_sessions_active_family.Add({})),
      ssh_sessions_idle(ssh_sessions_idle_family.Add({})),
      ssh_pool_events{&ssh_pool_events_family.Add({{"event", "opened"}}),
                      &ssh_pool_events_family.Add({{"event", "reused"}}),
                      &ssh_pool_events_family.Add({{"event", "reconnected"}}),
                      &ssh_pool_events_family.Add({{"event", "idle_closed"}})},
      http_connections{&http_connections_family.Add({{"event", "accepted"}}),
                       &http_connections_family.Add({{"event", "evicted_idle"}}),
                       &http_connections_family.Add({{"event", "refused_full"}}),
                       &http_connections_family.Add({{"event", "accept_error"}})},
      intent_duration(intent_duration_family.Add(
          {}, prometheus::Histogram::BucketBoundaries{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                      0.5, 1, 2.5, 5, 10, 30, 60})),
      kafka_produce_errors(kafka_produce_errors_family.Add({})),
      automation_paused(automation_paused_family.Add({})),
      approvals_pending(approvals_pending_family.Add({})),
      label_bytes(label_bytes_family.Add({})) {
  build_info.Add({{"version", std::string(kVersion)}, {"revision", std::string(kRevision)}}).Set(1);
}

prometheus::Counter& Metrics::rejected(std::string_view connector, std::string_view reason) {
  return events_rejected.Add(
      {{"connector", std::string(connector)}, {"reason", std::string(reason)}});
}

std::string Metrics::serialize() const {
  prometheus::TextSerializer serializer;
  return serializer.Serialize(registry->Collect());
}

}  // namespace aiopsd::daemon
