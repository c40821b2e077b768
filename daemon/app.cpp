#include "daemon/app.hpp"

#include <pthread.h>
#include <systemd/sd-daemon.h>

#include <algorithm>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "daemon/action_runner.hpp"
#include "daemon/alert_routes.hpp"
#include "daemon/audit_log.hpp"
#include "daemon/event_queue.hpp"
#include "daemon/http_auth.hpp"
#include "daemon/http_server.hpp"
#include "daemon/http_tls.hpp"
#include "daemon/intent_service.hpp"
#include "daemon/kafka_ingest.hpp"
#include "daemon/log.hpp"
#include "daemon/metrics.hpp"
#include "daemon/state_store.hpp"
#include "rules/engine.hpp"

namespace aiopsd::daemon {

namespace asio = boost::asio;

namespace {
// Per-rule counters resolved once at start.
class RuleMetrics final : public rules::EngineObserver {
 public:
  RuleMetrics(const rules::RuleSet& rules, Metrics& m) {
    for (const auto& r : rules.rules) {
      matches_.push_back(&m.rule_matches.Add({{"rule", r.name}}));
      throttled_.push_back(&m.rule_throttled.Add({{"rule", r.name}}));
    }
  }
  void on_match(std::uint32_t rule) override { matches_[rule]->Increment(); }
  void on_throttled(std::uint32_t rule) override { throttled_[rule]->Increment(); }

 private:
  std::vector<prometheus::Counter*> matches_;
  std::vector<prometheus::Counter*> throttled_;
};
}  // namespace

struct App::Impl {
  std::unique_ptr<Config> config;
  AppOptions options;
  rules::SystemClock system_clock;
  const rules::Clock& clock;
  Metrics metrics;
  EventQueue queue;
  RuleMetrics rule_metrics;
  std::unique_ptr<AuditLog> audit;
  std::unique_ptr<rules::Engine> engine;

  asio::io_context http_io;
  asio::io_context ssh_io;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> http_work;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> ssh_work;
  std::unique_ptr<ssh::SshExecutor> executor;
  std::unique_ptr<ActionRunner> runner;
  std::unique_ptr<AlertRoutes> routes;
  std::unique_ptr<HttpServer> server;
  // Kafka (when configured): embedded broker, durable state, clients.
  std::unique_ptr<kafka::EmbeddedCluster> kafka_cluster;
  std::unique_ptr<StateStore> state;
  std::unique_ptr<kafka::Producer> producer;
  std::unique_ptr<IntentService> intents;
  std::unique_ptr<kafka::Consumer> consumer;
  std::unique_ptr<KafkaIngest> kafka_ingest;
  std::thread lag_thread;
  std::mutex lag_mu;
  std::condition_variable lag_cv;
  bool lag_stop = false;  // guarded by lag_mu; set by stop_kafka()
  std::string kafka_bootstrap;
  std::thread http_thread, ssh_thread, engine_thread;
  std::atomic<bool> running{false};
  std::uint16_t port = 0;

  Impl(std::unique_ptr<Config> c, AppOptions o)
      : config(std::move(c)),
        options(o),
        clock(o.clock ? *o.clock : system_clock),
        queue(config->engine.queue_capacity),
        rule_metrics(config->rules, metrics) {}

  void engine_loop() {
    std::vector<rules::Event> batch;
    std::vector<rules::Decision> decisions;
    auto next_tick = std::chrono::steady_clock::now();
    for (;;) {
      batch.clear();
      bool open = queue.pop_some(batch, 256, options.tick_interval);
      for (const auto& e : batch) engine->process(e, decisions);
      if (std::chrono::steady_clock::now() >= next_tick) {
        engine->tick(decisions);
        engine->expire_idle_state();
        next_tick = std::chrono::steady_clock::now() + options.tick_interval;
      }
      for (const auto& d : decisions) runner->run(d);
      decisions.clear();
      metrics.event_queue_depth.Set(static_cast<double>(queue.size()));
      queue.mark_done();
      if (!open) return;
    }
  }
};

namespace {

// A librdkafka property given by reference is read now, never logged.
std::string resolve_property(const std::string& name, const KafkaProperty& p) {
  if (!p.env.empty()) {
    const char* v = std::getenv(p.env.c_str());
    if (!v)
      throw std::runtime_error(
          fmt::format("kafka.properties.{}: environment variable {} is not set", name, p.env));
    return v;
  }
  if (!p.file.empty()) {
    std::ifstream in(p.file);
    if (!in)
      throw std::runtime_error(fmt::format("kafka.properties.{}: cannot read {}", name, p.file));
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
    for (const std::string& t :
         {k.topics.intents, k.topics.results, k.topics.dead_letter, k.topics.alerts}) {
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
  for (const auto& [name, p] : k.properties) cc.properties[name] = resolve_property(name, p);

  s.kafka_bootstrap = cc.brokers;
  s.state = std::make_unique<StateStore>(StateStore::Options{
      cfg.state.path, cfg.state.retention,
      std::clamp<std::chrono::seconds>(cfg.state.retention / 100, std::chrono::seconds(1),
                                       std::chrono::minutes(10))});
  s.producer = kafka::Producer::create(cc, error);
  if (!s.producer) throw std::runtime_error("kafka producer: " + error);
  s.intents =
      std::make_unique<IntentService>(cfg, *s.executor, *s.audit, s.metrics, *s.state, *s.producer);
  s.intents->report_interrupted();
  std::vector<std::string> topics{k.topics.intents};
  if (!k.topics.alerts.empty()) topics.push_back(k.topics.alerts);
  kafka::ClientConfig consumer_config = cc;
  if (k.embedded && !cc.properties.contains("session.timeout.ms")) {
    // The mock broker holds a rejoining group for the old member's whole
    // session timeout (librdkafka's default is 45s): keep restarts quick.
    consumer_config.properties["session.timeout.ms"] = "6000";
  }
  s.consumer = kafka::Consumer::create(consumer_config, k.group_id, topics, error);
  if (!s.consumer) throw std::runtime_error("kafka consumer: " + error);
  s.kafka_ingest =
      std::make_unique<KafkaIngest>(cfg, *s.intents, s.queue, s.metrics, *s.producer, *s.consumer);
  s.consumer->start(
      [ingest = s.kafka_ingest.get()](const kafka::Message& m) { ingest->handle(m); });
  // Its own stop flag: start() sets `running` only after this thread exists.
  s.lag_thread = std::thread([&s] {
    ::pthread_setname_np(::pthread_self(), "aiopsd-lag");
    std::unique_lock lock(s.lag_mu);
    while (!s.lag_cv.wait_for(lock, std::chrono::seconds(5), [&s] { return s.lag_stop; })) {
      for (const auto& l : s.consumer->lag()) {
        s.metrics.kafka_lag.Add({{"topic", l.topic}, {"partition", std::to_string(l.partition)}})
            .Set(static_cast<double>(l.lag));
      }
    }
  });
}

void App::stop_kafka() {
  Impl& s = *impl_;
  if (!s.consumer) return;
  {
    std::lock_guard lock(s.lag_mu);
    s.lag_stop = true;
  }
  s.lag_cv.notify_all();
  if (s.lag_thread.joinable()) s.lag_thread.join();
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
    : impl_(std::make_unique<Impl>(std::move(config), options)) {}

App::~App() { stop(); }

void App::start() {
  Impl& s = *impl_;
  const Config& cfg = *s.config;
  log::set_level(cfg.log_level);
  for (const auto& d : cfg.devices) {
    if (!d.ssh.verify_host_key) {
      log::warn("ssh", "host key verification is DISABLED for device {} ({}:{})", d.ssh.name,
                d.ssh.host, d.ssh.port);
    }
  }
  s.audit = std::make_unique<AuditLog>(cfg.audit_path);
  s.engine = std::make_unique<rules::Engine>(cfg.rules, *cfg.interner, s.clock, &s.rule_metrics);
  ssh::ExecutorOptions eo;
  eo.max_sessions = cfg.ssh.max_sessions;
  eo.on_active_sessions = [m = &s.metrics](std::size_t n) {
    m->ssh_sessions_active.Set(static_cast<double>(n));
  };
  s.executor = std::make_unique<ssh::SshExecutor>(s.ssh_io.get_executor(), std::move(eo));
  s.ssh_work.emplace(s.ssh_io.get_executor());
  s.runner = std::make_unique<ActionRunner>(cfg, *s.executor, *s.audit, s.metrics);
  alertmanager::DecodeLimits limits;
  limits.max_labels = cfg.engine.max_labels;
  s.ssh_thread = std::thread([&s] {
    ::pthread_setname_np(::pthread_self(), "aiopsd-ssh");
    s.ssh_io.run();
  });
  if (cfg.kafka.enabled) start_kafka();
  s.routes = std::make_unique<AlertRoutes>(*cfg.interner, limits, s.queue, s.metrics,
                                           [this] { return impl_->running.load(); });
  HttpServerOptions ho;
  ho.address = cfg.server.address;
  ho.port = cfg.server.port;
  ho.max_body_bytes = cfg.server.max_body_bytes;
  ho.read_timeout = cfg.server.read_timeout;
  ho.idle_timeout = cfg.server.idle_timeout;
  ho.auth = std::make_shared<HttpAuth>(cfg.server.auth, s.metrics);
  if (cfg.server.tls.enabled()) {
    TlsError tls_error;
    ho.tls = make_server_tls_context(cfg.server.tls, tls_error);
    if (!ho.tls)
      throw std::runtime_error(
          fmt::format("server.tls.{}: {}", tls_error.field, tls_error.message));
  }
  s.server = std::make_unique<HttpServer>(s.http_io, ho, *s.routes);
  s.port = s.server->start();
  log_listener_security(cfg.server);

  s.http_work.emplace(s.http_io.get_executor());
  s.engine_thread = std::thread([&s] {
    ::pthread_setname_np(::pthread_self(), "aiopsd-engine");
    s.engine_loop();
  });
  s.http_thread = std::thread([&s] {
    ::pthread_setname_np(::pthread_self(), "aiopsd-http");
    s.http_io.run();
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
            s.queue.size(), s.runner->in_flight());
  s.server->stop();
  s.http_work.reset();
  s.http_thread.join();  // returns once every connection is closed
  stop_kafka();
  s.queue.close();
  s.engine_thread.join();
  auto deadline = std::chrono::steady_clock::now() + s.options.drain_timeout;
  while (s.runner->in_flight() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (s.runner->in_flight() > 0) {
    log::warn("daemon", "drain timeout: {} actions still in flight are abandoned",
              s.runner->in_flight());
  }
  s.ssh_work.reset();
  s.ssh_io.stop();
  s.ssh_thread.join();
  log::info("daemon", "stopped");
}

std::uint16_t App::http_port() const { return impl_->port; }
bool App::ready() const { return impl_->running.load(); }
const Config& App::config() const { return *impl_->config; }
Metrics& App::metrics() { return impl_->metrics; }

bool App::wait_idle(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (impl_->queue.idle() && impl_->runner->in_flight() == 0 &&
        (!impl_->intents || impl_->intents->in_flight() == 0))
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

}  // namespace aiopsd::daemon
