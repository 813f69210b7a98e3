#pragma once
/// \file
/// Barrier: Python's threading.Barrier, where a fixed number of threads wait for each
/// other, then all go on together; reusable for any number of rounds.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>

#include "shoal/core/error.hpp"
#include "shoal/sync/condition.hpp"
#include "shoal/sync/deadline.hpp"
#include "shoal/sync/lock.hpp"

namespace shoal {

/// A rendezvous of `parties` threads (Python's threading.Barrier).
///     shoal::Barrier start(4);
///     // in each of 4 threads:
///     std::size_t i = start.wait();     // 0..3, distinct; all return together
/// When the last party arrives, `action` (if any) runs in that thread, then everyone is
/// released. A wait that times out, abort(), reset() while threads wait, or an action
/// that throws breaks the barrier: the waiters and later callers get BrokenBarrierError
/// until reset().
class Barrier {
 public:
  /// A barrier for `parties` threads (ValueError when below 1), running `action` once per
  /// round, with a default `timeout` for wait() (none when nullopt).
  explicit Barrier(std::int64_t parties, std::function<void()> action = {},
                   std::optional<std::chrono::nanoseconds> timeout = std::nullopt);
  Barrier(const Barrier&) = delete;
  Barrier& operator=(const Barrier&) = delete;

  /// Waits until all parties have called wait(), with the barrier's default timeout.
  /// Returns this thread's arrival index, 0 to parties()-1. Throws BrokenBarrierError
  /// when the barrier is or becomes broken (or the timeout passes, which breaks it), and
  /// the action's exception in the thread that ran it.
  std::size_t wait();
  /// As wait(), with `timeout` instead of the default (a negative one is zero).
  template <typename Rep, typename Period>
  std::size_t wait(std::chrono::duration<Rep, Period> timeout) {
    return wait_with(detail::saturate_ns(timeout));
  }
  /// Puts the barrier back to its empty state; threads waiting on it get
  /// BrokenBarrierError.
  void reset();
  /// Breaks the barrier: current and later waits throw BrokenBarrierError until reset().
  void abort();

  /// The number of threads a round needs.
  [[nodiscard]] std::size_t parties() const noexcept { return parties_; }
  /// The number of threads waiting in the current round.
  [[nodiscard]] std::size_t n_waiting() const;
  /// True when the barrier is broken.
  [[nodiscard]] bool broken() const;

 private:
  enum class State { filling, draining, resetting, broken };
  std::size_t wait_with(std::optional<std::chrono::nanoseconds> timeout);
  void enter();
  void release_round();
  void wait_round(std::optional<std::chrono::nanoseconds> timeout);
  void exit_round();
  void break_locked();

  mutable Lock lock_;
  Condition cond_{lock_};
  std::function<void()> action_;
  std::optional<std::chrono::nanoseconds> timeout_;
  std::size_t parties_;
  State state_ = State::filling;
  std::size_t count_ = 0;
};

}  // namespace shoal
