// The simulated device never runs the shell startup files of whoever runs
// the tests (a slow or lock-taking ~/.bashrc once stalled every SSH test):
// rc files planted in the device's home must not run, in either isolation
// mode, and the host's /etc/passwd is left as it was.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "tests/harness/sshd_fixture.hpp"

namespace aiopsd::testing {
namespace {

namespace fs = std::filesystem;

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs `command` on the device with the OpenSSH client; returns its output.
std::string ssh_run(const SshdFixture& sshd, const std::string& command) {
  const fs::path out = sshd.dir() / "client.out";
  const std::string cmd =
      "/usr/bin/ssh -F /dev/null -o BatchMode=yes -o ConnectTimeout=10 -o UserKnownHostsFile=" +
      sshd.known_hosts_file() + " -i " + sshd.key_file() + " -p " + std::to_string(sshd.port()) +
      " " + sshd.user() + "@127.0.0.1 '" + command + "' >" + out.string() + " 2>&1 </dev/null";
  const int status = std::system(cmd.c_str());
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << slurp(out);
  return slurp(out);
}

void plant_rc_files(const fs::path& home, const fs::path& marker) {
  for (const char* rc : {".bashrc", ".bash_profile", ".profile", ".zshenv", ".bash_login"}) {
    std::ofstream(home / rc) << "echo " << rc << " >>" << marker.string() << "\nsleep 5\n";
  }
  fs::create_directories(home / ".ssh");
  std::ofstream(home / ".ssh" / "rc") << "echo ssh-rc >>" << marker.string() << "\n";
}

class SimDeviceIsolation : public ::testing::TestWithParam<SshdFixture::Isolation> {};

TEST_P(SimDeviceIsolation, NoShellStartupFileRuns) {
  const std::string passwd_before = slurp("/etc/passwd");
  SshdFixture sshd(GetParam());
  const fs::path marker = sshd.dir() / "rc-ran";
  plant_rc_files(sshd.dir(), marker);
  const std::string out = ssh_run(sshd, "show version");
  EXPECT_NE(out.find("Generic Network OS"), std::string::npos) << out;
  EXPECT_EQ(sshd.commands_received(), std::vector<std::string>{"show version"});
  EXPECT_FALSE(fs::exists(marker)) << "ran: " << slurp(marker);
  EXPECT_EQ(slurp("/etc/passwd"), passwd_before);
}

INSTANTIATE_TEST_SUITE_P(Modes, SimDeviceIsolation,
                         ::testing::Values(SshdFixture::Isolation::kAuto,
                                           SshdFixture::Isolation::kEnvironment),
                         [](const auto& info) {
                           return info.param == SshdFixture::Isolation::kAuto
                                      ? std::string("Auto")
                                      : std::string("Environment");
                         });

}  // namespace
}  // namespace aiopsd::testing
