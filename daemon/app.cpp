#include "daemon/app.hpp"

#include <systemd/sd-daemon.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <thread>

#include "daemon/action_runner.hpp"
#include "daemon/alert_routes.hpp"
#include "daemon/audit_log.hpp"
#include "daemon/event_queue.hpp"
#include "daemon/http_server.hpp"
#include "daemon/log.hpp"
#include "daemon/metrics.hpp"
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
  s.runner = std::make_unique<ActionRunner>(cfg, *s.executor, *s.audit, s.metrics);
  alertmanager::DecodeLimits limits;
  limits.max_labels = cfg.engine.max_labels;
  s.routes = std::make_unique<AlertRoutes>(*cfg.interner, limits, s.queue, s.metrics,
                                           [this] { return impl_->running.load(); });
  HttpServerOptions ho;
  ho.address = cfg.server.address;
  ho.port = cfg.server.port;
  ho.max_body_bytes = cfg.server.max_body_bytes;
  ho.read_timeout = cfg.server.read_timeout;
  ho.idle_timeout = cfg.server.idle_timeout;
  s.server = std::make_unique<HttpServer>(s.http_io, ho, *s.routes);
  s.port = s.server->start();

  s.http_work.emplace(s.http_io.get_executor());
  s.ssh_work.emplace(s.ssh_io.get_executor());
  s.ssh_thread = std::thread([&s] { s.ssh_io.run(); });
  s.engine_thread = std::thread([&s] { s.engine_loop(); });
  s.http_thread = std::thread([&s] { s.http_io.run(); });
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
    if (impl_->queue.idle() && impl_->runner->in_flight() == 0) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

}  // namespace aiopsd::daemon
