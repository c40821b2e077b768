// The daemon under a small descriptor limit and a flood of idle connections
// (the real binary under `prlimit --nofile`, a real sshd): it must not spin
// on EMFILE or flood its log, /healthz must answer, and a remediation must
// still reach the device.

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include "tests/daemon/test_support.hpp"
#include "tests/harness/child_process.hpp"
#include "tests/harness/sshd_fixture.hpp"

namespace aiopsd::testing {
namespace {

constexpr const char* kRules = R"(rules:
  - name: bounce
    match: {alertname: PortDown}
    actions:
      - ssh:
          device: "{{ labels.device }}"
          params: {labels.interface: '[0-9]+/[0-9]+/[0-9]+'}
          commands: ["interface {{ labels.interface }} shutdown"]
)";

// An idle client: connected, never sends a byte. -1 when the connect failed.
int idle_connection(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// curl, bounded in time: the daemon not answering is a failure, not a hang.
std::string curl(const std::string& args) {
  std::string out;
  FILE* p =
      ::popen(("curl -sS --max-time 5 -o - -w ' HTTP%{http_code}' " + args + " 2>&1").c_str(), "r");
  if (!p) return out;
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  ::pclose(p);
  return out;
}

std::size_t count_lines_with(const std::string& text, const std::string& needle) {
  std::istringstream in(text);
  std::size_t n = 0;
  for (std::string line; std::getline(in, line);) n += line.find(needle) != std::string::npos;
  return n;
}

TEST(ConnectionLimit, IdleFloodUnderSmallFdLimitKeepsHealthzAndRemediation) {
  // This process holds the idle connections: it needs more descriptors than the daemon.
  rlimit rl{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &rl), 0);
  ASSERT_GE(rl.rlim_max, 1024u) << "the test needs 1024 descriptors";
  rl.rlim_cur = std::max<rlim_t>(rl.rlim_cur, 1024);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &rl), 0);

  SshdFixture sshd;
  TempDir dir;
  const std::uint16_t port = free_loopback_port();
  dir.write("rules.yaml", kRules);
  const std::string config =
      dir.write("aiopsd.yaml", fmt::format(R"(server: {{listen: "127.0.0.1:{}"}}
audit: {{path: audit.log}}
rules: [rules.yaml]
ssh: {{policy: {{allow: ['interface [0-9/]+ shutdown']}}}}
devices:
{})",
                                           port, sshd.device_yaml("sw1")));
  ChildProcess daemon(
      {"/usr/bin/prlimit", "--nofile=300:300", "--", AIOPSD_BINARY, "run", "--config", config},
      dir.file("aiopsd.log"));
  ASSERT_TRUE(wait_for_port(port, std::chrono::seconds(30))) << daemon.log();

  std::vector<int> idle;
  for (int i = 0; i < 600; ++i) {
    const int fd = idle_connection(port);
    if (fd >= 0) idle.push_back(fd);
  }
  EXPECT_EQ(idle.size(), 600u);
  std::this_thread::sleep_for(std::chrono::seconds(2));  // let it take them all in

  const std::string health = curl(fmt::format("http://127.0.0.1:{}/healthz", port));
  EXPECT_NE(health.find("HTTP200"), std::string::npos) << health << "\n" << daemon.log();
  const std::string post = curl(fmt::format(
      R"(-H 'Content-Type: application/json' -d '[{{"labels":{{"alertname":"PortDown","device":"sw1","interface":"1/1/7"}}}}]' http://127.0.0.1:{}/api/v2/alerts)",
      port));
  EXPECT_NE(post.find("HTTP200"), std::string::npos) << post << "\n" << daemon.log();
  EXPECT_TRUE(
      eventually([&] { return sshd.commands_received().size() == 1; }, std::chrono::seconds(30)))
      << daemon.log();
  EXPECT_EQ(sshd.commands_received(), std::vector<std::string>{"interface 1/1/7 shutdown"});

  const std::string metrics = curl(fmt::format("http://127.0.0.1:{}/metrics", port));
  const auto evicted =
      metric_value(metrics, R"(aiopsd_http_connections_total{event="evicted_idle"})");
  ASSERT_TRUE(evicted) << metrics;
  EXPECT_GT(*evicted, 0);
  for (int fd : idle) ::close(fd);

  const std::string log = daemon.log();
  EXPECT_NE(log.find("server.max_connections 1024 lowered to"), std::string::npos) << log;
  EXPECT_LT(count_lines_with(log, "accept failed"), 20u) << log.substr(0, 4000);
  EXPECT_LT(log.size(), 1u << 20);
}

}  // namespace
}  // namespace aiopsd::testing
