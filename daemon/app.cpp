#include "daemon/app.hpp"

#include <pthread.h>
#include <signal.h>
#include <systemd/sd-daemon.h>

#include <fmt/ranges.h>

#include "daemon/app_impl.hpp"

namespace aiopsd::daemon {

std::string read_secret_at_start(const std::string& name, const secrets::SecretRef& ref) {
  if (ref.empty()) return {};
  std::string why;
  std::optional<std::string> value = secrets::read_secret(ref, why);
  if (!value) throw std::runtime_error(fmt::format("{}: {}", name, why));
  return std::move(*value);
}

// The provider may be down at start: the daemon starts anyway and answers
// OIDC requests 503 until the first JWKS arrives.
std::shared_ptr<oidc::JwksSource> start_jwks_source(const OidcConfig& cfg, HttpMetrics& metrics) {
  auto& ok = metrics.oidc_jwks_fetches.Add({{"outcome", "ok"}});
  auto& failed = metrics.oidc_jwks_fetches.Add({{"outcome", "error"}});
  auto observe = [&ok, &failed, &keys = metrics.oidc_jwks_keys,
                  last = std::vector<std::string>{}](const oidc::JwksFetchReport& r) mutable {
    if (!r.ok) {
      failed.Increment();
      log::warn("oidc", "JWKS from {}: {} (keeping {} keys)", r.url, r.error, last.size());
      return;
    }
    ok.Increment();
    keys.Set(static_cast<double>(r.kids.size()));
    for (const auto& why : r.skipped) log::warn("oidc", "JWKS from {}: skipped {}", r.url, why);
    if (r.kids != last)
      log::info("oidc", "JWKS from {}: signing keys {}", r.url, fmt::join(r.kids, ", "));
    last = r.kids;
  };
  return std::make_shared<oidc::JwksSource>(cfg.source, std::move(observe));
}

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
  eo.on_active_sessions = [m = &s.remediation_metrics](std::size_t n) {
    m->ssh_sessions_active.Set(static_cast<double>(n));
  };
  eo.on_pool_event = [m = &s.remediation_metrics](ssh::PoolEvent e) {
    m->ssh_pool_events[static_cast<std::size_t>(e)]->Increment();
  };
  eo.on_idle_sessions = [m = &s.remediation_metrics](std::size_t n) {
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
  s.silences = std::make_unique<Silences>(s.state.get(), *cfg.interner, s.engine_metrics);
  s.silences->housekeeping(std::chrono::system_clock::now());
  s.gate = std::make_unique<SafetyGate>(cfg.safety, s.safety_metrics, s.state.get());
  if (!cfg.safety.webhook_url.empty()) {
    s.webhook = std::make_unique<WebhookSender>(
        parse_webhook_url(cfg.safety.webhook_url),
        read_secret_at_start("safety.webhook.token", cfg.safety.webhook_token), s.notify_metrics);
    s.escalations.attach_webhook(s.webhook.get());
  }
  s.approvals = std::make_unique<ApprovalBook>(
      s.state.get(),
      ApprovalBook::Options{cfg.safety.approval_timeout, cfg.safety.four_eyes,
                            cfg.safety.max_pending_approvals},
      [&s](const Approval& a) { s.on_decided(a); });
  s.safety_metrics.approvals_pending.Set(static_cast<double>(s.approvals->pending()));
  for (const auto& [name, r] : cfg.webhooks) {
    s.incidents.add_receiver(
        name, std::make_unique<WebhookSender>(
                  parse_webhook_url(r.url),
                  read_secret_at_start("webhooks." + name + ".token", r.token), s.notify_metrics));
  }
  s.plan_workers(cfg);
  s.engines->install(s.make_generation(s.config));
  s.engines->restore();
  s.mark_reload(true);
  alertmanager::DecodeLimits limits;
  limits.max_labels = cfg.engine.max_labels;
  cfg.interner->set_budget(cfg.engine.max_label_bytes);
  s.ssh_thread = std::thread([&s] {
    ::pthread_setname_np(::pthread_self(), "aiopsd-ssh");
    s.ssh_io.run();
  });
  if (cfg.kafka.enabled) start_kafka();
  s.routes =
      std::make_unique<AlertRoutes>(*cfg.interner, limits, *s.queue, s.metrics, s.http_metrics,
                                    [this] { return impl_->running.load(); });
  HttpServerOptions ho;
  ho.address = cfg.server.address;
  ho.port = cfg.server.port;
  ho.max_body_bytes = cfg.server.max_body_bytes;
  ho.read_timeout = cfg.server.read_timeout;
  ho.idle_timeout = cfg.server.idle_timeout;
  ho.max_connections = cfg.server.max_connections;
  ho.on_connection_event = [m = &s.http_metrics](ConnectionEvent e) {
    m->connections[static_cast<std::size_t>(e)]->Increment();
  };
  if (cfg.server.auth.oidc.enabled())
    s.jwks = start_jwks_source(cfg.server.auth.oidc, s.http_metrics);
  ho.auth = std::make_shared<HttpAuth>(cfg.server.auth, s.http_metrics, s.jwks);
  if (cfg.server.tls.enabled()) {
    TlsError tls_error;
    ho.tls = make_server_tls_context(cfg.server.tls, tls_error);
    if (!ho.tls)
      throw std::runtime_error(
          fmt::format("server.tls.{}: {}", tls_error.field, tls_error.message));
  }
  s.admin_routes = std::make_unique<AdminRoutes>(
      *s.approvals, *s.gate, *s.silences, s.http_metrics, *s.routes, [this] { return reload(); },
      cfg.safety.unauthenticated_approvals);
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
  const auto deadline = std::chrono::steady_clock::now() + s.options.drain_timeout;
  if (!wait_until(deadline, [&] { return s.actions_in_flight() == 0; })) {
    log::warn("daemon", "drain timeout: {} actions still in flight are abandoned",
              s.actions_in_flight());
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
StateStore* App::state_store() { return impl_->state.get(); }

bool App::wait_idle(std::chrono::milliseconds timeout) {
  Impl& s = *impl_;
  return wait_until(
      std::chrono::steady_clock::now() + timeout,
      [&] {
        return s.queue->idle() && s.actions_in_flight() == 0 &&
               (!s.intents || s.intents->in_flight() == 0);
      },
      std::chrono::milliseconds(10));
}

}  // namespace aiopsd::daemon
