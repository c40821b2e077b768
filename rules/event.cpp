#include "rules/event.hpp"

#include <fmt/format.h>
#include <algorithm>
#include <cstring>
#include <ctime>
#include <stdexcept>

namespace aiopsd::rules {

Interner::Interner() : chunks_(std::make_unique<std::atomic<std::string_view*>[]>(kMaxChunks)) {
  for (std::size_t i = 0; i < kMaxChunks; ++i) chunks_[i].store(nullptr, std::memory_order_relaxed);
  chunks_[0].store(new std::string_view[kChunkSize], std::memory_order_release);
}

Interner::~Interner() {
  for (std::size_t i = 0; i < kMaxChunks; ++i) delete[] chunks_[i].load(std::memory_order_relaxed);
}

Symbol Interner::intern(std::string_view s) {
  // Prometheus treats an empty label value as no label at all; sharing the
  // "absent" symbol makes every matcher and fingerprint agree with it.
  if (s.empty()) return kNoSymbol;
  {
    std::shared_lock lock(mu_);
    if (auto it = index_.find(s); it != index_.end()) return it->second;
  }
  std::unique_lock lock(mu_);
  if (auto it = index_.find(s); it != index_.end()) return it->second;
  return insert_locked(s);
}

std::optional<Symbol> Interner::try_intern(std::string_view s) {
  if (s.empty()) return kNoSymbol;
  {
    std::shared_lock lock(mu_);
    if (auto it = index_.find(s); it != index_.end()) return it->second;
  }
  std::unique_lock lock(mu_);
  if (auto it = index_.find(s); it != index_.end()) return it->second;
  const std::size_t budget = budget_.load(std::memory_order_relaxed);
  if (budget != 0 && bytes_.load(std::memory_order_relaxed) + s.size() + kEntryOverhead > budget)
    return std::nullopt;
  return insert_locked(s);
}

// Under the unique lock; `s` is not in the index.
Symbol Interner::insert_locked(std::string_view s) {
  const std::size_t id = size_.load(std::memory_order_relaxed);
  if (id >= kChunkSize * kMaxChunks) throw std::length_error("interner is full");
  std::string_view* chunk = chunks_[id >> kChunkBits].load(std::memory_order_relaxed);
  if (chunk == nullptr) {
    chunk = new std::string_view[kChunkSize];
    chunks_[id >> kChunkBits].store(chunk, std::memory_order_release);
  }
  const std::string& stored = storage_.emplace_back(s);
  chunk[id & (kChunkSize - 1)] = stored;
  index_.emplace(stored, static_cast<Symbol>(id));
  bytes_.fetch_add(s.size() + kEntryOverhead, std::memory_order_relaxed);
  // Publishing the size makes the view above visible to lock-free readers.
  size_.store(id + 1, std::memory_order_release);
  return static_cast<Symbol>(id);
}

std::optional<Symbol> Interner::find(std::string_view s) const {
  std::shared_lock lock(mu_);
  if (auto it = index_.find(s); it != index_.end()) return it->second;
  return std::nullopt;
}

std::string_view Interner::view(Symbol id) const noexcept {
  if (id == kNoSymbol || id >= size_.load(std::memory_order_acquire)) return {};
  return chunks_[id >> kChunkBits].load(std::memory_order_acquire)[id & (kChunkSize - 1)];
}

std::size_t Interner::size() const { return size_.load(std::memory_order_acquire) - 1; }

namespace {
std::uint64_t load64(const char* p) {
  std::uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}
std::uint64_t load32(const char* p) {
  std::uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
}  // namespace

std::uint64_t hash_bytes(std::string_view s) noexcept {
  // Multiply-xorshift over 8-byte words (in the spirit of wyhash). The tail is
  // read with overlapping word loads: no byte loop, no store-forwarding stall.
  constexpr std::uint64_t kMul = 0x9E3779B97F4A7C15ULL;
  const char* p = s.data();
  std::size_t n = s.size();
  std::uint64_t h = 0x243F6A8885A308D3ULL ^ (n * kMul);
  std::uint64_t tail = 0;
  if (n > 8) {
    const char* end = p + n;
    while (end - p > 8) {
      h = (h ^ load64(p)) * kMul;
      h ^= h >> 29;
      p += 8;
    }
    tail = load64(end - 8);
  } else if (n >= 4) {
    tail = (load32(p) << 32) | load32(p + n - 4);
  } else if (n > 0) {
    tail = (std::uint64_t{static_cast<unsigned char>(p[0])} << 16) |
           (std::uint64_t{static_cast<unsigned char>(p[n >> 1])} << 8) |
           static_cast<unsigned char>(p[n - 1]);
  }
  h = (h ^ tail) * kMul;
  h ^= h >> 32;
  h *= kMul;
  h ^= h >> 29;
  return h;
}

InternCache::InternCache(Interner& interner, std::size_t capacity_pow2)
    : interner_(interner), slots_(std::max<std::size_t>(capacity_pow2, 16)) {}

Symbol InternCache::intern(std::string_view s) {
  if (auto id = lookup(s, /*bounded=*/false)) return *id;
  return kNoSymbol;  // unreachable: unbounded interning always succeeds
}

std::optional<Symbol> InternCache::try_intern(std::string_view s) { return lookup(s, true); }

std::optional<Symbol> InternCache::lookup(std::string_view s, bool bounded) {
  if (s.empty()) return kNoSymbol;  // see Interner::intern
  const std::uint64_t h = hash_bytes(s);
  const std::size_t mask = slots_.size() - 1;
  for (std::size_t i = h & mask;; i = (i + 1) & mask) {
    Slot& slot = slots_[i];
    if (slot.id == kNoSymbol) break;
    if (slot.hash == h && slot.text == s) return slot.id;
  }
  // Keep the load under one half; forgetting everything is cheap and bounded.
  if (used_ * 2 >= slots_.size()) {
    std::fill(slots_.begin(), slots_.end(), Slot{});
    used_ = 0;
  }
  const std::optional<Symbol> id = bounded ? interner_.try_intern(s) : interner_.intern(s);
  if (!id) return std::nullopt;
  std::size_t i = h & mask;
  while (slots_[i].id != kNoSymbol) i = (i + 1) & mask;
  slots_[i] = Slot{h, interner_.view(*id), *id};
  ++used_;
  return id;
}

std::string_view to_string(EventStatus s) {
  return s == EventStatus::kFiring ? "firing" : "resolved";
}

std::string_view to_string(EventSource s) {
  switch (s) {
    case EventSource::kAlertmanagerV2:
      return "alertmanager_v2";
    case EventSource::kAlertmanagerWebhook:
      return "alertmanager_webhook";
    case EventSource::kKafka:
      return "kafka";
  }
  return "unknown";
}

Symbol label_value(const std::vector<Label>& labels, Symbol name) noexcept {
  for (const Label& l : labels) {
    if (l.name == name) return l.value;
  }
  return kNoSymbol;
}

std::uint64_t hash_combine(std::uint64_t h, std::uint64_t v) noexcept {
  for (int i = 0; i < 8; ++i) {
    h ^= (v >> (i * 8)) & 0xff;
    h *= 1099511628211ULL;
  }
  return h;
}

std::uint64_t label_values_hash(const std::vector<Label>& labels, const std::vector<Symbol>& names,
                                const Interner& interner, std::uint64_t seed) noexcept {
  std::uint64_t h = seed;
  for (Symbol name : names) {
    const Symbol v = label_value(labels, name);
    h = hash_combine(h, v == kNoSymbol ? 0 : hash_bytes(interner.view(v)));
  }
  return h;
}

Symbol Event::label(Symbol name) const noexcept { return label_value(labels, name); }
std::optional<std::string_view> Event::annotation(Symbol name) const noexcept {
  for (const Annotation& a : annotations) {
    if (a.name == name) return std::string_view(annotation_text).substr(a.offset, a.size);
  }
  return std::nullopt;
}

Symbol Member::label(Symbol name) const noexcept { return label_value(labels, name); }

Member Member::of(const Event& event) {
  return Member{event.fingerprint, event.status, event.starts_at, event.labels};
}

void Event::clear() {
  labels.clear();
  annotations.clear();
  annotation_text.clear();
  generator_url.clear();
  starts_at = ends_at = TimePoint{};
  fingerprint = 0;
  status = EventStatus::kFiring;
}

bool normalize_labels(std::vector<Label>& labels) {
  std::sort(labels.begin(), labels.end(),
            [](const Label& a, const Label& b) { return a.name < b.name; });
  const bool unique =
      std::adjacent_find(labels.begin(), labels.end(), [](const Label& a, const Label& b) {
        return a.name == b.name;
      }) == labels.end();
  if (!unique) return false;  // left as is, so the caller can name the duplicate
  // An empty value (interned as kNoSymbol) is an absent label.
  std::erase_if(labels, [](const Label& l) { return l.value == kNoSymbol; });
  return true;
}

bool normalize_annotations(std::vector<Annotation>& annotations) {
  std::sort(annotations.begin(), annotations.end(),
            [](const Annotation& a, const Annotation& b) { return a.name < b.name; });
  return std::adjacent_find(annotations.begin(), annotations.end(),
                            [](const Annotation& a, const Annotation& b) {
                              return a.name == b.name;
                            }) == annotations.end();
}

std::uint64_t fingerprint_of(const std::vector<Label>& labels, const Interner& interner) {
  // Order by name text, not symbol id, so the value is the same in every process.
  constexpr std::size_t kInline = 32;
  std::pair<std::string_view, std::string_view> inline_buf[kInline];
  std::vector<std::pair<std::string_view, std::string_view>> heap;
  std::pair<std::string_view, std::string_view>* pairs = inline_buf;
  if (labels.size() > kInline) {
    heap.resize(labels.size());
    pairs = heap.data();
  }
  for (std::size_t i = 0; i < labels.size(); ++i) {
    pairs[i] = {interner.view(labels[i].name), interner.view(labels[i].value)};
  }
  std::sort(pairs, pairs + labels.size());
  std::uint64_t h = 14695981039346656037ULL;
  auto mix = [&h](std::string_view s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ULL;
    }
    h ^= 0xff;
    h *= 1099511628211ULL;
  };
  for (std::size_t i = 0; i < labels.size(); ++i) {
    mix(pairs[i].first);
    mix(pairs[i].second);
  }
  return h;
}

std::string fingerprint_hex(std::uint64_t fp) { return fmt::format("{:016x}", fp); }

// Civil-calendar arithmetic, no gmtime_r: glibc takes a global lock in it,
// and results and audit records stamp two times per event.
void append_rfc3339(std::string& out, TimePoint t) {
  using namespace std::chrono;
  const auto ms = floor<milliseconds>(t);
  const auto day = floor<days>(ms);
  const year_month_day ymd{day};
  const hh_mm_ss hms{ms - day};
  const int year = static_cast<int>(ymd.year());
  if (year < 0 || year > 9999) {
    fmt::format_to(std::back_inserter(out), "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", year,
                   static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                   hms.hours().count(), hms.minutes().count(), hms.seconds().count(),
                   hms.subseconds().count());
    return;
  }
  char buf[24] = {'0', '0', '0', '0', '-', '0', '0', '-', '0', '0', 'T', '0',
                  '0', ':', '0', '0', ':', '0', '0', '.', '0', '0', '0', 'Z'};
  auto put = [&buf](int pos, int width, long v) {
    for (int i = pos + width - 1; i >= pos; --i, v /= 10) buf[i] = static_cast<char>('0' + v % 10);
  };
  put(0, 4, year);
  put(5, 2, static_cast<unsigned>(ymd.month()));
  put(8, 2, static_cast<unsigned>(ymd.day()));
  put(11, 2, hms.hours().count());
  put(14, 2, hms.minutes().count());
  put(17, 2, hms.seconds().count());
  put(20, 3, hms.subseconds().count());
  out.append(buf, sizeof buf);
}

std::string format_rfc3339(TimePoint t) {
  std::string out;
  append_rfc3339(out, t);
  return out;
}

}  // namespace aiopsd::rules
