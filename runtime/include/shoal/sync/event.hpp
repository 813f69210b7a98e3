#pragma once
/// \file
/// Event: Python's threading.Event, a flag that threads wait on until another sets it.

#include <atomic>
#include <chrono>

#include "shoal/sync/condition.hpp"
#include "shoal/sync/deadline.hpp"
#include "shoal/sync/lock.hpp"

namespace shoal {

/// A flag to wait for (Python's threading.Event).
///     shoal::Event ready;
///     std::thread t([&] { /* ... */ ready.set(); });
///     if (!ready.wait(50ms)) { /* not yet */ }
class Event {
 public:
  Event() = default;
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;

  /// True once set() was called (and clear() not since). Lock-free.
  [[nodiscard]] bool is_set() const noexcept { return flag_.load(std::memory_order_acquire); }
  /// Sets the flag and wakes every waiter.
  void set();
  /// Clears the flag: later waits block until the next set().
  void clear();
  /// Blocks until the flag is set; returns true.
  bool wait();
  /// Blocks until the flag is set or `timeout` passed (a negative one polls). Returns true
  /// when set, or when woken by set() even if clear() came before this thread ran
  /// (Python's semantics); false on timeout.
  template <typename Rep, typename Period>
  bool wait(std::chrono::duration<Rep, Period> timeout) {
    if (is_set()) return true;
    return wait_until(detail::deadline_after(timeout));
  }

 private:
  bool wait_until(detail::SteadyClock::time_point deadline);

  Lock lock_;
  Condition cond_{lock_};
  // Written under lock_; read lock-free by is_set() (acquire pairs with set()'s release,
  // so what the setter wrote before set() is visible to a thread that sees the flag).
  std::atomic<bool> flag_{false};
};

}  // namespace shoal
