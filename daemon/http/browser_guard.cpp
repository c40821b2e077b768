#include "daemon/http/browser_guard.hpp"

#include <fmt/format.h>

#include <boost/beast/core/string.hpp>

namespace aiopsd::daemon {

namespace {

bool changes_state(http::verb v) {
  return v != http::verb::get && v != http::verb::head && v != http::verb::options;
}

// "application/json", "application/json; charset=utf-8", "application/x+json".
bool is_json(std::string_view content_type) {
  const std::string_view media = content_type.substr(0, content_type.find(';'));
  const auto trimmed = [](std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
  };
  const std::string_view m = trimmed(media);
  if (boost::beast::iequals(m, "application/json")) return true;
  return m.size() > 17 && boost::beast::iequals(m.substr(0, 12), "application/") &&
         boost::beast::iequals(m.substr(m.size() - 5), "+json");
}

// "http://127.0.0.1:9095" -> "127.0.0.1:9095"; the default port is implied.
std::string authority_of(std::string_view origin) {
  const auto scheme = origin.find("://");
  if (scheme == std::string_view::npos) return {};
  std::string_view rest = origin.substr(scheme + 3);
  rest = rest.substr(0, rest.find('/'));
  return std::string(rest);
}

bool same_host(std::string_view origin, std::string_view host) {
  const std::string authority = authority_of(origin);
  if (authority.empty()) return false;  // "null" (sandboxed, file://) and garbage
  if (boost::beast::iequals(authority, host)) return true;
  // An Origin without a port against a Host with the scheme's default port.
  const bool https = origin.starts_with("https://");
  return boost::beast::iequals(fmt::format("{}:{}", authority, https ? 443 : 80), host);
}

}  // namespace

std::optional<BrowserRefusal> browser_refusal(const HttpRequest& req) {
  if (!changes_state(req.method())) return std::nullopt;
  const std::string_view site = req[http::field::sec_fetch_site];
  if (boost::beast::iequals(site, "cross-site") || boost::beast::iequals(site, "same-site")) {
    return BrowserRefusal{
        http::status::forbidden, "cross_origin",
        fmt::format("Sec-Fetch-Site: {}: requests from web pages are refused", site)};
  }
  const auto origin = req.find(http::field::origin);
  if (origin != req.end() && !same_host(origin->value(), req[http::field::host])) {
    return BrowserRefusal{
        http::status::forbidden, "cross_origin",
        fmt::format("Origin '{}' is not this server: requests from web pages are refused",
                    origin->value().substr(0, 200))};
  }
  const bool has_body = !req.body().empty() || req.chunked();
  if (has_body && !is_json(req[http::field::content_type])) {
    return BrowserRefusal{http::status::unsupported_media_type, "unsupported_media_type",
                          fmt::format("Content-Type '{}': the API takes application/json",
                                      req[http::field::content_type].substr(0, 200))};
  }
  return std::nullopt;
}

}  // namespace aiopsd::daemon
