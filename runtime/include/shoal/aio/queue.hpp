#pragma once
/// \file
/// aio::Queue<T>: Python's asyncio.Queue (3.13, with shutdown), a FIFO queue between
/// coroutines of one loop; and its errors QueueFull, QueueEmpty, QueueShutDown.

#include <concepts>
#include <cstddef>
#include <deque>
#include <ostream>
#include <sstream>
#include <string>
#include <utility>

#include "shoal/aio/event.hpp"
#include "shoal/aio/waiters.hpp"
#include "shoal/core/coro.hpp"
#include "shoal/core/error.hpp"

namespace shoal::aio {

/// put_nowait() on a full queue (Python's asyncio.QueueFull). The same type as the
/// thread queue's shoal::Full, so that one handler serves both.
using QueueFull = shoal::Full;
/// get_nowait() on an empty queue (Python's asyncio.QueueEmpty); shoal::Empty.
using QueueEmpty = shoal::Empty;
/// put() after shutdown(), or get() once the queue is shut down and empty (Python's
/// asyncio.QueueShutDown); shoal::ShutDown.
using QueueShutDown = shoal::ShutDown;

namespace detail {

/// What every aio queue does whatever its item type and order: the getter and putter
/// waiters, the count of unfinished tasks behind join(), and shutdown. Loop thread only.
class QueueBase {
 public:
  QueueBase(const QueueBase&) = delete;
  QueueBase& operator=(const QueueBase&) = delete;
  virtual ~QueueBase() = default;

  /// Number of items in the queue.
  [[nodiscard]] virtual std::size_t qsize() const noexcept = 0;
  /// Number of items allowed in the queue; 0 means no limit.
  [[nodiscard]] std::size_t maxsize() const noexcept { return maxsize_; }
  /// True when the queue holds no item.
  [[nodiscard]] bool empty() const noexcept { return qsize() == 0; }
  /// True when the queue holds maxsize items (never when maxsize is 0).
  [[nodiscard]] bool full() const noexcept { return maxsize_ > 0 && qsize() >= maxsize_; }

  /// Tells the queue that the processing of an item taken with get() is complete; join()
  /// returns once every item put has been marked so. Throws ValueError when called more
  /// times than items were put.
  void task_done();

  /// Waits until every item put has been taken and marked task_done() (at once when
  /// none is pending). Throws CancelledError when the awaiting task is cancelled.
  ///     co_await q.join();
  Coro<void> join();

  /// Shuts the queue down (Python 3.13): put() and put_nowait() throw QueueShutDown from
  /// now on, and get() does too once the queue is empty; every waiting put() and get() is
  /// woken to find that out. With `immediate`, the items still queued are dropped, each
  /// counting as task_done() (which may release join()), so get() throws at once.
  void shutdown(bool immediate = false);

 protected:
  explicit QueueBase(std::size_t maxsize) : maxsize_(maxsize) { finished_.set(); }

  /// put()'s wait: returns once the queue is not full; QueueShutDown when it is shut down
  /// (and still full). Cancellation-safe (see put()).
  Coro<void> wait_for_room();
  /// get()'s wait: returns once the queue is not empty; QueueShutDown when it is shut down
  /// and empty. Cancellation-safe (see get()).
  Coro<void> wait_for_item();
  /// put_nowait()'s checks: QueueShutDown, then QueueFull.
  void check_put() const;
  /// get_nowait()'s checks: QueueShutDown when shut down and empty, else QueueEmpty.
  void check_get() const;
  /// After an item went in: counts it unfinished and wakes a getter.
  void item_added();
  /// After an item went out: wakes a putter.
  void item_removed() { wakeup_next(putters_); }
  /// Drops one item (shutdown(immediate)).
  virtual void drop_item() = 0;
  /// "maxsize=2 _getters[1] _putters[1] tasks=3 shutdown", without the items.
  [[nodiscard]] std::string format_state() const;

 private:
  static void wakeup_next(WaiterList& waiters);

  std::size_t maxsize_;
  WaiterList getters_;
  WaiterList putters_;
  std::size_t unfinished_tasks_ = 0;
  Event finished_;
  LoopBound bound_;
  bool is_shutdown_ = false;
};

/// Prints the items in repr() when T can be printed.
template <typename T>
concept Printable = requires(std::ostream& os, const T& t) { os << t; };

}  // namespace detail

/// A FIFO queue for coroutines: put() waits while it is full, get() while it is empty.
/// Never blocks the loop's thread. Cancellation-safe: a cancelled get() takes no item and
/// a cancelled put() puts none, and a wake-up that reached a waiter cancelled before it ran
/// goes to the next waiter, so no item is lost or delivered twice. Bound to the first loop
/// that waits on it and not thread-safe (threads use shoal::Queue<T>). It must outlive
/// every coroutine waiting on it. LifoQueue and PriorityQueue change the order.
///     shoal::aio::Queue<Job> q(100);
///     co_await q.put(job);            // producer
///     Job j = co_await q.get();       // consumer
///     q.task_done();
template <typename T>
class Queue : public detail::QueueBase {
 public:
  /// A queue holding at most `maxsize` items; 0 (the default) means no limit.
  explicit Queue(std::size_t maxsize = 0) : QueueBase(maxsize) {}

  /// Number of items in the queue.
  [[nodiscard]] std::size_t qsize() const noexcept final { return items_.size(); }

  /// Puts `item`, first waiting while the queue is full. Throws QueueShutDown when the
  /// queue is (or gets) shut down. Cancellation: throws CancelledError and puts nothing
  /// (`item`, moved into the call, is destroyed); a free slot it had been told about goes
  /// to the next putter.
  ///     co_await q.put(std::move(job));
  Coro<void> put(T item) {
    co_await wait_for_room();
    put_nowait(std::move(item));
  }

  /// Puts `item` if there is room. Throws QueueShutDown after shutdown(), else QueueFull
  /// when full; `item` is then left untouched.
  void put_nowait(T&& item) {
    check_put();
    put_item(std::move(item));
    item_added();
  }
  /// put_nowait() of a copy.
  void put_nowait(const T& item)
    requires std::copy_constructible<T>
  {
    check_put();
    put_item(T(item));
    item_added();
  }

  /// Takes the next item, first waiting while the queue is empty. Throws QueueShutDown
  /// when the queue is shut down and empty (at once after shutdown(immediate)).
  /// Cancellation: throws CancelledError and takes no item; an item it had been told about
  /// stays queued and goes to the next getter.
  ///     T item = co_await q.get();
  Coro<T> get() {
    co_await wait_for_item();
    co_return get_nowait();
  }

  /// Takes the next item if there is one. Throws QueueShutDown when shut down and empty,
  /// else QueueEmpty when empty.
  T get_nowait() {
    check_get();
    T item = take_item();
    item_removed();
    return item;
  }

  /// Python's str(): "<Queue maxsize=0 _queue=[1, 2] _getters[1] tasks=2 shutdown>"; the
  /// items appear only when T can be written to an ostream, in storage order.
  [[nodiscard]] std::string repr() const {
    std::string state = format_state();
    if constexpr (detail::Printable<T>) {
      if (!items_.empty()) {
        std::ostringstream os;
        os << " _queue=[";
        const char* sep = "";
        for (const T& item : items_) {
          os << sep << item;
          sep = ", ";
        }
        os << "]";
        auto at = state.find(' ');  // after "maxsize=N", as Python prints it
        state.insert(at == std::string::npos ? state.size() : at, os.str());
      }
    }
    return "<" + std::string(type_name()) + " " + state + ">";
  }

 protected:
  /// Stores an item (Python's `_put`); the order's hook for LifoQueue and PriorityQueue.
  virtual void put_item(T&& item) { items_.push_back(std::move(item)); }
  /// Removes and returns the next item (Python's `_get`); the queue is not empty.
  virtual T take_item() {
    T item = std::move(items_.front());
    items_.pop_front();
    return item;
  }
  [[nodiscard]] virtual const char* type_name() const noexcept { return "Queue"; }

  std::deque<T> items_;

 private:
  void drop_item() final { (void)take_item(); }
};

}  // namespace shoal::aio
