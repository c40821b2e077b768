#include "daemon/safety/safety_gate.hpp"

#include <fmt/format.h>

#include <boost/json.hpp>
#include <set>

#include "daemon/log.hpp"
#include "rules/event.hpp"

namespace aiopsd::daemon {

namespace json = boost::json;

namespace {

constexpr std::string_view kPausedKey = "paused";
std::string breaker_key(std::string_view scope) { return fmt::format("breaker/{}", scope); }

std::int64_t to_ms(SafetyGate::TimePoint t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}
SafetyGate::TimePoint from_ms(std::int64_t ms) {
  return SafetyGate::TimePoint(std::chrono::milliseconds(ms));
}

}  // namespace

SafetyGate::SafetyGate(const SafetyConfig& config, SafetyMetrics& metrics, StateStore* store)
    : config_(config), metrics_(metrics), store_(store), paused_(config.paused) {
  for (const auto& bc : config.limits) {
    Breaker b;
    b.config = bc;
    b.gauge = &metrics.circuit_open.Add({{"scope", bc.scope}});
    b.gauge->Set(0);
    breakers_.push_back(std::move(b));
  }
  load();
  metrics_.automation_paused.Set(paused_ ? 1 : 0);
}

// A stored pause wins over the config's `paused: false`: automation an
// operator paused stays paused across a crash until someone resumes it.
void SafetyGate::load() {
  if (!store_) return;
  for (const auto& [key, value] : store_->records(StateStore::Keyspace::kSafety)) {
    try {
      const json::value v = json::parse(value);
      if (key == kPausedKey) {
        if (v.as_bool() && !paused_) {
          paused_ = true;
          log::warn("safety", "automation is paused (the kill switch was set before a restart)");
        }
        continue;
      }
      const std::string& stored_key = key;  // a lambda may not capture a binding (before C++20)
      auto b = std::find_if(breakers_.begin(), breakers_.end(), [&](const Breaker& x) {
        return breaker_key(x.config.scope) == stored_key;
      });
      if (b == breakers_.end()) continue;  // a breaker no longer configured
      const json::object& o = v.as_object();
      b->open = o.at("open").as_bool();
      b->opened_at = from_ms(o.at("opened_at_ms").to_number<std::int64_t>());
      for (const json::value& r : o.at("runs").as_array()) {
        const json::array& run = r.as_array();
        b->runs.emplace_back(from_ms(run.at(0).to_number<std::int64_t>()),
                             std::string(run.at(1).as_string()));
      }
      b->gauge->Set(b->open ? 1 : 0);
      if (b->open)
        log::warn("safety", "breaker {} is open (since before a restart)", b->config.scope);
    } catch (const std::exception& e) {
      // Unreadable safety state: hold everything rather than guess.
      paused_ = true;
      log::error("safety", "safety state '{}' unreadable ({}): automation paused", key, e.what());
    }
  }
}

bool SafetyGate::save_paused() {
  return !store_ ||
         store_->put(StateStore::Keyspace::kSafety, kPausedKey, paused_ ? "true" : "false");
}

bool SafetyGate::save(const Breaker& b) {
  if (!store_) return true;
  json::array runs;
  for (const auto& [at, device] : b.runs) runs.push_back(json::array{to_ms(at), device});
  const json::object o{
      {"open", b.open}, {"opened_at_ms", to_ms(b.opened_at)}, {"runs", std::move(runs)}};
  return store_->put(StateStore::Keyspace::kSafety, breaker_key(b.config.scope),
                     json::serialize(o));
}

void SafetyGate::Breaker::prune(TimePoint now) {
  while (!runs.empty() && now - runs.front().first >= config.window) runs.pop_front();
}

std::size_t SafetyGate::Breaker::distinct_devices() const {
  std::set<std::string_view> seen;
  for (const auto& r : runs) seen.insert(r.second);
  return seen.size();
}

std::optional<std::string> SafetyGate::Breaker::would_exceed(std::string_view device) const {
  if (config.max_actions > 0 && runs.size() >= config.max_actions)
    return fmt::format("{} remediations within {}s (limit {})", runs.size(),
                       std::chrono::duration_cast<std::chrono::seconds>(config.window).count(),
                       config.max_actions);
  if (config.max_devices > 0) {
    const bool known =
        std::any_of(runs.begin(), runs.end(), [&](const auto& r) { return r.second == device; });
    const std::size_t n = distinct_devices();
    if (!known && n >= config.max_devices)
      return fmt::format("{} distinct devices within {}s (limit {})", n,
                         std::chrono::duration_cast<std::chrono::seconds>(config.window).count(),
                         config.max_devices);
  }
  return std::nullopt;
}

std::optional<SafetyGate::Hold> SafetyGate::admit(std::string_view rule, const DeviceConfig& device,
                                                  TimePoint now) {
  std::lock_guard lock(mu_);
  if (paused_) {
    return Hold{"automation_paused", "automation is paused (kill switch)", "global", false};
  }
  for (const auto& mw : config_.maintenance) {
    if (mw.start && now < *mw.start) continue;
    if (mw.end && now >= *mw.end) continue;
    const bool matches = std::all_of(mw.match.begin(), mw.match.end(), [&](const auto& kv) {
      auto it = device.labels.find(kv.first);
      return it != device.labels.end() && it->second == kv.second;
    });
    if (matches) {
      return Hold{"maintenance",
                  fmt::format("device {} is in maintenance window '{}'", device.ssh.name, mw.name),
                  mw.name, false};
    }
  }
  return check_breakers(rule, device.ssh.name, now);
}

// Every breaker in scope must admit before the run counts against any.
std::optional<SafetyGate::Hold> SafetyGate::check_breakers(std::string_view rule,
                                                           const std::string& device,
                                                           TimePoint now) {
  std::vector<Breaker*> in_scope;
  for (auto& b : breakers_) {
    if (!b.config.rule.empty() && b.config.rule != rule) continue;
    b.prune(now);
    if (b.open && !b.config.manual_reset && now - b.opened_at >= b.config.window) {
      b.open = false;
      b.gauge->Set(0);
      log::info("safety", "breaker {} closed: its window passed", b.config.scope);
    }
    if (b.open) {
      return Hold{"breaker_open",
                  fmt::format("breaker {} is open since {}", b.config.scope,
                              rules::format_rfc3339(b.opened_at)),
                  b.config.scope, false};
    }
    if (auto why = b.would_exceed(device)) {
      b.open = true;
      b.opened_at = now;
      b.gauge->Set(1);
      if (!save(b))
        log::error("safety", "breaker {}: its trip could not be stored", b.config.scope);
      log::warn("safety", "breaker {} opened: {}; further remediations in its scope are held",
                b.config.scope, *why);
      return Hold{"breaker_open", fmt::format("breaker {} opened: {}", b.config.scope, *why),
                  b.config.scope, true};
    }
    in_scope.push_back(&b);
  }
  for (auto* b : in_scope) b->runs.emplace_back(now, device);
  for (auto* b : in_scope) {
    if (save(*b)) continue;
    // The run would not be counted after a restart: it does not run.
    for (auto* u : in_scope) u->runs.pop_back();
    return Hold{"state_store_error",
                fmt::format("breaker {}: this run could not be recorded durably", b->config.scope),
                b->config.scope, false};
  }
  return std::nullopt;
}

bool SafetyGate::set_paused(bool paused) {
  std::lock_guard lock(mu_);
  if (paused_ != paused) {
    log::warn("safety", "automation {}",
              paused ? "paused: automatic remediations are held" : "resumed");
  }
  paused_ = paused;
  metrics_.automation_paused.Set(paused ? 1 : 0);
  const bool durable = save_paused();
  if (!durable) log::error("safety", "the kill switch could not be stored");
  return durable;
}

bool SafetyGate::paused() const {
  std::lock_guard lock(mu_);
  return paused_;
}

SafetyGate::ResetResult SafetyGate::reset(std::string_view scope) {
  std::lock_guard lock(mu_);
  bool found = false;
  bool durable = true;
  for (auto& b : breakers_) {
    if (b.config.scope != scope) continue;
    found = true;
    if (b.open) log::info("safety", "breaker {} reset by an operator", scope);
    b.open = false;
    b.runs.clear();
    b.gauge->Set(0);
    durable = save(b) && durable;
  }
  if (!found) return ResetResult::kUnknownScope;
  return durable ? ResetResult::kReset : ResetResult::kNotDurable;
}

std::vector<SafetyGate::BreakerState> SafetyGate::breakers(TimePoint now) const {
  std::lock_guard lock(mu_);
  std::vector<BreakerState> out;
  for (const auto& b : breakers_) {
    std::size_t actions = 0;
    std::set<std::string_view> devices;
    for (const auto& r : b.runs) {
      if (now - r.first < b.config.window) {
        ++actions;
        devices.insert(r.second);
      }
    }
    out.push_back({b.config.scope, b.open, actions, devices.size(), b.opened_at});
  }
  return out;
}

}  // namespace aiopsd::daemon
