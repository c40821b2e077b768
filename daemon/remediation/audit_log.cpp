#include "daemon/remediation/audit_log.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <pthread.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <future>
#include <stdexcept>

#include "daemon/detail/json_writer.hpp"
#include "daemon/detail/write_all.hpp"
#include "rules/event.hpp"

namespace aiopsd::daemon {

AuditLog::AuditLog(const std::string& path) : path_(path) {
  std::error_code ec;
  auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  fd_ = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (fd_ < 0) {
    throw std::runtime_error(
        fmt::format("cannot open audit log {}: {}", path, std::strerror(errno)));
  }
  flusher_ = std::thread([this] {
    ::pthread_setname_np(::pthread_self(), "aiopsd-audit");
    flush_loop();
  });
}

AuditLog::~AuditLog() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_one();
  if (flusher_.joinable()) flusher_.join();
  if (fd_ >= 0) ::close(fd_);
}

std::string AuditLog::to_json(const AuditRecord& r) {
  std::string out;
  out.reserve(384);
  detail::JsonWriter w(out);
  w.begin_object().key("time");
  std::string time;
  rules::append_rfc3339(time, r.time);
  w.value(time)
      .field("rule", r.rule)
      .field("group_key", r.group_key)
      .field("action", r.action)
      .field("device", r.device)
      .field("host", r.host)
      .key("commands")
      .begin_array();
  bool truncated = false;
  for (const auto& c : r.commands) {
    w.begin_object()
        .field("command", c.command)
        .field("exit_status", c.exit_status)
        .field("output", c.output)
        .field("truncated", c.truncated)
        .end_object();
    truncated = truncated || c.truncated;
  }
  w.end_array().field("outcome", r.outcome);
  auto text_or_null = [&w](std::string_view k, const std::string& v) {
    w.key(k);
    if (v.empty()) {
      w.null();
    } else {
      w.value(v);
    }
  };
  text_or_null("error_code", r.error_code);
  text_or_null("error_message", r.error_message);
  w.field("duration_ms", r.duration.count())
      .field("truncated", truncated)
      .field("dry_run", r.dry_run)
      .key("fingerprints")
      .begin_array();
  for (auto fp : r.fingerprints) w.value(rules::fingerprint_hex(fp));
  w.end_array();
  if (!r.approval_id.empty()) {
    w.field("approval_id", r.approval_id);
    if (!r.approved_by.empty()) w.field("decided_by", r.approved_by);
  }
  if (!r.intent_id.empty()) {
    w.field("intent_id", r.intent_id)
        .field("requested_by", r.requested_by)
        .field("correlation_id", r.correlation_id);
  }
  w.end_object();
  return out;
}

bool AuditLog::write(const AuditRecord& record) {
  std::promise<bool> durable;
  auto f = durable.get_future();
  write_async(record, [&durable](bool ok) { durable.set_value(ok); });
  return f.get();
}

void AuditLog::write_async(const AuditRecord& record, Durable durable) {
  std::string line = to_json(record);
  line += '\n';
  {
    std::lock_guard lock(mu_);
    pending_.append(line);
    waiting_.push_back(std::move(durable));
  }
  cv_.notify_one();
}

// Group commit: everything queued while the previous batch was being synced
// goes out in one write and one fdatasync.
void AuditLog::flush_loop() {
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return stopping_ || !waiting_.empty(); });
    if (waiting_.empty()) return;  // stopping, and nothing left
    std::string batch;
    batch.swap(pending_);
    std::vector<Durable> callbacks;
    callbacks.swap(waiting_);
    lock.unlock();
    const bool ok = detail::write_all(fd_, batch) && ::fdatasync(fd_) == 0;
    for (auto& cb : callbacks) {
      if (cb) cb(ok);
    }
    lock.lock();
  }
}

}  // namespace aiopsd::daemon
