// The daemons' log (log.hpp), on spdlog (Debian's libspdlog-dev): its stderr sink, level
// filter and locking are well tested; the line's shape (text, or JSON that stays valid
// whatever a message holds) is ours.

#include "shoal/link/log.hpp"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <memory>
#include <mutex>

#include "shoal/core/error.hpp"

namespace shoal::link::log {

namespace {

std::atomic<int> g_level{static_cast<int>(Level::info)};
std::atomic<int> g_format{static_cast<int>(Format::text)};

// The logger: stderr, unbuffered, lines passed through as we format them. Made on first
// use (a daemon's flags may come before or after), never destroyed (lines may come from
// static destructors' threads).
spdlog::logger& logger() {
  static spdlog::logger* l = [] {
    auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    auto* made = new spdlog::logger("shoal", std::move(sink));
    made->set_pattern("%v");
    made->set_level(spdlog::level::trace);  // filtered here, by g_level
    made->flush_on(spdlog::level::trace);
    return made;
  }();
  return *l;
}

const char* name(Level l) {
  switch (l) {
    case Level::trace: return "trace";
    case Level::debug: return "debug";
    case Level::info: return "info";
    case Level::warn: return "warn";
    case Level::error: return "error";
    case Level::off: return "off";
  }
  return "info";
}

spdlog::level::level_enum to_spdlog(Level l) {
  switch (l) {
    case Level::trace: return spdlog::level::trace;
    case Level::debug: return spdlog::level::debug;
    case Level::info: return spdlog::level::info;
    case Level::warn: return spdlog::level::warn;
    case Level::error: return spdlog::level::err;
    case Level::off: return spdlog::level::off;
  }
  return spdlog::level::info;
}

// "2026-12-07T04:50:00.123Z"
std::string timestamp() {
  auto now = std::chrono::system_clock::now();
  auto secs = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char buf[96];  // room for any int the format could print (the compiler checks)
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return buf;
}

// A JSON string of `s`: escaped, and valid UTF-8 (a byte that is not becomes U+FFFD).
void json_string(std::string& out, std::string_view s) {
  out += '"';
  for (std::size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      std::size_t n = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c <= 0xDF ? 2 : 0;
      bool ok = n && i + n <= s.size();
      for (std::size_t k = 1; ok && k < n; ++k) ok = (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
      if (ok) {
        out.append(s.substr(i, n));
        i += n - 1;
      } else {
        out += "\\ufffd";
      }
      continue;
    }
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

}  // namespace

void configure(const Options& options) {
  g_level.store(static_cast<int>(options.level));
  g_format.store(static_cast<int>(options.format));
}

bool enabled(Level level) noexcept {
  return level != Level::off && static_cast<int>(level) >= g_level.load(std::memory_order_relaxed);
}

void write(Level level, std::string_view who, std::string_view message, std::uint64_t task) noexcept {
  if (!enabled(level)) return;
  try {
    std::string line;
    if (static_cast<Format>(g_format.load(std::memory_order_relaxed)) == Format::json) {
      line = "{\"time\":\"" + timestamp() + "\",\"level\":\"" + name(level) + "\",\"daemon\":";
      json_string(line, who);
      if (task) line += ",\"task\":" + std::to_string(task);
      line += ",\"msg\":";
      json_string(line, message);
      line += '}';
    } else {
      line = timestamp() + " " + name(level) + " ";
      line += who;
      line += ": ";
      if (task) line += "task=" + std::to_string(task) + " ";
      line += message;
    }
    logger().log(to_spdlog(level), "{}", line);
  } catch (...) {
    // Out of memory or a closed stderr: the log is not worth the daemon.
  }
}

Level parse_level(std::string_view text) {
  for (auto l : {Level::trace, Level::debug, Level::info, Level::warn, Level::error, Level::off})
    if (text == name(l)) return l;
  throw ValueError("log level '" + std::string(text) + "': expected trace, debug, info, warn, error or off");
}

Format parse_format(std::string_view text) {
  if (text == "text") return Format::text;
  if (text == "json") return Format::json;
  throw ValueError("log format '" + std::string(text) + "': expected text or json");
}

}  // namespace shoal::link::log
