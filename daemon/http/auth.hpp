#pragma once
// Bearer-token authentication of the HTTP listener and its route -> scope
// table. The check runs on the request header alone: the server calls it
// before it sends "100 Continue" or reads a byte of the body.
//
// Lifecycle: App builds one HttpAuth from server.auth and hands it to the
// HttpServer (shared_ptr; a reload may swap in another). It holds token
// digests only, never token values, and is read-only after construction, so
// the HTTP io thread (or any other) may call check().

#include <boost/beast/http.hpp>
#include <cstdint>
#include <string_view>

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

enum class AuthOutcome : std::uint8_t { kAllowed, kMissing, kInvalid, kForbidden };

struct AuthResult {
  AuthOutcome outcome = AuthOutcome::kAllowed;
  Access access = Access::kOpen;    // what the route required
  const ApiToken* token = nullptr;  // the valid token presented (allowed or forbidden)
  bool allowed() const { return outcome == AuthOutcome::kAllowed; }
};

std::string_view to_string(Access access);
// The `reason` label of aiopsd_http_auth_failures_total: missing, invalid, forbidden.
std::string_view to_string(AuthOutcome outcome);

// SHA-256 of a token; tokens are compared as digests, in constant time.
TokenDigest token_digest(std::string_view token);

class HttpAuth {
 public:
  // Counts failures in `metrics` (aiopsd_http_auth_failures_total{reason}).
  HttpAuth(AuthConfig config, HttpMetrics& metrics);

  bool enabled() const { return config_.enabled(); }
  // Without tokens configured every request is allowed, anonymously.
  AuthResult check(const http::request_header<>& header) const;

 private:
  AuthConfig config_;
  prometheus::Counter& missing_;
  prometheus::Counter& invalid_;
  prometheus::Counter& forbidden_;
};

// 401 (missing or invalid token) or 403 (valid token, scope lacking), with
// `WWW-Authenticate: Bearer ...` (RFC 6750) and a JSON error body; always
// Connection: close.
HttpResponse auth_failure_response(const HttpRequest& header_only, const AuthResult& result);

// Logs, once at start, how the listener is protected (TLS, client
// certificates, token names); warns when tokens would cross a network in
// clear text (auth without TLS on a non-loopback address).
void log_listener_security(const ServerConfig& server);

}  // namespace aiopsd::daemon
