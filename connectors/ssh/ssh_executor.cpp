#include "connectors/ssh/ssh_executor.hpp"

#include <fmt/format.h>
#include <libssh2.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <unordered_map>
#include <utility>
#include <vector>

namespace aiopsd::ssh {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using tcp = asio::ip::tcp;

std::string_view to_string(ErrorCode code) {
  switch (code) {
    case ErrorCode::kNone:
      return "none";
    case ErrorCode::kSshError:
      return "ssh_error";
    case ErrorCode::kHostKeyUnknown:
      return "host_key_unknown";
    case ErrorCode::kHostKeyMismatch:
      return "host_key_mismatch";
    case ErrorCode::kAuthFailed:
      return "auth_failed";
    case ErrorCode::kCredentialError:
      return "credential_error";
    case ErrorCode::kTimeout:
      return "timeout";
    case ErrorCode::kCancelled:
      return "cancelled";
    case ErrorCode::kQueueFull:
      return "queue_full";
  }
  return "unknown";
}

std::string_view to_string(PoolEvent event) {
  switch (event) {
    case PoolEvent::kOpened:
      return "opened";
    case PoolEvent::kReused:
      return "reused";
    case PoolEvent::kReconnected:
      return "reconnected";
    case PoolEvent::kIdleClosed:
      return "idle_closed";
  }
  return "unknown";
}

namespace {

void init_libssh2_once() {
  static std::once_flag once;
  std::call_once(once, [] { libssh2_init(0); });
}

// A failure that ends the session: an error code and a message without secrets.
struct Failure {
  ErrorCode code;
  std::string message;
};

std::string last_error(LIBSSH2_SESSION* s) {
  char* msg = nullptr;
  int len = 0;
  libssh2_session_last_error(s, &msg, &len, 0);
  return msg ? std::string(msg, static_cast<std::size_t>(len))
             : std::string("unknown libssh2 error");
}

// Cancels the pending resolve and socket waits when the deadline passes, so
// every wait of the session ends; the session then reports kTimeout.
class Deadline {
 public:
  Deadline(const asio::any_io_executor& io, tcp::socket& socket, tcp::resolver& resolver)
      : timer_(io), socket_(socket), resolver_(resolver) {}
  ~Deadline() { disarm(); }
  Deadline(const Deadline&) = delete;
  Deadline& operator=(const Deadline&) = delete;

  void arm(std::chrono::milliseconds d) {
    disarm();
    state_ = std::make_shared<State>();
    timer_.expires_after(d);
    timer_.async_wait([this, state = state_](boost::system::error_code ec) {
      // A completion already queued when the session ended must not touch it.
      if (ec || state->disarmed) return;
      state->expired = true;
      boost::system::error_code ignored;
      socket_.cancel(ignored);
      resolver_.cancel();
    });
  }
  void disarm() noexcept {
    if (state_) state_->disarmed = true;
    try {
      timer_.cancel();
    } catch (const boost::system::system_error&) {
      // Nothing pending can outlive the disarmed flag; a failed cancel is harmless.
    }
  }
  bool expired() const { return state_ && state_->expired; }

 private:
  struct State {
    bool expired = false;
    bool disarmed = false;
  };
  asio::steady_timer timer_;
  tcp::socket& socket_;
  tcp::resolver& resolver_;
  std::shared_ptr<State> state_;
};

// Whether two device entries reach the same account the same way: only then
// may a pooled session of one serve the other (a reload may change either).
bool same_endpoint(const Device& a, const Device& b) {
  return a.host == b.host && a.port == b.port && a.user == b.user &&
         a.credential.kind == b.credential.kind && a.credential.key_file == b.credential.key_file &&
         a.credential.passphrase == b.credential.passphrase &&
         a.credential.password == b.credential.password &&
         a.known_hosts_file == b.known_hosts_file && a.verify_host_key == b.verify_host_key;
}

// One SSH session: connect, verify the host key, authenticate, run commands.
// Owned by one job's coroutine while it runs, by the pool while idle.
class Session {
 public:
  Session(const asio::any_io_executor& io, Device device)
      : socket_(io), resolver_(io), deadline_(io, socket_, resolver_), device_(std::move(device)) {}

  ~Session() noexcept {
    deadline_.disarm();
    // A session that ended cleanly says goodbye so the device logs a clean
    // logout: one non-blocking send, which fits an idle socket's empty buffer.
    if (session_ && reusable_) libssh2_session_disconnect(session_, "done");
    // Shut the connection down before freeing: what libssh2 still tries to
    // send (channel close) then fails at once instead of waiting on a peer that
    // is slow or gone, and the descriptor stays ours until libssh2 is done
    // with it (closing first would let another thread reuse the number).
    boost::system::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    if (session_) libssh2_session_free(session_);  // frees any channel left open
    socket_.close(ec);
  }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  const Device& device() const { return device_; }
  // True while the last job left the session able to serve another.
  bool reusable() const { return reusable_; }
  void set_limits(const Limits& limits) { limits_ = limits; }

  // Connect, verify the host key, authenticate, within connect_timeout.
  awaitable<std::optional<Failure>> open() {
    reusable_ = false;
    deadline_.arm(limits_.connect_timeout);
    auto failure = co_await connect();
    if (!failure) failure = verify_host_key();
    if (!failure) failure = co_await authenticate();
    deadline_.disarm();
    reusable_ = !failure;
    co_return failure;
  }

  // Opens the channel the next job will exec on, before the session is
  // pooled: the channel open round trip then happens after a job, not between
  // an alert and its command. False (and not reusable) when it fails.
  awaitable<bool> open_spare(std::chrono::milliseconds timeout) {
    deadline_.arm(timeout);
    LIBSSH2_CHANNEL* ch = nullptr;
    while (!(ch = libssh2_channel_open_session(session_))) {
      if (libssh2_session_last_errno(session_) != LIBSSH2_ERROR_EAGAIN || !co_await wait_socket()) {
        reusable_ = false;
        deadline_.disarm();
        co_return false;
      }
    }
    deadline_.disarm();
    spare_ = ch;
    co_return true;
  }

  // Whether the peer closed the connection while the session sat idle: a
  // non-blocking peek reads end-of-file or an error. Pending data (a
  // keepalive, a disconnect message) is left to libssh2 and the channel open.
  bool peer_closed() {
    char byte = 0;
    ssize_t n = ::recv(socket_.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    bool closed = n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
    if (closed) reusable_ = false;  // no goodbye into a closed connection
    return closed;
  }

  // Runs one command; `unsent` is set when it failed before anything of the
  // command left (the channel did not open), so running it again is safe.
  // `open_timeout` bounds the channel open (a pooled session on a peer that
  // vanished without a FIN), command_timeout the rest.
  awaitable<std::optional<Failure>> exec(CommandOutput& out, std::chrono::milliseconds open_timeout,
                                         bool& unsent,
                                         const std::function<void(const CommandSent&)>& on_sent,
                                         bool pooled) {
    reusable_ = false;
    unsent = false;
    deadline_.arm(open_timeout);
    const auto requested = std::chrono::steady_clock::now();
    // A pooled session comes with its channel already open: the command
    // leaves without waiting for the device (see open_spare()).
    LIBSSH2_CHANNEL* ch = std::exchange(spare_, nullptr);
    const bool spare = ch != nullptr;
    while (!ch && !(ch = libssh2_channel_open_session(session_))) {
      if (libssh2_session_last_errno(session_) != LIBSSH2_ERROR_EAGAIN || !co_await wait_socket()) {
        unsent = true;
        co_return io_failure("channel open", last_error(session_));
      }
    }
    // On a spare channel the exec reply is the first answer of the device
    // since it sat idle: bounded like a channel open.
    if (!spare) deadline_.arm(limits_.command_timeout);
    auto failure = co_await run_on_channel(ch, out, on_sent, pooled, requested, unsent);
    if (!failure) co_await call([&] { return libssh2_channel_free(ch); });
    deadline_.disarm();
    reusable_ = !failure;
    co_return failure;
  }

 private:
  std::string where() const {
    return fmt::format("{} ({}:{})", device_.name, device_.host, device_.port);
  }

  Failure io_failure(std::string_view step, const std::string& detail) {
    if (deadline_.expired())
      return {ErrorCode::kTimeout, fmt::format("{}: timed out during {}", where(), step)};
    return {ErrorCode::kSshError, fmt::format("{}: {} failed: {}", where(), step, detail)};
  }

  awaitable<std::optional<Failure>> connect() {
    boost::system::error_code ec;
    std::vector<tcp::endpoint> endpoints;
    if (auto addr = asio::ip::make_address(device_.host, ec); !ec) {
      endpoints.emplace_back(addr, device_.port);
    } else {
      auto results = co_await resolver_.async_resolve(device_.host, std::to_string(device_.port),
                                                      asio::redirect_error(use_awaitable, ec));
      if (ec) co_return io_failure("resolve", ec.message());
      for (const auto& r : results) endpoints.push_back(r.endpoint());
    }
    for (const auto& ep : endpoints) {
      boost::system::error_code close_ec;
      socket_.close(close_ec);
      co_await socket_.async_connect(ep, asio::redirect_error(use_awaitable, ec));
      if (!ec || deadline_.expired()) break;
    }
    if (ec) co_return io_failure("connect", ec.message());
    session_ = libssh2_session_init();
    if (!session_) co_return Failure{ErrorCode::kSshError, "libssh2_session_init failed"};
    libssh2_session_set_blocking(session_, 0);
    int rc =
        co_await call([&] { return libssh2_session_handshake(session_, socket_.native_handle()); });
    if (rc != 0) co_return io_failure("handshake", last_error(session_));
    co_return std::nullopt;
  }

  std::optional<Failure> verify_host_key() {
    if (!device_.verify_host_key) return std::nullopt;
    std::size_t len = 0;
    int type = 0;
    const char* key = libssh2_session_hostkey(session_, &len, &type);
    if (!key) return Failure{ErrorCode::kSshError, fmt::format("{}: no host key offered", where())};
    LIBSSH2_KNOWNHOSTS* kh = libssh2_knownhost_init(session_);
    if (!kh) return Failure{ErrorCode::kSshError, "libssh2_knownhost_init failed"};
    int read = device_.known_hosts_file.empty()
                   ? -1
                   : libssh2_knownhost_readfile(kh, device_.known_hosts_file.c_str(),
                                                LIBSSH2_KNOWNHOST_FILE_OPENSSH);
    int check = read < 0
                    ? LIBSSH2_KNOWNHOST_CHECK_NOTFOUND
                    : libssh2_knownhost_checkp(
                          kh, device_.host.c_str(), device_.port, key, len,
                          LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW, nullptr);
    libssh2_knownhost_free(kh);
    switch (check) {
      case LIBSSH2_KNOWNHOST_CHECK_MATCH:
        return std::nullopt;
      case LIBSSH2_KNOWNHOST_CHECK_MISMATCH:
        return Failure{
            ErrorCode::kHostKeyMismatch,
            fmt::format("{}: host key does not match {} (possible man-in-the-middle); refusing",
                        where(), device_.known_hosts_file)};
      case LIBSSH2_KNOWNHOST_CHECK_NOTFOUND:
        return Failure{ErrorCode::kHostKeyUnknown,
                       fmt::format("{}: host is not in known_hosts file '{}'", where(),
                                   device_.known_hosts_file)};
      default:
        return Failure{ErrorCode::kSshError, fmt::format("{}: host key check failed", where())};
    }
  }

  awaitable<std::optional<Failure>> authenticate() {
    const Credential& c = device_.credential;
    const std::string& user = device_.user;
    auto ulen = static_cast<unsigned>(user.size());
    int rc = 0;
    if (c.kind == Credential::Kind::kKeyFile) {
      std::string pub = c.key_file + ".pub";
      bool has_pub = std::ifstream(pub).good();
      if (!std::ifstream(c.key_file).good()) {
        co_return Failure{ErrorCode::kCredentialError,
                          fmt::format("{}: cannot read key file '{}'", where(), c.key_file)};
      }
      std::optional<std::string> passphrase;
      if (!c.passphrase.empty()) {
        std::string why;
        passphrase = secrets::read_secret(c.passphrase, why);
        if (!passphrase) {
          co_return Failure{ErrorCode::kCredentialError,
                            fmt::format("{}: key passphrase: {}", where(), why)};
        }
      }
      rc = co_await call([&] {
        return libssh2_userauth_publickey_fromfile_ex(
            session_, user.c_str(), ulen, has_pub ? pub.c_str() : nullptr, c.key_file.c_str(),
            passphrase ? passphrase->c_str() : nullptr);
      });
      if (passphrase) std::fill(passphrase->begin(), passphrase->end(), '\0');
    } else {
      std::string why;
      std::optional<std::string> password = secrets::read_secret(c.password, why);
      if (!password) {
        co_return Failure{ErrorCode::kCredentialError,
                          fmt::format("{}: password: {}", where(), why)};
      }
      rc = co_await call([&] {
        return libssh2_userauth_password_ex(session_, user.c_str(), ulen, password->c_str(),
                                            static_cast<unsigned>(password->size()), nullptr);
      });
      std::fill(password->begin(), password->end(), '\0');
    }
    if (rc == 0) co_return std::nullopt;
    if (deadline_.expired() || rc == LIBSSH2_ERROR_SOCKET_RECV || rc == LIBSSH2_ERROR_SOCKET_SEND) {
      co_return io_failure("authentication", last_error(session_));
    }
    co_return Failure{ErrorCode::kAuthFailed,
                      fmt::format("{}: authentication failed for user '{}'", where(), user)};
  }

  awaitable<std::optional<Failure>> run_on_channel(
      LIBSSH2_CHANNEL* ch, CommandOutput& out,
      const std::function<void(const CommandSent&)>& on_sent, bool pooled,
      std::chrono::steady_clock::time_point requested, bool& unsent) {
    const std::string& cmd = out.command;
    auto startup = [&] {
      return libssh2_channel_process_startup(ch, "exec", 4, cmd.c_str(),
                                             static_cast<unsigned>(cmd.size()));
    };
    // The first call writes the request (then waits for the reply): that is
    // when the command leaves for the device.
    const auto write_started = std::chrono::steady_clock::now();
    int rc = startup();
    // The request did not leave (the device closed while idle): it cannot have run.
    if (rc == LIBSSH2_ERROR_SOCKET_SEND) unsent = true;
    if (on_sent && (rc == 0 || rc == LIBSSH2_ERROR_EAGAIN))
      on_sent(
          {device_.name, cmd, std::chrono::steady_clock::now(), write_started, requested, pooled});
    if (rc == LIBSSH2_ERROR_EAGAIN) rc = co_await call(startup);
    if (rc != 0) co_return io_failure("exec", last_error(session_));
    deadline_.arm(limits_.command_timeout);
    std::string err;
    char buf[16384];
    bool out_eof = false, err_eof = false;
    while (!(out_eof && err_eof)) {
      bool progressed = false;
      for (int stream : {0, SSH_EXTENDED_DATA_STDERR}) {
        bool& eof = stream == 0 ? out_eof : err_eof;
        if (eof) continue;
        ssize_t n = libssh2_channel_read_ex(ch, stream, buf, sizeof buf);
        if (n > 0) {
          append(stream == 0 ? out.output : err, buf, static_cast<std::size_t>(n), out);
          progressed = true;
        } else if (n == 0 || (n == LIBSSH2_ERROR_EAGAIN && libssh2_channel_eof(ch))) {
          if (n == 0 && libssh2_channel_eof(ch)) eof = true;
          if (n == LIBSSH2_ERROR_EAGAIN) eof = true;
        } else if (n != LIBSSH2_ERROR_EAGAIN) {
          co_return io_failure("read", last_error(session_));
        }
      }
      if (!progressed && !(out_eof && err_eof)) {
        // Reading one stream can pull the other's data (and the EOF) off the
        // socket into libssh2's buffers: never wait on the socket, nor call
        // it the end, while either stream still has buffered data.
        const bool buffered =
            libssh2_poll_channel_read(ch, 0) > 0 || libssh2_poll_channel_read(ch, 1) > 0;
        if (buffered) continue;
        if (libssh2_channel_eof(ch)) {
          out_eof = err_eof = true;
        } else if (!co_await wait_socket()) {
          co_return io_failure("read", "connection lost");
        }
      }
    }
    if (out.output.size() < limits_.output_limit) append(out.output, err.data(), err.size(), out);
    rc = co_await call([&] { return libssh2_channel_close(ch); });
    if (rc == 0) co_await call([&] { return libssh2_channel_wait_closed(ch); });
    out.exit_status = libssh2_channel_get_exit_status(ch);
    // Killed by a signal: libssh2 reports exit status 0, which must not read as success.
    char* signal = nullptr;
    std::size_t signal_len = 0;
    libssh2_channel_get_exit_signal(ch, &signal, &signal_len, nullptr, nullptr, nullptr, nullptr);
    if (signal) {
      out.exit_status = -1;
      libssh2_free(session_, signal);
    }
    co_return std::nullopt;
  }

  void append(std::string& dst, const char* data, std::size_t n, CommandOutput& out) {
    std::size_t room =
        limits_.output_limit > out.output.size() + (&dst == &out.output ? 0 : dst.size())
            ? limits_.output_limit - out.output.size() - (&dst == &out.output ? 0 : dst.size())
            : 0;
    if (n > room) {
      out.truncated = true;
      n = room;
    }
    dst.append(data, n);
  }

  // Retries a libssh2 call until it stops answering EAGAIN, waiting for the
  // socket in the direction libssh2 asks for.
  template <typename F>
  awaitable<int> call(F f) {
    for (;;) {
      int rc = f();
      if (rc != LIBSSH2_ERROR_EAGAIN) co_return rc;
      if (!co_await wait_socket()) co_return LIBSSH2_ERROR_SOCKET_RECV;
    }
  }

  awaitable<bool> wait_socket() {
    if (deadline_.expired()) co_return false;
    boost::system::error_code ec;
    int dir = libssh2_session_block_directions(session_);
    if (dir & LIBSSH2_SESSION_BLOCK_OUTBOUND) {
      co_await socket_.async_wait(tcp::socket::wait_write, asio::redirect_error(use_awaitable, ec));
    } else {
      co_await socket_.async_wait(tcp::socket::wait_read, asio::redirect_error(use_awaitable, ec));
    }
    co_return !ec && !deadline_.expired();
  }

  tcp::socket socket_;
  tcp::resolver resolver_;
  Deadline deadline_;
  Device device_;
  Limits limits_;
  LIBSSH2_SESSION* session_ = nullptr;
  LIBSSH2_CHANNEL* spare_ = nullptr;  // open, unused: the next job's (freed with the session)
  bool reusable_ = false;
};

}  // namespace

struct SshExecutor::Impl : std::enable_shared_from_this<SshExecutor::Impl> {
  struct Job {
    Device device;
    std::vector<std::string> commands;
    Limits limits;
    Done done;
    Starting starting;
  };
  // A session waiting for its device's next job, and the timer that closes it.
  struct Idle {
    std::unique_ptr<Session> session;
    std::unique_ptr<asio::steady_timer> timer;
    std::uint64_t seq = 0;  // parking order: the smallest is the least recently used
  };

  asio::any_io_executor io;
  ExecutorOptions options;
  // Touched on the io thread only:
  std::deque<Job> queue;  // arrival order
  std::set<std::string> busy;
  std::unordered_map<std::string, Idle> idle;  // by device name; never a busy device
  std::uint64_t park_seq = 0;
  // Read from any thread:
  std::atomic<std::size_t> active{0};
  std::atomic<std::size_t> queued{0};
  std::atomic<std::uint64_t> opened{0}, reused{0}, reconnected{0}, idle_closed{0};
  std::atomic<std::size_t> idle_count{0};

  Impl(asio::any_io_executor e, ExecutorOptions o) : io(std::move(e)), options(std::move(o)) {}

  // Starts every queued job whose device is idle, in arrival order, while
  // under the session cap. A job never overtakes an earlier one for its device
  // because the earlier one is always found first.
  void pump() {
    for (auto it = queue.begin(); it != queue.end() && active < options.max_sessions;) {
      if (busy.contains(it->device.name)) {
        ++it;
        continue;
      }
      Job job = std::move(*it);
      it = queue.erase(it);
      --queued;
      start(std::move(job));
    }
  }

  void set_active(std::size_t n) {
    active = n;
    if (options.on_active_sessions) options.on_active_sessions(n);
  }

  void event(PoolEvent e) {
    switch (e) {
      case PoolEvent::kOpened:
        ++opened;
        break;
      case PoolEvent::kReused:
        ++reused;
        break;
      case PoolEvent::kReconnected:
        ++reconnected;
        break;
      case PoolEvent::kIdleClosed:
        ++idle_closed;
        break;
    }
    if (options.on_pool_event) options.on_pool_event(e);
  }

  void idle_changed() {
    if (idle_count == idle.size()) return;
    idle_count = idle.size();
    if (options.on_idle_sessions) options.on_idle_sessions(idle.size());
  }

  // The device's pooled session, if it has one that still reaches the same
  // account; a stale entry (the device was reconfigured) is closed.
  std::unique_ptr<Session> take(const Device& device) {
    auto it = idle.find(device.name);
    if (it == idle.end()) return nullptr;
    std::unique_ptr<Session> s = std::move(it->second.session);
    it->second.timer->cancel();
    idle.erase(it);
    idle_changed();
    if (!same_endpoint(s->device(), device)) {
      s.reset();
      event(PoolEvent::kIdleClosed);
      return nullptr;
    }
    return s;
  }

  // Keeps a session that ended cleanly for its device's next job.
  void park(std::unique_ptr<Session> s, std::chrono::milliseconds idle_timeout) {
    if (idle.size() >= options.max_idle_sessions) {
      auto lru = std::min_element(idle.begin(), idle.end(), [](const auto& a, const auto& b) {
        return a.second.seq < b.second.seq;
      });
      lru->second.timer->cancel();
      idle.erase(lru);
      idle_changed();
      event(PoolEvent::kIdleClosed);
    }
    const std::string name = s->device().name;
    Idle entry{std::move(s), std::make_unique<asio::steady_timer>(io), ++park_seq};
    entry.timer->expires_after(idle_timeout);
    // weak: a timer still pending must not keep the executor's state alive.
    entry.timer->async_wait(
        [weak = weak_from_this(), name, seq = entry.seq](boost::system::error_code ec) {
          auto self = weak.lock();
          if (ec || !self) return;
          auto it = self->idle.find(name);
          if (it == self->idle.end() || it->second.seq != seq) return;  // taken since
          self->idle.erase(it);
          self->idle_changed();
          self->event(PoolEvent::kIdleClosed);
        });
    idle.insert_or_assign(name, std::move(entry));
    idle_changed();
  }

  // Io thread, or any thread once the io_context stopped (the destructor).
  void close_idle() {
    while (!idle.empty()) {
      auto it = idle.begin();
      it->second.timer->cancel();
      idle.erase(it);
      idle_changed();
      event(PoolEvent::kIdleClosed);
    }
  }

  bool pooling(const Limits& limits) const {
    return limits.idle_timeout > std::chrono::milliseconds::zero() && options.max_idle_sessions > 0;
  }

  // Runs the job; a session that can serve the device's next job is left in `keep`.
  awaitable<ExecResult> run(Job& job, std::unique_ptr<Session>& keep) {
    ExecResult result;
    std::optional<Failure> failure;
    std::unique_ptr<Session> session = take(job.device);
    bool pooled = session != nullptr;
    if (pooled && session->peer_closed()) {
      // Closed while idle (restarted, its idle limit, a middlebox): connect again.
      session.reset();
      pooled = false;
      event(PoolEvent::kReconnected);
    }
    auto connect = [&]() -> awaitable<std::optional<Failure>> {
      session = std::make_unique<Session>(io, job.device);
      session->set_limits(job.limits);
      auto f = co_await session->open();
      if (!f) event(PoolEvent::kOpened);
      co_return f;
    };
    if (session) {
      session->set_limits(job.limits);
    } else {
      failure = co_await connect();
    }
    for (std::size_t i = 0; !failure && i < job.commands.size(); ++i) {
      CommandOutput out;
      out.command = job.commands[i];
      bool unsent = false;
      const bool first_on_pooled = pooled && i == 0;
      // The first answer a pooled session gives (its spare channel's exec
      // reply, or a channel open) comes over a connection that sat idle and
      // may be dead: bound it like a connect, not like a command.
      auto open_timeout = first_on_pooled
                              ? std::min(job.limits.connect_timeout, job.limits.command_timeout)
                              : job.limits.command_timeout;
      failure = co_await session->exec(out, open_timeout, unsent, options.on_command_sent, pooled);
      if (failure && first_on_pooled && unsent) {
        // The pooled session died unnoticed and nothing of the command left:
        // connect again, once, rather than fail the job.
        pooled = false;
        event(PoolEvent::kReconnected);
        failure = co_await connect();
        if (failure) break;
        out = CommandOutput{};
        out.command = job.commands[i];
        failure = co_await session->exec(out, job.limits.command_timeout, unsent,
                                         options.on_command_sent, false);
      }
      result.commands.push_back(std::move(out));
    }
    if (pooled) event(PoolEvent::kReused);  // it ran there, whatever the outcome
    if (failure) {
      result.error = failure->code;
      result.error_message = std::move(failure->message);
      result.retryable =
          failure->code == ErrorCode::kSshError || failure->code == ErrorCode::kTimeout;
    }
    if (session && session->reusable() && pooling(job.limits)) keep = std::move(session);
    co_return result;
  }

  void start(Job job) {
    if (job.starting && !job.starting()) {
      ExecResult r;
      r.error = ErrorCode::kCancelled;
      r.error_message =
          fmt::format("{}: not started: the caller refused at start", job.device.name);
      if (job.done) job.done(std::move(r));
      return;
    }
    busy.insert(job.device.name);
    set_active(active + 1);
    auto self = shared_from_this();
    asio::co_spawn(
        io,
        [self, job = std::move(job)]() mutable -> awaitable<void> {
          auto started = std::chrono::steady_clock::now();
          std::unique_ptr<Session> keep;
          ExecResult result = co_await self->run(job, keep);
          result.duration = std::chrono::duration_cast<std::chrono::milliseconds>(
              std::chrono::steady_clock::now() - started);
          self->set_active(self->active - 1);
          if (job.done) job.done(std::move(result));
          self->pump();  // other devices' jobs
          // The device stays busy until its session is pooled, so that its
          // next job finds it there (the spare channel's round trip; briefly
          // beyond max_sessions, as it no longer counts as active).
          if (keep && co_await keep->open_spare(
                          std::min(job.limits.connect_timeout, job.limits.command_timeout))) {
            self->park(std::move(keep), job.limits.idle_timeout);
          }
          keep.reset();  // not pooled: closed here
          self->busy.erase(job.device.name);
          self->pump();
        },
        asio::detached);
  }
};

SshExecutor::SshExecutor(asio::any_io_executor io, ExecutorOptions options)
    : impl_(std::make_shared<Impl>(std::move(io), std::move(options))) {
  init_libssh2_once();
}

SshExecutor::~SshExecutor() {
  try {
    impl_->close_idle();
  } catch (const std::exception&) {
    // Best effort: the sockets close with the process anyway; a destructor must not throw.
  }
}

void SshExecutor::submit(Device device, std::vector<std::string> commands, Limits limits, Done done,
                         Starting starting) {
  if (impl_->queued.fetch_add(1) >= impl_->options.max_queued) {
    --impl_->queued;
    ExecResult r;
    r.error = ErrorCode::kQueueFull;
    r.retryable = true;
    r.error_message = fmt::format(
        "{}: {} jobs are already waiting for a session (max_queued); "
        "refused, nothing sent",
        device.name, impl_->options.max_queued);
    asio::post(impl_->io, [done = std::move(done), r = std::move(r)]() mutable {
      if (done) done(std::move(r));
    });
    return;
  }
  asio::post(impl_->io,
             [impl = impl_, job = Impl::Job{std::move(device), std::move(commands), limits,
                                            std::move(done), std::move(starting)}]() mutable {
               impl->queue.push_back(std::move(job));
               impl->pump();
             });
}

std::size_t SshExecutor::active_sessions() const { return impl_->active.load(); }
std::size_t SshExecutor::queued_jobs() const { return impl_->queued.load(); }

PoolStats SshExecutor::pool_stats() const {
  return {impl_->opened.load(), impl_->reused.load(), impl_->reconnected.load(),
          impl_->idle_closed.load(), impl_->idle_count.load()};
}

void SshExecutor::cancel_queued() {
  asio::post(impl_->io, [impl = impl_] {
    auto jobs = std::move(impl->queue);
    impl->queue.clear();
    for (auto& job : jobs) {
      --impl->queued;
      ExecResult r;
      r.error = ErrorCode::kCancelled;
      r.error_message = fmt::format("{}: cancelled before it ran (shutting down)", job.device.name);
      if (job.done) job.done(std::move(r));
    }
  });
}

}  // namespace aiopsd::ssh
