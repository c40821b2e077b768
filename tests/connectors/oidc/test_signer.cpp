#include "test_signer.hpp"

#include <fmt/format.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include <stdexcept>

#include "connectors/oidc/jwt_verifier.hpp"

namespace aiopsd::testing {

namespace {

std::string bn_bytes(const EVP_PKEY* key, const char* name, int pad = 0) {
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &bn) != 1) throw std::runtime_error(name);
  std::string out(static_cast<std::size_t>(std::max(pad, BN_num_bytes(bn))), '\0');
  BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(out.size()));
  BN_free(bn);
  return out;
}

std::string b64(std::string_view s) { return oidc::base64url_encode(s); }

}  // namespace

TestSigner::TestSigner(Kind kind, std::string kid) : kind_(kind), kid_(std::move(kid)) {
  EVP_PKEY* k = kind == Kind::kRsa ? EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048})
                                   : EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  if (!k) throw std::runtime_error("keygen");
  key_.reset(k, EVP_PKEY_free);
}

std::string TestSigner::jwk() const {
  if (kind_ == Kind::kRsa) {
    return fmt::format(R"({{"kty":"RSA","kid":"{}","use":"sig","alg":"RS256","n":"{}","e":"{}"}})",
                       kid_, b64(bn_bytes(key_.get(), OSSL_PKEY_PARAM_RSA_N)),
                       b64(bn_bytes(key_.get(), OSSL_PKEY_PARAM_RSA_E)));
  }
  return fmt::format(
      R"({{"kty":"EC","kid":"{}","use":"sig","alg":"ES256","crv":"P-256","x":"{}","y":"{}"}})",
      kid_, b64(bn_bytes(key_.get(), OSSL_PKEY_PARAM_EC_PUB_X, 32)),
      b64(bn_bytes(key_.get(), OSSL_PKEY_PARAM_EC_PUB_Y, 32)));
}

std::string TestSigner::sign(std::string_view header_json, std::string_view claims_json) const {
  const std::string input = b64(header_json) + "." + b64(claims_json);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  std::size_t len = 0;
  std::string sig;
  if (EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key_.get()) != 1 ||
      EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()),
                     input.size()) != 1) {
    throw std::runtime_error("sign");
  }
  sig.resize(len);
  EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                 reinterpret_cast<const unsigned char*>(input.data()), input.size());
  sig.resize(len);
  EVP_MD_CTX_free(ctx);
  if (kind_ == Kind::kEc) {  // DER -> r||s, as JWS carries it
    const unsigned char* p = reinterpret_cast<const unsigned char*>(sig.data());
    ECDSA_SIG* es = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size()));
    std::string raw(64, '\0');
    BN_bn2binpad(ECDSA_SIG_get0_r(es), reinterpret_cast<unsigned char*>(raw.data()), 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(es), reinterpret_cast<unsigned char*>(raw.data()) + 32, 32);
    ECDSA_SIG_free(es);
    sig = raw;
  }
  return input + "." + b64(sig);
}

std::string TestSigner::sign_hs256_with_public_pem(std::string_view header_json,
                                                   std::string_view claims_json) const {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, key_.get());
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  const std::string pem(data, static_cast<std::size_t>(n));
  BIO_free(bio);
  const std::string input = b64(header_json) + "." + b64(claims_json);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  HMAC(EVP_sha256(), pem.data(), static_cast<int>(pem.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &mac_len);
  return input + "." + b64(std::string_view(reinterpret_cast<const char*>(mac), mac_len));
}

std::string jwks_of(std::initializer_list<std::string> jwks) {
  std::string keys;
  for (const auto& k : jwks) keys += (keys.empty() ? "" : ",") + k;
  return R"({"keys":[)" + keys + "]}";
}

}  // namespace aiopsd::testing
