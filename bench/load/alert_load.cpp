// alert_load: posts Alertmanager v2 alert batches (POST /api/v2/alerts, the
// body Prometheus sends: a JSON array of {labels, annotations, startsAt,
// endsAt, generatorURL}) over N keep-alive connections and reports accepted
// alerts/s, requests/s and request latency. Works against aiopsd and a real
// Alertmanager alike, so bench/compare/ can drive the same stream to both.
//
// The alerts come from bench/alert_gen.hpp (the fleet the rules cover). Every
// alert carries a fixed-width `bench_seq` label:
//   --fresh-labels  each alert sent gets a new value: every alert is a new
//                   label set (a new fingerprint) the receiver must create;
//   --resend        the pool of --label-sets alerts is sent again and
//                   again: every alert timed is an update of one the
//                   receiver already holds.
// With --prime (implied by --resend, unless --no-prime), the pool is sent once before the
// clock starts, and that pass is reported on its own: the receiver has then
// seen every label combination but the sequence numbers, so a fresh run
// times new alerts in groups that already exist (for aiopsd: rules already
// acted, their throttles hold), and the priming pass times first sight.
//
// Threads: one io_context on the main thread, one coroutine per connection.
// Bodies are built once with Boost.JSON; a fresh send copies a pool body and
// overwrites its sequence digits in place, so the driver stays cheap next to
// the server it measures.
//
// Exit status: 0 when the run completed, 1 when nothing was accepted or a
// request failed other than with 503/429 (an overloaded server's answer,
// counted as rejected), 2 on a usage error.

#include <fmt/format.h>
#include <sys/resource.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "bench/alert_gen.hpp"
#include "rules/event.hpp"

namespace aiopsd::bench {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

constexpr std::string_view kUsage = R"(Usage: alert_load --url HOST:PORT [options]

Posts Alertmanager v2 alert batches over keep-alive connections.

  --url HOST:PORT        target (loopback or any host)
  --path PATH            request path (default /api/v2/alerts)
  --connections N        concurrent keep-alive connections (default 1)
  --batch B              alerts per request (default 100)
  --total N              stop after N alerts (rounded up to whole batches)
  --seconds S            stop after S seconds (default 10 when --total is not given)
  --fresh-labels         every alert sent is a new label set (default)
  --resend               re-send a pool of --label-sets alerts (implies --prime)
  --prime                send the pool once before timing, reported apart (timing
                         starts right after: a receiver still busy with the pool,
                         e.g. aiopsd auditing the actions it fired, slows the timed
                         part; bench/compare/ primes in a separate run and waits)
  --no-prime             with --resend: the receiver already holds the pool
  --seq-start N          first fresh sequence number (default: past the pool)
  --label-sets K         distinct alerts in the pool (default 10000)
  --rules N              size the alert universe for N generated rules (default 1000)
  --seed S               generator seed (default 42)
  --bearer TOKEN         send Authorization: Bearer TOKEN
  --timeout S            per-request timeout in seconds (default 30)
  --backoff-ms MS        after a 503/429, wait MS ms on that connection (default 0)
  --json                 print one JSON object instead of the table
)";

struct Options {
  std::string host;
  std::string port;
  std::string path = "/api/v2/alerts";
  int connections = 1;
  int batch = 100;
  std::uint64_t total = 0;
  double seconds = 0;
  bool fresh = true;
  bool prime = false;
  bool no_prime = false;
  std::uint64_t seq_start = 0;  // 0: label_sets rounded up to whole batches
  int label_sets = 10'000;
  int rules = 1000;
  std::uint32_t seed = 42;
  std::string bearer;
  double timeout = 30;
  int backoff_ms = 0;
  bool json = false;
};

template <typename T>
bool parse_number(std::string_view s, T& out) {
  if constexpr (std::is_floating_point_v<T>) {
    try {
      std::size_t used = 0;
      out = static_cast<T>(std::stod(std::string(s), &used));
      return used == s.size() && out >= 0;
    } catch (const std::exception&) {
      return false;
    }
  } else {
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc{} && p == s.data() + s.size();
  }
}

std::optional<Options> parse_args(int argc, char** argv) {
  Options o;
  bool ok = true;
  for (int i = 1; i < argc && ok; ++i) {
    std::string_view a = argv[i];
    auto value = [&]() -> std::string_view {
      if (i + 1 >= argc) {
        fmt::print(stderr, "alert_load: {} needs a value\n", a);
        ok = false;
        return {};
      }
      return argv[++i];
    };
    auto number = [&](auto& out) {
      std::string_view v = value();
      if (ok && !parse_number(v, out)) {
        fmt::print(stderr, "alert_load: {}: invalid number '{}'\n", a, v);
        ok = false;
      }
    };
    if (a == "--url") {
      std::string_view v = value();
      if (v.starts_with("http://")) v.remove_prefix(7);
      if (auto slash = v.find('/'); slash != std::string_view::npos) v = v.substr(0, slash);
      auto colon = v.rfind(':');
      if (ok && (colon == std::string_view::npos || colon == 0 || colon + 1 == v.size())) {
        fmt::print(stderr, "alert_load: --url: expected HOST:PORT, got '{}'\n", v);
        ok = false;
      } else if (ok) {
        o.host = std::string(v.substr(0, colon));
        o.port = std::string(v.substr(colon + 1));
      }
    } else if (a == "--path") {
      o.path = std::string(value());
    } else if (a == "--connections") {
      number(o.connections);
    } else if (a == "--batch") {
      number(o.batch);
    } else if (a == "--total") {
      number(o.total);
    } else if (a == "--seconds") {
      number(o.seconds);
    } else if (a == "--fresh-labels") {
      o.fresh = true;
    } else if (a == "--resend") {
      o.fresh = false;
      o.prime = true;
    } else if (a == "--prime") {
      o.prime = true;
    } else if (a == "--no-prime") {
      o.no_prime = true;
    } else if (a == "--seq-start") {
      number(o.seq_start);
    } else if (a == "--label-sets") {
      number(o.label_sets);
    } else if (a == "--rules") {
      number(o.rules);
    } else if (a == "--seed") {
      number(o.seed);
    } else if (a == "--bearer") {
      o.bearer = std::string(value());
    } else if (a == "--timeout") {
      number(o.timeout);
    } else if (a == "--backoff-ms") {
      number(o.backoff_ms);
    } else if (a == "--json") {
      o.json = true;
    } else if (a == "--help" || a == "-h") {
      fmt::print("{}", kUsage);
      std::exit(0);
    } else {
      fmt::print(stderr, "alert_load: unknown argument '{}'\n", a);
      ok = false;
    }
  }
  if (ok && o.host.empty()) {
    fmt::print(stderr, "alert_load: --url HOST:PORT is required\n");
    ok = false;
  }
  if (ok && (o.connections < 1 || o.batch < 1 || o.label_sets < 1 || o.rules < 1)) {
    fmt::print(stderr, "alert_load: --connections, --batch, --label-sets, --rules must be >= 1\n");
    ok = false;
  }
  if (!ok) {
    fmt::print(stderr, "\n{}", kUsage);
    return std::nullopt;
  }
  if (o.total == 0 && o.seconds == 0) o.seconds = 10;
  if (o.no_prime) o.prime = false;
  return o;
}

constexpr int kSeqDigits = 12;

// The alert pool as request bodies, each with the offsets of its alerts'
// sequence digits so a fresh send can renumber them in place.
struct Body {
  std::string text;
  std::vector<std::size_t> seq_offsets;
};

std::vector<Body> make_pool(const Options& o) {
  std::mt19937 rng(o.seed);
  const auto now = std::chrono::system_clock::now();
  const std::string starts_at = rules::format_rfc3339(now);
  // Prometheus sends endsAt a few evaluation intervals ahead; an hour keeps
  // every alert firing for the whole run in both receivers.
  const std::string ends_at = rules::format_rfc3339(now + std::chrono::hours(1));
  const std::string seq_prefix = "\"bench_seq\":\"";
  const int names = alert_names_for(o.rules);
  const int sites = sites_for(o.rules);
  const int bodies = (o.label_sets + o.batch - 1) / o.batch;
  std::vector<Body> pool;
  int seq = 0;
  for (int b = 0; b < bodies; ++b) {
    boost::json::array alerts;
    for (int i = 0; i < o.batch; ++i, ++seq) {
      GenAlert g = make_alert(rng, names, sites);
      boost::json::object labels = to_json_map(g.labels);
      labels["bench_seq"] = fmt::format("{:0{}}", seq, kSeqDigits);
      alerts.push_back(boost::json::object{
          {"labels", std::move(labels)},
          {"annotations", to_json_map(g.annotations)},
          {"startsAt", starts_at},
          {"endsAt", ends_at},
          {"generatorURL", "http://prometheus.example.net:9090/graph?g0.expr=up%3D%3D0"}});
    }
    Body body{boost::json::serialize(alerts), {}};
    for (auto p = body.text.find(seq_prefix); p != std::string::npos;
         p = body.text.find(seq_prefix, p + 1)) {
      body.seq_offsets.push_back(p + seq_prefix.size());
    }
    if (body.seq_offsets.size() != static_cast<std::size_t>(o.batch))
      throw std::logic_error("sequence label not found in every alert");
    pool.push_back(std::move(body));
  }
  return pool;
}

// Writes `value` as kSeqDigits zero-padded decimal digits at `out`.
void put_seq(char* out, std::uint64_t value) {
  for (int i = kSeqDigits - 1; i >= 0; --i) {
    out[i] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
}

struct Stats {
  std::uint64_t requests = 0;
  std::uint64_t accepted_alerts = 0;
  std::uint64_t rejected_alerts = 0;  // 503 / 429: the server said "later"
  std::uint64_t failed_requests = 0;  // any other non-2xx answer
  std::uint64_t io_errors = 0;        // connect, write, read, timeout
  std::map<unsigned, std::uint64_t> status;
  std::vector<double> latency_ms;
};

class Driver {
 public:
  Driver(asio::io_context& io, Options o, std::vector<Body> pool)
      : io_(io), o_(std::move(o)), pool_(std::move(pool)) {}

  // Every pool body once, before the clock of the measured phase starts.
  void prime() {
    next_ = 0;
    limit_ = pool_.size();
    deadline_.reset();
    priming_ = true;
    const auto t0 = Clock::now();
    run_phase(prime_stats_);
    prime_elapsed_ = std::chrono::duration<double>(Clock::now() - t0).count();
    priming_ = false;
  }

  void measure() {
    next_ = 0;
    limit_ = o_.total ? (o_.total + static_cast<std::uint64_t>(o_.batch) - 1) /
                            static_cast<std::uint64_t>(o_.batch)
                      : std::numeric_limits<std::uint64_t>::max();
    started_ = Clock::now();
    if (o_.seconds > 0)
      deadline_ = started_ + std::chrono::duration_cast<Clock::duration>(
                                 std::chrono::duration<double>(o_.seconds));
    run_phase(stats_);
    elapsed_ = std::chrono::duration<double>(Clock::now() - started_).count();
  }

  const Stats& stats() const { return stats_; }
  const Stats& prime_stats() const { return prime_stats_; }
  double elapsed() const { return elapsed_; }
  double prime_elapsed() const { return prime_elapsed_; }

 private:
  void run_phase(Stats& stats) {
    asio::ip::tcp::resolver resolver(io_);
    endpoints_ = resolver.resolve(o_.host, o_.port);
    for (int c = 0; c < o_.connections; ++c) asio::co_spawn(io_, connection(stats), asio::detached);
    io_.run();
    io_.restart();
  }

  // Claims the next request of the phase; false when the phase is over.
  bool claim(std::uint64_t& index) {
    if (next_ >= limit_) return false;
    if (deadline_ && Clock::now() >= *deadline_) return false;
    index = next_++;
    return true;
  }

  asio::awaitable<void> connection(Stats& stats) {
    std::optional<beast::tcp_stream> stream;
    beast::flat_buffer buffer;
    http::request<http::string_body> req{http::verb::post, o_.path, 11};
    req.set(http::field::host, o_.host);
    req.set(http::field::content_type, "application/json");
    req.set(http::field::user_agent, "aiopsd-alert_load");
    if (!o_.bearer.empty()) req.set(http::field::authorization, "Bearer " + o_.bearer);
    req.keep_alive(true);
    const auto timeout =
        std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o_.timeout));
    std::uint64_t index = 0;
    while (claim(index)) {
      if (!stream) {
        stream.emplace(io_);
        stream->expires_after(timeout);
        auto [ec, ep] = co_await stream->async_connect(endpoints_, kNoThrow);
        if (ec) {
          ++stats.io_errors;
          stream.reset();
          // Nobody listening: do not spin until the deadline.
          asio::steady_timer timer(io_, std::chrono::milliseconds(100));
          co_await timer.async_wait(kNoThrow);
          continue;
        }
        stream->socket().set_option(tcp::no_delay(true));
      }
      const Body& body = pool_[index % pool_.size()];
      req.body() = body.text;
      if (o_.fresh && !priming_) {
        // Past the pool's own numbers, so no fresh alert repeats a primed one.
        std::uint64_t seq =
            (o_.seq_start ? o_.seq_start : pool_.size() * static_cast<std::uint64_t>(o_.batch)) +
            index * static_cast<std::uint64_t>(o_.batch);
        for (std::size_t off : body.seq_offsets) put_seq(req.body().data() + off, seq++);
      }
      req.prepare_payload();
      http::response<http::string_body> res;
      const auto t0 = Clock::now();
      stream->expires_after(timeout);
      auto [wec, wn] = co_await http::async_write(*stream, req, kNoThrow);
      beast::error_code ec = wec;
      if (!ec) {
        auto [rec, rn] = co_await http::async_read(*stream, buffer, res, kNoThrow);
        ec = rec;
      }
      const auto t1 = Clock::now();
      ++stats.requests;
      if (ec) {
        ++stats.io_errors;
        stream.reset();
        buffer.clear();
        continue;
      }
      stats.latency_ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
      const unsigned code = res.result_int();
      ++stats.status[code];
      if (code / 100 == 2) {
        stats.accepted_alerts += static_cast<std::uint64_t>(o_.batch);
      } else if (code == 503 || code == 429) {
        stats.rejected_alerts += static_cast<std::uint64_t>(o_.batch);
        if (o_.backoff_ms > 0) {
          asio::steady_timer timer(io_, std::chrono::milliseconds(o_.backoff_ms));
          co_await timer.async_wait(kNoThrow);
        }
      } else {
        ++stats.failed_requests;
      }
      if (!res.keep_alive()) stream.reset();
    }
    if (stream) {
      beast::error_code ignored;
      stream->socket().shutdown(tcp::socket::shutdown_both, ignored);
    }
  }

  asio::io_context& io_;
  Options o_;
  std::vector<Body> pool_;
  tcp::resolver::results_type endpoints_;
  std::uint64_t next_ = 0;
  std::uint64_t limit_ = 0;
  std::optional<Clock::time_point> deadline_;
  Clock::time_point started_;
  double elapsed_ = 0;
  double prime_elapsed_ = 0;
  bool priming_ = false;
  Stats stats_;
  Stats prime_stats_;
};

double percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  const auto k = static_cast<std::size_t>(std::lround(p * static_cast<double>(v.size() - 1)));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

// CPU time this process used (user + system), so a script can tell the
// driver's share of the machine from everyone else's.
double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto secs = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return secs(u.ru_utime) + secs(u.ru_stime);
}

int run(const Options& o) {
  asio::io_context io(1);
  Driver driver(io, o, make_pool(o));
  if (o.prime) driver.prime();
  const double cpu0 = cpu_seconds();
  driver.measure();
  const double driver_cpu = cpu_seconds() - cpu0;
  Stats s = driver.stats();
  const double secs = driver.elapsed();
  const double alerts_per_s = secs > 0 ? static_cast<double>(s.accepted_alerts) / secs : 0;
  const double requests_per_s = secs > 0 ? static_cast<double>(s.requests) / secs : 0;
  const double p50 = percentile(s.latency_ms, 0.50);
  const double p99 = percentile(s.latency_ms, 0.99);
  const double max =
      s.latency_ms.empty() ? 0 : *std::max_element(s.latency_ms.begin(), s.latency_ms.end());
  const bool failed = s.accepted_alerts == 0 || s.io_errors > 0 || s.failed_requests > 0 ||
                      driver.prime_stats().io_errors > 0 ||
                      driver.prime_stats().failed_requests > 0;
  const std::string mode = o.fresh ? "fresh" : "resend";
  const double prime_rate =
      driver.prime_elapsed() > 0
          ? static_cast<double>(driver.prime_stats().accepted_alerts) / driver.prime_elapsed()
          : 0;
  if (o.json) {
    boost::json::object status;
    for (const auto& [code, n] : s.status) status[std::to_string(code)] = n;
    boost::json::object out{{"url", fmt::format("{}:{}{}", o.host, o.port, o.path)},
                            {"mode", mode},
                            {"connections", o.connections},
                            {"batch", o.batch},
                            {"label_sets", o.label_sets},
                            {"backoff_ms", o.backoff_ms},
                            {"seconds", secs},
                            {"requests", s.requests},
                            {"accepted_alerts", s.accepted_alerts},
                            {"rejected_alerts", s.rejected_alerts},
                            {"failed_requests", s.failed_requests},
                            {"io_errors", s.io_errors},
                            {"alerts_per_s", alerts_per_s},
                            {"requests_per_s", requests_per_s},
                            {"latency_ms", {{"p50", p50}, {"p99", p99}, {"max", max}}},
                            {"status", std::move(status)},
                            {"driver_cpu_seconds", driver_cpu},
                            {"prime",
                             {{"accepted_alerts", driver.prime_stats().accepted_alerts},
                              {"rejected_alerts", driver.prime_stats().rejected_alerts},
                              {"seconds", driver.prime_elapsed()},
                              {"alerts_per_s", prime_rate}}},
                            {"ok", !failed}};
    fmt::print("{}\n", boost::json::serialize(out));
  } else {
    fmt::print("alert_load: {}:{}{}, {} connection(s), batch {}, {} label sets, {:.2f} s\n", o.host,
               o.port, o.path, o.connections, o.batch, mode, secs);
    if (o.prime)
      fmt::print("primed {} alerts before timing ({:.0f} alerts/s, {} rejected)\n",
                 driver.prime_stats().accepted_alerts, prime_rate,
                 driver.prime_stats().rejected_alerts);
    fmt::print("{:>16} {:>12} {:>9} {:>9} {:>9} {:>10} {:>10}\n", "accepted alerts/s", "requests/s",
               "p50 ms", "p99 ms", "max ms", "rejected", "errors");
    fmt::print("{:>17.0f} {:>12.0f} {:>9.3f} {:>9.3f} {:>9.3f} {:>10} {:>10}\n", alerts_per_s,
               requests_per_s, p50, p99, max, s.rejected_alerts, s.io_errors + s.failed_requests);
    for (const auto& [code, n] : s.status) fmt::print("  HTTP {}: {}\n", code, n);
  }
  return failed ? 1 : 0;
}

}  // namespace
}  // namespace aiopsd::bench

int main(int argc, char** argv) {
  auto o = aiopsd::bench::parse_args(argc, argv);
  if (!o) return 2;
  try {
    return aiopsd::bench::run(*o);
  } catch (const std::exception& e) {
    fmt::print(stderr, "alert_load: {}\n", e.what());
    return 1;
  }
}
