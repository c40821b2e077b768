// OidcProvider: real tokens carry the kids the provider reports, rotation changes them, forged
// tokens come back whole, env reaches the provider, and stop() leaves no process behind.

#include "tests/harness/oidc_fixture.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>

#include <boost/json.hpp>
#include <cerrno>
#include <ctime>
#include <filesystem>
#include <string>
#include <vector>

namespace aiopsd::testing {
namespace {

std::string base64url_decode(std::string_view in) {
  std::string out;
  unsigned acc = 0;
  int bits = 0;
  for (char c : in) {
    int v = c >= 'A' && c <= 'Z'   ? c - 'A'
            : c >= 'a' && c <= 'z' ? c - 'a' + 26
            : c >= '0' && c <= '9' ? c - '0' + 52
            : c == '-'             ? 62
            : c == '_'             ? 63
                                   : -1;
    if (v < 0) break;
    acc = (acc << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  return out;
}

std::vector<std::string> split_jwt(const std::string& jwt) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (true) {
    auto dot = jwt.find('.', start);
    parts.push_back(jwt.substr(start, dot - start));
    if (dot == std::string::npos) return parts;
    start = dot + 1;
  }
}

boost::json::object jwt_part(const std::string& jwt, std::size_t index) {
  return boost::json::parse(base64url_decode(split_jwt(jwt).at(index))).as_object();
}

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "aiopsd-oidc-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

TEST(OidcProviderTest, TokensRotationForgeAndStop) {
  if (auto why = OidcProvider::unavailable_reason(); !why.empty()) GTEST_SKIP() << why;
  TempDir dir;
  OidcProvider idp(dir.path.string(), {{"OIDC_GROUPS", "ops,netops"}});
  ASSERT_TRUE(idp.running());
  EXPECT_EQ(idp.issuer(), "http://127.0.0.1:" + std::to_string(idp.port()));
  EXPECT_EQ(idp.jwks_uri(), idp.issuer() + "/jwks");

  auto state = idp.state();
  const std::string rs_kid(state.at("kids").at("RS256").as_string());
  const std::string es_kid(state.at("kids").at("ES256").as_string());

  const std::string rs = idp.token();
  auto header = jwt_part(rs, 0);
  EXPECT_EQ(header.at("alg").as_string(), "RS256");
  EXPECT_EQ(header.at("typ").as_string(), "at+jwt");
  EXPECT_EQ(header.at("kid").as_string(), rs_kid);
  auto claims = jwt_part(rs, 1);
  EXPECT_EQ(claims.at("iss").as_string(), idp.issuer());
  EXPECT_EQ(claims.at("aud").as_string(), idp.audience());
  EXPECT_EQ(claims.at("client_id").as_string(), idp.client_id());
  EXPECT_EQ(boost::json::serialize(claims.at(idp.groups_claim())), R"(["ops","netops"])");

  const std::string es = idp.token(/*es256=*/true, "aiopsd:read");
  header = jwt_part(es, 0);
  EXPECT_EQ(header.at("alg").as_string(), "ES256");
  EXPECT_EQ(header.at("kid").as_string(), es_kid);
  claims = jwt_part(es, 1);
  EXPECT_EQ(claims.at("client_id").as_string(), idp.client_id(true));
  EXPECT_EQ(claims.at("scope").as_string(), "aiopsd:read");

  idp.set_groups("");
  EXPECT_FALSE(jwt_part(idp.token(), 1).contains(idp.groups_claim()));

  idp.rotate();
  state = idp.state();
  const std::string rs_kid2(state.at("kids").at("RS256").as_string());
  EXPECT_NE(rs_kid2, rs_kid);
  EXPECT_EQ(jwt_part(idp.token(), 0).at("kid").as_string(), rs_kid2);
  EXPECT_EQ(state.at("kids").at("published").as_array().size(), 4u);  // the old keys stay
  idp.rotate(/*drop=*/true);
  EXPECT_EQ(idp.state().at("kids").at("published").as_array().size(), 2u);

  const std::string expired = idp.forge("expired");
  auto parts = split_jwt(expired);
  ASSERT_EQ(parts.size(), 3u) << expired;
  for (const auto& p : parts) EXPECT_FALSE(p.empty()) << expired;
  EXPECT_LT(jwt_part(expired, 1).at("exp").to_number<double>(),
            static_cast<double>(std::time(nullptr)));
  claims = jwt_part(idp.forge("valid", /*es256=*/true, R"({"sub":"alice"})"), 1);
  EXPECT_EQ(claims.at("sub").as_string(), "alice");
  EXPECT_THROW(idp.forge("no-such-kind"), std::runtime_error);

  const pid_t pid = idp.process().pid();
  idp.stop();
  EXPECT_FALSE(idp.running());
  EXPECT_FALSE(idp.process().running());
  EXPECT_EQ(::kill(-pid, 0), -1);  // nothing left in its process group
  EXPECT_EQ(errno, ESRCH);
}

}  // namespace
}  // namespace aiopsd::testing
