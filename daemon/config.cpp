#include "daemon/config.hpp"
#include "daemon/config_sections.hpp"

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <pwd.h>
#include <unistd.h>

#include <boost/asio/ip/address.hpp>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

#include "connectors/common/rfc3339.hpp"
#include "daemon/http/tls.hpp"
#include "daemon/notify/webhook_sender.hpp"

namespace aiopsd::daemon {

namespace fs = std::filesystem;
using rules::ConfigErrors;
using rules::YamlMap;

const DeviceConfig* Config::find_device(std::string_view name_or_host) const {
  for (const auto& d : devices) {
    if (d.ssh.name == name_or_host) return &d;
  }
  for (const auto& d : devices) {
    if (d.ssh.host == name_or_host) return &d;
  }
  return nullptr;
}

std::string resolve(const fs::path& base, const std::string& p) {
  if (p.empty() || fs::path(p).is_absolute()) return p;
  return (base / p).lexically_normal().string();
}

namespace {

std::string current_user() {
  if (const passwd* pw = getpwuid(geteuid())) return pw->pw_name;
  return "root";
}

// The secret behind `ref` can be read now: so `aiopsd check` reports a
// missing variable or an unreadable file at its place in the file, instead
// of the daemon failing at start (Kafka, webhooks) or at the first SSH
// session. The value is read only to be wiped.
bool check_readable(const YAML::Node& at, const std::string& path, const secrets::SecretRef& ref,
                    ConfigErrors& errors) {
  std::string why;
  std::optional<std::string> value = secrets::read_secret(ref, why);
  if (!value) {
    errors.add(at, path, why);
    return false;
  }
  OPENSSL_cleanse(value->data(), value->size());
  return true;
}

void parse_tls(const YamlMap& sm, const fs::path& base, TlsConfig& tls, ConfigErrors& errors) {
  if (!sm.has("tls")) return;
  YamlMap tm(sm.node("tls"), "server.tls", errors,
             {"cert_file", "key_file", "client_ca_file", "min_version"});
  if (!tm.valid()) return;
  TlsConfig t;
  auto cert = tm.string("cert_file", true);
  auto key = tm.string("key_file", true);
  t.client_ca_file = resolve(base, tm.string("client_ca_file").value_or(""));
  if (auto v = tm.string("min_version")) {
    if (*v == "1.2") {
      t.min_version = TlsVersion::k1_2;
    } else if (*v == "1.3") {
      t.min_version = TlsVersion::k1_3;
    } else {
      errors.add(tm.node("min_version"), tm.child_path("min_version"),
                 fmt::format("unsupported TLS version '{}' (expected \"1.2\" or \"1.3\")", *v));
    }
  }
  if (!cert || !key) return;
  t.cert_file = resolve(base, *cert);
  t.key_file = resolve(base, *key);
  // Loaded now, so a wrong path, a bad PEM or a key that does not match the
  // certificate is a located config error rather than a failed start.
  TlsError err;
  if (!make_server_tls_context(t, err)) {
    errors.add(tm.node(err.field), tm.child_path(err.field), err.message);
    return;
  }
  tls = std::move(t);
}

void parse_server(const YamlMap& top, const fs::path& base, Config& cfg, ConfigErrors& errors) {
  if (!top.has("server")) return;
  YamlMap m(
      top.node("server"), "server", errors,
      {"listen", "max_body", "read_timeout", "idle_timeout", "max_connections", "auth", "tls"});
  if (!m.valid()) return;
  if (auto listen = m.string("listen")) {
    auto colon = listen->rfind(':');
    unsigned long port = 0;
    bool ok = colon != std::string::npos && colon + 1 < listen->size();
    if (ok) {
      try {
        std::size_t used = 0;
        port = std::stoul(listen->substr(colon + 1), &used);
        ok = used == listen->size() - colon - 1 && port <= 65535;
      } catch (const std::exception&) {
        ok = false;
      }
    }
    if (!ok) {
      errors.add(m.node("listen"), "server.listen",
                 fmt::format("invalid address '{}' (expected HOST:PORT)", *listen));
    } else {
      cfg.server.address = listen->substr(0, colon);
      // "[::1]:9095": the brackets only delimit the IPv6 address.
      if (cfg.server.address.size() > 2 && cfg.server.address.front() == '[' &&
          cfg.server.address.back() == ']') {
        cfg.server.address = cfg.server.address.substr(1, cfg.server.address.size() - 2);
      }
      cfg.server.port = static_cast<std::uint16_t>(port);
    }
  }
  if (auto v = m.size("max_body")) cfg.server.max_body_bytes = *v;
  if (auto v = m.duration("read_timeout")) cfg.server.read_timeout = *v;
  if (auto v = m.duration("idle_timeout")) cfg.server.idle_timeout = *v;
  if (auto v = m.integer("max_connections", 1, 1'000'000))
    cfg.server.max_connections = static_cast<std::size_t>(*v);
  parse_auth(m, base, cfg.server.auth, errors);
  parse_tls(m, base, cfg.server.tls, errors);
}

void parse_engine(const YamlMap& top, Config& cfg, ConfigErrors& errors) {
  if (!top.has("engine")) return;
  YamlMap m(top.node("engine"), "engine", errors,
            {"queue_capacity", "max_labels", "max_label_bytes", "dry_run", "max_groups_per_rule",
             "max_tracked", "lateness", "workers"});
  if (!m.valid()) return;
  if (auto v = m.integer("workers", 0, 64)) cfg.engine.workers = static_cast<std::size_t>(*v);
  if (auto v = m.integer("max_groups_per_rule", 1, 100'000'000))
    cfg.engine.limits.max_groups_per_rule = static_cast<std::size_t>(*v);
  if (auto v = m.integer("max_tracked", 1, 1'000'000'000))
    cfg.engine.limits.max_tracked = static_cast<std::size_t>(*v);
  if (auto v = m.duration("lateness")) cfg.engine.limits.lateness = *v;
  if (auto v = m.integer("queue_capacity", 1, 10'000'000))
    cfg.engine.queue_capacity = static_cast<std::size_t>(*v);
  if (auto v = m.integer("max_labels", 1, 4096))
    cfg.engine.max_labels = static_cast<std::size_t>(*v);
  if (auto v = m.size("max_label_bytes")) {
    if (*v < (1u << 20)) {
      errors.add(m.node("max_label_bytes"), "engine.max_label_bytes", "must be at least 1MiB");
    } else {
      cfg.engine.max_label_bytes = static_cast<std::size_t>(*v);
    }
  }
  if (auto v = m.boolean("dry_run")) cfg.engine.dry_run = *v;
}

void parse_ssh(const YamlMap& top, const fs::path& base, Config& cfg, ConfigErrors& errors) {
  if (!top.has("ssh")) return;
  YamlMap m(top.node("ssh"), "ssh", errors,
            {"max_sessions", "max_queued", "max_idle_sessions", "idle_timeout", "connect_timeout",
             "command_timeout", "output_limit", "known_hosts", "redact", "policy"});
  if (!m.valid()) return;
  if (auto v = m.integer("max_sessions", 1, 100'000))
    cfg.ssh.max_sessions = static_cast<std::size_t>(*v);
  if (auto v = m.integer("max_queued", 1, 10'000'000))
    cfg.ssh.max_queued = static_cast<std::size_t>(*v);
  if (auto v = m.integer("max_idle_sessions", 0, 100'000))
    cfg.ssh.max_idle_sessions = static_cast<std::size_t>(*v);
  if (auto v = m.duration("idle_timeout")) {
    // Longer would outlive most devices' own idle disconnects; 0 disables the pool.
    if (*v > std::chrono::hours(1)) {
      errors.add(m.node("idle_timeout"), "ssh.idle_timeout", "must be at most 1h (0 disables)");
    } else {
      cfg.ssh.limits.idle_timeout = *v;
    }
  }
  if (auto v = m.duration("connect_timeout")) cfg.ssh.limits.connect_timeout = *v;
  if (auto v = m.duration("command_timeout")) cfg.ssh.limits.command_timeout = *v;
  if (auto v = m.size("output_limit")) cfg.ssh.limits.output_limit = *v;
  if (auto v = m.string("known_hosts")) cfg.ssh.known_hosts = resolve(base, *v);
  cfg.ssh.redact = m.string_list("redact");
  std::vector<std::string> errs;
  if (auto f = rules::OutputFilter::compile(cfg.ssh.redact, errs))
    cfg.output_filter = std::move(*f);
  for (const auto& e : errs) errors.add(m.node("redact"), "ssh", e);
  if (m.has("policy")) {
    YamlMap pm(m.node("policy"), "ssh.policy", errors, {"allow", "deny"});
    if (pm.valid()) {
      errs.clear();
      if (auto p = rules::CommandPolicy::compile(pm.string_list("allow"), pm.string_list("deny"),
                                                 errs)) {
        cfg.policy = std::move(*p);
      }
      for (const auto& e : errs) errors.add(m.node("policy"), "ssh.policy", e);
    }
  }
}

void parse_credential(const YamlMap& dm, const fs::path& base, ssh::Device& dev,
                      ConfigErrors& errors) {
  const std::string path = dm.child_path("credential");
  if (!dm.has("credential")) {
    errors.add(dm.node("name"), path, "missing required field");
    return;
  }
  YAML::Node node = dm.node("credential");
  // Inline secrets are refused by name, before the generic unknown-field check.
  for (const char* inline_key : {"password", "private_key", "key", "passphrase", "secret"}) {
    if (node.IsMap() && node[inline_key].IsDefined()) {
      errors.add(node[inline_key], fmt::format("{}.{}", path, inline_key),
                 "inline secrets are not allowed: use key_file, password_env or password_file");
      return;
    }
  }
  YamlMap cm(node, path, errors,
             {"key_file", "passphrase_env", "passphrase_file", "password_env", "password_file"});
  if (!cm.valid()) return;
  int kinds = cm.has("key_file") + cm.has("password_env") + cm.has("password_file");
  if (kinds != 1) {
    errors.add(node, path, "expected exactly one of key_file, password_env, password_file");
    return;
  }
  ssh::Credential& c = dev.credential;
  if (auto v = cm.string("key_file")) {
    c.kind = ssh::Credential::Kind::kKeyFile;
    c.key_file = resolve(base, *v);
    if (cm.has("passphrase_env") && cm.has("passphrase_file")) {
      errors.add(node, path, "expected at most one of passphrase_env, passphrase_file");
      return;
    }
    c.passphrase.env = cm.string("passphrase_env").value_or("");
    if (auto f = cm.string("passphrase_file")) c.passphrase.file = resolve(base, *f);
  } else {
    c.kind = ssh::Credential::Kind::kPassword;
    c.password.env = cm.string("password_env").value_or("");
    if (auto f = cm.string("password_file")) c.password.file = resolve(base, *f);
  }
  // Read at each connect (a rotated secret needs no reload); checked now.
  for (const char* key : {"passphrase_env", "passphrase_file", "password_env", "password_file"}) {
    if (!cm.has(key)) continue;
    const bool passphrase = std::string_view(key).starts_with("passphrase");
    const secrets::SecretRef& ref = passphrase ? c.passphrase : c.password;
    if (!ref.empty()) check_readable(cm.node(key), cm.child_path(key), ref, errors);
  }
}

void parse_devices(const YamlMap& top, const fs::path& base, Config& cfg, ConfigErrors& errors) {
  if (!top.has("devices")) return;
  YAML::Node list = top.node("devices");
  if (!list.IsSequence()) {
    errors.add(list, "devices", "expected a list of devices");
    return;
  }
  std::set<std::string> names;
  for (std::size_t i = 0; i < list.size(); ++i) {
    YamlMap dm(
        list[i], fmt::format("devices[{}]", i), errors,
        {"name", "host", "port", "user", "credential", "known_hosts", "verify_host_key", "labels"});
    if (!dm.valid()) continue;
    DeviceConfig dc;
    dc.ssh.name = dm.string("name", true).value_or("");
    if (!dc.ssh.name.empty() && !names.insert(dc.ssh.name).second) {
      errors.add(dm.node("name"), dm.child_path("name"),
                 fmt::format("duplicate device name '{}'", dc.ssh.name));
    }
    dc.ssh.host = dm.string("host", true).value_or("");
    if (auto p = dm.integer("port", 1, 65535)) dc.ssh.port = static_cast<std::uint16_t>(*p);
    dc.ssh.user = dm.string("user").value_or(current_user());
    parse_credential(dm, base, dc.ssh, errors);
    dc.ssh.known_hosts_file = resolve(base, dm.string("known_hosts").value_or(""));
    if (auto v = dm.boolean("verify_host_key")) dc.ssh.verify_host_key = *v;
    if (dm.has("labels")) {
      YAML::Node labels = dm.node("labels");
      if (!labels.IsMap()) {
        errors.add(labels, dm.child_path("labels"), "expected a mapping");
      } else {
        for (auto it = labels.begin(); it != labels.end(); ++it) {
          dc.labels[it->first.as<std::string>("")] = it->second.as<std::string>("");
        }
      }
    }
    cfg.devices.push_back(std::move(dc));
  }
}

bool secret_property(std::string_view name) {
  return name.find("password") != std::string_view::npos ||
         name.find("secret") != std::string_view::npos ||
         name.find("sasl.jaas") != std::string_view::npos || name == "ssl.key.pem" ||
         name == "ssl_key";
}

// A secret given by reference, {env: VAR} or {file: PATH}: fills `ref`, or
// reports where and why not. (API tokens are also hashed at load: parse_auth.)
bool parse_secret_ref(const YAML::Node& node, const std::string& path, const fs::path& base,
                      secrets::SecretRef& ref, ConfigErrors& errors) {
  YamlMap rm(node, path, errors, {"env", "file"});
  if (!rm.valid()) return false;
  if (rm.has("env") == rm.has("file")) {
    errors.add(node, path, "expected exactly one of env or file");
    return false;
  }
  ref.env = rm.string("env").value_or("");
  if (auto f = rm.string("file")) ref.file = resolve(base, *f);
  if (ref.empty()) return false;  // a type error, reported
  const char* field = ref.env.empty() ? "file" : "env";
  return check_readable(rm.node(field), rm.child_path(field), ref, errors);
}

void parse_kafka_properties(const YamlMap& km, const fs::path& base, KafkaConfig& k,
                            ConfigErrors& errors) {
  if (!km.has("properties")) return;
  const YAML::Node props = km.node("properties");
  if (!props.IsMap()) {
    errors.add(props, km.child_path("properties"), "expected a mapping of librdkafka properties");
    return;
  }
  for (auto it = props.begin(); it != props.end(); ++it) {
    const std::string name = it->first.as<std::string>("");
    const std::string ppath = fmt::format("{}.{}", km.child_path("properties"), name);
    KafkaProperty p;
    if (it->second.IsScalar()) {
      if (secret_property(name)) {
        errors.add(it->second, ppath,
                   "inline secrets are not allowed: use {env: VAR} or {file: PATH}");
        continue;
      }
      p.value = it->second.Scalar();
    } else if (!parse_secret_ref(it->second, ppath, base, p.secret, errors)) {
      continue;
    }
    k.properties[name] = std::move(p);
  }
}

void parse_kafka(const YamlMap& top, const fs::path& base, Config& cfg, ConfigErrors& errors) {
  if (!top.has("kafka")) return;
  YamlMap m(top.node("kafka"), "kafka", errors,
            {"brokers", "bootstrap_file", "group_id", "topics", "properties", "embedded_partitions",
             "max_message_bytes", "max_intent_age"});
  if (!m.valid()) return;
  KafkaConfig& k = cfg.kafka;
  k.enabled = true;
  if (auto b = m.string("brokers", true)) {
    k.embedded = *b == "embedded";
    if (!k.embedded) k.brokers = *b;
  }
  if (auto g = m.string("group_id")) k.group_id = *g;
  if (auto f = m.string("bootstrap_file")) k.bootstrap_file = resolve(base, *f);
  if (auto p = m.integer("embedded_partitions", 1, 256))
    k.embedded_partitions = static_cast<int>(*p);
  if (auto v = m.size("max_message_bytes")) k.max_message_bytes = *v;
  if (auto v = m.duration("max_intent_age"))
    k.max_intent_age = std::chrono::duration_cast<std::chrono::seconds>(*v);
  if (m.has("topics")) {
    YamlMap tm(m.node("topics"), "kafka.topics", errors,
               {"intents", "results", "dead_letter", "alerts", "approvals", "escalations"});
    if (tm.valid()) {
      k.topics.intents = tm.string("intents").value_or(k.topics.intents);
      k.topics.results = tm.string("results").value_or(k.topics.results);
      k.topics.dead_letter = tm.string("dead_letter").value_or(k.topics.dead_letter);
      k.topics.alerts = tm.string("alerts").value_or(k.topics.alerts);
      k.topics.approvals = tm.string("approvals").value_or(k.topics.approvals);
      k.topics.escalations = tm.string("escalations").value_or(k.topics.escalations);
    }
  }
  parse_kafka_properties(m, base, k, errors);
}

void parse_breaker(const YAML::Node& node, const std::string& path, SafetyConfig& s,
                   ConfigErrors& errors) {
  YamlMap m(node, path, errors, {"scope", "max_actions", "max_devices", "window", "reset"});
  if (!m.valid()) return;
  BreakerConfig b;
  b.where.file = errors.file();
  b.where.line = node.Mark().line + 1;
  b.where.column = node.Mark().column + 1;
  b.where.path = path + ".scope";
  const std::string scope = m.string("scope").value_or("global");
  if (scope.starts_with("rule:") && scope.size() > 5) {
    b.rule = scope.substr(5);
  } else if (scope != "global") {
    errors.add(m.node("scope"), m.child_path("scope"),
               fmt::format("'{}' is not a scope (expected global or rule:NAME)", scope));
  }
  b.scope = scope;
  if (auto v = m.integer("max_actions", 1, 1'000'000)) b.max_actions = static_cast<std::size_t>(*v);
  if (auto v = m.integer("max_devices", 1, 1'000'000)) b.max_devices = static_cast<std::size_t>(*v);
  if (b.max_actions == 0 && b.max_devices == 0)
    errors.add(node, path, "needs max_actions, max_devices or both");
  if (auto w = m.duration("window")) b.window = *w;
  if (b.window <= std::chrono::milliseconds(0))
    errors.add(m.node("window"), m.child_path("window"), "must be positive");
  if (auto r = m.string("reset")) {
    if (*r == "manual") {
      b.manual_reset = true;
    } else if (*r != "auto") {
      errors.add(m.node("reset"), m.child_path("reset"),
                 fmt::format("'{}' is not a reset mode (expected auto or manual)", *r));
    }
  }
  for (const auto& other : s.limits) {
    if (other.scope == b.scope)
      errors.add(m.node("scope"), m.child_path("scope"),
                 fmt::format("duplicate scope '{}'", scope));
  }
  s.limits.push_back(std::move(b));
}

void parse_maintenance(const YAML::Node& node, const std::string& path, SafetyConfig& s,
                       ConfigErrors& errors) {
  YamlMap m(node, path, errors, {"name", "match", "start", "end"});
  if (!m.valid()) return;
  MaintenanceWindow w;
  w.name = m.string("name", true).value_or("");
  if (m.has("match") && m.node("match").IsMap()) {
    for (const auto& kv : m.node("match")) {
      if (!kv.second.IsScalar()) {
        errors.add(kv.second, m.child_path("match"), "label values must be strings");
        continue;
      }
      w.match[kv.first.as<std::string>()] = kv.second.as<std::string>();
    }
  }
  if (w.match.empty())
    errors.add(node, m.child_path("match"), "needs at least one device label to match");
  for (const char* key : {"start", "end"}) {
    if (auto t = m.string(key)) {
      rules::TimePoint tp{};
      if (wire::parse_rfc3339(*t, tp) != wire::TimestampParse::kOk) {
        errors.add(m.node(key), m.child_path(key), fmt::format("'{}' is not an RFC 3339 time", *t));
      } else {
        (std::string_view(key) == "start" ? w.start : w.end) = tp;
      }
    }
  }
  if (w.start && w.end && *w.end <= *w.start)
    errors.add(m.node("end"), m.child_path("end"), "must be after start");
  s.maintenance.push_back(std::move(w));
}

void parse_safety(const YamlMap& top, const fs::path& base, Config& cfg, ConfigErrors& errors) {
  if (!top.has("safety")) return;
  YamlMap m(top.node("safety"), "safety", errors,
            {"paused", "approval_timeout", "four_eyes", "max_pending_approvals", "limits",
             "maintenance", "webhook", "unauthenticated_approvals"});
  if (!m.valid()) return;
  SafetyConfig& s = cfg.safety;
  if (auto p = m.boolean("paused")) s.paused = *p;
  if (auto f = m.boolean("four_eyes")) s.four_eyes = *f;
  if (auto u = m.boolean("unauthenticated_approvals")) s.unauthenticated_approvals = *u;
  if (auto v = m.integer("max_pending_approvals", 1, 1'000'000))
    s.max_pending_approvals = static_cast<std::size_t>(*v);
  if (auto t = m.duration("approval_timeout")) {
    if (*t < std::chrono::seconds(1)) {
      errors.add(m.node("approval_timeout"), m.child_path("approval_timeout"),
                 "must be at least 1s");
    } else {
      s.approval_timeout = std::chrono::duration_cast<std::chrono::seconds>(*t);
    }
  }
  auto each = [&](std::string_view key, auto parse) {
    if (!m.has(key)) return;
    const YAML::Node list = m.node(key);
    if (!list.IsSequence()) return errors.add(list, m.child_path(key), "must be a list");
    for (std::size_t i = 0; i < list.size(); ++i)
      parse(list[i], fmt::format("{}[{}]", m.child_path(key), i), s, errors);
  };
  each("limits", parse_breaker);
  each("maintenance", parse_maintenance);
  if (m.has("webhook")) {
    YamlMap wm(m.node("webhook"), m.child_path("webhook"), errors, {"url", "token"});
    if (!wm.valid()) return;
    s.webhook_url = wm.string("url", true).value_or("");
    if (!s.webhook_url.empty() && parse_webhook_url(s.webhook_url).host.empty())
      errors.add(wm.node("url"), wm.child_path("url"),
                 fmt::format("'{}' is not an http://host[:port][/path] URL", s.webhook_url));
    if (wm.has("token"))
      parse_secret_ref(wm.node("token"), wm.child_path("token"), base, s.webhook_token, errors);
  }
}

// Breakers name rules: checked once the rules are loaded.
void check_breaker_rules(const Config& cfg, ConfigErrors& errors) {
  for (const auto& b : cfg.safety.limits) {
    if (b.rule.empty()) continue;
    const bool known = std::any_of(cfg.rules.rules.begin(), cfg.rules.rules.end(),
                                   [&](const rules::Rule& r) { return r.name == b.rule; });
    if (!known) {
      rules::ConfigError e = b.where;
      e.message = fmt::format("no rule named '{}'", b.rule);
      errors.add(std::move(e));
    }
  }
}

void parse_webhooks(const YamlMap& top, const fs::path& base, Config& cfg, ConfigErrors& errors) {
  if (!top.has("webhooks")) return;
  const YAML::Node node = top.node("webhooks");
  if (!node.IsMap()) {
    errors.add(node, "webhooks", "expected a mapping of receiver name to {url, token}");
    return;
  }
  for (auto it = node.begin(); it != node.end(); ++it) {
    const std::string name = it->first.as<std::string>("");
    const std::string path = fmt::format("webhooks.{}", name);
    YamlMap wm(it->second, path, errors, {"url", "token"});
    if (!wm.valid()) continue;
    WebhookReceiver r;
    r.url = wm.string("url", true).value_or("");
    if (!r.url.empty() && parse_webhook_url(r.url).host.empty()) {
      errors.add(wm.node("url"), wm.child_path("url"),
                 fmt::format("'{}' is not an http://host[:port][/path] URL", r.url));
    }
    if (wm.has("token"))
      parse_secret_ref(wm.node("token"), wm.child_path("token"), base, r.token, errors);
    cfg.webhooks.emplace(name, std::move(r));
  }
}

// Every SSH action runs under some allow list: the global ssh.policy's (a
// ceiling over every action) or its own. A config with none would allow any
// command a template can render, so it does not load.
void check_allow_lists(const Config& cfg, ConfigErrors& errors) {
  if (cfg.policy.has_allow_list()) return;
  auto report = [&](rules::ConfigError e) {
    e.path += ".policy.allow";
    e.message =
        "no command allow list: set ssh.policy.allow in the daemon config (a ceiling for every "
        "action) or policy.allow on this action";
    errors.add(std::move(e));
  };
  for (const rules::CatalogAction& a : cfg.catalog.actions()) {
    if (!a.policy || !a.policy->has_allow_list()) report(a.where);
  }
  for (const rules::Rule& rule : cfg.rules.rules) {
    for (const rules::Action& action : rule.actions) {
      const auto* ssh = std::get_if<rules::SshAction>(&action.spec);
      if (ssh && (!ssh->policy || !ssh->policy->has_allow_list())) report(ssh->where);
    }
  }
}

// Escalation actions name a receiver or need Kafka: checked once rules are loaded.
void check_escalation_actions(const Config& cfg, ConfigErrors& errors) {
  for (const rules::Rule& rule : cfg.rules.rules) {
    for (std::size_t i = 0; i < rule.actions.size(); ++i) {
      const auto& spec = rule.actions[i].spec;
      if (const auto* w = std::get_if<rules::WebhookAction>(&spec)) {
        if (!cfg.webhooks.contains(w->receiver)) {
          rules::ConfigError e = w->where;
          e.message = fmt::format("no webhook receiver named '{}' (define it under webhooks:)",
                                  w->receiver);
          errors.add(std::move(e));
        }
      } else if (std::holds_alternative<rules::KafkaAction>(spec) && !cfg.kafka.enabled) {
        errors.add_unlocated(fmt::format("{}: rule {}: actions[{}].kafka", rule.file, rule.name, i),
                             "needs a kafka section in the daemon config");
      }
    }
  }
}

// Rules reach catalog actions by name: checked once both are loaded.
void check_run_actions(const Config& cfg, ConfigErrors& errors) {
  for (const rules::Rule& rule : cfg.rules.rules) {
    for (const rules::Action& action : rule.actions) {
      const auto* run = std::get_if<rules::RunAction>(&action.spec);
      if (!run) continue;
      auto report = [&](std::string path, std::string message) {
        rules::ConfigError e = run->where;
        e.path = std::move(path);
        e.message = std::move(message);
        errors.add(std::move(e));
      };
      const rules::CatalogAction* ca = cfg.catalog.find(run->action);
      if (!ca) {
        report(run->where.path + ".action",
               fmt::format("unknown action '{}' (not in the action catalog)", run->action));
        continue;
      }
      for (const auto& [name, t] : run->params) {
        if (!ca->param(name)) {
          report(fmt::format("{}.params.{}", run->where.path, name),
                 fmt::format("action '{}' has no parameter '{}'", ca->name, name));
        }
      }
      for (const rules::ParamSpec& p : ca->params) {
        if (p.required && !p.default_value && !run->params.contains(p.name)) {
          report(run->where.path + ".params",
                 fmt::format("missing required parameter '{}' of action '{}'", p.name, ca->name));
        }
      }
    }
  }
}

}  // namespace

std::unique_ptr<Config> load_config(const std::string& path, ConfigErrors& errors,
                                    std::shared_ptr<rules::Interner> interner) {
  auto cfg = std::make_unique<Config>();
  cfg->path = path;
  cfg->interner = interner ? std::move(interner) : std::make_shared<rules::Interner>();
  ConfigErrors local(path);
  auto root = rules::load_yaml_file(path, local);
  if (!root) {
    errors.append(local);
    return nullptr;
  }
  const fs::path base = fs::absolute(path).parent_path();
  YamlMap top(*root, "", local,
              {"server", "log", "audit", "engine", "ssh", "devices", "rules", "catalog", "kafka",
               "state", "safety", "webhooks"});
  if (top.valid()) {
    parse_server(top, base, *cfg, local);
    if (top.has("log")) {
      YamlMap lm(top.node("log"), "log", local, {"level"});
      if (auto lvl = lm.string("level")) {
        if (*lvl == "debug")
          cfg->log_level = LogLevel::kDebug;
        else if (*lvl == "info")
          cfg->log_level = LogLevel::kInfo;
        else if (*lvl == "warn")
          cfg->log_level = LogLevel::kWarn;
        else if (*lvl == "error")
          cfg->log_level = LogLevel::kError;
        else
          local.add(lm.node("level"), "log.level",
                    fmt::format("unknown level '{}' (expected debug, info, warn or error)", *lvl));
      }
    }
    if (top.has("audit")) {
      YamlMap am(top.node("audit"), "audit", local, {"path"});
      if (auto p = am.string("path", true)) cfg->audit_path = resolve(base, *p);
    }
    parse_engine(top, *cfg, local);
    parse_ssh(top, base, *cfg, local);
    parse_devices(top, base, *cfg, local);
    for (const auto& f : top.string_list("rules")) cfg->rules_files.push_back(resolve(base, f));
    for (const auto& f : top.string_list("catalog")) cfg->catalog_files.push_back(resolve(base, f));
    parse_kafka(top, base, *cfg, local);
    parse_safety(top, base, *cfg, local);
    parse_webhooks(top, base, *cfg, local);
    if (top.has("state")) {
      YamlMap sm(top.node("state"), "state", local, {"path", "retention"});
      if (auto p = sm.string("path", true)) cfg->state.path = resolve(base, *p);
      if (auto r = sm.duration("retention")) {
        // Shorter than a redelivery can take, and a finished intent could run again.
        if (*r < std::chrono::minutes(1)) {
          local.add(sm.node("retention"), sm.child_path("retention"), "must be at least 1m");
        } else {
          cfg->state.retention = std::chrono::duration_cast<std::chrono::seconds>(*r);
        }
      }
    }
    if (cfg->kafka.enabled && cfg->state.path.empty()) {
      local.add(*root, "state.path", "required when kafka is configured (at-most-once execution)");
    }
    if (cfg->audit_path.empty()) local.add(*root, "audit.path", "missing required field");
  }
  for (auto& dev : cfg->devices) {
    if (dev.ssh.known_hosts_file.empty()) dev.ssh.known_hosts_file = cfg->ssh.known_hosts;
    if (dev.ssh.verify_host_key && dev.ssh.known_hosts_file.empty()) {
      local.add_unlocated(fmt::format("devices[{}]", &dev - cfg->devices.data()),
                          "no known_hosts file (set ssh.known_hosts or the device's known_hosts)");
    }
  }
  errors.append(local);
  for (const auto& f : cfg->catalog_files) rules::load_catalog_file(f, cfg->catalog, errors);
  for (const auto& f : cfg->rules_files)
    rules::load_rules_file(f, *cfg->interner, cfg->rules, errors);
  check_run_actions(*cfg, errors);
  check_allow_lists(*cfg, errors);
  check_breaker_rules(*cfg, errors);
  check_escalation_actions(*cfg, errors);
  if (!errors.empty()) return nullptr;
  return cfg;
}

std::vector<rules::LintWarning> config_warnings(const Config& cfg) {
  std::vector<rules::LintWarning> out;
  boost::system::error_code ec;
  const auto address = boost::asio::ip::make_address(cfg.server.address, ec);
  const bool loopback = ec ? cfg.server.address == "localhost" : address.is_loopback();
  const bool authenticated = cfg.server.auth.enabled() || !cfg.server.tls.client_ca_file.empty();
  if (!loopback && !authenticated) {
    out.push_back({cfg.path, 0, "", "server.listen",
                   fmt::format("'{}' is reachable beyond this host and server.auth has no tokens "
                               "(nor server.tls a client CA): anyone who reaches it can post "
                               "alerts, approve actions and resume automation",
                               cfg.server.address)});
  }
  if (cfg.safety.unauthenticated_approvals) {
    out.push_back({cfg.path, 0, "", "safety.unauthenticated_approvals",
                   "approvals are accepted from whoever names themselves in the request (HTTP "
                   "without a token, the Kafka approvals topic): four-eyes compares names that "
                   "nobody verified"});
  }
  return out;
}

}  // namespace aiopsd::daemon
