#pragma once
// A real OpenID provider for tests: tests/harness/oidc/provider.mjs (oidc-provider, Node.js)
// on 127.0.0.1, with its test controls (key rotation, groups, forged tokens) behind a small C++
// API. Needs Node.js >= 20.12 in PATH and tests/harness/oidc/node_modules (scripts/bootstrap);
// otherwise unavailable_reason() says why and tests GTEST_SKIP with it:
//
//   if (auto why = OidcProvider::unavailable_reason(); !why.empty()) GTEST_SKIP() << why;
//   OidcProvider idp(temp_dir);                 // its log: temp_dir/oidc-provider.log
//   std::string jwt = idp.token();              // RS256 access token (at+jwt) for idp.audience()
//   idp.rotate();                               // new kids; the old keys stay in the JWKS
//   std::string bad = idp.forge("expired", /*es256=*/true);

#include <boost/json/object.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tests/harness/child_process.hpp"

namespace aiopsd::testing {

class OidcProvider {
 public:
  // Starts `node provider.mjs` on free loopback ports with OIDC_STDIN=0 and `env` (e.g.
  // {"OIDC_GROUPS", "a,b"}, {"OIDC_TOKEN_TTL", "5"}), and waits (at most 20 s) for its ready
  // line. The log goes to a new file in `dir` (created if missing; the caller removes it).
  // Throws std::runtime_error (with the log) when it cannot start, or with
  // unavailable_reason() when that is not empty.
  explicit OidcProvider(const std::string& dir,
                        std::vector<std::pair<std::string, std::string>> env = {});
  ~OidcProvider();
  OidcProvider(const OidcProvider&) = delete;
  OidcProvider& operator=(const OidcProvider&) = delete;

  // Empty when the provider can run here; otherwise why not (node missing from PATH or older
  // than 20.12, the npm packages not installed). Computed once per process.
  static std::string unavailable_reason();

  const std::string& issuer() const { return issuer_; }  // http://127.0.0.1:PORT
  std::uint16_t port() const { return port_; }
  std::uint16_t control_port() const { return control_port_; }
  const std::string& audience() const { return audience_; }  // the tokens' aud (urn:aiopsd)
  const std::string& groups_claim() const { return groups_claim_; }
  std::string jwks_uri() const { return issuer_ + "/jwks"; }
  std::string discovery_url() const { return issuer_ + "/.well-known/openid-configuration"; }
  std::string token_endpoint() const { return issuer_ + "/token"; }
  // The client whose tokens are RS256, or the one whose tokens are ES256 (same secret).
  std::string client_id(bool es256 = false) const {
    return es256 ? client_id_ + "-es256" : client_id_;
  }
  const std::string& client_secret() const { return client_secret_; }

  // A real access token from the token endpoint (client_credentials, client_secret_basic) for
  // client_id(es256); `scope` (e.g. "aiopsd:read") is asked for when not empty.
  std::string token(bool es256 = false, std::string_view scope = {});
  // A token signed with the current key of that alg: KIND is one of valid, expired, nbf,
  // wrong-aud, wrong-iss, bad-sig, alg-none, hs256-pubkey, unknown-kid, alg-kid-mismatch (see
  // oidc/README.md). `claims_json`, a JSON object, overrides claims.
  std::string forge(std::string_view kind, bool es256 = false, std::string_view claims_json = {});
  // New RSA and EC keys sign from now on; the previous ones stay published unless `drop`.
  void rotate(bool drop = false);
  // The groups claim of tokens issued (and forged) from now on; empty = no groups claim.
  void set_groups(std::string_view comma_list);
  // GET /state: {"issuer", "generation", "kids": {"RS256", "ES256", "published": [...]},
  // "groups", "groups_claim"}.
  boost::json::object state();

  // SIGTERM to its process group, then waits (SIGKILL after 5 s). Not restartable.
  void stop();
  bool running();
  std::string log() const;
  ChildProcess& process() { return *process_; }

 private:
  // A request to the control port; the body of a 200 answer, else throws.
  std::string control(bool post, const std::string& target, const std::string& body = {});

  std::unique_ptr<ChildProcess> process_;
  std::string issuer_;
  std::uint16_t port_ = 0;
  std::uint16_t control_port_ = 0;
  std::string audience_;
  std::string groups_claim_;
  std::string client_id_;
  std::string client_secret_;
};

}  // namespace aiopsd::testing
