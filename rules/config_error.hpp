#pragma once
// Located configuration errors and a strict YAML reader that collects every
// error (file:line:col: path: message) instead of stopping at the first.

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace aiopsd::rules {

struct ConfigError {
  std::string file;
  int line = 0;  // 1-based; 0 when unknown
  int column = 0;
  std::string path;  // rules[3].match.severity
  std::string message;
  std::string to_string() const;
};

class ConfigErrors {
 public:
  explicit ConfigErrors(std::string file = {}) : file_(std::move(file)) {}
  void add(const YAML::Node& at, std::string_view path, std::string message);
  void add(const YAML::Mark& at, std::string_view path, std::string message);
  void add_unlocated(std::string_view path, std::string message);
  void add(ConfigError e) { errors_.push_back(std::move(e)); }
  void set_file(std::string file) { file_ = std::move(file); }
  const std::string& file() const { return file_; }
  bool empty() const { return errors_.empty(); }
  const std::vector<ConfigError>& all() const { return errors_; }
  void append(const ConfigErrors& other);
  std::string to_string() const;  // one error per line

 private:
  std::string file_;
  std::vector<ConfigError> errors_;
};

// "100ms", "30s", "5m", "1h30m", "7d". Returns nullopt on bad syntax or
// beyond ten years (so `now + d` cannot overflow the engine's clock).
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);
// "4096", "256KiB", "4MiB", "1GiB", "64KB". Returns nullopt on bad syntax or
// beyond 1TiB.
std::optional<std::uint64_t> parse_size(std::string_view text);

// Strict view of one YAML mapping: unknown keys are reported, each getter
// reports a type error at the value's position and returns a fallback.
class YamlMap {
 public:
  YamlMap(const YAML::Node& node, std::string path, ConfigErrors& errors,
          std::initializer_list<std::string_view> allowed_keys);

  bool valid() const { return valid_; }
  bool has(std::string_view key) const;
  YAML::Node node(std::string_view key) const;
  std::string child_path(std::string_view key) const;
  const std::string& path() const { return path_; }
  ConfigErrors& errors() const { return errors_; }

  std::optional<std::string> string(std::string_view key, bool required = false) const;
  std::optional<bool> boolean(std::string_view key) const;
  std::optional<std::int64_t> integer(std::string_view key, std::int64_t min,
                                      std::int64_t max) const;
  std::optional<std::chrono::milliseconds> duration(std::string_view key) const;
  std::optional<std::uint64_t> size(std::string_view key) const;
  std::vector<std::string> string_list(std::string_view key) const;

 private:
  YAML::Node node_;
  std::string path_;
  ConfigErrors& errors_;
  bool valid_ = true;
};

// Loads a YAML file; a syntax error is reported located and returns nullopt.
std::optional<YAML::Node> load_yaml_file(const std::string& path, ConfigErrors& errors);

}  // namespace aiopsd::rules
