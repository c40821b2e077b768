#pragma once
// The identity provider's signing keys, kept current: the discovery document
// (issuer + "/.well-known/openid-configuration", whose issuer must be the
// configured one) names the JWKS, which is fetched at start, refreshed on a
// timer and fetched again when a token names a kid the set does not have
// (rotation), at most once per min_refetch so unknown kids cannot make the
// daemon hammer the provider. A failed fetch keeps the last good set.
//
// Threads: one fetcher thread of its own. keys() and refetch_soon() are for
// any thread (the HTTP io thread, Kafka consumers) and never wait on the
// network.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "connectors/oidc/jwt_verifier.hpp"

namespace aiopsd::oidc {

struct JwksSourceOptions {
  std::string issuer;
  std::string jwks_uri;  // set: no discovery
  std::chrono::seconds refresh{600};
  std::chrono::seconds min_refetch{30};
  std::chrono::milliseconds timeout{5000};
  std::chrono::milliseconds first_retry{1000};  // doubled per failure, up to refresh
  std::string ca_file;
};

struct JwksFetchReport {
  bool ok = false;
  std::string url;                   // the JWKS (or discovery) URL fetched
  std::string error;                 // why it failed
  std::vector<std::string> kids;     // the set now in use (ok only)
  std::vector<std::string> skipped;  // keys of the document that cannot verify
};

class JwksSource {
 public:
  using Observer = std::function<void(const JwksFetchReport&)>;
  // Starts fetching at once; `observer` (may be empty) hears every attempt,
  // on the fetcher thread.
  JwksSource(JwksSourceOptions options, Observer observer);
  ~JwksSource();
  JwksSource(const JwksSource&) = delete;
  JwksSource& operator=(const JwksSource&) = delete;

  // Null until a JWKS with at least one usable key was fetched.
  std::shared_ptr<const KeySet> keys() const;
  // A token named an unknown kid: fetch again, unless fetched within min_refetch.
  void refetch_soon();
  std::size_t fetches() const;

 private:
  void run();
  JwksFetchReport fetch_once();

  JwksSourceOptions options_;
  Observer observer_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::shared_ptr<const KeySet> keys_;
  std::string jwks_uri_;  // from discovery, kept once known
  bool refetch_ = false;
  bool stopping_ = false;
  std::size_t fetches_ = 0;
  std::chrono::steady_clock::time_point last_fetch_{};
  std::thread thread_;
};

}  // namespace aiopsd::oidc
