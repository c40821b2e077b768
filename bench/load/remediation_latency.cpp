// remediation_latency: alert received -> first byte of the command sent to the
// device, through the daemon's real path (issue 6, comparison 5).
//
// Runs aiopsd::App in process on the given config (HTTP server, decoder,
// engine thread, rules, guards, action runner, audit, SSH executor: the same
// objects `aiopsd run` builds) with one debug hook, AppOptions::
// on_ssh_command_sent, which the executor calls on its io thread right after
// the first libssh2_channel_process_startup() call has handed the exec
// request (the command's bytes) to the kernel. The driver, on this thread,
// posts one alert per request over one keep-alive loopback connection:
//
//   t0 = steady_clock::now()  just before write() of the HTTP request
//   t1 = the hook's timestamp for the command that alert caused
//
// t0 is taken before the request is even sent, so t1 - t0 includes the
// loopback transfer and the HTTP parse: it can only overstate the daemon's
// latency. Both clocks are CLOCK_MONOTONIC in one process.
//
// The rule (from the script) fires one `ssh` action per alert:
// `show marker {{ labels.seq }}` on `{{ labels.device }}`; the hook reads the
// sequence number back from the command. A warm-up pass sends one alert per
// device first (cold sessions, not timed), so every timed command runs on a
// pooled session (the hook says whether it did; the count is reported).
// Alerts go to the devices in turn, --gap-us apart after each command left,
// so with enough devices each one's previous command has finished: the
// figures are latency without queueing, not under load.
//
// Usage: remediation_latency --config FILE --devices N [--alerts 10000]
//          [--gap-us 5000] [--device-prefix dev]
// Prints one JSON object. Exit 0 when every timed alert's command was sent.

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "daemon/app.hpp"
#include "daemon/config.hpp"
#include "rules/config_error.hpp"

namespace aiopsd::bench {
namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string config;
  std::size_t devices = 0;
  std::size_t alerts = 10'000;
  std::chrono::microseconds gap{5000};
  std::string prefix = "dev";
};

// One blocking keep-alive HTTP/1.1 connection: the driver needs nothing more,
// and a blocking write() is the clearest place to take t0.
class HttpClient {
 public:
  explicit HttpClient(std::uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      throw std::runtime_error("connect to aiopsd failed");
    }
  }
  ~HttpClient() { ::close(fd_); }
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  void send(std::string_view request) {
    while (!request.empty()) {
      ssize_t n = ::write(fd_, request.data(), request.size());
      if (n <= 0) throw std::runtime_error("write to aiopsd failed");
      request.remove_prefix(static_cast<std::size_t>(n));
    }
  }

  // Reads one response; returns its status code.
  int read_response() {
    for (;;) {
      auto end = buf_.find("\r\n\r\n");
      if (end != std::string::npos) {
        int status = std::atoi(buf_.c_str() + 9);  // "HTTP/1.1 200 ..."
        std::size_t length = 0;
        auto cl = buf_.find("ontent-Length: ");
        if (cl == std::string::npos) cl = buf_.find("ontent-length: ");
        if (cl != std::string::npos && cl < end)
          length = std::strtoul(buf_.c_str() + cl + 15, nullptr, 10);
        if (buf_.size() >= end + 4 + length) {
          buf_.erase(0, end + 4 + length);
          return status;
        }
      }
      char tmp[4096];
      ssize_t n = ::read(fd_, tmp, sizeof tmp);
      if (n <= 0) throw std::runtime_error("read from aiopsd failed");
      buf_.append(tmp, static_cast<std::size_t>(n));
    }
  }

 private:
  int fd_ = -1;
  std::string buf_;
};

std::string request_for(std::string_view device, std::size_t seq) {
  std::string body = fmt::format(
      R"([{{"labels":{{"alertname":"LatencyCheck","device":"{}","seq":"{}"}}}}])", device, seq);
  return fmt::format(
      "POST /api/v2/alerts HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
      "Content-Length: {}\r\n\r\n{}",
      body.size(), body);
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  auto i = static_cast<std::size_t>(std::lround(p * static_cast<double>(v.size() - 1)));
  return v[i];
}

int usage() {
  fmt::print(stderr,
             "usage: remediation_latency --config FILE --devices N [--alerts 10000] "
             "[--gap-us 5000] [--device-prefix dev]\n");
  return 2;
}

int run(const Options& o) {
  rules::ConfigErrors errors(o.config);
  auto config = daemon::load_config(o.config, errors);
  if (!config) {
    fmt::print(stderr, "{}", errors.to_string());
    return 2;
  }
  const std::size_t total = o.devices + o.alerts;  // warm-up, then timed
  // Written on the SSH io thread, read here: one slot per sequence number.
  std::vector<std::atomic<std::int64_t>> sent_ns(total);
  std::vector<std::atomic<std::int64_t>> requested_ns(total);
  std::vector<std::atomic<std::int64_t>> write_started_ns(total);
  std::vector<std::atomic<bool>> pooled(total);
  daemon::AppOptions options;
  options.notify_systemd = false;
  options.on_ssh_command_sent = [&](const ssh::CommandSent& c) {
    auto at = c.at.time_since_epoch().count();
    auto space = c.command.rfind(' ');
    std::size_t seq = 0;
    if (space == std::string_view::npos ||
        std::from_chars(c.command.data() + space + 1, c.command.data() + c.command.size(), seq)
                .ec != std::errc{} ||
        seq >= total)
      return;
    pooled[seq].store(c.pooled, std::memory_order_relaxed);
    requested_ns[seq].store(c.channel_requested.time_since_epoch().count(),
                            std::memory_order_relaxed);
    write_started_ns[seq].store(c.write_started.time_since_epoch().count(),
                                std::memory_order_relaxed);
    sent_ns[seq].store(at, std::memory_order_release);
  };
  daemon::App app(std::move(config), options);
  app.start();
  HttpClient http(app.http_port());

  // Waits until `seq`'s command left, at most 10 s; returns its timestamp or 0.
  // The timestamp is the hook's, so how soon this loop notices does not
  // change the figure; sleeping briefly leaves the CPUs to the daemon.
  auto wait_sent = [&](std::size_t seq) -> std::int64_t {
    auto deadline = Clock::now() + std::chrono::seconds(10);
    for (;;) {
      if (auto t = sent_ns[seq].load(std::memory_order_acquire); t != 0) return t;
      if (Clock::now() > deadline) return 0;
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  };

  std::vector<double> latency_us, response_us, to_executor_us, channel_open_us, to_write_start_us;
  latency_us.reserve(o.alerts);
  response_us.reserve(o.alerts);
  std::size_t missing = 0, on_pooled = 0, http_errors = 0;
  for (std::size_t seq = 0; seq < total; ++seq) {
    const bool timed = seq >= o.devices;
    if (seq == o.devices) {
      // Every warm-up job done and its session parked before the clock starts.
      app.wait_idle(std::chrono::seconds(30));
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    std::string device = fmt::format("{}{:03d}", o.prefix, seq % o.devices + 1);
    std::string request = request_for(device, seq);
    auto t0 = Clock::now();
    http.send(request);
    if (http.read_response() != 200) ++http_errors;
    auto t_resp = Clock::now();
    std::int64_t t1 = wait_sent(seq);
    if (t1 == 0) {
      ++missing;
      continue;
    }
    if (timed) {
      latency_us.push_back(static_cast<double>(t1 - t0.time_since_epoch().count()) / 1e3);
      response_us.push_back(std::chrono::duration<double, std::micro>(t_resp - t0).count());
      if (pooled[seq].load()) ++on_pooled;
      const auto requested = requested_ns[seq].load();
      to_executor_us.push_back(static_cast<double>(requested - t0.time_since_epoch().count()) /
                               1e3);
      channel_open_us.push_back(static_cast<double>(t1 - requested) / 1e3);
      to_write_start_us.push_back(
          static_cast<double>(write_started_ns[seq].load() - t0.time_since_epoch().count()) / 1e3);
    } else {
      // Warm-up: let the cold session's whole job finish before the next.
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    std::this_thread::sleep_for(o.gap);
  }
  app.wait_idle(std::chrono::seconds(30));
  app.stop();

  auto p = [&](const std::vector<double>& v, double q) { return percentile(v, q) / 1e3; };
  double max_ms =
      latency_us.empty() ? 0 : *std::max_element(latency_us.begin(), latency_us.end()) / 1e3;
  boost::json::object out{
      {"alerts_timed", latency_us.size()},
      {"devices", o.devices},
      {"on_pooled_session", on_pooled},
      {"missing", missing},
      {"http_errors", http_errors},
      {"gap_us", o.gap.count()},
      {"p50_ms", p(latency_us, 0.50)},
      {"p90_ms", p(latency_us, 0.90)},
      {"p99_ms", p(latency_us, 0.99)},
      {"p999_ms", p(latency_us, 0.999)},
      {"max_ms", max_ms},
      {"http_response_p50_ms", p(response_us, 0.50)},
      // The two parts of the latency: alert to the SSH thread asking for the
      // channel (daemon: HTTP, queue, engine, runner, hand-off), then the
      // channel open round trip with the device until the exec request left.
      // Alert to the exec request's write beginning (the lower bound of
      // "first byte sent"; the figures above are its upper bound).
      {"write_start_p50_ms", p(to_write_start_us, 0.50)},
      {"write_start_p99_ms", p(to_write_start_us, 0.99)},
      {"write_start_max_ms",
       to_write_start_us.empty()
           ? 0.0
           : *std::max_element(to_write_start_us.begin(), to_write_start_us.end()) / 1e3},
      {"to_executor_p50_ms", p(to_executor_us, 0.50)},
      {"to_executor_p99_ms", p(to_executor_us, 0.99)},
      {"channel_open_p50_ms", p(channel_open_us, 0.50)},
      {"channel_open_p99_ms", p(channel_open_us, 0.99)},
      {"http_response_p99_ms", p(response_us, 0.99)},
  };
  fmt::print("{}\n", boost::json::serialize(out));
  return missing == 0 && http_errors == 0 && latency_us.size() == o.alerts ? 0 : 1;
}

}  // namespace
}  // namespace aiopsd::bench

int main(int argc, char** argv) {
  aiopsd::bench::Options o;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    auto next = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    const char* v = nullptr;
    if (a == "--config" && (v = next())) {
      o.config = v;
    } else if (a == "--devices" && (v = next())) {
      o.devices = std::strtoul(v, nullptr, 10);
    } else if (a == "--alerts" && (v = next())) {
      o.alerts = std::strtoul(v, nullptr, 10);
    } else if (a == "--gap-us" && (v = next())) {
      o.gap = std::chrono::microseconds(std::strtol(v, nullptr, 10));
    } else if (a == "--device-prefix" && (v = next())) {
      o.prefix = v;
    } else {
      return aiopsd::bench::usage();
    }
  }
  if (o.config.empty() || o.devices == 0) return aiopsd::bench::usage();
  try {
    return aiopsd::bench::run(o);
  } catch (const std::exception& e) {
    fmt::print(stderr, "remediation_latency: {}\n", e.what());
    return 1;
  }
}
