#include "tests/harness/oidc_fixture.hpp"

#include <fmt/format.h>
#include <stdio.h>
#include <unistd.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <thread>

namespace aiopsd::testing {

namespace {

namespace fs = std::filesystem;
namespace http = boost::beast::http;

const std::string kOidcDir = std::string(AIOPSD_HARNESS_DIR) + "/oidc";
constexpr auto kStartTimeout = std::chrono::seconds(20);
constexpr auto kRequestTimeout = std::chrono::seconds(10);

// `node` as a PATH lookup would find it (execvp's rule); empty when there is none.
std::string find_node() {
  const char* path = std::getenv("PATH");
  std::string_view rest = path ? path : "/usr/local/bin:/usr/bin:/bin";
  while (true) {
    auto colon = rest.find(':');
    std::string dir(rest.substr(0, colon));
    if (dir.empty()) dir = ".";
    std::string candidate = dir + "/node";
    if (::access(candidate.c_str(), X_OK) == 0 && !fs::is_directory(candidate)) return candidate;
    if (colon == std::string_view::npos) return {};
    rest.remove_prefix(colon + 1);
  }
}

// The first line `node --version` prints (e.g. "v20.20.2"), or empty.
std::string node_version(const std::string& node) {
  std::string quoted = "'";
  for (char c : node) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  quoted += "'";
  FILE* p = ::popen((quoted + " --version 2>/dev/null </dev/null").c_str(), "r");
  if (!p) return {};
  std::string out;
  char buf[256];
  while (std::fgets(buf, sizeof buf, p)) out += buf;
  ::pclose(p);
  if (auto nl = out.find('\n'); nl != std::string::npos) out.resize(nl);
  return out;
}

std::string compute_unavailable_reason() {
  const std::string node = find_node();
  if (node.empty()) return "the OIDC provider needs Node.js >= 20.12: no `node` in PATH";
  const std::string v = node_version(node);
  int major = 0, minor = 0;
  if (std::sscanf(v.c_str(), "v%d.%d", &major, &minor) != 2) {
    return fmt::format("the OIDC provider needs Node.js >= 20.12: `{} --version` said \"{}\"", node,
                       v);
  }
  if (major < 20 || (major == 20 && minor < 12)) {
    return fmt::format("the OIDC provider needs Node.js >= 20.12, {} is {}", node, v);
  }
  for (const char* pkg : {"oidc-provider", "jose"}) {
    if (!fs::exists(fs::path(kOidcDir) / "node_modules" / pkg / "package.json")) {
      return fmt::format(
          "{}/node_modules/{} missing: run scripts/bootstrap (or npm ci in that folder)", kOidcDir,
          pkg);
    }
  }
  return {};
}

std::string base64(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    unsigned v = (static_cast<unsigned char>(in[i]) << 16) |
                 (static_cast<unsigned char>(in[i + 1]) << 8) |
                 static_cast<unsigned char>(in[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += kAlphabet[(v >> s) & 63];
  }
  if (i < in.size()) {
    unsigned v = static_cast<unsigned char>(in[i]) << 16;
    if (i + 1 < in.size()) v |= static_cast<unsigned char>(in[i + 1]) << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < in.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string url_encode(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '_' || c == '-' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

struct Reply {
  unsigned status = 0;
  std::string body;
};

// One request on a new connection to 127.0.0.1:port; every step bounded by kRequestTimeout.
Reply http_request(std::uint16_t port, http::verb verb, const std::string& target,
                   const std::string& body = {}, const std::string& content_type = {},
                   const std::string& authorization = {}) {
  boost::asio::io_context io;
  boost::beast::tcp_stream stream(io);
  stream.expires_after(kRequestTimeout);
  stream.connect(boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port));
  http::request<http::string_body> req{verb, target, 11};
  req.set(http::field::host, fmt::format("127.0.0.1:{}", port));
  req.set(http::field::connection, "close");
  if (!authorization.empty()) req.set(http::field::authorization, authorization);
  if (!content_type.empty()) req.set(http::field::content_type, content_type);
  if (!body.empty() || verb == http::verb::post) {
    req.body() = body;
    req.prepare_payload();
  }
  stream.expires_after(kRequestTimeout);
  http::write(stream, req);
  boost::beast::flat_buffer buf;
  http::response<http::string_body> res;
  stream.expires_after(kRequestTimeout);
  http::read(stream, buf, res);
  boost::beast::error_code ec;
  stream.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ec);
  return {res.result_int(), std::move(res.body())};
}

std::string trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  return s;
}

std::string new_log_file(const std::string& dir) {
  fs::create_directories(dir);
  fs::path p = fs::path(dir) / "oidc-provider.log";
  for (int n = 2; fs::exists(p); ++n) {
    p = fs::path(dir) / fmt::format("oidc-provider-{}.log", n);
  }
  return p.string();
}

// The provider's ready line (complete, without its newline), once it is in the log.
std::string ready_line(const std::string& log) {
  static constexpr std::string_view kReady = R"({"ready":true)";
  for (std::size_t pos = 0; pos < log.size();) {
    std::size_t nl = log.find('\n', pos);
    if (nl == std::string::npos) break;  // an incomplete last line: not yet
    std::string_view line(log.data() + pos, nl - pos);
    if (line.substr(0, kReady.size()) == kReady) return std::string(line);
    pos = nl + 1;
  }
  return {};
}

}  // namespace

std::string OidcProvider::unavailable_reason() {
  static const std::string reason = compute_unavailable_reason();
  return reason;
}

OidcProvider::OidcProvider(const std::string& dir,
                           std::vector<std::pair<std::string, std::string>> env) {
  if (auto why = unavailable_reason(); !why.empty()) throw std::runtime_error(why);
  // /usr/bin/env sets the environment and execs node in the same process (ChildProcess execs
  // argv[0] as is); ports 0 0: the provider picks free ports and reports them.
  std::vector<std::string> argv{"/usr/bin/env", "OIDC_STDIN=0"};
  for (auto& [name, value] : env) {
    if (name.empty() || name.find('=') != std::string::npos) {
      throw std::invalid_argument("OidcProvider: bad environment variable name \"" + name + "\"");
    }
    argv.push_back(name + "=" + value);
  }
  // No port arguments: a free port each, unless env sets OIDC_PORT.
  argv.insert(argv.end(), {find_node(), kOidcDir + "/provider.mjs"});
  process_ = std::make_unique<ChildProcess>(std::move(argv), new_log_file(dir));

  const auto deadline = std::chrono::steady_clock::now() + kStartTimeout;
  std::string line;
  while ((line = ready_line(process_->log())).empty()) {
    if (!process_->running()) {
      throw std::runtime_error("oidc provider exited before it was ready:\n" + process_->log());
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      process_->stop();
      throw std::runtime_error("oidc provider not ready within 20 s:\n" + process_->log());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  try {
    const auto ready = boost::json::parse(line).as_object();
    issuer_ = ready.at("issuer").as_string();
    port_ = static_cast<std::uint16_t>(ready.at("port").to_number<int>());
    control_port_ = static_cast<std::uint16_t>(ready.at("control_port").to_number<int>());
    audience_ = ready.at("audience").as_string();
    groups_claim_ = ready.at("groups_claim").as_string();
    client_id_ = ready.at("client_id").as_string();
    client_secret_ = ready.at("client_secret").as_string();
  } catch (const std::exception& e) {
    process_->stop();
    throw std::runtime_error(fmt::format("oidc provider: bad ready line ({}): {}", e.what(), line));
  }
}

OidcProvider::~OidcProvider() = default;  // ChildProcess stops the process group

std::string OidcProvider::token(bool es256, std::string_view scope) {
  std::string form = "grant_type=client_credentials";
  if (!scope.empty()) form += "&scope=" + url_encode(scope);
  auto reply =
      http_request(port_, http::verb::post, "/token", form, "application/x-www-form-urlencoded",
                   "Basic " + base64(client_id(es256) + ":" + client_secret_));
  if (reply.status != 200) {
    throw std::runtime_error(
        fmt::format("oidc provider: token endpoint answered {}: {}", reply.status, reply.body));
  }
  auto answer = boost::json::parse(reply.body).as_object();
  return std::string(answer.at("access_token").as_string());
}

std::string OidcProvider::forge(std::string_view kind, bool es256, std::string_view claims_json) {
  const std::string target =
      fmt::format("/forge/{}?alg={}", url_encode(kind), es256 ? "ES256" : "RS256");
  return trim(control(!claims_json.empty(), target, std::string(claims_json)));
}

void OidcProvider::rotate(bool drop) { control(true, drop ? "/rotate?drop=1" : "/rotate"); }

void OidcProvider::set_groups(std::string_view comma_list) {
  control(true, "/groups?set=" + url_encode(comma_list));
}

boost::json::object OidcProvider::state() {
  return boost::json::parse(control(false, "/state")).as_object();
}

std::string OidcProvider::control(bool post, const std::string& target, const std::string& body) {
  auto reply = http_request(control_port_, post ? http::verb::post : http::verb::get, target, body,
                            body.empty() ? std::string() : "application/json");
  if (reply.status != 200) {
    throw std::runtime_error(fmt::format("oidc provider: {} {} answered {}: {}",
                                         post ? "POST" : "GET", target, reply.status, reply.body));
  }
  return reply.body;
}

void OidcProvider::stop() { process_->stop(); }

bool OidcProvider::running() { return process_->running(); }

std::string OidcProvider::log() const { return process_->log(); }

}  // namespace aiopsd::testing
