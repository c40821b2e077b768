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

#include "daemon/action_runner.hpp"
#include "daemon/admin_routes.hpp"
#include "daemon/alert_routes.hpp"
#include "daemon/approvals.hpp"
#include "daemon/audit_log.hpp"
#include "daemon/detail/periodic.hpp"
#include "daemon/engine_workers.hpp"
#include "daemon/escalations.hpp"
#include "daemon/event_queue.hpp"
#include "daemon/http_auth.hpp"
#include "daemon/http_server.hpp"
#include "daemon/http_tls.hpp"
#include "daemon/intent_service.hpp"
#include "daemon/kafka_ingest.hpp"
#include "daemon/log.hpp"
#include "daemon/metrics.hpp"
#include "daemon/safety_gate.hpp"
#include "daemon/silences.hpp"
#include "daemon/state_store.hpp"
#include "rules/engine.hpp"
#include "rules/shard_key.hpp"

namespace aiopsd::daemon {

namespace asio = boost::asio;

struct App::Impl {
  std::shared_ptr<Config> config;  // the startup config: listener, Kafka, state, audit, safety
  AppOptions options;
  rules::SystemClock system_clock;
  const rules::Clock& clock;
  Metrics metrics;
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
  Escalations escalations{metrics};
  Incidents incidents{metrics};
  std::unique_ptr<WebhookSender> webhook;
  std::unique_ptr<SafetyGate> gate;
  std::unique_ptr<ApprovalBook> approvals;
  std::unique_ptr<Silences> silences;
  std::unique_ptr<AlertRoutes> routes;
  std::unique_ptr<AdminRoutes> admin_routes;
  // Expires undecided approvals; its own stop flag, stopped before the runners.
  std::optional<detail::Periodic> housekeeping;
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
        clock(options.clock ? *options.clock : system_clock),  // options is declared first
        config_reload_ok(metrics.config_reload_successful.Add({})),
        config_reload_time(metrics.config_reload_timestamp.Add({})) {}

  prometheus::Gauge& config_reload_ok;
  prometheus::Gauge& config_reload_time;

  std::shared_ptr<ActionRunner> current_runner() { return engines->current_runner(); }
  std::size_t actions_in_flight() { return engines ? engines->actions_in_flight() : 0; }
  EngineWorkers::Generation make_generation(std::shared_ptr<const Config> cfg) {
    auto runner = std::make_shared<ActionRunner>(*cfg, *executor, *audit, metrics, *gate,
                                                 *approvals, escalations, incidents);
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
    engines = std::make_unique<EngineWorkers>(n, shard_key->labels(), *queue, metrics, clock,
                                              *silences, state.get(), options.tick_interval);
    if (n > 1) {
      log::info("engine", "{} engine workers, events sharded by {}", n,
                labels->empty() ? std::string("alert fingerprint")
                                : fmt::format("[{}]", fmt::join(*labels, ", ")));
    }
  }

  // One place decides where a decision goes, whichever thread made it.
  void on_decided(const Approval& a) {
    metrics.approvals.Add({{"outcome", std::string(to_string(a.status))}}).Increment();
    metrics.approvals_pending.Set(static_cast<double>(approvals->pending()));
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

namespace {

// A librdkafka property given by reference is read now, never logged.
std::string resolve_property(const std::string& name, const KafkaProperty& p) {
  if (!p.env.empty()) {
    const char* v = std::getenv(p.env.c_str());
    if (!v)
      throw std::runtime_error(fmt::format("{}: environment variable {} is not set", name, p.env));
    return v;
  }
  if (!p.file.empty()) {
    std::ifstream in(p.file);
    if (!in) throw std::runtime_error(fmt::format("{}: cannot read {}", name, p.file));
    std::string v((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    while (!v.empty() && (v.back() == '\n' || v.back() == '\r')) v.pop_back();
    return v;
  }
  return p.value;
}

}  // namespace

void App::start_kafka() {
  Impl& s = *impl_;
  const Config& cfg = *s.config;
  const KafkaConfig& k = cfg.kafka;
  kafka::ClientConfig cc;
  std::string error;
  if (k.embedded) {
    s.kafka_cluster = kafka::EmbeddedCluster::start(1, error);
    if (!s.kafka_cluster) throw std::runtime_error("embedded kafka: " + error);
    std::set<std::string> topics{k.topics.intents, k.topics.results,   k.topics.dead_letter,
                                 k.topics.alerts,  k.topics.approvals, k.topics.escalations};
    for (const auto& rule : cfg.rules.rules) {  // incident topics of kafka actions
      for (const auto& a : rule.actions) {
        if (const auto* ka = std::get_if<rules::KafkaAction>(&a.spec)) topics.insert(ka->topic);
      }
    }
    for (const std::string& t : topics) {
      if (!t.empty() && !s.kafka_cluster->create_topic(t, k.embedded_partitions, error))
        throw std::runtime_error(fmt::format("embedded kafka: topic {}: {}", t, error));
    }
    cc.brokers = s.kafka_cluster->bootstrap();
    if (!k.bootstrap_file.empty()) {
      std::filesystem::create_directories(std::filesystem::path(k.bootstrap_file).parent_path());
      std::ofstream(k.bootstrap_file) << cc.brokers << '\n';
    }
    log::info(
        "kafka", "embedded Kafka (librdkafka mock cluster) listening at {}; topics {}, {}, {}, {}",
        cc.brokers, k.topics.intents, k.topics.results, k.topics.dead_letter, k.topics.alerts);
  } else {
    cc.brokers = k.brokers;
  }
  for (const auto& [name, p] : k.properties)
    cc.properties[name] = resolve_property("kafka.properties." + name, p);

  s.kafka_bootstrap = cc.brokers;
  s.producer = kafka::Producer::create(cc, error);
  if (!s.producer) throw std::runtime_error("kafka producer: " + error);
  s.escalations.attach(s.producer.get(), k.topics.escalations);
  s.incidents.attach(s.producer.get());
  s.intents = std::make_unique<IntentService>(s.config, *s.executor, *s.audit, s.metrics, *s.state,
                                              *s.producer, *s.approvals, s.escalations);
  s.intents->report_interrupted();
  std::vector<std::string> topics{k.topics.intents};
  for (const std::string& t : {k.topics.alerts, k.topics.approvals})
    if (!t.empty()) topics.push_back(t);
  kafka::ClientConfig consumer_config = cc;
  if (k.embedded && !cc.properties.contains("session.timeout.ms")) {
    // The mock broker holds a rejoining group for the old member's whole
    // session timeout (librdkafka's default is 45s): keep restarts quick.
    consumer_config.properties["session.timeout.ms"] = "6000";
  }
  s.consumer = kafka::Consumer::create(consumer_config, k.group_id, topics, error);
  if (!s.consumer) throw std::runtime_error("kafka consumer: " + error);
  s.kafka_ingest = std::make_unique<KafkaIngest>(cfg, *s.intents, *s.approvals, *s.queue, s.metrics,
                                                 *s.producer, *s.consumer);
  s.consumer->start(
      [ingest = s.kafka_ingest.get()](const kafka::Message& m) { ingest->handle(m); });
  s.lag_sampler.emplace("aiopsd-lag", std::chrono::seconds(5), [&s] {
    for (const auto& l : s.consumer->lag()) {
      s.metrics.kafka_lag.Add({{"topic", l.topic}, {"partition", std::to_string(l.partition)}})
          .Set(static_cast<double>(l.lag));
    }
  });
}

void App::stop_kafka() {
  Impl& s = *impl_;
  if (!s.consumer) return;
  s.lag_sampler.reset();
  s.kafka_ingest->stop();
  // Intents already handed out finish (bounded by the drain timeout) so
  // their offsets can be committed; then the consumer commits and leaves.
  auto deadline = std::chrono::steady_clock::now() + s.options.drain_timeout;
  s.consumer->pause();
  while (s.intents->in_flight() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  s.consumer->stop();
  s.producer->flush(std::chrono::seconds(10));
}

std::string App::kafka_bootstrap() const { return impl_->kafka_bootstrap; }

App::App(std::unique_ptr<Config> config, AppOptions options)
    : impl_(std::make_unique<Impl>(std::move(config), std::move(options))) {}

App::~App() { stop(); }

void App::start() {
  Impl& s = *impl_;
  const Config& cfg = *s.config;
  // A peer closing its end (SSH device, webhook receiver, scraper) must cost
  // an error on that connection, never the process: embedded or not.
  ::signal(SIGPIPE, SIG_IGN);
  log::set_level(cfg.log_level);
  for (const auto& d : cfg.devices) {
    if (!d.ssh.verify_host_key) {
      log::warn("ssh", "host key verification is DISABLED for device {} ({}:{})", d.ssh.name,
                d.ssh.host, d.ssh.port);
    }
  }
  s.audit = std::make_unique<AuditLog>(cfg.audit_path);
  ssh::ExecutorOptions eo;
  eo.max_sessions = cfg.ssh.max_sessions;
  eo.max_queued = cfg.ssh.max_queued;
  eo.max_idle_sessions = cfg.ssh.max_idle_sessions;
  eo.on_active_sessions = [m = &s.metrics](std::size_t n) {
    m->ssh_sessions_active.Set(static_cast<double>(n));
  };
  eo.on_pool_event = [m = &s.metrics](ssh::PoolEvent e) {
    m->ssh_pool_events[static_cast<std::size_t>(e)]->Increment();
  };
  eo.on_idle_sessions = [m = &s.metrics](std::size_t n) {
    m->ssh_sessions_idle.Set(static_cast<double>(n));
  };
  eo.on_command_sent = s.options.on_ssh_command_sent;
  s.executor = std::make_unique<ssh::SshExecutor>(s.ssh_io.get_executor(), std::move(eo));
  s.ssh_work.emplace(s.ssh_io.get_executor());
  if (!cfg.state.path.empty()) {
    s.state = std::make_unique<StateStore>(StateStore::Options{
        cfg.state.path, cfg.state.retention,
        std::clamp<std::chrono::seconds>(cfg.state.retention / 100, std::chrono::seconds(1),
                                         std::chrono::minutes(10)),
        &s.clock});
  } else {
    log::info("approval", "no state.path: pending approvals would be kept in memory only");
  }
  s.silences = std::make_unique<Silences>(s.state.get(), *cfg.interner, s.metrics);
  s.silences->housekeeping(std::chrono::system_clock::now());
  s.gate = std::make_unique<SafetyGate>(cfg.safety, s.metrics, s.state.get());
  if (!cfg.safety.webhook_url.empty()) {
    s.webhook = std::make_unique<WebhookSender>(
        parse_webhook_url(cfg.safety.webhook_url),
        resolve_property("safety.webhook.token", cfg.safety.webhook_token), s.metrics);
    s.escalations.attach_webhook(s.webhook.get());
  }
  s.approvals = std::make_unique<ApprovalBook>(
      s.state.get(),
      ApprovalBook::Options{cfg.safety.approval_timeout, cfg.safety.four_eyes,
                            cfg.safety.max_pending_approvals},
      [&s](const Approval& a) { s.on_decided(a); });
  s.metrics.approvals_pending.Set(static_cast<double>(s.approvals->pending()));
  for (const auto& [name, r] : cfg.webhooks) {
    s.incidents.add_receiver(
        name, std::make_unique<WebhookSender>(
                  parse_webhook_url(r.url),
                  resolve_property("webhooks." + name + ".token", r.token), s.metrics));
  }
  s.plan_workers(cfg);
  s.engines->install(s.make_generation(s.config));
  s.engines->restore();
  s.config_reload_ok.Set(1);
  s.config_reload_time.Set(
      static_cast<double>(std::chrono::duration_cast<std::chrono::seconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count()));
  alertmanager::DecodeLimits limits;
  limits.max_labels = cfg.engine.max_labels;
  cfg.interner->set_budget(cfg.engine.max_label_bytes);
  s.ssh_thread = std::thread([&s] {
    ::pthread_setname_np(::pthread_self(), "aiopsd-ssh");
    s.ssh_io.run();
  });
  if (cfg.kafka.enabled) start_kafka();
  s.routes = std::make_unique<AlertRoutes>(*cfg.interner, limits, *s.queue, s.metrics,
                                           [this] { return impl_->running.load(); });
  HttpServerOptions ho;
  ho.address = cfg.server.address;
  ho.port = cfg.server.port;
  ho.max_body_bytes = cfg.server.max_body_bytes;
  ho.read_timeout = cfg.server.read_timeout;
  ho.idle_timeout = cfg.server.idle_timeout;
  ho.max_connections = cfg.server.max_connections;
  ho.on_connection_event = [m = &s.metrics](ConnectionEvent e) {
    m->http_connections[static_cast<std::size_t>(e)]->Increment();
  };
  ho.auth = std::make_shared<HttpAuth>(cfg.server.auth, s.metrics);
  if (cfg.server.tls.enabled()) {
    TlsError tls_error;
    ho.tls = make_server_tls_context(cfg.server.tls, tls_error);
    if (!ho.tls)
      throw std::runtime_error(
          fmt::format("server.tls.{}: {}", tls_error.field, tls_error.message));
  }
  s.admin_routes = std::make_unique<AdminRoutes>(*s.approvals, *s.gate, *s.silences, s.metrics,
                                                 *s.routes, [this] { return reload(); });
  s.server = std::make_unique<HttpServer>(s.http_io, ho, *s.admin_routes);
  s.port = s.server->start();
  log_listener_security(cfg.server);

  s.http_work.emplace(s.http_io.get_executor());
  s.engines->start();
  s.http_thread = std::thread([&s] {
    ::pthread_setname_np(::pthread_self(), "aiopsd-http");
    s.http_io.run();
  });
  s.housekeeping.emplace("aiopsd-house", std::chrono::seconds(1), [&s] {
    s.approvals->expire(std::chrono::system_clock::now());
    s.silences->housekeeping(std::chrono::system_clock::now());
  });
  s.running = true;
  log::info("daemon", "listening on {}:{} with {} rules, {} devices; audit log {}",
            cfg.server.address, s.port, cfg.rules.rules.size(), cfg.devices.size(), cfg.audit_path);
  if (s.options.notify_systemd) sd_notify(0, "READY=1");
}

void App::stop() {
  Impl& s = *impl_;
  if (!s.running.exchange(false)) return;
  if (s.options.notify_systemd) sd_notify(0, "STOPPING=1");
  log::info("daemon", "stopping: draining {} queued events and {} actions in flight",
            s.queue->size(), s.actions_in_flight());
  s.server->stop();
  s.http_work.reset();
  s.http_thread.join();    // returns once every connection is closed
  s.housekeeping.reset();  // expiry decides approvals: stopped before the runners
  stop_kafka();
  s.queue->close();
  s.engines->join();
  auto deadline = std::chrono::steady_clock::now() + s.options.drain_timeout;
  while (s.actions_in_flight() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (s.actions_in_flight() > 0) {
    log::warn("daemon", "drain timeout: {} actions still in flight are abandoned",
              s.actions_in_flight());
  }
  s.ssh_work.reset();
  s.ssh_io.stop();
  s.ssh_thread.join();
  log::info("daemon", "stopped");
}

namespace {

// Settings a running daemon cannot change: the reloaded config keeps the
// running values, and a warning names what needs a restart.
void keep_running_values(Config& next, const Config& running) {
  std::vector<std::string> changed;
  auto keep = [&](auto& field, const auto& now, std::string_view name) {
    if (!(field == now)) changed.emplace_back(name);
    field = now;
  };
  keep(next.server.address, running.server.address, "server.listen");
  keep(next.server.port, running.server.port, "server.listen");
  keep(next.server.max_connections, running.server.max_connections, "server.max_connections");
  keep(next.audit_path, running.audit_path, "audit.path");
  keep(next.state.path, running.state.path, "state");
  keep(next.engine.queue_capacity, running.engine.queue_capacity, "engine.queue_capacity");
  keep(next.engine.max_labels, running.engine.max_labels, "engine.max_labels");
  keep(next.engine.max_label_bytes, running.engine.max_label_bytes, "engine.max_label_bytes");
  keep(next.engine.workers, running.engine.workers, "engine.workers");
  keep(next.ssh.max_sessions, running.ssh.max_sessions, "ssh.max_sessions");
  keep(next.ssh.max_queued, running.ssh.max_queued, "ssh.max_queued");
  keep(next.ssh.max_idle_sessions, running.ssh.max_idle_sessions, "ssh.max_idle_sessions");
  if (next.kafka.enabled != running.kafka.enabled || next.kafka.brokers != running.kafka.brokers ||
      next.kafka.group_id != running.kafka.group_id)
    changed.emplace_back("kafka");
  next.kafka = running.kafka;
  if (next.safety.limits.size() != running.safety.limits.size() ||
      next.safety.maintenance.size() != running.safety.maintenance.size() ||
      next.safety.paused != running.safety.paused)
    changed.emplace_back("safety");
  next.safety = running.safety;
  std::sort(changed.begin(), changed.end());
  changed.erase(std::unique(changed.begin(), changed.end()), changed.end());
  for (const auto& c : changed)
    log::warn("config", "reload: {} changed; it takes effect at the next restart", c);
}

}  // namespace

std::string App::reload() {
  Impl& s = *impl_;
  std::lock_guard serial(s.reload_mu);
  if (!s.running) return "not running";
  rules::ConfigErrors errors(s.config->path);
  auto next = load_config(s.config->path, errors, s.config->interner);
  if (!next) {
    s.config_reload_ok.Set(0);
    log::error("config", "reload rejected; the running config stays in force:\n{}",
               errors.to_string());
    return errors.to_string();
  }
  keep_running_values(*next, *s.config);
  // The workers' shard key is fixed while they run: each group's state lives in one.
  if (s.engines->size() > 1) {
    if (auto why = s.shard_key->incompatible(next->rules)) {
      s.config_reload_ok.Set(0);
      std::string msg = fmt::format(
          "{}: with {} engine workers every rule must keep grouping by the shard key; restart "
          "to change it",
          *why, s.engines->size());
      log::error("config", "reload rejected; the running config stays in force: {}", msg);
      return msg;
    }
  }
  std::shared_ptr<const Config> cfg = std::move(next);
  s.engines->offer(s.make_generation(cfg));
  if (s.intents) s.intents->set_config(cfg);
  // Tokens are re-read: rotating one is a reload. TLS certificates need a restart.
  s.server->set_auth(std::make_shared<HttpAuth>(cfg->server.auth, s.metrics));
  log::set_level(cfg->log_level);
  s.config_reload_ok.Set(1);
  s.config_reload_time.Set(
      static_cast<double>(std::chrono::duration_cast<std::chrono::seconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count()));
  log::info("config", "reload of {} accepted: {} rules, {} catalog actions, {} devices", cfg->path,
            cfg->rules.rules.size(), cfg->catalog.actions().size(), cfg->devices.size());
  return {};
}

std::uint16_t App::http_port() const { return impl_->port; }
bool App::ready() const { return impl_->running.load(); }
const Config& App::config() const { return *impl_->config; }
Metrics& App::metrics() { return impl_->metrics; }
StateStore* App::state_store() { return impl_->state.get(); }

bool App::wait_idle(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (impl_->queue->idle() && impl_->actions_in_flight() == 0 &&
        (!impl_->intents || impl_->intents->in_flight() == 0))
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

}  // namespace aiopsd::daemon
