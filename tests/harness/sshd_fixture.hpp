#pragma once
// A real OpenSSH server on 127.0.0.1 (sim_device.sh: /usr/sbin/sshd with the
// device simulator as ForceCommand), keys generated into a temporary
// directory. Stopped and removed on destruction.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "connectors/ssh/ssh_executor.hpp"
#include "tests/harness/child_process.hpp"

namespace aiopsd::testing {

class SshdFixture {
 public:
  // How the device is kept from running the host user's shell rc files
  // (sim_device.sh says why): kAuto takes the private mount namespace with
  // /bin/sh when running as root and able to, else kEnvironment (HOME in the
  // fixture directory, SHLVL=1, no ~/.ssh/rc), which kEnvironment forces.
  enum class Isolation { kAuto, kEnvironment };
  explicit SshdFixture(Isolation isolation = Isolation::kAuto);
  ~SshdFixture();
  SshdFixture(const SshdFixture&) = delete;
  SshdFixture& operator=(const SshdFixture&) = delete;

  std::uint16_t port() const { return port_; }
  std::string user() const;
  std::string key_file() const { return (dir_ / "id_ed25519").string(); }
  std::string known_hosts_file() const { return (dir_ / "known_hosts").string(); }
  const std::filesystem::path& dir() const { return dir_; }

  // Every command the simulated device received, in order.
  std::vector<std::string> commands_received() const;
  // The device goes down: its established connections close too (sshd's
  // per-connection processes outlive the listener otherwise).
  void stop();
  void restart();  // same port, same keys; established connections are closed
  // The server closes every established connection and keeps listening.
  void drop_connections();
  // Established connections stop answering without closing (SIGSTOP), as
  // behind a dead link; drop_connections() and stop() end them.
  void freeze_connections();
  // A new host key: the known_hosts file written at start no longer matches.
  void regenerate_host_key();
  ssh::Device device(const std::string& name) const;
  // A `devices:` entry for aiopsd's config pointing at this server.
  std::string device_yaml(const std::string& name) const;
  std::string log() const;

 private:
  void start();
  std::vector<int> connection_pids() const;
  std::filesystem::path dir_;
  std::uint16_t port_ = 0;
  Isolation isolation_;
  std::unique_ptr<ChildProcess> process_;
};

}  // namespace aiopsd::testing
