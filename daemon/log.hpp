#pragma once
// Structured one-line logs to stderr (journald keeps them):
//   ts=2026-11-24T07:00:00.123Z level=info comp=http msg="listening on 127.0.0.1:9095"
// Messages are escaped so a hostile label value cannot forge a log line.

#include <fmt/format.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace aiopsd::daemon {

enum class LogLevel : std::uint8_t { kDebug, kInfo, kWarn, kError };
std::string_view to_string(LogLevel level);

}  // namespace aiopsd::daemon

namespace aiopsd::daemon::log {

void set_level(LogLevel level);
bool enabled(LogLevel level);
// Replaces the stderr sink (tests); nullptr restores it.
void set_sink(std::function<void(std::string_view line)> sink);
void write(LogLevel level, std::string_view component, std::string_view message);

template <typename... Args>
void debug(std::string_view comp, fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(LogLevel::kDebug))
    write(LogLevel::kDebug, comp, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void info(std::string_view comp, fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(LogLevel::kInfo))
    write(LogLevel::kInfo, comp, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void warn(std::string_view comp, fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(LogLevel::kWarn))
    write(LogLevel::kWarn, comp, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void error(std::string_view comp, fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(LogLevel::kError))
    write(LogLevel::kError, comp, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace aiopsd::daemon::log
