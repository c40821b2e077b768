#pragma once
// The engine workers: one thread per shard, each owning its rules::Engine
// (its shard's correlation state, no locks on the hot path), fed by its lane
// of the EventQueue. Per batch a worker drops silenced alerts, processes the
// rest, ticks its timers, writes its state changes to the state store, then
// hands the decisions to the generation's ActionRunner.
//
// A reload offers a new generation (config, runner, one engine per worker);
// each worker swaps it in between two batches, carrying its shard's state
// over, so no event is lost or seen by two rule sets.
//
// Threads: install/restore/start from the starting thread; offer() from the
// reloading thread; current_runner() and actions_in_flight() from any.

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "daemon/config.hpp"
#include "daemon/engine/engine_metrics.hpp"
#include "daemon/engine/event_queue.hpp"
#include "daemon/engine/silences.hpp"
#include "daemon/remediation/action_runner.hpp"
#include "daemon/state/state_store.hpp"
#include "rules/clock.hpp"
#include "rules/engine.hpp"

namespace aiopsd::daemon {

class EngineWorkers {
 public:
  struct Generation {
    std::shared_ptr<const Config> config;
    std::shared_ptr<ActionRunner> runner;
  };

  // `workers` lanes of `queue`; `state` may be null (no persistence).
  EngineWorkers(std::size_t workers, std::vector<std::string> shard_by, EventQueue& queue,
                EngineMetrics& metrics, prometheus::Gauge& queue_depth, const rules::Clock& clock,
                Silences& silences, StateStore* state, std::chrono::milliseconds tick_interval);
  ~EngineWorkers();
  EngineWorkers(const EngineWorkers&) = delete;
  EngineWorkers& operator=(const EngineWorkers&) = delete;

  // The first generation, then the correlation state the last run left.
  void install(Generation g);
  void restore();
  void start();
  // A reload; a generation offered but not yet taken by every worker is replaced.
  void offer(Generation g);
  // After the queue is closed: returns once every worker drained its lane.
  void join();

  std::shared_ptr<ActionRunner> current_runner();
  std::size_t actions_in_flight();
  std::size_t size() const { return workers_.size(); }

 private:
  struct Worker;
  struct Offer;
  void loop(Worker& w);
  void swap_in(Worker& w);
  std::shared_ptr<Offer> make_offer(Generation g);

  EventQueue& queue_;
  EngineMetrics& metrics_;
  prometheus::Gauge& queue_depth_;
  const rules::Clock& clock_;
  Silences& silences_;
  StateStore* state_;
  std::chrono::milliseconds tick_interval_;
  std::vector<std::string> shard_by_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::mutex mu_;                  // guards latest_ and runners_
  std::shared_ptr<Offer> latest_;  // the newest generation
  // Every runner a worker may still use or whose actions are in flight.
  std::vector<std::shared_ptr<ActionRunner>> runners_;
  std::uint64_t next_id_ = 1;
};

}  // namespace aiopsd::daemon
