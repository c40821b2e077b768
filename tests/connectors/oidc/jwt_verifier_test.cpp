#include "connectors/oidc/jwt_verifier.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "test_signer.hpp"

namespace aiopsd::testing {
namespace {

using oidc::KeySet;
using oidc::TokenError;
using oidc::TokenRequirements;

// Any instant: the verifier is given the time, so nothing here ages.
constexpr std::int64_t kNow = 1'000'000;
constexpr std::string_view kIssuer = "https://idp.example.test/realms/ops";

class JwtVerifier : public ::testing::Test {
 protected:
  JwtVerifier() {
    std::string error;
    keys_ = KeySet::parse(jwks_of({rsa_.jwk(), ec_.jwk()}), error);
    req_.issuer = kIssuer;
    req_.audiences = {"urn:aiopsd"};
  }

  static std::string header(std::string_view alg, std::string_view kid,
                            std::string_view typ = "at+jwt") {
    return fmt::format(R"({{"alg":"{}","typ":"{}","kid":"{}"}})", alg, typ, kid);
  }
  static std::string claims(std::string_view extra = "", std::int64_t exp = kNow + 300) {
    return fmt::format(
        R"({{"iss":"{}","aud":["urn:other","urn:aiopsd"],"sub":"svc-chatops","exp":{},"iat":{},)"
        R"("groups":["aiopsd-operators","oncall"]{}}})",
        kIssuer, exp, kNow - 10, extra);
  }
  oidc::TokenVerdict verify(std::string_view token) {
    return oidc::verify_access_token(keys_, token, req_, kNow);
  }
  std::optional<TokenError> error_of(std::string_view token) { return verify(token).error; }

  TestSigner rsa_{TestSigner::Kind::kRsa, "rsa-1"};
  TestSigner ec_{TestSigner::Kind::kEc, "ec-1"};
  KeySet keys_;
  TokenRequirements req_;
};

TEST_F(JwtVerifier, AcceptsRs256AndEs256AccessTokensAndReadsSubjectAndGroups) {
  ASSERT_EQ(keys_.size(), 2u);
  for (const auto* signer : {&rsa_, &ec_}) {
    const auto alg = signer == &rsa_ ? "RS256" : "ES256";
    auto v = verify(signer->sign(header(alg, signer->kid()), claims()));
    ASSERT_TRUE(v.ok()) << alg << ": " << v.detail;
    EXPECT_EQ(v.token.subject, "svc-chatops");
    EXPECT_EQ(v.token.groups, (std::vector<std::string>{"aiopsd-operators", "oncall"}));
    EXPECT_EQ(v.token.kid, signer->kid());
    EXPECT_EQ(v.token.expires_at, kNow + 300);
  }
  // typ "JWT" (Keycloak, Entra) and no typ at all are access tokens too.
  EXPECT_TRUE(verify(rsa_.sign(header("RS256", "rsa-1", "JWT"), claims())).ok());
  EXPECT_TRUE(verify(rsa_.sign(R"({"alg":"RS256","kid":"rsa-1"})", claims())).ok());
}

TEST_F(JwtVerifier, RefusesEveryForgeryWithItsReason) {
  const std::string rs = header("RS256", "rsa-1");
  EXPECT_EQ(error_of(rsa_.sign(rs, claims("", kNow - 61))), TokenError::kExpired);
  EXPECT_EQ(error_of(rsa_.sign(rs, claims(fmt::format(R"(,"nbf":{})", kNow + 61)))),
            TokenError::kNotYetValid);
  EXPECT_EQ(
      error_of(rsa_.sign(
          rs,
          R"({"iss":"https://idp.example.test/realms/ops","aud":"urn:not-aiopsd","sub":"x","exp":1000300})")),
      TokenError::kAudience);
  EXPECT_EQ(
      error_of(rsa_.sign(
          rs,
          R"({"iss":"https://idp.example.test/realms/dev","aud":"urn:aiopsd","sub":"x","exp":1000300})")),
      TokenError::kIssuer);
  // One flipped bit of the signature.
  std::string bad = rsa_.sign(rs, claims());
  char& mid = bad[bad.rfind('.') + 10];  // inside the signature; the tail char has padding bits
  mid = mid == 'A' ? 'B' : 'A';
  EXPECT_EQ(error_of(bad), TokenError::kSignature);
  // The claims of a valid token under another token's signature.
  const std::string a = rsa_.sign(rs, claims());
  const std::string b = rsa_.sign(rs, claims(R"(,"role":"admin")"));
  EXPECT_EQ(error_of(a.substr(0, a.find('.')) + b.substr(b.find('.'), b.rfind('.') - b.find('.')) +
                     a.substr(a.rfind('.'))),
            TokenError::kSignature);
  // alg none with an empty signature, and HS256 keyed with the public key.
  EXPECT_EQ(error_of(oidc::base64url_encode(R"({"alg":"none","kid":"rsa-1"})") + "." +
                     oidc::base64url_encode(claims()) + "."),
            TokenError::kAlgorithm);
  EXPECT_EQ(error_of(rsa_.sign_hs256_with_public_pem(header("HS256", "rsa-1"), claims())),
            TokenError::kAlgorithm);
  // A key the set never had; an ES256 signature under the RSA kid.
  TestSigner stranger(TestSigner::Kind::kRsa, "rsa-stranger");
  auto unknown = verify(stranger.sign(header("RS256", "rsa-stranger"), claims()));
  EXPECT_EQ(unknown.error, TokenError::kUnknownKey);
  EXPECT_EQ(unknown.kid, "rsa-stranger");
  EXPECT_EQ(error_of(ec_.sign(header("ES256", "rsa-1"), claims())), TokenError::kKeyMismatch);
  // An ID token or a refresh token is not an access token.
  EXPECT_EQ(error_of(rsa_.sign(header("RS256", "rsa-1", "refresh+jwt"), claims())),
            TokenError::kType);
  // No subject.
  EXPECT_EQ(
      error_of(rsa_.sign(
          rs, R"({"iss":"https://idp.example.test/realms/ops","aud":"urn:aiopsd","exp":1000300})")),
      TokenError::kSubject);
  // No exp at all is refused: tokens that never expire are not accepted.
  EXPECT_EQ(
      error_of(rsa_.sign(
          rs, R"({"iss":"https://idp.example.test/realms/ops","aud":"urn:aiopsd","sub":"x"})")),
      TokenError::kExpired);
}

TEST_F(JwtVerifier, AllowsTheConfiguredClockSkewAndNoMore) {
  const std::string rs = header("RS256", "rsa-1");
  EXPECT_TRUE(verify(rsa_.sign(rs, claims("", kNow - 60))).ok());
  EXPECT_FALSE(verify(rsa_.sign(rs, claims("", kNow - 61))).ok());
  req_.leeway = std::chrono::seconds(0);
  EXPECT_TRUE(verify(rsa_.sign(rs, claims("", kNow))).ok());
  EXPECT_EQ(error_of(rsa_.sign(rs, claims("", kNow - 1))), TokenError::kExpired);
  EXPECT_EQ(error_of(rsa_.sign(rs, claims(fmt::format(R"(,"nbf":{})", kNow + 1)))),
            TokenError::kNotYetValid);
}

TEST_F(JwtVerifier, OnlyConfiguredAlgorithmsAndConfiguredClaimPaths) {
  req_.algorithms = {oidc::JwsAlgorithm::kRS256};
  EXPECT_EQ(error_of(ec_.sign(header("ES256", "ec-1"), claims())), TokenError::kAlgorithm);
  // Keycloak puts roles under realm_access.roles; Entra has oid for a stable subject.
  req_.groups_claim = "realm_access.roles";
  req_.subject_claim = "oid";
  auto v = verify(rsa_.sign(header("RS256", "rsa-1"),
                            claims(R"(,"oid":"0b1c","realm_access":{"roles":["approver"]})")));
  ASSERT_TRUE(v.ok()) << v.detail;
  EXPECT_EQ(v.token.subject, "0b1c");
  EXPECT_EQ(v.token.groups, std::vector<std::string>{"approver"});
}

TEST_F(JwtVerifier, MalformedTokensAreRefusedWithoutReadingFurther) {
  for (std::string_view t : {"", ".", "..", "a.b", "a.b.c.d", "eyJ.eyJ.", "!!.??.**",
                             "eyJhbGciOiJSUzI1NiJ9=.e30.AA", "bnVsbA.e30.AA"}) {
    EXPECT_EQ(error_of(t), TokenError::kMalformed) << t;
  }
  EXPECT_EQ(error_of(std::string(oidc::kMaxTokenBytes + 1, 'a')), TokenError::kMalformed);
  // A valid signature over claims that are not JSON.
  EXPECT_EQ(error_of(rsa_.sign(header("RS256", "rsa-1"), "[1,2")), TokenError::kMalformed);
}

TEST(JwksKeySet, SkipsKeysItCannotUseAndSaysWhy) {
  TestSigner rsa(TestSigner::Kind::kRsa, "good");
  std::string error;
  std::vector<std::string> skipped;
  // An EC point off the curve, an encryption key, an HMAC secret, no kid, RSA 1024.
  const std::string off_curve =
      R"({"kty":"EC","kid":"off","crv":"P-256","x":"AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","y":"AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"})";
  const std::string enc = R"({"kty":"RSA","kid":"enc","use":"enc","n":"AQAB","e":"AQAB"})";
  const std::string hmac = R"({"kty":"oct","kid":"hs","k":"c2VjcmV0"})";
  const std::string short_rsa = R"({"kty":"RSA","kid":"short","n":"AQAB","e":"AQAB"})";
  KeySet set =
      KeySet::parse(jwks_of({rsa.jwk(), off_curve, enc, hmac, short_rsa, R"({"kty":"RSA"})", "7"}),
                    error, &skipped);
  EXPECT_TRUE(error.empty());
  EXPECT_EQ(set.kids(), std::vector<std::string>{"good"});
  ASSERT_EQ(skipped.size(), 6u);
  EXPECT_NE(skipped[0].find("not a point on P-256"), std::string::npos) << skipped[0];
  EXPECT_NE(skipped[1].find("use is 'enc'"), std::string::npos) << skipped[1];
  EXPECT_NE(skipped[2].find("kty 'oct'"), std::string::npos) << skipped[2];
  EXPECT_NE(skipped[3].find("shorter than 2048"), std::string::npos) << skipped[3];
  EXPECT_NE(skipped[4].find("no kid"), std::string::npos) << skipped[4];
  EXPECT_NE(skipped[5].find("not an object"), std::string::npos) << skipped[5];

  for (std::string_view doc : {"", "[]", R"({"keys":{}})", "{\"keys\":[", "null"}) {
    error.clear();
    EXPECT_EQ(KeySet::parse(doc, error).size(), 0u);
    EXPECT_NE(error.find("not a JWKS"), std::string::npos) << doc;
  }
}

TEST(Base64Url, RoundTripsAndRefusesNonCanonicalInput) {
  for (const std::string& s : std::vector<std::string>{"", "f", "fo", "foo", "foob", "fooba",
                                                       "foobar", std::string("\0\xff\x10", 3)})
    EXPECT_EQ(oidc::base64url_decode(oidc::base64url_encode(s)), s);
  EXPECT_FALSE(oidc::base64url_decode("Zm9v+A"));  // '+' is base64, not base64url
  EXPECT_FALSE(oidc::base64url_decode("Zg=="));    // padding
  EXPECT_FALSE(oidc::base64url_decode("Zh"));      // "f" with stray low bits
  EXPECT_FALSE(oidc::base64url_decode("Z"));       // six bits: no byte
}

}  // namespace
}  // namespace aiopsd::testing
