#include "daemon/notify/incidents.hpp"

#include <fmt/format.h>

#include "daemon/detail/json_writer.hpp"
#include "daemon/notify/kafka_publish.hpp"

namespace aiopsd::daemon {

namespace {

void write_labels(detail::JsonWriter& w, const std::vector<rules::Label>& labels,
                  const rules::Interner& in) {
  w.begin_object();
  for (const rules::Label& l : labels) w.field(in.view(l.name), in.view(l.value));
  w.end_object();
}

}  // namespace

std::string incident_id(const rules::Decision& d, const rules::Rule& rule) {
  std::string basis = rule.name;
  basis += '\xff';
  basis += d.group_key;
  for (const rules::Member& m : d.members) {
    basis += '\xff';
    basis += rules::fingerprint_hex(m.fingerprint);
    basis += rules::format_rfc3339(m.starts_at);
  }
  return "inc-" + rules::fingerprint_hex(rules::hash_bytes(basis));
}

std::string incident_record(const rules::Decision& d, const rules::Rule& rule,
                            const rules::Interner& in, bool dry_run,
                            std::chrono::system_clock::time_point now) {
  std::string out;
  detail::JsonWriter w(out);
  w.begin_object();
  w.field("kind", "incident");
  w.field("id", incident_id(d, rule));
  w.field("time", rules::format_rfc3339(now));
  w.field("rule", rule.name);
  w.field("rule_kind", rules::to_string(rule.kind));
  w.field("group_key", d.group_key);
  w.key("group").begin_object();
  for (const std::string& name : rule.group_by) {
    auto sym = in.find(name);
    const rules::Symbol v = sym ? d.event.label(*sym) : rules::kNoSymbol;
    w.field(name, v == rules::kNoSymbol ? std::string_view{} : in.view(v));
  }
  w.end_object();
  w.field("dry_run", dry_run);
  w.key("members").begin_array();
  for (const rules::Member& m : d.members) {
    w.begin_object();
    w.field("fingerprint", rules::fingerprint_hex(m.fingerprint));
    w.field("status", rules::to_string(m.status));
    w.field("starts_at", rules::format_rfc3339(m.starts_at));
    w.key("labels");
    write_labels(w, m.labels, in);
    w.end_object();
  }
  w.end_array();
  w.end_object();
  return out;
}

void Incidents::add_receiver(std::string name, std::unique_ptr<WebhookSender> sender) {
  receivers_.insert_or_assign(std::move(name), std::move(sender));
}

bool Incidents::to_kafka(const std::string& topic, std::string key, std::string record,
                         std::function<void()> acked) {
  if (producer_ == nullptr) return false;
  publish_until_acked(*producer_, metrics_, topic, std::move(key), std::move(record), {},
                      std::move(acked));
  return true;
}

bool Incidents::to_webhook(const std::string& receiver, std::string record) {
  auto it = receivers_.find(receiver);
  if (it == receivers_.end()) return false;
  it->second->post(std::move(record));
  return true;
}

}  // namespace aiopsd::daemon
