#pragma once
// Bearer-token authentication of the HTTP listener and its route -> scope
// table. The check runs on the request header alone: the server calls it
// before it sends "100 Continue" or reads a byte of the body.
//
// Lifecycle: App builds one HttpAuth from server.auth and hands it to the
// HttpServer (shared_ptr; a reload may swap in another). It holds token
// digests only, never token values, and is read-only after construction, so
// the HTTP io thread (or any other) may call check(). OIDC tokens are checked
// against the JWKS the App's JwksSource keeps (shared, survives reloads);
// check() never waits on the network.

#include <boost/beast/http.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "connectors/oidc/jwks_source.hpp"
#include "daemon/config.hpp"
#include "daemon/http/server.hpp"

namespace prometheus {
class Counter;
}

namespace aiopsd::daemon {

struct HttpMetrics;

// What a route requires. `read` is met by a read or an admin token; `admin`
// by an admin token; `ingest` by an ingest token only.
enum class Access : std::uint8_t { kOpen, kIngest, kRead, kAdmin };

// The route table (http_auth.cpp): open, ingest and read routes are listed;
// every other method and path, including routes added later, needs admin.
Access route_access(http::verb method, std::string_view target, bool metrics_public);

// kUnavailable: an OIDC token arrived before the provider's keys are known
// (503, retry later); it fails closed, never open.
enum class AuthOutcome : std::uint8_t { kAllowed, kMissing, kInvalid, kForbidden, kUnavailable };

// Who a bearer token says the caller is, once verified.
struct Identity {
  AuthOutcome outcome = AuthOutcome::kInvalid;  // kAllowed: verified
  std::string principal;    // a token's name or the OIDC subject; never the token
  std::uint8_t scopes = 0;  // ApiScope bits
  bool oidc = false;
  std::string reason;  // why not verified, for the log (OIDC: expired, bad_signature...)
  bool has(ApiScope s) const { return (scopes & static_cast<std::uint8_t>(s)) != 0; }
};

struct AuthResult {
  AuthOutcome outcome = AuthOutcome::kAllowed;
  Access access = Access::kOpen;  // what the route required
  std::string principal;          // the verified caller (allowed or forbidden); empty otherwise
  std::string reason;             // why the token was refused, for the log
  bool allowed() const { return outcome == AuthOutcome::kAllowed; }
};

std::string_view to_string(Access access);
// The `reason` label of aiopsd_http_auth_failures_total: missing, invalid,
// forbidden, unavailable.
std::string_view to_string(AuthOutcome outcome);

// SHA-256 of a token; tokens are compared as digests, in constant time.
TokenDigest token_digest(std::string_view token);

class HttpAuth {
 public:
  using Clock = std::function<std::int64_t()>;  // seconds since the epoch
  // Counts failures in `metrics` (aiopsd_http_auth_failures_total{reason}).
  // `jwks` holds the OIDC provider's keys when server.auth.oidc is set.
  HttpAuth(AuthConfig config, HttpMetrics& metrics,
           std::shared_ptr<oidc::JwksSource> jwks = nullptr, Clock now = {});

  bool enabled() const { return config_.enabled(); }
  // Without tokens configured every request is allowed, anonymously.
  AuthResult check(const http::request_header<>& header) const;
  // Verifies a bearer token (without "Bearer "): a configured token, else an
  // OIDC access token. For any caller, HTTP or Kafka.
  Identity identify(std::string_view token) const;

 private:
  Identity identify_oidc(std::string_view token) const;

  AuthConfig config_;
  std::shared_ptr<oidc::JwksSource> jwks_;
  Clock now_;
  prometheus::Counter& missing_;
  prometheus::Counter& invalid_;
  prometheus::Counter& forbidden_;
  prometheus::Counter& unavailable_;
};

// The token of an Authorization value "Bearer <token>" (scheme
// case-insensitive); empty otherwise.
std::string_view bearer_token(std::string_view authorization);

// 401 (missing or invalid token), 403 (valid token, scope lacking) or 503
// (OIDC keys not known yet, with Retry-After), with
// `WWW-Authenticate: Bearer ...` (RFC 6750) and a JSON error body; always
// Connection: close.
HttpResponse auth_failure_response(const HttpRequest& header_only, const AuthResult& result);

// Logs, once at start, how the listener is protected (TLS, client
// certificates, token names); warns when tokens would cross a network in
// clear text (auth without TLS on a non-loopback address).
void log_listener_security(const ServerConfig& server);

}  // namespace aiopsd::daemon
