#pragma once
// What the combinators accept: a Coro<T> (scheduled as a task at once, like Python's
// ensure_future), a Task<T> or a Future<T>; and how they read results back.

#include <type_traits>
#include <utility>
#include <vector>

#include "shoal/compose/outcome.hpp"
#include "shoal/core/loop.hpp"

namespace shoal::detail {

// Any awaitable shoal produces is a Coro<T> (or derives from one, as wait()'s WaitCall
// does) or a Future<T> (Task<T>, remote futures): the overloads below find T through the
// base class.
template <typename T>
T awaited_of(const asio::awaitable<T, Executor>*);
template <typename T>
T awaited_of(const Future<T>*);
/// The result type of an awaitable shoal accepts.
template <typename A>
using awaited_t = decltype(awaited_of(static_cast<const std::remove_cvref_t<A>*>(nullptr)));

/// A coroutine (or what derives from one), as opposed to a future or task.
template <typename A>
inline constexpr bool is_coro_v = std::is_base_of_v<Coro<awaited_t<A>>, std::remove_cvref_t<A>>;

template <typename T>
Future<T> to_future(Coro<T>&& c) {
  return create_task(std::move(c));
}
template <typename T>
Future<T> to_future(const Future<T>& f) {
  return f;
}

template <typename R>
auto to_futures(R&& range) {
  using A = std::remove_cvref_t<decltype(*std::begin(range))>;
  std::vector<Future<awaited_t<A>>> out;
  if constexpr (requires { std::size(range); }) out.reserve(std::size(range));
  constexpr bool owned = !std::is_lvalue_reference_v<R>;
  for (auto&& a : range) {
    if constexpr (is_coro_v<A>)
      out.push_back(create_task(Coro<awaited_t<A>>(std::move(a))));
    else if constexpr (owned)
      out.push_back(std::move(a));  // the caller gave the range away: no reference churn
    else
      out.push_back(a);
  }
  return out;
}

/// The value of a done, successful future (std::monostate for void).
template <typename T>
value_t<T> value_of(const Future<T>& f) {
  if constexpr (std::is_void_v<T>) {
    Future<T>::take(f.state_ref());
    return {};
  } else {
    return Future<T>::take(f.state_ref());
  }
}

template <typename T>
Outcome<T> outcome_of(const Future<T>& f) {
  if (f.state()->failed() || f.cancelled())
    return Outcome<T>::of_exception(f.state()->exception_ptr(), f.cancelled());
  return Outcome<T>::of_value(value_of(f));
}

/// Rethrows the exception of the first member (in completion order) that failed or was
/// cancelled.
void rethrow_first_failure(const WaitSet& ws);

}  // namespace shoal::detail
