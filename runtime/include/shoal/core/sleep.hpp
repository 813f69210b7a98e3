#pragma once
/// \file
/// sleep(): suspends the calling coroutine, Python's asyncio.sleep.

#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <chrono>
#include <type_traits>

#include "shoal/core/coro.hpp"
#include "shoal/core/error.hpp"
#include "shoal/detail/wait_set.hpp"

namespace shoal {

namespace detail {
Coro<void> sleep_ns(std::chrono::nanoseconds d);
}

/// Suspends for `d`; `sleep(0s)` just lets the other ready tasks run once. Cancellable:
/// throws CancelledError when the task is cancelled during (or just before) the sleep.
///     co_await shoal::sleep(250ms);
template <typename Rep, typename Period>
Coro<void> sleep(std::chrono::duration<Rep, Period> d) {
  using ns = std::chrono::nanoseconds;
  if constexpr (std::is_floating_point_v<Rep>) {
    if (d != d) throw ValueError("sleep() of NaN");
  }
  // Longer than the clock can count: it saturates (sleeps "forever"), never wraps round
  // into a sleep that returns at once.
  if (d >= std::chrono::duration_cast<std::chrono::duration<Rep, Period>>(ns::max())) return detail::sleep_ns(ns::max());
  return detail::sleep_ns(std::chrono::duration_cast<ns>(d));
}

}  // namespace shoal
