#pragma once
// Operator routes: under /api/v1/, approvals (list, show, approve, deny), the
// automation kill switch (pause, resume, status), breaker resets and silences
// (create, list, show, expire); and
// POST /-/reload (as Prometheus and Alertmanager have it). Any other path
// goes to the next handler (the alert routes).
//
// Runs on the HTTP io thread.

#include <functional>
#include <string>

#include "daemon/engine/silences.hpp"
#include "daemon/http/http_metrics.hpp"
#include "daemon/http/server.hpp"
#include "daemon/safety/approvals.hpp"
#include "daemon/safety/safety_gate.hpp"

namespace aiopsd::daemon {

class AdminRoutes final : public HttpHandler {
 public:
  // `reload` re-reads the config and returns its errors (empty: accepted).
  AdminRoutes(ApprovalBook& approvals, SafetyGate& gate, Silences& silences, HttpMetrics& metrics,
              HttpHandler& next, std::function<std::string()> reload,
              bool unauthenticated_approvals = false);

  HttpResponse handle(HttpRequest& request, const RequestContext& context) override;
  HttpResponse body_too_large(const HttpRequest& header_only, std::uint64_t limit) override;
  HttpResponse unauthorized(const HttpRequest& header_only, const AuthResult& result) override;

 private:
  HttpResponse approvals(HttpRequest& request, const RequestContext& context,
                         std::string_view rest);
  HttpResponse decide(HttpRequest& request, const RequestContext& context, std::string_view id,
                      bool approve);
  HttpResponse automation(HttpRequest& request, std::string_view rest);
  HttpResponse reset_breaker(HttpRequest& request, std::string_view scope);
  HttpResponse silences(HttpRequest& request, std::string_view rest);
  HttpResponse reply(const HttpRequest& request, http::status status, std::string body);
  HttpResponse error(const HttpRequest& request, http::status status, std::string_view code,
                     std::string_view message);

  ApprovalBook& approvals_;
  SafetyGate& gate_;
  Silences& silences_;
  HttpMetrics& metrics_;
  HttpHandler& next_;
  std::function<std::string()> reload_;
  bool unauthenticated_approvals_;  // safety.unauthenticated_approvals, at start
};

}  // namespace aiopsd::daemon
