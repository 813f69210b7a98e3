// The daemons' log (log.hpp), on spdlog (Debian's libspdlog-dev): its stderr sink, level
// filter and locking are well tested; the line's shape (text, or JSON that stays valid
// whatever a message holds) is ours.

#include "shoal/link/log.hpp"

#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "json_text.hpp"
#include "shoal/core/error.hpp"

namespace shoal::link::log {

namespace {

std::atomic<int> g_level{static_cast<int>(Level::info)};
using Tap = std::pair<std::uint64_t, std::function<void(std::string_view)>>;
std::mutex g_tap_mu;
std::shared_ptr<const std::vector<Tap>> g_taps;  // guarded by g_tap_mu; replaced, never changed
std::uint64_t g_next_tap = 0;                    // guarded by g_tap_mu
std::atomic<bool> g_tapped{false};
std::atomic<int> g_format{static_cast<int>(Format::text)};

// Descriptor 2 itself, not the `stderr` FILE: a worker replaces that FILE to capture what
// tasks print (worker/src/capture.hpp), and its log must not pass through (nor wait on the
// lock of) a stream a task's printf holds.
class StderrFdSink final : public spdlog::sinks::base_sink<std::mutex> {
 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t buf;
    formatter_->format(msg, buf);
    const char* p = buf.data();
    std::size_t n = buf.size();
    tap(std::string_view(p, n));
    while (n > 0) {
      auto w = ::write(2, p, n);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) return;
      p += w;
      n -= static_cast<std::size_t>(w);
    }
  }
  void flush_() override {}
};

// The logger: lines passed through as we format them. Made on first use (a daemon's
// flags may come before or after), never destroyed (lines may come from static
// destructors' threads).
spdlog::logger& logger() {
  static spdlog::logger* l = [] {
    auto sink = std::make_shared<StderrFdSink>();
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

}  // namespace

std::uint64_t add_tap(std::function<void(std::string_view)> fn) {
  std::lock_guard lock(g_tap_mu);
  auto taps = g_taps ? std::make_shared<std::vector<Tap>>(*g_taps) : std::make_shared<std::vector<Tap>>();
  auto id = ++g_next_tap;
  taps->emplace_back(id, std::move(fn));
  g_taps = std::move(taps);
  g_tapped.store(true);
  return id;
}

void remove_tap(std::uint64_t id) {
  std::lock_guard lock(g_tap_mu);
  if (!g_taps) return;
  auto taps = std::make_shared<std::vector<Tap>>();
  for (const auto& t : *g_taps)
    if (t.first != id) taps->push_back(t);
  g_tapped.store(!taps->empty());
  g_taps = taps->empty() ? nullptr : std::shared_ptr<const std::vector<Tap>>(std::move(taps));
}

void tap(std::string_view data) noexcept {
  if (!g_tapped.load(std::memory_order_relaxed) || data.empty()) return;
  std::shared_ptr<const std::vector<Tap>> taps;
  {
    std::lock_guard lock(g_tap_mu);
    taps = g_taps;
  }
  if (!taps) return;
  for (const auto& [id, fn] : *taps) try {
      fn(data);
    } catch (...) {
      // A follower's copy is not worth the write it copies.
    }
}

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
      detail::append_json_string(line, who);
      // As text: ids pass 2^53, past what a double (JavaScript, jq) holds exactly.
      if (task) line += ",\"task\":\"" + std::to_string(task) + "\"";
      line += ",\"msg\":";
      detail::append_json_string(line, message);
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
