#include "daemon/log.hpp"

#include "rules/event.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace aiopsd::daemon {

std::string_view to_string(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

}  // namespace aiopsd::daemon

namespace aiopsd::daemon::log {

namespace {
std::atomic<LogLevel> g_level{LogLevel::kInfo};
std::mutex g_mu;
std::function<void(std::string_view)> g_sink;

std::string escape(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c < 0x20 || c == 0x7f) {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

}  // namespace

void set_level(LogLevel level) { g_level = level; }
bool enabled(LogLevel level) { return level >= g_level.load(); }

void set_sink(std::function<void(std::string_view)> sink) {
  std::lock_guard lock(g_mu);
  g_sink = std::move(sink);
}

void write(LogLevel level, std::string_view component, std::string_view message) {
  std::string line = fmt::format("ts={} level={} comp={} msg=\"{}\"\n",
                                 rules::format_rfc3339(std::chrono::system_clock::now()),
                                 to_string(level), component, escape(message));
  std::lock_guard lock(g_mu);
  if (g_sink) {
    g_sink(line);
  } else {
    std::fwrite(line.data(), 1, line.size(), stderr);
  }
}

}  // namespace aiopsd::daemon::log
