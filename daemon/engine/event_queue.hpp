#pragma once
// Bounded multi-producer queue from the HTTP and Kafka threads to the engine
// workers: one lane per worker, each event routed to a lane by its shard
// route (rules::ShardKey), so all alerts of a correlation group reach the
// same worker in the order they arrived. A batch is admitted whole or not at
// all, so a sender told 503 can retry the whole batch without duplicates or
// losses. One mutex: producers and workers move batches, not single events.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <vector>

#include "rules/event.hpp"

namespace aiopsd::daemon {

class EventQueue {
 public:
  using Router = std::function<std::uint64_t(const rules::Event&)>;

  // `capacity` counts events in all lanes together.
  explicit EventQueue(std::size_t capacity, std::size_t lanes = 1, Router router = {})
      : capacity_(capacity), lanes_(lanes == 0 ? 1 : lanes), router_(std::move(router)) {}

  // Moves every event in `batch` in, or none when there is not room for all.
  bool try_push_batch(std::vector<rules::Event>& batch) {
    std::uint64_t woken = 0;  // lanes to wake, as a bit set (up to 64 lanes)
    {
      std::lock_guard lock(mu_);
      if (closed_ || size_ + batch.size() > capacity_) return false;
      for (auto& e : batch) {
        const std::size_t lane = lanes_.size() == 1 ? 0 : router_(e) % lanes_.size();
        lanes_[lane].items.push_back(std::move(e));
        woken |= std::uint64_t{1} << (lane % 64);
      }
      size_ += batch.size();
    }
    for (std::size_t i = 0; i < lanes_.size(); ++i) {
      if (woken & (std::uint64_t{1} << (i % 64))) lanes_[i].cv.notify_one();
    }
    return true;
  }

  // Waits up to `timeout` for events in `lane`; moves up to `max` into `out`.
  // Returns false once closed and the lane is drained.
  bool pop_some(std::size_t lane, std::vector<rules::Event>& out, std::size_t max,
                std::chrono::milliseconds timeout) {
    Lane& l = lanes_[lane];
    std::unique_lock lock(mu_);
    l.cv.wait_for(lock, timeout, [&] { return !l.items.empty() || closed_; });
    for (std::size_t i = 0; i < max && !l.items.empty(); ++i) {
      out.push_back(std::move(l.items.front()));
      l.items.pop_front();
      --size_;
    }
    l.busy = !out.empty();
    return !(closed_ && l.items.empty() && out.empty());
  }

  // The lane's worker finished what pop_some gave it.
  void mark_done(std::size_t lane) {
    std::lock_guard lock(mu_);
    lanes_[lane].busy = false;
  }
  // Nothing queued and nothing being processed, in any lane.
  bool idle() const {
    std::lock_guard lock(mu_);
    if (size_ != 0) return false;
    for (const Lane& l : lanes_) {
      if (l.busy) return false;
    }
    return true;
  }

  void close() {
    {
      std::lock_guard lock(mu_);
      closed_ = true;
    }
    for (Lane& l : lanes_) l.cv.notify_all();
  }

  std::size_t size() const {
    std::lock_guard lock(mu_);
    return size_;
  }
  std::size_t capacity() const { return capacity_; }
  std::size_t lanes() const { return lanes_.size(); }

 private:
  struct Lane {
    std::condition_variable cv;
    std::deque<rules::Event> items;
    bool busy = false;
  };
  const std::size_t capacity_;
  mutable std::mutex mu_;
  std::vector<Lane> lanes_;
  Router router_;
  std::size_t size_ = 0;
  bool closed_ = false;
};

}  // namespace aiopsd::daemon
