#include "shoal/link/clock.hpp"

#include <unistd.h>

#include <atomic>
#include <chrono>

namespace shoal::link {

const std::string& this_host() {
  static const std::string host = [] {
    char name[256] = {};
    if (gethostname(name, sizeof name - 1) != 0) return std::string("unknown");
    return std::string(name);
  }();
  return host;
}

namespace {
std::atomic<ClockSource*> g_source{nullptr};
}  // namespace

void set_clock_source(ClockSource* source) noexcept { g_source.store(source, std::memory_order_release); }

ClockSource* clock_source() noexcept { return g_source.load(std::memory_order_acquire); }

std::uint64_t steady_ns() noexcept {
  if (auto* s = clock_source()) return s->steady_ns();
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count());
}

std::uint64_t wall_ns() noexcept {
  if (auto* s = clock_source()) return s->wall_ns();
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
}

}  // namespace shoal::link
