#pragma once
// HTTP/1.1 server on Boost.Beast: keep-alive, bounded header and body sizes,
// an idle timeout between requests and a read timeout per request; optional
// TLS (one session template serves plain and TLS streams) and bearer-token
// authentication decided on the header, before the body is read.
//
// Lifecycle: owned by App; start() and stop() are called from the App's
// thread; all I/O and handler calls run on the given io_context's thread.

#include <boost/asio/io_context.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace boost::asio::ssl {
class context;
}

namespace aiopsd::daemon {

namespace http = boost::beast::http;
using HttpRequest = http::request<http::string_body>;
using HttpResponse = http::response<http::string_body>;

class HttpAuth;
struct AuthResult;

// What the server knows about a request beyond its text.
struct RequestContext {
  // Who authenticated the request: the token's name (server.auth.tokens[].name)
  // or the OIDC subject, for logs and audit or approval records. Empty when
  // authentication is off or the route is open.
  std::string principal;
  bool tls = false;
};

class HttpHandler {
 public:
  virtual ~HttpHandler() = default;
  virtual HttpResponse handle(HttpRequest& request, const RequestContext& context) = 0;
  // The body exceeded the limit; the connection closes after this answer.
  virtual HttpResponse body_too_large(const HttpRequest& header_only, std::uint64_t limit) = 0;
  // Authentication failed on the header: the body is never read and the
  // connection closes after this answer. Default: auth_failure_response().
  virtual HttpResponse unauthorized(const HttpRequest& header_only, const AuthResult& result);
};

enum class ConnectionEvent {
  kAccepted,     // a connection was taken
  kEvictedIdle,  // an idle connection closed to make room at max_connections
  kRefusedFull,  // at max_connections with every connection busy: the new one closed
  kAcceptError,  // accept() failed (out of descriptors or memory): backing off
};

struct HttpServerOptions {
  std::string address = "127.0.0.1";
  std::uint16_t port = 0;  // 0: pick a free port
  std::uint64_t max_body_bytes = 4 * 1024 * 1024;
  std::chrono::milliseconds read_timeout{30'000};
  std::chrono::milliseconds idle_timeout{75'000};
  std::shared_ptr<const HttpAuth> auth;            // nullptr: no authentication
  std::shared_ptr<boost::asio::ssl::context> tls;  // nullptr: plain HTTP
  // Open connections at most; lowered at start() to what RLIMIT_NOFILE
  // leaves after fd_reserve descriptors for the rest of the daemon.
  std::size_t max_connections = 1024;
  std::size_t fd_reserve = 128;
  std::function<void(ConnectionEvent)> on_connection_event;  // metrics; on the io thread
};

class HttpServer {
 public:
  HttpServer(boost::asio::io_context& io, HttpServerOptions options, HttpHandler& handler);
  ~HttpServer();
  // Binds and starts accepting; returns the bound port. Throws on bind failure.
  std::uint16_t start();
  // Stops accepting and closes idle connections; thread-safe.
  void stop();
  // Replaces the authenticator for requests whose header is read from now on
  // (token rotation on reload); thread-safe.
  void set_auth(std::shared_ptr<const HttpAuth> auth);

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

HttpResponse json_response(http::status status, std::string body, unsigned version,
                           bool keep_alive);

}  // namespace aiopsd::daemon
