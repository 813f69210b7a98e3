#pragma once
/// \file
/// gather() and gather_settled(): run awaitables concurrently and collect their results in
/// input order (Python's asyncio.gather, without and with return_exceptions=True).

#include <tuple>
#include <vector>

#include "shoal/detail/awaitables.hpp"

namespace shoal {

namespace detail {

/// Once gather has raised, the later failures of its other children are nobody's to see:
/// they are marked retrieved (now or when they come), so that they are not reported as
/// never retrieved (Python's gather does the same). Only on the failure path.
template <typename T>
void drop_later_failure(Future<T> f) {
  f.add_done_callback([](const Future<T>& done) { (void)done.state()->exception_ptr(); });
}

template <typename... T>
Coro<std::tuple<value_t<T>...>> gather_tuple(std::tuple<Future<T>...> fs) {
  auto ws = make_ref<WaitSet>(sizeof...(T));
  std::apply([&](const auto&... f) {
    std::size_t i = 0;
    (ws->watch(i++, f.state()), ...);
  }, fs);
  Unwatch guard(*ws);
  auto r = co_await suspend_on(ws, WaitSet::all_or_first_failure, std::nullopt, OnCancel::forward);
  try {
    rethrow_first_failure(*ws);
  } catch (...) {
    std::apply([](const auto&... f) { (drop_later_failure(f), ...); }, fs);
    throw;
  }
  // Every child swallowed the cancellation: the requested cancellation still propagates
  // (Python's _GatheringFuture, bpo-32684).
  if (r.cancel_seen) throw CancelledError("gather was cancelled");
  co_return std::apply([](const auto&... f) { return std::tuple<value_t<T>...>(value_of(f)...); }, fs);
}

template <typename T>
Coro<std::vector<value_t<T>>> gather_vector(std::vector<Future<T>> fs) {
  std::vector<value_t<T>> out;
  if (fs.empty()) co_return out;
  auto ws = make_ref<WaitSet>(fs.size());
  for (std::size_t i = 0; i < fs.size(); ++i) ws->watch(i, fs[i].state());
  Unwatch guard(*ws);
  auto r = co_await suspend_on(ws, WaitSet::all_or_first_failure, std::nullopt, OnCancel::forward);
  try {
    rethrow_first_failure(*ws);
  } catch (...) {
    for (auto& f : fs) drop_later_failure(f);
    throw;
  }
  if (r.cancel_seen) throw CancelledError("gather was cancelled");  // see gather_tuple
  out.reserve(fs.size());
  for (auto& f : fs) out.push_back(value_of(f));
  co_return out;
}

template <typename T>
Coro<std::vector<Outcome<T>>> gather_settled_vector(std::vector<Future<T>> fs) {
  std::vector<Outcome<T>> out;
  if (fs.empty()) co_return out;
  auto ws = make_ref<WaitSet>(fs.size());
  for (std::size_t i = 0; i < fs.size(); ++i) ws->watch(i, fs[i].state());
  Unwatch guard(*ws);
  auto r = co_await suspend_on(ws, WaitSet::all_ready, std::nullopt, OnCancel::forward);
  if (r.cancel_seen) throw CancelledError("gather_settled was cancelled");
  out.reserve(fs.size());
  for (auto& f : fs) out.push_back(outcome_of(f));
  co_return out;
}

template <typename... T>
Coro<std::tuple<Outcome<T>...>> gather_settled_tuple(std::tuple<Future<T>...> fs) {
  auto ws = make_ref<WaitSet>(sizeof...(T));
  std::apply([&](const auto&... f) {
    std::size_t i = 0;
    (ws->watch(i++, f.state()), ...);
  }, fs);
  Unwatch guard(*ws);
  auto r = co_await suspend_on(ws, WaitSet::all_ready, std::nullopt, OnCancel::forward);
  if (r.cancel_seen) throw CancelledError("gather_settled was cancelled");
  co_return std::apply([](const auto&... f) { return std::tuple<Outcome<T>...>(outcome_of(f)...); }, fs);
}

template <typename A>
concept Range = requires(A& a) {
  std::begin(a);
  std::end(a);
};

}  // namespace detail

/// Runs the awaitables concurrently (coroutines are scheduled as tasks at once) and
/// returns their results as a tuple in argument order (void gives std::monostate). The
/// first exception, or the CancelledError of a cancelled child, propagates and the others
/// keep running (their later failures are not reported as never retrieved). Cancelling
/// the awaiting task cancels every child, waits for them, and raises CancelledError (also
/// when every child swallowed the cancellation).
///     auto [a, b] = co_await shoal::gather(fetch(x), fetch(y));
template <typename... A>
  requires(sizeof...(A) > 0 && (!detail::Range<A> && ...))
auto gather(A&&... aws) {
  return detail::gather_tuple<detail::awaited_t<A>...>(
      std::tuple<Future<detail::awaited_t<A>>...>(detail::to_future(std::forward<A>(aws))...));
}

/// gather over a range (a vector of coroutines, tasks or futures): a vector of results.
template <detail::Range R>
auto gather(R&& range) {
  return detail::gather_vector(detail::to_futures(std::forward<R>(range)));
}

/// Like gather, but waits for every child and reports how each ended (Python's
/// return_exceptions=True). Throws only CancelledError, when the awaiting task is cancelled.
template <typename... A>
  requires(sizeof...(A) > 0 && (!detail::Range<A> && ...))
auto gather_settled(A&&... aws) {
  return detail::gather_settled_tuple<detail::awaited_t<A>...>(
      std::tuple<Future<detail::awaited_t<A>>...>(detail::to_future(std::forward<A>(aws))...));
}

template <detail::Range R>
auto gather_settled(R&& range) {
  return detail::gather_settled_vector(detail::to_futures(std::forward<R>(range)));
}

}  // namespace shoal
