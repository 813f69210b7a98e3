#pragma once
/// \file
/// aio::Event: Python's asyncio.Event, a flag that coroutines wait for.

#include <string>

#include "shoal/aio/waiters.hpp"
#include "shoal/core/coro.hpp"

namespace shoal::aio {

/// A flag, initially false; wait() returns once it is true. Bound to the first loop that
/// waits on it and not thread-safe (threads use shoal::Event). It must outlive every
/// coroutine waiting on it.
///     co_await ready.wait();      // elsewhere: ready.set();
class Event {
 public:
  /// An event that is not set.
  Event() = default;
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;

  /// True once set() was called and clear() was not since.
  [[nodiscard]] bool is_set() const noexcept { return value_; }

  /// Sets the flag and wakes every waiter; later wait() calls return at once.
  void set();

  /// Resets the flag: later wait() calls wait for the next set(). Waiters already woken
  /// stay woken.
  void clear() noexcept { value_ = false; }

  /// Returns at once when the flag is set, else waits until set() is called. Throws
  /// CancelledError when the awaiting task is cancelled (nothing else changes), and
  /// InvalidStateError when the event is bound to another loop. Python returns True;
  /// this returns nothing.
  ///     co_await ev.wait();
  Coro<void> wait();

  /// Python's repr: "<shoal::aio::Event [unset, waiters:1]>".
  [[nodiscard]] std::string repr() const;

 private:
  detail::WaiterList waiters_;
  detail::LoopBound bound_;
  bool value_ = false;
};

}  // namespace shoal::aio
