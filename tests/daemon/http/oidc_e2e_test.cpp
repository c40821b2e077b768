// OIDC access tokens end to end: the daemon against a real OpenID provider
// (oidc-provider on loopback, tests/harness/oidc), its tokens, its forgeries
// and its key rotation.

#include <gtest/gtest.h>

#include "tests/daemon/daemon_under_test.hpp"
#include "tests/harness/child_process.hpp"
#include "tests/harness/oidc_fixture.hpp"

namespace aiopsd::testing {
namespace {

namespace json = boost::json;

class OidcEndToEnd : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto why = OidcProvider::unavailable_reason(); !why.empty()) GTEST_SKIP() << why;
  }
  void TearDown() override { daemon_.reset(); }

  // Ingest and read for the operators group; admin for the ES256 client only.
  void start_daemon(const std::string& issuer, std::string_view extra = "") {
    daemon_ = std::make_unique<DaemonUnderTest>("", "rules: []\n", daemon::AppOptions{},
                                                std::map<std::string, std::string>{},
                                                fmt::format(R"(  auth:
    oidc:
      issuer: "{}"
      audience: urn:aiopsd
      min_refetch: 1s
{}      scopes:
        ingest: [aiopsd-operators]
        read: [aiopsd-operators]
        admin: ["sub:aiopsd-test-es256"]
)",
                                                            issuer, extra));
  }
  bool keys_known() { return daemon_->metric("aiopsd_oidc_jwks_keys") > 0; }
  HttpResult status_with(const std::string& token) {
    return HttpClient(daemon_->port(), token).get("/api/v1/status");
  }
  std::string logs() { return log_.text(); }

  LogCapture log_;  // declared first: outlives the daemon
  TempDir dir_;
  std::unique_ptr<DaemonUnderTest> daemon_;
};

TEST_F(OidcEndToEnd, ProviderTokensAreVerifiedAndEveryForgeryIsRefusedWithAReason) {
  OidcProvider idp(dir_.path());
  start_daemon(idp.issuer());
  ASSERT_TRUE(eventually([this] { return keys_known(); }, std::chrono::seconds(20))) << logs();

  // A real RS256 token: the caller is its subject, with the operators' scopes.
  const std::string rs = idp.token();
  auto ok = status_with(rs);
  ASSERT_EQ(ok.status, 200u) << ok.body << logs();
  EXPECT_EQ(json::parse(ok.body).at("principal").as_string(), "aiopsd-test");
  auto pause = HttpClient(daemon_->port(), rs).post("/api/v1/automation/pause", "");
  EXPECT_EQ(pause.status, 403u) << pause.body;
  // A real ES256 token of the client granted admin by its subject.
  const std::string es = idp.token(true);
  EXPECT_EQ(json::parse(status_with(es).body).at("principal").as_string(), "aiopsd-test-es256");
  EXPECT_EQ(HttpClient(daemon_->port(), es).post("/api/v1/automation/resume", "").status, 200u);

  const std::vector<std::pair<std::string, std::string>> forgeries = {
      {"expired", "oidc expired"},
      {"nbf", "oidc not_yet_valid"},
      {"wrong-aud", "oidc wrong_audience"},
      {"wrong-iss", "oidc wrong_issuer"},
      {"bad-sig", "oidc bad_signature"},
      {"alg-none", "oidc algorithm_not_allowed"},
      {"hs256-pubkey", "oidc algorithm_not_allowed"},
      {"alg-kid-mismatch", "oidc key_algorithm_mismatch"},
      {"unknown-kid", "oidc unknown_key"},
  };
  const double invalid_before =
      daemon_->metric(R"(aiopsd_http_auth_failures_total{reason="invalid"})");
  for (const auto& [kind, reason] : forgeries) {
    const std::string forged = idp.forge(kind);
    auto r = status_with(forged);
    EXPECT_EQ(r.status, 401u) << kind << ": " << r.body;
    EXPECT_NE(r.www_authenticate.find("invalid_token"), std::string::npos) << kind;
    EXPECT_NE(logs().find(reason), std::string::npos) << kind << " not logged as " << reason;
    // Neither the token nor its signature reach the log.
    const std::string signature = forged.substr(forged.rfind('.') + 1);
    if (!signature.empty()) {
      EXPECT_EQ(logs().find(signature), std::string::npos) << kind;
    }
    EXPECT_EQ(logs().find(forged), std::string::npos) << kind;
  }
  EXPECT_EQ(daemon_->metric(R"(aiopsd_http_auth_failures_total{reason="invalid"})"),
            invalid_before + static_cast<double>(forgeries.size()));
  EXPECT_EQ(logs().find(rs), std::string::npos);
}

TEST_F(OidcEndToEnd, AKeyRotationAtTheProviderIsPickedUpWithoutRestart) {
  OidcProvider idp(dir_.path());
  start_daemon(idp.issuer());
  ASSERT_TRUE(eventually([this] { return keys_known(); }, std::chrono::seconds(20))) << logs();
  const std::string before = idp.token();
  ASSERT_EQ(status_with(before).status, 200u) << logs();
  const double fetches = daemon_->metric(R"(aiopsd_oidc_jwks_fetches_total{outcome="ok"})");

  // New keys sign from now on and the old ones are withdrawn: the first token
  // with the new kid makes the daemon fetch the JWKS again (rate-limited).
  idp.rotate(/*drop=*/true);
  const std::string after = idp.token();
  ASSERT_TRUE(
      eventually([&] { return status_with(after).status == 200u; }, std::chrono::seconds(15)))
      << logs();
  EXPECT_GT(daemon_->metric(R"(aiopsd_oidc_jwks_fetches_total{outcome="ok"})"), fetches);
  // A token signed by a withdrawn key no longer verifies.
  EXPECT_EQ(status_with(before).status, 401u);
}

TEST_F(OidcEndToEnd, AProviderDownAtStartMeans503UntilItsKeysArrive) {
  const std::uint16_t port = free_loopback_port();
  const std::string issuer = fmt::format("http://127.0.0.1:{}", port);
  start_daemon(issuer);  // nothing listens there yet: the daemon starts anyway
  HttpClient anyone(daemon_->port());
  EXPECT_EQ(anyone.get("/healthz").status, 200u);
  // A JWT before the keys are known: 503 with Retry-After, never let through.
  auto early = status_with("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln");
  EXPECT_EQ(early.status, 503u) << early.body;
  EXPECT_FALSE(early.retry_after.empty());
  EXPECT_EQ(daemon_->metric(R"(aiopsd_http_auth_failures_total{reason="unavailable"})"), 1);

  OidcProvider idp(dir_.path(), {{"OIDC_PORT", std::to_string(port)}});
  ASSERT_EQ(idp.issuer(), issuer);
  ASSERT_TRUE(eventually([this] { return keys_known(); }, std::chrono::seconds(30))) << logs();
  EXPECT_EQ(status_with(idp.token()).status, 200u) << logs();
  EXPECT_GE(daemon_->metric(R"(aiopsd_oidc_jwks_fetches_total{outcome="error"})"), 1);
}

}  // namespace
}  // namespace aiopsd::testing
