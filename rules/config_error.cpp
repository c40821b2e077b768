#include "rules/config_error.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>

namespace aiopsd::rules {

std::string ConfigError::to_string() const {
  std::string out = file;
  if (line > 0) out += fmt::format(":{}:{}", line, column);
  if (!out.empty()) out += ": ";
  if (!path.empty()) out += fmt::format("{}: ", path);
  out += message;
  return out;
}

void ConfigErrors::add(const YAML::Mark& at, std::string_view path, std::string message) {
  ConfigError e{file_, 0, 0, std::string(path), std::move(message)};
  if (!at.is_null()) {
    e.line = at.line + 1;
    e.column = at.column + 1;
  }
  errors_.push_back(std::move(e));
}

void ConfigErrors::add(const YAML::Node& at, std::string_view path, std::string message) {
  add(at.IsDefined() ? at.Mark() : YAML::Mark::null_mark(), path, std::move(message));
}

void ConfigErrors::add_unlocated(std::string_view path, std::string message) {
  errors_.push_back(ConfigError{file_, 0, 0, std::string(path), std::move(message)});
}

void ConfigErrors::append(const ConfigErrors& other) {
  errors_.insert(errors_.end(), other.errors_.begin(), other.errors_.end());
}

std::string ConfigErrors::to_string() const {
  std::string out;
  for (const auto& e : errors_) {
    out += e.to_string();
    out += '\n';
  }
  return out;
}

namespace {

// Longest duration any window, throttle or timeout may have. Far beyond any
// real use, and far inside the range of the engine's nanosecond time points,
// so `now + window` can never overflow.
constexpr std::uint64_t kMaxDurationMs = 3650ULL * 24 * 3600 * 1000;  // ten years
// Largest size any limit may have.
constexpr std::uint64_t kMaxSizeBytes = 1ULL << 40;  // 1 TiB

std::optional<std::uint64_t> duration_unit_ms(std::string_view unit) {
  if (unit == "ms") return 1;
  if (unit == "s") return 1000;
  if (unit == "m") return 60'000;
  if (unit == "h") return 3'600'000;
  if (unit == "d") return 86'400'000;
  return std::nullopt;
}

std::optional<std::uint64_t> size_unit_bytes(std::string_view unit) {
  if (unit.empty() || unit == "B") return 1;
  if (unit == "KiB") return 1ULL << 10;
  if (unit == "MiB") return 1ULL << 20;
  if (unit == "GiB") return 1ULL << 30;
  if (unit == "KB") return 1000;
  if (unit == "MB") return 1000 * 1000;
  return std::nullopt;
}

// Reads the digits at text[i...]; nullopt when there are none or the number
// exceeds `limit` (checked before it can wrap).
std::optional<std::uint64_t> read_number(std::string_view text, std::size_t& i,
                                         std::uint64_t limit) {
  const std::size_t start = i;
  std::uint64_t n = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
    n = n * 10 + static_cast<std::uint64_t>(text[i] - '0');
    if (n > limit) return std::nullopt;
    ++i;
  }
  if (i == start) return std::nullopt;
  return n;
}

}  // namespace

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
  if (text.empty()) return std::nullopt;
  if (text == "0") return std::chrono::milliseconds{0};
  std::uint64_t total = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    auto n = read_number(text, i, 1'000'000'000ULL);
    if (!n) return std::nullopt;
    const std::size_t u = i;
    while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
    auto unit = duration_unit_ms(text.substr(u, i - u));
    if (!unit) return std::nullopt;
    // n <= 1e9 and unit <= 8.64e7: the product fits in 64 bits.
    total += *n * *unit;
    if (total > kMaxDurationMs) return std::nullopt;
  }
  return std::chrono::milliseconds{static_cast<std::chrono::milliseconds::rep>(total)};
}

std::optional<std::uint64_t> parse_size(std::string_view text) {
  std::size_t i = 0;
  auto n = read_number(text, i, kMaxSizeBytes);
  if (!n) return std::nullopt;
  auto unit = size_unit_bytes(text.substr(i));
  if (!unit || *n > kMaxSizeBytes / *unit) return std::nullopt;
  return *n * *unit;
}

YamlMap::YamlMap(const YAML::Node& node, std::string path, ConfigErrors& errors,
                 std::initializer_list<std::string_view> allowed_keys)
    : node_(node), path_(std::move(path)), errors_(errors) {
  if (!node_.IsMap()) {
    errors_.add(node_, path_, "expected a mapping");
    valid_ = false;
    return;
  }
  for (auto it = node_.begin(); it != node_.end(); ++it) {
    const auto key = it->first.as<std::string>("");
    if (std::find(allowed_keys.begin(), allowed_keys.end(), key) == allowed_keys.end()) {
      errors_.add(it->first, child_path(key), "unknown field");
    }
  }
}

bool YamlMap::has(std::string_view key) const {
  return valid_ && node_[std::string(key)].IsDefined() && !node_[std::string(key)].IsNull();
}

YAML::Node YamlMap::node(std::string_view key) const {
  if (!valid_) return YAML::Node(YAML::NodeType::Undefined);
  return node_[std::string(key)];
}

std::string YamlMap::child_path(std::string_view key) const {
  return path_.empty() ? std::string(key) : fmt::format("{}.{}", path_, key);
}

std::optional<std::string> YamlMap::string(std::string_view key, bool required) const {
  if (!has(key)) {
    if (required && valid_) errors_.add(node_, child_path(key), "missing required field");
    return std::nullopt;
  }
  YAML::Node n = node(key);
  if (!n.IsScalar()) {
    errors_.add(n, child_path(key), "expected a string");
    return std::nullopt;
  }
  return n.Scalar();
}

std::optional<bool> YamlMap::boolean(std::string_view key) const {
  if (!has(key)) return std::nullopt;
  YAML::Node n = node(key);
  const std::string& s = n.IsScalar() ? n.Scalar() : std::string();
  if (s == "true") return true;
  if (s == "false") return false;
  errors_.add(n, child_path(key), "expected true or false");
  return std::nullopt;
}

std::optional<std::int64_t> YamlMap::integer(std::string_view key, std::int64_t min,
                                             std::int64_t max) const {
  if (!has(key)) return std::nullopt;
  YAML::Node n = node(key);
  std::int64_t v = 0;
  if (!n.IsScalar() || !YAML::convert<std::int64_t>::decode(n, v)) {
    errors_.add(n, child_path(key), "expected an integer");
    return std::nullopt;
  }
  if (v < min || v > max) {
    errors_.add(n, child_path(key), fmt::format("{} is out of range [{}, {}]", v, min, max));
    return std::nullopt;
  }
  return v;
}

std::optional<std::chrono::milliseconds> YamlMap::duration(std::string_view key) const {
  auto s = string(key);
  if (!s) return std::nullopt;
  auto d = parse_duration(*s);
  if (!d) {
    errors_.add(node(key), child_path(key),
                fmt::format("invalid duration '{}' (expected e.g. 500ms, 30s, 5m, 1h)", *s));
  }
  return d;
}

std::optional<std::uint64_t> YamlMap::size(std::string_view key) const {
  auto s = string(key);
  if (!s) return std::nullopt;
  auto v = parse_size(*s);
  if (!v) {
    errors_.add(node(key), child_path(key),
                fmt::format("invalid size '{}' (expected e.g. 4096, 256KiB, 4MiB)", *s));
  }
  return v;
}

std::vector<std::string> YamlMap::string_list(std::string_view key) const {
  std::vector<std::string> out;
  if (!has(key)) return out;
  YAML::Node n = node(key);
  if (!n.IsSequence()) {
    errors_.add(n, child_path(key), "expected a list of strings");
    return out;
  }
  for (std::size_t i = 0; i < n.size(); ++i) {
    if (!n[i].IsScalar()) {
      errors_.add(n[i], fmt::format("{}[{}]", child_path(key), i), "expected a string");
      continue;
    }
    out.push_back(n[i].Scalar());
  }
  return out;
}

std::optional<YAML::Node> load_yaml_file(const std::string& path, ConfigErrors& errors) {
  std::ifstream in(path);
  if (!in) {
    errors.add_unlocated("", "cannot open file");
    return std::nullopt;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  try {
    return YAML::Load(ss.str());
  } catch (const YAML::Exception& e) {
    errors.add(e.mark, "", fmt::format("YAML syntax error: {}", e.msg));
    return std::nullopt;
  }
}

}  // namespace aiopsd::rules
