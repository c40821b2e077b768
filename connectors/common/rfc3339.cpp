#include "connectors/common/rfc3339.hpp"

#include <chrono>
#include <cstdint>

namespace aiopsd::wire {

namespace {

// Reads exactly `n` decimal digits at s[pos]; advances pos.
bool digits(std::string_view s, std::size_t& pos, int n, int& value) noexcept {
  if (pos + static_cast<std::size_t>(n) > s.size()) return false;
  int v = 0;
  for (int i = 0; i < n; ++i) {
    const char c = s[pos + static_cast<std::size_t>(i)];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  pos += static_cast<std::size_t>(n);
  value = v;
  return true;
}

bool expect(std::string_view s, std::size_t& pos, char c) noexcept {
  if (pos >= s.size() || s[pos] != c) return false;
  ++pos;
  return true;
}

}  // namespace

TimestampParse parse_rfc3339(std::string_view s, rules::TimePoint& out) noexcept {
  using namespace std::chrono;
  out = rules::TimePoint{};
  std::size_t pos = 0;
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
  if (!digits(s, pos, 4, y) || !expect(s, pos, '-') || !digits(s, pos, 2, mo) ||
      !expect(s, pos, '-') || !digits(s, pos, 2, d)) {
    return TimestampParse::kInvalid;
  }
  if (pos >= s.size() || (s[pos] != 'T' && s[pos] != 't')) return TimestampParse::kInvalid;
  ++pos;
  if (!digits(s, pos, 2, h) || !expect(s, pos, ':') || !digits(s, pos, 2, mi) ||
      !expect(s, pos, ':') || !digits(s, pos, 2, sec)) {
    return TimestampParse::kInvalid;
  }
  if (h > 23 || mi > 59 || sec > 59) return TimestampParse::kInvalid;

  std::int64_t nanos = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    int n = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (n < 9) {
        nanos = nanos * 10 + (s[pos] - '0');
      }
      ++n;
      ++pos;
    }
    if (n == 0) return TimestampParse::kInvalid;
    for (int i = n; i < 9; ++i) nanos *= 10;
  }

  int offset_seconds = 0;
  if (pos >= s.size()) return TimestampParse::kInvalid;
  if (s[pos] == 'Z' || s[pos] == 'z') {
    ++pos;
  } else if (s[pos] == '+' || s[pos] == '-') {
    const int sign = s[pos] == '-' ? -1 : 1;
    ++pos;
    int oh = 0, om = 0;
    if (!digits(s, pos, 2, oh) || !expect(s, pos, ':') || !digits(s, pos, 2, om)) {
      return TimestampParse::kInvalid;
    }
    if (oh > 23 || om > 59) return TimestampParse::kInvalid;
    offset_seconds = sign * (oh * 3600 + om * 60);
  } else {
    return TimestampParse::kInvalid;
  }
  if (pos != s.size()) return TimestampParse::kInvalid;

  const year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)},
                           day{static_cast<unsigned>(d)}};
  if (!ymd.ok()) return TimestampParse::kInvalid;

  const std::int64_t days = sys_days{ymd}.time_since_epoch().count();
  const std::int64_t secs = days * 86400 + std::int64_t{h} * 3600 + std::int64_t{mi} * 60 + sec -
                            static_cast<std::int64_t>(offset_seconds);

  constexpr std::int64_t kZeroTime = -62135596800;  // 0001-01-01T00:00:00Z
  if (secs == kZeroTime && nanos == 0) return TimestampParse::kZero;

  // Keep a second of margin on both ends so adding the fraction cannot overflow.
  constexpr std::int64_t kMaxSecs =
      duration_cast<seconds>(rules::TimePoint::duration::max()).count() - 1;
  if (secs > kMaxSecs) {
    out = rules::TimePoint::max();
    return TimestampParse::kClamped;
  }
  if (secs < -kMaxSecs) {
    out = rules::TimePoint::min();
    return TimestampParse::kClamped;
  }

  out = rules::TimePoint{duration_cast<rules::TimePoint::duration>(seconds{secs}) +
                         duration_cast<rules::TimePoint::duration>(nanoseconds{nanos})};
  return TimestampParse::kOk;
}

}  // namespace aiopsd::wire
