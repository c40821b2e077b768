#include "tests/harness/kafka_fixture.hpp"

#include <signal.h>

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <thread>

namespace aiopsd::testing {

namespace fs = std::filesystem;

namespace {

std::size_t count_replies(const std::string& log) {
  std::size_t n = 0;
  std::size_t pos = 0;
  while (pos < log.size()) {
    auto end = log.find('\n', pos);
    if (end == std::string::npos) break;
    std::string_view line(log.data() + pos, end - pos);
    if (line == "ok" || line.starts_with("error: ")) ++n;
    pos = end + 1;
  }
  return n;
}

}  // namespace

KafkaFixture::KafkaFixture(const std::vector<KafkaTopic>& topics, int brokers) {
  // The command FIFO's reader may be gone (the harness exited): a failed
  // write, not a SIGPIPE that kills the whole test binary.
  ::signal(SIGPIPE, SIG_IGN);
  std::string tmpl = (fs::temp_directory_path() / "aiopsd-kafka-XXXXXX").string();
  if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  dir_ = tmpl;
  const std::string fifo = (dir_ / "commands").string();
  if (::mkfifo(fifo.c_str(), 0600) != 0) throw std::runtime_error("mkfifo failed");
  // O_RDWR does not block on a FIFO (Linux) and keeps a writer open, so the
  // child's open(O_RDONLY) returns at once and it reads EOF only after close.
  fifo_fd_ = ::open(fifo.c_str(), O_RDWR | O_CLOEXEC);
  if (fifo_fd_ < 0) throw std::runtime_error("open fifo failed");

  std::vector<std::string> argv{AIOPSD_KAFKA_MOCK, "--brokers", std::to_string(brokers),
                                "--commands", fifo};
  for (const auto& t : topics) {
    argv.emplace_back("--topic");
    argv.push_back(fmt::format("{}:{}", t.name, t.partitions));
  }
  process_ = std::make_unique<ChildProcess>(std::move(argv), (dir_ / "kafka_mock.log").string());

  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  for (;;) {
    std::string out = process_->log();
    if (auto pos = out.find("bootstrap="); pos != std::string::npos) {
      auto end = out.find('\n', pos);
      if (end != std::string::npos) {
        bootstrap_ = out.substr(pos + 10, end - pos - 10);
        return;
      }
    }
    if (!process_->running() || std::chrono::steady_clock::now() >= deadline) {
      stop();
      std::error_code ec;
      fs::remove_all(dir_, ec);
      throw std::runtime_error(fmt::format("kafka_mock did not start; its output:\n{}", out));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

KafkaFixture::~KafkaFixture() {
  stop();
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

void KafkaFixture::command(const std::string& line) {
  if (!process_) throw std::runtime_error("kafka_mock is not running");
  const std::size_t before = count_replies(process_->log());
  const std::string data = line + "\n";
  if (::write(fifo_fd_, data.data(), data.size()) != static_cast<ssize_t>(data.size()))
    throw std::runtime_error("write to kafka_mock failed");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (count_replies(process_->log()) <= before) {
    if (std::chrono::steady_clock::now() >= deadline || !process_->running())
      throw std::runtime_error(
          fmt::format("kafka_mock did not answer '{}'; its output:\n{}", line, process_->log()));
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

void KafkaFixture::down(int broker_id) { command(fmt::format("down {}", broker_id)); }
void KafkaFixture::up(int broker_id) { command(fmt::format("up {}", broker_id)); }

void KafkaFixture::stop() {
  if (process_) {
    if (fifo_fd_ >= 0) {
      constexpr std::string_view kQuit = "quit\n";
      (void)!::write(fifo_fd_, kQuit.data(), kQuit.size());
    }
    if (!process_->wait_exit(std::chrono::seconds(5))) process_->stop();
    process_.reset();
  }
  if (fifo_fd_ >= 0) {
    ::close(fifo_fd_);
    fifo_fd_ = -1;
  }
}

std::string KafkaFixture::log() const {
  std::ifstream in(dir_ / "kafka_mock.log");
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace aiopsd::testing
