#include "daemon/safety_gate.hpp"

#include <fmt/format.h>

#include <set>

#include "daemon/log.hpp"
#include "rules/event.hpp"

namespace aiopsd::daemon {

SafetyGate::SafetyGate(const SafetyConfig& config, Metrics& metrics)
    : config_(config), metrics_(metrics), paused_(config.paused) {
  for (const auto& bc : config.limits) {
    Breaker b;
    b.config = bc;
    b.gauge = &metrics.circuit_open.Add({{"scope", bc.scope}});
    b.gauge->Set(0);
    breakers_.push_back(std::move(b));
  }
  metrics_.automation_paused.Set(paused_ ? 1 : 0);
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
      log::warn("safety", "breaker {} opened: {}; further remediations in its scope are held",
                b.config.scope, *why);
      return Hold{"breaker_open", fmt::format("breaker {} opened: {}", b.config.scope, *why),
                  b.config.scope, true};
    }
    in_scope.push_back(&b);
  }
  for (auto* b : in_scope) b->runs.emplace_back(now, device);
  return std::nullopt;
}

void SafetyGate::set_paused(bool paused) {
  std::lock_guard lock(mu_);
  if (paused_ != paused) {
    log::warn("safety", "automation {}",
              paused ? "paused: automatic remediations are held" : "resumed");
  }
  paused_ = paused;
  metrics_.automation_paused.Set(paused ? 1 : 0);
}

bool SafetyGate::paused() const {
  std::lock_guard lock(mu_);
  return paused_;
}

bool SafetyGate::reset(std::string_view scope) {
  std::lock_guard lock(mu_);
  bool found = false;
  for (auto& b : breakers_) {
    if (b.config.scope != scope) continue;
    found = true;
    if (b.open) log::info("safety", "breaker {} reset by an operator", scope);
    b.open = false;
    b.runs.clear();
    b.gauge->Set(0);
  }
  return found;
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
