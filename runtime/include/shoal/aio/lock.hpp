#pragma once
/// \file
/// aio::Lock: Python's asyncio.Lock, a mutual exclusion lock for coroutines of one loop.

#include <string>

#include "shoal/aio/acquired.hpp"
#include "shoal/aio/waiters.hpp"
#include "shoal/core/coro.hpp"

namespace shoal::aio {

/// A lock for coroutines (never blocks the loop's thread). Waiters acquire it in FIFO
/// order. Like Python's, it belongs to no task: any coroutine may release it. Bound to the
/// first loop that waits on it and not thread-safe (threads use shoal::Lock). It must
/// outlive every coroutine waiting on it.
///     co_await lock.acquire();
///     try { ... } catch (...) { lock.release(); throw; }
///     lock.release();
/// or, with the guard (Python's `async with lock:`):
///     auto held = co_await lock.scoped();
class Lock {
 public:
  /// An unlocked lock.
  Lock() = default;
  Lock(const Lock&) = delete;
  Lock& operator=(const Lock&) = delete;

  /// True while the lock is held.
  [[nodiscard]] bool locked() const noexcept { return locked_; }

  /// Waits until the lock is free, then takes it. Fair: once a coroutine waits, later
  /// callers queue behind it. Cancellation-safe: a cancelled acquire holds nothing (a
  /// wake-up it had already received goes to the next waiter) and throws CancelledError.
  /// Throws InvalidStateError when the lock is bound to another loop. Python returns True;
  /// there is nothing else it could return, so this returns nothing.
  ///     co_await lock.acquire();
  Coro<void> acquire();

  /// acquire(), then a guard that releases on scope exit (Python's `async with lock:`).
  /// Same errors and cancellation as acquire().
  ///     auto held = co_await lock.scoped();
  Coro<Acquired<Lock>> scoped();

  /// Releases the lock and wakes the first waiter. Throws InvalidStateError when the lock
  /// is not held (Python's RuntimeError).
  void release();

  /// Python's repr: "<shoal::aio::Lock [locked, waiters:2]>".
  [[nodiscard]] std::string repr() const;

 private:
  void wake_up_first();

  detail::WaiterList waiters_;
  detail::LoopBound bound_;
  bool locked_ = false;
};

}  // namespace shoal::aio
