#pragma once
// A streaming JSON writer into a caller-owned string, for the documents the
// daemon emits per event (results, audit records): building a Boost.JSON
// object tree for each one cost more than deciding what to run.
//
// Strings are escaped per RFC 8259; bytes that are not valid UTF-8 become
// U+FFFD, so every document parses anywhere. Keys are trusted literals.

#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

namespace aiopsd::daemon::detail {

class JsonWriter {
 public:
  explicit JsonWriter(std::string& out) : out_(out) {}

  JsonWriter& begin_object() { return open('{'); }
  JsonWriter& end_object() { return close('}'); }
  JsonWriter& begin_array() { return open('['); }
  JsonWriter& end_array() { return close(']'); }
  JsonWriter& key(std::string_view k);
  JsonWriter& value(std::string_view s);
  JsonWriter& value(const char* s) { return value(std::string_view(s)); }
  JsonWriter& value(std::int64_t v);
  JsonWriter& value(bool b);
  JsonWriter& null();
  // An already serialized JSON value, inserted as is.
  JsonWriter& raw(std::string_view json);

  template <typename T>
  JsonWriter& field(std::string_view k, const T& v) {
    key(k);
    if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
      return value(static_cast<std::int64_t>(v));
    } else {
      return value(v);
    }
  }

 private:
  JsonWriter& open(char c);
  JsonWriter& close(char c);
  void separate();

  std::string& out_;
  std::uint64_t has_items_ = 0;  // bit d: the container at depth d has an item
  int depth_ = 0;
  bool after_key_ = false;
};

// Appends `s` as a quoted, escaped JSON string.
void append_json_string(std::string& out, std::string_view s);

}  // namespace aiopsd::daemon::detail
