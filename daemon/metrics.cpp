#include "daemon/metrics.hpp"

#include <prometheus/text_serializer.h>

#include "daemon/version.hpp"

namespace aiopsd::daemon {

prometheus::Family<prometheus::Counter>& counter_family(prometheus::Registry& registry,
                                                        const std::string& name,
                                                        const std::string& help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(registry);
}

prometheus::Family<prometheus::Gauge>& gauge_family(prometheus::Registry& registry,
                                                    const std::string& name,
                                                    const std::string& help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(registry);
}

prometheus::Family<prometheus::Histogram>& histogram_family(prometheus::Registry& registry,
                                                            const std::string& name,
                                                            const std::string& help) {
  return prometheus::BuildHistogram().Name(name).Help(help).Register(registry);
}

Metrics::Metrics()
    : registry(std::make_shared<prometheus::Registry>()),
      build_info(gauge_family(*registry, "aiopsd_build_info", "Build information")),
      events_received(counter_family(*registry, "aiopsd_events_received_total",
                                     "Events accepted from a connector")),
      events_rejected(counter_family(*registry, "aiopsd_events_rejected_total",
                                     "Events or requests rejected, by connector and reason")),
      event_queue_depth(
          gauge_family(*registry, "aiopsd_event_queue_depth", "Events waiting for the rule engine")
              .Add({})),
      label_bytes(gauge_family(*registry, "aiopsd_label_bytes",
                               "Bytes of interned label names and values (never freed until "
                               "restart); new ones from senders stop at engine.max_label_bytes")
                      .Add({})),
      config_reload_successful(
          gauge_family(*registry, "aiopsd_config_last_reload_successful",
                       "1 if the last config (re)load succeeded, 0 if rejected")
              .Add({})),
      config_reload_timestamp(gauge_family(*registry,
                                           "aiopsd_config_last_reload_success_timestamp_seconds",
                                           "When the config in force was loaded (Unix seconds)")
                                  .Add({})) {
  build_info.Add({{"version", std::string(kVersion)}, {"revision", std::string(kRevision)}}).Set(1);
}

prometheus::Counter& Metrics::rejected(std::string_view connector, std::string_view reason) {
  return events_rejected.Add(
      {{"connector", std::string(connector)}, {"reason", std::string(reason)}});
}

std::string Metrics::serialize() const {
  prometheus::TextSerializer serializer;
  return serializer.Serialize(registry->Collect());
}

}  // namespace aiopsd::daemon
