#include "daemon/http/auth.hpp"

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <boost/asio/ip/address.hpp>
#include <boost/json.hpp>
#include <cctype>
#include <stdexcept>

#include "daemon/http/http_metrics.hpp"
#include "daemon/http/tls.hpp"
#include "daemon/log.hpp"

namespace aiopsd::daemon {

namespace {

// How a route is granted; kOpenIfMetricsPublic follows server.auth.metrics_public.
enum class Grant : std::uint8_t { kOpen, kOpenIfMetricsPublic, kIngest, kRead };

enum class Match : std::uint8_t {
  kExact,    // the path itself
  kSegment,  // the prefix and exactly one more segment: /webhook/{name}
  kSubtree,  // the prefix and one or more segments: /api/v1/...
};

struct RouteRule {
  http::verb method;  // verb::unknown: any method
  std::string_view path;
  Match match;
  Grant grant;
};

// THE route -> scope table. A method and path not listed here needs an admin
// token: new routes are admin routes until someone lists them.
constexpr RouteRule kRouteTable[] = {
    {http::verb::unknown, "/healthz", Match::kExact, Grant::kOpen},
    {http::verb::unknown, "/readyz", Match::kExact, Grant::kOpen},
    {http::verb::get, "/metrics", Match::kExact, Grant::kOpenIfMetricsPublic},
    {http::verb::head, "/metrics", Match::kExact, Grant::kOpenIfMetricsPublic},
    // Alert ingest: Prometheus, the Loki ruler (v2 API, v1 where present),
    // Alertmanager and Grafana webhooks.
    {http::verb::post, "/api/v2/alerts", Match::kExact, Grant::kIngest},
    {http::verb::post, "/api/v1/alerts", Match::kExact, Grant::kIngest},
    {http::verb::post, "/webhook/", Match::kSegment, Grant::kIngest},
    // Reading admin resources (status, silences, approvals...); changing them is admin.
    {http::verb::get, "/api/v1/", Match::kSubtree, Grant::kRead},
    {http::verb::head, "/api/v1/", Match::kSubtree, Grant::kRead},
};

// A prefix rule only applies to a plain path: no empty, "." or ".." segment,
// no percent-escape or backslash, so no spelling of a path reaches a handler
// that a less privileged prefix rule granted.
bool plain_path(std::string_view path) {
  if (path.empty() || path.front() != '/') return false;
  if (path.find_first_of("%\\") != std::string_view::npos) return false;
  std::size_t start = 1;
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view seg = path.substr(start, end - start);
    if (seg.empty() || seg == "." || seg == "..") return false;
    start = end + 1;
  }
  return true;
}

bool matches(const RouteRule& rule, http::verb method, std::string_view path) {
  if (rule.method != http::verb::unknown && rule.method != method) return false;
  if (rule.match == Match::kExact) return path == rule.path;
  if (!path.starts_with(rule.path) || path.size() == rule.path.size()) return false;
  if (!plain_path(path)) return false;
  return rule.match == Match::kSubtree ||
         path.find('/', rule.path.size()) == std::string_view::npos;
}

std::string_view path_of(std::string_view target) {
  if (auto q = target.find('?'); q != std::string_view::npos) target = target.substr(0, q);
  return target;
}

bool blank(char c) { return c == ' ' || c == '\t'; }

}  // namespace

Access route_access(http::verb method, std::string_view target, bool metrics_public) {
  const std::string_view path = path_of(target);
  for (const RouteRule& rule : kRouteTable) {
    if (!matches(rule, method, path)) continue;
    switch (rule.grant) {
      case Grant::kOpen:
        return Access::kOpen;
      case Grant::kOpenIfMetricsPublic:
        return metrics_public ? Access::kOpen : Access::kRead;
      case Grant::kIngest:
        return Access::kIngest;
      case Grant::kRead:
        return Access::kRead;
    }
  }
  return Access::kAdmin;
}

std::string_view to_string(Access access) {
  switch (access) {
    case Access::kOpen:
      return "open";
    case Access::kIngest:
      return "ingest";
    case Access::kRead:
      return "read";
    case Access::kAdmin:
      return "admin";
  }
  return "admin";
}

std::string_view to_string(AuthOutcome outcome) {
  switch (outcome) {
    case AuthOutcome::kAllowed:
      return "allowed";
    case AuthOutcome::kMissing:
      return "missing";
    case AuthOutcome::kInvalid:
      return "invalid";
    case AuthOutcome::kForbidden:
      return "forbidden";
    case AuthOutcome::kUnavailable:
      return "unavailable";
  }
  return "invalid";
}

TokenDigest token_digest(std::string_view token) {
  TokenDigest d{};
  unsigned int len = 0;
  if (EVP_Digest(token.data(), token.size(), d.data(), &len, EVP_sha256(), nullptr) != 1 ||
      len != d.size()) {
    throw std::runtime_error("SHA-256 failed (OpenSSL)");  // a broken libcrypto: not input
  }
  return d;
}

std::string_view bearer_token(std::string_view value) {
  constexpr std::string_view kScheme = "bearer";
  if (value.size() <= kScheme.size() || !blank(value[kScheme.size()])) return {};
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(value[i])) != kScheme[i]) return {};
  }
  value.remove_prefix(kScheme.size());
  while (!value.empty() && blank(value.front())) value.remove_prefix(1);
  while (!value.empty() && blank(value.back())) value.remove_suffix(1);
  return value;
}

HttpAuth::HttpAuth(AuthConfig config, HttpMetrics& metrics, std::shared_ptr<oidc::JwksSource> jwks,
                   Clock now)
    : config_(std::move(config)),
      jwks_(std::move(jwks)),
      now_(now ? std::move(now) : Clock([] {
        return std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::system_clock::now().time_since_epoch())
            .count();
      })),
      missing_(metrics.auth_failures.Add({{"reason", "missing"}})),
      invalid_(metrics.auth_failures.Add({{"reason", "invalid"}})),
      forbidden_(metrics.auth_failures.Add({{"reason", "forbidden"}})),
      unavailable_(metrics.auth_failures.Add({{"reason", "unavailable"}})) {}

Identity HttpAuth::identify(std::string_view presented) const {
  Identity id;
  if (presented.empty()) return id;
  const TokenDigest digest = token_digest(presented);
  // Every configured digest is compared, in constant time, whatever matches.
  const ApiToken* match = nullptr;
  for (const ApiToken& t : config_.tokens) {
    if (CRYPTO_memcmp(t.digest.data(), digest.data(), digest.size()) == 0) match = &t;
  }
  if (match) {
    id.outcome = AuthOutcome::kAllowed;
    id.principal = match->name;
    id.scopes = match->scopes;
    return id;
  }
  if (config_.oidc.enabled() && oidc::looks_like_jwt(presented)) return identify_oidc(presented);
  id.reason = "unknown token";
  return id;
}

Identity HttpAuth::identify_oidc(std::string_view token) const {
  Identity id;
  id.oidc = true;
  const std::shared_ptr<const oidc::KeySet> keys = jwks_ ? jwks_->keys() : nullptr;
  if (!keys) {
    id.outcome = AuthOutcome::kUnavailable;
    id.reason = "the identity provider's keys are not known yet";
    return id;
  }
  const oidc::TokenVerdict v = oidc::verify_access_token(*keys, token, config_.oidc.token, now_());
  if (!v.ok()) {
    // A kid we do not know may be a rotation at the provider.
    if (v.error == oidc::TokenError::kUnknownKey && jwks_) jwks_->refetch_soon();
    id.reason = fmt::format("oidc {}: {}{}", oidc::to_string(*v.error), v.detail,
                            v.kid.empty() ? "" : fmt::format(" (kid {})", v.kid));
    return id;
  }
  id.outcome = AuthOutcome::kAllowed;
  id.principal = v.token.subject;
  id.scopes = config_.oidc.scopes_of(v.token.subject, v.token.groups);
  return id;
}

AuthResult HttpAuth::check(const http::request_header<>& header) const {
  AuthResult r;
  if (!enabled()) return r;
  r.access = route_access(header.method(), header.target(), config_.metrics_public);
  if (r.access == Access::kOpen) return r;
  auto fail = [&](AuthOutcome outcome, prometheus::Counter& counter) {
    r.outcome = outcome;
    counter.Increment();
    return r;
  };
  auto [first, last] = header.equal_range(http::field::authorization);
  if (first == last) return fail(AuthOutcome::kMissing, missing_);
  // Two Authorization fields: which one a proxy or handler would honour is unclear.
  if (std::next(first) != last) return fail(AuthOutcome::kInvalid, invalid_);
  const std::string_view presented = bearer_token(first->value());
  if (presented.empty()) return fail(AuthOutcome::kInvalid, invalid_);
  const Identity id = identify(presented);
  r.reason = id.reason;
  if (id.outcome == AuthOutcome::kUnavailable) return fail(AuthOutcome::kUnavailable, unavailable_);
  if (id.outcome != AuthOutcome::kAllowed) return fail(AuthOutcome::kInvalid, invalid_);
  r.principal = id.principal;
  bool granted = false;
  switch (r.access) {
    case Access::kOpen:
      granted = true;
      break;
    case Access::kIngest:
      granted = id.has(ApiScope::kIngest);
      break;
    case Access::kRead:
      granted = id.has(ApiScope::kRead) || id.has(ApiScope::kAdmin);
      break;
    case Access::kAdmin:
      granted = id.has(ApiScope::kAdmin);
      break;
  }
  if (!granted) return fail(AuthOutcome::kForbidden, forbidden_);
  return r;
}

HttpResponse auth_failure_response(const HttpRequest& header_only, const AuthResult& result) {
  const std::string_view path = path_of(header_only.target());
  http::status status = http::status::unauthorized;
  std::string_view code = "unauthorized";
  std::string message;
  std::string challenge = R"(Bearer realm="aiopsd")";
  switch (result.outcome) {
    case AuthOutcome::kAllowed:
    case AuthOutcome::kMissing:
      message = "a bearer token is required (Authorization: Bearer <token>)";
      break;
    case AuthOutcome::kInvalid:
      message = "invalid bearer token";
      challenge += R"(, error="invalid_token")";
      break;
    case AuthOutcome::kUnavailable:
      status = http::status::service_unavailable;
      code = "unavailable";
      message = "the identity provider's signing keys are not known yet; retry later";
      break;
    case AuthOutcome::kForbidden:
      status = http::status::forbidden;
      code = "forbidden";
      message = fmt::format("{} {} needs a token with the {} scope", header_only.method_string(),
                            path, to_string(result.access));
      challenge +=
          fmt::format(R"(, error="insufficient_scope", scope="{}")", to_string(result.access));
      break;
  }
  boost::json::object err{{"code", code}, {"message", message}};
  auto res = json_response(
      status,
      boost::json::serialize(boost::json::object{{"status", "error"}, {"error", std::move(err)}}),
      header_only.version(), false);
  res.set(http::field::www_authenticate, challenge);
  if (result.outcome == AuthOutcome::kUnavailable) res.set(http::field::retry_after, "5");
  return res;
}

void log_listener_security(const ServerConfig& server) {
  const TlsConfig& tls = server.tls;
  const AuthConfig& auth = server.auth;
  std::string tokens;
  for (const ApiToken& t : auth.tokens) tokens += (tokens.empty() ? "" : ", ") + t.name;
  if (auth.oidc.enabled())
    tokens += fmt::format("{}OIDC access tokens from {}", tokens.empty() ? "" : ", ",
                          auth.oidc.source.issuer);
  log::info("http", "{}; {}",
            tls.enabled()
                ? fmt::format("TLS {}+{}", to_string(tls.min_version),
                              tls.client_ca_file.empty() ? "" : ", client certificates required")
                : std::string("plain HTTP (no server.tls)"),
            auth.enabled() ? fmt::format("bearer tokens: {}; /metrics {}", tokens,
                                         auth.metrics_public ? "open" : "needs a token")
                           : std::string("no authentication (no server.auth)"));
  boost::system::error_code ec;
  const auto address = boost::asio::ip::make_address(server.address, ec);
  if (auth.enabled() && !tls.enabled() && (ec || !address.is_loopback())) {
    log::warn("http", "bearer tokens are sent in clear text: listening on {} without server.tls",
              server.address);
  }
}

}  // namespace aiopsd::daemon
