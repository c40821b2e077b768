#include "daemon/http/server.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <array>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <mutex>
#include <optional>
#include <set>
#include <type_traits>

#include "daemon/http/auth.hpp"
#include "daemon/log.hpp"

namespace aiopsd::daemon {

namespace beast = boost::beast;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

HttpResponse json_response(http::status status, std::string body, unsigned version,
                           bool keep_alive) {
  HttpResponse res{status, version};
  res.set(http::field::server, "aiopsd");
  res.set(http::field::content_type, "application/json");
  res.keep_alive(keep_alive);
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

HttpResponse HttpHandler::unauthorized(const HttpRequest& header_only, const AuthResult& result) {
  return auth_failure_response(header_only, result);
}

namespace {

std::string_view path_of(std::string_view target) {
  if (auto q = target.find('?'); q != std::string_view::npos) target = target.substr(0, q);
  return target;
}

// What the server needs to close a session of either stream type on stop().
class SessionBase {
 public:
  virtual ~SessionBase() = default;
  virtual void close() = 0;
  // Waiting for a request (or a TLS handshake): nothing in progress to lose.
  bool idle() const { return idle_ && !closed_; }
  bool closed() const { return closed_; }

 protected:
  bool idle_ = true;
  bool closed_ = false;
};

// One connection. `Stream` is beast::tcp_stream (plain) or
// beast::ssl_stream<beast::tcp_stream> (TLS): the request cycle is the same,
// only the handshake and the closing differ.
template <class Stream>
class Session final : public SessionBase, public std::enable_shared_from_this<Session<Stream>> {
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;

 public:
  Session(tcp::socket socket, const HttpServerOptions& options,
          HttpHandler& handler) requires(!kTls)
      : stream_(std::move(socket)), options_(options), handler_(handler) {}
  Session(tcp::socket socket, asio::ssl::context& tls, const HttpServerOptions& options,
          HttpHandler& handler) requires(kTls)
      : stream_(std::move(socket), tls), options_(options), handler_(handler) {}

  void start() {
    if constexpr (kTls) {
      lowest().expires_after(options_.read_timeout);
      stream_.async_handshake(asio::ssl::stream_base::server,
                              [self = this->shared_from_this()](beast::error_code ec) {
                                if (ec) {
                                  // Old TLS versions, no or untrusted client certificates,
                                  // plain HTTP on the TLS port.
                                  log::debug("http", "TLS handshake with {} failed: {}",
                                             self->peer_address(), ec.message());
                                  return self->close();
                                }
                                self->read_header();
                              });
    } else {
      read_header();
    }
  }
  void close() override {
    closed_ = true;
    beast::error_code ec;
    lowest().socket().shutdown(tcp::socket::shutdown_both, ec);
    lowest().close();
  }

 private:
  beast::tcp_stream& lowest() { return beast::get_lowest_layer(stream_); }

  void read_header() {
    parser_.emplace();
    parser_->header_limit(16 * 1024);
    parser_->body_limit(options_.max_body_bytes);
    context_ = RequestContext{};
    context_.tls = kTls;
    idle_ = true;
    lowest().expires_after(options_.idle_timeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                              self->on_header(ec);
                            });
  }

  void on_header(beast::error_code ec) {
    // A Content-Length over the limit is caught when the header is complete,
    // before any body arrives; authentication still comes first.
    const bool over_limit = ec == http::error::body_limit;
    if (ec && !over_limit) return fail(ec);
    idle_ = false;
    // Authentication sees the header only: an unauthenticated request gets
    // neither "100 Continue" nor a read of its body.
    if (options_.auth) {
      const AuthResult result = options_.auth->check(parser_->get());
      if (!result.allowed()) return reject(result);
      context_.principal = result.principal;
    }
    if (over_limit) return too_large();
    lowest().expires_after(options_.read_timeout);
    // curl sends "Expect: 100-continue" for bodies over 1 KiB and waits for it.
    if (beast::iequals(parser_->get()[http::field::expect], "100-continue")) {
      continue_.emplace(http::status::continue_, parser_->get().version());
      return http::async_write(stream_, *continue_,
                               [self = this->shared_from_this()](beast::error_code e, std::size_t) {
                                 self->continue_.reset();
                                 if (e) return self->fail(e);
                                 self->read_body();
                               });
    }
    read_body();
  }

  void read_body() {
    http::async_read(
        stream_, buffer_, *parser_,
        [self = this->shared_from_this()](beast::error_code e, std::size_t) { self->on_read(e); });
  }

  void on_read(beast::error_code ec) {
    if (ec == http::error::body_limit) return too_large();
    if (ec) return fail(ec);
    HttpRequest req = parser_->release();
    HttpResponse res = handler_.handle(req, context_);
    res.keep_alive(req.keep_alive() && res.keep_alive());
    write(std::move(res));
  }

  void too_large() {
    HttpRequest header_only{parser_->get().base()};
    auto res = handler_.body_too_large(header_only, options_.max_body_bytes);
    res.keep_alive(false);
    write(std::move(res));
  }

  void reject(const AuthResult& result) {
    HttpRequest header_only{parser_->get().base()};
    const std::string peer = peer_address();
    const std::string_view path = path_of(header_only.target());
    // Never the Authorization header: only the outcome, the route, the
    // principal and why the token was refused.
    const auto method = header_only.method_string();
    if (result.outcome == AuthOutcome::kMissing) {
      log::debug("http", "{} {} from {}: no bearer token", method, path, peer);
    } else if (result.outcome == AuthOutcome::kForbidden) {
      log::warn("http", "{} {} from {}: '{}' lacks the {} scope", method, path, peer,
                result.principal, to_string(result.access));
    } else if (result.outcome == AuthOutcome::kUnavailable) {
      log::warn("http", "{} {} from {}: answered 503: {}", method, path, peer, result.reason);
    } else {
      log::warn("http", "{} {} from {}: invalid bearer token{}{}", method, path, peer,
                result.reason.empty() ? "" : ": ", result.reason);
    }
    auto res = handler_.unauthorized(header_only, result);
    res.keep_alive(false);
    write(std::move(res));
  }

  std::string peer_address() {
    beast::error_code ec;
    auto ep = lowest().socket().remote_endpoint(ec);
    if (ec) return "unknown";
    return fmt::format("{}:{}", ep.address().to_string(), ep.port());
  }

  void write(HttpResponse res) {
    response_.emplace(std::move(res));
    lowest().expires_after(options_.read_timeout);
    http::async_write(stream_, *response_,
                      [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                        bool keep = self->response_->keep_alive();
                        self->response_.reset();
                        if (ec) return self->fail(ec);
                        if (!keep) return self->linger_close();
                        self->read_header();
                      });
  }

  // Ends the connection after an answer with Connection: close, so that a
  // client still sending (an oversize or unauthenticated body) reads our
  // answer instead of a reset. Bounded in time; what arrives is discarded,
  // never parsed.
  void linger_close() {
    lowest().expires_after(std::chrono::seconds(2));
    if constexpr (kTls) {
      // close_notify, then OpenSSL discards records until the peer's.
      stream_.async_shutdown(
          [self = this->shared_from_this()](beast::error_code) { self->close(); });
    } else {
      beast::error_code ec;
      lowest().socket().shutdown(tcp::socket::shutdown_send, ec);
      drain();
    }
  }

  void drain() {
    lowest().async_read_some(asio::buffer(discard_),
                             [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                               if (ec) return self->close();
                               self->drain();
                             });
  }

  void fail(beast::error_code ec) {
    if (ec != http::error::end_of_stream && ec != asio::error::operation_aborted &&
        ec != beast::error::timeout && ec != asio::error::eof &&
        ec != asio::ssl::error::stream_truncated) {
      log::debug("http", "connection closed{}: {}", kTls ? " (TLS)" : "", ec.message());
    }
    close();
  }

  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<HttpResponse> response_;
  std::optional<http::response<http::empty_body>> continue_;
  RequestContext context_;
  std::array<char, 8192> discard_{};
  const HttpServerOptions& options_;
  HttpHandler& handler_;
};

}  // namespace

struct HttpServer::Impl : std::enable_shared_from_this<HttpServer::Impl> {
  asio::io_context& io;
  HttpServerOptions options;
  HttpHandler& handler;
  tcp::acceptor acceptor;
  asio::steady_timer backoff_timer;
  std::chrono::milliseconds backoff{0};
  std::size_t max_connections = 0;  // options.max_connections within the descriptor limit
  std::mutex mu;
  std::vector<std::shared_ptr<SessionBase>> sessions;  // oldest first
  bool stopped = false;
  // Accept failures are logged at most once a second, with how many were not.
  std::chrono::steady_clock::time_point last_accept_log{};
  std::uint64_t unlogged_accept_failures = 0;

  Impl(asio::io_context& i, HttpServerOptions o, HttpHandler& h)
      : io(i), options(std::move(o)), handler(h), acceptor(i), backoff_timer(i) {}

  void event(ConnectionEvent e) {
    if (options.on_connection_event) options.on_connection_event(e);
  }

  // Sessions hold themselves alive through their pending handlers; ours is
  // one more reference. With none pending a session can never run again,
  // closed or not: dropping it here frees it and its socket.
  void prune() {
    std::erase_if(sessions, [](const auto& s) { return s.use_count() == 1; });
  }
  std::size_t open() const {
    return static_cast<std::size_t>(std::count_if(sessions.begin(), sessions.end(),
                                                  [](const auto& s) { return !s->closed(); }));
  }

  // At the limit, the oldest idle connection makes room for the new one: a
  // flood of idle sockets cannot lock out /healthz or an Alertmanager. When
  // every connection is busy with a request, the new one is refused.
  bool make_room() {
    std::lock_guard lock(mu);
    prune();
    if (open() < max_connections) return true;
    for (auto& s : sessions) {
      if (s->idle()) {
        s->close();
        event(ConnectionEvent::kEvictedIdle);
        return true;
      }
    }
    return false;
  }

  template <class S>
  void track(std::shared_ptr<S> s) {
    {
      std::lock_guard lock(mu);
      sessions.push_back(s);
    }
    event(ConnectionEvent::kAccepted);
    s->start();
  }

  void accept() {
    acceptor.async_accept([self = shared_from_this()](beast::error_code ec, tcp::socket socket) {
      if (ec) {
        if (ec == asio::error::operation_aborted || !self->acceptor.is_open()) return;
        return self->accept_failed(ec);
      }
      self->backoff = std::chrono::milliseconds(0);
      if (!self->make_room()) {
        self->event(ConnectionEvent::kRefusedFull);
        beast::error_code ignored;
        socket.close(ignored);
      } else if (self->options.tls) {
        self->track(std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(
            std::move(socket), *self->options.tls, self->options, self->handler));
      } else {
        self->track(std::make_shared<Session<beast::tcp_stream>>(std::move(socket), self->options,
                                                                 self->handler));
      }
      self->accept();
    });
  }

  // Out of descriptors (EMFILE/ENFILE) or memory: accepting again at once
  // would fail again at once, spinning a core and flooding the log. Back off
  // (10 ms doubling to 1 s); the pending connections wait in the backlog.
  void accept_failed(const beast::error_code& ec) {
    event(ConnectionEvent::kAcceptError);
    const auto now = std::chrono::steady_clock::now();
    if (now - last_accept_log >= std::chrono::seconds(1)) {
      log::warn("http", "accept failed: {}{}; retrying in {} ms", ec.message(),
                unlogged_accept_failures
                    ? fmt::format(" ({} more failures not logged)", unlogged_accept_failures)
                    : std::string(),
                std::max<std::int64_t>(backoff.count(), 10));
      last_accept_log = now;
      unlogged_accept_failures = 0;
    } else {
      ++unlogged_accept_failures;
    }
    backoff =
        std::clamp(backoff * 2, std::chrono::milliseconds(10), std::chrono::milliseconds(1000));
    backoff_timer.expires_after(backoff);
    backoff_timer.async_wait([self = shared_from_this()](beast::error_code e) {
      if (e || !self->acceptor.is_open()) return;
      self->accept();
    });
  }
};

namespace {

// Connections may use what the descriptor limit leaves after the reserve the
// rest of the daemon needs (SSH sessions, RocksDB, the audit log, Kafka).
std::size_t connection_limit(const HttpServerOptions& o) {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
    return o.max_connections;
  const std::size_t fds = static_cast<std::size_t>(rl.rlim_cur);
  const std::size_t available = fds > o.fd_reserve + 16 ? fds - o.fd_reserve : 16;
  if (available < o.max_connections) {
    log::warn("http",
              "server.max_connections {} lowered to {}: the descriptor limit is {} and {} are kept "
              "for SSH, the state store, the audit log and Kafka (raise LimitNOFILE)",
              o.max_connections, available, fds, o.fd_reserve);
    return available;
  }
  return o.max_connections;
}

}  // namespace

HttpServer::HttpServer(asio::io_context& io, HttpServerOptions options, HttpHandler& handler)
    : impl_(std::make_shared<Impl>(io, std::move(options), handler)) {}

HttpServer::~HttpServer() = default;

std::uint16_t HttpServer::start() {
  tcp::endpoint ep(asio::ip::make_address(impl_->options.address), impl_->options.port);
  impl_->acceptor.open(ep.protocol());
  impl_->acceptor.set_option(asio::socket_base::reuse_address(true));
  impl_->acceptor.bind(ep);
  impl_->acceptor.listen(asio::socket_base::max_listen_connections);
  impl_->max_connections = connection_limit(impl_->options);
  impl_->accept();
  return impl_->acceptor.local_endpoint().port();
}

void HttpServer::stop() {
  asio::post(impl_->io, [impl = impl_] {
    if (impl->stopped) return;
    impl->stopped = true;
    beast::error_code ec;
    impl->acceptor.close(ec);
    impl->backoff_timer.cancel();
    std::lock_guard lock(impl->mu);
    for (auto& s : impl->sessions) s->close();
    impl->sessions.clear();
  });
}

void HttpServer::set_auth(std::shared_ptr<const HttpAuth> auth) {
  // Sessions read options.auth on this io thread only.
  asio::post(impl_->io, [impl = impl_, auth = std::move(auth)]() mutable {
    impl->options.auth = std::move(auth);
  });
}

}  // namespace aiopsd::daemon
