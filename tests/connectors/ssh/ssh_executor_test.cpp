// SshExecutor against a real OpenSSH server (the device simulator) on loopback.

#include "connectors/ssh/ssh_executor.hpp"

#include <gtest/gtest.h>

#include <fmt/format.h>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <fstream>
#include <future>
#include <thread>

#include "tests/harness/sshd_fixture.hpp"

namespace aiopsd::ssh {
namespace {

using namespace std::chrono_literals;
using testing::SshdFixture;

// An executor on its own io thread against a real sshd, stopped in the
// daemon's order: the io thread first, then the executor.
class ExecutorFixture : public ::testing::Test {
 protected:
  void TearDown() override { stop(); }

  void start(ExecutorOptions o = {}) {
    executor_ = std::make_unique<SshExecutor>(io_.get_executor(), std::move(o));
    thread_ = std::thread([this] { io_.run(); });
  }
  void stop() {
    work_.reset();
    io_.stop();
    if (thread_.joinable()) thread_.join();
    executor_.reset();
  }

  ExecResult run(const Device& d, std::vector<std::string> commands, Limits limits = {}) {
    std::promise<ExecResult> p;
    auto f = p.get_future();
    executor_->submit(d, std::move(commands), limits,
                      [&p](ExecResult r) { p.set_value(std::move(r)); });
    EXPECT_EQ(f.wait_for(60s), std::future_status::ready);
    return f.get();
  }

  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_{
      io_.get_executor()};
  std::unique_ptr<SshExecutor> executor_;
  std::thread thread_;
  SshdFixture sshd_;
};

class SshExecutorTest : public ExecutorFixture {
 protected:
  void SetUp() override {
    ExecutorOptions o;
    o.max_sessions = 64;
    o.on_active_sessions = [this](std::size_t n) { max_active_ = std::max(max_active_.load(), n); };
    start(std::move(o));
  }

  std::atomic<std::size_t> max_active_{0};
};

TEST_F(SshExecutorTest, RunsACommandAndReturnsItsOutput) {
  auto r = run(sshd_.device("sw1"), {"show version"});
  ASSERT_TRUE(r.ok()) << to_string(r.error) << ": " << r.error_message << "\n" << sshd_.log();
  ASSERT_EQ(r.commands.size(), 1u);
  EXPECT_EQ(r.commands[0].exit_status, 0);
  EXPECT_NE(r.commands[0].output.find("Generic Network OS"), std::string::npos);
  EXPECT_FALSE(r.commands[0].truncated);
  EXPECT_EQ(sshd_.commands_received(), std::vector<std::string>{"show version"});
  EXPECT_EQ(executor_->active_sessions(), 0u);
}

TEST_F(SshExecutorTest, RunsSeveralCommandsInOrderAndReportsExitStatus) {
  auto r =
      run(sshd_.device("sw1"), {"show bgp summary", "bogus command", "interface 1/1/1 shutdown"});
  ASSERT_TRUE(r.ok()) << r.error_message;
  ASSERT_EQ(r.commands.size(), 3u);
  EXPECT_EQ(r.commands[0].exit_status, 0);
  EXPECT_EQ(r.commands[1].exit_status, 1);
  EXPECT_NE(r.commands[1].output.find("% Invalid input"), std::string::npos);  // stderr kept
  EXPECT_EQ(r.commands[2].output, "OK\n");
  EXPECT_EQ(
      sshd_.commands_received(),
      (std::vector<std::string>{"show bgp summary", "bogus command", "interface 1/1/1 shutdown"}));
}

TEST_F(SshExecutorTest, ACommandKilledByASignalIsNotASuccess) {
  auto r = run(sshd_.device("sw1"), {"crash", "show version"});
  ASSERT_TRUE(r.ok()) << r.error_message;  // it ran; the device decides what it means
  ASSERT_EQ(r.commands.size(), 2u);
  EXPECT_NE(r.commands[0].exit_status, 0);
  EXPECT_EQ(r.commands[1].exit_status, 0);
}

TEST_F(SshExecutorTest, OutputBeyondTheLimitIsTruncatedAndFlagged) {
  Limits limits;
  limits.output_limit = 1000;
  auto r = run(sshd_.device("sw1"), {"show big 300000"}, limits);
  ASSERT_TRUE(r.ok()) << r.error_message;
  EXPECT_EQ(r.commands[0].output.size(), 1000u);
  EXPECT_TRUE(r.commands[0].truncated);
  EXPECT_EQ(r.commands[0].exit_status, 0);
}

TEST_F(SshExecutorTest, CommandTimeout) {
  Limits limits;
  limits.command_timeout = 500ms;
  auto started = std::chrono::steady_clock::now();
  auto r = run(sshd_.device("sw1"), {"sleep 5"}, limits);
  EXPECT_EQ(r.error, ErrorCode::kTimeout) << r.error_message;
  EXPECT_TRUE(r.retryable);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 4s);
}

TEST_F(SshExecutorTest, PeerThatNeverSpeaksSshTimesOutDuringConnect) {
  // A listener that never accepts: TCP connects (backlog), no SSH banner ever comes.
  boost::asio::io_context other;
  boost::asio::ip::tcp::acceptor silent(other, {boost::asio::ip::make_address("127.0.0.1"), 0});
  Device d = sshd_.device("mute");
  d.port = silent.local_endpoint().port();
  Limits limits;
  limits.connect_timeout = 500ms;
  auto started = std::chrono::steady_clock::now();
  auto r = run(d, {"show version"}, limits);
  EXPECT_EQ(r.error, ErrorCode::kTimeout) << r.error_message;
  EXPECT_TRUE(r.retryable);
  EXPECT_TRUE(r.commands.empty());
  EXPECT_NE(r.error_message.find(fmt::format("127.0.0.1:{}", d.port)), std::string::npos);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 3s);
}

TEST_F(SshExecutorTest, UnknownHostIsRefusedBeforeAnythingIsSent) {
  Device d = sshd_.device("sw1");
  d.known_hosts_file = (sshd_.dir() / "empty_known_hosts").string();
  std::ofstream(d.known_hosts_file) << "";
  auto r = run(d, {"show version"});
  EXPECT_EQ(r.error, ErrorCode::kHostKeyUnknown) << r.error_message;
  EXPECT_NE(r.error_message.find("sw1"), std::string::npos);
  EXPECT_TRUE(sshd_.commands_received().empty());
}

TEST_F(SshExecutorTest, ChangedHostKeyIsRefused) {
  sshd_.regenerate_host_key();
  auto r = run(sshd_.device("sw1"), {"show version"});
  EXPECT_EQ(r.error, ErrorCode::kHostKeyMismatch) << r.error_message;
  EXPECT_FALSE(r.retryable);
  EXPECT_TRUE(sshd_.commands_received().empty());
}

TEST_F(SshExecutorTest, SkippingVerificationIsAnExplicitOptOut) {
  sshd_.regenerate_host_key();
  Device d = sshd_.device("sw1");
  d.verify_host_key = false;
  EXPECT_TRUE(run(d, {"show version"}).ok());
}

TEST_F(SshExecutorTest, ServerDownIsARetryableSshError) {
  sshd_.stop();
  auto r = run(sshd_.device("sw1"), {"show version"});
  EXPECT_EQ(r.error, ErrorCode::kSshError) << r.error_message;
  EXPECT_TRUE(r.retryable);
  EXPECT_TRUE(r.commands.empty());
}

TEST_F(SshExecutorTest, WrongKeyFailsAuthentication) {
  Device d = sshd_.device("sw1");
  std::string other = (sshd_.dir() / "other_key").string();
  ASSERT_EQ(std::system(("ssh-keygen -q -t ed25519 -N '' -f " + other).c_str()), 0);
  d.credential.key_file = other;
  auto r = run(d, {"show version"});
  EXPECT_EQ(r.error, ErrorCode::kAuthFailed) << r.error_message;
  EXPECT_TRUE(sshd_.commands_received().empty());
}

TEST_F(SshExecutorTest, UnsetPasswordVariableIsACredentialErrorWithoutTheSecret) {
  Device d = sshd_.device("sw1");
  d.credential.kind = Credential::Kind::kPassword;
  d.credential.password.env = "AIOPSD_TEST_UNSET_PASSWORD";
  ::unsetenv("AIOPSD_TEST_UNSET_PASSWORD");
  auto r = run(d, {"show version"});
  EXPECT_EQ(r.error, ErrorCode::kCredentialError) << r.error_message;
  EXPECT_NE(r.error_message.find("AIOPSD_TEST_UNSET_PASSWORD"), std::string::npos);
}

TEST_F(SshExecutorTest, MissingPasswordFileIsACredentialError) {
  Device d = sshd_.device("sw1");
  d.credential.kind = Credential::Kind::kPassword;
  d.credential.password.file = (sshd_.dir() / "no-such-password").string();
  auto r = run(d, {"show version"});
  EXPECT_EQ(r.error, ErrorCode::kCredentialError) << r.error_message;
  EXPECT_FALSE(r.retryable);
}

TEST_F(SshExecutorTest, PasswordFromAFileIsNeverInTheErrorMessage) {
  Device d = sshd_.device("sw1");
  d.credential.kind = Credential::Kind::kPassword;
  d.credential.password.file = (sshd_.dir() / "password").string();
  std::ofstream(d.credential.password.file) << "File-S3cret-pw\n";
  auto r = run(d, {"show version"});  // the server only accepts keys
  EXPECT_EQ(r.error, ErrorCode::kAuthFailed) << r.error_message;
  EXPECT_EQ(r.error_message.find("File-S3cret-pw"), std::string::npos);
}

TEST_F(SshExecutorTest, PasswordIsNeverInTheErrorMessage) {
  Device d = sshd_.device("sw1");
  d.credential.kind = Credential::Kind::kPassword;
  d.credential.password.env = "AIOPSD_TEST_PASSWORD";
  ::setenv("AIOPSD_TEST_PASSWORD", "Sup3r-S3cret-pw", 1);
  auto r = run(d, {"show version"});  // the server only accepts keys
  EXPECT_EQ(r.error, ErrorCode::kAuthFailed) << r.error_message;
  EXPECT_EQ(r.error_message.find("Sup3r-S3cret-pw"), std::string::npos);
}

TEST_F(SshExecutorTest, JobsForOneDeviceRunOneAtATimeInSubmissionOrder) {
  std::vector<std::future<ExecResult>> results;
  std::vector<std::shared_ptr<std::promise<ExecResult>>> promises;
  for (int i = 0; i < 5; ++i) {
    auto p = std::make_shared<std::promise<ExecResult>>();
    results.push_back(p->get_future());
    executor_->submit(sshd_.device("sw1"), {fmt::format("interface 1/1/{} shutdown", i)}, {},
                      [p](ExecResult r) { p->set_value(std::move(r)); });
  }
  for (auto& f : results) {
    ASSERT_EQ(f.wait_for(60s), std::future_status::ready);
    EXPECT_TRUE(f.get().ok());
  }
  EXPECT_EQ(max_active_.load(), 1u);  // one device: never two sessions at once
  std::vector<std::string> expected;
  expected.reserve(5);
  for (int i = 0; i < 5; ++i) expected.push_back(fmt::format("interface 1/1/{} shutdown", i));
  EXPECT_EQ(sshd_.commands_received(), expected);
}

TEST_F(SshExecutorTest, DifferentDevicesRunConcurrently) {
  std::vector<std::future<ExecResult>> results;
  for (const char* name : {"a", "b", "c"}) {
    auto p = std::make_shared<std::promise<ExecResult>>();
    results.push_back(p->get_future());
    executor_->submit(sshd_.device(name), {"sleep 1"}, {},
                      [p](ExecResult r) { p->set_value(std::move(r)); });
  }
  for (auto& f : results) {
    ASSERT_EQ(f.wait_for(60s), std::future_status::ready);
    EXPECT_TRUE(f.get().ok());
  }
  EXPECT_EQ(max_active_.load(), 3u);
}

TEST(SshExecutorCap, GlobalSessionCapIsHonoured) {
  SshdFixture sshd;
  boost::asio::io_context io;
  auto guard = boost::asio::make_work_guard(io);
  std::atomic<std::size_t> max_active{0};
  ExecutorOptions o;
  o.max_sessions = 2;
  o.on_active_sessions = [&](std::size_t n) { max_active = std::max(max_active.load(), n); };
  SshExecutor executor(io.get_executor(), o);
  std::thread t([&] { io.run(); });
  std::vector<std::future<ExecResult>> results;
  for (int i = 0; i < 5; ++i) {
    auto p = std::make_shared<std::promise<ExecResult>>();
    results.push_back(p->get_future());
    executor.submit(sshd.device(fmt::format("d{}", i)), {"show version"}, {},
                    [p](ExecResult r) { p->set_value(std::move(r)); });
  }
  for (auto& f : results) {
    ASSERT_EQ(f.wait_for(60s), std::future_status::ready);
    EXPECT_TRUE(f.get().ok());
  }
  EXPECT_EQ(max_active.load(), 2u);
  EXPECT_EQ(sshd.commands_received().size(), 5u);
  guard.reset();
  io.stop();
  t.join();
}

// Jobs waiting for a session are bounded: beyond max_queued a job is refused
// at once (retryable, nothing sent) instead of queueing without bound.
TEST(SshExecutorCap, QueueBeyondMaxQueuedIsRefused) {
  SshdFixture sshd;
  boost::asio::io_context io;
  auto guard = boost::asio::make_work_guard(io);
  ExecutorOptions o;
  o.max_sessions = 1;
  o.max_queued = 2;
  SshExecutor executor(io.get_executor(), o);
  std::thread t([&] { io.run(); });
  std::vector<std::future<ExecResult>> results;
  auto submit = [&](const std::string& command) {
    auto p = std::make_shared<std::promise<ExecResult>>();
    results.push_back(p->get_future());
    executor.submit(sshd.device("sw1"), {command}, {},
                    [p](ExecResult r) { p->set_value(std::move(r)); });
  };
  submit("sleep 2");
  // The first job leaves the queue once its session starts.
  for (int i = 0; i < 200 && executor.queued_jobs() > 0; ++i) std::this_thread::sleep_for(10ms);
  submit("show marker a");
  submit("show marker b");
  submit("show marker c");  // a third waiting job: refused
  std::vector<ExecResult> r;
  for (auto& f : results) {
    ASSERT_EQ(f.wait_for(60s), std::future_status::ready);
    r.push_back(f.get());
  }
  EXPECT_TRUE(r[0].ok());
  EXPECT_TRUE(r[1].ok());
  EXPECT_TRUE(r[2].ok());
  EXPECT_EQ(r[3].error, ErrorCode::kQueueFull);
  EXPECT_TRUE(r[3].retryable);
  EXPECT_EQ(to_string(r[3].error), "queue_full");
  EXPECT_EQ(sshd.commands_received(),
            (std::vector<std::string>{"sleep 2", "show marker a", "show marker b"}));
  guard.reset();
  io.stop();
  t.join();
}

// Polls `pred` for up to 20s.
template <typename Pred>
bool eventually(Pred pred) {
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

TEST(SshExecutorQueue, CancelQueuedFailsWaitingJobsAndLetsRunningOnesFinish) {
  SshdFixture sshd;
  boost::asio::io_context io;
  auto guard = boost::asio::make_work_guard(io);
  ExecutorOptions o;
  o.max_sessions = 1;
  SshExecutor executor(io.get_executor(), o);
  std::thread t([&] { io.run(); });
  std::vector<std::future<ExecResult>> results;
  auto submit = [&](const std::string& device, const std::string& command) {
    auto p = std::make_shared<std::promise<ExecResult>>();
    results.push_back(p->get_future());
    executor.submit(sshd.device(device), {command}, {},
                    [p](ExecResult r) { p->set_value(std::move(r)); });
  };
  submit("a", "sleep 2");
  submit("b", "show version");
  submit("a", "show version");
  ASSERT_TRUE(eventually([&] { return executor.active_sessions() == 1; }));
  EXPECT_EQ(executor.queued_jobs(), 2u);
  executor.cancel_queued();
  for (std::size_t i : {1u, 2u}) {
    ASSERT_EQ(results[i].wait_for(5s), std::future_status::ready);
    auto r = results[i].get();
    EXPECT_EQ(r.error, ErrorCode::kCancelled);
    EXPECT_EQ(to_string(r.error), "cancelled");
    EXPECT_TRUE(r.commands.empty());
  }
  EXPECT_EQ(executor.queued_jobs(), 0u);
  ASSERT_EQ(results[0].wait_for(30s), std::future_status::ready);
  EXPECT_TRUE(results[0].get().ok());
  EXPECT_EQ(sshd.commands_received(), std::vector<std::string>{"sleep 2"});
  guard.reset();
  io.stop();
  t.join();
}

TEST(SshExecutorLifecycle, DestroyingWithASessionInFlightIsSafe) {
  SshdFixture sshd;
  std::atomic<bool> called{false};
  {
    boost::asio::io_context io;
    auto guard = boost::asio::make_work_guard(io);
    auto executor = std::make_unique<SshExecutor>(io.get_executor(), ExecutorOptions{});
    std::thread t([&] { io.run(); });
    executor->submit(sshd.device("a"), {"sleep 5"}, {}, [&](const ExecResult&) { called = true; });
    executor->submit(sshd.device("a"), {"show version"}, {},
                     [&](const ExecResult&) { called = true; });
    ASSERT_TRUE(eventually([&] { return sshd.commands_received().size() == 1; }));
    // The daemon's order: stop the io_context, then destroy the executor, then the context.
    guard.reset();
    io.stop();
    t.join();
    executor.reset();
  }  // io_context destroyed here with the session coroutine still suspended
  EXPECT_FALSE(called);
}

// The warm pool: a job's session stays open for the device's next job.
class SshPoolTest : public ExecutorFixture {
 protected:
  // Logins sshd accepted, from its VERBOSE log.
  std::size_t logins() const { return count_in_log("Accepted publickey"); }
  std::size_t count_in_log(std::string_view what) const {
    std::string log = sshd_.log();
    std::size_t n = 0;
    for (auto pos = log.find(what); pos != std::string::npos; pos = log.find(what, pos + 1)) ++n;
    return n;
  }
};

TEST_F(SshPoolTest, TheNextJobOnTheSameDeviceReusesTheSession) {
  std::vector<PoolEvent> events;
  std::vector<std::size_t> idle_counts;
  ExecutorOptions o;
  o.on_pool_event = [&](PoolEvent e) { events.push_back(e); };
  o.on_idle_sessions = [&](std::size_t n) { idle_counts.push_back(n); };
  start(std::move(o));
  ASSERT_TRUE(run(sshd_.device("sw1"), {"show version"}).ok());
  // Pooled once its spare channel is open, just after the job's result.
  ASSERT_TRUE(eventually([&] { return executor_->pool_stats().idle == 1; }));
  auto r = run(sshd_.device("sw1"), {"show bgp summary", "interface 1/1/1 shutdown"});
  ASSERT_TRUE(r.ok()) << r.error_message;
  EXPECT_EQ(r.commands[1].output, "OK\n");
  PoolStats st = executor_->pool_stats();
  EXPECT_EQ(st.opened, 1u);
  EXPECT_EQ(st.reused, 1u);
  EXPECT_EQ(st.reconnected, 0u);
  EXPECT_TRUE(eventually([&] { return executor_->pool_stats().idle == 1; }));
  EXPECT_EQ(logins(), 1u) << sshd_.log();  // one key exchange and login for both jobs
  EXPECT_EQ(sshd_.commands_received(), (std::vector<std::string>{"show version", "show bgp summary",
                                                                 "interface 1/1/1 shutdown"}));
  stop();  // closes the idle session
  EXPECT_EQ(events, (std::vector<PoolEvent>{PoolEvent::kOpened, PoolEvent::kReused,
                                            PoolEvent::kIdleClosed}));
  // parked, taken, parked again, closed by the executor's destructor
  EXPECT_EQ(idle_counts, (std::vector<std::size_t>{1, 0, 1, 0}));
}

TEST_F(SshPoolTest, ZeroIdleTimeoutClosesTheSessionAfterTheJob) {
  start();
  Limits limits;
  limits.idle_timeout = 0ms;
  ASSERT_TRUE(run(sshd_.device("sw1"), {"show version"}, limits).ok());
  EXPECT_EQ(executor_->pool_stats().idle, 0u);
  ASSERT_TRUE(run(sshd_.device("sw1"), {"show version"}, limits).ok());
  EXPECT_EQ(executor_->pool_stats().opened, 2u);
  EXPECT_EQ(executor_->pool_stats().reused, 0u);
  EXPECT_EQ(logins(), 2u);
}

TEST_F(SshPoolTest, NoPoolWhenMaxIdleSessionsIsZero) {
  ExecutorOptions o;
  o.max_idle_sessions = 0;
  start(std::move(o));
  ASSERT_TRUE(run(sshd_.device("sw1"), {"show version"}).ok());
  ASSERT_TRUE(run(sshd_.device("sw1"), {"show version"}).ok());
  EXPECT_EQ(executor_->pool_stats().opened, 2u);
  EXPECT_EQ(executor_->pool_stats().idle, 0u);
}

TEST_F(SshPoolTest, AnIdleSessionClosesAfterItsIdleTimeout) {
  start();
  Limits limits;
  limits.idle_timeout = 300ms;
  ASSERT_TRUE(run(sshd_.device("sw1"), {"show version"}, limits).ok());
  ASSERT_TRUE(eventually([&] { return executor_->pool_stats().idle_closed == 1; }));
  EXPECT_EQ(executor_->pool_stats().idle, 0u);
  EXPECT_EQ(executor_->pool_stats().idle_closed, 1u);
  // It said goodbye (SSH_MSG_DISCONNECT), as a session closed after its job does.
  ASSERT_TRUE(eventually([&] { return count_in_log("Received disconnect") == 1; })) << sshd_.log();
  ASSERT_TRUE(run(sshd_.device("sw1"), {"show version"}, limits).ok());
  EXPECT_EQ(executor_->pool_stats().opened, 2u);
  EXPECT_EQ(executor_->pool_stats().reused, 0u);
}

TEST_F(SshPoolTest, ADeadPooledSessionIsReplacedAndTheJobRuns) {
  start();
  ASSERT_TRUE(run(sshd_.device("sw1"), {"show version"}).ok());
  ASSERT_TRUE(eventually([&] { return executor_->pool_stats().idle == 1; }));
  sshd_.restart();  // the device reboots: its connections go, the listener comes back
  auto r = run(sshd_.device("sw1"), {"show bgp summary"});
  ASSERT_TRUE(r.ok()) << to_string(r.error) << ": " << r.error_message;
  PoolStats st = executor_->pool_stats();
  EXPECT_EQ(st.reconnected, 1u);
  EXPECT_EQ(st.opened, 2u);
  EXPECT_EQ(st.reused, 0u);
  EXPECT_EQ(sshd_.commands_received(),
            (std::vector<std::string>{"show version", "show bgp summary"}));
}

TEST_F(SshPoolTest, ASessionTheServerClosedWhileIdleIsReplaced) {
  start();
  ASSERT_TRUE(run(sshd_.device("sw1"), {"show version"}).ok());
  ASSERT_TRUE(eventually([&] { return executor_->pool_stats().idle == 1; }));
  sshd_.drop_connections();
  ASSERT_TRUE(run(sshd_.device("sw1"), {"show version"}).ok());
  EXPECT_EQ(executor_->pool_stats().reconnected, 1u);
  EXPECT_EQ(logins(), 2u);
}

TEST_F(SshPoolTest, APooledSessionThatNoLongerAnswersFailsTheJobRetryablyWithinTheConnectTimeout) {
  start();
  Limits limits;
  limits.connect_timeout = 500ms;
  ASSERT_TRUE(run(sshd_.device("sw1"), {"show version"}, limits).ok());
  ASSERT_TRUE(eventually([&] { return executor_->pool_stats().idle == 1; }));
  // Open but silent, as behind a dead link: the command's request leaves on
  // the session's spare channel, so it is not sent again elsewhere (the device
  // might still run it): the job fails, retryably, within connect_timeout.
  sshd_.freeze_connections();
  auto started = std::chrono::steady_clock::now();
  auto r = run(sshd_.device("sw1"), {"show bgp summary"}, limits);
  EXPECT_EQ(r.error, ErrorCode::kTimeout) << r.error_message;
  EXPECT_TRUE(r.retryable);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
  EXPECT_EQ(executor_->pool_stats().idle, 0u);
  sshd_.drop_connections();
  // The next job connects afresh.
  ASSERT_TRUE(run(sshd_.device("sw1"), {"show version"}, limits).ok());
  EXPECT_EQ(executor_->pool_stats().opened, 2u);
  EXPECT_EQ(sshd_.commands_received(), (std::vector<std::string>{"show version", "show version"}));
}

TEST_F(SshPoolTest, ADeadPooledSessionOnAServerStillDownFailsRetryably) {
  start();
  ASSERT_TRUE(run(sshd_.device("sw1"), {"show version"}).ok());
  ASSERT_TRUE(eventually([&] { return executor_->pool_stats().idle == 1; }));
  sshd_.stop();
  auto r = run(sshd_.device("sw1"), {"show version"});
  EXPECT_EQ(r.error, ErrorCode::kSshError) << r.error_message;
  EXPECT_TRUE(r.retryable);
  EXPECT_TRUE(r.commands.empty());
  EXPECT_EQ(executor_->pool_stats().idle, 0u);
}

TEST_F(SshPoolTest, TheLeastRecentlyUsedIdleSessionClosesWhenThePoolIsFull) {
  ExecutorOptions o;
  o.max_idle_sessions = 2;
  start(std::move(o));
  for (const char* name : {"a", "b", "c"}) {
    ASSERT_TRUE(run(sshd_.device(name), {"show version"}).ok());
    ASSERT_TRUE(eventually([&] {
      PoolStats st = executor_->pool_stats();
      return st.opened == st.idle + st.idle_closed;  // this one pooled
    }));
  }
  EXPECT_EQ(executor_->pool_stats().idle, 2u);
  EXPECT_EQ(executor_->pool_stats().idle_closed, 1u);  // a's
  ASSERT_TRUE(run(sshd_.device("c"), {"show version"}).ok());
  EXPECT_EQ(executor_->pool_stats().reused, 1u);
  ASSERT_TRUE(run(sshd_.device("a"), {"show version"}).ok());
  EXPECT_EQ(executor_->pool_stats().opened, 4u);
}

TEST_F(SshPoolTest, AReconfiguredDeviceDoesNotGetTheOldSession) {
  start();
  ASSERT_TRUE(run(sshd_.device("sw1"), {"show version"}).ok());
  Device d = sshd_.device("sw1");
  d.verify_host_key = false;  // same name, another way in: a reload changed it
  ASSERT_TRUE(run(d, {"show version"}).ok());
  EXPECT_EQ(executor_->pool_stats().opened, 2u);
  EXPECT_EQ(executor_->pool_stats().reused, 0u);
}

TEST_F(SshPoolTest, DestroyingTheExecutorClosesIdleSessions) {
  start();
  ASSERT_TRUE(run(sshd_.device("a"), {"show version"}).ok());
  ASSERT_TRUE(run(sshd_.device("b"), {"show version"}).ok());
  ASSERT_TRUE(eventually([&] { return executor_->pool_stats().idle == 2; }));
  EXPECT_EQ(count_in_log("Received disconnect"), 0u);
  stop();
  EXPECT_TRUE(eventually([&] { return count_in_log("Received disconnect") == 2; })) << sshd_.log();
}

TEST_F(SshPoolTest, CommandSentHookSeesEveryCommand) {
  std::vector<std::string> sent;
  std::vector<bool> pooled;
  ExecutorOptions o;
  o.on_command_sent = [&](const CommandSent& c) {
    sent.emplace_back(fmt::format("{}: {}", c.device, c.command));
    pooled.push_back(c.pooled);
  };
  start(std::move(o));
  ASSERT_TRUE(run(sshd_.device("sw1"), {"show version", "show bgp summary"}).ok());
  ASSERT_TRUE(run(sshd_.device("sw1"), {"show version"}).ok());
  stop();
  EXPECT_EQ(sent, (std::vector<std::string>{"sw1: show version", "sw1: show bgp summary",
                                            "sw1: show version"}));
  EXPECT_EQ(pooled, (std::vector<bool>{false, false, true}));
}

TEST(SshExecutorNames, PoolEventsHaveStableNames) {
  EXPECT_EQ(to_string(PoolEvent::kOpened), "opened");
  EXPECT_EQ(to_string(PoolEvent::kReused), "reused");
  EXPECT_EQ(to_string(PoolEvent::kReconnected), "reconnected");
  EXPECT_EQ(to_string(PoolEvent::kIdleClosed), "idle_closed");
}

TEST(SshExecutorNames, ErrorCodesHaveStableNames) {
  EXPECT_EQ(to_string(ErrorCode::kNone), "none");
  EXPECT_EQ(to_string(ErrorCode::kSshError), "ssh_error");
  EXPECT_EQ(to_string(ErrorCode::kHostKeyUnknown), "host_key_unknown");
  EXPECT_EQ(to_string(ErrorCode::kHostKeyMismatch), "host_key_mismatch");
  EXPECT_EQ(to_string(ErrorCode::kAuthFailed), "auth_failed");
  EXPECT_EQ(to_string(ErrorCode::kCredentialError), "credential_error");
  EXPECT_EQ(to_string(ErrorCode::kTimeout), "timeout");
  EXPECT_EQ(to_string(ErrorCode::kCancelled), "cancelled");
}

}  // namespace
}  // namespace aiopsd::ssh

namespace aiopsd::ssh {
namespace {
// Many sessions at once on one io thread: every one completes with its output.
// Guards against waiting on the socket while libssh2 holds buffered data.
TEST(SshExecutorLoad, ManyConcurrentSessionsAllComplete) {
  testing::SshdFixture sshd;
  boost::asio::io_context io;
  auto guard = boost::asio::make_work_guard(io);
  ExecutorOptions o;
  o.max_sessions = 64;
  SshExecutor executor(io.get_executor(), o);
  std::thread t([&] { io.run(); });
  std::vector<std::future<ExecResult>> results;
  for (int i = 0; i < 100; ++i) {
    auto p = std::make_shared<std::promise<ExecResult>>();
    results.push_back(p->get_future());
    Limits limits;
    // Generous: this checks completion, not speed (a loaded CI machine under ASan is slow).
    limits.connect_timeout = std::chrono::seconds(60);
    limits.command_timeout = std::chrono::seconds(60);
    executor.submit(sshd.device(fmt::format("d{}", i % 50)), {fmt::format("show marker m{}", i)},
                    limits, [p](ExecResult r) { p->set_value(std::move(r)); });
  }
  int i = 0;
  for (auto& f : results) {
    ASSERT_EQ(f.wait_for(std::chrono::seconds(120)), std::future_status::ready);
    ExecResult r = f.get();
    EXPECT_TRUE(r.ok()) << r.error_message;
    ASSERT_EQ(r.commands.size(), 1u);
    // stdout comes first; the login shell's rc files may add noise on stderr
    // under this much concurrency (pyenv rehash locks on the CI image).
    EXPECT_EQ(r.commands[0].output.rfind(fmt::format("marker m{}\n", i), 0), 0u)
        << r.commands[0].output;
    ++i;
  }
  guard.reset();
  io.stop();
  t.join();
}
}  // namespace
}  // namespace aiopsd::ssh
