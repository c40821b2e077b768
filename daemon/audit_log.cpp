#include "daemon/audit_log.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <future>
#include <stdexcept>

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
  flusher_ = std::thread([this] { flush_loop(); });
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
  boost::json::object o;
  o["time"] = rules::format_rfc3339(r.time);
  o["rule"] = r.rule;
  o["group_key"] = r.group_key;
  o["action"] = r.action;
  o["device"] = r.device;
  o["host"] = r.host;
  boost::json::array cmds;
  bool truncated = false;
  for (const auto& c : r.commands) {
    cmds.push_back(boost::json::object{{"command", c.command},
                                       {"exit_status", c.exit_status},
                                       {"output", c.output},
                                       {"truncated", c.truncated}});
    truncated = truncated || c.truncated;
  }
  o["commands"] = std::move(cmds);
  o["outcome"] = r.outcome;
  o["error_code"] =
      r.error_code.empty() ? boost::json::value(nullptr) : boost::json::value(r.error_code);
  o["error_message"] =
      r.error_message.empty() ? boost::json::value(nullptr) : boost::json::value(r.error_message);
  o["duration_ms"] = r.duration.count();
  o["truncated"] = truncated;
  o["dry_run"] = r.dry_run;
  boost::json::array fps;
  for (auto fp : r.fingerprints) fps.emplace_back(rules::fingerprint_hex(fp));
  o["fingerprints"] = std::move(fps);
  if (!r.intent_id.empty()) {
    o["intent_id"] = r.intent_id;
    o["requested_by"] = r.requested_by;
    o["correlation_id"] = r.correlation_id;
  }
  return boost::json::serialize(o);
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
