#include "tests/harness/sshd_fixture.hpp"

#include <fmt/format.h>
#include <pwd.h>
#include <signal.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace aiopsd::testing {

namespace fs = std::filesystem;

SshdFixture::SshdFixture(Isolation isolation) : isolation_(isolation) {
  std::string tmpl = (fs::temp_directory_path() / "aiopsd-sshd-XXXXXX").string();
  if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  dir_ = tmpl;
  port_ = free_loopback_port();
  start();
}

SshdFixture::~SshdFixture() {
  stop();  // its connections too: a frozen one would otherwise stay stopped forever
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

void SshdFixture::start() {
  const std::string script = std::string(AIOPSD_HARNESS_DIR) + "/sim_device.sh";
  const char* mode = isolation_ == Isolation::kEnvironment ? "environment" : "auto";
  process_ = std::make_unique<ChildProcess>(
      std::vector<std::string>{"/usr/bin/env", fmt::format("AIOPSD_SIM_ISOLATION={}", mode),
                               "/bin/bash", script, "start", dir_.string(), std::to_string(port_)},
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

void SshdFixture::stop() {
  drop_connections();
  process_.reset();
}

std::vector<int> SshdFixture::connection_pids() const {
  // The listener's descendants serve the connections; each started its own
  // session (setsid), so the process group kill in ChildProcess misses them.
  std::ifstream pid_file(dir_ / "sshd.pid");
  pid_t listener = 0;
  if (!process_ || !(pid_file >> listener) || listener <= 0) return {};
  std::set<pid_t> tree{listener};
  for (bool grew = true; grew;) {
    grew = false;
    for (const auto& entry : fs::directory_iterator("/proc")) {
      const std::string name = entry.path().filename().string();
      if (name.find_first_not_of("0123456789") != std::string::npos) continue;
      std::ifstream stat(entry.path() / "stat");
      std::string line;
      if (!std::getline(stat, line)) continue;
      // pid (comm) state ppid ...: comm may hold spaces, so parse after the last ')'.
      auto close = line.rfind(')');
      if (close == std::string::npos) continue;
      std::istringstream rest(line.substr(close + 1));
      char state = 0;
      pid_t ppid = 0;
      rest >> state >> ppid;
      auto pid = static_cast<pid_t>(std::stol(name));
      if (tree.contains(ppid) && tree.insert(pid).second) grew = true;
    }
  }
  tree.erase(listener);
  return {tree.begin(), tree.end()};
}

void SshdFixture::freeze_connections() {
  for (pid_t pid : connection_pids()) ::kill(pid, SIGSTOP);
}

void SshdFixture::drop_connections() {
  auto tree = connection_pids();
  for (pid_t pid : tree) ::kill(pid, SIGKILL);
  // Their ends of the sockets are closed once they are gone.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  for (pid_t pid : tree) {
    while (::kill(pid, 0) == 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
}

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
