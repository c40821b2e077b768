#pragma once
// Verification of OIDC access tokens (JWT, RFC 9068) against the identity
// provider's published keys (JWKS). Plain OpenSSL 3: the key named by `kid`
// decides the algorithm and the header only has to agree, so "none", HMAC
// keyed with a public key and every algorithm not allowed never reach a
// signature check. Claims are read only after the signature holds.
//
// A KeySet is immutable once parsed and safe to share between threads; one
// verification allocates a digest context of its own.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace aiopsd::oidc {

enum class JwsAlgorithm : std::uint8_t { kRS256, kES256 };
std::string_view to_string(JwsAlgorithm alg);
std::optional<JwsAlgorithm> parse_jws_algorithm(std::string_view name);

class KeySet {
 public:
  struct Key;  // an OpenSSL public key and its algorithm (jwt_verifier.cpp)

  // The signing keys of a JWKS document: RSA (2048 bits or more) for RS256,
  // EC P-256 for ES256. Keys of another type or use, without a kid, or that
  // fail OpenSSL's public key check are skipped, each with a reason in
  // `skipped`. Empty on a document that is not a JWKS (`error` says why).
  static KeySet parse(std::string_view jwks_json, std::string& error,
                      std::vector<std::string>* skipped = nullptr);

  std::size_t size() const { return keys_.size(); }
  bool contains(const std::string& kid) const { return keys_.count(kid) != 0; }
  std::vector<std::string> kids() const;
  const Key* find(const std::string& kid) const;

 private:
  std::unordered_map<std::string, std::shared_ptr<const Key>> keys_;
};

struct TokenRequirements {
  std::string issuer;                  // `iss` must equal it
  std::vector<std::string> audiences;  // `aud` must hold one of them
  std::vector<JwsAlgorithm> algorithms{JwsAlgorithm::kRS256, JwsAlgorithm::kES256};
  std::chrono::seconds leeway{60};      // clock skew allowed on exp and nbf
  std::string subject_claim = "sub";    // dotted path into the claims
  std::string groups_claim = "groups";  // dotted path: "realm_access.roles" (Keycloak)
};

enum class TokenError : std::uint8_t {
  kMalformed,    // not three base64url parts of JSON, or too long
  kAlgorithm,    // alg not allowed ("none", HS256, ...)
  kUnknownKey,   // kid not in the key set (the set may be stale: refetch)
  kKeyMismatch,  // the header's alg is not the algorithm of the kid's key
  kType,         // typ present and not an access token
  kSignature,    // the signature does not verify
  kExpired,      // exp missing or past (beyond the leeway)
  kNotYetValid,  // nbf ahead (beyond the leeway)
  kIssuer,       // iss missing or another issuer
  kAudience,     // aud missing or not ours
  kSubject,      // the subject claim missing, empty or not a string
};
// The reason logged and counted (aiopsd_http_auth_failures_total has its own).
std::string_view to_string(TokenError error);

struct VerifiedToken {
  std::string subject;
  std::vector<std::string> groups;
  std::string kid;
  std::int64_t expires_at = 0;  // seconds since the epoch
};

struct TokenVerdict {
  std::optional<TokenError> error;
  std::string detail;   // for the log: never the token, never a signature
  std::string kid;      // as the header named it (empty when unreadable)
  VerifiedToken token;  // set when !error
  bool ok() const { return !error; }
};

inline constexpr std::size_t kMaxTokenBytes = 8192;

// Three dot-separated parts: a JWT, not an opaque bearer token.
bool looks_like_jwt(std::string_view token);

TokenVerdict verify_access_token(const KeySet& keys, std::string_view token,
                                 const TokenRequirements& req, std::int64_t now_seconds);

// Strict base64url without padding (RFC 7515 §2); nullopt on any other byte
// or a non-canonical tail.
std::optional<std::string> base64url_decode(std::string_view in);
std::string base64url_encode(std::string_view in);

}  // namespace aiopsd::oidc
