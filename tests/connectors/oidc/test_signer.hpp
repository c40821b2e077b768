#pragma once
// Keys made in the test and tokens signed with them, as an identity provider
// would, plus the forgeries a verifier must refuse.

#include <memory>
#include <string>
#include <string_view>

#include <openssl/evp.h>

namespace aiopsd::testing {

class TestSigner {
 public:
  enum class Kind { kRsa, kEc };
  TestSigner(Kind kind, std::string kid);

  const std::string& kid() const { return kid_; }
  // The public key as a JWK object (JSON text).
  std::string jwk() const;
  // header.claims.signature, signed with this key (RS256 or ES256).
  std::string sign(std::string_view header_json, std::string_view claims_json) const;
  // HS256 keyed with this key's public PEM: the classic key-confusion forgery.
  std::string sign_hs256_with_public_pem(std::string_view header_json,
                                         std::string_view claims_json) const;

 private:
  Kind kind_;
  std::string kid_;
  std::shared_ptr<EVP_PKEY> key_;
};

std::string jwks_of(std::initializer_list<std::string> jwks);

}  // namespace aiopsd::testing
