#pragma once
// Runs commands on devices over SSH: libssh2 in non-blocking mode driven by
// Boost.Asio readiness waits, so many sessions share one thread.
//
// Lifecycle: created by the daemon with the executor of the SSH io_context;
// submit() may be called from any thread; completion callbacks run on the
// io_context thread. At most one session per device at a time (later jobs for
// the same device queue in submission order) and at most max_sessions in all.
// After a job its authenticated session stays open for Limits::idle_timeout
// (at most max_idle_sessions in all) and the device's next job opens a new
// channel on it instead of connecting again (one is opened in advance, so a
// pooled job's command leaves without a round trip).
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

#include "connectors/common/secret_ref.hpp"

namespace aiopsd::ssh {

// A secret is never held in config: only where to read it at connect time
// (so a rotated password is used by the next session without a reload).
struct Credential {
  enum class Kind : std::uint8_t { kKeyFile, kPassword };
  Kind kind = Kind::kKeyFile;
  // kKeyFile: private key path; the public key is key_file + ".pub" when present.
  std::string key_file;
  secrets::SecretRef passphrase;  // kKeyFile: the key's passphrase, when it has one
  secrets::SecretRef password;    // kPassword
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
  // How long the session stays open after a successful job, for the device's
  // next job (no TCP connect, key exchange or authentication). 0: closed at
  // the end of the job. The finishing job's value applies.
  std::chrono::milliseconds idle_timeout{60'000};
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
  kQueueFull,  // max_queued jobs were already waiting: refused, nothing sent (retryable)
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

// What happened to a session, for the daemon's counters (on_pool_event).
enum class PoolEvent : std::uint8_t {
  kOpened,       // a new session connected and authenticated (reconnects included)
  kReused,       // a job ran on a pooled session
  kReconnected,  // a pooled session was dead when a job took it: replaced, job not failed
  kIdleClosed,   // a pooled session closed: idle timeout, pool full, or executor gone
};
std::string_view to_string(PoolEvent event);  // "opened", "reused", "reconnected", "idle_closed"

// Counts since the executor was created, and sessions idle now.
struct PoolStats {
  std::uint64_t opened = 0;
  std::uint64_t reused = 0;
  std::uint64_t reconnected = 0;
  std::uint64_t idle_closed = 0;
  std::size_t idle = 0;
};

// The moment a command's exec request was handed to the kernel (first byte
// on its way to the device). A debug hook for latency benchmarks.
struct CommandSent {
  std::string_view device;
  std::string_view command;
  std::chrono::steady_clock::time_point at;
  // Just before that call began: the first byte left between the two (the
  // call encrypts, then send()s; on loopback the send may wake the device and
  // lose the CPU to it before returning).
  std::chrono::steady_clock::time_point write_started;
  // When the executor asked for the command's channel: at - channel_requested
  // is the channel open round trip (the device's part, on a pooled session).
  std::chrono::steady_clock::time_point channel_requested;
  bool pooled = false;  // on a session reused from the pool
};

struct ExecutorOptions {
  std::size_t max_sessions = 64;
  // Jobs waiting for a session, in all: beyond it submit() refuses at once
  // (kQueueFull) instead of queueing without bound behind slow devices.
  std::size_t max_queued = 10'000;
  // Sessions kept open between jobs, in all; when full the least recently
  // used one closes. 0: no pool. They do not count against max_sessions.
  std::size_t max_idle_sessions = 256;
  // Called on the io thread whenever the number of open sessions changes.
  std::function<void(std::size_t active)> on_active_sessions;
  // Called on the io thread for each pool event.
  std::function<void(PoolEvent event)> on_pool_event;
  // Called on the io thread whenever the number of idle (pooled) sessions changes.
  std::function<void(std::size_t idle)> on_idle_sessions;
  // Called on the io thread for every command sent; unset in production.
  std::function<void(const CommandSent&)> on_command_sent;
};

class SshExecutor {
 public:
  using Done = std::function<void(ExecResult)>;
  // Called on the io thread when the job leaves the queue, before the session
  // opens; returning false fails the job with kCancelled and sends nothing.
  // Intents use it to record "started" durably right before anything is sent.
  using Starting = std::function<bool()>;

  SshExecutor(boost::asio::any_io_executor io, ExecutorOptions options);
  // Closes the idle sessions (SSH_MSG_DISCONNECT, then the socket). Call it
  // once the io_context no longer runs, or from its thread.
  ~SshExecutor();
  SshExecutor(const SshExecutor&) = delete;
  SshExecutor& operator=(const SshExecutor&) = delete;

  // Runs `commands` in order on one session; stops at the first command that
  // fails to run (a non-zero exit status is reported, not treated as failure).
  void submit(Device device, std::vector<std::string> commands, Limits limits, Done done,
              Starting starting = {});

  std::size_t active_sessions() const;
  std::size_t queued_jobs() const;
  PoolStats pool_stats() const;  // any thread

  // Fails queued jobs with kCancelled; running sessions finish.
  void cancel_queued();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace aiopsd::ssh
