#pragma once
// The durable record behind at-most-once execution of intents: which intents
// were started (before their first command is sent) and the final result of
// each finished one. An append-only JSON-lines journal with group commit: a
// record is on disk (fdatasync) when record_*() returns, and concurrent
// callers share one sync. Replayed and compacted at open; a torn last line
// (crash mid-write) is ignored.
//
// Keyed by intent_id only, with no per-process state, so a later change can
// move it to a compacted Kafka changelog topic per partition.
//
// Thread-safe: the Kafka consumer thread records starts, SSH completions
// record results.

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace aiopsd::daemon {

class StateStore {
 public:
  struct Entry {
    bool finished = false;
    std::string result;  // the final result document, when finished
  };
  struct Stats {
    std::uint64_t records = 0;  // journal records written since open
    std::uint64_t bytes = 0;    // bytes written since open
    std::uint64_t syncs = 0;    // fdatasync calls since open
  };

  // Opens (creating parents, mode 0600) and replays the journal. Throws
  // std::runtime_error when the file cannot be opened or rewritten.
  explicit StateStore(const std::string& path);
  ~StateStore();
  StateStore(const StateStore&) = delete;
  StateStore& operator=(const StateStore&) = delete;

  std::optional<Entry> find(std::string_view intent_id) const;
  // Intents an earlier process started and never finished.
  const std::vector<std::string>& unfinished_at_open() const { return unfinished_at_open_; }

  // Durable on return; false when the write or the sync failed.
  bool record_started(std::string_view intent_id);
  bool record_finished(std::string_view intent_id, std::string_view result_json);

  Stats stats() const;
  std::size_t size() const;

 private:
  bool append(const std::string& line);
  void replay();
  void compact();

  std::string path_;
  int fd_ = -1;
  mutable std::mutex mu_;
  std::condition_variable synced_cv_;
  std::unordered_map<std::string, Entry> entries_;
  std::vector<std::string> unfinished_at_open_;
  std::uint64_t written_seq_ = 0;  // records written to the file
  std::uint64_t synced_seq_ = 0;   // records known durable
  bool syncing_ = false;
  bool sync_failed_ = false;
  Stats stats_;
};

}  // namespace aiopsd::daemon
