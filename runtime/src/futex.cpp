#include "futex.hpp"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>

namespace shoal::detail {

bool futex_wait(std::atomic<std::uint32_t>* word, std::uint32_t expected,
                SteadyClock::time_point deadline) noexcept {
  timespec ts{};
  timespec* abs = nullptr;
  if (deadline != SteadyClock::time_point::max()) {
    // steady_clock is CLOCK_MONOTONIC, the clock FUTEX_WAIT_BITSET measures an absolute
    // timeout on (without FUTEX_CLOCK_REALTIME).
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(deadline.time_since_epoch()).count();
    if (ns < 0) ns = 0;
    ts.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
    ts.tv_nsec = static_cast<long>(ns % 1'000'000'000);
    abs = &ts;
  }
  const int saved = errno;
  const long rc = ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(word),
                            FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG, expected, abs, nullptr,
                            FUTEX_BITSET_MATCH_ANY);
  const bool timed_out = rc == -1 && errno == ETIMEDOUT;
  errno = saved;
  return !timed_out;
}

void futex_wake(std::atomic<std::uint32_t>* word, int n) noexcept {
  const int saved = errno;
  ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(word), FUTEX_WAKE | FUTEX_PRIVATE_FLAG, n,
            nullptr, nullptr, 0);
  errno = saved;
}

}  // namespace shoal::detail
