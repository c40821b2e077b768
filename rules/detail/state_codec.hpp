#pragma once
// The engine changelog's value encoding: fixed-width little-endian integers
// and length-prefixed strings, bounds-checked on read (a truncated or foreign
// record reads as not ok, never out of bounds). Label values travel as text,
// never as process-local symbols.

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "rules/event.hpp"

namespace aiopsd::rules::detail {

class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) { out_.clear(); }
  void u8(std::uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void u64(std::uint64_t v) {
    char b[8];
    std::memcpy(b, &v, 8);
    out_.append(b, 8);
  }
  void time(TimePoint t) { u64(static_cast<std::uint64_t>(t.time_since_epoch().count())); }
  void str(std::string_view s) {
    u64(s.size());
    out_.append(s);
  }

 private:
  std::string& out_;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool ok() const { return ok_; }
  bool done() const { return in_.empty(); }
  std::uint8_t u8() {
    if (!need(1)) return 0;
    auto v = static_cast<std::uint8_t>(in_[0]);
    in_.remove_prefix(1);
    return v;
  }
  std::uint64_t u64() {
    if (!need(8)) return 0;
    std::uint64_t v = 0;
    std::memcpy(&v, in_.data(), 8);
    in_.remove_prefix(8);
    return v;
  }
  TimePoint time() { return TimePoint{TimePoint::duration{static_cast<std::int64_t>(u64())}}; }
  std::string_view str() {
    std::uint64_t n = u64();
    if (!need(n)) return {};
    std::string_view v = in_.substr(0, n);
    in_.remove_prefix(n);
    return v;
  }

 private:
  bool need(std::uint64_t n) {
    if (in_.size() < n) ok_ = false;
    return ok_;
  }
  std::string_view in_;
  bool ok_ = true;
};

}  // namespace aiopsd::rules::detail
