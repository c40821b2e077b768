#pragma once
// Starts aiopsd::App in-process on 127.0.0.1:0 from YAML text, in a temporary
// directory, with the audit log at audit.log there.

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>

#include "daemon/app.hpp"
#include "daemon/metrics.hpp"
#include "tests/daemon/test_support.hpp"

namespace aiopsd::testing {

class DaemonUnderTest {
 public:
  // `config_tail` is appended after server/audit (ssh, devices, engine...).
  // `files` (name -> text) are written next to the config first (catalogs...).
  // `server_tail` goes under `server:` after `listen:` (auth, tls), indented.
  DaemonUnderTest(const std::string& config_tail, const std::string& rules_yaml,
                  daemon::AppOptions options = {},
                  const std::map<std::string, std::string>& files = {},
                  const std::string& server_tail = {}) {
    for (const auto& [name, text] : files) dir_.write(name, text);
    dir_.write("rules.yaml", rules_yaml);
    std::string path = dir_.write(
        "aiopsd.yaml", "server:\n  listen: \"127.0.0.1:0\"\n" + server_tail +
                           "audit: {path: audit.log}\nrules: [rules.yaml]\n" + config_tail);
    rules::ConfigErrors errors(path);
    auto cfg = daemon::load_config(path, errors);
    if (!cfg) throw std::runtime_error(errors.to_string());
    options.notify_systemd = false;
    app_ = std::make_unique<daemon::App>(std::move(cfg), options);
    app_->start();
  }
  ~DaemonUnderTest() { app_->stop(); }

  daemon::App& app() { return *app_; }
  std::uint16_t port() const { return app_->http_port(); }
  std::vector<boost::json::object> audit() { return read_audit(dir_.file("audit.log")); }
  double metric(const std::string& series) {
    return metric_value(app_->metrics().serialize(), series).value_or(-1);
  }
  const TempDir& dir() const { return dir_; }

 private:
  TempDir dir_;
  std::unique_ptr<daemon::App> app_;
};

}  // namespace aiopsd::testing
