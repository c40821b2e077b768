#include "connectors/oidc/jwt_verifier.hpp"

#include <fmt/format.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include <algorithm>
#include <array>
#include <boost/json.hpp>

namespace aiopsd::oidc {

namespace json = boost::json;

struct KeySet::Key {
  JwsAlgorithm alg;
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> pkey{nullptr, &EVP_PKEY_free};
};

namespace {

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using ParamBuilder = std::unique_ptr<OSSL_PARAM_BLD, Deleter<OSSL_PARAM_BLD, OSSL_PARAM_BLD_free>>;
using Params = std::unique_ptr<OSSL_PARAM, Deleter<OSSL_PARAM, OSSL_PARAM_free>>;
using PkeyCtx = std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX, EVP_PKEY_CTX_free>>;
using Bignum = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>>;
using MdCtx = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX, EVP_MD_CTX_free>>;
using EcdsaSig = std::unique_ptr<ECDSA_SIG, Deleter<ECDSA_SIG, ECDSA_SIG_free>>;

const unsigned char* bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

std::string_view string_field(const json::object& o, std::string_view name) {
  const json::value* v = o.if_contains(name);
  return v && v->is_string() ? std::string_view(v->get_string()) : std::string_view();
}

// fromdata does not validate what it is given: the public check rejects an EC
// point off the curve and an RSA key with a bad exponent.
std::shared_ptr<const KeySet::Key> build_key(const char* type, OSSL_PARAM_BLD* bld,
                                             JwsAlgorithm alg) {
  Params params(OSSL_PARAM_BLD_to_param(bld));
  PkeyCtx ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* raw = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    return nullptr;
  }
  auto key = std::make_shared<KeySet::Key>();
  key->alg = alg;
  key->pkey.reset(raw);
  PkeyCtx check(EVP_PKEY_CTX_new_from_pkey(nullptr, raw, nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) != 1) return nullptr;
  return key;
}

std::shared_ptr<const KeySet::Key> rsa_key(const json::object& jwk, std::string& why) {
  auto n = base64url_decode(string_field(jwk, "n"));
  auto e = base64url_decode(string_field(jwk, "e"));
  if (!n || !e || n->empty() || e->empty()) return why = "n or e is not base64url", nullptr;
  if (n->size() < 256) return why = "RSA modulus shorter than 2048 bits", nullptr;
  Bignum bn(BN_bin2bn(bytes(*n), static_cast<int>(n->size()), nullptr));
  Bignum be(BN_bin2bn(bytes(*e), static_cast<int>(e->size()), nullptr));
  ParamBuilder bld(OSSL_PARAM_BLD_new());
  if (!bn || !be || !bld ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, be.get()) != 1) {
    return why = "OpenSSL could not take the key", nullptr;
  }
  auto key = build_key("RSA", bld.get(), JwsAlgorithm::kRS256);
  if (!key) why = "not a valid RSA public key";
  return key;
}

std::shared_ptr<const KeySet::Key> ec_key(const json::object& jwk, std::string& why) {
  if (string_field(jwk, "crv") != "P-256") return why = "curve is not P-256", nullptr;
  auto x = base64url_decode(string_field(jwk, "x"));
  auto y = base64url_decode(string_field(jwk, "y"));
  if (!x || !y || x->size() != 32 || y->size() != 32)
    return why = "x and y must be 32 bytes of base64url", nullptr;
  const std::string point = "\x04" + *x + *y;  // uncompressed SEC1 point
  ParamBuilder bld(OSSL_PARAM_BLD_new());
  if (!bld ||
      OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) !=
          1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                       point.size()) != 1) {
    return why = "OpenSSL could not take the key", nullptr;
  }
  auto key = build_key("EC", bld.get(), JwsAlgorithm::kES256);
  if (!key) why = "not a point on P-256";
  return key;
}

std::shared_ptr<const KeySet::Key> signing_key(const json::object& jwk, std::string& why) {
  const std::string_view use = string_field(jwk, "use");
  if (!use.empty() && use != "sig") return why = fmt::format("use is '{}'", use), nullptr;
  const std::string_view kty = string_field(jwk, "kty");
  const std::string_view alg = string_field(jwk, "alg");
  if (kty == "RSA" && (alg.empty() || alg == "RS256")) return rsa_key(jwk, why);
  if (kty == "EC" && (alg.empty() || alg == "ES256")) return ec_key(jwk, why);
  why = fmt::format("kty '{}' with alg '{}' is not RS256 or ES256", kty, alg);
  return nullptr;
}

// JWS carries ES256 signatures as r||s; OpenSSL verifies DER.
std::optional<std::string> ecdsa_der(std::string_view raw) {
  if (raw.size() != 64) return std::nullopt;
  EcdsaSig sig(ECDSA_SIG_new());
  BIGNUM* r = BN_bin2bn(bytes(raw), 32, nullptr);
  BIGNUM* s = BN_bin2bn(bytes(raw) + 32, 32, nullptr);
  if (!sig || !r || !s || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
    BN_free(r);
    BN_free(s);
    return std::nullopt;
  }
  unsigned char* der = nullptr;
  const int len = i2d_ECDSA_SIG(sig.get(), &der);
  if (len <= 0) return std::nullopt;
  std::string out(reinterpret_cast<const char*>(der), static_cast<std::size_t>(len));
  OPENSSL_free(der);
  return out;
}

bool signature_holds(const KeySet::Key& key, std::string_view signed_part,
                     std::string_view signature) {
  std::string der;
  if (key.alg == JwsAlgorithm::kES256) {
    auto converted = ecdsa_der(signature);
    if (!converted) return false;
    der = std::move(*converted);
    signature = der;
  }
  MdCtx ctx(EVP_MD_CTX_new());
  return ctx &&
         EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.pkey.get()) == 1 &&
         EVP_DigestVerify(ctx.get(), bytes(signature), signature.size(), bytes(signed_part),
                          signed_part.size()) == 1;
}

const json::value* claim_at(const json::object& claims, std::string_view path) {
  const json::object* at = &claims;
  while (true) {
    const std::size_t dot = path.find('.');
    const json::value* v = at->if_contains(path.substr(0, dot));
    if (!v || dot == std::string_view::npos) return v;
    if (!v->is_object()) return nullptr;
    at = &v->get_object();
    path.remove_prefix(dot + 1);
  }
}

std::optional<std::int64_t> seconds_claim(const json::object& claims, std::string_view name) {
  const json::value* v = claims.if_contains(name);
  if (!v) return std::nullopt;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64() && v->get_uint64() <= static_cast<std::uint64_t>(INT64_MAX))
    return static_cast<std::int64_t>(v->get_uint64());
  if (v->is_double() && v->get_double() > -9e18 && v->get_double() < 9e18)
    return static_cast<std::int64_t>(v->get_double());
  return std::nullopt;
}

bool audience_matches(const json::value* aud, const std::vector<std::string>& ours) {
  auto one = [&](const json::value& v) {
    return v.is_string() && std::find(ours.begin(), ours.end(), v.get_string()) != ours.end();
  };
  if (!aud) return false;
  if (aud->is_array()) return std::any_of(aud->get_array().begin(), aud->get_array().end(), one);
  return one(*aud);
}

std::vector<std::string> groups_of(const json::object& claims, std::string_view path) {
  std::vector<std::string> groups;
  const json::value* v = path.empty() ? nullptr : claim_at(claims, path);
  if (v && v->is_string()) groups.emplace_back(v->get_string());
  if (v && v->is_array()) {
    for (const json::value& g : v->get_array())
      if (g.is_string()) groups.emplace_back(g.get_string());
  }
  return groups;
}

std::optional<json::object> json_object(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return std::nullopt;
  return std::move(v.get_object());
}

TokenVerdict refuse(TokenVerdict v, TokenError e, std::string detail) {
  v.error = e;
  v.detail = std::move(detail);
  return v;
}

TokenVerdict check_claims(TokenVerdict v, const json::object& claims, const TokenRequirements& req,
                          std::int64_t now) {
  const std::int64_t leeway = req.leeway.count();
  const auto exp = seconds_claim(claims, "exp");
  if (!exp) return refuse(std::move(v), TokenError::kExpired, "no exp claim");
  if (now > *exp + leeway)
    return refuse(std::move(v), TokenError::kExpired, fmt::format("expired {} s ago", now - *exp));
  if (claims.contains("nbf")) {
    const auto nbf = seconds_claim(claims, "nbf");
    if (!nbf || now + leeway < *nbf)
      return refuse(std::move(v), TokenError::kNotYetValid, "nbf is ahead");
  }
  if (string_field(claims, "iss") != req.issuer)
    return refuse(std::move(v), TokenError::kIssuer,
                  fmt::format("iss '{}'", string_field(claims, "iss").substr(0, 200)));
  if (!audience_matches(claims.if_contains("aud"), req.audiences))
    return refuse(std::move(v), TokenError::kAudience, "aud is not ours");
  const json::value* sub = claim_at(claims, req.subject_claim);
  if (!sub || !sub->is_string() || sub->get_string().empty())
    return refuse(std::move(v), TokenError::kSubject,
                  fmt::format("no string claim '{}'", req.subject_claim));
  v.token.subject = std::string(sub->get_string());
  v.token.groups = groups_of(claims, req.groups_claim);
  v.token.kid = v.kid;
  v.token.expires_at = *exp;
  return v;
}

}  // namespace

std::string_view to_string(JwsAlgorithm alg) {
  return alg == JwsAlgorithm::kRS256 ? "RS256" : "ES256";
}

std::optional<JwsAlgorithm> parse_jws_algorithm(std::string_view name) {
  if (name == "RS256") return JwsAlgorithm::kRS256;
  if (name == "ES256") return JwsAlgorithm::kES256;
  return std::nullopt;
}

std::string_view to_string(TokenError error) {
  switch (error) {
    case TokenError::kMalformed:
      return "malformed";
    case TokenError::kAlgorithm:
      return "algorithm_not_allowed";
    case TokenError::kUnknownKey:
      return "unknown_key";
    case TokenError::kKeyMismatch:
      return "key_algorithm_mismatch";
    case TokenError::kType:
      return "not_an_access_token";
    case TokenError::kSignature:
      return "bad_signature";
    case TokenError::kExpired:
      return "expired";
    case TokenError::kNotYetValid:
      return "not_yet_valid";
    case TokenError::kIssuer:
      return "wrong_issuer";
    case TokenError::kAudience:
      return "wrong_audience";
    case TokenError::kSubject:
      return "no_subject";
  }
  return "malformed";
}

std::optional<std::string> base64url_decode(std::string_view in) {
  std::string out;
  out.reserve(in.size() * 3 / 4);
  std::uint32_t acc = 0;
  unsigned bits = 0;
  for (char c : in) {
    const std::size_t p = kAlphabet.find(c);
    if (p == std::string_view::npos) return std::nullopt;  // no padding, '+' or '/'
    acc = (acc << 6) | static_cast<std::uint32_t>(p);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  if (bits >= 6 || (acc & ((1u << bits) - 1)) != 0) return std::nullopt;
  return out;
}

std::string base64url_encode(std::string_view in) {
  std::string out;
  out.reserve((in.size() * 4 + 2) / 3);
  std::uint32_t acc = 0;
  unsigned bits = 0;
  for (unsigned char c : in) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kAlphabet[(acc >> bits) & 0x3f]);
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(acc << (6 - bits)) & 0x3f]);
  return out;
}

KeySet KeySet::parse(std::string_view jwks_json, std::string& error,
                     std::vector<std::string>* skipped) {
  KeySet set;
  auto doc = json_object(jwks_json);
  const json::value* keys = doc ? doc->if_contains("keys") : nullptr;
  if (!keys || !keys->is_array()) {
    error = "not a JWKS document (an object with a 'keys' array)";
    return set;
  }
  std::size_t index = 0;
  for (const json::value& k : keys->get_array()) {
    std::string why;
    const std::string_view kid = k.is_object() ? string_field(k.get_object(), "kid") : "";
    if (!k.is_object()) {
      why = "not an object";
    } else if (kid.empty()) {
      why = "no kid";
    } else if (auto key = signing_key(k.get_object(), why)) {
      set.keys_.emplace(std::string(kid), std::move(key));
      ++index;
      continue;
    }
    if (skipped) skipped->push_back(fmt::format("keys[{}] {}: {}", index, kid.substr(0, 64), why));
    ++index;
  }
  return set;
}

std::vector<std::string> KeySet::kids() const {
  std::vector<std::string> out;
  for (const auto& [kid, key] : keys_) out.push_back(kid);
  std::sort(out.begin(), out.end());
  return out;
}

const KeySet::Key* KeySet::find(const std::string& kid) const {
  auto it = keys_.find(kid);
  return it == keys_.end() ? nullptr : it->second.get();
}

bool looks_like_jwt(std::string_view token) {
  return std::count(token.begin(), token.end(), '.') == 2;
}

TokenVerdict verify_access_token(const KeySet& keys, std::string_view token,
                                 const TokenRequirements& req, std::int64_t now_seconds) {
  TokenVerdict v;
  if (token.size() > kMaxTokenBytes)
    return refuse(std::move(v), TokenError::kMalformed, "longer than 8 KiB");
  const std::size_t d1 = token.find('.');
  const std::size_t d2 = d1 == std::string_view::npos ? d1 : token.find('.', d1 + 1);
  if (d2 == std::string_view::npos || token.find('.', d2 + 1) != std::string_view::npos)
    return refuse(std::move(v), TokenError::kMalformed, "not three parts");
  const auto header_text = base64url_decode(token.substr(0, d1));
  const auto signature = base64url_decode(token.substr(d2 + 1));
  const auto header = header_text ? json_object(*header_text) : std::nullopt;
  if (!header || !signature)
    return refuse(std::move(v), TokenError::kMalformed, "header or signature unreadable");
  v.kid = std::string(string_field(*header, "kid").substr(0, 128));
  const std::string_view alg_name = string_field(*header, "alg");
  const auto alg = parse_jws_algorithm(alg_name);
  if (!alg || std::find(req.algorithms.begin(), req.algorithms.end(), *alg) == req.algorithms.end())
    return refuse(std::move(v), TokenError::kAlgorithm,
                  fmt::format("alg '{}'", alg_name.substr(0, 32)));
  const KeySet::Key* key = keys.find(v.kid);
  if (!key) return refuse(std::move(v), TokenError::kUnknownKey, "kid not in the JWKS");
  if (key->alg != *alg)
    return refuse(std::move(v), TokenError::kKeyMismatch,
                  fmt::format("alg {} names a {} key", alg_name, to_string(key->alg)));
  if (const json::value* typ = header->if_contains("typ");
      typ && !(typ->is_string() &&
               (typ->get_string() == "at+jwt" || typ->get_string() == "application/at+jwt" ||
                typ->get_string() == "JWT"))) {
    return refuse(std::move(v), TokenError::kType, "typ is not at+jwt or JWT");
  }
  if (!signature_holds(*key, token.substr(0, d2), *signature))
    return refuse(std::move(v), TokenError::kSignature, "signature does not verify");
  const auto payload = base64url_decode(token.substr(d1 + 1, d2 - d1 - 1));
  const auto claims = payload ? json_object(*payload) : std::nullopt;
  if (!claims) return refuse(std::move(v), TokenError::kMalformed, "claims unreadable");
  return check_claims(std::move(v), *claims, req, now_seconds);
}

}  // namespace aiopsd::oidc
