#include "shoal/link/timer.hpp"

namespace shoal::link {

void kick_timers(Timer& kicker) {
  // Due at the clock's start: the earliest of the executor's timers whatever else waits,
  // so asio arms its timerfd to fire at once and the next poll() looks at every timer.
  kicker.expires_at(EngineClock::time_point{});
  kicker.async_wait([](std::error_code) {});
}

}  // namespace shoal::link
