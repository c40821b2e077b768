#include "tests/harness/monitoring_fixtures.hpp"

#include <fmt/format.h>
#include <stdlib.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <fstream>
#include <stdexcept>

namespace aiopsd::testing {

namespace {
std::filesystem::path make_temp_dir(const char* prefix) {
  std::string tmpl =
      (std::filesystem::temp_directory_path() / fmt::format("{}-XXXXXX", prefix)).string();
  if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  return tmpl;
}

void write_file(const std::filesystem::path& p, const std::string& text) {
  std::ofstream(p) << text;
}

std::string http_get(std::uint16_t port, const std::string& target) {
  namespace http = boost::beast::http;
  boost::asio::io_context io;
  boost::beast::tcp_stream stream(io);
  stream.connect(boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port));
  http::request<http::empty_body> req{http::verb::get, target, 11};
  req.set(http::field::host, "127.0.0.1");
  http::write(stream, req);
  boost::beast::flat_buffer buf;
  http::response<http::string_body> res;
  http::read(stream, buf, res);
  return res.body();
}

std::string url_encode(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '_' || c == '-' || c == '.') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

// Prometheus' HTTP client settings for aiopsd (common/config HTTPClientConfig),
// as flow-mapping lines at `indent`: scheme, tls_config, authorization.
std::string client_settings(const AiopsdEndpoint& e, const std::string& indent, bool with_scheme) {
  std::string out;
  if (!e.ca_file.empty()) {
    if (with_scheme) out += indent + "scheme: https\n";
    boost::json::object tls{{"ca_file", e.ca_file}};
    if (!e.cert_file.empty()) {
      tls["cert_file"] = e.cert_file;
      tls["key_file"] = e.key_file;
    }
    out += indent + "tls_config: " + boost::json::serialize(tls) + "\n";
  }
  if (!e.token_file.empty()) {
    out += indent + "authorization: " +
           boost::json::serialize(
               boost::json::object{{"type", "Bearer"}, {"credentials_file", e.token_file}}) +
           "\n";
  }
  return out;
}

void remove_dir(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}
}  // namespace

PrometheusFixture::PrometheusFixture(const AiopsdEndpoint& aiopsd,
                                     const std::string& alert_rules_yaml)
    : dir_(make_temp_dir("aiopsd-prom")), port_(free_loopback_port()) {
  write_file(dir_ / "rules.yml", alert_rules_yaml);
  write_file(dir_ / "prometheus.yml",
             fmt::format(R"(global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [rules.yml]
alerting:
  alertmanagers:
    - api_version: v2
{1}      static_configs: [{{targets: ["127.0.0.1:{0}"]}}]
scrape_configs:
  - job_name: aiopsd
{2}    static_configs: [{{targets: ["127.0.0.1:{0}"]}}]
)",
                         aiopsd.port, client_settings(aiopsd, "      ", true),
                         client_settings(aiopsd, "    ", true)));
  process_ = std::make_unique<ChildProcess>(
      std::vector<std::string>{"/usr/bin/prometheus",
                               "--config.file=" + (dir_ / "prometheus.yml").string(),
                               "--storage.tsdb.path=" + (dir_ / "data").string(),
                               fmt::format("--web.listen-address=127.0.0.1:{}", port_),
                               "--rules.alert.resend-delay=1s", "--log.level=warn"},
      (dir_ / "prometheus.log").string());
  if (!wait_for_port(port_, std::chrono::seconds(30))) {
    throw std::runtime_error("prometheus did not start: " + process_->log());
  }
}

PrometheusFixture::~PrometheusFixture() {
  process_.reset();
  remove_dir(dir_);
}

std::optional<double> PrometheusFixture::query(const std::string& promql) const {
  try {
    auto body = boost::json::parse(http_get(port_, "/api/v1/query?query=" + url_encode(promql)));
    const auto& result = body.at("data").at("result").as_array();
    if (result.empty()) return std::nullopt;
    return std::stod(std::string(result[0].at("value").as_array()[1].as_string()));
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

PrometheusAnswer PrometheusFixture::query_raw(const std::string& promql) const {
  PrometheusAnswer answer;
  try {
    auto body = boost::json::parse(http_get(port_, "/api/v1/query?query=" + url_encode(promql)))
                    .as_object();
    if (body.at("status").as_string() != "success") {
      answer.error = fmt::format("{}: {}", boost::json::serialize(body["errorType"]),
                                 boost::json::serialize(body["error"]));
      return answer;
    }
    answer.ok = true;
    const auto& data = body.at("data").as_object();
    const auto& type = data.at("resultType").as_string();
    answer.results =
        (type == "vector" || type == "matrix") ? data.at("result").as_array().size() : 1;
  } catch (const std::exception& e) {
    answer.error = e.what();
  }
  return answer;
}

std::string PrometheusFixture::get(const std::string& target) const {
  return http_get(port_, target);
}

AlertmanagerFixture::AlertmanagerFixture(const AiopsdEndpoint& aiopsd,
                                         std::chrono::seconds repeat_interval)
    : dir_(make_temp_dir("aiopsd-am")), port_(free_loopback_port()) {
  const std::string http_config = client_settings(aiopsd, "          ", false);
  write_file(
      dir_ / "alertmanager.yml",
      fmt::format(R"(route:
  receiver: aiopsd
  group_by: ['...']
  group_wait: 100ms
  group_interval: 1s
  repeat_interval: {}s
receivers:
  - name: aiopsd
    webhook_configs:
      - url: {}://127.0.0.1:{}/webhook/alertmanager
        send_resolved: true
{}
)",
                  repeat_interval.count(), aiopsd.ca_file.empty() ? "http" : "https", aiopsd.port,
                  http_config.empty() ? std::string() : "        http_config:\n" + http_config));
  process_ = std::make_unique<ChildProcess>(
      std::vector<std::string>{"/usr/bin/prometheus-alertmanager",
                               "--config.file=" + (dir_ / "alertmanager.yml").string(),
                               "--storage.path=" + (dir_ / "data").string(),
                               fmt::format("--web.listen-address=127.0.0.1:{}", port_),
                               "--cluster.listen-address=", "--log.level=warn"},
      (dir_ / "alertmanager.log").string());
  if (!wait_for_port(port_, std::chrono::seconds(30))) {
    throw std::runtime_error("alertmanager did not start: " + process_->log());
  }
}

AlertmanagerFixture::~AlertmanagerFixture() {
  process_.reset();
  remove_dir(dir_);
}

}  // namespace aiopsd::testing
