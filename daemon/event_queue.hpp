#pragma once
// Bounded multi-producer queue from the HTTP thread(s) to the engine thread.
// A batch is admitted whole or not at all, so a sender told 503 can retry the
// whole batch without duplicates or losses.

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <vector>

#include "rules/event.hpp"

namespace aiopsd::daemon {

class EventQueue {
 public:
  explicit EventQueue(std::size_t capacity) : capacity_(capacity) {}

  // Moves every event in `batch` in, or none when there is not room for all.
  bool try_push_batch(std::vector<rules::Event>& batch) {
    {
      std::lock_guard lock(mu_);
      if (closed_ || items_.size() + batch.size() > capacity_) return false;
      for (auto& e : batch) items_.push_back(std::move(e));
    }
    cv_.notify_one();
    return true;
  }

  // Waits up to `timeout` for events; moves up to `max` into `out`.
  // Returns false once closed and drained.
  bool pop_some(std::vector<rules::Event>& out, std::size_t max,
                std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, timeout, [&] { return !items_.empty() || closed_; });
    for (std::size_t i = 0; i < max && !items_.empty(); ++i) {
      out.push_back(std::move(items_.front()));
      items_.pop_front();
    }
    busy_ = !out.empty();
    return !(closed_ && items_.empty() && out.empty());
  }

  // The consumer finished what pop_some gave it.
  void mark_done() {
    std::lock_guard lock(mu_);
    busy_ = false;
  }
  // Nothing queued and nothing being processed.
  bool idle() const {
    std::lock_guard lock(mu_);
    return items_.empty() && !busy_;
  }

  void close() {
    {
      std::lock_guard lock(mu_);
      closed_ = true;
    }
    cv_.notify_all();
  }

  std::size_t size() const {
    std::lock_guard lock(mu_);
    return items_.size();
  }
  std::size_t capacity() const { return capacity_; }

 private:
  const std::size_t capacity_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<rules::Event> items_;
  bool closed_ = false;
  bool busy_ = false;
};

}  // namespace aiopsd::daemon
