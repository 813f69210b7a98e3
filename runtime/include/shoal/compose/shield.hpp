#pragma once
/// \file
/// shield(): Python's asyncio.shield. Awaits something without letting the awaiting task's
/// cancellation reach it.

#include "shoal/detail/awaitables.hpp"

namespace shoal {

namespace detail {
template <typename T>
Coro<T> shield_impl(Future<T> f) {
  if (!f.done()) {
    auto ws = watch_one(f.state());
    Unwatch guard(*ws);
    co_await suspend_on(ws, WaitSet::any_ready, std::nullopt, OnCancel::abandon);
  } else {
    SHOAL_DETAIL_DELIVER_CANCELLATION();
  }
  co_return Future<T>::take(f.state_ref());
}
}  // namespace detail

/// Awaits `aw` (a coroutine is scheduled as a task at once). If the awaiting task is
/// cancelled, the await throws CancelledError at once while `aw` keeps running; keep its
/// task or future to collect the result later.
///     auto t = shoal::create_task(commit());
///     co_await shoal::shield(t);   // a timeout around this does not abort the commit
template <typename A>
Coro<detail::awaited_t<A>> shield(A&& aw) {
  return detail::shield_impl(detail::to_future(std::forward<A>(aw)));
}

}  // namespace shoal
