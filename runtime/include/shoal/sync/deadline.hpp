#pragma once
/// \file
/// How the thread-side primitives turn a timeout into a deadline (internal to shoal).
/// Every timeout is a std::chrono duration of any representation; one too large to
/// represent (years, `duration<double>::max()`) saturates and means "no deadline", where
/// Python raises OverflowError past threading.TIMEOUT_MAX.

#include <chrono>
#include <cmath>

namespace shoal::detail {

/// The clock of every deadline: steady_clock, which is CLOCK_MONOTONIC on Linux.
using SteadyClock = std::chrono::steady_clock;

/// `d` in nanoseconds, saturated to the range of std::chrono::nanoseconds (NaN is zero).
template <typename Rep, typename Period>
constexpr std::chrono::nanoseconds saturate_ns(std::chrono::duration<Rep, Period> d) noexcept {
  using Wide = std::chrono::duration<long double, std::nano>;
  const long double x = std::chrono::duration_cast<Wide>(d).count();
  if (std::isnan(x)) return std::chrono::nanoseconds::zero();
  if (x >= static_cast<long double>(std::chrono::nanoseconds::max().count()))
    return std::chrono::nanoseconds::max();
  if (x <= static_cast<long double>(std::chrono::nanoseconds::min().count()))
    return std::chrono::nanoseconds::min();
  return std::chrono::nanoseconds(static_cast<std::chrono::nanoseconds::rep>(x));
}

/// now + timeout: a timeout at or below zero is "now" (poll once); one past the clock's
/// range is time_point::max(), which the waits read as "no deadline".
inline SteadyClock::time_point deadline_after(std::chrono::nanoseconds timeout) noexcept {
  const auto now = SteadyClock::now();
  if (timeout <= std::chrono::nanoseconds::zero()) return now;
  if (timeout >= SteadyClock::time_point::max() - now) return SteadyClock::time_point::max();
  return now + std::chrono::duration_cast<SteadyClock::duration>(timeout);
}

/// deadline_after() for any duration.
template <typename Rep, typename Period>
SteadyClock::time_point deadline_after(std::chrono::duration<Rep, Period> timeout) noexcept {
  return deadline_after(saturate_ns(timeout));
}

/// True when the duration is below zero (NaN counts as zero, not negative).
template <typename Rep, typename Period>
constexpr bool is_negative(std::chrono::duration<Rep, Period> d) noexcept {
  return d < std::chrono::duration<Rep, Period>::zero();
}

}  // namespace shoal::detail
