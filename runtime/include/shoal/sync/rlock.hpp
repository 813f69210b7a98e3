#pragma once
/// \file
/// RLock: Python's threading.RLock, a lock its owner may take again; each acquire needs
/// its release, by the same thread.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>

#include "shoal/sync/lock.hpp"

namespace shoal {

class Condition;

/// A reentrant lock (Python's threading.RLock): owned by the thread that took it, which
/// may take it again; it is free once every acquire has been released.
///     shoal::RLock m;
///     std::lock_guard outer(m);
///     std::lock_guard inner(m);   // same thread: does not deadlock
class RLock {
 public:
  RLock() = default;
  RLock(const RLock&) = delete;
  RLock& operator=(const RLock&) = delete;

  /// Takes the lock (at once when this thread owns it already); with blocking=false,
  /// returns false when another thread owns it.
  bool acquire(bool blocking = true);
  /// Takes the lock, waiting at most `timeout`; false when it passed. A negative timeout
  /// throws ValueError.
  template <typename Rep, typename Period>
  bool acquire(std::chrono::duration<Rep, Period> timeout) {
    if (detail::is_negative(timeout)) throw ValueError("an RLock timeout must not be negative");
    return acquire_until(detail::deadline_after(timeout));
  }
  /// Undoes one acquire(). InvalidStateError when this thread does not own the lock.
  void release();
  /// True while some thread owns the lock.
  [[nodiscard]] bool locked() const noexcept { return lock_.locked(); }
  /// True when the calling thread owns the lock (Python's RLock._is_owned()).
  [[nodiscard]] bool is_owned() const noexcept;
  /// How many times the calling thread holds it; 0 when it does not own it (Python's
  /// RLock._recursion_count()).
  [[nodiscard]] std::size_t recursion_count() const noexcept;

  /// std Lockable: acquire().
  void lock() { acquire(); }
  /// std Lockable: acquire(false).
  bool try_lock() { return acquire(false); }
  /// std Lockable: release().
  void unlock() { release(); }
  /// std TimedLockable: acquire(timeout).
  template <typename Rep, typename Period>
  bool try_lock_for(std::chrono::duration<Rep, Period> timeout) {
    return acquire_until(detail::deadline_after(timeout));
  }
  /// std TimedLockable: acquire until a time point of any clock.
  template <typename Clock, typename Duration>
  bool try_lock_until(std::chrono::time_point<Clock, Duration> when) {
    return try_lock_for(when - Clock::now());
  }

 private:
  friend class Condition;
  bool acquire_until(detail::SteadyClock::time_point deadline);
  /// For Condition::wait: releases the lock whatever the count; returns the count.
  std::size_t release_save();
  /// For Condition::wait: takes the lock back with the count release_save() returned.
  void acquire_restore(std::size_t count);

  Lock lock_;
  // The owner's get_ident(), 0 when free. Written only by the owner (relaxed suffices:
  // a thread compares it with its own id, which only that thread ever stores).
  std::atomic<std::uint64_t> owner_{0};
  std::size_t count_ = 0;  // touched only by the owner
};

}  // namespace shoal
