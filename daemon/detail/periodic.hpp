#pragma once
// A named thread that runs `tick` every `interval` until stopped: the one
// shape of the daemon's background chores (Kafka lag sampling, approval and
// silence expiry, state retention). stop() wakes it at once and joins.

#include <pthread.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace aiopsd::daemon::detail {

class Periodic {
 public:
  // `name`: at most 15 characters (what `top -H` and perf show).
  Periodic(const char* name, std::chrono::milliseconds interval, std::function<void()> tick)
      : thread_([this, name, interval, tick = std::move(tick)] {
          ::pthread_setname_np(::pthread_self(), name);
          std::unique_lock lock(mu_);
          while (!cv_.wait_for(lock, interval, [this] { return stopping_; })) {
            lock.unlock();
            tick();
            lock.lock();
          }
        }) {}
  ~Periodic() { stop(); }
  Periodic(const Periodic&) = delete;
  Periodic& operator=(const Periodic&) = delete;

  void stop() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;  // last: starts once the members above exist
};

}  // namespace aiopsd::daemon::detail
