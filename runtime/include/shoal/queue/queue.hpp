#pragma once
/// \file
/// Queue, LifoQueue and PriorityQueue: Python's queue module (3.13, with shutdown()).
/// Thread-safe queues with an optional bound, blocking put()/get() with timeouts, and
/// task_done()/join() to wait until every item put has been processed.

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "shoal/core/error.hpp"
#include "shoal/sync/deadline.hpp"

namespace shoal {

namespace detail {

/// First in, first out (Queue).
template <typename T>
class FifoStore {
 public:
  void push(T&& v) { items_.push_back(std::move(v)); }
  T pop() {
    T v = std::move(items_.front());
    items_.pop_front();
    return v;
  }
  [[nodiscard]] std::size_t size() const noexcept { return items_.size(); }
  std::deque<T> take_all() noexcept { return std::exchange(items_, {}); }

 private:
  std::deque<T> items_;
};

/// Last in, first out (LifoQueue).
template <typename T>
class LifoStore {
 public:
  void push(T&& v) { items_.push_back(std::move(v)); }
  T pop() {
    T v = std::move(items_.back());
    items_.pop_back();
    return v;
  }
  [[nodiscard]] std::size_t size() const noexcept { return items_.size(); }
  std::vector<T> take_all() noexcept { return std::exchange(items_, {}); }

 private:
  std::vector<T> items_;
};

/// Smallest first by `Compare` (PriorityQueue), a binary heap like Python's heapq.
template <typename T, typename Compare>
class HeapStore {
 public:
  explicit HeapStore(Compare comp = Compare()) : comp_(std::move(comp)) {}
  void push(T&& v) {
    items_.push_back(std::move(v));
    std::push_heap(items_.begin(), items_.end(), greater());
  }
  T pop() {
    std::pop_heap(items_.begin(), items_.end(), greater());
    T v = std::move(items_.back());
    items_.pop_back();
    return v;
  }
  [[nodiscard]] std::size_t size() const noexcept { return items_.size(); }
  std::vector<T> take_all() noexcept { return std::exchange(items_, {}); }

 private:
  // std's heap functions keep the largest on top; reversing the comparison keeps the smallest.
  auto greater() const {
    return [this](const T& a, const T& b) { return comp_(b, a); };
  }
  Compare comp_;
  std::vector<T> items_;
};

/// The queue proper; Queue, LifoQueue and PriorityQueue differ only in `Store`.
template <typename T, typename Store>
class BasicQueue {
 public:
  using value_type = T;

  BasicQueue(const BasicQueue&) = delete;
  BasicQueue& operator=(const BasicQueue&) = delete;

  /// Puts `item`, blocking while the queue is full; with block=false, throws Full at once
  /// instead. Throws ShutDown after shutdown() (also when it happens during the wait).
  void put(T item, bool block = true) {
    put_impl(std::move(item), block ? Wait::forever : Wait::no, {});
  }
  /// Puts `item`, waiting at most `timeout` for room; Full when it passed. A negative
  /// timeout throws ValueError, as in Python.
  template <typename Rep, typename Period>
  void put(T item, std::chrono::duration<Rep, Period> timeout) {
    if (detail::is_negative(timeout)) throw ValueError("'timeout' must be a non-negative number");
    put_impl(std::move(item), Wait::until, detail::deadline_after(timeout));
  }
  /// put(item, false).
  void put_nowait(T item) { put_impl(std::move(item), Wait::no, {}); }
  /// Puts `item` when there is room and returns true; returns false when the queue is
  /// full, leaving `item` as it was. ShutDown after shutdown().
  bool try_put(T&& item) { return try_put_impl(item); }
  /// As try_put(T&&), copying `item` in.
  bool try_put(const T& item) {
    T copy(item);
    return try_put_impl(copy);
  }

  /// Removes and returns the next item, blocking while the queue is empty; with
  /// block=false, throws Empty at once instead. Throws ShutDown once the queue is shut
  /// down and empty (at once after shutdown(immediate=true)).
  T get(bool block = true) { return get_impl(block ? Wait::forever : Wait::no, {}); }
  /// Removes and returns the next item, waiting at most `timeout`; Empty when it passed.
  /// A negative timeout throws ValueError.
  template <typename Rep, typename Period>
  T get(std::chrono::duration<Rep, Period> timeout) {
    if (detail::is_negative(timeout)) throw ValueError("'timeout' must be a non-negative number");
    return get_impl(Wait::until, detail::deadline_after(timeout));
  }
  /// get(false).
  T get_nowait() { return get_impl(Wait::no, {}); }
  /// The next item, or nullopt when the queue is empty (no exception to catch). ShutDown
  /// once shut down and empty.
  std::optional<T> try_get() {
    std::unique_lock lock(mu_);
    if (store_.size() == 0) {
      if (shutdown_) throw ShutDown();
      return std::nullopt;
    }
    return take(lock);
  }
  /// As try_get(), waiting at most `timeout` (a negative one polls).
  template <typename Rep, typename Period>
  std::optional<T> try_get(std::chrono::duration<Rep, Period> timeout) {
    const auto deadline = detail::deadline_after(timeout);
    std::unique_lock lock(mu_);
    if (!wait_for_item(lock, Wait::until, deadline)) return std::nullopt;
    return take(lock);
  }

  /// The number of items (already stale when it returns, as in Python).
  [[nodiscard]] std::size_t qsize() const {
    std::lock_guard hold(mu_);
    return store_.size();
  }
  /// qsize() == 0.
  [[nodiscard]] bool empty() const { return qsize() == 0; }
  /// True when bounded and qsize() >= maxsize().
  [[nodiscard]] bool full() const {
    std::lock_guard hold(mu_);
    return maxsize_ > 0 && store_.size() >= static_cast<std::size_t>(maxsize_);
  }
  /// The bound; 0 or below means unbounded.
  [[nodiscard]] std::ptrdiff_t maxsize() const {
    std::lock_guard hold(mu_);
    return maxsize_;
  }
  /// Changes the bound (Python assigns q.maxsize); blocked putters re-check it.
  void set_maxsize(std::ptrdiff_t maxsize) {
    {
      std::lock_guard hold(mu_);
      maxsize_ = maxsize;
    }
    not_full_.notify_all();
  }

  /// A consumer reports that an item it got is processed; when every item put so far is,
  /// join() returns. ValueError when called more times than items were put.
  void task_done() {
    std::lock_guard hold(mu_);
    if (unfinished_ == 0) throw ValueError("task_done() called too many times");
    if (--unfinished_ == 0) all_tasks_done_.notify_all();
  }
  /// Blocks until every item put has been reported by task_done() (or dropped by
  /// shutdown(immediate=true)).
  void join() {
    std::unique_lock lock(mu_);
    all_tasks_done_.wait(lock, [this] { return unfinished_ == 0; });
  }
  /// Items put and not yet reported by task_done().
  [[nodiscard]] std::size_t unfinished_tasks() const {
    std::lock_guard hold(mu_);
    return unfinished_;
  }

  /// Python 3.13's shutdown: put() throws ShutDown from now on, and get() once the queue
  /// is empty; blocked callers wake up. immediate=true also drops the items left (counting
  /// them as done, so join() returns) and makes get() throw at once.
  void shutdown(bool immediate = false) {
    decltype(std::declval<Store&>().take_all()) dropped;
    {
      std::lock_guard hold(mu_);
      shutdown_ = true;
      if (immediate) {
        dropped = store_.take_all();
        unfinished_ -= std::min(unfinished_, dropped.size());
        all_tasks_done_.notify_all();
      }
    }
    not_empty_.notify_all();
    not_full_.notify_all();
    // `dropped` is destroyed here, outside the lock.
  }
  /// True once shutdown() was called.
  [[nodiscard]] bool is_shutdown() const {
    std::lock_guard hold(mu_);
    return shutdown_;
  }

 protected:
  explicit BasicQueue(std::ptrdiff_t maxsize, Store store = Store())
      : store_(std::move(store)), maxsize_(maxsize) {}
  ~BasicQueue() = default;

 private:
  enum class Wait { no, forever, until };
  using TimePoint = detail::SteadyClock::time_point;

  bool has_room() const noexcept {
    return maxsize_ <= 0 || store_.size() < static_cast<std::size_t>(maxsize_);
  }

  void put_impl(T&& item, Wait wait, TimePoint deadline) {
    {
      std::unique_lock lock(mu_);
      if (shutdown_) throw ShutDown();
      while (!has_room()) {
        if (wait == Wait::no) throw Full();
        if (wait == Wait::forever || deadline == TimePoint::max()) {
          not_full_.wait(lock);
        } else {
          if (detail::SteadyClock::now() >= deadline) throw Full();
          not_full_.wait_until(lock, deadline);
        }
        if (shutdown_) throw ShutDown();
      }
      store_.push(std::move(item));
      ++unfinished_;
    }
    not_empty_.notify_one();
  }

  bool try_put_impl(T& item) {
    {
      std::lock_guard hold(mu_);
      if (shutdown_) throw ShutDown();
      if (!has_room()) return false;
      store_.push(std::move(item));
      ++unfinished_;
    }
    not_empty_.notify_one();
    return true;
  }

  /// Waits until an item is there: true; false when `wait` is no or the deadline passed;
  /// ShutDown once shut down and empty.
  bool wait_for_item(std::unique_lock<std::mutex>& lock, Wait wait, TimePoint deadline) {
    if (shutdown_ && store_.size() == 0) throw ShutDown();
    while (store_.size() == 0) {
      if (wait == Wait::no) return false;
      if (wait == Wait::forever || deadline == TimePoint::max()) {
        not_empty_.wait(lock);
      } else {
        if (detail::SteadyClock::now() >= deadline) return false;
        not_empty_.wait_until(lock, deadline);
      }
      if (shutdown_ && store_.size() == 0) throw ShutDown();
    }
    return true;
  }

  T get_impl(Wait wait, TimePoint deadline) {
    std::unique_lock lock(mu_);
    if (!wait_for_item(lock, wait, deadline)) throw Empty();
    return take(lock);
  }

  /// Pops the next item and lets a putter in. `lock` holds mu_ and is released.
  T take(std::unique_lock<std::mutex>& lock) {
    T item = store_.pop();
    lock.unlock();
    not_full_.notify_one();
    return item;
  }

  mutable std::mutex mu_;
  std::condition_variable not_empty_;
  std::condition_variable not_full_;
  std::condition_variable all_tasks_done_;
  Store store_;
  std::ptrdiff_t maxsize_;
  std::size_t unfinished_ = 0;
  bool shutdown_ = false;
};

}  // namespace detail

/// A FIFO queue for threads (Python's queue.Queue).
///     shoal::Queue<Job> jobs(100);               // at most 100 waiting; 0: unbounded
///     jobs.put(job);                             // producer; blocks while full
///     Job j = jobs.get(); work(j); jobs.task_done();   // consumer
///     jobs.join();                               // every job processed
template <typename T>
class Queue : public detail::BasicQueue<T, detail::FifoStore<T>> {
 public:
  /// A queue holding at most `maxsize` items; 0 or below is unbounded.
  explicit Queue(std::ptrdiff_t maxsize = 0) : detail::BasicQueue<T, detail::FifoStore<T>>(maxsize) {}
};

/// A LIFO queue, a stack for threads (Python's queue.LifoQueue): get() returns the item
/// put last.
template <typename T>
class LifoQueue : public detail::BasicQueue<T, detail::LifoStore<T>> {
 public:
  /// A queue holding at most `maxsize` items; 0 or below is unbounded.
  explicit LifoQueue(std::ptrdiff_t maxsize = 0)
      : detail::BasicQueue<T, detail::LifoStore<T>>(maxsize) {}
};

/// A priority queue for threads (Python's queue.PriorityQueue): get() returns the
/// smallest item by `Compare` (std::less: smallest first, like Python). Items that compare
/// equal come out in no particular order; put (priority, sequence, value) tuples, as
/// Python's documentation suggests, for FIFO order among equals.
template <typename T, typename Compare = std::less<T>>
class PriorityQueue : public detail::BasicQueue<T, detail::HeapStore<T, Compare>> {
 public:
  /// A queue holding at most `maxsize` items (0 or below: unbounded), ordered by `comp`.
  explicit PriorityQueue(std::ptrdiff_t maxsize = 0, Compare comp = Compare())
      : detail::BasicQueue<T, detail::HeapStore<T, Compare>>(
            maxsize, detail::HeapStore<T, Compare>(std::move(comp))) {}
};

}  // namespace shoal
