// kafka_mock: librdkafka's mock cluster as a process of its own, so a test
// can SIGKILL and restart the daemon while the broker keeps its log.
//
//   kafka_mock --brokers N --topic NAME:PARTITIONS ... [--commands PATH]
//
// Prints exactly one line `bootstrap=<addr>` on stdout, then reads commands
// line by line from stdin (or from PATH, e.g. a FIFO, with --commands):
//   down N   take broker N (1-based) down
//   up N     bring broker N back
//   quit     exit
// Also exits on end of input, SIGTERM and SIGINT. Replies `ok` or `error: ...`
// on stdout for each command.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "connectors/kafka/kafka_client.hpp"

namespace {

int usage() {
  std::cerr << "usage: kafka_mock --brokers N --topic NAME:PARTITIONS ... [--commands PATH]\n";
  return 2;
}

// Executes one command line; returns false on `quit`.
bool run_command(aiopsd::kafka::EmbeddedCluster& cluster, const std::string& line, int brokers) {
  std::istringstream in(line);
  std::string verb;
  in >> verb;
  if (verb.empty()) return true;
  if (verb == "quit") return false;
  int id = 0;
  if ((verb == "down" || verb == "up") && (in >> id) && id >= 1 && id <= brokers) {
    cluster.set_broker_up(id, verb == "up");
    std::printf("ok\n");
  } else {
    std::printf("error: unknown command: %s\n", line.c_str());
  }
  std::fflush(stdout);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  int brokers = 1;
  std::vector<std::pair<std::string, int>> topics;
  std::string commands_path;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (i + 1 >= argc) return usage();
    std::string value = argv[++i];
    if (arg == "--brokers") {
      brokers = std::atoi(value.c_str());
      if (brokers < 1) return usage();
    } else if (arg == "--topic") {
      auto colon = value.rfind(':');
      int partitions = colon == std::string::npos ? 1 : std::atoi(value.c_str() + colon + 1);
      if (colon == 0 || partitions < 1) return usage();
      topics.emplace_back(value.substr(0, colon), partitions);
    } else if (arg == "--commands") {
      commands_path = value;
    } else {
      return usage();
    }
  }

  // Block the stop signals before librdkafka starts threads (they inherit the
  // mask), and read them from a signalfd in the command loop.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  int sig_fd = signalfd(-1, &stop_signals, SFD_CLOEXEC);
  if (sig_fd < 0) {
    std::perror("kafka_mock: signalfd");
    return 1;
  }

  int cmd_fd = STDIN_FILENO;
  if (!commands_path.empty()) {
    cmd_fd = ::open(commands_path.c_str(), O_RDONLY | O_CLOEXEC);
    if (cmd_fd < 0) {
      std::perror("kafka_mock: open commands");
      return 1;
    }
  }

  std::string error;
  auto cluster = aiopsd::kafka::EmbeddedCluster::start(brokers, error);
  if (!cluster) {
    std::cerr << "kafka_mock: " << error << "\n";
    return 1;
  }
  for (const auto& [name, partitions] : topics) {
    if (!cluster->create_topic(name, partitions, error)) {
      std::cerr << "kafka_mock: " << error << "\n";
      return 1;
    }
  }
  std::printf("bootstrap=%s\n", cluster->bootstrap().c_str());
  std::fflush(stdout);

  std::string pending;
  bool running = true;
  while (running) {
    pollfd fds[2] = {{cmd_fd, POLLIN, 0}, {sig_fd, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) continue;  // EINTR
    if (fds[1].revents & POLLIN) break;    // SIGTERM / SIGINT
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      char buf[512];
      ssize_t n = ::read(cmd_fd, buf, sizeof buf);
      if (n <= 0) break;  // end of input
      pending.append(buf, static_cast<std::size_t>(n));
      for (auto nl = pending.find('\n'); running && nl != std::string::npos;
           nl = pending.find('\n')) {
        std::string line = pending.substr(0, nl);
        pending.erase(0, nl + 1);
        running = run_command(*cluster, line, brokers);
      }
    }
  }
  cluster.reset();
  if (cmd_fd != STDIN_FILENO) ::close(cmd_fd);
  ::close(sig_fd);
  return 0;
}
