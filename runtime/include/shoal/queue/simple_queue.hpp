#pragma once
/// \file
/// SimpleQueue: Python's queue.SimpleQueue, an unbounded FIFO queue without task tracking
/// or shutdown: put() never blocks.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>
#include <utility>

#include "shoal/core/error.hpp"
#include "shoal/sync/deadline.hpp"

namespace shoal {

/// An unbounded FIFO queue for threads (Python's queue.SimpleQueue).
///     shoal::SimpleQueue<int> q;
///     q.put(1);                     // never blocks
///     int v = q.get(50ms);          // Empty if nothing came in time
template <typename T>
class SimpleQueue {
 public:
  using value_type = T;

  SimpleQueue() = default;
  SimpleQueue(const SimpleQueue&) = delete;
  SimpleQueue& operator=(const SimpleQueue&) = delete;

  /// Appends `item`; never blocks (Python's block and timeout arguments do nothing).
  void put(T item) {
    {
      std::lock_guard hold(mu_);
      items_.push_back(std::move(item));
    }
    not_empty_.notify_one();
  }
  /// put(item).
  void put_nowait(T item) { put(std::move(item)); }

  /// Removes and returns the first item, blocking while the queue is empty; with
  /// block=false, throws Empty at once instead.
  T get(bool block = true) {
    std::unique_lock lock(mu_);
    if (block)
      not_empty_.wait(lock, [this] { return !items_.empty(); });
    else if (items_.empty())
      throw Empty();
    return pop();
  }
  /// Removes and returns the first item, waiting at most `timeout`; Empty when it passed.
  /// A negative timeout throws ValueError, as in Python.
  template <typename Rep, typename Period>
  T get(std::chrono::duration<Rep, Period> timeout) {
    if (detail::is_negative(timeout)) throw ValueError("'timeout' must be a non-negative number");
    if (auto item = try_get(timeout)) return std::move(*item);
    throw Empty();
  }
  /// get(false).
  T get_nowait() { return get(false); }
  /// The first item, or nullopt when the queue is empty.
  std::optional<T> try_get() {
    std::lock_guard hold(mu_);
    if (items_.empty()) return std::nullopt;
    return pop();
  }
  /// As try_get(), waiting at most `timeout` (a negative one polls).
  template <typename Rep, typename Period>
  std::optional<T> try_get(std::chrono::duration<Rep, Period> timeout) {
    const auto deadline = detail::deadline_after(timeout);
    std::unique_lock lock(mu_);
    while (items_.empty()) {
      if (detail::SteadyClock::now() >= deadline) return std::nullopt;
      if (deadline == detail::SteadyClock::time_point::max())
        not_empty_.wait(lock);
      else
        not_empty_.wait_until(lock, deadline);
    }
    return pop();
  }

  /// The number of items (already stale when it returns).
  [[nodiscard]] std::size_t qsize() const {
    std::lock_guard hold(mu_);
    return items_.size();
  }
  /// qsize() == 0.
  [[nodiscard]] bool empty() const { return qsize() == 0; }

 private:
  T pop() {
    T item = std::move(items_.front());
    items_.pop_front();
    return item;
  }

  mutable std::mutex mu_;
  std::condition_variable not_empty_;
  std::deque<T> items_;
};

}  // namespace shoal
