#pragma once
// Real Prometheus and Alertmanager (Debian packages) on loopback, configured
// to talk to an aiopsd listening on a given port, over plain HTTP or over TLS
// (optionally with a client certificate) with a bearer token. Each owns a
// temporary directory and its process; both are stopped and removed on
// destruction.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "tests/harness/child_process.hpp"

namespace aiopsd::testing {

// The answer to an instant query, as far as tests need it.
struct PrometheusAnswer {
  bool ok = false;          // the API answered {"status":"success"}
  std::string error;        // otherwise Prometheus' errorType and error (or the transport's)
  std::size_t results = 0;  // series in a vector or matrix; 1 for a scalar or string
};

// How Prometheus and Alertmanager reach aiopsd.
struct AiopsdEndpoint {
  std::uint16_t port = 0;
  std::string ca_file{};    // set: https, the server verified against this CA (and IP 127.0.0.1)
  std::string cert_file{};  // set with key_file: a client certificate (mTLS)
  std::string key_file{};
  std::string token_file{};  // set: "Authorization: Bearer <the file's content>"
};

class PrometheusFixture {
 public:
  // `alert_rules_yaml` is a Prometheus rule file; aiopsd is both the
  // alertmanager and a scrape target (with the same TLS settings and token).
  PrometheusFixture(const AiopsdEndpoint& aiopsd, const std::string& alert_rules_yaml);
  PrometheusFixture(std::uint16_t aiopsd_port, const std::string& alert_rules_yaml)
      : PrometheusFixture(AiopsdEndpoint{.port = aiopsd_port}, alert_rules_yaml) {}
  ~PrometheusFixture();
  std::uint16_t port() const { return port_; }
  // Instant query through the HTTP API; returns the first sample's value.
  std::optional<double> query(const std::string& promql) const;
  // Instant query through the HTTP API: whether it parsed and evaluated, and
  // how many series it returned.
  PrometheusAnswer query_raw(const std::string& promql) const;
  // GET on the HTTP API (e.g. "/api/v1/rules"); the response body.
  std::string get(const std::string& target) const;
  std::string log() const { return process_->log(); }

 private:
  std::filesystem::path dir_;
  std::uint16_t port_ = 0;
  std::unique_ptr<ChildProcess> process_;
};

class AlertmanagerFixture {
 public:
  // Routes every alert to aiopsd's webhook receiver, with short group and
  // repeat intervals so re-sends happen within a test.
  AlertmanagerFixture(const AiopsdEndpoint& aiopsd, std::chrono::seconds repeat_interval);
  AlertmanagerFixture(std::uint16_t aiopsd_port, std::chrono::seconds repeat_interval)
      : AlertmanagerFixture(AiopsdEndpoint{.port = aiopsd_port}, repeat_interval) {}
  ~AlertmanagerFixture();
  std::uint16_t port() const { return port_; }
  std::string log() const { return process_->log(); }

 private:
  std::filesystem::path dir_;
  std::uint16_t port_ = 0;
  std::unique_ptr<ChildProcess> process_;
};

}  // namespace aiopsd::testing
