// Bearer tokens and TLS on the daemon's listener: the daemon in-process on
// port 0 with real tokens (file and environment), certificates made by the
// openssl CLI, and Beast clients (plain and TLS) over loopback.

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/write.hpp>
#include <mutex>
#include <thread>

#include "daemon/app.hpp"
#include "daemon/http/auth.hpp"
#include "daemon/http/http_metrics.hpp"
#include "daemon/log.hpp"
#include "daemon/version.hpp"
#include "tests/daemon/test_support.hpp"
#include "tests/daemon/tls_support.hpp"

namespace aiopsd::daemon {
namespace {

namespace beast = boost::beast;
using testing::HttpClient;
using testing::HttpResult;
using testing::TempDir;
using testing::TlsClientOptions;
using testing::TlsHttpClient;

constexpr const char* kIngestToken = "ingest-0123456789abcdef-token";
constexpr const char* kAdminToken = "admin-0123456789abcdef-token";
constexpr const char* kReadToken = "read-0123456789abcdef-token";
constexpr const char* kAdminEnv = "AIOPSD_TEST_ADMIN_TOKEN";

constexpr const char* kAlert =
    R"([{"labels":{"alertname":"InterfaceDown","device":"sw1","interface":"1/1/3"}}])";
constexpr const char* kWebhook =
    R"({"version":"4","status":"firing","alerts":[{"status":"firing","labels":{"alertname":"X"}}]})";

// The tokens block of server.auth, as most tests configure it.
std::string auth_yaml(bool metrics_public) {
  return fmt::format(R"(  auth:
    metrics_public: {}
    tokens:
      - {{name: prometheus, token: {{file: ingest.token}}, scopes: [ingest]}}
      - {{name: ops, token: {{env: {}}}, scopes: [admin]}}
      - {{name: viewer, token: {{file: read.token}}, scopes: [read]}}
)",
                     metrics_public, kAdminEnv);
}

// Sends `head` (request line and fields; no body follows) on an open stream
// and reads one response. The server must answer from the header alone: if it
// waited for the body, the read would time out.
template <class Stream>
HttpResult send_head(Stream& stream, const std::string& head) {
  namespace http = beast::http;
  beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(5));
  boost::asio::write(stream, boost::asio::buffer(head));
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  http::read(stream, buffer, parser);
  auto res = parser.release();
  return {static_cast<unsigned>(res.result_int()),
          res.body(),
          {},
          std::string(res[http::field::content_type]),
          std::string(res[http::field::www_authenticate]),
          res.keep_alive()};
}

HttpResult send_head(std::uint16_t port, const std::string& head) {
  boost::asio::io_context io;
  beast::tcp_stream stream(io);
  stream.connect({boost::asio::ip::make_address("127.0.0.1"), port});
  return send_head(stream, head);
}

class AuthDaemon : public ::testing::Test {
 protected:
  void TearDown() override {
    if (app_) app_->stop();
  }

  // `server_tail` goes under `server:` after listen and max_body.
  void start(const std::string& server_tail) {
    ::setenv(kAdminEnv, kAdminToken, 1);
    dir_.write("ingest.token", std::string(kIngestToken) + "\n");
    dir_.write("read.token", kReadToken);
    dir_.write("rules.yaml", "rules: []\n");
    std::string path = dir_.write("aiopsd.yaml",
                                  "server:\n  listen: \"127.0.0.1:0\"\n"
                                  "  max_body: 64KiB\n" +
                                      server_tail +
                                      "audit: {path: audit.log}\n"
                                      "rules: [rules.yaml]\n");
    rules::ConfigErrors errors(path);
    auto cfg = load_config(path, errors);
    ASSERT_TRUE(cfg) << errors.to_string();
    AppOptions opts;
    opts.notify_systemd = false;
    app_ = std::make_unique<App>(std::move(cfg), opts);
    app_->start();
  }

  std::uint16_t port() const { return app_->http_port(); }
  double metric(const std::string& series) {
    return testing::metric_value(app_->metrics().serialize(), series).value_or(-1);
  }
  double failures(const std::string& reason) {
    return metric(fmt::format(R"(aiopsd_http_auth_failures_total{{reason="{}"}})", reason));
  }
  std::string logs() { return log_.text(); }

  testing::LogCapture log_;  // declared first: outlives the app
  TempDir dir_;
  std::unique_ptr<App> app_;
};

TEST_F(AuthDaemon, MissingTokenIs401WithBearerChallengeAndCounted) {
  start(auth_yaml(true));
  auto r = HttpClient(port()).post("/api/v2/alerts", kAlert);
  EXPECT_EQ(r.status, 401u);
  EXPECT_EQ(r.www_authenticate, R"(Bearer realm="aiopsd")");
  EXPECT_FALSE(r.keep_alive);
  EXPECT_EQ(r.body,
            R"x({"status":"error","error":{"code":"unauthorized","message":"a bearer token is )x"
            R"x(required (Authorization: Bearer <token>)"}})x");
  EXPECT_EQ(failures("missing"), 1);
  EXPECT_EQ(failures("invalid"), 0);
  EXPECT_EQ(metric(R"(aiopsd_http_requests_total{code="401",route="/api/v2/alerts"})"), 1);
  EXPECT_EQ(metric(R"(aiopsd_events_received_total{connector="alertmanager_v2"})"), 0);
}

TEST_F(AuthDaemon, WrongTokenIs401InvalidToken) {
  start(auth_yaml(true));
  for (const std::string& bad : {std::string("not-the-token-0123456789"),
                                 std::string(kIngestToken) + "x", std::string(kIngestToken, 20)}) {
    auto r = HttpClient(port(), bad).post("/api/v2/alerts", kAlert);
    EXPECT_EQ(r.status, 401u) << bad;
    EXPECT_EQ(r.www_authenticate, R"(Bearer realm="aiopsd", error="invalid_token")");
  }
  // Another scheme, and a bearer token repeated in two fields, are not accepted either.
  auto basic = send_head(port(),
                         "GET /api/v1/status HTTP/1.1\r\nHost: a\r\nAuthorization: Basic "
                         "b3BzOmFkbWlu\r\n\r\n");
  EXPECT_EQ(basic.status, 401u);
  auto twice = send_head(port(), fmt::format("GET /api/v1/status HTTP/1.1\r\nHost: a\r\n"
                                             "Authorization: Bearer {0}\r\n"
                                             "Authorization: Bearer {0}\r\n\r\n",
                                             kAdminToken));
  EXPECT_EQ(twice.status, 401u);
  EXPECT_EQ(failures("invalid"), 5);
  EXPECT_EQ(failures("missing"), 0);
  EXPECT_EQ(metric(R"(aiopsd_events_received_total{connector="alertmanager_v2"})"), 0);
  // The scheme is case-insensitive (RFC 7235).
  auto lower = send_head(port(), fmt::format("GET /api/v1/status HTTP/1.1\r\nHost: a\r\n"
                                             "Authorization: bearer   {}\r\n\r\n",
                                             kAdminToken));
  EXPECT_EQ(lower.status, 200u) << lower.body;
}

TEST_F(AuthDaemon, IngestTokenPostsAlertsAndIsForbiddenEverywhereElse) {
  start(auth_yaml(true));
  HttpClient c(port(), kIngestToken);
  auto r = c.post("/api/v2/alerts", kAlert);
  EXPECT_EQ(r.status, 200u) << r.body;
  EXPECT_TRUE(r.keep_alive);
  EXPECT_EQ(c.post("/webhook/alertmanager", kWebhook).status, 200u);
  EXPECT_EQ(metric(R"(aiopsd_events_received_total{connector="alertmanager_v2"})"), 1);
  EXPECT_EQ(metric(R"(aiopsd_events_received_total{connector="alertmanager_webhook"})"), 1);

  auto status = HttpClient(port(), kIngestToken).get("/api/v1/status");
  EXPECT_EQ(status.status, 403u);
  EXPECT_EQ(status.www_authenticate,
            R"(Bearer realm="aiopsd", error="insufficient_scope", scope="read")");
  EXPECT_NE(status.body.find("GET /api/v1/status needs a token with the read scope"),
            std::string::npos)
      << status.body;
  // Routes that do not exist yet (reload, approvals) need admin: 403, not 404.
  for (const char* target : {"/-/reload", "/api/v1/approvals/1/approve", "/api/v1/silences"}) {
    auto res = HttpClient(port(), kIngestToken).post(target, "{}");
    EXPECT_EQ(res.status, 403u) << target;
    EXPECT_NE(res.www_authenticate.find(R"(scope="admin")"), std::string::npos) << target;
  }
  EXPECT_EQ(failures("forbidden"), 4);
  EXPECT_NE(logs().find("'prometheus' lacks the admin scope"), std::string::npos) << logs();
}

TEST_F(AuthDaemon, AdminTokenReachesAdminRoutesButCannotIngest) {
  start(auth_yaml(true));
  HttpClient c(port(), kAdminToken);
  auto status = c.get("/api/v1/status");
  ASSERT_EQ(status.status, 200u) << status.body;
  auto body = boost::json::parse(status.body).as_object();
  EXPECT_EQ(body.at("token"), "ops");  // what handlers record as "approved by"
  EXPECT_EQ(std::string_view(body.at("version").as_string()), kVersion);
  EXPECT_FALSE(kVersion.empty());
  EXPECT_EQ(body.at("tls"), false);
  EXPECT_GE(body.at("uptime_seconds").as_int64(), 0);
  // Authorised: an admin token may reload.
  EXPECT_EQ(c.post("/-/reload", "").status, 200u);
  // Scopes are separate: an admin token does not post alerts.
  auto ingest = HttpClient(port(), kAdminToken).post("/api/v2/alerts", kAlert);
  EXPECT_EQ(ingest.status, 403u);
  EXPECT_EQ(metric(R"(aiopsd_events_received_total{connector="alertmanager_v2"})"), 0);
}

TEST_F(AuthDaemon, ReadTokenReadsAdminResourcesButChangesNothing) {
  start(auth_yaml(true));
  auto status = HttpClient(port(), kReadToken).get("/api/v1/status");
  ASSERT_EQ(status.status, 200u) << status.body;
  EXPECT_EQ(boost::json::parse(status.body).at("token"), "viewer");
  EXPECT_EQ(HttpClient(port(), kReadToken).post("/api/v1/status", "{}").status, 403u);
  EXPECT_EQ(HttpClient(port(), kReadToken).post("/api/v2/alerts", kAlert).status, 403u);
}

TEST_F(AuthDaemon, HealthReadinessAndPublicMetricsNeedNoToken) {
  start(auth_yaml(true));
  HttpClient c(port());
  EXPECT_EQ(c.get("/healthz").status, 200u);
  EXPECT_EQ(c.get("/readyz").status, 200u);
  auto m = c.get("/metrics");
  EXPECT_EQ(m.status, 200u);
  EXPECT_NE(m.body.find("aiopsd_http_auth_failures_total"), std::string::npos);
  EXPECT_EQ(failures("missing"), 0);
}

TEST_F(AuthDaemon, PrivateMetricsNeedAReadOrAdminToken) {
  start(auth_yaml(false));
  auto none = HttpClient(port()).get("/metrics");
  EXPECT_EQ(none.status, 401u);
  EXPECT_EQ(none.body.find("aiopsd_"), std::string::npos);
  EXPECT_EQ(HttpClient(port(), kIngestToken).get("/metrics").status, 403u);
  EXPECT_EQ(HttpClient(port(), kReadToken).get("/metrics").status, 200u);
  EXPECT_EQ(HttpClient(port(), kAdminToken).get("/metrics").status, 200u);
  EXPECT_EQ(HttpClient(port()).get("/healthz").status, 200u);
}

TEST_F(AuthDaemon, BodyIsNeitherReadNorParsedBeforeAuthentication) {
  start(auth_yaml(true));
  // 100 MiB announced, over the 64KiB limit, never sent: 401 from the header
  // alone, not 413.
  auto oversize = send_head(port(),
                            "POST /api/v2/alerts HTTP/1.1\r\nHost: a\r\n"
                            "Content-Type: application/json\r\nContent-Length: 104857600\r\n\r\n");
  EXPECT_EQ(oversize.status, 401u);
  EXPECT_FALSE(oversize.keep_alive);
  // A client waiting for "100 Continue" gets the 401 instead, and never sends.
  auto expect = send_head(port(),
                          "POST /webhook/alertmanager HTTP/1.1\r\nHost: a\r\n"
                          "Expect: 100-continue\r\nContent-Length: 5000\r\n\r\n");
  EXPECT_EQ(expect.status, 401u);
  // A malformed body with a wrong token: 401, not 400.
  auto malformed = HttpClient(port(), "wrong-token-0123456789abcdef")
                       .post("/api/v2/alerts", R"([{"labels": nope)");
  EXPECT_EQ(malformed.status, 401u);
  auto chunked = send_head(port(),
                           "POST /api/v2/alerts HTTP/1.1\r\nHost: a\r\n"
                           "Transfer-Encoding: chunked\r\n\r\n");
  EXPECT_EQ(chunked.status, 401u);
  // Nothing was decoded, so nothing was rejected as a body.
  const std::string exposition = app_->metrics().serialize();
  EXPECT_EQ(exposition.find("aiopsd_events_rejected_total{"), std::string::npos) << exposition;
  EXPECT_EQ(metric(R"(aiopsd_http_requests_total{code="413",route="/api/v2/alerts"})"), -1);
  EXPECT_EQ(failures("missing"), 3);
  EXPECT_EQ(failures("invalid"), 1);

  // With the right token the same requests meet the body checks.
  // (Content-Length first: the limit is checked once every field is parsed.)
  auto big = send_head(port(), fmt::format("POST /api/v2/alerts HTTP/1.1\r\nHost: a\r\n"
                                           "Content-Length: 104857600\r\n"
                                           "Authorization: Bearer {}\r\n\r\n",
                                           kIngestToken));
  EXPECT_EQ(big.status, 413u);
  auto bad = HttpClient(port(), kIngestToken).post("/api/v2/alerts", R"([{"labels": nope)");
  EXPECT_EQ(bad.status, 400u);
  EXPECT_EQ(
      metric(R"(aiopsd_events_rejected_total{connector="alertmanager_v2",reason="invalid_json"})"),
      1);
  EXPECT_EQ(
      metric(
          R"(aiopsd_events_rejected_total{connector="alertmanager_v2",reason="body_too_large"})"),
      1);
}

TEST_F(AuthDaemon, PathSpellingsCannotBorrowALesserScope) {
  start(auth_yaml(true));
  for (const char* target : {"/webhook/../api/v1/status", "/webhook/./x", "/webhook/a/b",
                             "/webhook/%2e%2e", "/webhook//x", "/api/v2/alerts/"}) {
    EXPECT_EQ(HttpClient(port(), kIngestToken).post(target, "[]").status, 403u) << target;
  }
  for (const char* target : {"/api/v1/../../-/reload", "/api/v1//x", "/api/v1/%2e%2e/x"}) {
    EXPECT_EQ(HttpClient(port(), kReadToken).get(target).status, 403u) << target;
  }
}

TEST_F(AuthDaemon, TokenValuesNeverReachTheLog) {
  start(auth_yaml(true));
  HttpClient(port(), "wrong-token-0123456789abcdef").post("/api/v2/alerts", kAlert);
  HttpClient(port(), kIngestToken).get("/api/v1/status");
  HttpClient(port(), kAdminToken).post("/api/v2/alerts", kAlert);
  const std::string text = logs();
  EXPECT_NE(text.find("invalid bearer token"), std::string::npos) << text;
  EXPECT_NE(text.find("'ops' lacks the ingest scope"), std::string::npos) << text;
  for (const char* secret : {kIngestToken, kAdminToken, kReadToken, "wrong-token-0123456789abcdef"})
    EXPECT_EQ(text.find(secret), std::string::npos) << secret;
}

TEST_F(AuthDaemon, WithoutAuthEveryRouteIsOpenAndAnonymous) {
  start("");
  auto status = HttpClient(port()).get("/api/v1/status");
  ASSERT_EQ(status.status, 200u) << status.body;
  EXPECT_TRUE(boost::json::parse(status.body).at("token").is_null());
  EXPECT_EQ(HttpClient(port()).post("/api/v2/alerts", kAlert).status, 200u);
  EXPECT_EQ(HttpClient(port(), "any-token-at-all-0123456789").get("/api/v1/status").status, 200u);
}

TEST(RouteAccess, ListedRoutesAreNarrowAndEverythingElseIsAdmin) {
  using http::verb;
  struct Case {
    verb method;
    const char* target;
    Access expected;
  };
  for (const Case& c : std::initializer_list<Case>{
           {verb::get, "/healthz", Access::kOpen},
           {verb::head, "/readyz?x=1", Access::kOpen},
           {verb::get, "/metrics", Access::kOpen},
           {verb::post, "/metrics", Access::kAdmin},
           {verb::post, "/api/v2/alerts", Access::kIngest},
           {verb::post, "/api/v2/alerts?source=loki", Access::kIngest},
           {verb::get, "/api/v2/alerts", Access::kAdmin},
           {verb::post, "/api/v1/alerts", Access::kIngest},
           {verb::post, "/webhook/grafana", Access::kIngest},
           {verb::post, "/webhook/", Access::kAdmin},
           {verb::post, "/webhook/a/b", Access::kAdmin},
           {verb::post, "/webhook/..", Access::kAdmin},
           {verb::get, "/api/v1/status", Access::kRead},
           {verb::get, "/api/v1/approvals/abc", Access::kRead},
           {verb::post, "/api/v1/approvals/abc/approve", Access::kAdmin},
           {verb::delete_, "/api/v1/silences/abc", Access::kAdmin},
           {verb::get, "/api/v1/../x", Access::kAdmin},
           {verb::post, "/-/reload", Access::kAdmin},
           {verb::get, "/", Access::kAdmin},
           {verb::options, "/healthzz", Access::kAdmin},
       }) {
    EXPECT_EQ(route_access(c.method, c.target, true), c.expected)
        << http::to_string(c.method) << " " << c.target;
  }
  EXPECT_EQ(route_access(verb::get, "/metrics", false), Access::kRead);
}

// set_auth swaps the tokens for the requests that follow, on a live server.
class EchoHandler final : public HttpHandler {
 public:
  HttpResponse handle(HttpRequest& req, const RequestContext& ctx) override {
    return json_response(http::status::ok,
                         boost::json::serialize(boost::json::value(ctx.principal)), req.version(),
                         req.keep_alive());
  }
  HttpResponse body_too_large(const HttpRequest& req, std::uint64_t) override {
    return json_response(http::status::payload_too_large, "{}", req.version(), false);
  }
};

TEST(HttpServerAuth, SetAuthRotatesTokensForLaterRequests) {
  prometheus::Registry registry;
  HttpMetrics metrics{registry};
  auto auth_with = [&](const std::string& name, const std::string& token) {
    AuthConfig cfg;
    ApiToken t;
    t.name = name;
    t.scopes = static_cast<std::uint8_t>(ApiScope::kAdmin);
    t.digest = token_digest(token);
    cfg.tokens.push_back(t);
    return std::make_shared<HttpAuth>(cfg, metrics);
  };
  boost::asio::io_context io;
  EchoHandler handler;
  HttpServerOptions options;
  options.auth = auth_with("old", "old-token-0123456789abcdef");
  HttpServer server(io, options, handler);
  const std::uint16_t port = server.start();
  auto work = boost::asio::make_work_guard(io);
  std::thread thread([&] { io.run(); });

  EXPECT_EQ(HttpClient(port, "old-token-0123456789abcdef").get("/x").body, R"("old")");
  server.set_auth(auth_with("new", "new-token-0123456789abcdef"));
  EXPECT_EQ(HttpClient(port, "old-token-0123456789abcdef").get("/x").status, 401u);
  EXPECT_EQ(HttpClient(port, "new-token-0123456789abcdef").get("/x").body, R"("new")");

  server.stop();
  work.reset();
  thread.join();
}

// TLS: certificates from the openssl CLI, a Beast ssl_stream client.
class TlsDaemon : public AuthDaemon {
 protected:
  std::string tls_yaml(const std::string& extra = "") {
    return fmt::format("  tls:\n    cert_file: {}\n    key_file: {}\n{}", pki_.server_cert(),
                       pki_.server_key(), extra);
  }
  TlsClientOptions client() const { return {.ca_file = pki_.ca()}; }
  TlsClientOptions client_with_cert() const {
    return {.ca_file = pki_.ca(), .cert_file = pki_.client_cert(), .key_file = pki_.client_key()};
  }

  testing::TestPki pki_;
};

TEST_F(TlsDaemon, ServesHttpsWithBearerTokens) {
  start(tls_yaml() + auth_yaml(true));
  TlsHttpClient open(port(), client());
  EXPECT_EQ(open.protocol(), "TLSv1.3");
  EXPECT_EQ(open.get("/healthz").status, 200u);
  auto missing = open.post("/api/v2/alerts", kAlert);
  EXPECT_EQ(missing.status, 401u);
  EXPECT_EQ(missing.www_authenticate, R"(Bearer realm="aiopsd")");

  TlsHttpClient ingest(port(), client(), kIngestToken);
  EXPECT_EQ(ingest.post("/api/v2/alerts", kAlert).status, 200u);
  EXPECT_EQ(ingest.post("/api/v2/alerts", kAlert).status, 200u);  // keep-alive over TLS
  EXPECT_EQ(metric(R"(aiopsd_events_received_total{connector="alertmanager_v2"})"), 2);
  auto status = TlsHttpClient(port(), client(), kAdminToken).get("/api/v1/status");
  ASSERT_EQ(status.status, 200u);
  EXPECT_EQ(boost::json::parse(status.body).at("tls"), true);
  EXPECT_EQ(boost::json::parse(status.body).at("token"), "ops");
  // TLS 1.2 is accepted at the default minimum.
  TlsClientOptions tls12 = client();
  tls12.max_version = TLS1_2_VERSION;
  TlsHttpClient v12(port(), tls12);
  EXPECT_EQ(v12.protocol(), "TLSv1.2");
  EXPECT_EQ(v12.get("/healthz").status, 200u);
  EXPECT_NE(logs().find("TLS 1.2+; bearer tokens: prometheus, ops, viewer; /metrics open"),
            std::string::npos)
      << logs();
}

TEST_F(TlsDaemon, UnauthenticatedBodyIsNotReadOverTlsEither) {
  start(tls_yaml() + auth_yaml(true));
  TlsHttpClient c(port(), client());
  auto r = send_head(c.stream(),
                     "POST /api/v2/alerts HTTP/1.1\r\nHost: a\r\n"
                     "Content-Length: 104857600\r\n\r\n");
  EXPECT_EQ(r.status, 401u);
  EXPECT_EQ(app_->metrics().serialize().find("aiopsd_events_rejected_total{"), std::string::npos);
}

TEST_F(TlsDaemon, Tls11IsRefusedByTheServer) {
  start(tls_yaml());
  TlsClientOptions old = client();
  old.legacy = true;
  old.min_version = TLS1_1_VERSION;
  old.max_version = TLS1_1_VERSION;
  try {
    TlsHttpClient c(port(), old);
    FAIL() << "TLS 1.1 handshake succeeded with " << c.protocol();
  } catch (const boost::system::system_error& e) {
    // The server's protocol_version alert, not a client-side refusal.
    EXPECT_NE(std::string(e.what()).find("alert protocol version"), std::string::npos) << e.what();
  }
  EXPECT_EQ(TlsHttpClient(port(), client()).get("/healthz").status, 200u);
}

TEST_F(TlsDaemon, MinVersion13RefusesTls12) {
  start(tls_yaml("    min_version: \"1.3\"\n"));
  TlsClientOptions tls12 = client();
  tls12.max_version = TLS1_2_VERSION;
  try {
    TlsHttpClient c(port(), tls12);
    FAIL() << "TLS 1.2 handshake succeeded";
  } catch (const boost::system::system_error& e) {
    EXPECT_NE(std::string(e.what()).find("alert protocol version"), std::string::npos) << e.what();
  }
  TlsHttpClient ok(port(), client());
  EXPECT_EQ(ok.protocol(), "TLSv1.3");
  EXPECT_EQ(ok.get("/healthz").status, 200u);
}

TEST_F(TlsDaemon, PlainHttpOnTheTlsPortGetsNoAnswer) {
  start(tls_yaml());
  EXPECT_THROW(HttpClient(port()).get("/healthz"), boost::system::system_error);
}

// With TLS 1.3 the client finishes its handshake before the server checks
// the client certificate: the refusal arrives on the first read.
std::string mtls_failure(std::uint16_t port, const TlsClientOptions& options) {
  try {
    TlsHttpClient c(port, options);
    auto r = c.get("/healthz");
    return fmt::format("answered {}", r.status);
  } catch (const boost::system::system_error& e) {
    return e.what();
  }
}

TEST_F(TlsDaemon, MutualTlsRequiresAClientCertificateFromTheConfiguredCa) {
  start(tls_yaml(fmt::format("    client_ca_file: {}\n", pki_.ca())));
  EXPECT_NE(mtls_failure(port(), client()).find("certificate required"), std::string::npos)
      << mtls_failure(port(), client());
  TlsClientOptions rogue = client();
  rogue.cert_file = pki_.file("rogue-client.pem");
  rogue.key_file = pki_.file("rogue-client.key");
  EXPECT_NE(mtls_failure(port(), rogue).find("unknown ca"), std::string::npos)
      << mtls_failure(port(), rogue);
  TlsClientOptions tls12 = client();
  tls12.max_version = TLS1_2_VERSION;
  EXPECT_NE(mtls_failure(port(), tls12).find("handshake failure"), std::string::npos)
      << mtls_failure(port(), tls12);

  TlsHttpClient c(port(), client_with_cert());
  EXPECT_EQ(c.get("/healthz").status, 200u);
  EXPECT_EQ(c.post("/api/v2/alerts", kAlert).status, 200u);  // no server.auth: cert only
}

}  // namespace
}  // namespace aiopsd::daemon
