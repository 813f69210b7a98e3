#pragma once
/// \file
/// aio::Semaphore: Python's asyncio.Semaphore, a counter that coroutines acquire and release.

#include <cstddef>
#include <optional>
#include <string>

#include "shoal/aio/acquired.hpp"
#include "shoal/aio/waiters.hpp"
#include "shoal/core/coro.hpp"

namespace shoal::aio {

/// A counter: acquire() decrements it, waiting while it is zero; release() increments it.
/// Waiters are served in FIFO order, and a coroutine arriving while others wait queues
/// behind them even if the counter is positive. Bound to the first loop that waits on it
/// and not thread-safe (threads use shoal::Semaphore). It must outlive every coroutine
/// waiting on it.
///     shoal::aio::Semaphore slots(4);
///     auto held = co_await slots.scoped();   // at most 4 coroutines past this line
class Semaphore {
 public:
  /// A semaphore with counter `value` (1 by default); ValueError when negative.
  explicit Semaphore(std::ptrdiff_t value = 1);
  Semaphore(const Semaphore&) = delete;
  Semaphore& operator=(const Semaphore&) = delete;

  /// True when acquire() would wait: the counter is zero, or coroutines are already
  /// waiting (FIFO), counting those woken that have not yet run.
  [[nodiscard]] bool locked() const noexcept;

  /// Decrements the counter, first waiting for it to be positive and for the earlier
  /// waiters to be served. Cancellation-safe: a cancelled acquire takes nothing (a unit it
  /// had already been handed goes back, to the next waiter) and throws CancelledError.
  /// Throws InvalidStateError when the semaphore is bound to another loop. Python returns
  /// True; this returns nothing.
  ///     co_await sem.acquire();
  Coro<void> acquire();

  /// acquire(), then a guard that releases on scope exit (Python's `async with sem:`).
  ///     auto held = co_await sem.scoped();
  Coro<Acquired<Semaphore>> scoped();

  /// Increments the counter and wakes the first waiter. On a BoundedSemaphore, throws
  /// ValueError when that would exceed the initial value.
  void release();

  /// The counter (Python's private `_value`, for tests and diagnostics). Counts units not
  /// yet handed to a waiter.
  [[nodiscard]] std::ptrdiff_t value() const noexcept { return value_; }

  /// Python's repr: "<shoal::aio::Semaphore [unlocked, value:1]>", "[locked, waiters:2]"
  /// (BoundedSemaphore for a bounded one).
  [[nodiscard]] std::string repr() const;

 protected:
  /// A semaphore whose release() refuses to go past `bound` (BoundedSemaphore).
  Semaphore(std::ptrdiff_t value, std::ptrdiff_t bound);

 private:
  bool wake_up_next();

  detail::WaiterList waiters_;
  detail::LoopBound bound_loop_;
  std::ptrdiff_t value_;
  std::optional<std::ptrdiff_t> bound_;  // BoundedSemaphore: the initial value
};

}  // namespace shoal::aio
