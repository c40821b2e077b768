// Load driver: intents consumed, decoded, validated against the catalog and
// routed by the daemon's IntentService with a dry-run executor (engine.dry_run),
// each answered on the results topic, against `kcat -C` reading the same topic
// to /dev/null, in the same run, on librdkafka's mock cluster (in process).
//
//   intent_pipeline [N=200000] [PARTITIONS=4]
//
// Prints one table; exits non-zero only when a run failed.

#include <fmt/format.h>
#include <sys/resource.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "connectors/kafka/kafka_client.hpp"
#include "daemon/config.hpp"
#include "daemon/intents/intent_metrics.hpp"
#include "daemon/intents/intent_service.hpp"
#include "daemon/log.hpp"
#include "daemon/notify/notify_metrics.hpp"
#include "daemon/remediation/audit_log.hpp"
#include "daemon/safety/safety_metrics.hpp"
#include "daemon/state/state_store.hpp"

using namespace aiopsd;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int kDevices = 50;

std::string write_config(const std::filesystem::path& dir, const std::string& bootstrap) {
  std::ofstream(dir / "catalog.yaml") << R"(actions:
  - name: interface-status
    params: {port: {type: string, pattern: '[0-9]+/[0-9]+/[0-9]+'}}
    commands: ["show interface {{ params.port }} status"]
  - name: recent-log
    params: {lines: {type: integer, min: 1, max: 500}}
    commands: ["show logging last {{ params.lines }}"]
)";
  std::ofstream(dir / "rules.yaml") << "rules: []\n";
  std::string devices;
  for (int i = 0; i < kDevices; ++i) {
    devices += fmt::format(
        "  - {{name: sw{}, host: 127.0.0.1, port: 1, credential: {{key_file: k}}, "
        "verify_host_key: false}}\n",
        i);
  }
  std::ofstream(dir / "aiopsd.yaml") << fmt::format(R"(audit: {{path: audit.log}}
log: {{level: error}}
engine: {{dry_run: true}}
ssh: {{policy: {{allow: ['show [a-z0-9 /]+']}}}}
rules: [rules.yaml]
catalog: [catalog.yaml]
kafka: {{brokers: "{}", topics: {{intents: intents, results: results, dead_letter: dlq}}}}
state: {{path: state}}
devices:
{})",
                                                    bootstrap, devices);
  return (dir / "aiopsd.yaml").string();
}

double cpu_seconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  auto secs = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
  };
  return secs(u.ru_utime) + secs(u.ru_stime);
}

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

}  // namespace

int main(int argc, char** argv) {
  const long n = argc > 1 ? std::atol(argv[1]) : 200'000;
  const int partitions = argc > 2 ? std::atoi(argv[2]) : 4;
  // "consume-only": the Consumer alone (done() at once), to see its ceiling.
  const bool consume_only = argc > 3 && std::string_view(argv[3]) == "consume-only";
  std::string error;
  auto cluster = kafka::EmbeddedCluster::start(1, error);
  if (!cluster || !cluster->create_topic("intents", partitions, error) ||
      !cluster->create_topic("results", partitions, error) ||
      !cluster->create_topic("dlq", 1, error)) {
    fmt::print(stderr, "mock cluster: {}\n", error);
    return 1;
  }
  const std::string bootstrap = cluster->bootstrap();
  kafka::ClientConfig cc{bootstrap, {{"linger.ms", "5"}}};

  // Load the topic.
  {
    auto producer = kafka::Producer::create(cc, error);
    if (!producer) return fmt::print(stderr, "{}\n", error), 1;
    std::atomic<long> acked{0};
    for (long i = 0; i < n; ++i) {
      const std::string dev = fmt::format("sw{}", i % kDevices);
      producer->produce(
          "intents", dev,
          fmt::format(
              R"({{"intent_id":"b-{}","action":"interface-status","target":{{"device":"{}"}},"params":{{"port":"1/1/{}"}},"requested_by":"bench","correlation_id":"c-{}"}})",
              i, dev, i % 48 + 1, i),
          {}, [&acked](const kafka::DeliveryReport& r) { acked += r.ok; });
    }
    producer->flush(std::chrono::seconds(120));
    if (acked != n) return fmt::print(stderr, "only {} of {} produced\n", acked.load(), n), 1;
  }
  std::uintmax_t topic_bytes = 0;

  // kcat: the same topic to /dev/null.
  const auto kcat_start = Clock::now();
  const int rc = std::system(
      fmt::format("kcat -C -q -b {} -t intents -o beginning -e -X fetch.message.max.bytes=1048576 "
                  "> /dev/null",
                  bootstrap)
          .c_str());
  const double kcat_s = seconds_since(kcat_start);
  if (rc != 0) return fmt::print(stderr, "kcat failed\n"), 1;

  // aiopsd's intent path.
  const auto dir =
      std::filesystem::temp_directory_path() / fmt::format("aiopsd-bench-{}", ::getpid());
  std::filesystem::create_directories(dir);
  rules::ConfigErrors errors;
  std::shared_ptr<daemon::Config> config =
      daemon::load_config(write_config(dir, bootstrap), errors);
  if (!config) return fmt::print(stderr, "{}", errors.to_string()), 1;
  daemon::log::set_level(config->log_level);
  prometheus::Registry registry;
  daemon::IntentMetrics intent_metrics(registry);
  daemon::SafetyMetrics safety_metrics(registry);
  daemon::NotifyMetrics notify_metrics(registry);
  daemon::AuditLog audit(config->audit_path);
  daemon::StateStore state({config->state.path, config->state.retention});
  auto producer = kafka::Producer::create(cc, error);
  boost::asio::io_context io;  // never run: dry run opens no session
  ssh::SshExecutor executor(io.get_executor(), {});
  // A daemon in steady state has a producer that knows the results topic's
  // leaders and holds its idempotent producer id: warm it up before the clock starts.
  for (const char* topic : {"results", "dlq"}) {
    std::atomic<bool> ok{false};
    producer->produce(topic, "warm-up", "{}", {},
                      [&ok](const kafka::DeliveryReport& r) { ok = r.ok; });
    producer->flush(std::chrono::seconds(30));
    if (!ok) return fmt::print(stderr, "warm-up produce to {} failed\n", topic), 1;
  }
  daemon::ApprovalBook approvals(&state, {}, nullptr);
  daemon::Escalations escalations(notify_metrics);
  daemon::IntentService service(config, executor, audit, intent_metrics, safety_metrics,
                                notify_metrics, state, *producer, approvals, escalations);
  auto consumer = kafka::Consumer::create({bootstrap, {{"session.timeout.ms", "6000"}}}, "bench",
                                          {"intents"}, error);
  if (!consumer) return fmt::print(stderr, "{}\n", error), 1;
  std::atomic<long> done{0};
  Clock::time_point first{};
  std::atomic<bool> started{false};
  double cpu_at_first = 0;
  consumer->start([&](const kafka::Message& m) {
    if (!started.exchange(true)) {
      first = Clock::now();
      cpu_at_first = cpu_seconds();
    }
    topic_bytes += m.value.size();
    if (consume_only) {
      consumer->done(m.topic, m.partition, m.offset);
      ++done;
      return;
    }
    service.handle(
        m, [&done, c = consumer.get(), t = std::string(m.topic), p = m.partition, o = m.offset] {
          c->done(t, p, o);
          ++done;
        });
  });
  const auto deadline = Clock::now() + std::chrono::minutes(10);
  while (done < n && Clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  const double aiopsd_s = std::chrono::duration<double>(Clock::now() - first).count();
  const double aiopsd_cpu = cpu_seconds() - cpu_at_first;
  consumer->stop();
  const auto st = state.stats();
  std::error_code ec;
  const auto audit_bytes = std::filesystem::file_size(config->audit_path, ec);
  std::filesystem::remove_all(dir, ec);
  if (done != n) return fmt::print(stderr, "only {} of {} answered\n", done.load(), n), 1;

  fmt::print("intents: {}  partitions: {}  message bytes (mean): {:.0f}\n", n, partitions,
             static_cast<double>(topic_bytes) / static_cast<double>(n));
  fmt::print("| run | seconds | intents/s |\n|---|---:|---:|\n");
  fmt::print("| kcat -C to /dev/null | {:.2f} | {:.0f} |\n", kcat_s,
             static_cast<double>(n) / kcat_s);
  fmt::print("| aiopsd consume+decode+validate+route+result (dry run) | {:.2f} | {:.0f} |\n",
             aiopsd_s, static_cast<double>(n) / aiopsd_s);
  fmt::print("ratio aiopsd/kcat: {:.2f}\n", kcat_s / aiopsd_s);
  fmt::print("aiopsd CPU: {:.2f} s ({:.1f} us per intent, {:.0f}% of 2 cores), broker included\n",
             aiopsd_cpu, aiopsd_cpu * 1e6 / static_cast<double>(n),
             aiopsd_cpu * 100 / aiopsd_s / 2);
  fmt::print(
      "state store: {} records, {} bytes, {} syncs for {} dry-run intents "
      "({:.2f} writes/intent); audit log: {} bytes ({:.0f} bytes/intent)\n",
      st.records, st.bytes, st.syncs, n, static_cast<double>(st.records) / static_cast<double>(n),
      audit_bytes, static_cast<double>(audit_bytes) / static_cast<double>(n));
  // The state store's cost for an intent that runs: one start record (synced
  // before the session opens) and one finish record carrying the result.
  {
    const auto sdir =
        std::filesystem::temp_directory_path() / fmt::format("aiopsd-bench-state-{}", ::getpid());
    daemon::StateStore s({sdir.string()});
    const std::string result =
        R"({"intent_id":"r-000000","status":"succeeded","action":"interface-status","device":"sw1","requested_by":"bench","dry_run":false,"commands":[{"command":"show interface 1/1/3 status","output":"Interface 1/1/3 is down, line protocol is down\n","truncated":false,"exit_status":0}],"received_at":"2026-11-24T22:24:57.496Z","started_at":"2026-11-24T22:24:57.496Z","finished_at":"2026-11-24T22:24:57.707Z","duration_ms":211,"source":{"topic":"aiopsd.intents","partition":2,"offset":0}})";
    constexpr int kRuns = 2000;
    const auto t0 = Clock::now();
    for (int i = 0; i < kRuns; ++i) {
      const std::string id = fmt::format("r-{:06}", i);
      s.record_started(id);
      s.record_finished(id, result);
    }
    const double secs = seconds_since(t0);
    const auto rs = s.stats();
    fmt::print(
        "state store, executed intents: {:.1f} writes, {:.0f} WAL bytes, {:.1f} WAL syncs "
        "per intent; {:.2f} ms per intent (single writer, no group commit)\n",
        static_cast<double>(rs.records) / kRuns, static_cast<double>(rs.bytes) / kRuns,
        static_cast<double>(rs.syncs) / kRuns, secs * 1000 / kRuns);
    std::filesystem::remove_all(sdir, ec);
  }
  return 0;
}
