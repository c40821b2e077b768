// App's Kafka wiring: the embedded cluster or the brokers, the producer, the
// intents and alerts consumer, and their drain at stop.

#include "daemon/app.hpp"
#include "daemon/app_impl.hpp"

namespace aiopsd::daemon {

void App::start_kafka() {
  Impl& s = *impl_;
  const Config& cfg = *s.config;
  const KafkaConfig& k = cfg.kafka;
  kafka::ClientConfig cc;
  std::string error;
  if (k.embedded) {
    s.kafka_cluster = kafka::EmbeddedCluster::start(1, error);
    if (!s.kafka_cluster) throw std::runtime_error("embedded kafka: " + error);
    std::set<std::string> topics{k.topics.intents, k.topics.results,   k.topics.dead_letter,
                                 k.topics.alerts,  k.topics.approvals, k.topics.escalations};
    for (const auto& rule : cfg.rules.rules) {  // incident topics of kafka actions
      for (const auto& a : rule.actions) {
        if (const auto* ka = std::get_if<rules::KafkaAction>(&a.spec)) topics.insert(ka->topic);
      }
    }
    for (const std::string& t : topics) {
      if (!t.empty() && !s.kafka_cluster->create_topic(t, k.embedded_partitions, error))
        throw std::runtime_error(fmt::format("embedded kafka: topic {}: {}", t, error));
    }
    cc.brokers = s.kafka_cluster->bootstrap();
    if (!k.bootstrap_file.empty()) {
      std::filesystem::create_directories(std::filesystem::path(k.bootstrap_file).parent_path());
      std::ofstream(k.bootstrap_file) << cc.brokers << '\n';
    }
    log::info(
        "kafka", "embedded Kafka (librdkafka mock cluster) listening at {}; topics {}, {}, {}, {}",
        cc.brokers, k.topics.intents, k.topics.results, k.topics.dead_letter, k.topics.alerts);
  } else {
    cc.brokers = k.brokers;
  }
  for (const auto& [name, p] : k.properties)
    cc.properties[name] =
        p.secret.empty() ? p.value : read_secret_at_start("kafka.properties." + name, p.secret);

  s.kafka_bootstrap = cc.brokers;
  s.producer = kafka::Producer::create(cc, error);
  if (!s.producer) throw std::runtime_error("kafka producer: " + error);
  s.escalations.attach(s.producer.get(), k.topics.escalations);
  s.incidents.attach(s.producer.get());
  s.intents = std::make_unique<IntentService>(s.config, *s.executor, *s.audit, s.intent_metrics,
                                              s.safety_metrics, s.notify_metrics, *s.state,
                                              *s.producer, *s.approvals, s.escalations);
  s.intents->report_interrupted();
  std::vector<std::string> topics{k.topics.intents};
  for (const std::string& t : {k.topics.alerts, k.topics.approvals})
    if (!t.empty()) topics.push_back(t);
  kafka::ClientConfig consumer_config = cc;
  if (k.embedded && !cc.properties.contains("session.timeout.ms")) {
    // The mock broker holds a rejoining group for the old member's whole
    // session timeout (librdkafka's default is 45s): keep restarts quick.
    consumer_config.properties["session.timeout.ms"] = "6000";
  }
  s.consumer = kafka::Consumer::create(consumer_config, k.group_id, topics, error);
  if (!s.consumer) throw std::runtime_error("kafka consumer: " + error);
  s.kafka_ingest =
      std::make_unique<KafkaIngest>(cfg, *s.intents, *s.approvals, *s.queue, s.metrics,
                                    s.intent_metrics, s.notify_metrics, *s.producer, *s.consumer);
  s.consumer->start(
      [ingest = s.kafka_ingest.get()](const kafka::Message& m) { ingest->handle(m); });
  s.lag_sampler.emplace("aiopsd-lag", std::chrono::seconds(5), [&s] {
    for (const auto& l : s.consumer->lag()) {
      s.intent_metrics.kafka_lag
          .Add({{"topic", l.topic}, {"partition", std::to_string(l.partition)}})
          .Set(static_cast<double>(l.lag));
    }
  });
}

void App::stop_kafka() {
  Impl& s = *impl_;
  if (!s.consumer) return;
  s.lag_sampler.reset();
  s.kafka_ingest->stop();
  // Intents already handed out finish (bounded by the drain timeout) so
  // their offsets can be committed; then the consumer commits and leaves.
  const auto deadline = std::chrono::steady_clock::now() + s.options.drain_timeout;
  s.consumer->pause();
  wait_until(deadline, [&] { return s.intents->in_flight() == 0; });
  s.consumer->stop();
  s.producer->flush(std::chrono::seconds(10));
}

std::string App::kafka_bootstrap() const { return impl_->kafka_bootstrap; }

}  // namespace aiopsd::daemon
