#pragma once
// Append-only audit log: one JSON line per action attempt, written and
// fdatasync'd before write() returns (or before write_async() calls back).
// Records never carry secrets; command output in them has already been
// redacted. A flusher thread group-commits: records queued while a sync is in
// progress share the next one, so a busy producer is not held to one fsync
// per record.
//
// Thread-safe: SSH completions, the engine thread and the Kafka consumer write.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace aiopsd::daemon {

struct AuditCommand {
  std::string command;
  int exit_status = -1;
  std::string output;  // redacted, ANSI-stripped, at most the output limit
  bool truncated = false;
};

struct AuditRecord {
  std::chrono::system_clock::time_point time;
  std::string rule;
  std::string group_key;
  std::string action;  // ssh | log | run:NAME | intent:NAME
  std::string device;
  std::string host;
  std::vector<AuditCommand> commands;
  std::string outcome;  // succeeded | failed | dry_run | held | denied | expired | rejected
  std::string error_code;
  std::string error_message;
  std::chrono::milliseconds duration{0};
  bool dry_run = false;
  std::vector<std::uint64_t> fingerprints;
  // Held actions: the approval, and who decided it.
  std::string approval_id;
  std::string approved_by;
  // Intents only: who asked, under which id.
  std::string intent_id;
  std::string requested_by;
  std::string correlation_id;
};

class AuditLog {
 public:
  // Opens (creating with mode 0640, parents too) for append; throws on failure.
  explicit AuditLog(const std::string& path);
  ~AuditLog();
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  // Returns false (and the caller counts it) when the write or sync failed.
  bool write(const AuditRecord& record);
  // `durable(ok)` runs on the flusher thread once the record is on disk.
  using Durable = std::function<void(bool ok)>;
  void write_async(const AuditRecord& record, Durable durable);
  static std::string to_json(const AuditRecord& record);

 private:
  void flush_loop();

  std::mutex mu_;
  std::condition_variable cv_;
  std::string pending_;           // serialized records not yet written
  std::vector<Durable> waiting_;  // their callbacks, in order
  bool stopping_ = false;
  int fd_ = -1;
  std::string path_;
  std::thread flusher_;
};

}  // namespace aiopsd::daemon
