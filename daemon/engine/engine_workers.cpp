#include "daemon/engine/engine_workers.hpp"

#include <pthread.h>

#include <fmt/format.h>

#include "daemon/log.hpp"

namespace aiopsd::daemon {

namespace {

// Per-rule counters resolved once per generation; gauges per worker (sum
// them by rule for the daemon's total).
class RuleMetrics final : public rules::EngineObserver {
 public:
  RuleMetrics(const rules::RuleSet& rules, EngineMetrics& m, std::size_t worker) {
    const std::string w = std::to_string(worker);
    for (const auto& r : rules.rules) {
      matches_.push_back(&m.rule_matches.Add({{"rule", r.name}}));
      throttled_.push_back(&m.rule_throttled.Add({{"rule", r.name}}));
      state_unavailable_.push_back(&m.rule_state_unavailable.Add({{"rule", r.name}}));
      evicted_.push_back(&m.correlation_evictions.Add({{"rule", r.name}}));
      groups_.push_back(&m.correlation_groups.Add({{"rule", r.name}, {"worker", w}}));
    }
    for (const auto& ir : rules.inhibit_rules) {
      inhibited_.push_back(&m.events_inhibited.Add({{"inhibit_rule", ir.name}}));
    }
    alerts_ = &m.correlation_alerts.Add({{"worker", w}});
    inhibiting_ = &m.inhibiting_alerts.Add({{"worker", w}});
  }
  void on_match(std::uint32_t rule) override { matches_[rule]->Increment(); }
  void on_throttled(std::uint32_t rule) override { throttled_[rule]->Increment(); }
  void on_inhibited(std::uint32_t i) override { inhibited_[i]->Increment(); }
  void on_evicted(std::uint32_t rule) override { evicted_[rule]->Increment(); }
  void on_state_unavailable(std::uint32_t rule) override { state_unavailable_[rule]->Increment(); }
  void sample(const rules::Engine& engine) {
    for (std::uint32_t r = 0; r < groups_.size(); ++r) {
      groups_[r]->Set(static_cast<double>(engine.tracked(r)));
    }
    alerts_->Set(static_cast<double>(engine.alerts_tracked()));
    inhibiting_->Set(static_cast<double>(engine.inhibiting()));
  }

 private:
  std::vector<prometheus::Counter*> matches_;
  std::vector<prometheus::Counter*> throttled_;
  std::vector<prometheus::Counter*> state_unavailable_;
  std::vector<prometheus::Counter*> evicted_;
  std::vector<prometheus::Counter*> inhibited_;
  std::vector<prometheus::Gauge*> groups_;
  prometheus::Gauge* alerts_ = nullptr;
  prometheus::Gauge* inhibiting_ = nullptr;
};

// The engine's changelog into the state store, one unsynced batch per call.
class CorrelationChangelog final : public rules::StateSink {
 public:
  explicit CorrelationChangelog(StateStore& store) : store_(store) {}
  void put(std::string_view key, std::string_view value) override {
    batch_.push_back({std::string(key), std::string(value), false});
  }
  void erase(std::string_view key) override { batch_.push_back({std::string(key), {}, true}); }
  void flush() {
    if (batch_.empty()) return;
    if (!store_.apply(StateStore::Keyspace::kCorrelation, batch_)) {
      log::error("state", "could not write {} correlation state changes", batch_.size());
    }
    batch_.clear();
  }

 private:
  StateStore& store_;
  std::vector<StateStore::Change> batch_;
};

}  // namespace

// One generation's engines, until each worker has taken its own.
struct EngineWorkers::Offer {
  std::uint64_t id = 0;
  Generation gen;
  std::vector<std::unique_ptr<RuleMetrics>> metrics;
  std::vector<std::unique_ptr<rules::Engine>> engines;
};

struct EngineWorkers::Worker {
  std::size_t lane = 0;
  std::uint64_t generation = 0;
  Generation gen;
  std::unique_ptr<RuleMetrics> metrics;
  std::unique_ptr<rules::Engine> engine;
  std::unique_ptr<CorrelationChangelog> changelog;
  std::thread thread;
};

EngineWorkers::EngineWorkers(std::size_t workers, std::vector<std::string> shard_by,
                             EventQueue& queue, EngineMetrics& metrics,
                             prometheus::Gauge& queue_depth, const rules::Clock& clock,
                             Silences& silences, StateStore* state,
                             std::chrono::milliseconds tick_interval)
    : queue_(queue),
      metrics_(metrics),
      queue_depth_(queue_depth),
      clock_(clock),
      silences_(silences),
      state_(state),
      tick_interval_(tick_interval),
      shard_by_(std::move(shard_by)) {
  for (std::size_t i = 0; i < workers; ++i) {
    auto w = std::make_unique<Worker>();
    w->lane = i;
    if (state_) w->changelog = std::make_unique<CorrelationChangelog>(*state_);
    workers_.push_back(std::move(w));
  }
}

EngineWorkers::~EngineWorkers() { join(); }

std::shared_ptr<EngineWorkers::Offer> EngineWorkers::make_offer(Generation g) {
  auto offer = std::make_shared<Offer>();
  offer->gen = std::move(g);
  rules::EngineOptions opts = offer->gen.config->engine.limits;
  opts.shard_by = shard_by_;
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    auto& m = offer->metrics.emplace_back(
        std::make_unique<RuleMetrics>(offer->gen.config->rules, metrics_, i));
    auto& e = offer->engines.emplace_back(std::make_unique<rules::Engine>(
        offer->gen.config->rules, *offer->gen.config->interner, clock_, m.get(), opts));
    e->track_changes(state_ != nullptr);
  }
  return offer;
}

void EngineWorkers::install(Generation g) {
  auto offer = make_offer(std::move(g));
  std::lock_guard lock(mu_);
  offer->id = next_id_++;
  for (auto& w : workers_) {
    w->generation = offer->id;
    w->gen = offer->gen;
    w->metrics = std::move(offer->metrics[w->lane]);
    w->engine = std::move(offer->engines[w->lane]);
  }
  runners_.push_back(offer->gen.runner);
  latest_ = std::move(offer);
}

// Before the workers start: each record goes to the worker owning its route,
// so the state lands where that shard's events will be routed.
void EngineWorkers::restore() {
  if (!state_) return;
  std::size_t kept = 0;
  std::vector<StateStore::Change> stale;
  for (auto& [key, value] : state_->records(StateStore::Keyspace::kCorrelation)) {
    const auto route = rules::Engine::route_of_key(key);
    if (route && workers_[*route % workers_.size()]->engine->restore(key, value)) {
      ++kept;
    } else {
      stale.push_back({std::move(key), {}, true});
    }
  }
  state_->apply(StateStore::Keyspace::kCorrelation, stale);
  log::info("state",
            "correlation state: {} entries restored over {} workers, {} of changed or removed "
            "rules dropped",
            kept, workers_.size(), stale.size());
}

void EngineWorkers::start() {
  for (auto& w : workers_) {
    w->thread = std::thread([this, &w = *w] {
      const std::string name = fmt::format("aiopsd-eng{}", w.lane);
      ::pthread_setname_np(::pthread_self(), name.c_str());
      loop(w);
    });
  }
}

void EngineWorkers::offer(Generation g) {
  auto offer = make_offer(std::move(g));
  std::lock_guard lock(mu_);
  offer->id = next_id_++;
  runners_.push_back(offer->gen.runner);
  latest_ = std::move(offer);
}

void EngineWorkers::join() {
  for (auto& w : workers_) {
    if (w->thread.joinable()) w->thread.join();
  }
}

std::shared_ptr<ActionRunner> EngineWorkers::current_runner() {
  std::lock_guard lock(mu_);
  return latest_ ? latest_->gen.runner : nullptr;
}

std::size_t EngineWorkers::actions_in_flight() {
  std::lock_guard lock(mu_);
  std::size_t n = 0;
  for (const auto& r : runners_) n += r->in_flight();
  return n;
}

// On the worker's thread, between batches.
void EngineWorkers::swap_in(Worker& w) {
  std::lock_guard lock(mu_);
  if (!latest_ || latest_->id == w.generation) return;
  auto next = std::move(latest_->engines[w.lane]);
  const std::size_t kept = next->adopt_state(*w.engine);
  if (w.lane == 0) {
    log::info("config", "reloaded: {} rules, {} kept their correlation state",
              latest_->gen.config->rules.rules.size(), kept);
  }
  w.engine = std::move(next);
  w.metrics = std::move(latest_->metrics[w.lane]);
  w.gen = latest_->gen;
  w.generation = latest_->id;
  // A runner no worker uses and with nothing in flight is done.
  std::erase_if(runners_, [&](const std::shared_ptr<ActionRunner>& r) {
    if (r == latest_->gen.runner || r->in_flight() > 0) return false;
    for (const auto& other : workers_) {
      if (other->gen.runner == r) return false;
    }
    return true;
  });
}

void EngineWorkers::loop(Worker& w) {
  std::vector<rules::Event> batch;
  std::vector<rules::Decision> decisions;
  auto next_tick = std::chrono::steady_clock::now();
  for (;;) {
    batch.clear();
    const bool open = queue_.pop_some(w.lane, batch, 256, tick_interval_);
    swap_in(w);
    const auto muted = silences_.snapshot();
    const auto now = clock_.now();
    for (const auto& e : batch) {
      if (!muted->empty() && muted->matches(e, now)) {
        metrics_.events_silenced.Increment();
        continue;
      }
      w.engine->process(e, decisions);
    }
    if (std::chrono::steady_clock::now() >= next_tick) {
      w.engine->tick(decisions);
      w.metrics->sample(*w.engine);
      next_tick = std::chrono::steady_clock::now() + tick_interval_;
    }
    // Before the actions run: a restart after this point neither repeats a
    // throttled action nor forgets the windows this batch opened.
    if (w.changelog) {
      w.engine->drain_changes(*w.changelog);
      w.changelog->flush();
    }
    for (const auto& d : decisions) w.gen.runner->run(d);
    decisions.clear();
    if (w.lane == 0) queue_depth_.Set(static_cast<double>(queue_.size()));
    queue_.mark_done(w.lane);
    if (!open) return;
  }
}

}  // namespace aiopsd::daemon
