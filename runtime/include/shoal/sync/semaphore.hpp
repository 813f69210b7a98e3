#pragma once
/// \file
/// Semaphore: Python's threading.Semaphore, a counter that acquire() decrements (waiting
/// while it is zero) and release(n) increments.

#include <chrono>
#include <cstddef>
#include <cstdint>

#include "shoal/core/error.hpp"
#include "shoal/sync/condition.hpp"
#include "shoal/sync/deadline.hpp"
#include "shoal/sync/lock.hpp"

namespace shoal {

/// A counting semaphore (Python's threading.Semaphore).
///     shoal::Semaphore slots(3);
///     { std::lock_guard hold(slots); /* at most 3 threads here */ }
/// Waiters are served in FIFO order of arrival at the wait (not strictly fair: a thread
/// arriving while the count is positive takes it at once).
class Semaphore {
 public:
  /// A semaphore at `value`; ValueError when it is negative.
  explicit Semaphore(std::int64_t value = 1);
  Semaphore(const Semaphore&) = delete;
  Semaphore& operator=(const Semaphore&) = delete;

  /// Decrements the counter, blocking while it is zero; with blocking=false, returns
  /// false at once when it is zero.
  bool acquire(bool blocking = true);
  /// Decrements the counter, waiting at most `timeout` (a negative one polls); false
  /// when it passed.
  template <typename Rep, typename Period>
  bool acquire(std::chrono::duration<Rep, Period> timeout) {
    return acquire_until(detail::deadline_after(timeout));
  }
  /// Adds `n` to the counter, waking up to `n` waiters. ValueError when n is 0.
  void release(std::size_t n = 1);
  /// The counter now (Python's private `_value`; for tests and diagnostics).
  [[nodiscard]] std::size_t value() const;

  /// std Lockable: acquire().
  void lock() { acquire(); }
  /// std Lockable: acquire(false).
  bool try_lock() { return acquire(false); }
  /// std Lockable: release().
  void unlock() { release(); }

 protected:
  /// For BoundedSemaphore: with `bounded`, a release() past the initial value throws ValueError.
  Semaphore(std::int64_t value, bool bounded);

 private:
  bool acquire_until(detail::SteadyClock::time_point deadline);

  mutable Lock lock_;
  Condition cond_{lock_};
  std::size_t value_;
  std::size_t bound_;
  bool bounded_;
};

}  // namespace shoal
