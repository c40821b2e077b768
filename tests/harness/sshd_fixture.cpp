#include "tests/harness/sshd_fixture.hpp"

#include <fmt/format.h>
#include <pwd.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <fstream>
#include <stdexcept>

namespace aiopsd::testing {

namespace fs = std::filesystem;

SshdFixture::SshdFixture() {
  std::string tmpl = (fs::temp_directory_path() / "aiopsd-sshd-XXXXXX").string();
  if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  dir_ = tmpl;
  port_ = free_loopback_port();
  start();
}

SshdFixture::~SshdFixture() {
  process_.reset();
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

void SshdFixture::start() {
  const std::string script = std::string(AIOPSD_HARNESS_DIR) + "/sim_device.sh";
  process_ = std::make_unique<ChildProcess>(
      std::vector<std::string>{"/bin/bash", script, "start", dir_.string(), std::to_string(port_)},
      (dir_ / "sshd.log").string());
  // Bounded wait for the port; give up at once if sshd exited (bad config, port taken).
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (!wait_for_port(port_, std::chrono::milliseconds(200))) {
    if (!process_->running() || std::chrono::steady_clock::now() >= deadline) {
      std::string log = process_->log();
      process_.reset();
      throw std::runtime_error(
          fmt::format("sshd on 127.0.0.1:{} did not start; its output:\n{}", port_, log));
    }
  }
}

void SshdFixture::stop() { process_.reset(); }

void SshdFixture::restart() {
  stop();
  start();
}

void SshdFixture::regenerate_host_key() {
  std::string known = [&] {
    std::ifstream in(known_hosts_file());
    return std::string(std::istreambuf_iterator<char>(in), {});
  }();
  stop();
  fs::remove(dir_ / "host_ed25519");
  fs::remove(dir_ / "host_ed25519.pub");
  start();
  // sim_device.sh rewrote known_hosts for the new key; put the old one back.
  std::ofstream(known_hosts_file(), std::ios::trunc) << known;
}

std::string SshdFixture::user() const {
  const passwd* pw = getpwuid(geteuid());
  return pw ? pw->pw_name : "root";
}

std::vector<std::string> SshdFixture::commands_received() const {
  std::vector<std::string> out;
  std::ifstream in(dir_ / "commands.log");
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    out.emplace_back(boost::json::parse(line).at("command").as_string());
  }
  return out;
}

ssh::Device SshdFixture::device(const std::string& name) const {
  ssh::Device d;
  d.name = name;
  d.host = "127.0.0.1";
  d.port = port_;
  d.user = user();
  d.credential.kind = ssh::Credential::Kind::kKeyFile;
  d.credential.key_file = key_file();
  d.known_hosts_file = known_hosts_file();
  return d;
}

std::string SshdFixture::device_yaml(const std::string& name) const {
  return fmt::format(R"(  - name: {}
    host: 127.0.0.1
    port: {}
    user: {}
    known_hosts: {}
    credential: {{key_file: {}}}
)",
                     name, port_, user(), known_hosts_file(), key_file());
}

std::string SshdFixture::log() const { return process_ ? process_->log() : std::string(); }

}  // namespace aiopsd::testing
