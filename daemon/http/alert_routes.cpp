#include "daemon/http/alert_routes.hpp"

#include <algorithm>

#include <boost/json.hpp>

#include "daemon/http/auth.hpp"
#include "daemon/log.hpp"
#include "daemon/version.hpp"

namespace aiopsd::daemon {

namespace {
constexpr std::string_view kV2Connector = "alertmanager_v2";
constexpr std::string_view kWebhookConnector = "alertmanager_webhook";

std::string error_body(std::string_view code, std::string_view message) {
  boost::json::object err{{"code", code}, {"message", message}};
  return boost::json::serialize(
      boost::json::object{{"status", "error"}, {"error", std::move(err)}});
}

std::string_view connector_of(std::string_view target) {
  if (target.starts_with("/webhook/")) return kWebhookConnector;
  return kV2Connector;
}

// Route label for metrics: known paths only, so clients cannot mint series.
std::string_view route_of(std::string_view target) {
  if (auto q = target.find('?'); q != std::string_view::npos) target = target.substr(0, q);
  for (std::string_view known : {"/api/v2/alerts", "/webhook/alertmanager", "/metrics", "/healthz",
                                 "/readyz", "/api/v1/status"}) {
    if (target == known) return known;
  }
  return "other";
}
}  // namespace

AlertRoutes::AlertRoutes(rules::Interner& interner, alertmanager::DecodeLimits limits,
                         EventQueue& queue, Metrics& metrics, HttpMetrics& http_metrics,
                         std::function<bool()> ready)
    : interner_(interner),
      decoder_(interner, limits),
      queue_(queue),
      metrics_(metrics),
      http_metrics_(http_metrics),
      ready_(std::move(ready)),
      received_v2_(metrics.events_received.Add({{"connector", std::string(kV2Connector)}})),
      received_webhook_(
          metrics.events_received.Add({{"connector", std::string(kWebhookConnector)}})) {}

void AlertRoutes::count(std::string_view route, unsigned status) {
  http_metrics_.requests.Add({{"route", std::string(route)}, {"code", std::to_string(status)}})
      .Increment();
}

HttpResponse AlertRoutes::body_too_large(const HttpRequest& header_only, std::uint64_t limit) {
  std::string_view connector = connector_of(header_only.target());
  metrics_.rejected(connector, "body_too_large").Increment();
  count(route_of(header_only.target()), 413);
  log::warn("http", "{} {}: body over the {} byte limit", header_only.method_string(),
            header_only.target(), limit);
  return json_response(http::status::payload_too_large,
                       error_body("body_too_large",
                                  fmt::format("request body exceeds the limit of {} bytes", limit)),
                       header_only.version(), false);
}

HttpResponse AlertRoutes::unauthorized(const HttpRequest& header_only, const AuthResult& result) {
  auto res = HttpHandler::unauthorized(header_only, result);
  count(route_of(header_only.target()), res.result_int());
  return res;
}

HttpResponse AlertRoutes::status(const HttpRequest& req, const RequestContext& context) {
  count("/api/v1/status", 200);
  const auto uptime =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started_);
  boost::json::object body{{"version", kVersion},
                           {"revision", kRevision},
                           {"uptime_seconds", uptime.count()},
                           {"tls", context.tls}};
  // Who is asking, as later records will name them: a token's name or an OIDC
  // subject ("token" is the name it had before OIDC).
  for (const char* key : {"principal", "token"}) {
    if (context.principal.empty()) {
      body[key] = nullptr;
    } else {
      body[key] = context.principal;
    }
  }
  return json_response(http::status::ok, boost::json::serialize(body), req.version(),
                       req.keep_alive());
}

HttpResponse AlertRoutes::handle(HttpRequest& req, const RequestContext& context) {
  std::string_view target = req.target();
  if (auto q = target.find('?'); q != std::string_view::npos) target = target.substr(0, q);
  const bool keep = req.keep_alive();
  auto method_not_allowed = [&] {
    count(route_of(target), 405);
    auto res = json_response(
        http::status::method_not_allowed,
        error_body("method_not_allowed",
                   fmt::format("{} is not allowed on {}", req.method_string(), target)),
        req.version(), keep);
    return res;
  };
  if (target == "/api/v2/alerts" || target == "/webhook/alertmanager") {
    if (req.method() != http::verb::post) return method_not_allowed();
    return ingest(req, target == "/api/v2/alerts" ? Kind::kV2 : Kind::kWebhook);
  }
  if (target == "/metrics") {
    if (req.method() != http::verb::get) return method_not_allowed();
    count(target, 200);
    HttpResponse res{http::status::ok, req.version()};
    res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
    res.keep_alive(keep);
    metrics_.event_queue_depth.Set(static_cast<double>(queue_.size()));
    res.body() = metrics_.serialize();
    res.prepare_payload();
    return res;
  }
  if (target == "/api/v1/status") {
    if (req.method() != http::verb::get && req.method() != http::verb::head)
      return method_not_allowed();
    return status(req, context);
  }
  if (target == "/healthz" || target == "/readyz") {
    if (req.method() != http::verb::get && req.method() != http::verb::head)
      return method_not_allowed();
    bool ok = target == "/healthz" || ready_();
    count(target, ok ? 200 : 503);
    return json_response(ok ? http::status::ok : http::status::service_unavailable,
                         ok ? R"({"status":"ok"})" : R"({"status":"not_ready"})", req.version(),
                         keep);
  }
  count("other", 404);
  return json_response(http::status::not_found,
                       error_body("not_found", fmt::format("no route for {}", target)),
                       req.version(), keep);
}

HttpResponse AlertRoutes::ingest(HttpRequest& req, Kind kind) {
  const std::string_view connector = kind == Kind::kV2 ? kV2Connector : kWebhookConnector;
  const std::string_view route = route_of(req.target());
  batch_.clear();
  auto result = kind == Kind::kV2 ? decoder_.decode_v2_alerts(req.body(), batch_)
                                  : decoder_.decode_webhook(req.body(), batch_);
  for (const auto& e : result.errors) metrics_.rejected(connector, e.code).Increment();
  const std::size_t accepted = batch_.size();
  metrics_.label_bytes.Set(static_cast<double>(interner_.bytes()));
  if (accepted > 0 && !queue_.try_push_batch(batch_)) {
    // Nothing of this batch was queued; the sender retries the whole of it.
    metrics_.rejected(connector, "queue_full").Increment(static_cast<double>(accepted));
    count(route, 503);
    auto res = json_response(http::status::service_unavailable,
                             error_body("queue_full", "event queue is full, retry later"),
                             req.version(), req.keep_alive());
    res.set(http::field::retry_after, "5");
    log::warn("http", "{}: queue full, answered 503 for {} alerts", connector, accepted);
    return res;
  }
  (kind == Kind::kV2 ? received_v2_ : received_webhook_).Increment(static_cast<double>(accepted));
  metrics_.event_queue_depth.Set(static_cast<double>(queue_.size()));
  if (result.errors.empty()) {
    count(route, 200);
    return json_response(http::status::ok, R"({"status":"success"})", req.version(),
                         req.keep_alive());
  }
  boost::json::array errors;
  std::string message;
  for (const auto& e : result.errors) {
    boost::json::object o{{"code", e.code}, {"message", e.message}};
    if (e.index != alertmanager::DecodeError::kBody) o["index"] = e.index;
    errors.push_back(std::move(o));
    if (!message.empty()) message += "; ";
    message += e.message;
  }
  const std::string code =
      result.errors.size() == 1 ? result.errors.front().code : "invalid_alerts";
  boost::json::object err{
      {"code", code}, {"message", message}, {"accepted", accepted}, {"errors", std::move(errors)}};
  if (result.body_rejected()) {
    log::warn("http", "{}: rejected the request body: {}", connector, message);
  } else {
    log::warn("http", "{}: rejected {} of {} alerts: {}", connector, result.errors.size(),
              accepted + result.errors.size(), message);
  }
  // Out of label budget is the daemon's limit, not the sender's error: 503,
  // so Alertmanager and Prometheus retry instead of dropping the batch.
  const bool budget = std::any_of(result.errors.begin(), result.errors.end(),
                                  [](const auto& e) { return e.code == "label_budget_exhausted"; });
  const auto status = budget ? http::status::service_unavailable : http::status::bad_request;
  count(route, budget ? 503 : 400);
  auto res = json_response(
      status,
      boost::json::serialize(boost::json::object{{"status", "error"}, {"error", std::move(err)}}),
      req.version(), req.keep_alive());
  if (budget) res.set(http::field::retry_after, "30");
  return res;
}

}  // namespace aiopsd::daemon
