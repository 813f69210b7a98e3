#pragma once
/// \file
/// The engines' timers, on the clock steady_ns() reads (link/clock.hpp): the machine's
/// steady clock, or a simulation's virtual one.

#include <asio/basic_waitable_timer.hpp>

#include <chrono>
#include <cstdint>

#include "shoal/link/clock.hpp"

namespace shoal::link {

/// A steady clock whose now() is steady_ns().
struct EngineClock {
  using rep = std::int64_t;
  using period = std::nano;
  using duration = std::chrono::nanoseconds;
  using time_point = std::chrono::time_point<EngineClock>;
  static constexpr bool is_steady = true;
  [[nodiscard]] static time_point now() noexcept { return time_point(duration(static_cast<rep>(steady_ns()))); }
};

/// asio's wait traits, telling an installed ClockSource when the earliest timer is due.
struct EngineWaitTraits {
  static EngineClock::duration to_wait_duration(const EngineClock::duration& d) {
    if (auto* s = clock_source()) s->timer_due_in(d.count());
    return d;
  }
  static EngineClock::duration to_wait_duration(const EngineClock::time_point& t) {
    return to_wait_duration(t - EngineClock::now());
  }
};

/// asio::steady_timer on EngineClock.
using Timer = asio::basic_waitable_timer<EngineClock, EngineWaitTraits>;

/// Under a virtual clock: makes the executor's next poll() run every timer that is due.
/// (asio sleeps on a timerfd armed with the time to its earliest timer on the machine's
/// clock; virtual time moves when the simulation says, so it arms that timerfd to fire at
/// once with a timer due at the clock's start.) `kicker` is a timer the caller keeps.
void kick_timers(Timer& kicker);

}  // namespace shoal::link
