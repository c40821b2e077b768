#pragma once
// The HTTP routes on the daemon's one listener: Alertmanager v2 API and
// webhook ingest, /metrics, /healthz, /readyz, GET /api/v1/status. Which
// token scope each needs is decided before them, in http_auth.cpp.
//
// Runs on the HTTP io thread; owns that thread's decoder.

#include <atomic>
#include <chrono>
#include <functional>

#include "connectors/alertmanager/alert_decoder.hpp"
#include "daemon/engine/event_queue.hpp"
#include "daemon/http/http_metrics.hpp"
#include "daemon/http/server.hpp"
#include "daemon/metrics.hpp"

namespace aiopsd::daemon {

class AlertRoutes final : public HttpHandler {
 public:
  AlertRoutes(rules::Interner& interner, alertmanager::DecodeLimits limits, EventQueue& queue,
              Metrics& metrics, HttpMetrics& http_metrics, std::function<bool()> ready);

  HttpResponse handle(HttpRequest& request, const RequestContext& context) override;
  HttpResponse body_too_large(const HttpRequest& header_only, std::uint64_t limit) override;
  HttpResponse unauthorized(const HttpRequest& header_only, const AuthResult& result) override;

 private:
  enum class Kind { kV2, kWebhook };
  HttpResponse ingest(HttpRequest& request, Kind kind);
  HttpResponse status(const HttpRequest& request, const RequestContext& context);
  void count(std::string_view route, unsigned status);

  rules::Interner& interner_;
  alertmanager::AlertDecoder decoder_;
  EventQueue& queue_;
  Metrics& metrics_;
  HttpMetrics& http_metrics_;
  std::function<bool()> ready_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::vector<rules::Event> batch_;
  prometheus::Counter& received_v2_;
  prometheus::Counter& received_webhook_;
};

}  // namespace aiopsd::daemon
