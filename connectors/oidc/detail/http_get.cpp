#include "connectors/oidc/detail/http_get.hpp"

#include <fmt/format.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <exception>
#include <optional>

namespace aiopsd::oidc::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

struct Url {
  bool https = false;
  std::string host;
  std::string port;
  std::string target;
};

std::optional<Url> parse_url(std::string_view url) {
  Url u;
  if (url.starts_with("https://")) {
    u.https = true;
    url.remove_prefix(8);
  } else if (url.starts_with("http://")) {
    url.remove_prefix(7);
  } else {
    return std::nullopt;
  }
  const std::size_t slash = url.find('/');
  std::string_view authority = url.substr(0, slash);
  u.target = slash == std::string_view::npos ? "/" : std::string(url.substr(slash));
  if (authority.empty() || authority.find('@') != std::string_view::npos) return std::nullopt;
  const std::size_t colon = authority.rfind(':');
  const bool bracketed = authority.front() == '[';
  if (colon != std::string_view::npos && (!bracketed || colon > authority.find(']'))) {
    u.port = std::string(authority.substr(colon + 1));
    authority = authority.substr(0, colon);
  } else {
    u.port = u.https ? "443" : "80";
  }
  if (bracketed) authority = authority.substr(1, authority.size() - 2);
  u.host = std::string(authority);
  if (u.host.empty() || u.port.empty()) return std::nullopt;
  return u;
}

template <typename Stream>
asio::awaitable<void> exchange(Stream& stream, const Url& url, std::size_t limit,
                               HttpGetResult& out) {
  http::request<http::empty_body> req{http::verb::get, url.target, 11};
  const bool default_port = url.port == (url.https ? "443" : "80");
  req.set(http::field::host, default_port ? url.host : url.host + ":" + url.port);
  req.set(http::field::accept, "application/json");
  req.set(http::field::user_agent, "aiopsd");
  co_await http::async_write(stream, req, asio::use_awaitable);
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(limit);
  co_await http::async_read(stream, buffer, parser, asio::use_awaitable);
  out.status = parser.get().result_int();
  out.body = std::move(parser.get().body());
}

asio::awaitable<void> fetch(const Url& url, const HttpGetOptions& options, HttpGetResult& out) {
  auto executor = co_await asio::this_coro::executor;
  tcp::resolver resolver(executor);
  const auto endpoints = co_await resolver.async_resolve(url.host, url.port, asio::use_awaitable);
  if (!url.https) {
    beast::tcp_stream stream(executor);
    co_await stream.async_connect(endpoints, asio::use_awaitable);
    co_await exchange(stream, url, options.max_body_bytes, out);
    co_return;
  }
  asio::ssl::context tls(asio::ssl::context::tls_client);
  tls.set_verify_mode(asio::ssl::verify_peer);
  if (options.ca_file.empty()) {
    tls.set_default_verify_paths();
  } else {
    tls.load_verify_file(options.ca_file);
  }
  beast::ssl_stream<beast::tcp_stream> stream(executor, tls);
  if (!SSL_set_tlsext_host_name(stream.native_handle(), url.host.c_str()))
    throw std::runtime_error("cannot set SNI");
  stream.set_verify_callback(asio::ssl::host_name_verification(url.host));
  co_await beast::get_lowest_layer(stream).async_connect(endpoints, asio::use_awaitable);
  co_await stream.async_handshake(asio::ssl::stream_base::client, asio::use_awaitable);
  co_await exchange(stream, url, options.max_body_bytes, out);
}

}  // namespace

HttpGetResult http_get(const std::string& url, const HttpGetOptions& options) {
  HttpGetResult out;
  const auto parsed = parse_url(url);
  if (!parsed) {
    out.error = "not an http(s)://host[:port]/path URL";
    return out;
  }
  asio::io_context io;
  bool done = false;
  asio::co_spawn(io, fetch(*parsed, options, out), [&](std::exception_ptr e) {
    done = true;
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const boost::system::system_error& se) {
      out.error = se.code() == http::error::body_limit
                      ? fmt::format("answer larger than {} bytes", options.max_body_bytes)
                      : se.code().message();
    } catch (const std::exception& ex) {
      out.error = ex.what();
    }
  });
  io.run_for(options.timeout);
  if (!done) {
    out = HttpGetResult{};
    out.error = fmt::format("no answer within {} ms", options.timeout.count());
  } else if (out.error.empty() && out.status != 200) {
    out.error = fmt::format("HTTP {}", out.status);
  }
  return out;
}

}  // namespace aiopsd::oidc::detail
