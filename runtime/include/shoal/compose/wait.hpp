#pragma once
/// \file
/// wait(): Python's asyncio.wait. Waits for some of a set of futures or tasks and splits
/// them into done and pending. Never cancels them, never raises on timeout.

#include <chrono>
#include <optional>
#include <vector>

#include "shoal/detail/awaitables.hpp"

namespace shoal {

/// When wait() returns (Python's constants, and Asio's wait_for_one / wait_for_one_error
/// / wait_for_all).
enum class ReturnWhen { FIRST_COMPLETED, FIRST_EXCEPTION, ALL_COMPLETED };
inline constexpr ReturnWhen FIRST_COMPLETED = ReturnWhen::FIRST_COMPLETED;
inline constexpr ReturnWhen FIRST_EXCEPTION = ReturnWhen::FIRST_EXCEPTION;
inline constexpr ReturnWhen ALL_COMPLETED = ReturnWhen::ALL_COMPLETED;

struct WaitOptions {
  /// No timeout when empty.
  std::optional<std::chrono::nanoseconds> timeout{};  // {}: no -Wmissing-field-initializers on {.return_when = ...}
  ReturnWhen return_when = ALL_COMPLETED;
};

/// The futures split by state, each list in input order.
template <typename F>
struct WaitResult {
  std::vector<F> done;
  std::vector<F> pending;
};

namespace detail {
template <typename F>
Coro<WaitResult<F>> wait_impl(std::vector<F> fs, WaitOptions opts) {
  auto ws = make_ref<WaitSet>(fs.size());
  for (std::size_t i = 0; i < fs.size(); ++i) ws->watch(i, fs[i].state());
  Unwatch guard(*ws);
  WaitSet::Condition cond = opts.return_when == FIRST_COMPLETED   ? WaitSet::any_ready
                            : opts.return_when == FIRST_EXCEPTION ? WaitSet::all_or_first_exception
                                                                  : WaitSet::all_ready;
  std::optional<Clock::time_point> deadline;
  if (opts.timeout) deadline = Clock::now() + *opts.timeout;
  co_await suspend_on(ws, cond, deadline, OnCancel::abandon);
  WaitResult<F> r;
  for (auto& f : fs) (f.done() ? r.done : r.pending).push_back(f);
  co_return r;
}
}  // namespace detail

/// Waits per `opts` and returns {done, pending}. Throws ValueError for an empty set, and
/// CancelledError when the awaiting task is cancelled (the futures are left alone).
///     auto [done, pending] = co_await shoal::wait(tasks, {.timeout = 1s, .return_when = shoal::FIRST_COMPLETED});
template <typename F>
Coro<WaitResult<F>> wait(std::vector<F> fs, WaitOptions opts = {}) {
  if (fs.empty()) throw ValueError("wait() needs at least one future or task");
  return detail::wait_impl(std::move(fs), opts);
}

}  // namespace shoal
