#pragma once
// Top-level daemon configuration: parsed from YAML into plain structs and
// validated once at load; every error is reported as file:line:col: path: msg.

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "connectors/common/secret_ref.hpp"
#include "connectors/oidc/jwks_source.hpp"
#include "connectors/ssh/ssh_executor.hpp"
#include "daemon/log.hpp"
#include "rules/action_catalog.hpp"
#include "rules/command_policy.hpp"
#include "rules/config_error.hpp"
#include "rules/engine.hpp"
#include "rules/output_filter.hpp"
#include "rules/rule.hpp"
#include "rules/rule_lint.hpp"

namespace aiopsd::daemon {

// Scopes of an API token, a bit set (server.auth.tokens[].scopes). `admin`
// implies `read`; nothing implies `ingest`.
enum class ApiScope : std::uint8_t { kIngest = 1, kAdmin = 2, kRead = 4 };

// SHA-256 of a token: the only form in which a token is kept after load.
using TokenDigest = std::array<unsigned char, 32>;

struct ApiToken {
  std::string name;         // in logs, audit and approval records; never the value
  std::uint8_t scopes = 0;  // ApiScope bits
  TokenDigest digest{};
  bool has(ApiScope s) const { return (scopes & static_cast<std::uint8_t>(s)) != 0; }
  secrets::SecretRef ref;  // where it was read from (at load)
};

// server.auth.oidc: access tokens (JWT) from the organisation's identity
// provider, verified against its JWKS.
struct OidcConfig {
  oidc::TokenRequirements token;
  oidc::JwksSourceOptions source;
  // Who holds each scope: a group of the groups claim, or "sub:SUBJECT".
  std::vector<std::string> ingest, read, admin;
  bool enabled() const { return !source.issuer.empty(); }
  std::uint8_t scopes_of(std::string_view subject, const std::vector<std::string>& groups) const;
};

// server.auth: bearer tokens, by reference only, and OIDC. Neither: no
// authentication.
struct AuthConfig {
  std::vector<ApiToken> tokens;
  OidcConfig oidc;
  bool metrics_public = true;  // GET /metrics without a token
  bool enabled() const { return !tokens.empty() || oidc.enabled(); }
};

enum class TlsVersion : std::uint8_t { k1_2, k1_3 };

// server.tls: no cert_file, no TLS.
struct TlsConfig {
  std::string cert_file;       // PEM certificate chain, leaf first
  std::string key_file;        // PEM private key, unencrypted
  std::string client_ca_file;  // set: client certificates required and verified (mTLS)
  TlsVersion min_version = TlsVersion::k1_2;
  bool enabled() const { return !cert_file.empty(); }
};

struct ServerConfig {
  std::string address = "127.0.0.1";
  std::uint16_t port = 9095;
  std::uint64_t max_body_bytes = 4 * 1024 * 1024;
  std::chrono::milliseconds read_timeout{30'000};
  std::chrono::milliseconds idle_timeout{75'000};
  // At the limit the oldest idle connection is closed for a new one; lowered
  // at start to what the descriptor limit leaves (see HttpServerOptions).
  std::size_t max_connections = 1024;
  AuthConfig auth;
  TlsConfig tls;
};

struct EngineConfig {
  std::size_t queue_capacity = 65'536;
  std::size_t max_labels = 64;
  // Interned label text kept at most (names and values from senders are
  // never freed until restart); beyond it alerts bringing new text are
  // refused with 503 (label_budget_exhausted) and retried by their sender.
  std::size_t max_label_bytes = 256u << 20;
  bool dry_run = false;     // global: every action does everything but open the session
  std::size_t workers = 0;  // engine worker threads; 0: one per core
  rules::EngineOptions limits;
};

struct SshConfig {
  std::size_t max_sessions = 64;
  std::size_t max_queued = 10'000;  // jobs waiting for a session; beyond it refused (queue_full)
  std::size_t max_idle_sessions = 256;  // warm pool size; limits.idle_timeout how long
  ssh::Limits limits;
  std::string known_hosts;  // default for devices that do not set their own
  std::vector<std::string> redact;
};

// A librdkafka property: an inline value, or (for secrets, which are never
// inline) a reference read at start.
struct KafkaProperty {
  std::string value;
  secrets::SecretRef secret;  // set: the value is read from here
};

struct KafkaTopics {
  std::string intents = "aiopsd.intents";
  std::string results = "aiopsd.intent-results";
  std::string dead_letter = "aiopsd.dead-letter";
  std::string alerts = "aiopsd.alerts";            // Alertmanager webhook payloads; "" disables
  std::string approvals = "aiopsd.approvals";      // approval decisions in; "" disables
  std::string escalations = "aiopsd.escalations";  // pending approvals, breakers out; "" disables
};

struct KafkaConfig {
  bool enabled = false;
  bool embedded = false;  // brokers: embedded -> librdkafka's mock cluster in process
  std::string brokers;
  std::string bootstrap_file;  // embedded: where to write the bootstrap address
  int embedded_partitions = 4;
  std::string group_id = "aiopsd";
  KafkaTopics topics;
  std::map<std::string, KafkaProperty> properties;
  std::uint64_t max_message_bytes = 1024 * 1024;
  // An intent whose record is older than this is not run (status expired,
  // code too_old): a consumer group starting from the earliest offset, or
  // one that was down for a day, must not replay yesterday's requests.
  // 0: no limit.
  std::chrono::seconds max_intent_age = std::chrono::hours(1);
};

struct StateConfig {
  std::string path;  // the durable state store's directory (RocksDB)
  std::chrono::seconds retention = std::chrono::hours(24 * 7);  // of finished intents
};

// A blast-radius limit: at most max_actions remediations (or max_devices
// distinct devices) per sliding window, over all rules (scope "global") or
// one rule (scope "rule:NAME").
struct BreakerConfig {
  std::string scope;
  std::string rule;             // empty: every rule
  std::size_t max_actions = 0;  // 0: no limit on count
  std::size_t max_devices = 0;  // 0: no limit on distinct devices
  std::chrono::milliseconds window{600'000};
  bool manual_reset = false;
  rules::ConfigError where;  // for checks made once rules are loaded
};

// Remediations on devices whose labels match are held during the window.
struct MaintenanceWindow {
  std::string name;
  std::map<std::string, std::string> match;
  std::optional<std::chrono::system_clock::time_point> start;
  std::optional<std::chrono::system_clock::time_point> end;
};

struct SafetyConfig {
  bool paused = false;  // the kill switch's state at start
  std::chrono::seconds approval_timeout = std::chrono::minutes(15);
  bool four_eyes = true;  // a requester cannot approve their own request
  // Pending approvals kept at most: a flood of held actions (an open breaker,
  // paused automation) must not grow memory and the store without bound.
  // Beyond it a held action is refused (nothing sent, counted, audited).
  std::size_t max_pending_approvals = 1000;
  // Decisions whose approver no authentication verified: over HTTP without
  // server.auth tokens, and every decision on the Kafka approvals topic
  // (which carries no credentials yet). Refused unless set; a name typed in
  // a request is no identity, so four-eyes means nothing without it.
  bool unauthenticated_approvals = false;
  std::vector<BreakerConfig> limits;
  std::vector<MaintenanceWindow> maintenance;
  std::string webhook_url;           // escalation records are POSTed here too
  secrets::SecretRef webhook_token;  // empty: no Authorization
};

// A named receiver of incident records (a rule's `webhook` action).
struct WebhookReceiver {
  std::string url;
  secrets::SecretRef token;  // empty: no Authorization
};

struct DeviceConfig {
  ssh::Device ssh;
  std::map<std::string, std::string> labels;
};

struct Config {
  std::string path;  // the file it came from
  ServerConfig server;
  LogLevel log_level = LogLevel::kInfo;
  std::string audit_path;
  EngineConfig engine;
  SshConfig ssh;
  std::vector<DeviceConfig> devices;
  std::vector<std::string> rules_files;
  std::vector<std::string> catalog_files;
  KafkaConfig kafka;
  StateConfig state;
  SafetyConfig safety;
  std::map<std::string, WebhookReceiver> webhooks;
  // Compiled at load:
  std::shared_ptr<rules::Interner> interner;
  rules::RuleSet rules;
  rules::ActionCatalog catalog;
  rules::CommandPolicy policy;
  rules::OutputFilter output_filter;

  const DeviceConfig* find_device(std::string_view name_or_host) const;
};

// Loads the config and every rules file it names. Returns nullptr with
// `errors` filled when anything is wrong.
// `interner`: reuse a running daemon's (a reload), so decoded events and the
// new rules agree on symbols.
std::unique_ptr<Config> load_config(const std::string& path, rules::ConfigErrors& errors,
                                    std::shared_ptr<rules::Interner> interner = nullptr);

// Settings that load but that an operator should hear about: the listener
// reachable beyond loopback with no authentication (anyone who can reach it
// can post alerts, approve and resume automation). `aiopsd check` prints
// them; `aiopsd run` logs them at start.
std::vector<rules::LintWarning> config_warnings(const Config& cfg);

}  // namespace aiopsd::daemon
