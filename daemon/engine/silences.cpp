#include "daemon/engine/silences.hpp"

#include <fmt/format.h>
#include <re2/re2.h>

#include <boost/json.hpp>
#include <random>

#include "connectors/common/rfc3339.hpp"
#include "daemon/log.hpp"

namespace aiopsd::daemon {

namespace json = boost::json;

namespace {

constexpr auto kKeepExpired = std::chrono::hours(24);

std::string new_id() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return fmt::format("sil-{:016x}", rng());
}

std::unique_ptr<re2::RE2> compile(const std::string& pattern) {
  RE2::Options o;
  o.set_log_errors(false);
  o.set_max_mem(8 << 20);
  return std::make_unique<re2::RE2>("^(?:" + pattern + ")$", o);
}

bool matcher_matches(const Silence::Matcher& m, std::string_view value) {
  bool hit = m.regex ? RE2::FullMatch(value, *compile(m.value)) : value == m.value;
  return hit == m.equal;
}

}  // namespace

Silence::State Silence::state(TimePoint now) const {
  if (now >= ends_at) return State::kExpired;
  return now < starts_at ? State::kPending : State::kActive;
}

std::string_view to_string(Silence::State s) {
  switch (s) {
    case Silence::State::kPending:
      return "pending";
    case Silence::State::kActive:
      return "active";
    case Silence::State::kExpired:
      return "expired";
  }
  return "expired";
}

std::string to_json(const Silence& s, Silence::TimePoint now) {
  json::array matchers;
  for (const auto& m : s.matchers) {
    matchers.push_back(json::object{
        {"name", m.name}, {"value", m.value}, {"isRegex", m.regex}, {"isEqual", m.equal}});
  }
  return json::serialize(
      json::object{{"id", s.id},
                   {"matchers", std::move(matchers)},
                   {"startsAt", rules::format_rfc3339(s.starts_at)},
                   {"endsAt", rules::format_rfc3339(s.ends_at)},
                   {"updatedAt", rules::format_rfc3339(s.updated_at)},
                   {"createdBy", s.created_by},
                   {"comment", s.comment},
                   {"status", json::object{{"state", to_string(s.state(now))}}}});
}

bool Silences::Snapshot::matches(const rules::Event& event, TimePoint now) const {
  for (const Entry& e : entries_) {
    if (now < e.starts_at || now >= e.ends_at) continue;
    bool all = true;
    for (const auto& m : e.matchers) {
      const rules::Symbol v = m.name == rules::kNoSymbol ? rules::kNoSymbol : event.label(m.name);
      const bool hit = m.re ? RE2::FullMatch(interner_->view(v), *m.re) : v == m.value;
      if (hit != m.equal) {
        all = false;
        break;
      }
    }
    if (all) return true;
  }
  return false;
}

Silences::Silences(StateStore* store, rules::Interner& interner, EngineMetrics& metrics)
    : store_(store), interner_(interner), metrics_(metrics) {
  if (store_) {
    for (const auto& [id, value] : store_->records(StateStore::Keyspace::kSilences)) {
      auto parsed = parse(value, TimePoint{});
      if (auto* s = std::get_if<Silence>(&parsed)) {
        s->id = id;
        silences_.push_back(std::move(*s));
      } else {
        log::warn("silence", "unreadable stored silence {} skipped: {}", id,
                  std::get<std::string>(parsed));
      }
    }
  }
  std::lock_guard lock(mu_);
  rebuild();
}

// `now` only bounds endsAt for new silences; stored ones are read back with epoch.
std::variant<Silence, std::string> Silences::parse(std::string_view text, TimePoint now) const {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) return std::string("body: not valid JSON");
  const json::object* o = v.if_object();
  if (!o) return std::string("body: expected a JSON object");
  for (const auto& kv : *o) {
    static constexpr std::string_view kKnown[] = {"id",        "matchers", "startsAt",  "endsAt",
                                                  "createdBy", "comment",  "updatedAt", "status"};
    if (std::find(std::begin(kKnown), std::end(kKnown), kv.key()) == std::end(kKnown))
      return fmt::format("{}: unknown field", std::string_view(kv.key()));
  }
  auto text_field = [o](std::string_view k, std::string& out) -> std::optional<std::string> {
    const json::value* f = o->if_contains(k);
    if (!f || !f->is_string() || f->get_string().empty())
      return fmt::format("{}: required, a non-empty string", k);
    out = std::string(f->get_string());
    return std::nullopt;
  };
  Silence s;
  for (const auto& [k, out] :
       {std::pair<std::string_view, std::string*>{"createdBy", &s.created_by},
        {"comment", &s.comment}}) {
    if (auto err = text_field(k, *out)) return *err;
  }
  for (const auto& [k, out] : {std::pair<std::string_view, TimePoint*>{"startsAt", &s.starts_at},
                               {"endsAt", &s.ends_at}}) {
    std::string t;
    if (auto err = text_field(k, t)) return *err;
    if (wire::parse_rfc3339(t, *out) != wire::TimestampParse::kOk)
      return fmt::format("{}: \"{}\" is not an RFC 3339 time", k, t);
  }
  if (s.ends_at <= s.starts_at) return std::string("endsAt: must be after startsAt");
  if (now != TimePoint{} && s.ends_at <= now) return std::string("endsAt: is in the past");
  const json::value* ms = o->if_contains("matchers");
  if (!ms || !ms->is_array() || ms->get_array().empty())
    return std::string("matchers: required, a non-empty array");
  bool matches_everything = true;
  for (std::size_t i = 0; i < ms->get_array().size(); ++i) {
    const json::object* m = ms->get_array()[i].if_object();
    if (!m) return fmt::format("matchers[{}]: expected an object", i);
    Silence::Matcher matcher;
    const json::value* name = m->if_contains("name");
    const json::value* value = m->if_contains("value");
    if (!name || !name->is_string() ||
        !RE2::FullMatch(std::string(name->get_string()), "[a-zA-Z_][a-zA-Z0-9_]*"))
      return fmt::format("matchers[{}].name: required, a label name", i);
    if (!value || !value->is_string())
      return fmt::format("matchers[{}].value: required, a string", i);
    matcher.name = std::string(name->get_string());
    matcher.value = std::string(value->get_string());
    for (const auto& [k, out] : {std::pair<std::string_view, bool*>{"isRegex", &matcher.regex},
                                 {"isEqual", &matcher.equal}}) {
      if (const json::value* b = m->if_contains(k)) {
        if (!b->is_bool()) return fmt::format("matchers[{}].{}: expected true or false", i, k);
        *out = b->get_bool();
      }
    }
    if (matcher.regex && !compile(matcher.value)->ok())
      return fmt::format("matchers[{}].value: invalid regex: {}", i,
                         compile(matcher.value)->error());
    matches_everything = matches_everything && matcher_matches(matcher, "");
    s.matchers.push_back(std::move(matcher));
  }
  // As in Alertmanager: a silence must not mute every alert.
  if (matches_everything) return std::string("matchers: would match every alert (and no labels)");
  return s;
}

std::optional<Silence> Silences::add(Silence s, TimePoint now) {
  s.id = new_id();
  s.updated_at = now;
  if (store_ && !store_->put(StateStore::Keyspace::kSilences, s.id, to_json(s, now)))
    return std::nullopt;
  log::info("silence", "silence {} by {} until {}: {}", s.id, s.created_by,
            rules::format_rfc3339(s.ends_at), s.comment);
  std::lock_guard lock(mu_);
  silences_.push_back(s);
  rebuild();
  return s;
}

bool Silences::expire(std::string_view id, TimePoint now) {
  std::lock_guard lock(mu_);
  auto it = std::find_if(silences_.begin(), silences_.end(),
                         [&](const Silence& s) { return s.id == id; });
  if (it == silences_.end() || it->state(now) == Silence::State::kExpired) return false;
  Silence next = *it;
  next.starts_at = std::min(next.starts_at, now);
  next.ends_at = now;
  next.updated_at = now;
  if (store_ && !store_->put(StateStore::Keyspace::kSilences, next.id, to_json(next, now)))
    return false;
  *it = next;
  rebuild();
  log::info("silence", "silence {} expired", id);
  return true;
}

std::vector<Silence> Silences::list() const {
  std::lock_guard lock(mu_);
  return silences_;
}

std::optional<Silence> Silences::find(std::string_view id) const {
  std::lock_guard lock(mu_);
  for (const auto& s : silences_)
    if (s.id == id) return s;
  return std::nullopt;
}

std::shared_ptr<const Silences::Snapshot> Silences::snapshot() const {
  std::lock_guard lock(mu_);
  return snapshot_;
}

void Silences::housekeeping(TimePoint now) {
  std::lock_guard lock(mu_);
  std::size_t counts[3] = {0, 0, 0};
  std::erase_if(silences_, [&](const Silence& s) {
    if (s.state(now) == Silence::State::kExpired && now - s.ends_at > kKeepExpired) {
      if (store_) store_->erase(StateStore::Keyspace::kSilences, s.id);
      return true;
    }
    ++counts[static_cast<int>(s.state(now))];
    return false;
  });
  for (auto st : {Silence::State::kPending, Silence::State::kActive, Silence::State::kExpired}) {
    metrics_.silences.Add({{"state", std::string(to_string(st))}})
        .Set(static_cast<double>(counts[static_cast<int>(st)]));
  }
  rebuild();
}

void Silences::rebuild() {
  auto snap = std::make_shared<Snapshot>();
  snap->interner_ = &interner_;
  for (const auto& s : silences_) {
    if (s.state(std::chrono::system_clock::now()) == Silence::State::kExpired) continue;
    Snapshot::Entry e{s.starts_at, s.ends_at, {}};
    for (const auto& m : s.matchers) {
      Snapshot::CompiledMatcher cm;
      cm.name = interner_.intern(m.name);
      cm.equal = m.equal;
      if (m.regex) {
        cm.re = compile(m.value);
      } else {
        cm.value = interner_.intern(m.value);  // "" interns to kNoSymbol: absent
      }
      e.matchers.push_back(std::move(cm));
    }
    snap->entries_.push_back(std::move(e));
  }
  snapshot_ = std::move(snap);
}

}  // namespace aiopsd::daemon
