// aiopsd: thin entry point. Parses the subcommand and flags, then hands over
// to App (run), load_config and the rule linter (check), the rule test runner
// (test), the replay (replay) or prints the version.

#include <fmt/format.h>
#include <signal.h>

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <string_view>

#include "connectors/common/rfc3339.hpp"
#include "daemon/app.hpp"
#include "daemon/log.hpp"
#include "daemon/replay/replay.hpp"
#include "daemon/version.hpp"
#include "rules/rule_lint.hpp"
#include "rules/rule_test.hpp"
#include "rules/shard_key.hpp"

namespace {

using aiopsd::daemon::App;
using aiopsd::daemon::Config;

constexpr std::string_view kUsage = R"(aiopsd: event-driven AIOps daemon

Usage:
  aiopsd run --config FILE     run the daemon
  aiopsd check --config FILE   validate the config and every rules file it names
  aiopsd test FILE...          run rule unit tests on a virtual clock
  aiopsd replay --config FILE --events FILE.jsonl
                               replay recorded events through the rules (dry-run)
  aiopsd version               print the version
  aiopsd COMMAND --help        help for a command
)";

constexpr std::string_view kRunHelp = R"(Usage: aiopsd run --config FILE

Runs the daemon: HTTP ingest (Alertmanager v2 API and webhook), rules, SSH
remediation, audit log and /metrics. Exits 0 after a clean SIGTERM/SIGINT
drain, 1 on a config error, 2 on a usage error.
)";

constexpr std::string_view kCheckHelp = R"(Usage: aiopsd check --config FILE [--strict]

Validates the config and its rules files. Prints every error as
file:line:col: path: message and exits 1; exits 0 when valid.
Rules that load but cannot work as meant (never match, duplicate or
conflict with another rule, settings without effect) are warned about on
stderr as file:line: warning: path: message; warnings alone exit 0, or 1
with --strict.
)";

constexpr std::string_view kTestHelp = R"(Usage: aiopsd test FILE...

Runs rule unit tests (docs/rules.md, "Testing rules"): each FILE names rules
files, input alerts at relative times and the decisions expected at given
times. Prints a diff for every failing test. Exits 0 when all pass, 1 when
any test fails, 2 on a usage error or an invalid test or rules file (every
error as file:line:col: path: message).
)";

constexpr std::string_view kReplayHelp =
    R"(Usage: aiopsd replay --config FILE --events FILE.jsonl [--tick D] [--lateness D]
                     [--until TIME|D] [--progress|--no-progress] [--every-tick]

Feeds recorded events (one JSON object per line: "at" RFC 3339 time,
"source" alertmanager_v2 | alertmanager_webhook | kafka, "payload" as it
arrived) through the daemon's decoders and the config's rules on a virtual
clock, always in dry-run, and prints one JSON line per action of every
decision to stdout (docs/rules.md, "Replaying recorded events").

  --tick D       virtual-clock step between engine ticks (default 1s)
  --lateness D   how far out of time order a line may be (default 5s); later
                 lines are errors
  --until T|D    stop ticking at this RFC 3339 time, or this long after the
                 last event (default: the longest window, for or throttle)
  --progress     progress bar on stderr (default: when stderr is a terminal)
  --every-tick   run the engine's tick at every step, not only at the steps
                 that can change an outcome (slower; for cross-checking)

Bad lines are reported on stderr as FILE:LINE: message and skipped; a
summary follows. Exits 0 when every line was good, 1 when any was bad, 2 on
a usage error, an invalid config or an unreadable events file.
)";

constexpr std::string_view kVersionHelp =
    "Usage: aiopsd version\n\nPrints the version and revision.\n";

bool wants_help(int argc, char** argv) {
  for (int i = 2; i < argc; ++i) {
    if (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0) return true;
  }
  return false;
}

// Returns the --config value, or empty after printing a usage error.
std::string config_flag(int argc, char** argv, std::string_view help) {
  std::string path;
  for (int i = 2; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--config" && i + 1 < argc) {
      path = argv[++i];
    } else if (a.starts_with("--config=")) {
      path = std::string(a.substr(9));
    } else {
      fmt::print(stderr, "aiopsd: unknown argument '{}'\n\n{}", a, help);
      return {};
    }
  }
  if (path.empty()) fmt::print(stderr, "aiopsd: --config FILE is required\n\n{}", help);
  return path;
}

std::unique_ptr<Config> load_or_report(const std::string& path) {
  aiopsd::rules::ConfigErrors errors(path);
  auto cfg = aiopsd::daemon::load_config(path, errors);
  if (!cfg) fmt::print(stderr, "{}", errors.to_string());
  return cfg;
}

int run(const std::string& path) {
  auto cfg = load_or_report(path);
  if (!cfg) return 1;
  for (const auto& w : aiopsd::daemon::config_warnings(*cfg))
    aiopsd::daemon::log::warn("config", "{}: {}", w.path, w.message);
  // Block the stop signals in every thread; this one waits for them.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
  App app(std::move(cfg));
  try {
    app.start();
  } catch (const std::exception& e) {
    aiopsd::daemon::log::error("daemon", "start failed: {}", e.what());
    return 1;
  }
  int sig = 0;
  for (;;) {
    sigwait(&set, &sig);
    if (sig != SIGHUP) break;
    aiopsd::daemon::log::info("daemon", "received SIGHUP: reloading {}", path);
    app.reload();  // logs and counts the outcome; the running config stays on failure
  }
  aiopsd::daemon::log::info("daemon", "received {}", sig == SIGTERM ? "SIGTERM" : "SIGINT");
  app.stop();
  return 0;
}

int test(int argc, char** argv) {
  if (argc < 3)
    return fmt::print(stderr, "aiopsd: test needs at least one FILE\n\n{}", kTestHelp), 2;
  int status = 0;
  for (int i = 2; i < argc; ++i) {
    const std::string path = argv[i];
    fmt::print("Unit testing: {}\n", path);
    auto outcome = aiopsd::rules::run_rule_test_file(path);
    if (outcome.invalid()) {
      fmt::print(stderr, "{}", outcome.errors.to_string());
      fmt::print("  INVALID\n");
      status = 2;
    } else if (outcome.failed > 0) {
      fmt::print("{}  {} of {} tests failed\n", outcome.diff, outcome.failed, outcome.tests);
      status = std::max(status, 1);
    } else {
      fmt::print("  SUCCESS ({} tests)\n", outcome.tests);
    }
  }
  return status;
}

// Flag values of `replay`; nullopt after printing a usage error.
std::optional<std::pair<std::string, std::string>> replay_flags(
    int argc, char** argv, aiopsd::daemon::ReplayOptions& options) {
  using aiopsd::rules::parse_duration;
  std::string config, events;
  std::optional<bool> progress;
  auto usage = [](std::string message) {
    fmt::print(stderr, "aiopsd: {}\n\n{}", message, kReplayHelp);
    return std::nullopt;
  };
  for (int i = 2; i < argc; ++i) {
    std::string_view a = argv[i];
    std::string_view value;
    bool has_value = false;
    for (std::string_view flag : {"--config", "--events", "--tick", "--lateness", "--until"}) {
      if (a == flag && i + 1 < argc) {
        value = argv[++i];
        has_value = true;
      } else if (a.starts_with(flag) && a.size() > flag.size() && a[flag.size()] == '=') {
        value = a.substr(flag.size() + 1);
        has_value = true;
      }
      if (has_value) {
        a = flag;
        break;
      }
    }
    if (a == "--progress" || a == "--no-progress") {
      progress = a == "--progress";
    } else if (a == "--every-tick") {
      options.every_tick = true;
    } else if (!has_value) {
      return usage(fmt::format("unknown argument '{}'", a));
    } else if (a == "--config") {
      config = value;
    } else if (a == "--events") {
      events = value;
    } else if (a == "--tick" || a == "--lateness") {
      auto d = parse_duration(value);
      if (!d || (a == "--tick" && d->count() <= 0))
        return usage(fmt::format("{}: invalid duration '{}' (expected e.g. 1s, 500ms, 5m{})", a,
                                 value, a == "--tick" ? ", above zero" : ""));
      (a == "--tick" ? options.tick : options.lateness) = *d;
    } else {
      aiopsd::rules::TimePoint t;
      if (auto d = parse_duration(value)) {
        options.until_after = *d;
      } else if (aiopsd::wire::parse_rfc3339(value, t) == aiopsd::wire::TimestampParse::kOk) {
        options.until = t;
      } else {
        return usage(
            fmt::format("--until: '{}' is neither an RFC 3339 time nor a duration", value));
      }
    }
  }
  if (config.empty()) return usage("--config FILE is required");
  if (events.empty()) return usage("--events FILE is required");
  options.progress = progress.value_or(::isatty(STDERR_FILENO) == 1);
  return std::pair{config, events};
}

int replay(int argc, char** argv) {
  aiopsd::daemon::ReplayOptions options;
  auto flags = replay_flags(argc, argv, options);
  if (!flags) return 2;
  const auto& [config_path, events_path] = *flags;
  auto cfg = load_or_report(config_path);
  if (!cfg) return 2;
  // A large read buffer: the replay is bound by reading and decoding lines.
  std::vector<char> buffer(1 << 20);
  std::ifstream in;
  in.rdbuf()->pubsetbuf(buffer.data(), static_cast<std::streamsize>(buffer.size()));
  in.open(events_path, std::ios::binary);
  if (!in) {
    fmt::print(stderr, "aiopsd: {}: cannot open: {}\n", events_path, std::strerror(errno));
    return 2;
  }
  std::error_code ec;
  const auto size = std::filesystem::file_size(events_path, ec);
  std::ios::sync_with_stdio(false);
  auto r = aiopsd::daemon::replay_events(*cfg, in, events_path, ec ? 0 : size, options, std::cout,
                                         std::cerr);
  if (in.bad()) {
    fmt::print(stderr, "aiopsd: {}: read error\n", events_path);
    return 2;
  }
  std::cerr << fmt::format(
      "replayed {}: {} lines, {} alerts, {} decisions ({} actions), {} bad lines\n", events_path,
      r.lines, r.alerts, r.decisions, r.actions, r.bad_lines);
  return r.bad_lines > 0 ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
    fmt::print(argc < 2 ? stderr : stdout, "{}", kUsage);
    return argc < 2 ? 2 : 0;
  }
  std::string_view cmd = argv[1];
  if (cmd == "version") {
    if (wants_help(argc, argv)) return fmt::print("{}", kVersionHelp), 0;
    fmt::print("aiopsd {} ({})\n", aiopsd::daemon::kVersion, aiopsd::daemon::kRevision);
    return 0;
  }
  if (cmd == "test") {
    if (wants_help(argc, argv)) return fmt::print("{}", kTestHelp), 0;
    return test(argc, argv);
  }
  if (cmd == "replay") {
    if (wants_help(argc, argv)) return fmt::print("{}", kReplayHelp), 0;
    return replay(argc, argv);
  }
  if (cmd == "run" || cmd == "check") {
    std::string_view help = cmd == "run" ? kRunHelp : kCheckHelp;
    if (wants_help(argc, argv)) return fmt::print("{}", help), 0;
    // --strict is check's only flag of its own; take it out before --config.
    bool strict = false;
    std::vector<char*> args(argv, argv + argc);
    if (cmd == "check") {
      std::erase_if(
          args, [&](char* a) { return std::strcmp(a, "--strict") == 0 ? (strict = true) : false; });
    }
    std::string path = config_flag(static_cast<int>(args.size()), args.data(), help);
    if (path.empty()) return 2;
    if (cmd == "run") return run(path);
    auto cfg = load_or_report(path);
    if (!cfg) return 1;
    auto warnings = aiopsd::daemon::config_warnings(*cfg);
    for (auto& w : aiopsd::rules::lint(cfg->rules)) warnings.push_back(std::move(w));
    for (const auto& w : warnings) fmt::print(stderr, "{}\n", w.to_string());
    if (strict && !warnings.empty()) {
      fmt::print(stderr, "{}: {} warnings, failing (--strict)\n", path, warnings.size());
      return 1;
    }
    // Whether the rules can spread over engine workers, and on which labels.
    std::string why;
    const auto shard = aiopsd::rules::ShardKey::plan(cfg->rules, why);
    const std::string workers =
        !shard           ? fmt::format("one engine worker: {}", why)
        : shard->empty() ? std::string("engine workers shard by alert")
                         : fmt::format("engine workers shard by [{}]", fmt::join(*shard, ", "));
    fmt::print("{}: OK ({} rules, {} inhibit rules, {} devices{}; {})\n", path,
               cfg->rules.rules.size(), cfg->rules.inhibit_rules.size(), cfg->devices.size(),
               warnings.empty() ? "" : fmt::format(", {} warnings", warnings.size()), workers);
    return 0;
  }
  fmt::print(stderr, "aiopsd: unknown command '{}'\n\n{}", cmd, kUsage);
  return 2;
}
