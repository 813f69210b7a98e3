#pragma once
/// \file
/// Lock: Python's threading.Lock. Not owned by a thread: any thread may release it.
/// lock()/unlock()/try_lock() make it a std Lockable, so std::lock_guard and
/// std::unique_lock are Python's `with lock:`.

#include <atomic>
#include <chrono>
#include <cstdint>

#include "shoal/core/error.hpp"
#include "shoal/sync/deadline.hpp"

namespace shoal {

/// A mutual-exclusion lock that any thread may release (Python's threading.Lock).
///     shoal::Lock lock;
///     { std::lock_guard hold(lock); /* ... */ }     // Python: with lock: ...
///     if (lock.acquire(50ms)) { /* ... */ lock.release(); }
/// Uncontended, acquire and release are one atomic operation each; a contended acquire
/// spins briefly, then sleeps on a futex. Not fair, like Python's.
class Lock {
 public:
  Lock() = default;
  Lock(const Lock&) = delete;
  Lock& operator=(const Lock&) = delete;

  /// Takes the lock, blocking until it is free; with blocking=false, returns false at
  /// once when it is held.
  bool acquire(bool blocking = true) {
    if (try_fast()) return true;
    return blocking && acquire_slow(detail::SteadyClock::time_point::max());
  }
  /// Takes the lock, waiting at most `timeout`; false when it passed. A negative timeout
  /// throws ValueError (as in Python, where only -1, "forever", is allowed).
  template <typename Rep, typename Period>
  bool acquire(std::chrono::duration<Rep, Period> timeout) {
    if (detail::is_negative(timeout)) throw ValueError("a Lock timeout must not be negative");
    if (try_fast()) return true;
    return acquire_slow(detail::deadline_after(timeout));
  }
  /// Releases the lock; any thread may. InvalidStateError when it is not locked.
  void release() {
    // release: the critical section's writes are visible to the next owner.
    const std::uint32_t prev = state_.exchange(unlocked, std::memory_order_release);
    if (prev != locked_no_waiters) release_slow(prev);
  }
  /// True while some thread holds the lock.
  [[nodiscard]] bool locked() const noexcept {
    return state_.load(std::memory_order_relaxed) != unlocked;
  }

  /// std Lockable: acquire(), so that std::lock_guard, std::unique_lock and std::scoped_lock work.
  void lock() { acquire(); }
  /// std Lockable: acquire(false).
  bool try_lock() { return acquire(false); }
  /// std Lockable: release().
  void unlock() { release(); }
  /// std TimedLockable: acquire(timeout).
  template <typename Rep, typename Period>
  bool try_lock_for(std::chrono::duration<Rep, Period> timeout) {
    return acquire(detail::is_negative(timeout) ? std::chrono::duration<Rep, Period>::zero() : timeout);
  }
  /// std TimedLockable: acquire until a time point of any clock.
  template <typename Clock, typename Duration>
  bool try_lock_until(std::chrono::time_point<Clock, Duration> when) {
    return try_lock_for(when - Clock::now());
  }

 private:
  static constexpr std::uint32_t unlocked = 0;
  static constexpr std::uint32_t locked_no_waiters = 1;
  static constexpr std::uint32_t locked_with_waiters = 2;

  bool try_fast() noexcept {
    std::uint32_t expected = unlocked;
    // acquire: pairs with release()'s exchange.
    return state_.compare_exchange_strong(expected, locked_no_waiters, std::memory_order_acquire,
                                          std::memory_order_relaxed);
  }
  bool acquire_slow(detail::SteadyClock::time_point deadline);
  void release_slow(std::uint32_t prev);

  // 0 unlocked, 1 locked, 2 locked and some thread may be asleep on the futex
  // (Drepper, "Futexes are tricky", mutex 3).
  std::atomic<std::uint32_t> state_{unlocked};
};

}  // namespace shoal
