#pragma once
// The daemon's durable state layer, on RocksDB (an LSM store with a
// write-ahead log; Kafka Streams keeps its state in the same engine). Today it
// holds what at-most-once execution of intents needs: which intents were
// started (before their first command is sent) and the final result of each
// finished one. A write is on disk (WAL fsync'd) when record_*() returns;
// RocksDB's write group lets concurrent writers share one sync. Finished
// intents are deleted once older than the retention.
//
// One column family per kind of state, each keyed by a domain id (intent_id)
// with no per-process data, so a later change can map a keyspace onto a
// compacted Kafka changelog topic per partition. See docs/state.md.
//
// Thread-safe: the Kafka consumer thread records starts, SSH completions
// record results, a sweeper thread applies the retention.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/detail/periodic.hpp"
#include "rules/clock.hpp"

namespace rocksdb {
class ColumnFamilyHandle;
class DB;
class Statistics;
}  // namespace rocksdb

namespace aiopsd::daemon {

class StateStore {
 public:
  using Clock = std::chrono::system_clock;

  struct Options {
    std::string path;  // a directory, created (mode 0700) when missing
    std::chrono::seconds retention = std::chrono::hours(24 * 7);  // of finished intents
    std::chrono::seconds sweep_interval = std::chrono::minutes(10);
    // What "now" is for the retention sweeps and default finish times;
    // nullptr: the system clock. Tests inject one so no record ages out with
    // the calendar.
    const rules::Clock* clock = nullptr;
  };
  struct Entry {
    bool finished = false;
    std::string result;  // the final result document, when finished
    Clock::time_point finished_at{};
  };
  struct Stats {
    std::uint64_t records = 0;  // intent records written since open
    std::uint64_t bytes = 0;    // bytes written to the write-ahead log since open
    std::uint64_t syncs = 0;    // write-ahead log syncs since open
    std::uint64_t expired = 0;  // finished intents deleted by the retention since open
  };

  // Opens or creates the store, then applies the retention once. Throws
  // std::runtime_error naming the path when it cannot (for example, another
  // process holds it).
  explicit StateStore(Options options);
  ~StateStore();
  StateStore(const StateStore&) = delete;
  StateStore& operator=(const StateStore&) = delete;

  std::optional<Entry> find(std::string_view intent_id) const;
  struct Unfinished {
    std::string intent_id;
    std::string accepted;  // the document given to record_started (may be empty)
    bool operator==(const Unfinished&) const = default;
  };
  // Intents an earlier process started and never finished.
  const std::vector<Unfinished>& unfinished_at_open() const { return unfinished_at_open_; }

  // Durable on return; false when the write or the sync failed.
  // `accepted` is what is known of the intent when it starts (its accepted
  // result document), reported back if the process dies before it finishes.
  bool record_started(std::string_view intent_id, std::string_view accepted = {});
  // finished_at defaults to the store's clock.
  bool record_finished(std::string_view intent_id, std::string_view result_json,
                       std::optional<Clock::time_point> finished_at = std::nullopt);

  // Deletes finished intents that finished before now - retention; returns how
  // many. The sweeper thread calls it every sweep_interval.
  std::size_t expire_finished(Clock::time_point now);

  // Records of other kinds of state, each kind in its own keyspace, keyed by
  // a domain id. put() and erase() are durable on return.
  // kSafety: the kill switch and the breakers (trips and the runs in their
  // windows), so a crash and restart does not resume paused automation or
  // hand a breaker a fresh budget.
  enum class Keyspace { kApprovals, kSilences, kCorrelation, kSafety };
  bool put(Keyspace ks, std::string_view key, std::string_view value);
  bool erase(Keyspace ks, std::string_view key);
  // Many changes as one atomic batch, written to the WAL without fsync:
  // they survive the process dying, not the machine (the engine's
  // correlation changelog, written per event batch).
  struct Change {
    std::string key;
    std::string value;
    bool erase = false;
  };
  bool apply(Keyspace ks, const std::vector<Change>& changes);
  std::vector<std::pair<std::string, std::string>> records(Keyspace ks) const;

  Stats stats() const;
  // Intents stored (started or finished). Walks the keyspace: for tests and tools.
  std::size_t count() const;

 private:
  void open();
  void load_unfinished();
  Clock::time_point now() const;

  Options options_;
  std::shared_ptr<rocksdb::Statistics> statistics_;
  std::unique_ptr<rocksdb::DB> db_;
  // Owned by db_'s lifetime: intents (id -> record), running (ids started and
  // not finished -> accepted document), finished_by_time (finish time + id ->
  // nothing, for retention).
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  rocksdb::ColumnFamilyHandle* intents_ = nullptr;
  rocksdb::ColumnFamilyHandle* running_ = nullptr;
  rocksdb::ColumnFamilyHandle* finished_by_time_ = nullptr;
  rocksdb::ColumnFamilyHandle* approvals_ = nullptr;
  rocksdb::ColumnFamilyHandle* silences_ = nullptr;
  rocksdb::ColumnFamilyHandle* correlation_ = nullptr;
  rocksdb::ColumnFamilyHandle* safety_ = nullptr;
  rocksdb::ColumnFamilyHandle* handle(Keyspace ks) const;
  std::vector<Unfinished> unfinished_at_open_;
  std::atomic<std::uint64_t> records_{0};
  std::atomic<std::uint64_t> expired_{0};

  std::unique_ptr<detail::Periodic> sweeper_;  // last: stopped first
};

}  // namespace aiopsd::daemon
