#pragma once
/// \file
/// aio::Barrier: Python's asyncio.Barrier, where a fixed number of coroutines wait for
/// each other.

#include <cstddef>
#include <cstdint>
#include <string>

#include "shoal/aio/condition.hpp"
#include "shoal/core/coro.hpp"
#include "shoal/core/error.hpp"

namespace shoal::aio {

/// A barrier for `parties` coroutines: each wait() blocks until `parties` coroutines are
/// waiting, then all are released together. It is then reusable: coroutines arriving
/// while the released ones are still leaving wait for the next round. abort() breaks it
/// (every wait() throws BrokenBarrierError until reset()); reset() sends
/// BrokenBarrierError to the current waiters and makes it usable again. Built on an
/// aio::Condition, as in Python. Bound to the first loop that waits on it and not
/// thread-safe (threads use shoal::Barrier). It must outlive every coroutine waiting on it.
///     std::size_t i = co_await barrier.wait();   // 0 .. parties-1, unique per round
class Barrier {
 public:
  /// A barrier for `parties` coroutines; ValueError when `parties` < 1.
  explicit Barrier(std::ptrdiff_t parties);
  Barrier(const Barrier&) = delete;
  Barrier& operator=(const Barrier&) = delete;

  /// Waits until `parties` coroutines wait, and returns this one's arrival index, from 0
  /// to parties-1 (the last to arrive gets parties-1 and releases the others). Throws
  /// BrokenBarrierError when the barrier is broken, or is reset or aborted while waiting.
  /// Cancellation: throws CancelledError, and this coroutine no longer counts as waiting.
  ///     auto i = co_await barrier.wait();
  Coro<std::size_t> wait();

  /// Returns the barrier to its initial, empty state; coroutines waiting in it get
  /// BrokenBarrierError. Waits only for the barrier's internal lock; cancelled while
  /// waiting for it, throws CancelledError and changes nothing.
  ///     co_await barrier.reset();
  Coro<void> reset();

  /// Breaks the barrier: current and future wait() calls throw BrokenBarrierError until
  /// reset(). Waits only for the barrier's internal lock; cancelled while waiting for it,
  /// throws CancelledError and changes nothing.
  ///     co_await barrier.abort();   // e.g. when one party failed
  Coro<void> abort();

  /// How many coroutines must wait for the barrier to release them.
  [[nodiscard]] std::size_t parties() const noexcept { return parties_; }
  /// How many coroutines are waiting in the current round (0 while draining).
  [[nodiscard]] std::size_t n_waiting() const noexcept;
  /// True after abort(), until reset().
  [[nodiscard]] bool broken() const noexcept { return state_ == State::broken; }

  /// Python's repr: "<shoal::aio::Barrier [filling, waiters:2/5]>"; the state is one of
  /// filling, draining, resetting, broken.
  [[nodiscard]] std::string repr() const;

 private:
  enum class State : std::uint8_t { filling, draining, resetting, broken };
  Coro<void> block();
  void release_waiters();
  Coro<void> wait_released();
  void exit();

  Condition cond_;  // notifies every coroutine in the barrier when the state changes
  std::size_t parties_;
  State state_ = State::filling;
  std::size_t count_ = 0;  // coroutines inside wait(), past block()
};

}  // namespace shoal::aio
