#include "daemon/http_server.hpp"

#include <array>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <mutex>
#include <optional>
#include <set>

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

namespace {

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, const HttpServerOptions& options, HttpHandler& handler)
      : stream_(std::move(socket)), options_(options), handler_(handler) {}

  void start() { read_header(); }
  void close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.close();
  }

 private:
  void read_header() {
    parser_.emplace();
    parser_->header_limit(16 * 1024);
    parser_->body_limit(options_.max_body_bytes);
    stream_.expires_after(options_.idle_timeout);
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_header(ec); });
  }

  void on_header(beast::error_code ec) {
    // A Content-Length over the limit is caught here, before any body arrives.
    if (ec == http::error::body_limit) return too_large();
    if (ec) return fail(ec);
    stream_.expires_after(options_.read_timeout);
    // curl sends "Expect: 100-continue" for bodies over 1 KiB and waits for it.
    if (beast::iequals(parser_->get()[http::field::expect], "100-continue")) {
      continue_.emplace(http::status::continue_, parser_->get().version());
      return http::async_write(stream_, *continue_,
                               [self = shared_from_this()](beast::error_code e, std::size_t) {
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
        [self = shared_from_this()](beast::error_code e, std::size_t) { self->on_read(e); });
  }

  void on_read(beast::error_code ec) {
    if (ec == http::error::body_limit) return too_large();
    if (ec) return fail(ec);
    HttpRequest req = parser_->release();
    HttpResponse res = handler_.handle(req);
    res.keep_alive(req.keep_alive() && res.keep_alive());
    write(std::move(res));
  }

  void too_large() {
    HttpRequest header_only{parser_->get().base()};
    auto res = handler_.body_too_large(header_only, options_.max_body_bytes);
    res.keep_alive(false);
    write(std::move(res));
  }

  void write(HttpResponse res) {
    response_.emplace(std::move(res));
    stream_.expires_after(options_.read_timeout);
    http::async_write(stream_, *response_,
                      [self = shared_from_this()](beast::error_code ec, std::size_t) {
                        bool keep = self->response_->keep_alive();
                        self->response_.reset();
                        if (ec) return self->fail(ec);
                        if (!keep) return self->linger_close();
                        self->read_header();
                      });
  }

  // Half-closes, then discards what the client is still sending (an oversize
  // body) for a bounded time, so it reads our answer instead of a reset.
  void linger_close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.expires_after(std::chrono::seconds(2));
    drain();
  }

  void drain() {
    stream_.async_read_some(asio::buffer(discard_),
                            [self = shared_from_this()](beast::error_code ec, std::size_t) {
                              if (ec) return self->close();
                              self->drain();
                            });
  }

  void fail(beast::error_code ec) {
    if (ec != http::error::end_of_stream && ec != asio::error::operation_aborted &&
        ec != beast::error::timeout && ec != asio::error::eof) {
      log::debug("http", "connection closed: {}", ec.message());
    }
    close();
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<HttpResponse> response_;
  std::optional<http::response<http::empty_body>> continue_;
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
  std::mutex mu;
  std::vector<std::weak_ptr<Session>> sessions;
  bool stopped = false;

  Impl(asio::io_context& i, HttpServerOptions o, HttpHandler& h)
      : io(i), options(std::move(o)), handler(h), acceptor(i) {}

  void accept() {
    acceptor.async_accept([self = shared_from_this()](beast::error_code ec, tcp::socket socket) {
      if (ec) {
        if (ec == asio::error::operation_aborted || !self->acceptor.is_open()) return;
        log::warn("http", "accept failed: {}", ec.message());
      } else {
        auto s = std::make_shared<Session>(std::move(socket), self->options, self->handler);
        {
          std::lock_guard lock(self->mu);
          std::erase_if(self->sessions, [](const auto& w) { return w.expired(); });
          self->sessions.push_back(s);
        }
        s->start();
      }
      self->accept();
    });
  }
};

HttpServer::HttpServer(asio::io_context& io, HttpServerOptions options, HttpHandler& handler)
    : impl_(std::make_shared<Impl>(io, std::move(options), handler)) {}

HttpServer::~HttpServer() = default;

std::uint16_t HttpServer::start() {
  tcp::endpoint ep(asio::ip::make_address(impl_->options.address), impl_->options.port);
  impl_->acceptor.open(ep.protocol());
  impl_->acceptor.set_option(asio::socket_base::reuse_address(true));
  impl_->acceptor.bind(ep);
  impl_->acceptor.listen(asio::socket_base::max_listen_connections);
  impl_->accept();
  return impl_->acceptor.local_endpoint().port();
}

void HttpServer::stop() {
  asio::post(impl_->io, [impl = impl_] {
    if (impl->stopped) return;
    impl->stopped = true;
    beast::error_code ec;
    impl->acceptor.close(ec);
    std::lock_guard lock(impl->mu);
    for (auto& w : impl->sessions) {
      if (auto s = w.lock()) s->close();
    }
    impl->sessions.clear();
  });
}

}  // namespace aiopsd::daemon
