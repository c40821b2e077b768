// aiopsd: thin entry point. Parses the subcommand and flags, then hands over
// to App (run), load_config (check), the rule test runner (test) or prints
// the version.

#include <fmt/format.h>
#include <signal.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <string_view>

#include "daemon/app.hpp"
#include "daemon/log.hpp"
#include "daemon/version.hpp"
#include "rules/rule_test.hpp"

namespace {

using aiopsd::daemon::App;
using aiopsd::daemon::Config;

constexpr std::string_view kUsage = R"(aiopsd: event-driven AIOps daemon

Usage:
  aiopsd run --config FILE     run the daemon
  aiopsd check --config FILE   validate the config and every rules file it names
  aiopsd test FILE...          run rule unit tests on a virtual clock
  aiopsd version               print the version
  aiopsd COMMAND --help        help for a command
)";

constexpr std::string_view kRunHelp = R"(Usage: aiopsd run --config FILE

Runs the daemon: HTTP ingest (Alertmanager v2 API and webhook), rules, SSH
remediation, audit log and /metrics. Exits 0 after a clean SIGTERM/SIGINT
drain, 1 on a config error, 2 on a usage error.
)";

constexpr std::string_view kCheckHelp = R"(Usage: aiopsd check --config FILE

Validates the config and its rules files. Prints every error as
file:line:col: path: message and exits 1; exits 0 when valid.
)";

constexpr std::string_view kTestHelp = R"(Usage: aiopsd test FILE...

Runs rule unit tests (docs/rules.md, "Testing rules"): each FILE names rules
files, input alerts at relative times and the decisions expected at given
times. Prints a diff for every failing test. Exits 0 when all pass, 1 when
any test fails, 2 on a usage error or an invalid test or rules file (every
error as file:line:col: path: message).
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
  if (cmd == "run" || cmd == "check") {
    std::string_view help = cmd == "run" ? kRunHelp : kCheckHelp;
    if (wants_help(argc, argv)) return fmt::print("{}", help), 0;
    std::string path = config_flag(argc, argv, help);
    if (path.empty()) return 2;
    if (cmd == "run") return run(path);
    auto cfg = load_or_report(path);
    if (!cfg) return 1;
    fmt::print("{}: OK ({} rules, {} devices)\n", path, cfg->rules.rules.size(),
               cfg->devices.size());
    return 0;
  }
  fmt::print(stderr, "aiopsd: unknown command '{}'\n\n{}", cmd, kUsage);
  return 2;
}
