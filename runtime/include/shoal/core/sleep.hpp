#pragma once
/// \file
/// sleep(): suspends the calling coroutine, Python's asyncio.sleep.

#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <chrono>

#include "shoal/core/coro.hpp"
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
  return detail::sleep_ns(std::chrono::duration_cast<std::chrono::nanoseconds>(d));
}

}  // namespace shoal
