#pragma once
/// \file
/// What every aio primitive is built from (internal): the FIFO of waiter futures that
/// Python's asyncio keeps in a deque, and the binding to one event loop
/// (Python's _LoopBoundMixin).
///
/// The design is Python's: a coroutine that must wait creates a Future<void>, links it at
/// the back of the primitive's list and awaits it; whoever frees the resource sets the
/// result of the first future that is not done. Cancelling the waiting task cancels its
/// future (Future::wait does that), so a cancelled waiter is skipped by later wake-ups,
/// and a waiter that was woken and then cancelled before it ran passes the wake-up on.

#include <cstddef>
#include <cstdint>

#include "shoal/core/future.hpp"

namespace shoal {
class Loop;
}

namespace shoal::aio::detail {

/// One coroutine waiting in a primitive: the future it awaits and its links in the
/// primitive's list. It lives in the waiting coroutine's frame, which unlinks it (Enlisted)
/// before the frame goes.
struct Waiter {
  Future<void> fut{shoal::detail::Unbound{}};  // awaited, never given callbacks
  Waiter* prev = nullptr;
  Waiter* next = nullptr;
  bool linked = false;
};

/// An intrusive FIFO of waiters, Python's `collections.deque` of futures. Loop thread only.
/// Setting a waiter's result never re-enters the list: the woken coroutine resumes later,
/// from the loop (a post), so iterating while waking is safe.
class WaiterList {
 public:
  WaiterList() = default;
  WaiterList(const WaiterList&) = delete;
  WaiterList& operator=(const WaiterList&) = delete;

  [[nodiscard]] bool empty() const noexcept { return head_ == nullptr; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] Waiter* front() const noexcept { return head_; }

  void push_back(Waiter& w) noexcept {
    w.prev = tail_;
    w.next = nullptr;
    if (tail_)
      tail_->next = &w;
    else
      head_ = &w;
    tail_ = &w;
    w.linked = true;
    ++size_;
  }

  /// Unlinks `w`; does nothing when it is no longer linked (Python's `remove` with the
  /// ValueError ignored: a wake-up or a shutdown may have popped it already).
  void remove(Waiter& w) noexcept {
    if (!w.linked) return;
    if (w.prev)
      w.prev->next = w.next;
    else
      head_ = w.next;
    if (w.next)
      w.next->prev = w.prev;
    else
      tail_ = w.prev;
    w.prev = w.next = nullptr;
    w.linked = false;
    --size_;
  }

  /// Unlinks and returns the first waiter, or null (Python's `popleft`).
  Waiter* pop_front() noexcept {
    Waiter* w = head_;
    if (w) remove(*w);
    return w;
  }

  /// Calls `f(waiter)` front to back; `f` returns false to stop early.
  template <typename F>
  void for_each(F&& f) const {
    for (Waiter* w = head_; w;) {
      Waiter* next = w->next;
      if (!f(*w)) return;
      w = next;
    }
  }

 private:
  Waiter* head_ = nullptr;
  Waiter* tail_ = nullptr;
  std::size_t size_ = 0;
};

/// A waiter with a new future, linked at the back of `list` for the lifetime of this
/// object (or until a wake-up pops it). Neither copyable nor movable: the list points to it.
class Enlisted {
 public:
  explicit Enlisted(WaiterList& list) : list_(list) { list_.push_back(w_); }
  Enlisted(const Enlisted&) = delete;
  Enlisted& operator=(const Enlisted&) = delete;
  ~Enlisted() { list_.remove(w_); }

  /// The waiter's future.
  [[nodiscard]] Future<void>& fut() noexcept { return w_.fut; }
  /// Unlinks the waiter now (Python's `finally: waiters.remove(fut)`).
  void unlink() noexcept { list_.remove(w_); }

 private:
  WaiterList& list_;
  Waiter w_;
};

/// Binds a primitive to the first event loop that waits on it, like Python's
/// _LoopBoundMixin: a primitive is not thread-safe and belongs to one loop.
class LoopBound {
 public:
  /// Binds to the running loop, or throws InvalidStateError when the primitive is bound
  /// to another loop. Does nothing on a thread that runs no shoal Loop.
  void check_loop(const char* what);

 private:
  // The loop's identity, unique for the life of the process: a Loop's address is not
  // (two loops made one after the other on the same stack share it).
  std::uint64_t loop_id_ = 0;
};

}  // namespace shoal::aio::detail
