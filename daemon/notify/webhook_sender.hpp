#pragma once
// Posts JSON records (escalations) to an HTTP endpoint a ChatOps bot or a
// ticketing system listens on, from its own thread so no caller waits on a
// slow receiver. Each record is retried with backoff (1s, 2s, 4s) on a
// connection error or a non-2xx answer, then dropped and counted; the queue
// is bounded (oldest dropped first, counted). Plain HTTP; put a TLS proxy in
// front for https receivers. The bearer token is never logged.

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

#include "daemon/notify/notify_metrics.hpp"

namespace aiopsd::daemon {

struct WebhookTarget {
  std::string host;
  std::string port = "80";
  std::string target = "/";
};
// "http://host[:port][/path]"; nullopt-like empty host on a bad URL.
WebhookTarget parse_webhook_url(std::string_view url);

class WebhookSender {
 public:
  WebhookSender(WebhookTarget target, std::string bearer_token, NotifyMetrics& metrics,
                std::size_t max_queue = 10'000);
  ~WebhookSender();  // sends what is queued for at most ~5s, then stops
  WebhookSender(const WebhookSender&) = delete;
  WebhookSender& operator=(const WebhookSender&) = delete;

  void post(std::string json);

 private:
  void run();
  bool send_once(const std::string& body, std::string& error);

  WebhookTarget target_;
  std::string token_;
  NotifyMetrics& metrics_;
  std::size_t max_queue_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace aiopsd::daemon
