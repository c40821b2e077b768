#pragma once
// Splits one fuzzer input into fields, for targets that need more than one
// string (the render target: a template, patterns, a policy, label values).
//
// Format: fields are separated by a backslash followed by any byte other than
// a backslash; "\\" stands for one backslash. Every byte value can appear in a
// field, and a seed stays readable ("show {{ labels.x }}\n" "[0-9]+\n" ...):
// the same convention as libFuzzer's FuzzedDataProvider::ConsumeRandomLengthString,
// without depending on its header (the gcc smoke build has no compiler-rt).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace aiopsd::fuzz {

class FieldReader {
 public:
  FieldReader(const std::uint8_t* data, std::size_t size)
      : data_(reinterpret_cast<const char*>(data), size) {}

  bool empty() const { return pos_ >= data_.size(); }

  // The next field, at most `max_bytes` long (the rest of an over-long field
  // is skipped); "" once the input is used up.
  std::string next(std::size_t max_bytes = 4096) {
    std::string out;
    while (pos_ < data_.size()) {
      char c = data_[pos_++];
      if (c == '\\' && pos_ < data_.size()) {
        char n = data_[pos_++];
        if (n != '\\') break;  // end of field
      }
      if (out.size() < max_bytes) out.push_back(c);
    }
    return out;
  }

  // One byte, 0 once the input is used up.
  std::uint8_t byte() { return pos_ < data_.size() ? static_cast<std::uint8_t>(data_[pos_++]) : 0; }

 private:
  std::string_view data_;
  std::size_t pos_ = 0;
};

}  // namespace aiopsd::fuzz
