#pragma once
// Runs commands on devices over SSH: libssh2 in non-blocking mode driven by
// Boost.Asio readiness waits, so many sessions share one thread.
//
// Lifecycle: created by the daemon with the executor of the SSH io_context;
// submit() may be called from any thread; completion callbacks run on the
// io_context thread. At most one session per device at a time (later jobs for
// the same device queue in submission order) and at most max_sessions in all.
// The executor does not template, police, redact or strip output: callers hand
// it final commands that already passed policy, and post-process the output.

#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace aiopsd::ssh {

// A secret is never held in config: only where to read it at connect time.
struct Credential {
  enum class Kind : std::uint8_t { kKeyFile, kPasswordEnv, kPasswordFile };
  Kind kind = Kind::kKeyFile;
  // kKeyFile: private key path; the public key is key_file + ".pub" when present.
  std::string key_file;
  std::string passphrase_env;  // kKeyFile: optional env var holding the key passphrase
  std::string password_ref;    // kPasswordEnv: env var name; kPasswordFile: file path
};

struct Device {
  std::string name;
  std::string host;
  std::uint16_t port = 22;
  std::string user;
  Credential credential;
  std::string known_hosts_file;  // OpenSSH known_hosts format
  bool verify_host_key = true;   // false only by explicit per-device opt-out
};

struct Limits {
  std::chrono::milliseconds connect_timeout{10'000};  // TCP connect + handshake + auth
  std::chrono::milliseconds command_timeout{30'000};  // per command
  std::size_t output_limit = 256 * 1024;              // bytes kept per command
};

struct CommandOutput {
  std::string command;
  std::string output;    // stdout then stderr, raw bytes, at most output_limit
  int exit_status = -1;  // -1: killed by a signal, or never reported
  bool truncated = false;
};

enum class ErrorCode : std::uint8_t {
  kNone,
  kSshError,         // connect refused/reset, handshake or channel failure
  kHostKeyUnknown,   // host not in known_hosts
  kHostKeyMismatch,  // host in known_hosts with a different key
  kAuthFailed,
  kCredentialError,  // secret could not be read (env var unset, file missing)
  kTimeout,
  kCancelled,  // cancel_queued() before the job ran
};
std::string_view to_string(ErrorCode code);  // "ssh_error", "host_key_mismatch", ...

struct ExecResult {
  ErrorCode error = ErrorCode::kNone;
  std::string error_message;  // never contains a secret
  bool retryable = false;     // true when trying again later may succeed (connect, timeout)
  std::vector<CommandOutput> commands;  // one per command that was started
  std::chrono::milliseconds duration{0};
  bool ok() const { return error == ErrorCode::kNone; }
};

struct ExecutorOptions {
  std::size_t max_sessions = 64;
  // Called on the io thread whenever the number of open sessions changes.
  std::function<void(std::size_t active)> on_active_sessions;
};

class SshExecutor {
 public:
  using Done = std::function<void(ExecResult)>;
  // Called on the io thread when the job leaves the queue, before the session
  // opens; returning false fails the job with kCancelled and sends nothing.
  // Intents use it to record "started" durably right before anything is sent.
  using Starting = std::function<bool()>;

  SshExecutor(boost::asio::any_io_executor io, ExecutorOptions options);
  ~SshExecutor();
  SshExecutor(const SshExecutor&) = delete;
  SshExecutor& operator=(const SshExecutor&) = delete;

  // Runs `commands` in order on one session; stops at the first command that
  // fails to run (a non-zero exit status is reported, not treated as failure).
  void submit(Device device, std::vector<std::string> commands, Limits limits, Done done,
              Starting starting = {});

  std::size_t active_sessions() const;
  std::size_t queued_jobs() const;

  // Fails queued jobs with kCancelled; running sessions finish.
  void cancel_queued();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace aiopsd::ssh
