#pragma once
// The one internal event type every connector decodes into, and the label
// interner that makes repeated label names and values cost one lookup.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace aiopsd::rules {

using Symbol = std::uint32_t;
inline constexpr Symbol kNoSymbol = 0;  // never handed out; stands for "absent"

// Interns strings into stable small ids. Thread-safe: decoders on the HTTP
// thread intern while the engine thread reads. view() is lock-free (ids are
// published in fixed chunks that never move); intern() of a known string
// takes a shared lock and allocates nothing. Hot paths put an InternCache in
// front of it to skip the lock too.
class Interner {
 public:
  Interner();
  ~Interner();
  Interner(const Interner&) = delete;
  Interner& operator=(const Interner&) = delete;

  // For trusted text (config, rules, templates): always interned.
  Symbol intern(std::string_view s);
  // For text from senders: nullopt when `s` is new and the budget is spent.
  // Interned strings are never freed (ids live in events, state and rules),
  // so untrusted input must not grow the table without bound: the decoders
  // refuse an alert that would, and the sender retries later.
  std::optional<Symbol> try_intern(std::string_view s);
  std::optional<Symbol> find(std::string_view s) const;
  std::string_view view(Symbol id) const noexcept;
  std::size_t size() const;
  // Bytes held for strings (text plus per-entry overhead), and the budget
  // try_intern() keeps under; 0: no budget.
  std::size_t bytes() const { return bytes_.load(std::memory_order_relaxed); }
  void set_budget(std::size_t max_bytes) { budget_.store(max_bytes, std::memory_order_relaxed); }
  std::size_t budget() const { return budget_.load(std::memory_order_relaxed); }
  // Per-entry overhead counted in bytes(): the index node, the view and the
  // string header (measured at ~96 B with libstdc++).
  static constexpr std::size_t kEntryOverhead = 96;

 private:
  static constexpr std::size_t kChunkBits = 16;
  static constexpr std::size_t kChunkSize = std::size_t{1} << kChunkBits;
  static constexpr std::size_t kMaxChunks = 4096;  // 268M symbols
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };
  mutable std::shared_mutex mu_;
  std::deque<std::string> storage_;  // deque: element addresses never move
  std::unordered_map<std::string_view, Symbol, Hash, std::equal_to<>> index_;
  std::atomic<std::size_t> size_{1};  // id 0 is kNoSymbol
  std::atomic<std::size_t> bytes_{0};
  std::atomic<std::size_t> budget_{0};
  Symbol insert_locked(std::string_view s);
  std::unique_ptr<std::atomic<std::string_view*>[]> chunks_;
};

// A single-thread front for an Interner: remembers what this thread interned
// so repeated names and values cost one unlocked hash lookup. Bounded: it
// forgets everything when full, so hostile unique values cannot grow it.
class InternCache {
 public:
  explicit InternCache(Interner& interner, std::size_t capacity_pow2 = 1 << 16);
  Symbol intern(std::string_view s);
  std::optional<Symbol> try_intern(std::string_view s);  // Interner::try_intern
  Interner& interner() const { return interner_; }

 private:
  // Open addressing, linear probing: one hash, usually one probe, no
  // allocation after construction.
  struct Slot {
    std::uint64_t hash = 0;
    std::string_view text;  // views the interner's stable copy
    Symbol id = kNoSymbol;
  };
  std::optional<Symbol> lookup(std::string_view s, bool bounded);
  Interner& interner_;
  std::vector<Slot> slots_;
  std::size_t used_ = 0;
};

// Fast 64-bit hash for short strings (label names and values).
std::uint64_t hash_bytes(std::string_view s) noexcept;
// Folds `v` into `h` (FNV-1a over its 8 bytes): hashes of hashes.
std::uint64_t hash_combine(std::uint64_t h, std::uint64_t v) noexcept;

struct Label {
  Symbol name = kNoSymbol;
  Symbol value = kNoSymbol;
  friend bool operator==(const Label&, const Label&) = default;
};

// Value symbol of label `name` in `labels`, or kNoSymbol when absent.
Symbol label_value(const std::vector<Label>& labels, Symbol name) noexcept;

// A hash of the values of `names` in `labels` (absent counts as empty),
// taken over their text, not their symbols, so it is the same in every
// process: correlation group keys and shard routes.
std::uint64_t label_values_hash(const std::vector<Label>& labels, const std::vector<Symbol>& names,
                                const Interner& interner, std::uint64_t seed) noexcept;

// Annotations are free text (summaries, descriptions, values) that rarely
// repeat: names are interned, values live in the event's own text buffer so
// they never accumulate in the interner.
struct Annotation {
  Symbol name = kNoSymbol;
  std::uint32_t offset = 0;  // into Event::annotation_text
  std::uint32_t size = 0;
};

enum class EventStatus : std::uint8_t { kFiring, kResolved };
enum class EventSource : std::uint8_t { kAlertmanagerV2, kAlertmanagerWebhook, kKafka };

std::string_view to_string(EventStatus s);
std::string_view to_string(EventSource s);

using TimePoint = std::chrono::system_clock::time_point;

// Label sets are small (typically < 16); a sorted vector beats any map.
struct Event {
  EventSource source = EventSource::kAlertmanagerV2;
  EventStatus status = EventStatus::kFiring;
  std::vector<Label> labels;            // sorted by name symbol, unique names
  std::vector<Annotation> annotations;  // sorted by name symbol, unique names
  std::string annotation_text;
  TimePoint starts_at{};
  TimePoint ends_at{};  // epoch when unset
  std::string generator_url;
  std::uint64_t fingerprint = 0;

  // Value symbol of label `name`, or kNoSymbol when absent.
  Symbol label(Symbol name) const noexcept;
  // The annotation's text, or nullopt when absent.
  std::optional<std::string_view> annotation(Symbol name) const noexcept;
  void clear();
};

// A compact copy of an alert kept in correlation state and handed to actions
// as an incident member: labels only (annotations are free text and stay with
// the event that completed the condition), so state stays small per alert.
struct Member {
  std::uint64_t fingerprint = 0;
  EventStatus status = EventStatus::kFiring;
  TimePoint starts_at{};
  std::vector<Label> labels;  // sorted by name symbol, like Event::labels

  Symbol label(Symbol name) const noexcept;
  static Member of(const Event& event);
};

// Sort by name and drop empty-valued labels (absent, as in Prometheus);
// return false when a name repeats.
bool normalize_labels(std::vector<Label>& labels);
bool normalize_annotations(std::vector<Annotation>& annotations);

// Stable 64-bit fingerprint of a label set, independent of symbol ids and of
// process: FNV-1a over "name\xffvalue\xff" in byte order of names, the way
// Alertmanager derives its fingerprint from sorted label pairs.
std::uint64_t fingerprint_of(const std::vector<Label>& labels, const Interner& interner);

std::string fingerprint_hex(std::uint64_t fp);

// "2026-11-24T07:00:00.123Z": UTC, millisecond precision.
std::string format_rfc3339(TimePoint t);
void append_rfc3339(std::string& out, TimePoint t);

}  // namespace aiopsd::rules
