#include "daemon/state_store.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "daemon/detail/write_all.hpp"
#include "daemon/log.hpp"

namespace aiopsd::daemon {

namespace {

namespace json = boost::json;
using detail::write_all;

// One journal line: {"k":"s","id":"..."} when started, {"k":"f","id":"...",
// "r":"<result document>"} when finished.
std::string started_line(std::string_view id) {
  return json::serialize(json::object{{"k", "s"}, {"id", id}}) + '\n';
}
std::string finished_line(std::string_view id, std::string_view result) {
  return json::serialize(json::object{{"k", "f"}, {"id", id}, {"r", result}}) + '\n';
}

int open_append(const std::string& path) {
  return ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
}

void sync_dir(const std::filesystem::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

StateStore::StateStore(const std::string& path) : path_(path) {
  const auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent);
  replay();
  compact();
  fd_ = open_append(path_);
  if (fd_ < 0) throw std::runtime_error(fmt::format("state store {}: cannot open", path_));
}

StateStore::~StateStore() {
  if (fd_ >= 0) ::close(fd_);
}

void StateStore::replay() {
  std::ifstream in(path_);
  std::string line;
  std::size_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty()) continue;
    boost::system::error_code ec;
    json::value v = json::parse(line, ec);
    const json::object* o = v.if_object();
    auto string_field = [o](std::string_view key) -> const json::string* {
      const json::value* f = o ? o->if_contains(key) : nullptr;
      return f ? f->if_string() : nullptr;
    };
    const json::string* kind = string_field("k");
    const json::string* id = string_field("id");
    if (ec || !kind || !id) {
      // Only the last line can be torn by a crash; anything else is damage.
      log::warn("state", "{}:{}: unreadable journal record skipped", path_, line_no);
      continue;
    }
    Entry& e = entries_[std::string(*id)];
    if (*kind == "f") {
      const json::string* r = string_field("r");
      e.finished = true;
      e.result = r ? std::string(*r) : std::string();
    }
  }
  for (const auto& [id, e] : entries_) {
    if (!e.finished) unfinished_at_open_.push_back(id);
  }
}

// Rewrites the journal with one record per intent, so it does not grow with
// every restart: temp file, fsync, rename, fsync the directory.
void StateStore::compact() {
  const std::string tmp = path_ + ".compact";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) throw std::runtime_error(fmt::format("state store {}: cannot write", tmp));
  bool ok = true;
  std::string buf;
  for (const auto& [id, e] : entries_) {
    buf += e.finished ? finished_line(id, e.result) : started_line(id);
    if (buf.size() > (1 << 20)) {
      ok = ok && write_all(fd, buf);
      buf.clear();
    }
  }
  ok = ok && write_all(fd, buf) && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || std::rename(tmp.c_str(), path_.c_str()) != 0) {
    throw std::runtime_error(fmt::format("state store {}: compaction failed", path_));
  }
  sync_dir(std::filesystem::path(path_).parent_path());
}

std::optional<StateStore::Entry> StateStore::find(std::string_view intent_id) const {
  std::lock_guard lock(mu_);
  auto it = entries_.find(std::string(intent_id));
  if (it == entries_.end()) return std::nullopt;
  return it->second;
}

bool StateStore::record_started(std::string_view intent_id) {
  {
    std::lock_guard lock(mu_);
    entries_[std::string(intent_id)] = Entry{};
  }
  return append(started_line(intent_id));
}

bool StateStore::record_finished(std::string_view intent_id, std::string_view result_json) {
  {
    std::lock_guard lock(mu_);
    entries_[std::string(intent_id)] = Entry{true, std::string(result_json)};
  }
  return append(finished_line(intent_id, result_json));
}

// Group commit: write under the lock, then either wait for a sync in progress
// that covers this record, or become the one that syncs everything written.
bool StateStore::append(const std::string& line) {
  std::unique_lock lock(mu_);
  if (!write_all(fd_, line)) return false;
  const std::uint64_t my_seq = ++written_seq_;
  ++stats_.records;
  stats_.bytes += line.size();
  while (synced_seq_ < my_seq) {
    if (syncing_) {
      synced_cv_.wait(lock);
      continue;
    }
    syncing_ = true;
    const std::uint64_t target = written_seq_;
    lock.unlock();
    const bool ok = ::fdatasync(fd_) == 0;
    lock.lock();
    syncing_ = false;
    ++stats_.syncs;
    if (!ok) sync_failed_ = true;
    synced_seq_ = target;
    synced_cv_.notify_all();
  }
  return !sync_failed_;
}

StateStore::Stats StateStore::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

std::size_t StateStore::size() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

}  // namespace aiopsd::daemon
