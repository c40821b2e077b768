#include "daemon/notify/webhook_sender.hpp"

#include <pthread.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include "daemon/log.hpp"

namespace aiopsd::daemon {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

WebhookTarget parse_webhook_url(std::string_view url) {
  constexpr std::string_view kScheme = "http://";
  if (!url.starts_with(kScheme)) return {};
  url.remove_prefix(kScheme.size());
  WebhookTarget t;
  const auto slash = url.find('/');
  std::string_view authority = url.substr(0, slash);
  t.target = slash == std::string_view::npos ? "/" : std::string(url.substr(slash));
  if (const auto colon = authority.rfind(':');
      colon != std::string_view::npos && authority.find(']') == std::string_view::npos) {
    t.port = std::string(authority.substr(colon + 1));
    authority = authority.substr(0, colon);
  }
  if (authority.empty() || t.port.empty() ||
      t.port.find_first_not_of("0123456789") != std::string::npos)
    return {};
  t.host = std::string(authority);
  return t;
}

WebhookSender::WebhookSender(WebhookTarget target, std::string bearer_token, NotifyMetrics& metrics,
                             std::size_t max_queue)
    : target_(std::move(target)),
      token_(std::move(bearer_token)),
      metrics_(metrics),
      max_queue_(max_queue),
      thread_([this] {
        ::pthread_setname_np(::pthread_self(), "aiopsd-webhook");
        run();
      }) {}

WebhookSender::~WebhookSender() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void WebhookSender::post(std::string json) {
  {
    std::lock_guard lock(mu_);
    if (queue_.size() >= max_queue_) {
      queue_.pop_front();
      metrics_.webhook_failures.Add({{"reason", "queue_full"}}).Increment();
    }
    queue_.push_back(std::move(json));
  }
  cv_.notify_one();
}

bool WebhookSender::send_once(const std::string& body, std::string& error) {
  boost::asio::io_context io;
  beast::tcp_stream stream(io);
  beast::error_code ec;
  tcp::resolver resolver(io);
  auto endpoints = resolver.resolve(target_.host, target_.port, ec);
  if (!ec) {
    stream.expires_after(std::chrono::seconds(5));
    stream.connect(endpoints, ec);
  }
  if (ec) {
    error = ec.message();
    return false;
  }
  http::request<http::string_body> req{http::verb::post, target_.target, 11};
  req.set(http::field::host, target_.host);
  req.set(http::field::content_type, "application/json");
  req.set(http::field::user_agent, "aiopsd");
  if (!token_.empty()) req.set(http::field::authorization, "Bearer " + token_);
  req.body() = body;
  req.prepare_payload();
  stream.expires_after(std::chrono::seconds(5));
  http::write(stream, req, ec);
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  if (!ec) http::read(stream, buffer, res, ec);
  stream.socket().shutdown(tcp::socket::shutdown_both, ec);
  if (res.result_int() >= 200 && res.result_int() < 300) return true;
  error = res.result_int() ? fmt::format("HTTP {}", res.result_int()) : ec.message();
  return false;
}

void WebhookSender::run() {
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;
    std::string body = std::move(queue_.front());
    queue_.pop_front();
    const bool last_chance = stopping_;
    lock.unlock();
    std::string error;
    bool ok = send_once(body, error);
    for (int attempt = 1; !ok && attempt <= 3 && !last_chance; ++attempt) {
      std::unique_lock wait(mu_);
      if (cv_.wait_for(wait, std::chrono::seconds(1 << (attempt - 1)),
                       [this] { return stopping_; }))
        break;
      wait.unlock();
      ok = send_once(body, error);
    }
    if (!ok) {
      metrics_.webhook_failures.Add({{"reason", "undelivered"}}).Increment();
      log::warn("escalation", "webhook {}:{}{}: record dropped after retries: {}", target_.host,
                target_.port, target_.target, error);
    }
    lock.lock();
  }
}

}  // namespace aiopsd::daemon
