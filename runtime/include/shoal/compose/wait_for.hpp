#pragma once
/// \file
/// wait_for(): Python's asyncio.wait_for. Awaits with a timeout; on timeout cancels the
/// awaitable, waits for it to finish cancelling, and throws TimeoutError.

#include <chrono>

#include "shoal/detail/awaitables.hpp"

namespace shoal {

namespace detail {
template <typename T>
Coro<T> wait_for_impl(Future<T> f, std::chrono::nanoseconds timeout) {
  if (f.done()) {
    SHOAL_DETAIL_DELIVER_CANCELLATION();
    co_return Future<T>::take(f.state_ref());
  }
  auto ws = watch_one(f.state());
  Unwatch guard(*ws);
  bool timed_out = true;
  bool late_cancel = false;
  if (timeout > std::chrono::nanoseconds::zero()) {
    try {
      auto r = co_await suspend_on(ws, WaitSet::any_ready, deadline_in(timeout), OnCancel::forward);
      timed_out = r.wake == Wake::timeout;
    } catch (const CancelledError&) {
      // The cancellation came after the wake-up was queued (or `aw` is a running plain
      // future): it never reached `aw`. Cancel it here, below (no co_await in a handler).
      late_cancel = true;
    }
  }
  if (late_cancel) {
    if (!f.done() && f.state()->cancel() && !f.done())
      co_await suspend_on(ws, WaitSet::any_ready, std::nullopt, OnCancel::forward);
    throw CancelledError("wait_for was cancelled");
  }
  if (timed_out && !f.done()) {
    // A task finishes cancelling in its own time (its cleanup may await); wait for it.
    bool cancelled = false;  // the awaiting task was cancelled meanwhile
    if (f.state()->cancel() && !f.done()) {
      auto r = co_await suspend_on(ws, WaitSet::any_ready, std::nullopt, OnCancel::forward);
      cancelled = r.cancel_seen;
    }
    // As in Python 3.12 (asyncio.timeout underneath), a cancellation of the awaiting task
    // wins over the timeout: it must not turn into a TimeoutError that could be swallowed.
    if (cancelled && f.cancelled()) throw CancelledError("wait_for was cancelled");
    if (!f.done() || f.cancelled()) throw TimeoutError("wait_for: the awaitable did not finish in time");
  }
  co_return Future<T>::take(f.state_ref());
}
}  // namespace detail

/// Awaits `aw` (a Coro, Task or Future) for at most `timeout`. On timeout it cancels `aw`,
/// waits until it has finished cancelling, and throws TimeoutError; a timeout of zero on a
/// coroutine that has not started means it never starts. If `aw` swallows that
/// cancellation and returns a value, wait_for returns it. Cancelling the awaiting task
/// cancels `aw` as well, and raises CancelledError (not TimeoutError) even when it comes
/// while `aw` is finishing the timeout's cancellation.
///     auto v = co_await shoal::wait_for(fetch(url), 2s);
template <typename A, typename Rep, typename Period>
Coro<detail::awaited_t<A>> wait_for(A&& aw, std::chrono::duration<Rep, Period> timeout) {
  return detail::wait_for_impl(detail::to_future(std::forward<A>(aw)), detail::saturate_ns(timeout));
}

}  // namespace shoal
