// App::reload: load and check the file again, keep what a running daemon
// cannot change, and hand the new rules to the workers and intents.

#include "daemon/app.hpp"
#include "daemon/app_impl.hpp"

namespace aiopsd::daemon {

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
    s.mark_reload(false);
    log::error("config", "reload rejected; the running config stays in force:\n{}",
               errors.to_string());
    return errors.to_string();
  }
  keep_running_values(*next, *s.config);
  // The workers' shard key is fixed while they run: each group's state lives in one.
  if (s.engines->size() > 1) {
    if (auto why = s.shard_key->incompatible(next->rules)) {
      s.mark_reload(false);
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
  // Tokens are re-read: rotating one is a reload. TLS certificates and the
  // OIDC provider need a restart: the running JWKS source and its
  // requirements stay as they started.
  AuthConfig auth = cfg->server.auth;
  const OidcConfig& started = s.config->server.auth.oidc;
  if (auth.oidc.source.issuer != started.source.issuer ||
      auth.oidc.source.jwks_uri != started.source.jwks_uri ||
      auth.oidc.token.audiences != started.token.audiences) {
    log::warn("config", "server.auth.oidc changed: restart to apply; OIDC stays as it started");
    auth.oidc = started;
  }
  s.server->set_auth(std::make_shared<HttpAuth>(std::move(auth), s.http_metrics, s.jwks));
  log::set_level(cfg->log_level);
  s.mark_reload(true);
  log::info("config", "reload of {} accepted: {} rules, {} catalog actions, {} devices", cfg->path,
            cfg->rules.rules.size(), cfg->catalog.actions().size(), cfg->devices.size());
  return {};
}

}  // namespace aiopsd::daemon
