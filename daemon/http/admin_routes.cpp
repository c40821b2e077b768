#include "daemon/http/admin_routes.hpp"

#include <fmt/format.h>

#include <boost/json.hpp>

#include "daemon/http/browser_guard.hpp"
#include "rules/event.hpp"

namespace aiopsd::daemon {

namespace json = boost::json;

namespace {

constexpr std::string_view kApprovals = "/api/v1/approvals";
constexpr std::string_view kAutomation = "/api/v1/automation";
constexpr std::string_view kBreakers = "/api/v1/breakers/";
constexpr std::string_view kSilences = "/api/v1/silences";

std::string_view path_of(std::string_view target) {
  if (auto q = target.find('?'); q != std::string_view::npos) return target.substr(0, q);
  return target;
}

std::string_view query_param(std::string_view target, std::string_view name) {
  auto q = target.find('?');
  if (q == std::string_view::npos) return {};
  std::string_view query = target.substr(q + 1);
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    if (pair.starts_with(name) && pair.size() > name.size() && pair[name.size()] == '=')
      return pair.substr(name.size() + 1);
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return {};
}

}  // namespace

AdminRoutes::AdminRoutes(ApprovalBook& approvals, SafetyGate& gate, Silences& silences,
                         HttpMetrics& metrics, HttpHandler& next,
                         std::function<std::string()> reload, bool unauthenticated_approvals)
    : approvals_(approvals),
      gate_(gate),
      silences_(silences),
      metrics_(metrics),
      next_(next),
      reload_(std::move(reload)),
      unauthenticated_approvals_(unauthenticated_approvals) {}

HttpResponse AdminRoutes::body_too_large(const HttpRequest& header_only, std::uint64_t limit) {
  return next_.body_too_large(header_only, limit);
}

HttpResponse AdminRoutes::unauthorized(const HttpRequest& header_only, const AuthResult& result) {
  return next_.unauthorized(header_only, result);
}

HttpResponse AdminRoutes::reply(const HttpRequest& req, http::status status, std::string body) {
  metrics_.requests
      .Add({{"route", "admin"}, {"code", std::to_string(static_cast<unsigned>(status))}})
      .Increment();
  return json_response(status, std::move(body), req.version(), req.keep_alive());
}

HttpResponse AdminRoutes::error(const HttpRequest& req, http::status status, std::string_view code,
                                std::string_view message) {
  return reply(
      req, status,
      json::serialize(json::object{{"status", "error"},
                                   {"error", json::object{{"code", code}, {"message", message}}}}));
}

HttpResponse AdminRoutes::handle(HttpRequest& req, const RequestContext& context) {
  if (auto refused = browser_refusal(req)) {
    return error(req, refused->status, refused->code, refused->message);
  }
  const std::string_view path = path_of(req.target());
  if (path == "/-/reload") {
    if (req.method() != http::verb::post)
      return error(req, http::status::method_not_allowed, "method_not_allowed", "use POST");
    const std::string errors = reload_ ? reload_() : "reload is not available";
    if (!errors.empty()) return error(req, http::status::bad_request, "invalid_config", errors);
    return reply(req, http::status::ok, R"({"status":"success"})");
  }
  if (path == kApprovals || path.starts_with(std::string(kApprovals) + "/"))
    return approvals(req, context, path.substr(kApprovals.size()));
  if (path == kAutomation || path.starts_with(std::string(kAutomation) + "/"))
    return automation(req, path.substr(kAutomation.size()));
  if (path == kSilences || path.starts_with(std::string(kSilences) + "/"))
    return silences(req, path.substr(kSilences.size()));
  if (path.starts_with(kBreakers) && path.ends_with("/reset"))
    return reset_breaker(
        req, path.substr(kBreakers.size(), path.size() - kBreakers.size() - sizeof("/reset") + 1));
  return next_.handle(req, context);
}

HttpResponse AdminRoutes::approvals(HttpRequest& req, const RequestContext& context,
                                    std::string_view rest) {
  if (rest.empty() || rest == "/") {
    if (req.method() != http::verb::get)
      return error(req, http::status::method_not_allowed, "method_not_allowed", "use GET");
    std::optional<Approval::Status> only;
    const std::string_view status = query_param(req.target(), "status");
    for (auto s : {Approval::Status::kPending, Approval::Status::kApproved,
                   Approval::Status::kDenied, Approval::Status::kExpired}) {
      if (status == to_string(s)) only = s;
    }
    if (!status.empty() && !only)
      return error(req, http::status::bad_request, "invalid_status",
                   fmt::format("status: '{}' is not pending, approved, denied or expired", status));
    json::array list;
    for (const auto& a : approvals_.list(only)) list.push_back(json::parse(to_json(a)));
    return reply(req, http::status::ok, json::serialize(json::object{{"approvals", list}}));
  }
  // /{id} or /{id}/approve|deny
  rest.remove_prefix(1);
  const auto slash = rest.find('/');
  const std::string_view id = rest.substr(0, slash);
  if (slash == std::string_view::npos) {
    if (req.method() != http::verb::get)
      return error(req, http::status::method_not_allowed, "method_not_allowed", "use GET");
    auto a = approvals_.find(id);
    if (!a) return error(req, http::status::not_found, "not_found", "no such approval");
    return reply(req, http::status::ok, to_json(*a));
  }
  const std::string_view verb = rest.substr(slash + 1);
  if (verb != "approve" && verb != "deny")
    return error(req, http::status::not_found, "not_found", "expected approve or deny");
  if (req.method() != http::verb::post)
    return error(req, http::status::method_not_allowed, "method_not_allowed", "use POST");
  return decide(req, context, id, verb == "approve");
}

HttpResponse AdminRoutes::decide(HttpRequest& req, const RequestContext& context,
                                 std::string_view id, bool approve) {
  boost::system::error_code ec;
  json::value body = json::parse(req.body(), ec);
  if (ec || !body.is_object())
    return error(req, http::status::bad_request, "invalid_json",
                 "body must be a JSON object {\"approver\": ..., \"comment\": ...}");
  const json::object& o = body.get_object();
  for (const auto& kv : o) {
    if (kv.key() != "approver" && kv.key() != "comment")
      return error(req, http::status::bad_request, "schema_violation",
                   fmt::format("{}: unknown field", std::string_view(kv.key())));
  }
  const json::value* claimed = o.if_contains("approver");
  if (claimed && (!claimed->is_string() || claimed->get_string().empty() ||
                  claimed->get_string().size() > 128))
    return error(req, http::status::bad_request, "schema_violation",
                 "approver: a non-empty string of at most 128 characters");
  const json::value* comment = o.if_contains("comment");
  if (comment && (!comment->is_string() || comment->get_string().size() > 1024))
    return error(req, http::status::bad_request, "schema_violation",
                 "comment: a string of at most 1024 characters");
  ApprovalBook::Approver approver;
  if (!context.principal.empty()) {
    // Who authenticated decides; a body naming someone else is refused, not ignored.
    approver = {context.principal, true};
    if (claimed && claimed->get_string() != context.principal)
      return error(req, http::status::forbidden, "approver_mismatch",
                   fmt::format("approver: '{}' is not who authenticated (token '{}')",
                               std::string_view(claimed->get_string()), context.principal));
  } else if (!unauthenticated_approvals_) {
    return error(req, http::status::forbidden, "unauthenticated_approver",
                 "no authenticated approver: approvals need a token (server.auth.tokens), or "
                 "safety.unauthenticated_approvals: true to trust the name in the body");
  } else if (!claimed) {
    return error(req, http::status::bad_request, "schema_violation",
                 "approver: required without authentication");
  } else {
    approver = {std::string(claimed->get_string()), false};
  }
  auto d = approvals_.decide(id, approve, approver,
                             comment ? std::string_view(comment->get_string()) : "");
  if (d.refusal) {
    switch (*d.refusal) {
      case ApprovalBook::Refusal::kNotFound:
        return error(req, http::status::not_found, "not_found", "no such approval");
      case ApprovalBook::Refusal::kNotPending:
        return error(req, http::status::conflict, "not_pending",
                     fmt::format("approval {} is {}", id, to_string(d.approval->status)));
      case ApprovalBook::Refusal::kSelfApproval:
        return error(req, http::status::forbidden, "self_approval",
                     "four-eyes: the requester cannot approve their own request");
      case ApprovalBook::Refusal::kNoRequester:
        return error(req, http::status::forbidden, "no_requester",
                     "four-eyes: the request names no requester, so nobody can be shown to be "
                     "someone else; deny it and resubmit with requested_by");
      case ApprovalBook::Refusal::kNotStored:
        return error(req, http::status::service_unavailable, "state_store_error",
                     "the decision could not be stored; nothing changed");
    }
  }
  return reply(req, http::status::ok, to_json(*d.approval));
}

HttpResponse AdminRoutes::automation(HttpRequest& req, std::string_view rest) {
  if (rest == "/pause" || rest == "/resume") {
    if (req.method() != http::verb::post)
      return error(req, http::status::method_not_allowed, "method_not_allowed", "use POST");
    if (!gate_.set_paused(rest == "/pause")) {
      return error(req, http::status::service_unavailable, "state_store_error",
                   "the kill switch changed but could not be stored; it would not survive a "
                   "restart");
    }
  } else if (!rest.empty()) {
    return error(req, http::status::not_found, "not_found", "expected pause or resume");
  } else if (req.method() != http::verb::get) {
    return error(req, http::status::method_not_allowed, "method_not_allowed", "use GET");
  }
  json::array breakers;
  for (const auto& b : gate_.breakers(std::chrono::system_clock::now())) {
    json::object o{{"scope", b.scope},
                   {"open", b.open},
                   {"actions_in_window", b.actions},
                   {"devices_in_window", b.devices}};
    if (b.open) o["opened_at"] = rules::format_rfc3339(b.opened_at);
    breakers.push_back(std::move(o));
  }
  return reply(req, http::status::ok,
               json::serialize(json::object{{"paused", gate_.paused()},
                                            {"pending_approvals", approvals_.pending()},
                                            {"breakers", std::move(breakers)}}));
}

HttpResponse AdminRoutes::silences(HttpRequest& req, std::string_view rest) {
  const auto now = std::chrono::system_clock::now();
  if (rest.empty() || rest == "/") {
    if (req.method() == http::verb::get) {
      std::string body = "[";
      for (const auto& s : silences_.list()) {
        if (body.size() > 1) body += ',';
        body += to_json(s, now);
      }
      return reply(req, http::status::ok, body + "]");
    }
    if (req.method() != http::verb::post)
      return error(req, http::status::method_not_allowed, "method_not_allowed", "use GET or POST");
    auto parsed = silences_.parse(req.body(), now);
    if (auto* why = std::get_if<std::string>(&parsed))
      return error(req, http::status::bad_request, "invalid_silence", *why);
    auto added = silences_.add(std::move(std::get<Silence>(parsed)), now);
    if (!added)
      return error(req, http::status::service_unavailable, "state_store_error",
                   "the silence could not be stored");
    silences_.housekeeping(now);
    return reply(req, http::status::ok, json::serialize(json::object{{"silenceID", added->id}}));
  }
  const std::string_view id = rest.substr(1);
  if (req.method() == http::verb::get) {
    auto s = silences_.find(id);
    if (!s) return error(req, http::status::not_found, "not_found", "no such silence");
    return reply(req, http::status::ok, to_json(*s, now));
  }
  if (req.method() != http::verb::delete_)
    return error(req, http::status::method_not_allowed, "method_not_allowed", "use GET or DELETE");
  if (!silences_.expire(id, now))
    return error(req, http::status::not_found, "not_found", "no such active or pending silence");
  silences_.housekeeping(now);
  return reply(req, http::status::ok, R"({"status":"expired"})");
}

HttpResponse AdminRoutes::reset_breaker(HttpRequest& req, std::string_view scope) {
  if (req.method() != http::verb::post)
    return error(req, http::status::method_not_allowed, "method_not_allowed", "use POST");
  switch (gate_.reset(scope)) {
    case SafetyGate::ResetResult::kUnknownScope:
      return error(req, http::status::not_found, "not_found",
                   fmt::format("no breaker with scope '{}'", scope));
    case SafetyGate::ResetResult::kNotDurable:
      return error(req, http::status::service_unavailable, "state_store_error",
                   "the breaker was reset but the reset could not be stored");
    case SafetyGate::ResetResult::kReset:
      break;
  }
  return reply(req, http::status::ok, R"({"status":"reset"})");
}

}  // namespace aiopsd::daemon
