#pragma once
// Append-only audit log: one JSON line per action attempt, written and
// fdatasync'd before write() returns. Records never carry secrets; command
// output in them has already been redacted.
//
// Thread-safe: SSH completions and the engine thread both write.

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
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
  std::string outcome;  // succeeded | failed | dry_run
  std::string error_code;
  std::string error_message;
  std::chrono::milliseconds duration{0};
  bool dry_run = false;
  std::vector<std::uint64_t> fingerprints;
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
  static std::string to_json(const AuditRecord& record);

 private:
  std::mutex mu_;
  int fd_ = -1;
  std::string path_;
};

}  // namespace aiopsd::daemon
