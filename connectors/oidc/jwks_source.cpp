#include "connectors/oidc/jwks_source.hpp"

#include <fmt/format.h>
#include <pthread.h>

#include <algorithm>
#include <boost/json.hpp>

#include "connectors/oidc/detail/http_get.hpp"

namespace aiopsd::oidc {

namespace json = boost::json;

namespace {

std::string discovery_url(std::string issuer) {
  while (!issuer.empty() && issuer.back() == '/') issuer.pop_back();
  return issuer + "/.well-known/openid-configuration";
}

// The JWKS URL the discovery document names, after checking it speaks for our issuer.
std::string jwks_uri_from_discovery(const std::string& body, const std::string& issuer,
                                    std::string& error) {
  boost::system::error_code ec;
  const json::value doc = json::parse(body, ec);
  const json::object* o = !ec ? doc.if_object() : nullptr;
  const json::value* iss = o ? o->if_contains("issuer") : nullptr;
  const json::value* uri = o ? o->if_contains("jwks_uri") : nullptr;
  if (!o) return error = "discovery document is not a JSON object", "";
  if (!iss || !iss->is_string() || iss->get_string() != issuer)
    return error = "discovery document names another issuer", "";
  if (!uri || !uri->is_string() || uri->get_string().empty())
    return error = "discovery document has no jwks_uri", "";
  return std::string(uri->get_string());
}

}  // namespace

JwksSource::JwksSource(JwksSourceOptions options, Observer observer)
    : options_(std::move(options)), observer_(std::move(observer)), jwks_uri_(options_.jwks_uri) {
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "aiopsd-jwks");
    run();
  });
}

JwksSource::~JwksSource() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

std::shared_ptr<const KeySet> JwksSource::keys() const {
  std::lock_guard lock(mu_);
  return keys_;
}

void JwksSource::refetch_soon() {
  {
    std::lock_guard lock(mu_);
    if (refetch_) return;
    refetch_ = true;
  }
  cv_.notify_all();
}

std::size_t JwksSource::fetches() const {
  std::lock_guard lock(mu_);
  return fetches_;
}

JwksFetchReport JwksSource::fetch_once() {
  JwksFetchReport report;
  const detail::HttpGetOptions get{options_.timeout, 1u << 20, options_.ca_file};
  std::string uri;
  {
    std::lock_guard lock(mu_);
    uri = jwks_uri_;
  }
  if (uri.empty()) {
    report.url = discovery_url(options_.issuer);
    const auto discovery = detail::http_get(report.url, get);
    if (!discovery.ok()) return report.error = discovery.error, report;
    uri = jwks_uri_from_discovery(discovery.body, options_.issuer, report.error);
    if (uri.empty()) return report;
  }
  report.url = uri;
  const auto jwks = detail::http_get(uri, get);
  if (!jwks.ok()) return report.error = jwks.error, report;
  auto set =
      std::make_shared<const KeySet>(KeySet::parse(jwks.body, report.error, &report.skipped));
  if (!report.error.empty()) return report;
  if (set->size() == 0) return report.error = "no usable signing key in the JWKS", report;
  report.ok = true;
  report.kids = set->kids();
  std::lock_guard lock(mu_);
  jwks_uri_ = uri;
  keys_ = std::move(set);
  return report;
}

void JwksSource::run() {
  auto retry = options_.first_retry;
  std::unique_lock lock(mu_);
  while (!stopping_) {
    refetch_ = false;
    last_fetch_ = std::chrono::steady_clock::now();
    ++fetches_;
    lock.unlock();
    const JwksFetchReport report = fetch_once();
    if (observer_) observer_(report);
    lock.lock();
    // Without any key every OIDC request fails: retry with backoff. With a
    // good set, refresh on the timer or when a token names an unknown kid.
    const auto wait =
        !keys_ ? retry : std::chrono::duration_cast<std::chrono::milliseconds>(options_.refresh);
    retry = keys_ ? options_.first_retry
                  : std::min<std::chrono::milliseconds>(retry * 2, options_.refresh);
    const auto until = last_fetch_ + wait;
    cv_.wait_until(lock, until, [&] { return stopping_ || (refetch_ && keys_); });
    if (stopping_) break;
    if (refetch_) {
      // Rate limit: one fetch per min_refetch, whatever the unknown kids.
      const auto earliest = last_fetch_ + options_.min_refetch;
      cv_.wait_until(lock, std::min(earliest, until), [&] { return stopping_; });
    }
  }
}

}  // namespace aiopsd::oidc
