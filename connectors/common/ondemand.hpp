#pragma once
// Shared by the connectors' simdjson ondemand decoders: consuming a value
// they do not read while still checking it is well-formed JSON, finding the
// end of a document, and quoting an offending value in an error message.

#include <fmt/format.h>
#include <simdjson.h>

#include <cstddef>
#include <string>
#include <string_view>

namespace aiopsd::json {

// What every decoder shares: the deepest nesting walked inside ignored values
// (deeper documents are rejected, the walk that validates them is recursive),
// the longest excerpt of an offending value quoted in an error, and the code
// of a body that is not JSON.
inline constexpr int kMaxDepth = 64;
inline constexpr std::size_t kMaxQuoted = 64;
inline constexpr std::string_view kInvalidJson = "invalid_json";

// Consumes any value, checking it is well-formed JSON (ondemand is lazy: a
// value that is never read is never validated), at most `max_depth` levels deep.
inline simdjson::error_code validating_skip(simdjson::ondemand::value v, int max_depth,
                                            int depth = 0) {
  namespace od = simdjson::ondemand;
  using simdjson::SUCCESS;
  if (depth > max_depth) return simdjson::DEPTH_ERROR;
  od::json_type t;
  if (auto e = v.type().get(t)) return e;
  switch (t) {
    case od::json_type::array: {
      od::array a;
      if (auto e = v.get_array().get(a)) return e;
      for (auto el : a) {
        od::value x;
        if (auto e = el.get(x)) return e;
        if (auto e = validating_skip(x, max_depth, depth + 1)) return e;
      }
      return SUCCESS;
    }
    case od::json_type::object: {
      od::object o;
      if (auto e = v.get_object().get(o)) return e;
      for (auto f : o) {
        od::field fl;
        if (auto e = std::move(f).get(fl)) return e;
        std::string_view key;
        if (auto e = fl.unescaped_key().get(key)) return e;
        if (auto e = validating_skip(fl.value(), max_depth, depth + 1)) return e;
      }
      return SUCCESS;
    }
    case od::json_type::number: {
      double d;
      return v.get_double().get(d);
    }
    case od::json_type::string: {
      std::string_view s;
      return v.get_string().get(s);
    }
    case od::json_type::boolean: {
      bool b;
      return v.get_bool().get(b);
    }
    case od::json_type::null: {
      bool n = false;
      if (auto e = v.is_null().get(n)) return e;
      return n ? SUCCESS : simdjson::N_ATOM_ERROR;
    }
  }
  return simdjson::INCORRECT_TYPE;
}

// simdjson 3.0.1's document has no at_end(); past the last token
// current_location() reports OUT_OF_BOUNDS.
inline bool at_end(simdjson::ondemand::document& doc) noexcept {
  const char* loc = nullptr;
  return doc.current_location().get(loc) == simdjson::OUT_OF_BOUNDS;
}

// A value quoted and escaped for an error message; at most `max_bytes` shown,
// cut on a UTF-8 character boundary and marked "...".
inline std::string quote(std::string_view s, std::size_t max_bytes = kMaxQuoted) {
  if (s.size() <= max_bytes) return fmt::format("{:?}", s);
  std::size_t n = max_bytes;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return fmt::format("{:?}...", s.substr(0, n));
}

}  // namespace aiopsd::json
