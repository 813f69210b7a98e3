// The item-independent part of aio::Queue, after CPython 3.13's Lib/asyncio/queues.py.
// C++ cannot await inside a catch block, so each wait keeps its error in an exception_ptr
// and cleans up after the try, as Python's bare `except:` does.

#include <exception>
#include <string>

#include "shoal/aio/queue.hpp"

namespace shoal::aio::detail {

void QueueBase::wakeup_next(WaiterList& waiters) {
  // Wakes the next waiter that is not done (not cancelled), popping it: a waiter popped
  // and woken is no longer counted, so the next wake-up goes to the one after.
  while (Waiter* w = waiters.pop_front()) {
    if (!w->fut.done()) {
      w->fut.set_result();
      return;
    }
  }
}

Coro<void> QueueBase::wait_for_room() {
  while (full()) {
    if (is_shutdown_) throw QueueShutDown();
    bound_.check_loop("Queue");
    Enlisted putter(putters_);
    std::exception_ptr error;
    try {
      co_await putter.fut().wait();
    } catch (...) {
      error = std::current_exception();
    }
    if (error) {
      putter.fut().cancel();  // in case it is not done yet
      putter.unlink();        // a get_nowait() or shutdown() may have popped it already
      // Woken by get_nowait() for a free slot that we will not use: wake the next putter.
      if (!full() && !putter.fut().cancelled()) wakeup_next(putters_);
      std::rethrow_exception(error);
    }
  }
}

Coro<void> QueueBase::wait_for_item() {
  while (empty()) {
    if (is_shutdown_) throw QueueShutDown();
    bound_.check_loop("Queue");
    Enlisted getter(getters_);
    std::exception_ptr error;
    try {
      co_await getter.fut().wait();
    } catch (...) {
      error = std::current_exception();
    }
    if (error) {
      getter.fut().cancel();  // in case it is not done yet
      getter.unlink();        // a put_nowait() or shutdown() may have popped it already
      // Woken by put_nowait() for an item that we will not take: wake the next getter,
      // so that the item is not left behind while someone waits for it.
      if (!empty() && !getter.fut().cancelled()) wakeup_next(getters_);
      std::rethrow_exception(error);
    }
  }
}

void QueueBase::check_put() const {
  if (is_shutdown_) throw QueueShutDown();
  if (full()) throw QueueFull();
}

void QueueBase::check_get() const {
  if (empty()) {
    if (is_shutdown_) throw QueueShutDown();
    throw QueueEmpty();
  }
}

void QueueBase::item_added() {
  ++unfinished_tasks_;
  finished_.clear();
  wakeup_next(getters_);
}

void QueueBase::task_done() {
  if (unfinished_tasks_ == 0) throw ValueError("task_done() called too many times");
  if (--unfinished_tasks_ == 0) finished_.set();
}

Coro<void> QueueBase::join() {
  if (unfinished_tasks_ > 0) co_await finished_.wait();
}

void QueueBase::shutdown(bool immediate) {
  is_shutdown_ = true;
  if (immediate) {
    while (!empty()) {
      drop_item();
      if (unfinished_tasks_ > 0) --unfinished_tasks_;
    }
    if (unfinished_tasks_ == 0) finished_.set();
  }
  // Every blocked get() and put() re-checks the queue and finds it shut down.
  while (Waiter* w = getters_.pop_front())
    if (!w->fut.done()) w->fut.set_result();
  while (Waiter* w = putters_.pop_front())
    if (!w->fut.done()) w->fut.set_result();
}

std::string QueueBase::format_state() const {
  std::string out = "maxsize=" + std::to_string(maxsize_);
  if (!getters_.empty()) out += " _getters[" + std::to_string(getters_.size()) + "]";
  if (!putters_.empty()) out += " _putters[" + std::to_string(putters_.size()) + "]";
  if (unfinished_tasks_) out += " tasks=" + std::to_string(unfinished_tasks_);
  if (is_shutdown_) out += " shutdown";
  return out;
}

}  // namespace shoal::aio::detail
