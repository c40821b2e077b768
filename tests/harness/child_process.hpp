#pragma once
// A child process for test peers (Prometheus, Alertmanager): started in its
// own process group with output to a log file, stopped with SIGTERM (then
// SIGKILL) on destruction, so tests never leave processes behind.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace aiopsd::testing {

class ChildProcess {
 public:
  ChildProcess(std::vector<std::string> argv, std::string log_file);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  bool running();
  // Waits for the process to exit on its own; returns its wait status.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);
  void stop(std::chrono::milliseconds grace = std::chrono::seconds(5));
  pid_t pid() const { return pid_; }
  std::string log() const;

 private:
  pid_t pid_ = -1;
  std::string log_file_;
};

// A loopback port that was free a moment ago.
std::uint16_t free_loopback_port();
// Polls until 127.0.0.1:port accepts a TCP connection.
bool wait_for_port(std::uint16_t port, std::chrono::milliseconds timeout);

}  // namespace aiopsd::testing
