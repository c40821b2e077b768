#include "daemon/replay/replay.hpp"

#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>
#include <boost/json.hpp>
#include <istream>
#include <ostream>
#include <queue>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "connectors/alertmanager/alert_decoder.hpp"
#include "connectors/common/ondemand.hpp"
#include "connectors/common/rfc3339.hpp"
#include "daemon/remediation/action_plan.hpp"
#include "rules/clock.hpp"
#include "rules/engine.hpp"
#include "rules/rule_test.hpp"

namespace aiopsd::daemon {

namespace {

namespace od = simdjson::ondemand;
using rules::TimePoint;
using std::chrono::milliseconds;

// The engine forgets an alert's episode after an hour without it (docs/rules.md,
// "Correlation and de-duplication"); a lower bound is enough here.
constexpr auto kMayExpireAfter = std::chrono::hours(1);
// Housekeeping tick at least this often, as the daemon's idle-state expiry.
constexpr auto kHousekeeping = std::chrono::hours(1);

// One accepted line: its alerts, decoded, waiting for their time.
struct Arrival {
  TimePoint at;
  std::uint64_t seq = 0;  // file order, for equal times
  std::vector<rules::Event> events;
};

// Min-heap on (at, seq): std::push_heap builds a max-heap, so "greater" first.
bool later(const Arrival& a, const Arrival& b) {
  return std::tie(a.at, a.seq) > std::tie(b.at, b.seq);
}

// The longest time a rule keeps something pending: past the last event, the
// replay ticks this long so every `for`, window and throttle has resolved.
milliseconds longest_duration(const rules::RuleSet& rules) {
  milliseconds m{0};
  for (const auto& r : rules.rules) m = std::max({m, r.window, r.for_duration, r.throttle});
  return m;
}

// The field path of a decoder message, from the line's point of view: the
// decoder names the HTTP body ("body: ...") and, for v2 posts, the alerts
// array ("alerts[3].labels"), which here is `payload` itself.
std::string payload_path(std::string_view message, bool v2) {
  if (message.starts_with("body: ")) return fmt::format("payload: {}", message.substr(6));
  if (v2 && message.starts_with("alerts[")) return fmt::format("payload{}", message.substr(6));
  return fmt::format("payload.{}", message);
}

class Replayer {
 public:
  Replayer(const Config& config, const std::string& name, std::uint64_t total_bytes,
           const ReplayOptions& options, std::ostream& out, std::ostream& err)
      : config_(config),
        name_(name),
        total_bytes_(total_bytes),
        options_(options),
        out_(out),
        err_(err),
        engine_(config.rules, *config.interner, clock_),
        decoder_(*config.interner, alertmanager::DecodeLimits{config.engine.max_labels},
                 &decode_clock_) {}

  ReplayResult run(std::istream& in) {
    std::string line;
    std::size_t lineno = 0;
    while (std::getline(in, line)) {
      ++lineno;
      bytes_read_ += line.size() + 1;
      if (options_.progress && (lineno & 1023) == 0) draw_progress(false);
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      ++result_.lines;
      read_line(line, lineno);
    }
    while (!heap_.empty()) release_one();
    if (latest_) {
      TimePoint until =
          options_.until
              ? *options_.until
              : *latest_ + options_.until_after.value_or(longest_duration(config_.rules));
      advance_to(until);
    }
    if (options_.progress) draw_progress(true);
    out_.flush();
    return result_;
  }

 private:
  void bad(std::size_t lineno, std::string_view message) {
    ++result_.bad_lines;
    if (progress_drawn_) err_ << "\r\x1b[K";
    err_ << name_ << ':' << lineno << ": " << message << '\n';
    progress_drawn_ = false;
  }

  void read_line(std::string& line, std::size_t lineno) {
    line.reserve(line.size() + simdjson::SIMDJSON_PADDING);
    od::document doc;
    auto json_error = [&](simdjson::error_code e) {
      bad(lineno, fmt::format("invalid JSON: {}", simdjson::error_message(e)));
    };
    if (auto e =
            parser_.iterate(simdjson::padded_string_view(line.data(), line.size(), line.capacity()))
                .get(doc)) {
      return json_error(e);
    }
    od::object obj;
    if (auto e = doc.get_object().get(obj)) {
      if (e != simdjson::INCORRECT_TYPE) return json_error(e);
      // Some other value, or not JSON at all: simdjson cannot tell ("not
      // json" starts like a null); this is the rare path, ask a full parser.
      boost::system::error_code ec;
      boost::json::parse(line, ec);
      if (ec) return bad(lineno, fmt::format("invalid JSON: {}", ec.message()));
      return bad(lineno, "expected a JSON object with at, source and payload");
    }
    std::string_view at_text, source_text, payload;
    bool has_at = false, has_source = false, has_payload = false;
    for (auto f : obj) {
      od::field field;
      if (auto e = std::move(f).get(field)) return json_error(e);
      std::string_view key;
      if (auto e = field.unescaped_key().get(key)) return json_error(e);
      if (key == "at" || key == "source") {
        bool& seen = key == "at" ? has_at : has_source;
        if (seen) return bad(lineno, fmt::format("{}: duplicate field", key));
        seen = true;
        std::string_view& text = key == "at" ? at_text : source_text;
        if (auto e = field.value().get_string().get(text)) {
          if (e != simdjson::INCORRECT_TYPE) return json_error(e);
          return bad(lineno, key == "at" ? "at: expected a string (an RFC 3339 time)"
                                         : "source: expected a string");
        }
      } else if (key == "payload") {
        if (has_payload) return bad(lineno, "payload: duplicate field");
        has_payload = true;
        od::value v = field.value();
        od::json_type t;
        if (auto e = v.type().get(t)) return json_error(e);
        simdjson::error_code e = simdjson::INCORRECT_TYPE;
        if (t == od::json_type::array) {
          od::array a;
          e = v.get_array().get(a);
          if (!e) e = a.raw_json().get(payload);
        } else if (t == od::json_type::object) {
          od::object o;
          e = v.get_object().get(o);
          if (!e) e = o.raw_json().get(payload);
        } else {
          return bad(lineno,
                     "payload: expected an array (alertmanager_v2) or an object "
                     "(alertmanager_webhook, kafka)");
        }
        if (e) return json_error(e);
      } else {
        return bad(lineno, fmt::format("{}: unknown field (expected at, source and payload)",
                                       aiopsd::json::quote(key, 64)));
      }
    }
    if (!aiopsd::json::at_end(doc)) return bad(lineno, "invalid JSON: trailing content");
    if (!has_at) return bad(lineno, "at: missing required field");
    if (!has_source) return bad(lineno, "source: missing required field");
    if (!has_payload) return bad(lineno, "payload: missing required field");

    TimePoint at;
    if (wire::parse_rfc3339(at_text, at) != wire::TimestampParse::kOk) {
      return bad(lineno,
                 fmt::format("at: invalid RFC 3339 time {}", aiopsd::json::quote(at_text, 64)));
    }
    rules::EventSource source;
    if (source_text == rules::to_string(rules::EventSource::kAlertmanagerV2)) {
      source = rules::EventSource::kAlertmanagerV2;
    } else if (source_text == rules::to_string(rules::EventSource::kAlertmanagerWebhook)) {
      source = rules::EventSource::kAlertmanagerWebhook;
    } else if (source_text == rules::to_string(rules::EventSource::kKafka)) {
      source = rules::EventSource::kKafka;
    } else {
      return bad(lineno, fmt::format("source: unknown source {} (expected alertmanager_v2, "
                                     "alertmanager_webhook or kafka)",
                                     aiopsd::json::quote(source_text, 64)));
    }
    // Checked before decoding: the buffer may already have released events
    // up to latest - lateness, and the engine cannot go back in time.
    if (latest_ && at < *latest_ - options_.lateness) {
      return bad(
          lineno,
          fmt::format(
              "at: {} is {} before the latest event so far ({}), more than the "
              "allowed lateness of {}",
              rules::format_rfc3339(at),
              rules::format_test_duration(std::chrono::duration_cast<milliseconds>(*latest_ - at)),
              rules::format_rfc3339(*latest_), rules::format_test_duration(options_.lateness)));
    }
    const bool http = source != rules::EventSource::kKafka;
    if (http && payload.size() > config_.server.max_body_bytes) {
      return bad(lineno, fmt::format("payload: {} bytes, over server.max_body ({}): the daemon "
                                     "refuses it with 413",
                                     payload.size(), config_.server.max_body_bytes));
    }

    Arrival a;
    a.at = at;
    a.seq = seq_++;
    body_.assign(payload);
    // The decoder reads "now" for v2 alerts without status (ended once endsAt
    // has passed): now is when the line arrived, not when it is replayed.
    decode_clock_.set(at);
    const bool v2 = source == rules::EventSource::kAlertmanagerV2;
    auto decoded =
        v2 ? decoder_.decode_v2_alerts(body_, a.events) : decoder_.decode_webhook(body_, a.events);
    if (source == rules::EventSource::kKafka) {
      for (auto& e : a.events) e.source = rules::EventSource::kKafka;
    }
    if (!decoded.errors.empty()) {
      // The daemon runs the valid alerts of a batch and refuses the rest: so
      // does the replay, and the line counts as bad.
      std::string message;
      for (const auto& e : decoded.errors) {
        if (!message.empty()) message += "; ";
        message += payload_path(e.message, v2);
      }
      bad(lineno, message);
    }
    if (a.events.empty()) return;
    latest_ = latest_ ? std::max(*latest_, at) : at;
    heap_.push_back(std::move(a));
    std::push_heap(heap_.begin(), heap_.end(), later);
    while (!heap_.empty() && heap_.front().at <= *latest_ - options_.lateness) release_one();
  }

  void release_one() {
    std::pop_heap(heap_.begin(), heap_.end(), later);
    Arrival a = std::move(heap_.back());
    heap_.pop_back();
    advance_to(a.at);
    for (const auto& e : a.events) {
      ++result_.alerts;
      if (!options_.every_tick) catch_up_for(e, a.at);
      clock_.set(a.at);
      engine_.process(e, decisions_);
      emit();
      if (!options_.every_tick) remember(e, a.at);
    }
  }

  // Before `e` is processed: if the engine may have dropped e's earlier
  // episode by now (its endsAt passed, or not seen for an hour: a re-send
  // then acts again), run the tick the daemon would have run by now.
  void catch_up_for(const rules::Event& e, TimePoint t) {
    if (*next_tick_ > t) return;
    auto it = seen_.find(e.fingerprint);
    if (it == seen_.end()) return;
    const TimePoint g = *next_tick_ + ((t - *next_tick_) / options_.tick) * options_.tick;
    const auto& [last_seen, ends_at] = it->second;
    if ((ends_at != TimePoint{} && ends_at <= g) || g - last_seen >= kMayExpireAfter) tick_at(g);
  }

  // After `e`: when its episode may end.
  void remember(const rules::Event& e, TimePoint t) {
    if (e.status == rules::EventStatus::kResolved) {
      seen_.erase(e.fingerprint);
      return;
    }
    seen_[e.fingerprint] = {t, e.ends_at};
  }

  // Runs the ticks the daemon's engine thread would run (one per second, on
  // a grid from the first event) up to `t`. With every_tick, all of them.
  // Otherwise only those that can change an outcome: Engine::tick costs one
  // pass over every tracked alert, and a replay of a week is 600,000 of them.
  // A tick between events only fires a due `for` or drops state, and dropping
  // is monotonic in time (what a tick drops, every later tick drops too), so
  // it is enough to tick (1) at the step where a timer (`for`, absence) is due, (2) just before
  // an event whose earlier episode may have been dropped (catch_up_for), and
  // (3) once a virtual hour, as housekeeping that bounds memory. The property
  // test compares this with every_tick.
  void advance_to(TimePoint t) {
    if (!next_tick_) {
      next_tick_ = t + options_.tick;
      last_tick_ = t;
    }
    if (options_.every_tick) {
      while (*next_tick_ <= t) tick_at(*next_tick_);
      return;
    }
    for (;;) {
      std::optional<TimePoint> g;
      if (auto due = engine_.next_due()) g = ceil_to_grid(*due);
      if (const TimePoint h = ceil_to_grid(last_tick_ + kHousekeeping); !g || h < *g) g = h;
      if (*g > t) break;
      tick_at(*g);
    }
  }

  // The first grid step at or after `d` that has not been ticked yet.
  TimePoint ceil_to_grid(TimePoint d) const {
    if (d <= *next_tick_) return *next_tick_;
    const auto steps = (d - *next_tick_ + options_.tick - TimePoint::duration{1}) / options_.tick;
    return *next_tick_ + steps * options_.tick;
  }

  void tick_at(TimePoint g) {
    clock_.set(g);
    engine_.tick(decisions_);
    engine_.expire_idle_state();
    // Timers fire in hash-map order; sorted, equal inputs print equal output.
    std::sort(decisions_.begin(), decisions_.end(),
              [](const rules::Decision& a, const rules::Decision& b) {
                return std::tie(a.rule, a.group_key, a.fingerprints) <
                       std::tie(b.rule, b.group_key, b.fingerprints);
              });
    emit();
    last_tick_ = g;
    next_tick_ = g + options_.tick;
  }

  void emit() {
    for (const auto& d : decisions_) {
      ++result_.decisions;
      const rules::Rule& rule = config_.rules.rules[d.rule];
      boost::json::array fps;
      for (auto fp : d.fingerprints) fps.emplace_back(rules::fingerprint_hex(fp));
      for (std::size_t i = 0; i < rule.actions.size(); ++i) {
        ActionPlan plan = plan_action(config_, d, i);
        boost::json::object o;
        o["at"] = rules::format_rfc3339(clock_.now());
        o["rule"] = rule.name;
        o["group_key"] = d.group_key;
        o["action"] = plan.action;
        o["device"] = plan.device ? boost::json::value(plan.device->ssh.name) : nullptr;
        boost::json::array cmds;
        for (const auto& c : plan.commands) cmds.emplace_back(c);
        o["commands"] = std::move(cmds);
        if (plan.action == "log") o["message"] = plan.message;
        if (!plan.ok()) {
          o["error"] =
              boost::json::object{{"code", plan.error_code}, {"message", plan.error_message}};
        }
        o["fingerprints"] = fps;
        out_ << boost::json::serialize(o) << '\n';
        ++result_.actions;
      }
    }
    decisions_.clear();
  }

  void draw_progress(bool done) {
    auto now = std::chrono::steady_clock::now();
    if (!done && now - last_draw_ < milliseconds(100)) return;
    last_draw_ = now;
    constexpr int kWidth = 30;
    const double mib = 1024.0 * 1024.0;
    const double frac =
        total_bytes_ == 0
            ? 0.0
            : std::min(1.0, static_cast<double>(bytes_read_) / static_cast<double>(total_bytes_));
    const int filled = done ? kWidth : static_cast<int>(frac * kWidth);
    err_ << fmt::format("\r\x1b[K[{:#<{}}{:-<{}}] {:3.0f}% {:.1f}/{:.1f} MiB, {} lines, {} bad", "",
                        filled, "", kWidth - filled, done ? 100.0 : frac * 100,
                        static_cast<double>(bytes_read_) / mib,
                        static_cast<double>(std::max(total_bytes_, bytes_read_)) / mib,
                        result_.lines, result_.bad_lines);
    if (done) err_ << '\n';
    err_.flush();
    progress_drawn_ = !done;
  }

  const Config& config_;
  const std::string& name_;
  const std::uint64_t total_bytes_;
  const ReplayOptions& options_;
  std::ostream& out_;
  std::ostream& err_;
  rules::ManualClock clock_;         // the engine's time
  rules::ManualClock decode_clock_;  // the arriving line's time, for the decoder
  rules::Engine engine_;
  alertmanager::AlertDecoder decoder_;
  od::parser parser_;
  std::string body_;
  std::vector<Arrival> heap_;
  std::uint64_t seq_ = 0;
  std::optional<TimePoint> latest_;     // the latest `at` accepted so far
  std::optional<TimePoint> next_tick_;  // the next grid step not yet ticked
  TimePoint last_tick_{};
  // Tick scheduling (advance_to): per alert fingerprint its last arrival and endsAt.
  std::unordered_map<std::uint64_t, std::pair<TimePoint, TimePoint>> seen_;
  std::vector<rules::Decision> decisions_;
  ReplayResult result_;
  std::uint64_t bytes_read_ = 0;
  std::chrono::steady_clock::time_point last_draw_{};
  bool progress_drawn_ = false;
};

}  // namespace

ReplayResult replay_events(const Config& config, std::istream& events, const std::string& name,
                           std::uint64_t total_bytes, const ReplayOptions& options,
                           std::ostream& out, std::ostream& err) {
  Replayer r(config, name, total_bytes, options, out, err);
  return r.run(events);
}

}  // namespace aiopsd::daemon
