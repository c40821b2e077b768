#pragma once
// App::Impl: the composition root's state, shared by app.cpp (start, stop),
// app_kafka.cpp (the Kafka wiring) and app_reload.cpp. Only they include it.

#include "daemon/app.hpp"

#include <pthread.h>
#include <signal.h>
#include <systemd/sd-daemon.h>

#include <algorithm>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include "daemon/detail/periodic.hpp"
#include "daemon/engine/engine_metrics.hpp"
#include "daemon/engine/engine_workers.hpp"
#include "daemon/engine/event_queue.hpp"
#include "daemon/engine/silences.hpp"
#include "daemon/http/admin_routes.hpp"
#include "daemon/http/alert_routes.hpp"
#include "daemon/http/auth.hpp"
#include "daemon/http/http_metrics.hpp"
#include "daemon/http/server.hpp"
#include "daemon/http/tls.hpp"
#include "daemon/intents/intent_metrics.hpp"
#include "daemon/intents/intent_service.hpp"
#include "daemon/intents/kafka_ingest.hpp"
#include "daemon/log.hpp"
#include "daemon/metrics.hpp"
#include "daemon/notify/notify_metrics.hpp"
#include "daemon/remediation/action_runner.hpp"
#include "daemon/remediation/audit_log.hpp"
#include "daemon/remediation/remediation_metrics.hpp"
#include "daemon/safety/approvals.hpp"
#include "daemon/safety/escalations.hpp"
#include "daemon/safety/safety_gate.hpp"
#include "daemon/safety/safety_metrics.hpp"
#include "daemon/state/state_store.hpp"
#include "rules/engine.hpp"
#include "rules/shard_key.hpp"

namespace aiopsd::daemon {

namespace asio = boost::asio;

// A secret read at start (Kafka properties, webhook tokens): load_config
// checked it was readable, so a failure here means it went away since; throws
// naming `name`, never the value. An empty reference reads as "".
std::string read_secret_at_start(const std::string& name, const secrets::SecretRef& ref);

// Polls `done` until it holds or `deadline` passes; true when it held. For
// the drains at stop, where what is awaited runs on other threads.
template <class Pred>
bool wait_until(std::chrono::steady_clock::time_point deadline, Pred done,
                std::chrono::milliseconds every = std::chrono::milliseconds(20)) {
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(every);
  }
  return true;
}

struct App::Impl {
  std::shared_ptr<Config> config;  // the startup config: listener, Kafka, state, audit, safety
  AppOptions options;
  rules::SystemClock system_clock;
  const rules::Clock& clock;
  // The registry and what every room shares; then each room's own metrics on
  // it (owned here, the composition root, since metrics.hpp may not include
  // the rooms above it).
  Metrics metrics;
  HttpMetrics http_metrics{*metrics.registry};
  EngineMetrics engine_metrics{*metrics.registry};
  RemediationMetrics remediation_metrics{*metrics.registry};
  SafetyMetrics safety_metrics{*metrics.registry};
  IntentMetrics intent_metrics{*metrics.registry};
  NotifyMetrics notify_metrics{*metrics.registry};
  std::unique_ptr<AuditLog> audit;
  // Events from the connectors to the engine workers, routed by shard_key.
  std::unique_ptr<EventQueue> queue;
  std::optional<rules::ShardKey> shard_key;
  std::unique_ptr<EngineWorkers> engines;
  std::mutex reload_mu;  // one reload at a time

  asio::io_context http_io;
  asio::io_context ssh_io;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> http_work;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> ssh_work;
  std::unique_ptr<ssh::SshExecutor> executor;
  std::unique_ptr<StateStore> state;  // when state.path is set
  Escalations escalations{notify_metrics};
  Incidents incidents{notify_metrics};
  std::unique_ptr<WebhookSender> webhook;
  std::unique_ptr<SafetyGate> gate;
  std::unique_ptr<ApprovalBook> approvals;
  std::unique_ptr<Silences> silences;
  std::unique_ptr<AlertRoutes> routes;
  std::unique_ptr<AdminRoutes> admin_routes;
  // Expires undecided approvals; its own stop flag, stopped before the runners.
  std::optional<detail::Periodic> housekeeping;
  std::shared_ptr<oidc::JwksSource> jwks;  // server.auth.oidc: the provider's keys
  std::unique_ptr<HttpServer> server;
  // Kafka (when configured): embedded broker, durable state, clients.
  std::unique_ptr<kafka::EmbeddedCluster> kafka_cluster;
  std::unique_ptr<kafka::Producer> producer;
  std::unique_ptr<IntentService> intents;
  std::unique_ptr<kafka::Consumer> consumer;
  std::unique_ptr<KafkaIngest> kafka_ingest;
  std::optional<detail::Periodic> lag_sampler;
  std::string kafka_bootstrap;
  std::thread http_thread, ssh_thread;
  std::atomic<bool> running{false};
  std::uint16_t port = 0;

  Impl(std::unique_ptr<Config> c, AppOptions o)
      : config(std::move(c)),
        options(std::move(o)),
        clock(options.clock ? *options.clock : system_clock) {}  // options is declared first

  // The outcome of a config load (at start or a reload), for the two gauges.
  void mark_reload(bool ok) {
    metrics.config_reload_successful.Set(ok ? 1 : 0);
    if (!ok) return;
    metrics.config_reload_timestamp.Set(
        static_cast<double>(std::chrono::duration_cast<std::chrono::seconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count()));
  }

  std::shared_ptr<ActionRunner> current_runner() { return engines->current_runner(); }
  std::size_t actions_in_flight() { return engines ? engines->actions_in_flight() : 0; }
  EngineWorkers::Generation make_generation(std::shared_ptr<const Config> cfg) {
    auto runner =
        std::make_shared<ActionRunner>(*cfg, *executor, *audit, remediation_metrics, safety_metrics,
                                       *gate, *approvals, escalations, incidents);
    return {std::move(cfg), std::move(runner)};
  }

  // How many engine workers, sharded on which labels: one per core unless
  // the rules need every alert in one place.
  void plan_workers(const Config& cfg) {
    std::size_t n = cfg.engine.workers;
    if (n == 0) n = std::max(1U, std::thread::hardware_concurrency());
    std::string why;
    auto labels = rules::ShardKey::plan(cfg.rules, why);
    if (!labels) {
      if (n > 1) log::info("engine", "1 engine worker, not {}: {}", n, why);
      n = 1;
      labels.emplace();
    }
    shard_key.emplace(*labels, *cfg.interner);
    queue = std::make_unique<EventQueue>(
        cfg.engine.queue_capacity, n,
        [key = &*shard_key](const rules::Event& e) { return key->route(e); });
    engines = std::make_unique<EngineWorkers>(n, shard_key->labels(), *queue, engine_metrics,
                                              metrics.event_queue_depth, clock, *silences,
                                              state.get(), options.tick_interval);
    if (n > 1) {
      log::info("engine", "{} engine workers, events sharded by {}", n,
                labels->empty() ? std::string("alert fingerprint")
                                : fmt::format("[{}]", fmt::join(*labels, ", ")));
    }
  }

  // One place decides where a decision goes, whichever thread made it.
  void on_decided(const Approval& a) {
    safety_metrics.approvals.Add({{"outcome", std::string(to_string(a.status))}}).Increment();
    safety_metrics.approvals_pending.Set(static_cast<double>(approvals->pending()));
    escalations.approval(a);
    if (a.origin == Approval::Origin::kRule) {
      current_runner()->decided(a);
    } else if (intents) {
      intents->decided(a);
    } else {
      log::error("approval", "approval {} is for intent {}, but Kafka is not configured", a.id,
                 a.intent_id);
    }
  }
};

}  // namespace aiopsd::daemon
