#include "shoal/link/clock.hpp"

#include <unistd.h>

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

std::uint64_t steady_ns() noexcept {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count());
}

std::uint64_t wall_ns() noexcept {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
}

}  // namespace shoal::link
