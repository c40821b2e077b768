// The aiopsd binary as systemd runs it: readiness over NOTIFY_SOCKET once the
// listener is bound, and SIGTERM draining queued work before a clean exit.

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/daemon/test_support.hpp"
#include "tests/harness/child_process.hpp"

namespace aiopsd::testing {
namespace {

class NotifySocket {
 public:
  explicit NotifySocket(const std::string& path) : path_(path) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
    ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    timeval tv{0, 100'000};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~NotifySocket() { ::close(fd_); }
  // Everything received so far, appended to `seen`.
  void drain(std::string& seen) {
    char buf[512];
    for (ssize_t n; (n = ::recv(fd_, buf, sizeof buf, 0)) > 0;)
      seen.append(buf, static_cast<std::size_t>(n)) += '\n';
  }

 private:
  std::string path_;
  int fd_ = -1;
};

TEST(Lifecycle, NotifiesReadinessAndDrainsOnSigterm) {
  TempDir dir;
  std::uint16_t port = free_loopback_port();
  dir.write("rules.yaml", R"(rules:
  - name: note
    match: {alertname: Note}
    actions: [{log: {message: "noted {{ labels.id }}"}}]
)");
  std::string config = dir.write("aiopsd.yaml", fmt::format(R"(server: {{listen: "127.0.0.1:{}"}}
audit: {{path: audit.log}}
rules: [rules.yaml]
)",
                                                            port));
  NotifySocket notify(dir.file("notify.sock"));
  ::setenv("NOTIFY_SOCKET", dir.file("notify.sock").c_str(), 1);
  ChildProcess daemon({AIOPSD_BINARY, "run", "--config", config}, dir.file("aiopsd.log"));
  ::unsetenv("NOTIFY_SOCKET");
  std::string notes;
  ASSERT_TRUE(eventually([&] {
    notify.drain(notes);
    return notes.find("READY=1") != std::string::npos;
  })) << daemon.log();
  ASSERT_TRUE(wait_for_port(port, std::chrono::seconds(1)));  // ready means listening

  HttpClient c(port);
  // SIGHUP reloads: a rule added to the file takes effect, and a broken file
  // is refused while the daemon keeps running.
  dir.write("rules.yaml", R"(rules:
  - name: note
    match: {alertname: Note}
    actions: [{log: {message: "noted {{ labels.id }}"}}]
  - name: added
    match: {alertname: Added}
    actions: [{log: {message: "added by reload"}}]
)");
  ::kill(daemon.pid(), SIGHUP);
  ASSERT_TRUE(eventually([&] { return daemon.log().find("reload of") != std::string::npos; }))
      << daemon.log();
  ASSERT_EQ(c.post("/api/v2/alerts", R"([{"labels":{"alertname":"Added"}}])").status, 200u);
  ASSERT_TRUE(eventually([&] { return daemon.log().find("added by reload") != std::string::npos; }))
      << daemon.log();
  dir.write("rules.yaml", "rules: [");
  ::kill(daemon.pid(), SIGHUP);
  ASSERT_TRUE(eventually([&] { return daemon.log().find("reload rejected") != std::string::npos; }))
      << daemon.log();
  EXPECT_NE(c.get("/metrics").body.find("aiopsd_config_last_reload_successful 0"),
            std::string::npos);

  std::string batch = "[";
  for (int i = 0; i < 200; ++i)
    batch += fmt::format(R"({}{{"labels":{{"alertname":"Note","id":"n{}"}}}})", i ? "," : "", i);
  batch += "]";
  ASSERT_EQ(c.post("/api/v2/alerts", batch).status, 200u);
  ::kill(daemon.pid(), SIGTERM);
  auto exited = daemon.wait_exit(std::chrono::seconds(30));
  ASSERT_TRUE(exited) << daemon.log();
  int status = *exited;
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << daemon.log();
  notify.drain(notes);
  EXPECT_NE(notes.find("STOPPING=1"), std::string::npos);
  // Every accepted alert was processed before exit.
  EXPECT_EQ(read_audit(dir.file("audit.log")).size(), 201u);  // and the Added one
  EXPECT_NE(daemon.log().find("level=info comp=daemon msg=\"stopped\""), std::string::npos)
      << daemon.log();
}

}  // namespace
}  // namespace aiopsd::testing
