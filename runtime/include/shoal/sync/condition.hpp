#pragma once
/// \file
/// Condition: Python's threading.Condition, a condition variable bound to a Lock or an
/// RLock (its own RLock by default). Waiters are woken in FIFO order, and a wait returns
/// only when notified or timed out: no spurious wake-ups, as in CPython.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <utility>

#include "shoal/sync/deadline.hpp"
#include "shoal/sync/lock.hpp"
#include "shoal/sync/rlock.hpp"

namespace shoal {

/// A condition variable over a lock (Python's threading.Condition).
///     shoal::Condition cond;                       // over its own RLock
///     { std::lock_guard hold(cond); ready = true; cond.notify_all(); }
///     { std::lock_guard hold(cond); cond.wait_for([&] { return ready; }, 50ms); }
/// wait(), wait_for(), notify() and notify_all() need the lock held by the caller (for a
/// Lock: held by some thread, as Python checks), else InvalidStateError.
class Condition {
 public:
  /// Over a new RLock of its own.
  Condition() : rlock_(&own_) {}
  /// Over `lock`, which must outlive the condition (several conditions may share it).
  explicit Condition(Lock& lock) : plain_(&lock) {}
  /// Over `lock`, which must outlive the condition.
  explicit Condition(RLock& lock) : rlock_(&lock) {}
  Condition(const Condition&) = delete;
  Condition& operator=(const Condition&) = delete;

  /// Takes the underlying lock (see Lock::acquire / RLock::acquire).
  bool acquire(bool blocking = true) { return plain_ ? plain_->acquire(blocking) : rlock_->acquire(blocking); }
  /// Takes the underlying lock, waiting at most `timeout`.
  template <typename Rep, typename Period>
  bool acquire(std::chrono::duration<Rep, Period> timeout) {
    return plain_ ? plain_->acquire(timeout) : rlock_->acquire(timeout);
  }
  /// Releases the underlying lock.
  void release() { plain_ ? plain_->release() : rlock_->release(); }
  /// std Lockable: acquire().
  void lock() { acquire(); }
  /// std Lockable: acquire(false).
  bool try_lock() { return acquire(false); }
  /// std Lockable: release().
  void unlock() { release(); }

  /// Releases the lock, sleeps until notified, takes the lock back. Returns true.
  bool wait() { return wait_until(detail::SteadyClock::time_point::max()); }
  /// As wait(), for at most `timeout` (a negative one polls); false when it passed
  /// without a notification.
  template <typename Rep, typename Period>
  bool wait(std::chrono::duration<Rep, Period> timeout) {
    return wait_until(detail::deadline_after(timeout));
  }
  /// Waits until `predicate()` is true (checked first, and after each wake-up, with the
  /// lock held); returns true.
  template <typename Predicate>
  bool wait_for(Predicate predicate) {
    while (!static_cast<bool>(predicate())) wait();
    return true;
  }
  /// As wait_for(predicate), giving up after `timeout`; returns the predicate's last value.
  template <typename Predicate, typename Rep, typename Period>
  bool wait_for(Predicate predicate, std::chrono::duration<Rep, Period> timeout) {
    const auto deadline = detail::deadline_after(timeout);
    bool result = static_cast<bool>(predicate());
    while (!result) {
      if (detail::SteadyClock::now() >= deadline) break;
      wait_until(deadline);
      result = static_cast<bool>(predicate());
    }
    return result;
  }
  /// Wakes up to `n` waiters, longest waiting first.
  void notify(std::size_t n = 1);
  /// Wakes every waiter.
  void notify_all();
  /// As wait(), until a steady_clock `deadline` (time_point::max() for none): the form
  /// the other primitives use to keep one deadline across several waits.
  bool wait_until(detail::SteadyClock::time_point deadline);

 private:
  struct Waiter {
    Waiter* prev = nullptr;
    Waiter* next = nullptr;
    bool queued = true;                // under mu_
    std::atomic<std::uint32_t> signaled{0};  // futex word: 1 once notified
  };

  bool is_owned() const noexcept { return plain_ ? plain_->locked() : rlock_->is_owned(); }
  void wake_locked(Waiter* w) noexcept;

  Lock* plain_ = nullptr;
  RLock* rlock_ = nullptr;
  RLock own_;
  // Guards the waiter list. The user's lock is held around every call too, but a Lock may
  // be held by another thread than the caller (Python allows it), so the list keeps its own.
  std::mutex mu_;
  Waiter* head_ = nullptr;
  Waiter* tail_ = nullptr;
};

}  // namespace shoal
