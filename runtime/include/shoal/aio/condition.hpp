#pragma once
/// \file
/// aio::Condition: Python's asyncio.Condition, a condition variable over an aio::Lock.

#include <cstddef>
#include <string>
#include <type_traits>

#include "shoal/aio/acquired.hpp"
#include "shoal/aio/lock.hpp"
#include "shoal/aio/waiters.hpp"
#include "shoal/core/coro.hpp"

namespace shoal::aio {

/// A condition variable for coroutines: wait() releases the lock, waits for notify(), and
/// re-acquires the lock before it returns, also when it fails or is cancelled. Bound to the
/// first loop that waits on it and not thread-safe (threads use shoal::Condition). It (and
/// an external lock) must outlive every coroutine waiting on it.
///     auto held = co_await cond.scoped();
///     co_await cond.wait_for([&] { return !items.empty(); });
class Condition {
 public:
  /// A condition with a lock of its own.
  Condition() : lock_(&own_) {}
  /// A condition over `lock`, which may be shared with other conditions and must outlive
  /// this one.
  explicit Condition(Lock& lock) : lock_(&lock) {}
  Condition(const Condition&) = delete;
  Condition& operator=(const Condition&) = delete;

  /// The underlying lock's acquire(): same errors and cancellation (a cancelled acquire
  /// holds nothing).
  ///     co_await cond.acquire();
  Coro<void> acquire() { return lock_->acquire(); }
  /// acquire(), then a guard that releases on scope exit (Python's `async with cond:`).
  ///     auto held = co_await cond.scoped();
  Coro<Acquired<Condition>> scoped();
  /// The underlying lock's release(): InvalidStateError when it is not held.
  void release() { lock_->release(); }
  /// True while the underlying lock is held.
  [[nodiscard]] bool locked() const noexcept { return lock_->locked(); }

  /// Releases the lock, waits until notified, and re-acquires the lock. The caller must
  /// hold the lock (InvalidStateError otherwise, Python's RuntimeError); it holds it again
  /// when wait() returns or throws. Cancellation: the lock is re-acquired first (waiting
  /// for it, as Python does), then CancelledError is thrown; a notification that reached
  /// this waiter before it was cancelled is passed to another waiter, so none is lost. May
  /// return spuriously: re-check the state, or use wait_for(). Python returns True; this
  /// returns nothing.
  ///     while (!ready) co_await cond.wait();
  Coro<void> wait();

  /// Waits until `predicate()` is true, calling it with the lock held before each wait();
  /// returns its last value. Returns at once, without needing the lock, when it is true to
  /// begin with. Errors and cancellation as wait(). `predicate` is copied into the
  /// coroutine; what it refers to must outlive the call.
  ///     co_await cond.wait_for([&] { return state != 0; });
  template <typename Predicate>
  Coro<std::decay_t<std::invoke_result_t<Predicate&>>> wait_for(Predicate predicate) {
    auto result = predicate();
    while (!result) {
      co_await wait();
      result = predicate();
    }
    co_return result;
  }

  /// Wakes up to `n` waiters (those already woken do not count). The caller must hold the
  /// lock (InvalidStateError otherwise). A woken waiter returns from wait() only once it
  /// has re-acquired the lock, so release it after notifying.
  void notify(std::size_t n = 1);
  /// Wakes every waiter; the caller must hold the lock (InvalidStateError otherwise).
  void notify_all();

  /// Python's repr: "<shoal::aio::Condition [locked, waiters:1]>".
  [[nodiscard]] std::string repr() const;

 private:
  void notify_some(std::size_t n);

  Lock own_;
  Lock* lock_;
  detail::WaiterList waiters_;
  detail::LoopBound bound_;
};

}  // namespace shoal::aio
