#pragma once
// The daemon's metrics registry and what every room shares: build info, the
// intake counters (HTTP and Kafka both receive and reject alerts), the intake
// queue and label budget, and config reloads. Each room owns the rest of its
// metrics beside its code (http/http_metrics.hpp, engine/engine_metrics.hpp,
// ...), built on this registry by the App, which owns them all: a module takes
// only the struct of its own room (and this one), so it moves with its metrics.
// Families are created once; per-rule handles are resolved at load so the hot
// path never looks a label set up.

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>
#include <string_view>

namespace aiopsd::daemon {

// One family, registered under `name` (the names are the dashboards' contract).
prometheus::Family<prometheus::Counter>& counter_family(prometheus::Registry& registry,
                                                        const std::string& name,
                                                        const std::string& help);
prometheus::Family<prometheus::Gauge>& gauge_family(prometheus::Registry& registry,
                                                    const std::string& name,
                                                    const std::string& help);
prometheus::Family<prometheus::Histogram>& histogram_family(prometheus::Registry& registry,
                                                            const std::string& name,
                                                            const std::string& help);

struct Metrics {
  Metrics();
  std::string serialize() const;  // Prometheus text exposition format
  prometheus::Counter& rejected(std::string_view connector, std::string_view reason);

  std::shared_ptr<prometheus::Registry> registry;
  prometheus::Family<prometheus::Gauge>& build_info;
  prometheus::Family<prometheus::Counter>& events_received;  // {connector}
  prometheus::Family<prometheus::Counter>& events_rejected;  // {connector, reason}
  prometheus::Gauge& event_queue_depth;
  prometheus::Gauge& label_bytes;
  prometheus::Gauge& config_reload_successful;
  prometheus::Gauge& config_reload_timestamp;
};

}  // namespace aiopsd::daemon
