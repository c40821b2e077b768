#include "daemon/state/state_store.hpp"

#include <fmt/format.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/statistics.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>
#include <sys/stat.h>

#include <filesystem>
#include <stdexcept>

#include "daemon/log.hpp"

namespace aiopsd::daemon {

namespace {

namespace fs = std::filesystem;

// Record layout in the intents keyspace: 's' (started), or 'f' + finish time
// (8 bytes, big-endian Unix milliseconds) + the result document.
constexpr char kStarted = 's';
constexpr char kFinished = 'f';

std::string be64(std::uint64_t v) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i, v >>= 8)
    out[static_cast<std::size_t>(i)] = static_cast<char>(v & 0xff);
  return out;
}

std::uint64_t read_be64(std::string_view s) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < 8 && i < s.size(); ++i)
    v = (v << 8) | static_cast<unsigned char>(s[i]);
  return v;
}

std::uint64_t unix_ms(StateStore::Clock::time_point t) {
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  return ms < 0 ? 0 : static_cast<std::uint64_t>(ms);
}

rocksdb::Slice slice(std::string_view s) { return {s.data(), s.size()}; }

const rocksdb::WriteOptions& durable() {
  static const rocksdb::WriteOptions opts = [] {
    rocksdb::WriteOptions o;
    o.sync = true;
    return o;
  }();
  return opts;
}

void check(const rocksdb::Status& s, const std::string& path, std::string_view what) {
  if (!s.ok()) {
    throw std::runtime_error(fmt::format("state store {}: {}: {}", path, what, s.ToString()));
  }
}

}  // namespace

StateStore::StateStore(Options options) : options_(std::move(options)) {
  open();
  load_unfinished();
  expire_finished(now());
  sweeper_ = std::make_unique<detail::Periodic>("aiopsd-state", options_.sweep_interval,
                                                [this] { expire_finished(now()); });
}

StateStore::Clock::time_point StateStore::now() const {
  return options_.clock ? options_.clock->now() : Clock::now();
}

StateStore::~StateStore() {
  sweeper_.reset();
  for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h);
  if (db_) db_->Close();
}

void StateStore::open() {
  const fs::path dir(options_.path);
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_directory(dir, ec)) {
    throw std::runtime_error(
        fmt::format("state store {}: is a file; state.path names a directory (the RocksDB store)",
                    options_.path));
  }
  fs::create_directories(dir, ec);
  if (ec) {
    throw std::runtime_error(
        fmt::format("state store {}: cannot create: {}", options_.path, ec.message()));
  }
  ::chmod(dir.c_str(), 0700);  // result documents carry device output

  rocksdb::Options opts;
  opts.create_if_missing = true;
  opts.create_missing_column_families = true;
  opts.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  opts.keep_log_file_num = 3;
  opts.max_log_file_size = 4 << 20;
  opts.max_background_jobs = 2;
  statistics_ = rocksdb::CreateDBStatistics();
  // Tickers only (WAL bytes and syncs for stats()): histograms cost every Get.
  statistics_->set_stats_level(rocksdb::StatsLevel::kExceptHistogramOrTimers);
  opts.statistics = statistics_;

  rocksdb::ColumnFamilyOptions point_lookups;
  rocksdb::BlockBasedTableOptions table;
  // Most lookups are for new intent ids, which are absent: a bloom filter answers those.
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  point_lookups.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  // The same for keys still in the memtable.
  point_lookups.memtable_prefix_bloom_size_ratio = 0.05;
  point_lookups.memtable_whole_key_filtering = true;

  const std::vector<rocksdb::ColumnFamilyDescriptor> families{
      {rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions()},
      {"intents", point_lookups},
      {"intents_running", rocksdb::ColumnFamilyOptions()},
      {"intents_finished_by_time", rocksdb::ColumnFamilyOptions()},
      {"approvals", rocksdb::ColumnFamilyOptions()},
      {"silences", rocksdb::ColumnFamilyOptions()},
      {"correlation", rocksdb::ColumnFamilyOptions()},
      {"safety", rocksdb::ColumnFamilyOptions()},
  };
  rocksdb::DB* db = nullptr;
  const auto s =
      rocksdb::DB::Open(rocksdb::DBOptions(opts), options_.path, families, &handles_, &db);
  if (s.IsIOError() && s.ToString().find("lock") != std::string::npos) {
    throw std::runtime_error(
        fmt::format("state store {}: in use by another process (is another aiopsd running?): {}",
                    options_.path, s.ToString()));
  }
  check(s, options_.path, "cannot open");
  db_.reset(db);
  intents_ = handles_[1];
  running_ = handles_[2];
  finished_by_time_ = handles_[3];
  approvals_ = handles_[4];
  silences_ = handles_[5];
  correlation_ = handles_[6];
  safety_ = handles_[7];
}

void StateStore::load_unfinished() {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), running_));
  for (it->SeekToFirst(); it->Valid(); it->Next())
    unfinished_at_open_.push_back({it->key().ToString(), it->value().ToString()});
  check(it->status(), options_.path, "cannot read");
}

std::optional<StateStore::Entry> StateStore::find(std::string_view intent_id) const {
  std::string value;
  const auto s = db_->Get(rocksdb::ReadOptions(), intents_, slice(intent_id), &value);
  if (s.IsNotFound()) return std::nullopt;
  if (!s.ok()) {
    // Unreadable is not "never seen": treat it as running so nothing re-runs.
    log::error("state", "state store {}: read of {} failed: {}", options_.path, intent_id,
               s.ToString());
    return Entry{};
  }
  Entry e;
  if (!value.empty() && value[0] == kFinished && value.size() >= 9) {
    e.finished = true;
    e.finished_at = Clock::time_point(std::chrono::milliseconds(read_be64(value.substr(1, 8))));
    e.result = value.substr(9);
  }
  return e;
}

bool StateStore::record_started(std::string_view intent_id, std::string_view accepted) {
  rocksdb::WriteBatch batch;
  const char started = kStarted;
  batch.Put(intents_, slice(intent_id), rocksdb::Slice(&started, 1));
  batch.Put(running_, slice(intent_id), slice(accepted));
  ++records_;
  return db_->Write(durable(), &batch).ok();
}

bool StateStore::record_finished(std::string_view intent_id, std::string_view result_json,
                                 std::optional<Clock::time_point> finished_at) {
  const std::string when = be64(unix_ms(finished_at.value_or(now())));
  std::string value;
  value.reserve(1 + when.size() + result_json.size());
  value += kFinished;
  value += when;
  value += result_json;
  std::string by_time = when;
  by_time += intent_id;
  rocksdb::WriteBatch batch;
  batch.Put(intents_, slice(intent_id), value);
  batch.Put(finished_by_time_, by_time, rocksdb::Slice());
  batch.Delete(running_, slice(intent_id));
  ++records_;
  return db_->Write(durable(), &batch).ok();
}

// Walks the finish-time index from the oldest entry. Losing a delete in a
// crash only means the next sweep repeats it, so these writes are not synced.
std::size_t StateStore::expire_finished(Clock::time_point now) {
  const auto cutoff = now - options_.retention;
  const std::string end = be64(unix_ms(cutoff));
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(rocksdb::ReadOptions(), finished_by_time_));
  rocksdb::WriteBatch batch;
  std::size_t n = 0;
  auto flush = [&] {
    if (batch.Count() == 0) return;
    const auto s = db_->Write(rocksdb::WriteOptions(), &batch);
    if (!s.ok())
      log::error("state", "state store {}: retention sweep: {}", options_.path, s.ToString());
    batch.Clear();
  };
  for (it->SeekToFirst(); it->Valid() && it->key().compare(end) < 0; it->Next()) {
    const rocksdb::Slice key = it->key();
    batch.Delete(finished_by_time_, key);
    if (key.size() < 8) continue;
    // Only when the record still carries this finish time: an intent
    // finished again later keeps its newer record for a full retention.
    const rocksdb::Slice id(key.data() + 8, key.size() - 8);
    std::string value;
    if (db_->Get(rocksdb::ReadOptions(), intents_, id, &value).ok() && value.size() >= 9 &&
        value[0] == kFinished &&
        rocksdb::Slice(value.data() + 1, 8) == rocksdb::Slice(key.data(), 8)) {
      batch.Delete(intents_, id);
      ++n;
    }
    if (batch.Count() >= 1024) flush();
  }
  flush();
  expired_ += n;
  if (n > 0) {
    log::info("state", "retention: deleted {} finished intents older than {}s", n,
              options_.retention.count());
  }
  return n;
}

rocksdb::ColumnFamilyHandle* StateStore::handle(Keyspace ks) const {
  switch (ks) {
    case Keyspace::kApprovals:
      return approvals_;
    case Keyspace::kSilences:
      return silences_;
    case Keyspace::kCorrelation:
      return correlation_;
    case Keyspace::kSafety:
      return safety_;
  }
  return approvals_;
}

bool StateStore::put(Keyspace ks, std::string_view key, std::string_view value) {
  return db_->Put(durable(), handle(ks), slice(key), slice(value)).ok();
}

bool StateStore::erase(Keyspace ks, std::string_view key) {
  return db_->Delete(durable(), handle(ks), slice(key)).ok();
}

bool StateStore::apply(Keyspace ks, const std::vector<Change>& changes) {
  if (changes.empty()) return true;
  rocksdb::WriteBatch batch;
  for (const Change& c : changes) {
    if (c.erase) {
      batch.Delete(handle(ks), slice(c.key));
    } else {
      batch.Put(handle(ks), slice(c.key), slice(c.value));
    }
  }
  // Not synced: in the OS page cache the batch survives the process being
  // killed, which is what it must survive; fsync per engine batch would
  // bound the engine by the disk.
  return db_->Write(rocksdb::WriteOptions(), &batch).ok();
}

std::vector<std::pair<std::string, std::string>> StateStore::records(Keyspace ks) const {
  std::vector<std::pair<std::string, std::string>> out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), handle(ks)));
  for (it->SeekToFirst(); it->Valid(); it->Next())
    out.emplace_back(it->key().ToString(), it->value().ToString());
  return out;
}

StateStore::Stats StateStore::stats() const {
  Stats st;
  st.records = records_.load();
  st.bytes = statistics_->getTickerCount(rocksdb::WAL_FILE_BYTES);
  st.syncs = statistics_->getTickerCount(rocksdb::WAL_FILE_SYNCED);
  st.expired = expired_.load();
  return st;
}

std::size_t StateStore::count() const {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), intents_));
  std::size_t n = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next()) ++n;
  return n;
}

}  // namespace aiopsd::daemon
